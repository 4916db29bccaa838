//! The options inside `#[job(...)]`, parsed and checked.
//!
//! Every value is checked here, at compile time, so that a job type can never carry an
//! option the runtime would refuse (an invalid queue name, zero attempts, ...).

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprPath, ExprUnary, Lit, LitInt, LitStr, Path, Token, UnOp};

const OPTION_NAMES: &str = "`name`, `queue`, `max_attempts`, `backoff`, `timeout`, `priority`, \
                            `limit_key`, `limit_key_with`, `unique`, `unique_key`, \
                            `unique_key_with`, `on_conflict`";

/// What `unique = "..."` accepts, for its error message and for those of the options
/// that need it.
const UNIQUE_VALUES: &str = "\"waiting\", \"until_done\" or a duration such as \"10m\"";

/// The options given to `#[job(...)]`; `None` for each one left out.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) queue: Option<LitStr>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) priority: Option<i8>,
    /// `limit_key = "arg"` or `limit_key_with = path`; `ast.rs` checks that the argument
    /// exists.
    pub(crate) limit_key: Option<KeySource>,
    /// `unique = "..."`: how long the job holds its uniqueness key.
    pub(crate) unique: Option<UniqueHold>,
    /// `unique_key = "arg"` or `unique_key_with = path`; only with `unique`.
    pub(crate) unique_key: Option<KeySource>,
    /// `on_conflict = "..."`; only with `unique`.
    pub(crate) on_conflict: Option<OnConflict>,
    /// The options given that need `unique`, each with its name's span, so that `parse`
    /// can point at them when `unique` is missing.
    needs_unique: Vec<(&'static str, Span)>,
}

/// Where a key (the limit key, the uniqueness key) comes from.
pub(crate) enum KeySource {
    /// `limit_key = "host"`: the named argument's value.
    Arg(LitStr),
    /// `limit_key_with = path::to::function`: `function(&job)`.
    With(Path),
}

/// A checked `unique = "..."`: how long the job holds its uniqueness key.
#[derive(Debug, PartialEq)]
pub(crate) enum UniqueHold {
    /// `"waiting"`: while it waits.
    Waiting,
    /// `"until_done"`: while it waits or runs.
    UntilDone,
    /// A duration: for so long after the enqueue.
    Period(Duration),
}

/// A checked `on_conflict = "..."`.
#[derive(Debug, PartialEq)]
pub(crate) enum OnConflict {
    Reject,
    Replace,
    Debounce,
}

/// A checked `backoff = "..."` policy.
pub(crate) enum Backoff {
    Exponential { base: Duration, max: Duration },
    Fixed(Duration),
}

