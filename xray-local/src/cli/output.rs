//! What the subcommands share in writing their output: `--color` and stdout.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;

use crate::render::Color;

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The colouring `choice` asks for here.
pub(crate) fn color(choice: ColorChoice) -> Color {
    match choice {
        ColorChoice::Always => Color::Always,
        ColorChoice::Never => Color::Never,
        ColorChoice::Auto if std::io::stdout().is_terminal() => Color::Always,
        ColorChoice::Auto => Color::Never,
    }
}

/// Writes `text` to stdout at once (a closed pipe is no error).
pub(crate) fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
