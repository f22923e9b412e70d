//! Reading an `ExportTraceServiceRequest`: from the base64 text of a `T1S`/`T1U` datagram, or from the body of an
//! OTLP/HTTP request (binary protobuf or OTLP/JSON, gzip-compressed or not).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// The most bytes a request body may take once decompressed: X-Ray's endpoint takes 5 MB, with room to spare, so a
/// small gzip bomb cannot take the daemon's memory.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON: hex ids, integers for enums, 64-bit integers as strings or numbers).
    Json,
}

/// The request carried by a datagram's payload after its `T1S`/`T1U` prefix: standard base64 (padded) of the
/// binary protobuf.
pub fn datagram(base64: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let text = base64.trim_ascii();
    let bytes = STANDARD.decode(text).map_err(|e| format!("OTLP datagram: the payload is not base64: {e}"))?;
    ExportTraceServiceRequest::decode(bytes.as_slice())
        .map_err(|e| format!("OTLP datagram: not a protobuf ExportTraceServiceRequest: {e}"))
}

/// The request in an OTLP/HTTP body.
pub fn body(body: &[u8], encoding: Encoding, gzip: bool) -> Result<ExportTraceServiceRequest, String> {
    let inflated;
    let bytes = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("the body is not gzip: {e}"))?;
        if out.len() > MAX_BODY_BYTES {
            return Err(format!("the body is larger than {MAX_BODY_BYTES} bytes once decompressed"));
        }
        inflated = out;
        inflated.as_slice()
    } else {
        body
    };
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes)
            .map_err(|e| format!("not a protobuf ExportTraceServiceRequest: {e}")),
        Encoding::Json => {
            serde_json::from_slice(bytes).map_err(|e| format!("not an OTLP/JSON ExportTraceServiceRequest: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request() -> ExportTraceServiceRequest {
        let span = Span { trace_id: vec![7; 16], span_id: vec![9; 8], name: "job".into(), ..Default::default() };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn reads_base64_protobuf_and_gzip() {
        let bytes = request().encode_to_vec();
        assert_eq!(datagram(STANDARD.encode(&bytes).as_bytes()), Ok(request()));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &bytes).expect("in memory");
        assert_eq!(body(&gz.finish().expect("in memory"), Encoding::Protobuf, true), Ok(request()));
    }

    #[test]
    fn reads_otlp_json_with_hex_ids() {
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"07070707070707070707070707070707",
            "spanId":"0909090909090909","name":"job","kind":2,"startTimeUnixNano":"1000"}]}]}]}"#;
        let request = body(json, Encoding::Json, false).expect("OTLP/JSON");
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!((span.span_id.as_slice(), span.kind, span.start_time_unix_nano), (&[9u8; 8][..], 2, 1000));
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        assert!(datagram(b"!!!").expect_err("not base64").contains("not base64"));
        assert!(datagram(STANDARD.encode([0xff, 0xff, 0xff]).as_bytes()).expect_err("junk").contains("protobuf"));
        assert!(body(b"plain", Encoding::Protobuf, true).expect_err("not gzip").contains("gzip"));
        assert!(body(b"{", Encoding::Json, false).expect_err("bad JSON").contains("OTLP/JSON"));
    }
}