impl Options {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut options = Options::default();
        syn::meta::parser(|meta| options.parse_one(&meta)).parse2(args)?;
        if options.unique.is_none() {
            let mut errors = options.needs_unique.iter().map(|(option, span)| {
                let msg = format!(
                    "`{option}` applies to unique jobs only: add `unique = ...`, \
                     with {UNIQUE_VALUES}"
                );
                syn::Error::new(*span, msg)
            });
            if let Some(mut error) = errors.next() {
                errors.for_each(|more| error.combine(more));
                return Err(error);
            }
        }
        Ok(options)
    }

    fn parse_one(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
            return Err(unknown_option(meta));
        };
        match key.as_str() {
            "name" => {
                check_unset(meta, &self.name)?;
                let lit = str_value(meta, "name = \"disks.format\"")?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "the job name must not be empty",
                    ));
                }
                self.name = Some(lit);
            }
            "queue" => {
                check_unset(meta, &self.queue)?;
                let lit = str_value(meta, "queue = \"disks\"")?;
                // The rule of `jobs_core::validate_queue_name`, applied at compile time.
                if let Some(reason) = jobs_names::queue_name_problem(&lit.value()) {
                    let msg = format!("invalid queue name {:?}: {reason}", lit.value());
                    return Err(syn::Error::new(lit.span(), msg));
                }
                self.queue = Some(lit);
            }
            "max_attempts" => {
                check_unset(meta, &self.max_attempts)?;
                let expr = value(meta, "max_attempts = 3")?;
                let (negative, lit) = lit_int(&expr, "max_attempts = 3")?;
                let attempts = if negative {
                    0
                } else {
                    lit.base10_parse::<u64>()?
                };
                self.max_attempts = match u32::try_from(attempts) {
                    Ok(0) => {
                        let msg = "`max_attempts` must be at least 1: it counts the first run";
                        return Err(syn::Error::new_spanned(expr, msg));
                    }
                    Ok(attempts) => Some(attempts),
                    Err(_) => {
                        let msg = format!("`max_attempts` must be at most {}", u32::MAX);
                        return Err(syn::Error::new_spanned(expr, msg));
                    }
                };
            }
            "backoff" => {
                check_unset(meta, &self.backoff)?;
                let example = "backoff = \"exponential(1s, 1h)\"";
                let lit = str_value(meta, example)?;
                let backoff = parse_backoff(&lit.value());
                self.backoff = Some(backoff.map_err(|msg| syn::Error::new(lit.span(), msg))?);
            }
            "timeout" => {
                check_unset(meta, &self.timeout)?;
                let lit = str_value(meta, "timeout = \"2h\"")?;
                let timeout =
                    parse_duration(&lit.value()).map_err(|msg| syn::Error::new(lit.span(), msg))?;
                if timeout.is_zero() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "the timeout must be greater than zero",
                    ));
                }
                self.timeout = Some(timeout);
            }
            "priority" => {
                check_unset(meta, &self.priority)?;
                let expr = value(meta, "priority = 5")?;
                let (negative, lit) = lit_int(&expr, "priority = 5")?;
                let magnitude = lit.base10_parse::<i64>().ok();
                let priority =
                    magnitude.and_then(|m| i8::try_from(if negative { -m } else { m }).ok());
                let Some(priority) = priority else {
                    let msg =
                        "`priority` must be between -128 and 127 (an `i8`; higher runs first)";
                    return Err(syn::Error::new_spanned(expr, msg));
                };
                self.priority = Some(priority);
            }
            "limit_key" => {
                check_no_key(meta, &self.limit_key, LIMIT_KEY)?;
                self.limit_key = Some(KeySource::Arg(key_arg(meta, LIMIT_KEY)?));
            }
            "limit_key_with" => {
                check_no_key(meta, &self.limit_key, LIMIT_KEY)?;
                self.limit_key = Some(KeySource::With(key_with(meta, LIMIT_KEY)?));
            }
            "unique" => {
                check_unset(meta, &self.unique)?;
                let lit = keyword_value(meta, "unique = \"waiting\"")?;
                let hold = parse_unique(&lit.value());
                self.unique = Some(hold.map_err(|msg| syn::Error::new(lit.span(), msg))?);
            }
            "unique_key" => {
                check_no_key(meta, &self.unique_key, UNIQUE_KEY)?;
                self.unique_key = Some(KeySource::Arg(key_arg(meta, UNIQUE_KEY)?));
                self.needs_unique.push(("unique_key", meta.path.span()));
            }
            "unique_key_with" => {
                check_no_key(meta, &self.unique_key, UNIQUE_KEY)?;
                self.unique_key = Some(KeySource::With(key_with(meta, UNIQUE_KEY)?));
                self.needs_unique
                    .push(("unique_key_with", meta.path.span()));
            }
            "on_conflict" => {
                check_unset(meta, &self.on_conflict)?;
                let lit = keyword_value(meta, "on_conflict = \"replace\"")?;
                self.on_conflict = Some(match lit.value().as_str() {
                    "reject" => OnConflict::Reject,
                    "replace" => OnConflict::Replace,
                    "debounce" => OnConflict::Debounce,
                    other => {
                        let msg = format!(
                            "invalid `on_conflict` value {other:?}: expected \"reject\", \
                             \"replace\" or \"debounce\""
                        );
                        return Err(syn::Error::new(lit.span(), msg));
                    }
                });
                self.needs_unique.push(("on_conflict", meta.path.span()));
            }
            _ => return Err(unknown_option(meta)),
        }
        Ok(())
    }
}

