use xray_core::traced;

#[traced(capture_args, skip(id, pasword))]
fn login(id: u64, password: &str) -> bool {
    id > 0 && !password.is_empty()
}

#[traced(skip(id))]
fn skip_without_capture(id: u64) -> u64 {
    id
}

fn main() {
    let _ = (login(1, "x"), skip_without_capture(1));
}
