// Every kind of function #[traced] accepts, with its options; lint-clean in the user's crate.
#![deny(warnings)]

use std::fmt::Display;

use xray_core::traced;

#[traced]
fn plain(a: u32) -> u32 {
    a
}

#[traced(name = "renamed", namespace = "aws", annotate(k = 1, "s" = "x"), metadata(m = [1, 2]), err = false)]
fn with_options() {}

#[traced(capture_args, skip(secret), capture_ret)]
fn captured(visible: &str, secret: &str) -> usize {
    visible.len() + secret.len()
}

#[traced]
fn generic<T: Display, const N: usize>(items: [T; N], extra: impl Display) -> String {
    format!("{}{extra}", items.len())
}

#[traced]
fn returns_impl(n: u32) -> impl Display {
    n
}

#[traced]
async fn returns_impl_async(n: u32) -> impl Display {
    n
}

#[traced]
fn borrows<'a>(text: &'a str, _other: &str) -> &'a str {
    text
}

#[traced]
fn question_mark(text: &str) -> Result<u8, std::num::ParseIntError> {
    let n: u8 = text.parse()?;
    Ok(n)
}

#[traced]
fn inner_attribute(n: u32) -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    n
}

struct Counter(u32);

impl Counter {
    #[traced]
    fn get(&self) -> &u32 {
        &self.0
    }

    #[traced]
    fn bump(&mut self) -> &mut u32 {
        self.0 += 1;
        &mut self.0
    }

    #[traced]
    fn consume(self) -> u32 {
        self.0
    }

    #[traced]
    async fn get_async(&self) -> u32 {
        self.0
    }

    #[traced]
    async fn bump_async(&mut self) -> Result<u32, String> {
        self.0 += 1;
        Ok(self.0)
    }
}

trait Load {
    async fn load(&self, id: u64) -> Option<u64>;
}

impl Load for Counter {
    #[traced]
    async fn load(&self, id: u64) -> Option<u64> {
        Some(id + u64::from(self.0))
    }
}

fn main() {
    let mut counter = Counter(1);
    let _ = (plain(1), captured("a", "b"), generic([1, 2], "x"), returns_impl(1).to_string(), borrows("a", "b"));
    let _ = (question_mark("1"), *counter.get(), *counter.bump());
    with_options();
    let _ = counter.get_async();
    let _ = counter.bump_async();
    let _ = counter.load(1);
    let _ = returns_impl_async(1);
    let _ = Counter(3).consume();
    let _ = inner_attribute(1);
}
