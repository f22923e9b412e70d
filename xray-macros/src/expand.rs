//! Code generation: the instrumented function, built around the user's unchanged body.
//!
//! Generated code names everything by absolute path (`::core::...`, `<crate>::__private::...`), so a user crate that
//! shadows `Result`, `Option` or `core` still compiles; its own identifiers start with `__xray_`.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, Expr, FnArg, Ident, Item, ItemFn, Pat, Path, ReturnType, Type};

use crate::args::{Carrier, HandlerArgs, Mode, Namespace, SubscribeArgs, TracedArgs, name_from_ident};
use crate::rewrite::rewrite_sends;

/// Which attribute is being expanded.
#[derive(Clone, Copy)]
pub(crate) enum Attr {
    Traced,
    TracedHandler,
    TracedPublish,
    TracedSubscribe,
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
    Publish(TracedArgs, ItemFn),
    Subscribe(SubscribeArgs, ItemFn, MessageParam),
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
        Attr::TracedPublish => {
            let func = parse_fn(item, "traced_publish")?;
            let args = TracedArgs::parse_publish(args)?;
            check_skip(&args, &func)?;
            Ok(Checked::Publish(args, func))
        }
        Attr::TracedSubscribe => {
            let func = parse_fn(item, "traced_subscribe")?;
            let args = SubscribeArgs::parse(args)?;
            let message = message_param(&args, &func)?;
            Ok(Checked::Subscribe(args, func, message))
        }
    }
}