fn unknown_option(meta: &ParseNestedMeta<'_>) -> syn::Error {
    let path = &meta.path;
    let name = quote::quote!(#path).to_string().replace(' ', "");
    meta.error(format!(
        "unknown option `{name}`; expected one of {OPTION_NAMES}"
    ))
}

/// Duplicates are reported at the second occurrence, as tokio's `Configuration` does.
fn check_unset<T>(meta: &ParseNestedMeta<'_>, slot: &Option<T>) -> syn::Result<()> {
    match slot {
        Some(_) => {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            Err(meta.error(format!("duplicate option `{name}`")))
        }
        None => Ok(()),
    }
}

/// A pair of options that give one key: `{arg}` names an argument, `{with}` a function.
struct KeyOptions {
    arg: &'static str,
    with: &'static str,
    /// An argument's name and a function's, for examples in messages.
    example_arg: &'static str,
    example_fn: &'static str,
}

const LIMIT_KEY: KeyOptions = KeyOptions {
    arg: "limit_key",
    with: "limit_key_with",
    example_arg: "host",
    example_fn: "host_key",
};

const UNIQUE_KEY: KeyOptions = KeyOptions {
    arg: "unique_key",
    with: "unique_key_with",
    example_arg: "device",
    example_fn: "disk_key",
};

/// The two options of a key (`limit_key` and `limit_key_with`, say) are two ways to
/// give one setting: the second one given is reported, as a duplicate or as a conflict.
fn check_no_key(
    meta: &ParseNestedMeta<'_>,
    slot: &Option<KeySource>,
    options: KeyOptions,
) -> syn::Result<()> {
    let KeyOptions { arg, with, .. } = options;
    let this = if meta.path.is_ident(arg) { arg } else { with };
    let given = match slot {
        None => return Ok(()),
        Some(KeySource::Arg(_)) => arg,
        Some(KeySource::With(_)) => with,
    };
    if given == this {
        return check_unset(meta, slot);
    }
    Err(meta.error(format!(
        "`{this}` cannot be given with `{given}`: keep `{arg} = \"arg\"` to take \
         the key from an argument, or `{with} = function` to compute it"
    )))
}

/// `limit_key = "host"`: the literal naming an argument (`ast.rs` checks that it exists).
fn key_arg(meta: &ParseNestedMeta<'_>, options: KeyOptions) -> syn::Result<LitStr> {
    let KeyOptions {
        arg, example_arg, ..
    } = options;
    match value(meta, &format!("{arg} = \"{example_arg}\""))? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        // `limit_key = host`: the argument's name, unquoted.
        Expr::Path(ExprPath { path, .. }) if path.get_ident().is_some() => {
            let msg = format!(
                "expected a string literal naming an argument: write `{arg} = \"{}\"`",
                quote::quote!(#path),
            );
            Err(syn::Error::new_spanned(path, msg))
        }
        expr => {
            let msg = format!(
                "expected a string literal naming an argument, e.g. `{arg} = \"{example_arg}\"`"
            );
            Err(syn::Error::new_spanned(expr, msg))
        }
    }
}

/// `limit_key_with = path::to::function`: the function's path.
fn key_with(meta: &ParseNestedMeta<'_>, options: KeyOptions) -> syn::Result<Path> {
    let KeyOptions {
        with, example_fn, ..
    } = options;
    match value(meta, &format!("{with} = {example_fn}"))? {
        Expr::Path(ExprPath {
            qself: None, path, ..
        }) => Ok(path),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => {
            let msg = format!(
                "expected the path of a function, without quotes: write `{with} = {}`",
                lit.value()
            );
            Err(syn::Error::new(lit.span(), msg))
        }
        expr => {
            let msg = format!(
                "expected the path of a function that takes the job by reference, \
                 e.g. `{with} = {example_fn}`"
            );
            Err(syn::Error::new_spanned(expr, msg))
        }
    }
}

/// A string literal that holds a keyword or a duration (`unique = "waiting"`); the same
/// value unquoted (`unique = waiting`, `unique = 10m`) is answered with what to write.
fn keyword_value(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<LitStr> {
    let unquoted = match value(meta, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => return Ok(lit),
        Expr::Path(ExprPath { path, .. }) if path.get_ident().is_some() => path.into_token_stream(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.into_token_stream(),
        expr => {
            let msg = format!("expected a string literal, e.g. `{example}`");
            return Err(syn::Error::new_spanned(expr, msg));
        }
    };
    let name = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    let msg = format!("expected a string literal: write `{name} = \"{unquoted}\"`");
    Err(syn::Error::new_spanned(unquoted, msg))
}

/// `"waiting"`, `"until_done"` or a duration of at least 1 ms.
fn parse_unique(text: &str) -> Result<UniqueHold, String> {
    match text.trim() {
        "waiting" => return Ok(UniqueHold::Waiting),
        "until_done" => return Ok(UniqueHold::UntilDone),
        _ => {}
    }
    // Only a value that starts like a duration gets humantime's account of it.
    if !text.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "invalid `unique` value {text:?}: expected {UNIQUE_VALUES}"
        ));
    }
    let period = humantime::parse_duration(text.trim()).map_err(|error| {
        format!("invalid `unique` duration {text:?}: {error}; expected {UNIQUE_VALUES}")
    })?;
    if period < Duration::from_millis(1) {
        return Err(format!(
            "the uniqueness period must be at least 1 ms, not {text:?}"
        ));
    }
    Ok(UniqueHold::Period(period))
}

