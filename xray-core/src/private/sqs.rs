//! What `#[traced_subscribe]` and `#[traced_publish]` expand to, beside the [`Span`](super::Span)s `#[traced_publish]` shares
//! with `#[traced]`.

use std::borrow::Cow;
use std::ops::Deref;

use aws_sdk_sqs::operation::send_message::builders::SendMessageFluentBuilder;
use aws_sdk_sqs::operation::send_message::{SendMessageError, SendMessageOutput};
use aws_sdk_sqs::operation::send_message_batch::builders::SendMessageBatchFluentBuilder;
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchError, SendMessageBatchOutput};

pub use crate::queue::{Mode, Processing};
pub use crate::sqs::{Carrier, Consumable, Subscription};

use super::Recording;
use crate::aws::XRayInterceptor;
use crate::record::Recorder;

/// [`crate::sqs::process`] on a message taken by value, with its segment named after the service
/// (`POWERTOOLS_SERVICE_NAME`, else the Lambda function's name, else `fn_name`); returns the message restored.
/// One call, so that a parameter of another type is one error.
pub fn subscribe<M: Consumable>(
    message: M,
    queue: Option<&str>,
    mode: Mode,
    fn_name: &'static str,
    name: &'static str,
) -> (Subscription, M) {
    let mut subscription = crate::sqs::process(&message, queue, mode, crate::lambda::service(fn_name), name);
    let message = subscription.restore(message);
    (subscription, message)
}

/// [`subscribe`] for a message taken by reference: the message restored is a copy only when its body was an
/// envelope.
pub fn subscribe_ref<'m, M: Consumable>(
    message: &'m M,
    queue: Option<&str>,
    mode: Mode,
    fn_name: &'static str,
    name: &'static str,
) -> (Subscription, Restored<'m, M>) {
    let mut subscription = crate::sqs::process(message, queue, mode, crate::lambda::service(fn_name), name);
    let restored = match subscription.restore_ref(message) {
        Cow::Borrowed(message) => Restored::Borrowed(message),
        Cow::Owned(message) => Restored::Owned(message),
    };
    (subscription, restored)
}

/// A borrowed message as the function sees it. `Cow` without its `ToOwned` bound, so that a parameter of another
/// type is reported once, at [`subscribe_ref`].
#[derive(Debug)]
pub enum Restored<'m, M> {
    /// The caller's message.
    Borrowed(&'m M),
    /// A copy with the original body.
    Owned(M),
}

impl<M> Deref for Restored<'_, M> {
    type Target = M;

    fn deref(&self) -> &M {
        match self {
            Restored::Borrowed(message) => message,
            Restored::Owned(message) => message,
        }
    }
}

impl Recording for Subscription {
    fn recorder(&self) -> Option<Recorder> {
        Subscription::recorder(self)
    }
}

/// A fluent call whose `.send()` `#[traced_publish]` rewrites: `.customize().interceptor(XRayInterceptor::
/// publishing(carrier))`, or `.interceptor(..)` alone when the call is already customized.
#[diagnostic::on_unimplemented(
    message = "`#[traced_publish]` cannot put the trace on the messages of `{Self}`",
    label = "this `.send()` follows `send_message`, `send_message_batch`, `publish` or `publish_batch`",
    note = "`#[traced_publish]` rewrites the `.send()` of SQS `send_message`/`send_message_batch` and SNS \
            `publish`/`publish_batch` fluent calls; SNS calls need xray-core's `sns` feature"
)]
pub trait Publish {
    /// The call, customized.
    type Customized;

    /// The call with a per-call interceptor that records it and carries the trace by `carrier`.
    fn with_carrier(self, carrier: Carrier) -> Self::Customized;
}

/// The four fluent builders, and a call already customized, of one SDK crate.
macro_rules! publish {
    ($sdk:ident: $($builder:ty => ($output:ty, $error:ty)),*) => {
        $(
            impl Publish for $builder {
                type Customized = $sdk::client::customize::CustomizableOperation<$output, $error, Self>;

                fn with_carrier(self, carrier: Carrier) -> Self::Customized {
                    self.customize().interceptor(XRayInterceptor::publishing(carrier))
                }
            }
        )*

        impl<T, E, B> Publish for $sdk::client::customize::CustomizableOperation<T, E, B> {
            type Customized = Self;

            fn with_carrier(self, carrier: Carrier) -> Self {
                self.interceptor(XRayInterceptor::publishing(carrier))
            }
        }
    };
}

publish!(aws_sdk_sqs:
    SendMessageFluentBuilder => (SendMessageOutput, SendMessageError),
    SendMessageBatchFluentBuilder => (SendMessageBatchOutput, SendMessageBatchError)
);

#[cfg(feature = "sns")]
mod sns {
    use aws_sdk_sns::operation::publish::builders::PublishFluentBuilder;
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_sdk_sns::operation::publish_batch::builders::PublishBatchFluentBuilder;
    use aws_sdk_sns::operation::publish_batch::{PublishBatchError, PublishBatchOutput};

    use super::{Carrier, Publish, XRayInterceptor};

    publish!(aws_sdk_sns:
        PublishFluentBuilder => (PublishOutput, PublishError),
        PublishBatchFluentBuilder => (PublishBatchOutput, PublishBatchError)
    );
}
