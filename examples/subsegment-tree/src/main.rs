//! Emits a small traced subsegment tree to the X-Ray daemon address and prints every document it sent.
//!
//! Run it beside a daemon (or `nc -ul 2000`) to see the datagrams arrive:
//! `AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000 cargo run -p subsegment-tree`.

use std::sync::Arc;
use std::time::Duration;

use xray_core::emit::{self, Emitter, UdpEmitter};
use xray_core::{Namespace, Sampled, SegmentId, Trace, TraceHeader, TraceId, current, in_subsegment, put_annotation};

/// Prints each document, then hands it to the daemon emitter.
struct Printing(Arc<UdpEmitter>);

impl Emitter for Printing {
    fn send(&self, document: &[u8]) {
        println!("{}", String::from_utf8_lossy(document));
        self.0.send(document);
    }
}

async fn handle_order(order_id: u64) -> Result<&'static str, std::io::Error> {
    in_subsegment("## handle_order", async move {
        xray_core::handler().put_annotation("order_id", order_id);
        in_subsegment("validate", async { tokio::time::sleep(Duration::from_millis(3)).await }).await;
        in_subsegment("DynamoDB", async {
            let aws = current();
            aws.set_namespace(Namespace::Aws);
            aws.update_aws(|a| {
                a.operation = Some("PutItem".into());
                a.region = Some("eu-west-1".into());
                a.resources.insert("table_name".into(), "orders".into());
            });
            put_annotation("attempt", 1);
            tokio::time::sleep(Duration::from_millis(5)).await;
        })
        .await;
        Ok("stored")
    })
    .await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let daemon = emit::daemon().clone();
    println!("sending to the daemon at {} (AWS_XRAY_DAEMON_ADDRESS)", daemon.target());
    // What Lambda hands an invocation: a sampled header whose Parent is the function's segment.
    let header = TraceHeader::new(TraceId::new(), Some(SegmentId::new()), Sampled::Yes).to_string();
    println!("invocation header: {header}\n");
    let printing = Arc::new(Printing(daemon.clone()));
    let result = emit::scoped(printing, Trace::lambda(Some(&header)).context().scope(handle_order(42))).await;
    let stats = daemon.stats();
    println!("\nhandler returned {result:?}; datagrams sent: {}, dropped: {}", stats.sent, stats.dropped);
}
