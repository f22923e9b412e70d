// A `.send()` after `publish` on a type that is not an AWS SDK call is reported at that `.send()`.
use xray_core::traced_publish;

struct Bus;
struct Draft;

impl Bus {
    fn publish(&self) -> Draft {
        Draft
    }
}

impl Draft {
    fn send(self) -> bool {
        true
    }
}

#[traced_publish]
fn announce(bus: &Bus) -> bool {
    bus.publish().send()
}

fn main() {}