/// The expression after `key =`.
fn value(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<Expr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("expected a value, e.g. `{example}`")));
    }
    meta.value()?.parse()
}

/// The option's value, which must be a string literal.
fn str_value(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<LitStr> {
    match value(meta, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        expr => Err(syn::Error::new_spanned(
            expr,
            format!("expected a string literal, e.g. `{example}`"),
        )),
    }
}

/// An integer literal, possibly negated: `(negative, digits)`.
fn lit_int(expr: &Expr, example: &str) -> syn::Result<(bool, LitInt)> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => Ok((false, lit.clone())),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit {
                lit: Lit::Int(lit), ..
            }) => Ok((true, lit.clone())),
            _ => Err(expected_int(expr, example)),
        },
        _ => Err(expected_int(expr, example)),
    }
}

fn expected_int(expr: &Expr, example: &str) -> syn::Error {
    syn::Error::new_spanned(
        expr,
        format!("expected an integer literal, e.g. `{example}`"),
    )
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|error| match error {
        // These already say what to write.
        humantime::DurationError::UnknownUnit { .. } => {
            format!("invalid duration {text:?}: {error}")
        }
        _ => format!(
            "invalid duration {text:?}: {error}; write e.g. \"500ms\", \"30s\" or \"1h 30m\""
        ),
    })
}

/// `"exponential"`, `"exponential(BASE)"`, `"exponential(BASE, MAX)"` or `"fixed(DELAY)"`.
fn parse_backoff(text: &str) -> Result<Backoff, String> {
    const DEFAULT_BASE: Duration = Duration::from_secs(1);
    const DEFAULT_MAX: Duration = Duration::from_secs(3600);

    let expected = || {
        format!(
            "invalid backoff {text:?}; expected \"exponential\", \"exponential(BASE)\", \
             \"exponential(BASE, MAX)\" or \"fixed(DELAY)\", e.g. \"exponential(1s, 1h)\" or \"fixed(30s)\""
        )
    };
    let text = text.trim();
    let (kind, args) = match text.split_once('(') {
        Some((kind, rest)) => {
            let args = rest.strip_suffix(')').ok_or_else(expected)?;
            (
                kind.trim(),
                Some(args.split(',').map(str::trim).collect::<Vec<_>>()),
            )
        }
        None => (text, None),
    };
    match (kind, args.as_deref()) {
        ("exponential", None) => Ok(Backoff::Exponential {
            base: DEFAULT_BASE,
            max: DEFAULT_MAX,
        }),
        ("exponential", Some([base])) => exponential(
            parse_duration(base)?,
            DEFAULT_MAX.max(parse_duration(base)?),
        ),
        ("exponential", Some([base, max])) => {
            exponential(parse_duration(base)?, parse_duration(max)?)
        }
        ("fixed", Some([delay])) => Ok(Backoff::Fixed(parse_duration(delay)?)),
        _ => Err(expected()),
    }
}

