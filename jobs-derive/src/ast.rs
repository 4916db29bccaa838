//! The function under `#[job]`, checked and sorted into what the expansion needs.
//!
//! Every rule about what a job function may look like lives here, so that `expand.rs`
//! can generate code without checking anything. All problems found are reported
//! together, each at the token to change.

use syn::ext::IdentExt;
use syn::{
    FnArg, GenericArgument, Ident, ItemFn, Lifetime, LitStr, Pat, PatIdent, PathArguments,
    PathSegment, ReturnType, Type, TypeParamBound, TypeReference,
};

/// A checked job function.
pub(crate) struct JobFn<'a> {
    /// The function as written; it is emitted unchanged.
    pub(crate) item: &'a ItemFn,
    /// The job type's name: the function's name in UpperCamelCase.
    pub(crate) type_ident: Ident,
    /// The parameters, in order.
    pub(crate) params: Vec<Param<'a>>,
    /// The return type as written; `IntoJobResult` checks that it is a `Result`.
    pub(crate) output: &'a Type,
}

/// One parameter of a job function.
pub(crate) enum Param<'a> {
    /// Serialized with the job: a field of the job type.
    Arg { ident: &'a Ident, ty: &'a Type },
    /// `Data<T>`, fetched from the worker's shared data; `ty` is the `T`.
    Data { ty: &'a Type },
    /// The running job's `JobContext`.
    Context,
}

impl<'a> JobFn<'a> {
    pub(crate) fn from_syn(item: &'a ItemFn) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let sig = &item.sig;

        if sig.asyncness.is_none() {
            let msg = format!(
                "a job function must be `async`; write `async fn {}`",
                sig.ident
            );
            errors.push(syn::Error::new(sig.fn_token.span, msg));
        }
        if let Some(unsafety) = &sig.unsafety {
            let msg = "a job function cannot be `unsafe`: the worker calls it with no way to uphold its contract";
            errors.push(syn::Error::new(unsafety.span, msg));
        }
        if let Some(abi) = &sig.abi {
            errors.push(syn::Error::new_spanned(
                abi,
                "a job function cannot have an `extern` ABI",
            ));
        }
        if !sig.generics.params.is_empty() {
            let msg = "a job function cannot have generic parameters: a queued job is decoded by \
                       its name alone, so every argument type must be concrete";
            errors.push(syn::Error::new_spanned(&sig.generics, msg));
        }
        if let Some(where_clause) = &sig.generics.where_clause {
            let msg =
                "a job function cannot have a `where` clause: every argument type must be concrete";
            errors.push(syn::Error::new_spanned(where_clause, msg));
        }

        let mut params = Vec::with_capacity(sig.inputs.len());
        for input in &sig.inputs {
            let has_context = params.iter().any(|p| matches!(p, Param::Context));
            match Param::from_syn(input, has_context) {
                Ok(param) => params.push(param),
                Err(error) => errors.push(error),
            }
        }

        let output = match &sig.output {
            ReturnType::Type(_, ty) if matches!(**ty, Type::ImplTrait(_)) => {
                let msg = "a job function cannot return `impl Trait`; name the type, e.g. `-> Result<Report, JobError>`";
                errors.push(syn::Error::new_spanned(ty, msg));
                None
            }
            ReturnType::Type(_, ty) => Some(&**ty),
            ReturnType::Default => {
                let msg =
                    "a job function must return `Result<T, E>`, e.g. `-> Result<(), JobError>`";
                errors.push(syn::Error::new(sig.paren_token.span.close(), msg));
                None
            }
        };

        let type_ident = upper_camel_case(&sig.ident);
        if type_ident.is_none() {
            let msg = "cannot name the job type after this function; give it a snake_case name";
            errors.push(syn::Error::new(sig.ident.span(), msg));
        }

        errors.finish()?;
        // `finish` has returned every reason for these to be missing.
        let (Some(output), Some(type_ident)) = (output, type_ident) else {
            unreachable!("a missing return type or name is reported as an error")
        };
        Ok(JobFn {
            item,
            type_ident,
            params,
            output,
        })
    }
}