impl Checked {
    fn expand(self) -> TokenStream {
        match self {
            Self::Traced(args, func) => traced(&args, &func),
            Self::Handler(args, func, form) => traced_handler(&args, &func, &form),
            Self::Publish(args, func) => traced_publish(&args, func),
            Self::Subscribe(args, func, message) => traced_subscribe(&args, &func, &message),
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
fn record_err(private: &TokenStream, ret: &TokenStream, span: &TokenStream, forced: bool) -> TokenStream {
    quote! {
        {
            #[allow(unused_imports)]
            use #private::{RecordBoxedError as _, RecordDisplayError as _, RecordNothing as _, RecordStdError as _};
            (&&&&#private::Outcome(#ret, #forced)).__xray_record(#span);
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
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
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
    let record_err = args.err.then(|| record_err(&private, &ret, &span_ref, args.capture_mode));
    let capture_ret = args.capture_ret.then(|| {
        quote! {
            if let ::core::option::Option::Some(__xray_rec) = #private::Recording::recorder(#span_ref) {
                #private::capture_ret(&__xray_rec, #ret);
            }
        }
    });

    // An async fn recorded on before its body runs opens its subsegment in the trace's arena at once; otherwise it
    // is kept out of it until something records on it.
    let open = if is_async && before.is_some() { quote!(open_recorded) } else { quote!(open) };
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
            let __xray_span = #span::#open(#name, #namespace);
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
    /// `.., request: Request` (a `lambda_http` handler): the Lambda context lambda_http keeps in the request. The
    /// span is the parameter's type, where a type that is not a lambda_http request is reported.
    Request(Ident, Span),
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) => path.path.segments.last().is_some_and(|s| s.ident == name),
        _ => false,
    }
}

fn handler_form(func: &ItemFn) -> syn::Result<HandlerForm> {
    let expected = "`#[traced_handler]` expects `event: LambdaEvent<T>` or (`lambda_http`) `request: Request` as the \
                    last parameter, or `payload: T, context: Context` as the last two";
    let arg = match func.sig.inputs.last() {
        Some(FnArg::Typed(arg)) => arg,
        Some(receiver) => return Err(syn::Error::new_spanned(receiver, expected)),
        None => return Err(syn::Error::new(func.sig.ident.span(), expected)),
    };
    let wanted = if last_segment_is(&arg.ty, "LambdaEvent") {
        "LambdaEvent"
    } else if last_segment_is(&arg.ty, "Request") {
        "Request"
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
    let name = pat.ident.clone();
    Ok(match wanted {
        "LambdaEvent" => HandlerForm::Event(name),
        "Request" => HandlerForm::Request(name, arg.ty.span()),
        _ => HandlerForm::PayloadContext(name),
    })
}

/// `#[traced_handler]`.
fn traced_handler(args: &HandlerArgs, func: &ItemFn, form: &HandlerForm) -> TokenStream {
    let private = private_path(args.krate.as_ref());
    let header = match form {
        HandlerForm::Event(event) => quote!(::core::option::Option::as_deref(&#event.context.xray_trace_id)),
        HandlerForm::PayloadContext(context) => quote!(::core::option::Option::as_deref(&#context.xray_trace_id)),
        HandlerForm::Request(request, span) => {
            let private = respan(private.clone(), *span);
            quote_spanned!(*span=> #private::LambdaRequest::xray_trace_header(&#request))
        }
    };
    let fn_name = func.sig.ident.to_string();
    let name = args.name.as_ref().map_or_else(|| format!("## {fn_name}"), syn::LitStr::value);
    let capture_response = args.capture_response;
    // A `capture` mode decides alone; without one, `POWERTOOLS_TRACER_CAPTURE_RESPONSE` can turn capture on.
    let begin = if args.capture_mode { quote!(begin_exact) } else { quote!(begin) };
    let record_err =
        args.err.then(|| record_err(&private, &quote!(&__xray_ret), &quote!(&__xray_invocation), args.capture_mode));
    let body = body_with_return_edge(func);
    let (attrs, inner_attrs) = split_attrs(func);
    let ItemFn { vis, sig, .. } = func;
    quote! {
        #(#attrs)* #vis #sig {
            #(#inner_attrs)*
            let __xray_invocation = #private::Invocation::#begin(
                #header,
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

/// `#[traced_publish]`: `#[traced]` around the body, whose publishing calls' `.send()` go through a per-call
/// interceptor that carries the trace by the chosen carrier (see `rewrite`).
fn traced_publish(args: &TracedArgs, mut func: ItemFn) -> TokenStream {
    let private = private_path(args.krate.as_ref());
    let carrier = match args.carrier {
        Carrier::SystemAttribute => quote!(#private::sqs::Carrier::SystemAttribute),
        Carrier::MessageAttribute => quote!(#private::sqs::Carrier::MessageAttribute),
        Carrier::Body => quote!(#private::sqs::Carrier::Body),
    };
    rewrite_sends(&mut func.block, &quote!(#private::sqs::Publish::with_carrier), &carrier);
    traced(args, &func)
}

/// The parameter `#[traced_subscribe]` reads the message from.
struct MessageParam {
    /// Its position among the function's inputs.
    index: usize,
    ident: Ident,
    mutable: bool,
    /// `message: &SqsMessage` rather than `message: SqsMessage`.
    by_ref: bool,
}

/// The message types `#[traced_subscribe]` finds by name: `aws_lambda_events::sqs::SqsMessage`, its typed
/// `SqsMessageObj<T>`, and `aws_sdk_sqs::types::Message`.
const MESSAGE_TYPES: &[&str] = &["SqsMessage", "SqsMessageObj", "Message"];

const MESSAGE_EXPECTED: &str = "`#[traced_subscribe]` takes one message, as `message: SqsMessage` or `message: \
                                SqsMessageObj<T>` (`aws_lambda_events::sqs`) or `message: Message` \
                                (`aws_sdk_sqs::types`), by value or by reference";

/// `ty` without the invisible groups and parentheses around it.
fn ungrouped(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungrouped(&group.elem),
        Type::Paren(paren) => ungrouped(&paren.elem),
        other => other,
    }
}

/// Whether `ty` names a message type, by value or by reference (of any kind: `&mut` is refused later, with a
/// message saying why).
fn is_message_type(ty: &Type) -> bool {
    match ungrouped(ty) {
        Type::Reference(reference) => is_message_type(&reference.elem),
        ty => MESSAGE_TYPES.iter().any(|name| last_segment_is(ty, name)),
    }
}

/// Finds the message parameter: the one `message = ...` names, else the one whose type is a message type.
fn message_param(args: &SubscribeArgs, func: &ItemFn) -> syn::Result<MessageParam> {
    let typed = func.sig.inputs.iter().enumerate().filter_map(|(index, arg)| match arg {
        FnArg::Typed(typed) => Some((index, typed)),
        FnArg::Receiver(_) => None,
    });
    let (index, param) = match &args.message {
        Some(name) => {
            let named = typed.clone().find(|(_, typed)| matches!(&*typed.pat, Pat::Ident(pat) if pat.ident == *name));
            named.ok_or_else(|| {
                syn::Error::new(
                    name.span(),
                    format!("`message` names `{name}`, which is not a parameter of `{}`", func.sig.ident),
                )
            })?
        }
        None => {
            let mut found = typed.filter(|(_, typed)| is_message_type(&typed.ty));
            let first = found.next().ok_or_else(|| {
                syn::Error::new(func.sig.paren_token.span.join(), format!("{MESSAGE_EXPECTED}; found none"))
            })?;
            if let Some((_, second)) = found.next() {
                return Err(syn::Error::new_spanned(
                    &second.pat,
                    "`#[traced_subscribe]` found several message parameters: name the one to trace with \
                     `message = <parameter>`",
                ));
            }
            first
        }
    };
    let by_ref = match ungrouped(&param.ty) {
        Type::Reference(reference) if reference.mutability.is_some() => {
            return Err(syn::Error::new_spanned(
                &param.ty,
                "`#[traced_subscribe]` takes the message by value or by shared reference, not by `&mut`",
            ));
        }
        Type::Reference(reference) if matches!(ungrouped(&reference.elem), Type::Path(_)) => true,
        Type::Path(path) if path.qself.is_none() => false,
        _ => return Err(syn::Error::new_spanned(&param.ty, MESSAGE_EXPECTED)),
    };
    match &*param.pat {
        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
            Ok(MessageParam { index, ident: pat.ident.clone(), mutable: pat.mutability.is_some(), by_ref })
        }
        _ => Err(syn::Error::new_spanned(
            &param.pat,
            "`#[traced_subscribe]` needs the message bound to a name, like `message: SqsMessage`",
        )),
    }
}

/// `#[traced_subscribe]`.
fn traced_subscribe(args: &SubscribeArgs, func: &ItemFn, message: &MessageParam) -> TokenStream {
    let private = private_path(args.krate.as_ref());
    let fn_name = func.sig.ident.to_string();
    let name = args.name.as_ref().map_or_else(|| name_from_ident(&fn_name), syn::LitStr::value);
    let mode = match args.mode {
        Mode::Continue => quote!(#private::sqs::Mode::Continue),
        Mode::Link => quote!(#private::sqs::Mode::Link),
        Mode::ContinueOrLink => quote!(#private::sqs::Mode::ContinueOrLink),
    };
    // Spanned at the user's expression, so that a value that is not a string is reported there.
    let queue = match &args.queue {
        None => quote!(::core::option::Option::None),
        Some(expr) => {
            let (value, span) = (borrow_of(expr), expr.span());
            quote_spanned!(span=> ::core::option::Option::Some(::core::convert::AsRef::<str>::as_ref(#value)))
        }
    };
    // The message is read, then shadowed by the message with its original body when the body was an envelope (by
    // reference: a copy, only then). The parameter's `mut`, if any, moves to the shadowing binding. The call is
    // spanned at the parameter, where a parameter that is not a message is reported.
    let mutability = message.mutable.then(|| quote!(mut));
    let span = message.ident.span();
    // A parameter named `_message` is one the body does not mean to use: reading and shadowing it is the macro's
    // doing, so it is spanned as the macro's, and the user's crate does not warn about using or binding it.
    let ident = if message.ident.to_string().starts_with('_') {
        &Ident::new(&message.ident.to_string(), Span::call_site())
    } else {
        &message.ident
    };
    let restore = if message.by_ref {
        let subscribe = respan(quote!(#private::sqs::subscribe_ref), span);
        quote! {
            let (mut __xray_subscription, __xray_message) = #subscribe(#ident, #queue, #mode, #fn_name, #name);
            let #mutability #ident = &*__xray_message;
        }
    } else {
        let subscribe = respan(quote!(#private::sqs::subscribe), span);
        quote! {
            let (mut __xray_subscription, #mutability #ident) = #subscribe(#ident, #queue, #mode, #fn_name, #name);
        }
    };
    let processing = quote!(#private::sqs::Subscription::processing(&__xray_subscription));
    let body = body_with_return_edge(func);
    // async: the body runs as an inner future polled in the processing's context; sync: as a closure run with it
    // entered. Either way a panic is recorded on the processing, then resumed.
    let run = if func.sig.asyncness.is_some() {
        quote!(#private::sqs::Processing::instrument(#processing, async move #body).await)
    } else {
        quote!(#private::sqs::Processing::run(#processing, move || #body))
    };
    let record_err = args.err.then(|| record_err(&private, &quote!(&__xray_ret), &quote!(&__xray_subscription), false));
    let (attrs, inner_attrs) = split_attrs(func);
    let vis = &func.vis;
    let mut sig = func.sig.clone();
    if let Some(FnArg::Typed(typed)) = sig.inputs.iter_mut().nth(message.index)
        && let Pat::Ident(pat) = &mut *typed.pat
    {
        pat.mutability = None;
    }
    quote! {
        #(#attrs)* #vis #sig {
            #(#inner_attrs)*
            #restore
            let __xray_ret = #run;
            #record_err
            #private::sqs::Subscription::end(__xray_subscription);
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

    /// Arguments and a function each attribute accepts.
    fn accepted(attr: Attr) -> (TokenStream, TokenStream) {
        match attr {
            Attr::Traced => (quote!(name = "x", err = false), item()),
            Attr::TracedHandler => (
                quote!(capture_response),
                quote!(
                    async fn h(event: LambdaEvent<()>) -> Result<(), E> {
                        Ok(())
                    }
                ),
            ),
            Attr::TracedPublish => (
                quote!(carrier = "body"),
                quote!(
                    async fn p(sqs: &Client) -> Result<(), E> {
                        sqs.send_message().send().await?;
                        Ok(())
                    }
                ),
            ),
            Attr::TracedSubscribe => (
                quote!(mode = "link", queue = "orders"),
                quote!(
                    fn s(mut message: SqsMessage) -> Result<(), E> {
                        message.body = None;
                        Ok(())
                    }
                ),
            ),
        }
    }

    const ALL: [Attr; 4] = [Attr::Traced, Attr::TracedHandler, Attr::TracedPublish, Attr::TracedSubscribe];

    #[test]
    fn off_emits_the_item_unchanged() {
        for attr in ALL {
            let (args, input) = accepted(attr);
            assert_eq!(entry(attr, args.clone(), input.clone(), true).to_string(), input.to_string());
            let on = entry(attr, args, input.clone(), false).to_string();
            assert_ne!(on, input.to_string());
            assert!(on.contains("__private") && !on.contains("compile_error"), "{on}");
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
            (Attr::TracedPublish, quote!(capture_args, skip(idd)), item()),
            (Attr::TracedSubscribe, quote!(), item()),
            (Attr::TracedSubscribe, quote!(), quote! { fn s(m: &mut SqsMessage) {} }),
            (Attr::TracedSubscribe, quote!(message = n), quote! { fn s(m: SqsMessage) {} }),
        ];
        for (attr, args, input) in cases {
            let on = entry(attr, args.clone(), input.clone(), false).to_string();
            assert!(on.contains("compile_error"), "{on}");
            assert_eq!(entry(attr, args, input, true).to_string(), on);
        }
    }

    #[test]
    fn a_subscribed_message_moves_its_mut_to_the_binding_that_shadows_it() {
        let (args, input) = accepted(Attr::TracedSubscribe);
        let out = entry(Attr::TracedSubscribe, args, input, false).to_string();
        assert!(out.starts_with("fn s (message : SqsMessage)"), "{out}");
        assert!(out.contains("let (mut __xray_subscription , mut message) = :: xray_core"), "{out}");
    }

    #[test]
    fn the_message_parameter_is_found_by_type_or_by_name() {
        let find = |args: TokenStream, input: TokenStream| {
            let func: ItemFn = syn::parse2(input).expect("fn");
            let args = SubscribeArgs::parse(args).expect("args");
            message_param(&args, &func).map(|m| (m.index, m.ident.to_string(), m.by_ref)).map_err(|e| e.to_string())
        };
        let by_type = quote!(
            async fn s(&self, deps: &Deps, m: &aws_sdk_sqs::types::Message) {}
        );
        assert_eq!(find(quote!(), by_type), Ok((2, "m".to_owned(), true)));
        let two = quote!(
            fn s(a: SqsMessage, b: SqsMessage) {}
        );
        assert_eq!(find(quote!(message = b), two.clone()), Ok((1, "b".to_owned(), false)));
        assert!(find(quote!(), two).is_err_and(|e| e.contains("several message parameters")));
        let aliased = quote!(
            fn s(order: Order) {}
        );
        assert_eq!(find(quote!(message = order), aliased.clone()), Ok((0, "order".to_owned(), false)));
        assert!(find(quote!(), aliased).is_err_and(|e| e.contains("found none")));
        let pattern = quote!(
            fn s(SqsMessage { body, .. }: SqsMessage) {}
        );
        assert!(find(quote!(), pattern).is_err_and(|e| e.contains("bound to a name")));
        let tuple = quote!(
            fn s(m: (SqsMessage, u8)) {}
        );
        assert!(find(quote!(message = m), tuple).is_err_and(|e| e.starts_with("`#[traced_subscribe]` takes one")));
    }

    #[test]
    fn off_still_checks_the_arguments() {
        let out = entry(Attr::Traced, quote!(nmae = "x"), item(), true).to_string();
        assert!(out.starts_with(&item().to_string()), "the item is kept: {out}");
        assert!(out.contains("compile_error") && out.contains("unknown argument `nmae`"), "{out}");
    }
}