fn exponential(base: Duration, max: Duration) -> Result<Backoff, String> {
    if base.is_zero() {
        return Err(
            "the base delay of an exponential backoff must be greater than zero".to_owned(),
        );
    }
    if max < base {
        return Err(format!(
            "the maximum delay ({}) is shorter than the base delay ({})",
            humantime::format_duration(max),
            humantime::format_duration(base)
        ));
    }
    Ok(Backoff::Exponential { base, max })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use quote::quote;

    use super::{Backoff, KeySource, OnConflict, Options, UniqueHold, parse_backoff};

    fn backoff(text: &str) -> Result<(Duration, Option<Duration>), String> {
        parse_backoff(text).map(|backoff| match backoff {
            Backoff::Exponential { base, max } => (base, Some(max)),
            Backoff::Fixed(delay) => (delay, None),
        })
    }

    #[test]
    fn backoff_forms() {
        let (secs, hour) = (Duration::from_secs(1), Duration::from_secs(3600));
        assert_eq!(backoff("exponential"), Ok((secs, Some(hour))));
        assert_eq!(
            backoff("exponential(500ms)"),
            Ok((Duration::from_millis(500), Some(hour)))
        );
        assert_eq!(backoff("exponential(2h)"), Ok((2 * hour, Some(2 * hour))));
        assert_eq!(
            backoff(" exponential( 2s , 1h 30m ) "),
            Ok((2 * secs, Some(Duration::from_secs(5400))))
        );
        assert_eq!(backoff("fixed(30s)"), Ok((30 * secs, None)));
        for bad in [
            "",
            "fixed",
            "fixed()",
            "fixed(1s, 2s)",
            "exponential(1s",
            "exponential()",
            "linear(1s)",
            "exponential(1s, 2s, 3s)",
        ] {
            assert!(backoff(bad).is_err(), "{bad:?}");
        }
        assert!(
            backoff("exponential(0s)")
                .unwrap_err()
                .contains("greater than zero")
        );
        assert!(
            backoff("exponential(1m, 1s)")
                .unwrap_err()
                .contains("shorter than the base")
        );
    }

    #[test]
    fn options() {
        let options = Options::parse(quote!(
            name = "n",
            queue = "q.1",
            max_attempts = 4,
            timeout = "1m",
            priority = -3,
        ))
        .unwrap();
        assert_eq!(options.name.unwrap().value(), "n");
        assert_eq!(options.queue.unwrap().value(), "q.1");
        assert_eq!(options.max_attempts, Some(4));
        assert_eq!(options.timeout, Some(Duration::from_secs(60)));
        assert_eq!(options.priority, Some(-3));
        assert!(options.backoff.is_none());
        assert!(options.limit_key.is_none());
        assert!(options.unique.is_none());
        assert!(options.unique_key.is_none());
        assert!(options.on_conflict.is_none());
    }

    #[test]
    fn limit_key_options() {
        let parse = |args| Options::parse(args).unwrap().limit_key;
        match parse(quote!(limit_key = "host")) {
            Some(KeySource::Arg(lit)) => assert_eq!(lit.value(), "host"),
            _ => panic!("expected `KeySource::Arg`"),
        }
        match parse(quote!(limit_key_with = crate::keys::host)) {
            Some(KeySource::With(path)) => {
                assert_eq!(
                    quote!(#path).to_string(),
                    quote!(crate::keys::host).to_string()
                );
            }
            _ => panic!("expected `KeySource::With`"),
        }

        let error = |args| Options::parse(args).err().expect("an error").to_string();
        assert_eq!(
            error(quote!(limit_key = "a", limit_key = "b")),
            "duplicate option `limit_key`"
        );
        assert_eq!(
            error(quote!(limit_key_with = a, limit_key_with = b)),
            "duplicate option `limit_key_with`"
        );
        assert!(
            error(quote!(limit_key = "a", limit_key_with = b))
                .starts_with("`limit_key_with` cannot be given with `limit_key`")
        );
        assert!(
            error(quote!(limit_key_with = b, limit_key = "a"))
                .starts_with("`limit_key` cannot be given with `limit_key_with`")
        );
        assert!(error(quote!(limit_key = host)).contains("write `limit_key = \"host\"`"));
        assert!(error(quote!(limit_key = 5)).contains("expected a string literal"));
        assert!(error(quote!(limit_key_with = "f")).contains("write `limit_key_with = f`"));
        assert!(error(quote!(limit_key_with = 5)).contains("the path of a function"));
        assert!(error(quote!(limit_key_with)).contains("expected a value"));
    }

    #[test]
    fn unique_options() {
        let parse = |args| Options::parse(args).unwrap();
        let options = parse(quote!(unique = "waiting"));
        assert_eq!(options.unique, Some(UniqueHold::Waiting));
        assert!(options.unique_key.is_none());
        assert!(options.on_conflict.is_none());
        assert_eq!(
            parse(quote!(unique = " until_done ")).unique,
            Some(UniqueHold::UntilDone)
        );
        assert_eq!(
            parse(quote!(unique = "1h 30m")).unique,
            Some(UniqueHold::Period(Duration::from_secs(5400)))
        );
        assert_eq!(
            parse(quote!(unique = "1ms")).unique,
            Some(UniqueHold::Period(Duration::from_millis(1)))
        );

        // The options that need `unique` may come before it.
        let options = parse(quote!(
            on_conflict = "debounce",
            unique_key = "host",
            unique = "10m"
        ));
        assert_eq!(
            options.unique,
            Some(UniqueHold::Period(Duration::from_secs(600)))
        );
        assert_eq!(options.on_conflict, Some(OnConflict::Debounce));
        match options.unique_key {
            Some(KeySource::Arg(lit)) => assert_eq!(lit.value(), "host"),
            _ => panic!("expected `KeySource::Arg`"),
        }
        let options = parse(quote!(
            unique = "waiting",
            unique_key_with = keys::disk,
            on_conflict = "replace"
        ));
        assert_eq!(options.on_conflict, Some(OnConflict::Replace));
        match options.unique_key {
            Some(KeySource::With(path)) => {
                assert_eq!(quote!(#path).to_string(), quote!(keys::disk).to_string());
            }
            _ => panic!("expected `KeySource::With`"),
        }
        assert_eq!(
            parse(quote!(unique = "waiting", on_conflict = "reject")).on_conflict,
            Some(OnConflict::Reject)
        );
        // Limit and uniqueness keys are separate settings.
        let options = parse(quote!(
            limit_key = "host",
            unique = "waiting",
            unique_key = "host"
        ));
        assert!(options.limit_key.is_some() && options.unique_key.is_some());

        let error = |args| Options::parse(args).err().expect("an error").to_string();
        for bad in ["", "wating", "until done", "forever", "Waiting"] {
            let msg = error(quote!(unique = #bad));
            assert!(
                msg.starts_with("invalid `unique` value")
                    && msg.contains(r#"expected "waiting", "until_done" or a duration"#),
                "{bad:?}: {msg}"
            );
        }
        assert!(error(quote!(unique = "10 parsecs")).starts_with("invalid `unique` duration"));
        assert!(error(quote!(unique = "0s")).contains("at least 1 ms"));
        assert!(error(quote!(unique = "500us")).contains("at least 1 ms"));
        assert!(error(quote!(unique = waiting)).contains(r#"write `unique = "waiting"`"#));
        assert!(error(quote!(unique = 10m)).contains(r#"write `unique = "10m"`"#));
        assert!(error(quote!(unique = true)).contains("expected a string literal"));
        assert!(error(quote!(unique)).contains("expected a value"));
        assert_eq!(
            error(quote!(unique = "waiting", unique = "until_done")),
            "duplicate option `unique`"
        );

        let msg = error(quote!(unique = "waiting", on_conflict = "ignore"));
        assert_eq!(
            msg,
            r#"invalid `on_conflict` value "ignore": expected "reject", "replace" or "debounce""#
        );
        assert!(
            error(quote!(unique = "waiting", on_conflict = replace))
                .contains(r#"write `on_conflict = "replace"`"#)
        );
        assert_eq!(
            error(quote!(
                unique = "waiting",
                on_conflict = "reject",
                on_conflict = "replace"
            )),
            "duplicate option `on_conflict`"
        );
        assert_eq!(
            error(quote!(
                unique = "waiting",
                unique_key = "a",
                unique_key = "b"
            )),
            "duplicate option `unique_key`"
        );
        assert!(
            error(quote!(
                unique = "waiting",
                unique_key = "a",
                unique_key_with = b
            ))
            .starts_with(
                "`unique_key_with` cannot be given with `unique_key`: keep `unique_key = \"arg\"`"
            )
        );
        assert!(error(quote!(unique_key = host)).contains(r#"write `unique_key = "host"`"#));
        assert!(error(quote!(unique_key_with = "f")).contains("write `unique_key_with = f`"));

        // Without `unique`, each option that needs it is reported.
        assert_eq!(
            error(quote!(unique_key = "host")),
            "`unique_key` applies to unique jobs only: add `unique = ...`, with \"waiting\", \
             \"until_done\" or a duration such as \"10m\""
        );
        assert!(error(quote!(unique_key_with = f)).starts_with("`unique_key_with` applies"));
        assert!(error(quote!(on_conflict = "replace")).starts_with("`on_conflict` applies"));
        let errors = Options::parse(quote!(on_conflict = "replace", unique_key = "host"))
            .err()
            .expect("an error");
        let messages: Vec<_> = errors.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("`on_conflict` applies"));
        assert!(messages[1].starts_with("`unique_key` applies"));
    }

    #[test]
    fn option_errors() {
        let error = |args| Options::parse(args).err().expect("an error").to_string();
        assert_eq!(
            error(quote!(retries = 3)),
            "unknown option `retries`; expected one of `name`, `queue`, `max_attempts`, `backoff`, \
             `timeout`, `priority`, `limit_key`, `limit_key_with`, `unique`, `unique_key`, \
             `unique_key_with`, `on_conflict`"
        );
        assert_eq!(
            error(quote!(queue = "a", queue = "b")),
            "duplicate option `queue`"
        );
        assert!(error(quote!(queue = "a b")).contains("only ASCII letters"));
        assert!(error(quote!(queue = "")).contains("must not be empty"));
        let long = "q".repeat(129);
        assert!(error(quote!(queue = #long)).contains("longer than 128 bytes"));
        assert!(error(quote!(max_attempts = 0)).contains("at least 1"));
        assert!(error(quote!(max_attempts = -1)).contains("at least 1"));
        assert!(error(quote!(max_attempts = 5000000000)).contains("at most"));
        assert!(error(quote!(priority = 128)).contains("between -128 and 127"));
        assert!(error(quote!(priority = -129)).contains("between -128 and 127"));
        assert!(error(quote!(timeout = "0s")).contains("greater than zero"));
        assert!(error(quote!(timeout = 5)).contains("expected a string literal"));
        assert!(error(quote!(max_attempts = "5")).contains("expected an integer literal"));
        assert!(error(quote!(timeout)).contains("expected a value"));
    }
}