impl JobFn<'_> {
    /// The serialized argument `option = "..."` names (`limit_key`, `unique_key`), or an
    /// error on the literal that lists the names it could take; `with` is the option that
    /// computes the key instead.
    pub(crate) fn key_arg(&self, name: &LitStr, option: &str, with: &str) -> syn::Result<&Ident> {
        let wanted = name.value();
        let args: Vec<&Ident> = self
            .params
            .iter()
            .filter_map(|param| match param {
                Param::Arg { ident, .. } => Some(*ident),
                Param::Data { .. } | Param::Context => None,
            })
            .collect();
        if let Some(ident) = args.iter().find(|ident| ident.unraw() == wanted) {
            return Ok(ident);
        }
        let fn_name = self.item.sig.ident.unraw();
        let names: Vec<_> = args
            .iter()
            .map(|ident| format!("`{}`", ident.unraw()))
            .collect();
        let msg = match names.as_slice() {
            [] => format!(
                "`fn {fn_name}` has no serialized arguments for `{option}` to name \
                 (`JobContext` and `Data<T>` are not serialized); add one, \
                 or compute the key with `{with} = function`"
            ),
            [name] => {
                format!("`fn {fn_name}` has no serialized argument named {wanted:?}; write {name}")
            }
            names => format!(
                "`fn {fn_name}` has no serialized argument named {wanted:?}; \
                 write one of {}",
                names.join(", ")
            ),
        };
        Err(syn::Error::new(name.span(), msg))
    }
}

impl<'a> Param<'a> {
    fn from_syn(input: &'a FnArg, has_context: bool) -> syn::Result<Self> {
        let arg = match input {
            FnArg::Receiver(receiver) => {
                let msg = "a job function cannot take `self`; write a free function \
                           (outside any `impl` block) and pass what it needs as arguments";
                return Err(syn::Error::new_spanned(receiver, msg));
            }
            FnArg::Typed(arg) => arg,
        };
        match Injected::of(&arg.ty)? {
            Some(Injected::Context) if has_context => {
                let msg = "a job function takes at most one `JobContext`; remove this parameter";
                Err(syn::Error::new_spanned(&arg.ty, msg))
            }
            Some(Injected::Context) => Ok(Param::Context),
            // Injected values are passed by position, so their patterns are left alone.
            Some(Injected::Data(ty)) => Ok(Param::Data { ty }),
            None => {
                let ident = match &*arg.pat {
                    Pat::Ident(PatIdent {
                        by_ref: None,
                        subpat: None,
                        ident,
                        ..
                    }) => Ok(ident),
                    pat => {
                        let msg = "a job argument must be a plain name, e.g. `host: String`: \
                                   it becomes a field of the job type";
                        Err(syn::Error::new_spanned(pat, msg))
                    }
                };
                match (ident, check_owned(&arg.ty)) {
                    (Ok(ident), Ok(())) => Ok(Param::Arg { ident, ty: &arg.ty }),
                    (Err(mut error), Err(more)) => {
                        error.combine(more);
                        Err(error)
                    }
                    (Err(error), Ok(())) | (Ok(_), Err(error)) => Err(error),
                }
            }
        }
    }
}

/// A parameter the worker supplies instead of the queue.
enum Injected<'a> {
    Context,
    Data(&'a Type),
}

impl<'a> Injected<'a> {
    /// Recognises `JobContext` and `Data<T>` by the last segment of the type's path, so
    /// any import style works (`JobContext`, `jobs_core::JobContext`, ...).
    fn of(ty: &'a Type) -> syn::Result<Option<Self>> {
        let Some(segment) = last_segment(ty) else {
            return Ok(None);
        };
        if segment.ident == "JobContext" && segment.arguments.is_none() {
            return Ok(Some(Injected::Context));
        }
        if segment.ident != "Data" {
            return Ok(None);
        }
        if let PathArguments::AngleBracketed(args) = &segment.arguments {
            if let (1, Some(GenericArgument::Type(ty))) = (args.args.len(), args.args.first()) {
                return Ok(Some(Injected::Data(ty)));
            }
        }
        let msg =
            "expected `Data<T>`, where `T` is the type of the shared data registered on the worker";
        Err(syn::Error::new_spanned(segment, msg))
    }
}

