//! `xray-local lambda`: its options ([`crate::lambda::Args`]) and the emulator live in [`crate::lambda`]; this
//! runs it.

/// Runs the Lambda emulator until Ctrl-C or SIGTERM; the error is the message to print.
pub fn run(args: crate::lambda::Args) -> Result<(), String> {
    crate::lambda::run(args)
}
