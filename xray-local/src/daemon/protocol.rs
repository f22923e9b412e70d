//! The daemon's datagram format: a header line, a newline, then one JSON segment document, or (as ADOT's UDP
//! exporter sends and Lambda's endpoint takes) `T1S` or `T1U` and the base64 of a protobuf
//! `ExportTraceServiceRequest`: the spans of sampled traces, or unsampled spans (for Application Signals).

use std::fmt;

/// The largest document that fits one datagram with its header line; anything bigger is refused. The same rule the
/// emitter keeps when it splits documents.
pub use xray_core::rules::MAX_DOCUMENT_BYTES;

/// Why a datagram could not be read as a header line and a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The datagram has no newline, so there is no header line.
    NoHeaderLine,
    /// The header line is not `{"format":"json","version":1}`.
    WrongHeader(String),
    /// Nothing follows the header line.
    EmptyDocument,
    /// The document is larger than [`MAX_DOCUMENT_BYTES`].
    TooLarge(usize),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHeaderLine => f.write_str(
                "no header line: a datagram must start with {\"format\":\"json\",\"version\":1} and a newline",
            ),
            Self::WrongHeader(line) => {
                write!(f, "wrong header line {line}: expected {{\"format\":\"json\",\"version\":1}}")
            }
            Self::EmptyDocument => f.write_str("no document after the header line"),
            Self::TooLarge(n) => {
                write!(f, "document of {n} bytes is larger than the {MAX_DOCUMENT_BYTES} bytes allowed")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// What a datagram carries after its header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// A segment document (JSON), checked to fit [`MAX_DOCUMENT_BYTES`].
    Document(&'a [u8]),
    /// OTLP spans: the base64 text after the prefix.
    Spans {
        /// `T1S` (spans of sampled traces) rather than `T1U` (unsampled spans).
        sampled: bool,
        /// The base64 of the protobuf.
        base64: &'a [u8],
    },
    /// OTLP metrics (`M1`), which ADOT sends to the same port; not traces.
    Metrics,
}

/// Splits a datagram into what it carries, checking the header line (any spacing, as Java's exporter writes it).
pub fn frame(datagram: &[u8]) -> Result<Payload<'_>, FrameError> {
    let newline = datagram.iter().position(|&b| b == b'\n').ok_or(FrameError::NoHeaderLine)?;
    let rest = &datagram[newline + 1..];
    for (prefix, sampled) in [(b"T1S", true), (b"T1U", false)] {
        if let Some(base64) = rest.strip_prefix(prefix) {
            check_header(&datagram[..newline])?;
            return Ok(Payload::Spans { sampled, base64 });
        }
    }
    if rest.starts_with(b"M1") {
        check_header(&datagram[..newline])?;
        return Ok(Payload::Metrics);
    }
    split_datagram(datagram).map(Payload::Document)
}

fn check_header(line: &[u8]) -> Result<(), FrameError> {
    if is_header(line) { Ok(()) } else { Err(FrameError::WrongHeader(shorten(line, 80))) }
}

/// Splits a datagram into its document, checking the header line. Spacing inside the header is free.
pub fn split_datagram(datagram: &[u8]) -> Result<&[u8], FrameError> {
    let newline = datagram.iter().position(|&b| b == b'\n').ok_or(FrameError::NoHeaderLine)?;
    let (line, document) = (&datagram[..newline], &datagram[newline + 1..]);
    if !is_header(line) {
        return Err(FrameError::WrongHeader(shorten(line, 80)));
    }
    if document.iter().all(u8::is_ascii_whitespace) {
        return Err(FrameError::EmptyDocument);
    }
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(FrameError::TooLarge(document.len()));
    }
    Ok(document)
}

/// Whether `line` is the JSON object `{"format":"json","version":1}` (any spacing, any key order).
fn is_header(line: &[u8]) -> bool {
    // The exact bytes every SDK sends take the fast path; anything else is parsed.
    if line == b"{\"format\":\"json\",\"version\":1}" {
        return true;
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Header {
        format: String,
        version: u64,
    }
    matches!(serde_json::from_slice::<Header>(line), Ok(h) if h.format == "json" && h.version == 1)
}

/// At most `max` characters of `bytes`, lossily decoded, for messages about bad input.
pub fn shorten(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(max).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_header_with_any_spacing() {
        assert_eq!(split_datagram(b"{\"format\":\"json\",\"version\":1}\n{}"), Ok(&b"{}"[..]));
        assert_eq!(split_datagram(b"{ \"version\" : 1, \"format\": \"json\" }\n{\"a\":1}"), Ok(&b"{\"a\":1}"[..]));
    }

    #[test]
    fn tells_otlp_spans_from_documents() {
        assert_eq!(
            frame(b"{\"format\":\"json\",\"version\":1}\nT1SCgA="),
            Ok(Payload::Spans { sampled: true, base64: b"CgA=" })
        );
        // Java's exporter writes the header with spaces.
        assert_eq!(
            frame(b"{\"format\": \"json\", \"version\": 1}\nT1UCgA="),
            Ok(Payload::Spans { sampled: false, base64: b"CgA=" })
        );
        assert_eq!(frame(b"{\"format\":\"json\",\"version\":1}\nM1AAAA"), Ok(Payload::Metrics));
        assert_eq!(frame(b"{\"format\":\"json\",\"version\":1}\n{}"), Ok(Payload::Document(b"{}")));
        assert!(matches!(frame(b"{\"format\":\"xml\",\"version\":1}\nT1SCgA="), Err(FrameError::WrongHeader(_))));
        assert_eq!(frame(b"T1SCgA="), Err(FrameError::NoHeaderLine));
    }

    #[test]
    fn refuses_bad_frames_with_a_reason() {
        assert_eq!(split_datagram(b"{\"name\":\"x\"}"), Err(FrameError::NoHeaderLine));
        assert_eq!(
            split_datagram(b"{\"format\":\"xml\",\"version\":1}\n{}"),
            Err(FrameError::WrongHeader("\"{\\\"format\\\":\\\"xml\\\",\\\"version\\\":1}\"".into()))
        );
        assert_eq!(split_datagram(b"{\"format\":\"json\",\"version\":1}\n \n"), Err(FrameError::EmptyDocument));
        // Regression (issue 9): the emitter and this check disagreed (63,970 vs 64,000 bytes).
        let fits = [b"{\"format\":\"json\",\"version\":1}\n".as_slice(), &vec![b' '; 63_968], b"{}"].concat();
        assert_eq!(fits.len(), 64_000);
        assert!(split_datagram(&fits).is_ok());
        let big = [b"{\"format\":\"json\",\"version\":1}\n".as_slice(), &vec![b' '; 63_969], b"{}"].concat();
        assert_eq!(split_datagram(&big), Err(FrameError::TooLarge(63_971)));
        assert_eq!(
            FrameError::TooLarge(63_971).to_string(),
            "document of 63971 bytes is larger than the 63970 bytes allowed"
        );
    }
}
