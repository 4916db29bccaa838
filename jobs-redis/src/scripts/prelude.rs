//! What the loader puts before a script: only the parts of `lua/lib.lua` the script uses.
//!
//! Redis runs a script's whole chunk on every call, so every helper defined before the
//! script body is a closure built again on every call, used or not: with all of lib.lua
//! before it, a trivial script served about 30% fewer calls per second. The loader cuts
//! lib.lua into its top-level declarations (`local function name(` or `local a, b =`, each
//! with the comment lines just above it) and keeps, in their order, those the script
//! names, directly or through the ones it keeps.

use std::collections::{HashMap, HashSet};

/// One top-level declaration of lib.lua.
struct Item<'a> {
    names: Vec<&'a str>,
    text: String,
}

/// The parts of `lib` that `body` needs, in lib's order.
pub(crate) fn needed(lib: &str, body: &str) -> String {
    let items = items(lib);
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        for name in &item.names {
            by_name.insert(name, i);
        }
    }
    let mut keep = vec![false; items.len()];
    let mut todo: Vec<usize> = words(body)
        .filter_map(|w| by_name.get(w).copied())
        .collect();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut keep[i], true) {
            continue;
        }
        let own: HashSet<&str> = items[i].names.iter().copied().collect();
        todo.extend(
            words(&items[i].text)
                .filter(|w| !own.contains(w))
                .filter_map(|w| by_name.get(w).copied()),
        );
    }
    items
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(item, _)| item.text.as_str())
        .collect::<Vec<_>>()
        .join("")
}

/// lib.lua's top-level declarations; the comments before the first are dropped.
fn items(lib: &str) -> Vec<Item<'_>> {
    let lines: Vec<&str> = lib.split_inclusive('\n').collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].starts_with("local "))
        .collect();
    // Each item begins at the comment lines right above its declaration.
    let begins: Vec<usize> = starts
        .iter()
        .map(|&s| {
            let mut b = s;
            while b > 0 && lines[b - 1].starts_with("--") {
                b -= 1;
            }
            b
        })
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            let end = begins.get(n + 1).copied().unwrap_or(lines.len());
            Item {
                names: declared(lines[s]),
                text: lines[begins[n]..end].concat(),
            }
        })
        .collect()
}

/// The names a `local ...` line declares.
fn declared(line: &str) -> Vec<&str> {
    let rest = line.trim_start_matches("local ");
    if let Some(f) = rest.strip_prefix("function ") {
        return f.split('(').next().map(str::trim).into_iter().collect();
    }
    rest.split('=')
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect()
}

/// The identifiers in Lua source (and in its comments: naming a helper there keeps it,
/// which costs nothing but a closure).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_is_named_and_what_that_needs_in_order() {
        let lib = "-- header\n\nlocal A, B = 1, 2\n-- about f\nlocal function f(x)\n  return x + A\nend\n\nlocal function g()\n  return f(1)\nend\nlocal function h() return 0 end\n";
        let got = needed(lib, "return g()");
        assert_eq!(
            got,
            "local A, B = 1, 2\n-- about f\nlocal function f(x)\n  return x + A\nend\n\nlocal function g()\n  return f(1)\nend\n"
        );
        assert_eq!(needed(lib, "return 1"), "");
    }

    #[test]
    fn every_declaration_of_the_real_lib_is_found() {
        let lib = include_str!("../../lua/lib.lua");
        let all = items(lib);
        assert!(all.iter().any(|i| i.names == ["recover_expired"]));
        assert!(all.iter().any(|i| i.names.contains(&"F_NAME")));
        // Nothing is lost: the items hold every line from the first declaration on.
        let joined: String = all.iter().map(|i| i.text.as_str()).collect();
        assert!(lib.ends_with(&joined));
    }
}
