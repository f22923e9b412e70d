//! Parsing and validating the attributes' arguments.
//!
//! Arguments are read in two steps: [`RawArg`] takes any `key`, `key = expr` or `key(...)`, then [`check`] rejects
//! unknown and duplicate keys for the attribute at hand, in one place, before each known key is interpreted. Keys
//! are read as plain identifiers (`crate` included, through [`IdentExt::parse_any`]) rather than as custom keywords,
//! so that an unknown key is still parsed and the error can list the valid ones.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Path, Token};

use crate::rules::{is_name_char, is_valid_annotation_key};

/// The arguments of `#[traced]`.
#[derive(Default)]
pub(crate) struct TracedArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) namespace: Option<Namespace>,
    pub(crate) annotate: Vec<KeyValue>,
    pub(crate) metadata: Vec<KeyValue>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) skip_all: bool,
    pub(crate) capture_args: bool,
    pub(crate) capture_ret: bool,
    pub(crate) err: bool,
    pub(crate) krate: Option<Path>,
    /// `#[traced_publish]` only: how its sends carry the trace.
    pub(crate) carrier: Carrier,
    /// A `capture` mode was given: errors are recorded (or not) as it says, whatever
    /// `POWERTOOLS_TRACER_CAPTURE_ERROR` says.
    pub(crate) capture_mode: bool,
}

/// The arguments of `#[traced_handler]`.
#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) capture_response: bool,
    pub(crate) err: bool,
    pub(crate) krate: Option<Path>,
    /// A `capture` mode was given: it decides, not `POWERTOOLS_TRACER_CAPTURE_RESPONSE` / `_ERROR`.
    pub(crate) capture_mode: bool,
}

/// `capture = "response" | "error" | "both" | "none"`: Powertools Java's `captureMode` (`RESPONSE`, `ERROR`,
/// `RESPONSE_AND_ERROR`, `DISABLED`); without it the environment decides, as Java's `ENVIRONMENT_VAR`.
#[derive(Clone, Copy)]
pub(crate) struct Capture {
    response: bool,
    error: bool,
}

impl Capture {
    const NAMES: &'static [(&'static str, Capture)] = &[
        ("response", Capture { response: true, error: false }),
        ("error", Capture { response: false, error: true }),
        ("both", Capture { response: true, error: true }),
        ("none", Capture { response: false, error: false }),
    ];

    /// Reads `capture = "..."`, refusing it next to the arguments it replaces (`conflicting`, as given).
    fn parse(arg: &RawArg, conflicting: &[&Ident]) -> syn::Result<Self> {
        if let Some(other) = conflicting.first() {
            return Err(syn::Error::new(
                arg.key.span(),
                format!("`capture` replaces `{other}`: give one of them, not both"),
            ));
        }
        choice(arg, Self::NAMES)
    }
}

/// The arguments `capture` replaces, as given (for its conflict error).
fn replaced_by_capture<'a>(args: &'a [RawArg], replaced: &[&str]) -> Vec<&'a Ident> {
    args.iter().filter(|a| replaced.contains(&a.key.to_string().as_str())).map(|a| &a.key).collect()
}

/// The arguments of `#[traced_subscribe]`.
#[derive(Default)]
pub(crate) struct SubscribeArgs {
    pub(crate) mode: Mode,
    pub(crate) name: Option<LitStr>,
    pub(crate) queue: Option<Expr>,
    pub(crate) message: Option<Ident>,
    pub(crate) err: bool,
    pub(crate) krate: Option<Path>,
}

/// `carrier = "system_attribute" | "message_attribute" | "body"`, as `xray_core::sqs::Carrier` names them.
#[derive(Clone, Copy, Default)]
pub(crate) enum Carrier {
    #[default]
    SystemAttribute,
    MessageAttribute,
    Body,
}

impl Carrier {
    const NAMES: &'static [(&'static str, Carrier)] = &[
        ("system_attribute", Carrier::SystemAttribute),
        ("message_attribute", Carrier::MessageAttribute),
        ("body", Carrier::Body),
    ];
}

/// `mode = "continue" | "link" | "continue_or_link"`, as `xray_core::queue::Mode` names them.
#[derive(Clone, Copy, Default)]
pub(crate) enum Mode {
    #[default]
    Continue,
    Link,
    ContinueOrLink,
}

impl Mode {
    const NAMES: &'static [(&'static str, Mode)] =
        &[("continue", Mode::Continue), ("link", Mode::Link), ("continue_or_link", Mode::ContinueOrLink)];
}