fn last_segment(ty: &Type) -> Option<&PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// Serialized arguments are decoded into a `'static` job type, so they cannot borrow.
fn check_owned(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::Reference(reference) => Err(reference_error(reference)),
        Type::ImplTrait(ty) => {
            let msg = "a job argument cannot be `impl Trait`: the job type needs a concrete type";
            Err(syn::Error::new_spanned(ty, msg))
        }
        Type::Array(array) => check_owned(&array.elem),
        Type::Slice(slice) => check_owned(&slice.elem),
        Type::Group(group) => check_owned(&group.elem),
        Type::Paren(paren) => check_owned(&paren.elem),
        Type::Ptr(ptr) => check_owned(&ptr.elem),
        Type::Tuple(tuple) => tuple.elems.iter().try_for_each(check_owned),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                check_owned(&qself.ty)?;
            }
            for segment in &path.path.segments {
                let PathArguments::AngleBracketed(args) = &segment.arguments else {
                    continue;
                };
                for arg in &args.args {
                    match arg {
                        GenericArgument::Lifetime(lifetime) => check_lifetime(lifetime)?,
                        GenericArgument::Type(ty) => check_owned(ty)?,
                        GenericArgument::AssocType(assoc) => check_owned(&assoc.ty)?,
                        _ => {}
                    }
                }
            }
            Ok(())
        }
        Type::TraitObject(object) => object.bounds.iter().try_for_each(|bound| match bound {
            TypeParamBound::Lifetime(lifetime) => check_lifetime(lifetime),
            _ => Ok(()),
        }),
        _ => Ok(()),
    }
}

fn reference_error(reference: &TypeReference) -> syn::Error {
    let base = "job arguments are serialized and must be owned types";
    let msg = match &*reference.elem {
        Type::Path(path) if path.path.is_ident("str") => {
            format!("{base}, e.g. `String` instead of `&str`")
        }
        Type::Slice(_) => format!("{base}, e.g. `Vec<T>` instead of `&[T]`"),
        elem => match Injected::of(elem) {
            Ok(Some(Injected::Context)) => {
                "take `JobContext` by value: it is cheap to clone".to_owned()
            }
            Ok(Some(Injected::Data(_))) => {
                "take `Data<T>` by value: it is cheap to clone".to_owned()
            }
            _ => format!("{base}; take the value itself instead of a reference"),
        },
    };
    syn::Error::new_spanned(reference, msg)
}

fn check_lifetime(lifetime: &Lifetime) -> syn::Result<()> {
    if lifetime.ident == "static" {
        return Ok(());
    }
    let msg = format!(
        "job arguments are serialized and must be owned types; \
         replace `{lifetime}` with `'static`, or use an owned type such as `String`"
    );
    Err(syn::Error::new_spanned(lifetime, msg))
}

/// `format_disk` -> `FormatDisk`, spanned on the function's name so that "go to
/// definition" on the job type lands on the function.
fn upper_camel_case(ident: &Ident) -> Option<Ident> {
    let name: String = ident
        .unraw()
        .to_string()
        .split('_')
        .flat_map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars))
        })
        .flatten()
        .collect();
    let first = name.chars().next()?;
    if !first.is_alphabetic() || name == "Self" {
        return None;
    }
    Some(Ident::new(&name, ident.span()))
}

/// Collects errors so that every problem is reported in one build.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;
    use syn::Ident;

    fn camel(name: &str) -> Option<String> {
        let ident = if let Some(raw) = name.strip_prefix("r#") {
            Ident::new_raw(raw, Span::call_site())
        } else {
            Ident::new(name, Span::call_site())
        };
        super::upper_camel_case(&ident).map(|ident| ident.to_string())
    }

    #[test]
    fn type_names() {
        assert_eq!(camel("format_disk").as_deref(), Some("FormatDisk"));
        assert_eq!(camel("ping").as_deref(), Some("Ping"));
        assert_eq!(camel("_private__job_").as_deref(), Some("PrivateJob"));
        assert_eq!(camel("sync_v2_to_s3").as_deref(), Some("SyncV2ToS3"));
        assert_eq!(camel("r#match").as_deref(), Some("Match"));
        assert_eq!(camel("AlreadyCamel").as_deref(), Some("AlreadyCamel"));
        assert_eq!(camel("self_"), None);
        assert_eq!(camel("__"), None);
    }
}
