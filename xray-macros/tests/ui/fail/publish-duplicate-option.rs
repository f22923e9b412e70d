use xray_core::traced_publish;

#[traced_publish(carrier = "body", name = "publish", carrier = "message_attribute")]
async fn publish() {}

fn main() {}