/// `namespace = "remote" | "aws"`.
#[derive(Clone, Copy)]
pub(crate) enum Namespace {
    Aws,
    Remote,
}

/// One `key = expr` of `annotate(...)` or `metadata(...)`; the key is an identifier or a string literal.
pub(crate) struct KeyValue {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: Expr,
}

impl Parse for KeyValue {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (key, key_span) = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            (lit.value(), lit.span())
        } else {
            let ident = input.call(Ident::parse_any)?;
            (ident.unraw().to_string(), ident.span())
        };
        input.parse::<Token![=]>()?;
        Ok(Self { key, key_span, value: input.parse()? })
    }
}

/// What follows a key.
enum RawValue {
    /// `key`
    Flag,
    /// `key = expr`
    Expr(Expr),
    /// `key(...)`
    List(TokenStream),
}

/// One argument as written, not yet checked.
struct RawArg {
    key: Ident,
    value: RawValue,
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            RawValue::Expr(without_invisible_groups(input.parse()?))
        } else if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            RawValue::List(content.parse()?)
        } else {
            RawValue::Flag
        };
        Ok(Self { key, value })
    }
}

/// The expression inside the invisible groups a `macro_rules!` fragment arrives in: `carrier = $c` with
/// `$c:literal` (or `:expr`, `:path`) reaches the attribute as a group around `"body"`, which must read as `"body"`.
fn without_invisible_groups(expr: Expr) -> Expr {
    match expr {
        Expr::Group(group) if group.attrs.is_empty() => without_invisible_groups(*group.expr),
        other => other,
    }
}

/// Reads the raw arguments and rejects unknown and duplicate keys.
fn check(tokens: TokenStream, valid: &[&str]) -> syn::Result<Vec<RawArg>> {
    let args = Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for arg in args {
        let key = arg.key.to_string();
        if !valid.contains(&key.as_str()) {
            let list = valid.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ");
            return Err(syn::Error::new(arg.key.span(), format!("unknown argument `{key}`, expected one of: {list}")));
        }
        if seen.contains(&key) {
            return Err(syn::Error::new(arg.key.span(), format!("duplicate argument `{key}`")));
        }
        seen.push(key);
        out.push(arg);
    }
    Ok(out)
}

fn expect_flag(arg: &RawArg) -> syn::Result<()> {
    match &arg.value {
        RawValue::Flag => Ok(()),
        _ => Err(syn::Error::new(arg.key.span(), format!("`{}` takes no value", arg.key))),
    }
}

/// `key` alone (true) or `key = true|false`.
fn bool_value(arg: &RawArg) -> syn::Result<bool> {
    match &arg.value {
        RawValue::Flag => Ok(true),
        RawValue::Expr(Expr::Lit(syn::ExprLit { lit: Lit::Bool(b), .. })) => Ok(b.value()),
        RawValue::Expr(other) => Err(syn::Error::new(other.span(), format!("`{}` expects `true` or `false`", arg.key))),
        RawValue::List(_) => {
            Err(syn::Error::new(arg.key.span(), format!("`{}` expects `= true` or `= false`", arg.key)))
        }
    }
}

fn string_value(arg: &RawArg, example: &str) -> syn::Result<LitStr> {
    match &arg.value {
        RawValue::Expr(Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. })) => Ok(s.clone()),
        RawValue::Expr(other) => Err(syn::Error::new(
            other.span(),
            format!("`{}` expects a string literal, like `{} = {example}`", arg.key, arg.key),
        )),
        _ => Err(syn::Error::new(
            arg.key.span(),
            format!("`{}` expects a string literal, like `{} = {example}`", arg.key, arg.key),
        )),
    }
}

/// A `name = "..."` that X-Ray accepts as it is: 1 to 200 letters, numbers, spaces and `_.:/%&#=+-@` (the segment
/// document schema's rule, which `xray_core::rules` applies at run time). Checked here, so the
/// runtime need not check the name at every call.
fn name_value(arg: &RawArg, example: &str) -> syn::Result<LitStr> {
    let lit = string_value(arg, example)?;
    let name = lit.value();
    let problem = match name.chars().count() {
        0 => Some("is empty".to_owned()),
        201.. => Some("is longer than 200 characters".to_owned()),
        _ => name.chars().find(|&c| !is_name_char(c)).map(|c| format!("holds {c:?}")),
    };
    match problem {
        Some(problem) => Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid name {name:?}: it {problem}; X-Ray names hold 1 to 200 letters, numbers, spaces or \
                 `_.:/%&#=+-@`"
            ),
        )),
        None => Ok(lit),
    }
}

