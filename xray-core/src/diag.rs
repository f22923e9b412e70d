//! Diagnostics: what went wrong inside the instrumentation, told on stderr and never raised into user code.
//!
//! Each kind is printed for its first occurrences and then every 1024th, so a hot path that keeps failing
//! (a daemon that is down, say) cannot flood the function's logs. The most recent messages are kept for tests.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Declares [`DiagKind`] and counts its variants, so the counters' table always has one slot per kind.
macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// What a diagnostic is about.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DiagKind {
            $($(#[$doc])* $name,)*
        }

        const KINDS: usize = [$(DiagKind::$name),*].len();
    };
}

kinds! {
    /// A trace header could not be parsed.
    MalformedHeader,
    /// An environment variable holds a value that cannot be used.
    BadEnvVar,
    /// Recording was asked for where no trace context exists.
    ContextMissing,
    /// An annotation key or value broke the annotation rules.
    InvalidAnnotation,
    /// A metadata namespace or value was refused.
    InvalidMetadata,
    /// A document was trimmed or split to fit in one datagram.
    Oversize,
    /// A datagram could not be sent.
    SendFailed,
    /// A sampling rules document could not be used.
    BadSamplingRules,
    /// A recording call referred to a subsegment that has already been sent.
    Closed,
    /// A trace carrier could not be put on an outgoing message, or a message's carrier could not be read.
    Carrier,
}

const KEEP: usize = 256;

static COUNTS: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];
static RECENT: Mutex<VecDeque<(DiagKind, String)>> = Mutex::new(VecDeque::new());

impl DiagKind {
    fn index(self) -> usize {
        self as usize
    }
}

/// Reports a diagnostic: counted always, printed to stderr while rare, kept for tests.
pub(crate) fn report(kind: DiagKind, message: fmt::Arguments<'_>) {
    let seen = COUNTS[kind.index()].fetch_add(1, Ordering::Relaxed);
    // Diagnostics quote what they were given (headers, names, keys): control characters are escaped, so that text
    // cannot move the cursor, ring the bell or forge a line in the function's logs.
    let text = escape_controls(&message.to_string());
    if seen < 16 || seen.is_multiple_of(1024) {
        // Not `eprintln!`: it panics when stderr is closed, and a diagnostic must never fail the caller.
        let _ = writeln!(std::io::stderr().lock(), "[xray] {kind:?}: {text}");
    }
    if let Ok(mut recent) = RECENT.lock() {
        if recent.len() == KEEP {
            recent.pop_front();
        }
        recent.push_back((kind, text));
    }
}

/// `text` with every control character written as an escape (`\n`, `\u{1b}`).
pub(crate) fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars().fold(String::with_capacity(text.len() + 8), |mut out, c| {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        out
    })
}

/// How many diagnostics of a kind this process has reported.
pub fn count(kind: DiagKind) -> u64 {
    COUNTS[kind.index()].load(Ordering::Relaxed)
}

/// The most recent diagnostics (up to 256), oldest first.
pub fn recent() -> Vec<(DiagKind, String)> {
    RECENT.lock().map(|r| r.iter().cloned().collect()).unwrap_or_default()
}

macro_rules! diag {
    ($kind:ident, $($arg:tt)*) => {
        $crate::diag::report($crate::diag::DiagKind::$kind, format_args!($($arg)*))
    };
}
pub(crate) use diag;

#[cfg(test)]
mod tests {
    use super::*;

    // Regression (issue 10, point 9): a header holding ESC, BEL, CR or a newline was printed raw on stderr.
    #[test]
    fn control_characters_are_escaped_in_diagnostics() {
        report(DiagKind::MalformedHeader, format_args!("bad `Root=1\x1b[2J\x07\r\nforged`"));
        let (_, text) = recent().into_iter().rev().find(|(k, _)| *k == DiagKind::MalformedHeader).expect("kept");
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.contains("\\u{1b}[2J\\u{7}\\r\\nforged"), "{text:?}");
    }
}
