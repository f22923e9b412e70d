//! Code generation: the instrumented function, built around the user's unchanged body.
//!
//! Generated code names everything by absolute path (`::core::...`, `<crate>::__private::...`), so a user crate that
//! shadows `Result`, `Option` or `core` still compiles; its own identifiers start with `__xray_`.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, Expr, FnArg, Ident, Item, ItemFn, Pat, Path, ReturnType, Type};

use crate::args::{HandlerArgs, Namespace, TracedArgs, name_from_ident};

/// Which attribute is being expanded.
#[derive(Clone, Copy)]
pub(crate) enum Attr {
    Traced,
    TracedHandler,
}

/// An attribute's expansion: the instrumented function, the item unchanged when `off`, or the item unchanged plus
/// the error. Everything is checked before `off` is looked at, so a build with `off` accepts exactly the code a build
/// without it accepts.
pub(crate) fn entry(attr: Attr, args: TokenStream, item: TokenStream, off: bool) -> TokenStream {
    match check(attr, args, item.clone()) {
        Ok(_) if off => item,
        Ok(checked) => checked.expand(),
        Err(error) => with_error(item, &error),
    }
}

/// A function and its attribute's arguments, parsed and checked: expanding it cannot fail.
enum Checked {
    Traced(TracedArgs, ItemFn),
    Handler(HandlerArgs, ItemFn, HandlerForm),
}

fn check(attr: Attr, args: TokenStream, item: TokenStream) -> syn::Result<Checked> {
    match attr {
        Attr::Traced => {
            let func = parse_fn(item, "traced")?;
            let args = TracedArgs::parse(args)?;
            check_skip(&args, &func)?;
            Ok(Checked::Traced(args, func))
        }
        Attr::TracedHandler => {
            let func = parse_fn(item, "traced_handler")?;
            let args = HandlerArgs::parse(args)?;
            if func.sig.asyncness.is_none() {
                return Err(syn::Error::new(func.sig.fn_token.span(), "`#[traced_handler]` requires an `async fn`"));
            }
            let form = handler_form(&func)?;
            Ok(Checked::Handler(args, func, form))
        }
    }
}

impl Checked {
    fn expand(self) -> TokenStream {
        match self {
            Self::Traced(args, func) => traced(&args, &func),
            Self::Handler(args, func, form) => traced_handler(&args, &func, &form),
        }
    }
}

/// The user's item unchanged, followed by the error: the rest of their crate still type-checks.
fn with_error(item: TokenStream, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#item #error)
}

/// Parses the annotated item, which must be a function with a body.
fn parse_fn(item: TokenStream, attr: &str) -> syn::Result<ItemFn> {
    let parsed: Item = syn::parse2(item.clone()).map_err(|_| not_a_function(&item, attr, "this item"))?;
    let what = match parsed {
        Item::Fn(func) => {
            if let Some(constness) = &func.sig.constness {
                return Err(syn::Error::new(constness.span(), format!("`#[{attr}]` cannot instrument a `const fn`")));
            }
            return Ok(func);
        }
        Item::Struct(_) => "a struct",
        Item::Enum(_) => "an enum",
        Item::Const(_) => "a constant",
        Item::Static(_) => "a static",
        Item::Impl(_) => "an impl block",
        Item::Trait(_) => "a trait",
        Item::Mod(_) => "a module",
        Item::Type(_) => "a type alias",
        Item::Use(_) => "a `use` declaration",
        _ => "this item",
    };
    Err(not_a_function(&item, attr, what))
}

fn not_a_function(item: &TokenStream, attr: &str, what: &str) -> syn::Error {
    let span = item.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
    syn::Error::new(span, format!("`#[{attr}]` can only be applied to a function with a body, not to {what}"))
}

/// `<crate>::__private`, with `::xray_core` unless `crate = path` says otherwise.
fn private_path(krate: Option<&Path>) -> TokenStream {
    match krate {
        Some(path) => quote!(#path::__private),
        None => quote!(::xray_core::__private),
    }
}

/// Whether a type mentions `impl Trait`, which cannot be written as a `let` type.
fn has_impl_trait(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => has_impl_trait(group.stream()),
        _ => false,
    })
}