/// A function's name as a subsegment name. Rust identifiers may hold marks that X-Ray names may not; those become
/// `_`, as the runtime would make them.
pub(crate) fn name_from_ident(ident: &str) -> String {
    ident.chars().take(200).map(|c| if is_name_char(c) { c } else { '_' }).collect()
}

/// One of `names`, given as a string literal: `carrier = "body"`.
fn choice<T: Copy>(arg: &RawArg, names: &[(&str, T)]) -> syn::Result<T> {
    let lit = string_value(arg, &format!("\"{}\"", names[0].0))?;
    let value = lit.value();
    match names.iter().find(|(name, _)| *name == value) {
        Some((_, choice)) => Ok(*choice),
        None => {
            let list = names.iter().map(|(name, _)| format!("`{name}`")).collect::<Vec<_>>().join(", ");
            Err(syn::Error::new(lit.span(), format!("unknown {} `{value}`, expected one of: {list}", arg.key)))
        }
    }
}

/// `key = ident`.
fn ident_value(arg: &RawArg, example: &str) -> syn::Result<Ident> {
    match &arg.value {
        RawValue::Expr(Expr::Path(p)) if p.qself.is_none() && p.attrs.is_empty() => match p.path.get_ident() {
            Some(ident) => Ok(ident.clone()),
            None => {
                Err(syn::Error::new(p.span(), format!("`{}` expects a parameter's name, like `{example}`", arg.key)))
            }
        },
        RawValue::Expr(other) => {
            Err(syn::Error::new(other.span(), format!("`{}` expects a parameter's name, like `{example}`", arg.key)))
        }
        _ => {
            Err(syn::Error::new(arg.key.span(), format!("`{}` expects a parameter's name, like `{example}`", arg.key)))
        }
    }
}

/// `key = expr`.
fn expr_value(arg: &RawArg, example: &str) -> syn::Result<Expr> {
    match &arg.value {
        RawValue::Expr(expr) => Ok(expr.clone()),
        _ => Err(syn::Error::new(arg.key.span(), format!("`{}` expects a value, like `{example}`", arg.key))),
    }
}

fn path_value(arg: &RawArg) -> syn::Result<Path> {
    match &arg.value {
        RawValue::Expr(Expr::Path(p)) if p.qself.is_none() => Ok(p.path.clone()),
        RawValue::Expr(other) => {
            Err(syn::Error::new(other.span(), "`crate` expects a path, like `crate = ::my_tracing::xray`"))
        }
        _ => Err(syn::Error::new(arg.key.span(), "`crate` expects a path, like `crate = ::my_tracing::xray`")),
    }
}

fn list<T: Parse>(arg: &RawArg) -> syn::Result<Punctuated<T, Token![,]>> {
    match &arg.value {
        RawValue::List(tokens) => Punctuated::<T, Token![,]>::parse_terminated.parse2(tokens.clone()),
        _ => Err(syn::Error::new(arg.key.span(), format!("`{}` expects a list, like `{}(...)`", arg.key, arg.key))),
    }
}

fn key_values(arg: &RawArg, annotation: bool) -> syn::Result<Vec<KeyValue>> {
    let mut out: Vec<KeyValue> = Vec::new();
    for kv in list::<KeyValue>(arg)? {
        if annotation && !is_valid_annotation_key(&kv.key) {
            return Err(syn::Error::new(
                kv.key_span,
                format!("invalid annotation key `{}`: keys are 1 to 500 ASCII letters, digits or `_`", kv.key),
            ));
        }
        if out.iter().any(|k| k.key == kv.key) {
            return Err(syn::Error::new(kv.key_span, format!("duplicate key `{}` in `{}`", kv.key, arg.key)));
        }
        out.push(kv);
    }
    Ok(out)
}

