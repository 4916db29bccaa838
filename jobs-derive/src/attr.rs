//! The options inside `#[job(...)]`, parsed and checked.
//!
//! Every value is checked here, at compile time, so that a job type can never carry an
//! option the runtime would refuse (an invalid queue name, zero attempts, ...).

use std::time::Duration;

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, ExprPath, ExprUnary, Lit, LitInt, LitStr, Path, Token, UnOp};

const OPTION_NAMES: &str = "`name`, `queue`, `max_attempts`, `backoff`, `timeout`, `priority`, \
                            `limit_key`, `limit_key_with`";

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
    pub(crate) limit_key: Option<LimitKey>,
}

/// Where the job's limit key comes from.
pub(crate) enum LimitKey {
    /// `limit_key = "host"`: the named argument's value.
    Arg(LitStr),
    /// `limit_key_with = path::to::function`: `function(&job)`.
    With(Path),
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
                check_no_limit_key(meta, &self.limit_key)?;
                let lit = match value(meta, "limit_key = \"host\"")? {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(lit), ..
                    }) => lit,
                    // `limit_key = host`: the argument's name, unquoted.
                    Expr::Path(ExprPath { path, .. }) if path.get_ident().is_some() => {
                        let msg = format!(
                            "expected a string literal naming an argument: \
                             write `limit_key = \"{}\"`",
                            quote::quote!(#path),
                        );
                        return Err(syn::Error::new_spanned(path, msg));
                    }
                    expr => {
                        let msg = "expected a string literal naming an argument, \
                                   e.g. `limit_key = \"host\"`";
                        return Err(syn::Error::new_spanned(expr, msg));
                    }
                };
                self.limit_key = Some(LimitKey::Arg(lit));
            }
            "limit_key_with" => {
                check_no_limit_key(meta, &self.limit_key)?;
                let path = match value(meta, "limit_key_with = host_key")? {
                    Expr::Path(ExprPath {
                        qself: None, path, ..
                    }) => path,
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(lit), ..
                    }) => {
                        let msg = format!(
                            "expected the path of a function, without quotes: \
                             write `limit_key_with = {}`",
                            lit.value()
                        );
                        return Err(syn::Error::new(lit.span(), msg));
                    }
                    expr => {
                        let msg = "expected the path of a function that takes the job by \
                                   reference, e.g. `limit_key_with = host_key`";
                        return Err(syn::Error::new_spanned(expr, msg));
                    }
                };
                self.limit_key = Some(LimitKey::With(path));
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

/// `limit_key` and `limit_key_with` are two ways to give one setting: the second one
/// given is reported, as a duplicate or as a conflict.
fn check_no_limit_key(meta: &ParseNestedMeta<'_>, slot: &Option<LimitKey>) -> syn::Result<()> {
    let this = if meta.path.is_ident("limit_key") {
        "limit_key"
    } else {
        "limit_key_with"
    };
    let given = match slot {
        None => return Ok(()),
        Some(LimitKey::Arg(_)) => "limit_key",
        Some(LimitKey::With(_)) => "limit_key_with",
    };
    if given == this {
        return check_unset(meta, slot);
    }
    Err(meta.error(format!(
        "`{this}` cannot be given with `{given}`: keep `limit_key = \"arg\"` to take \
         the key from an argument, or `limit_key_with = function` to compute it"
    )))
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

    use super::{Backoff, LimitKey, Options, parse_backoff};

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
    }

    #[test]
    fn limit_key_options() {
        let parse = |args| Options::parse(args).unwrap().limit_key;
        match parse(quote!(limit_key = "host")) {
            Some(LimitKey::Arg(lit)) => assert_eq!(lit.value(), "host"),
            _ => panic!("expected `LimitKey::Arg`"),
        }
        match parse(quote!(limit_key_with = crate::keys::host)) {
            Some(LimitKey::With(path)) => {
                assert_eq!(
                    quote!(#path).to_string(),
                    quote!(crate::keys::host).to_string()
                );
            }
            _ => panic!("expected `LimitKey::With`"),
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
    fn option_errors() {
        let error = |args| Options::parse(args).err().expect("an error").to_string();
        assert_eq!(
            error(quote!(retries = 3)),
            "unknown option `retries`; expected one of `name`, `queue`, `max_attempts`, `backoff`, \
             `timeout`, `priority`, `limit_key`, `limit_key_with`"
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
