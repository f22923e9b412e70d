//! Part of code generation for `#[traced_publish]`: the `.send()` of each SQS or SNS publishing call written in the
//! function's body is rewritten to go through a per-call interceptor.
//!
//! A call is a method chain `<...>.send_message()<...>.send()` (or `send_message_batch`, `publish`,
//! `publish_batch`): the `.send()` whose chain, back to the previous `.send()` or `.await`, holds one of those four
//! methods. Its receiver becomes `<private>::sqs::Publish::with_carrier(<receiver>, <carrier>)`, which is
//! `.customize().interceptor(XRayInterceptor::publishing(<carrier>))` for the SDK's builders.
//!
//! Closures and async blocks in the body are rewritten too (they usually run within the call: `join_all` over
//! sends); nested items (`fn`, `impl`, `mod`, ...) are not, as they are other functions. A macro call's arguments are
//! rewritten when they parse as comma-separated expressions (`tokio::join!(a, b)`); other macro bodies (`select!`)
//! are left alone. A builder kept in a variable and sent later (`let call = sqs.send_message(); call.send()`) is
//! not seen: only the client's interceptor covers it.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote_spanned};
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprMethodCall, Item, Macro, Token};

use crate::expand::respan;

/// The methods that start a call whose messages carry the trace.
const PUBLISHING: &[&str] = &["send_message", "send_message_batch", "publish", "publish_batch"];

/// Rewrites the publishing calls in `block`; `wrap` is the path of `Publish::with_carrier`, `carrier` the carrier's
/// expression. Returns how many calls were rewritten.
pub(crate) fn rewrite_sends(block: &mut Block, wrap: &TokenStream, carrier: &TokenStream) -> usize {
    let mut rewriter = Rewriter { wrap, carrier, count: 0 };
    rewriter.visit_block_mut(block);
    rewriter.count
}

struct Rewriter<'a> {
    wrap: &'a TokenStream,
    carrier: &'a TokenStream,
    count: usize,
}

/// Whether `send`'s receiver chain, back to the previous `.send()` or `.await`, calls a publishing method.
fn publishes(send: &ExprMethodCall) -> bool {
    if send.method != "send" || !send.args.is_empty() || send.turbofish.is_some() {
        return false;
    }
    let mut expr = &*send.receiver;
    loop {
        match expr {
            Expr::MethodCall(call) if call.method == "send" => return false,
            Expr::MethodCall(call) if PUBLISHING.iter().any(|m| call.method == m) => return true,
            Expr::MethodCall(call) => expr = &call.receiver,
            Expr::Paren(paren) => expr = &paren.expr,
            Expr::Try(tried) => expr = &tried.expr,
            _ => return false,
        }
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_method_call_mut(&mut self, call: &mut ExprMethodCall) {
        visit_mut::visit_expr_method_call_mut(self, call);
        if publishes(call) {
            // Spanned at `send`, so that a `.send()` on something else is reported there.
            let span = call.method.span();
            let (wrap, carrier) = (respan(self.wrap.clone(), span), respan(self.carrier.clone(), span));
            let receiver = &call.receiver;
            let wrapped = quote_spanned!(span=> #wrap(#receiver, #carrier));
            // The tokens are a call expression built from an expression: they parse.
            if let Ok(expr) = syn::parse2::<Expr>(wrapped) {
                *call.receiver = expr;
                self.count += 1;
            }
        }
    }

    fn visit_item_mut(&mut self, _item: &mut Item) {
        // A nested item is another function: `#[traced_publish]` covers this one only.
    }

    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        let Ok(mut args) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) else { return };
        let before = self.count;
        for arg in &mut args {
            self.visit_expr_mut(arg);
        }
        // Untouched arguments keep their tokens exactly as written.
        if self.count > before {
            mac.tokens = args.to_token_stream();
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn rewritten(body: TokenStream) -> (String, usize) {
        let mut block: Block = syn::parse2(quote!({ #body })).expect("block");
        let count = rewrite_sends(&mut block, &quote!(wrap), &quote!(CARRIER));
        (block.to_token_stream().to_string().replace(' ', ""), count)
    }

    #[test]
    fn the_send_of_each_publishing_call_is_wrapped() {
        let (out, count) = rewritten(quote! {
            sqs.send_message().queue_url(u).message_body(b).send().await?;
            sqs.send_message_batch().queue_url(u).set_entries(e).send().await?;
            sns.publish().message(m).send().await?;
            self.sns.publish_batch().send().await?;
            make()?.send_message().customize().send().await?;
        });
        assert_eq!(count, 5);
        assert!(out.contains("wrap(sqs.send_message().queue_url(u).message_body(b),CARRIER).send().await?"), "{out}");
        assert!(out.contains("wrap(self.sns.publish_batch(),CARRIER).send()"), "{out}");
        assert!(out.contains("wrap(make()?.send_message().customize(),CARRIER).send()"), "{out}");
    }

    #[test]
    fn other_calls_are_left_alone() {
        let (out, count) = rewritten(quote! {
            sqs.receive_message().queue_url(u).send().await?;
            tx.send(message);
            let call = sqs.send_message();
            call.send().await?;
            sqs.send_message().send().await.map(|r| r).send();
            channel.publish(x).send::<u8>();
        });
        assert_eq!(count, 1, "{out}");
        assert!(out.contains("wrap(sqs.send_message(),CARRIER).send().await.map(|r|r).send();"), "{out}");
    }

    #[test]
    fn closures_async_blocks_and_macro_arguments_are_rewritten_nested_items_are_not() {
        let (out, count) = rewritten(quote! {
            join_all(ids.iter().map(|id| sqs.send_message().message_body(id).send())).await;
            let later = async move { sns.publish().send().await };
            tokio::join!(sqs.send_message().send(), other());
            println!("{}", sqs.send_message().send().await.is_ok());
            select! { x = sqs.send_message().send() => x };
            fn helper(sqs: &Client) { sqs.send_message().send(); }
        });
        assert_eq!(count, 4, "{out}");
        assert!(out.contains("select!{x=sqs.send_message().send()=>x}"), "{out}");
        assert!(out.contains("fnhelper(sqs:&Client){sqs.send_message().send();}"), "{out}");
    }
}