impl TracedArgs {
    const VALID: &'static [&'static str] = &[
        "name",
        "namespace",
        "annotate",
        "metadata",
        "skip",
        "skip_all",
        "capture_args",
        "capture_ret",
        "err",
        "capture",
        "crate",
    ];

    const VALID_PUBLISH: &'static [&'static str] = &[
        "name",
        "namespace",
        "annotate",
        "metadata",
        "skip",
        "skip_all",
        "capture_args",
        "capture_ret",
        "err",
        "capture",
        "carrier",
        "crate",
    ];

    /// The arguments of `#[traced]`.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        Self::parse_valid(tokens, Self::VALID)
    }

    /// The arguments of `#[traced_publish]`: those of `#[traced]` and `carrier`.
    pub(crate) fn parse_publish(tokens: TokenStream) -> syn::Result<Self> {
        Self::parse_valid(tokens, Self::VALID_PUBLISH)
    }

    fn parse_valid(tokens: TokenStream, valid: &[&str]) -> syn::Result<Self> {
        let mut args = Self { err: true, ..Self::default() };
        let mut skip_span = None;
        let raw = check(tokens, valid)?;
        let replaced = replaced_by_capture(&raw, &["capture_ret", "err"]);
        for arg in &raw {
            match arg.key.to_string().as_str() {
                "name" => args.name = Some(name_value(arg, "\"load_order\"")?),
                "namespace" => {
                    let lit = string_value(arg, "\"remote\"")?;
                    args.namespace = Some(match lit.value().as_str() {
                        "remote" => Namespace::Remote,
                        "aws" => Namespace::Aws,
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("unknown namespace `{other}`, expected `\"remote\"` or `\"aws\"`"),
                            ));
                        }
                    });
                }
                "annotate" => args.annotate = key_values(arg, true)?,
                "metadata" => args.metadata = key_values(arg, false)?,
                "skip" => {
                    skip_span = Some(arg.key.span());
                    args.skip = list::<Ident>(arg)?.into_iter().collect();
                }
                "skip_all" => {
                    expect_flag(arg)?;
                    skip_span = Some(arg.key.span());
                    args.skip_all = true;
                }
                "capture_args" => {
                    expect_flag(arg)?;
                    args.capture_args = true;
                }
                "capture_ret" => {
                    expect_flag(arg)?;
                    args.capture_ret = true;
                }
                "err" => args.err = bool_value(arg)?,
                "capture" => {
                    let capture = Capture::parse(arg, &replaced)?;
                    (args.capture_ret, args.err, args.capture_mode) = (capture.response, capture.error, true);
                }
                "carrier" => args.carrier = choice(arg, Carrier::NAMES)?,
                _ => args.krate = Some(path_value(arg)?),
            }
        }
        if let (Some(span), false) = (skip_span, args.capture_args) {
            return Err(syn::Error::new(span, "`skip` and `skip_all` only make sense with `capture_args`"));
        }
        Ok(args)
    }
}

impl HandlerArgs {
    const VALID: &'static [&'static str] = &["name", "capture_response", "err", "capture", "crate"];

    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut args = Self { err: true, ..Self::default() };
        let raw = check(tokens, Self::VALID)?;
        let replaced = replaced_by_capture(&raw, &["capture_response", "err"]);
        for arg in &raw {
            match arg.key.to_string().as_str() {
                "name" => args.name = Some(name_value(arg, "\"## handler\"")?),
                "capture_response" => args.capture_response = bool_value(arg)?,
                "err" => args.err = bool_value(arg)?,
                "capture" => {
                    let capture = Capture::parse(arg, &replaced)?;
                    (args.capture_response, args.err, args.capture_mode) = (capture.response, capture.error, true);
                }
                _ => args.krate = Some(path_value(arg)?),
            }
        }
        Ok(args)
    }
}

impl SubscribeArgs {
    const VALID: &'static [&'static str] = &["mode", "name", "queue", "message", "err", "crate"];

    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut args = Self { err: true, ..Self::default() };
        for arg in check(tokens, Self::VALID)? {
            match arg.key.to_string().as_str() {
                "mode" => args.mode = choice(&arg, Mode::NAMES)?,
                "name" => args.name = Some(name_value(&arg, "\"handle_order\"")?),
                "queue" => args.queue = Some(expr_value(&arg, "queue = \"orders\"")?),
                "message" => args.message = Some(ident_value(&arg, "message = order")?),
                "err" => args.err = bool_value(&arg)?,
                _ => args.krate = Some(path_value(&arg)?),
            }
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_become_valid_xray_names() {
        assert_eq!(name_from_ident("load_order"), "load_order");
        assert_eq!(name_from_ident("r#type"), "r#type");
        assert_eq!(name_from_ident("größe"), "größe");
        // A combining mark continues a Rust identifier but is not a letter, number or separator.
        assert_eq!(name_from_ident("cafe\u{301}"), "cafe_");
    }
}
