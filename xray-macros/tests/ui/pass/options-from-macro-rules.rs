// Regression (issue 18, point 7): options written through `macro_rules!` fragments (`literal`, `expr`, `path`) were
// refused, as the fragment reaches the attribute inside an invisible group. Every attribute's string options, flags
// and `crate`, each through a fragment, in a crate that denies warnings.
#![deny(warnings)]

use lambda_runtime::{Context, Error, LambdaEvent};
use xray_core::{traced, traced_handler, traced_subscribe};

macro_rules! traced_functions {
    ($name:literal, $namespace:literal, $handler:literal, $mode:literal, $queue:expr, $flag:literal, $krate:path) => {
        #[traced(name = $name, namespace = $namespace, err = $flag, crate = $krate)]
        fn step() -> Result<u32, Error> {
            Ok(1)
        }

        #[traced_handler(name = $handler, capture_response = $flag, err = $flag, crate = $krate)]
        async fn handler(event: LambdaEvent<u32>) -> Result<u32, Error> {
            Ok(event.payload + step()?)
        }

        #[traced_subscribe(mode = $mode, name = $name, queue = $queue, err = $flag, crate = $krate)]
        async fn consume(message: aws_sdk_sqs::types::Message) -> Option<String> {
            message.body
        }
    };
}

traced_functions!("load order", "remote", "## main", "link", "orders", true, ::xray_core);

fn main() {
    let _ = handler(LambdaEvent::new(1, Context::default()));
    let _ = consume(aws_sdk_sqs::types::Message::builder().build());
}