/// The user's body, preceded by a return edge that is never taken but tells the compiler the declared return type
/// before it sees the body. Without it, the body's type is inferred inside the generated closure or async block, and
/// a type error would point at the macro's code instead of the user's line.
///
/// The body's statements go straight into the new block, which takes the user's braces: nesting the user's block
/// instead would make a one-line body `{ x }` a block return value, which the user's crate would warn about
/// (`unused_braces`).
fn body_with_return_edge(func: &ItemFn) -> TokenStream {
    let edge = match &func.sig.output {
        ReturnType::Type(_, ty) if has_impl_trait(ty.to_token_stream()) => TokenStream::new(),
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            #[allow(
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return,
                clippy::unreachable
            )]
            if false {
                let __xray_fake_return: #ty = loop {};
                return __xray_fake_return;
            }
        },
        ReturnType::Default => TokenStream::new(),
    };
    let stmts = &func.block.stmts;
    let mut block = Group::new(Delimiter::Brace, quote!(#edge #(#stmts)*));
    block.set_span(func.block.brace_token.span.join());
    block.into_token_stream()
}

/// The function's attributes: those written before it, and the inner ones (`#![...]`) that open its body and
/// must open the generated body too.
fn split_attrs(func: &ItemFn) -> (Vec<&Attribute>, Vec<&Attribute>) {
    func.attrs.iter().partition(|attr| matches!(attr.style, AttrStyle::Outer))
}

/// The names of the parameters bound to a plain identifier.
fn named_params(func: &ItemFn) -> Vec<Ident> {
    func.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) => Some(pat.ident.clone()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Records an `Err` on `span`'s subsegment, choosing by autoref how (see `xray_core::__private::Outcome`).
/// `ret` and `span` are references to the result and to what records it.
fn record_err(private: &TokenStream, ret: &TokenStream, span: &TokenStream) -> TokenStream {
    quote! {
        {
            #[allow(unused_imports)]
            use #private::{RecordBoxedError as _, RecordDisplayError as _, RecordNothing as _, RecordStdError as _};
            (&&&&#private::Outcome(#ret)).__xray_record(#span);
        }
    }
}

/// Rejects a `skip` that names no parameter.
fn check_skip(args: &TracedArgs, func: &ItemFn) -> syn::Result<()> {
    let params = named_params(func);
    match args.skip.iter().find(|skipped| !params.contains(skipped)) {
        Some(skipped) => Err(syn::Error::new(
            skipped.span(),
            format!("`skip` names `{skipped}`, which is not a parameter of `{}`", func.sig.ident),
        )),
        None => Ok(()),
    }
}

/// `&(expr)`, spanned so that the borrow covers exactly the user's expression: `&` at its first token, the
/// parentheses at its last (without `Span::join`, which is nightly-only, a token's span cannot cover several).
fn borrow_of(expr: &Expr) -> TokenStream {
    let tokens = expr.to_token_stream();
    let first = tokens.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.clone().into_iter().last().map_or(first, |t| t.span());
    let mut parenthesized = Group::new(Delimiter::Parenthesis, tokens);
    parenthesized.set_span(last);
    quote_spanned!(first=> &#parenthesized)
}

/// `tokens`, every token of them spanned at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                token = Group::new(group.delimiter(), respan(group.stream(), span)).into();
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// `#[traced]`.
fn traced(args: &TracedArgs, func: &ItemFn) -> TokenStream {
    let params = named_params(func);
    let private = private_path(args.krate.as_ref());
    let name = args.name.as_ref().map_or_else(|| name_from_ident(&func.sig.ident.to_string()), syn::LitStr::value);
    let is_async = func.sig.asyncness.is_some();
    let span = if is_async { quote!(#private::Span) } else { quote!(#private::SyncSpan) };
    let namespace = match args.namespace {
        None => quote!(::core::option::Option::None),
        Some(Namespace::Aws) => quote!(::core::option::Option::Some(#private::Namespace::Aws)),
        Some(Namespace::Remote) => quote!(::core::option::Option::Some(#private::Namespace::Remote)),
    };

    // Before the body, when sampled: annotations, metadata and arguments.
    let mut before = Vec::new();
    // Each call is spanned at the user's expression, so that a value of the wrong type is reported there.
    for kv in &args.annotate {
        let (key, value, span) = (&kv.key, borrow_of(&kv.value), kv.value.span());
        let private = respan(private.clone(), span);
        before.push(quote_spanned!(span=> __xray_rec.put_annotation(#key, #private::annotation(#value));));
    }
    for kv in &args.metadata {
        let (key, value, span) = (&kv.key, borrow_of(&kv.value), kv.value.span());
        let private = respan(private.clone(), span);
        before.push(quote_spanned!(span=> #private::metadata(&__xray_rec, #key, #value);));
    }
    if args.capture_args && !args.skip_all {
        let captured: Vec<_> = params.iter().filter(|p| !args.skip.contains(p)).collect();
        let names = captured.iter().map(|p| p.to_string());
        before.push(quote! {
            #private::capture_args(&__xray_rec, &[#((#names, &#captured as &dyn ::core::fmt::Debug)),*]);
        });
    }
    let before = (!before.is_empty()).then(|| {
        quote! {
            if let ::core::option::Option::Some(__xray_rec) = #private::Recording::recorder(&__xray_span) {
                #(#before)*
            }
        }
    });

    // After the body, when sampled: the error and the return value. For an async fn this runs in a closure given
    // references to both; for a sync fn, in the function with both as locals.
    let (ret, span_ref) =
        if is_async { (quote!(__xray_ret), quote!(__xray_span)) } else { (quote!(&__xray_ret), quote!(&__xray_span)) };
    let record_err = args.err.then(|| record_err(&private, &ret, &span_ref));
    let capture_ret = args.capture_ret.then(|| {
        quote! {
            if let ::core::option::Option::Some(__xray_rec) = #private::Recording::recorder(#span_ref) {
                #private::capture_ret(&__xray_rec, #ret);
            }
        }
    });

    let body = body_with_return_edge(func);
    // async: the body runs as an inner future polled with the subsegment current, then the closure records the
    // outcome; sync: the body runs as a closure with the subsegment current. Either way a panic is recorded with its
    // message and resumed.
    let run = if is_async {
        quote! {
            #private::Span::instrument(__xray_span, async move #body, |__xray_ret, __xray_span| {
                #record_err
                #capture_ret
            })
            .await
        }
    } else {
        quote! {
            let __xray_ret = #private::SyncSpan::run(&__xray_span, move || #body);
            #record_err
            #capture_ret
            // `__xray_span` ends the subsegment where it drops, after the return value is built. Dropping it in
            // place rather than moving it into a call keeps the unsampled path free of a 48-byte copy.
            __xray_ret
        }
    };
    let (attrs, inner_attrs) = split_attrs(func);
    let ItemFn { vis, sig, .. } = func;
    quote! {
        #(#attrs)* #vis #sig {
            #(#inner_attrs)*
            let __xray_span = #span::open(#name, #namespace);
            #before
            #run
        }
    }
}

/// Where the handler reads its trace header from: its last parameter, or its last two. Parameters before those
/// (shared state such as `deps: &Deps`, or `&self`) are the user's and left alone.
enum HandlerForm {
    /// `.., event: LambdaEvent<T>`: `event.context.xray_trace_id`.
    Event(Ident),
    /// `.., payload: T, context: Context`: `context.xray_trace_id`.
    PayloadContext(Ident),
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) => path.path.segments.last().is_some_and(|s| s.ident == name),
        _ => false,
    }
}

fn handler_form(func: &ItemFn) -> syn::Result<HandlerForm> {
    let expected = "`#[traced_handler]` expects `event: LambdaEvent<T>` as the last parameter, or `payload: T, context: \
                    Context` as the last two";
    let arg = match func.sig.inputs.last() {
        Some(FnArg::Typed(arg)) => arg,
        Some(receiver) => return Err(syn::Error::new_spanned(receiver, expected)),
        None => return Err(syn::Error::new(func.sig.ident.span(), expected)),
    };
    let wanted = if last_segment_is(&arg.ty, "LambdaEvent") {
        "LambdaEvent"
    } else if last_segment_is(&arg.ty, "Context") && func.sig.inputs.len() >= 2 {
        "Context"
    } else {
        return Err(syn::Error::new_spanned(&arg.ty, expected));
    };
    let Pat::Ident(pat) = &*arg.pat else {
        return Err(syn::Error::new_spanned(
            &arg.pat,
            format!("`#[traced_handler]` needs the `{wanted}` argument bound to a name, like `event: {wanted}<T>`"),
        ));
    };
    Ok(if wanted == "LambdaEvent" {
        HandlerForm::Event(pat.ident.clone())
    } else {
        HandlerForm::PayloadContext(pat.ident.clone())
    })
}

/// `#[traced_handler]`.
fn traced_handler(args: &HandlerArgs, func: &ItemFn, form: &HandlerForm) -> TokenStream {
    let header = match form {
        HandlerForm::Event(event) => quote!(#event.context.xray_trace_id),
        HandlerForm::PayloadContext(context) => quote!(#context.xray_trace_id),
    };
    let private = private_path(args.krate.as_ref());
    let fn_name = func.sig.ident.to_string();
    let name = args.name.as_ref().map_or_else(|| format!("## {fn_name}"), syn::LitStr::value);
    let capture_response = args.capture_response;
    let record_err = args.err.then(|| record_err(&private, &quote!(&__xray_ret), &quote!(&__xray_invocation)));
    let body = body_with_return_edge(func);
    let (attrs, inner_attrs) = split_attrs(func);
    let ItemFn { vis, sig, .. } = func;
    quote! {
        #(#attrs)* #vis #sig {
            #(#inner_attrs)*
            let __xray_invocation = #private::Invocation::begin(
                ::core::option::Option::as_deref(&#header),
                #name,
                #fn_name,
                #capture_response,
            );
            let __xray_ret = #private::Invocation::instrument(&__xray_invocation, async move #body).await;
            #record_err
            {
                #[allow(unused_imports)]
                use #private::{CaptureNothing as _, CaptureSerialize as _};
                (&&#private::Response(&__xray_ret)).__xray_capture(&__xray_invocation, #fn_name, #name);
            }
            #private::Invocation::end(__xray_invocation);
            __xray_ret
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> TokenStream {
        quote!(
            async fn load(id: u64) -> Result<u64, String> {
                Ok(id)
            }
        )
    }

    #[test]
    fn off_emits_the_item_unchanged() {
        for attr in [Attr::Traced, Attr::TracedHandler] {
            let args = match attr {
                Attr::Traced => quote!(name = "x", err = false),
                Attr::TracedHandler => quote!(capture_response),
            };
            let input = match attr {
                Attr::Traced => item(),
                Attr::TracedHandler => quote!(
                    async fn h(event: LambdaEvent<()>) -> Result<(), E> {
                        Ok(())
                    }
                ),
            };
            assert_eq!(entry(attr, args.clone(), input.clone(), true).to_string(), input.to_string());
            let on = entry(attr, args, input.clone(), false).to_string();
            assert_ne!(on, input.to_string());
            assert!(on.contains("__private"), "{on}");
        }
    }

    #[test]
    fn off_checks_the_function_as_on_does() {
        // Regression (issue 10): with `off`, `skip` names and the handler's shape went unchecked.
        let cases = [
            (Attr::Traced, quote!(capture_args, skip(idd)), item()),
            (Attr::TracedHandler, quote!(), quote! { fn h(event: LambdaEvent<()>) {} }),
            (Attr::TracedHandler, quote!(), quote! { async fn h(event: String) {} }),
            (Attr::TracedHandler, quote!(), quote! { async fn h(&self) {} }),
        ];
        for (attr, args, input) in cases {
            let on = entry(attr, args.clone(), input.clone(), false).to_string();
            assert!(on.contains("compile_error"), "{on}");
            assert_eq!(entry(attr, args, input, true).to_string(), on);
        }
    }

    #[test]
    fn off_still_checks_the_arguments() {
        let out = entry(Attr::Traced, quote!(nmae = "x"), item(), true).to_string();
        assert!(out.starts_with(&item().to_string()), "the item is kept: {out}");
        assert!(out.contains("compile_error") && out.contains("unknown argument `nmae`"), "{out}");
    }
}
