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
    /// A setting given in code (an ignore-endpoint pattern, say) cannot be used.
    BadConfig,
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

/// Whether a terminal would act on `c` instead of showing it: control characters (C0, DEL, C1 such as U+009B,
/// which starts a terminal sequence), the line separators, bidirectional controls and the byte order mark.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{61c}' | '\u{200e}' | '\u{200f}')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character a terminal would act on written as an escape (`\n`, `\u{1b}`, `\u{202e}`).
pub(crate) fn escape_controls(text: &str) -> String {
    if !text.chars().any(acts_on_terminal) {
        return text.to_owned();
    }
    text.chars().fold(String::with_capacity(text.len() + 8), |mut out, c| {
        if acts_on_terminal(c) {
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

    #[test]
    fn c1_bidi_controls_and_the_bom_are_escaped_in_diagnostics() {
        // Guards issue 18 point 20: U+009B was escaped but bidi controls and the BOM reached stderr raw.
        report(DiagKind::BadEnvVar, format_args!("bad `a\u{9b}b\u{202e}c\u{2066}d\u{feff}e`"));
        let (_, text) = recent().into_iter().rev().find(|(k, _)| *k == DiagKind::BadEnvVar).expect("kept");
        assert!(!text.chars().any(acts_on_terminal), "{text:?}");
        assert!(text.contains("a\\u{9b}b\\u{202e}c\\u{2066}d\\u{feff}e"), "{text:?}");
    }
}
