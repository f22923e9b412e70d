//! OTLP checked by decoders we did not write, and a collector to send it to.
//!
//! [`decoder`] runs the official `opentelemetry-proto` Python package (PyPI, with `protobuf`) in a long-lived
//! child process: it parses every request, datagram and HTTP body the tests produce and answers what it read as
//! JSON (ids in hex, kinds and status codes by their enum names, attribute values as plain JSON), plus whether the
//! bytes were exactly what `protobuf` itself would serialize (`"roundtrip": true`: no unknown, duplicate or
//! misnumbered field slipped through). The same process signs with botocore's `SigV4Auth`, so a signature can be
//! checked against an independent signer. Both are installed into `target/otlp-venv` on first use;
//! `XRAY_OTLP_PYTHON` names another interpreter that has them.
//!
//! [`Collector`] is an OTLP/HTTP endpoint on 127.0.0.1: it keeps every request (method, path, headers, body) and
//! answers as told: 200, another status, late, or not at all.
//!
//! ```no_run
//! let decoded = xray_tests::otlp::decoder().datagram(b"{\"format\":\"json\",\"version\":1}\nT1S");
//! assert!(decoded["error"].is_string());
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

/// The `opentelemetry-proto` release the harness installs.
pub const OTLP_PROTO_VERSION: &str = "1.39.1";
/// The botocore release the harness installs (its `SigV4Auth` is the reference signer).
pub const BOTOCORE_VERSION: &str = "1.42.1";

/// The interpreter with `opentelemetry-proto` and botocore: `XRAY_OTLP_PYTHON`, else the virtualenv under the target
/// directory, created and filled on first use.
pub fn python() -> io::Result<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| match std::env::var_os("XRAY_OTLP_PYTHON") {
            Some(python) => Ok(PathBuf::from(python)),
            None => crate::venv::python_with(
                "otlp-venv",
                &[&format!("opentelemetry-proto=={OTLP_PROTO_VERSION}"), &format!("botocore=={BOTOCORE_VERSION}")],
                &format!(".otlp-{OTLP_PROTO_VERSION}-botocore-{BOTOCORE_VERSION}"),
            )
            .map_err(|e| e.to_string()),
        })
        .clone()
        .map_err(io::Error::other)
}

/// One request per line in, one JSON answer per line out. A failure to parse is an answer (`{"error": ...}`), not a
/// crash, so a test can assert that bad bytes are refused.
const SCRIPT: &str = r#"
import base64, gzip, json, sys
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2
from google.protobuf import json_format

def value(v):
    which = v.WhichOneof('value')
    if which is None:
        return None
    if which == 'array_value':
        return [value(x) for x in v.array_value.values]
    if which == 'kvlist_value':
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    if which == 'bytes_value':
        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, which)

def attrs(kvs):
    out, seen = {}, []
    for kv in kvs:
        if kv.key in out:
            seen.append(kv.key)
        out[kv.key] = value(kv.value)
    if seen:
        out['__duplicates__'] = seen
    return out

def span(s, resource, scope):
    return {
        'trace_id': s.trace_id.hex(), 'span_id': s.span_id.hex(), 'parent_span_id': s.parent_span_id.hex(),
        'trace_state': s.trace_state, 'flags': s.flags,
        'name': s.name, 'kind': trace_pb2.Span.SpanKind.Name(s.kind),
        'start_time_unix_nano': s.start_time_unix_nano, 'end_time_unix_nano': s.end_time_unix_nano,
        'attributes': attrs(s.attributes), 'dropped_attributes_count': s.dropped_attributes_count,
        'events': [{'name': e.name, 'time_unix_nano': e.time_unix_nano, 'attributes': attrs(e.attributes)}
                   for e in s.events],
        'links': [{'trace_id': l.trace_id.hex(), 'span_id': l.span_id.hex(), 'attributes': attrs(l.attributes),
                   'flags': l.flags} for l in s.links],
        'status': {'code': trace_pb2.Status.StatusCode.Name(s.status.code), 'message': s.status.message},
        'resource': resource, 'scope': scope,
    }

def request(data):
    req = ExportTraceServiceRequest()
    req.ParseFromString(data)
    resources, scopes, spans = [], [], []
    for rs in req.resource_spans:
        resources.append(attrs(rs.resource.attributes))
        for ss in rs.scope_spans:
            scopes.append({'name': ss.scope.name, 'version': ss.scope.version, 'schema_url': ss.schema_url})
            for s in ss.spans:
                spans.append(span(s, len(resources) - 1, len(scopes) - 1))
    return {'roundtrip': req.SerializeToString() == data, 'bytes': len(data),
            'resources': resources, 'scopes': scopes, 'spans': spans}

def datagram(data):
    header, sep, rest = data.partition(b'\n')
    if not sep:
        raise ValueError('no newline after the header line')
    parsed = json.loads(header)
    if parsed != {'format': 'json', 'version': 1}:
        raise ValueError('header line is %r' % (parsed,))
    prefix = rest[:3]
    if prefix not in (b'T1S', b'T1U'):
        raise ValueError('payload starts with %r, not T1S or T1U' % (prefix,))
    body = base64.b64decode(rest[3:], validate=True)
    out = request(body)
    out['prefix'] = prefix.decode()
    out['datagram_bytes'] = len(data)
    return out

def sigv4(q):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    headers = {k.lower(): v for k, v in q['headers']}
    auth_header = headers['authorization']
    signed = auth_header.split('SignedHeaders=')[1].split(',')[0].split(';')
    body = base64.b64decode(q['body'])
    req = AWSRequest(method=q['method'], url=q['url'], data=body,
                     headers={k: headers[k] for k in signed if k != 'x-amz-content-sha256'})
    req.context['timestamp'] = headers['x-amz-date']
    signer = SigV4Auth(Credentials(q['access_key'], q['secret_key'], q.get('token')), q['service'], q['region'])
    canonical = signer.canonical_request(req)
    signature = signer.signature(signer.string_to_sign(req, canonical), req)
    import hashlib
    return {'signature': signature, 'signed_headers': signed, 'canonical_request': canonical,
            'received': auth_header.split('Signature=')[1],
            'credential': auth_header.split('Credential=')[1].split(',')[0],
            'payload_sha256': hashlib.sha256(body).hexdigest(),
            'content_sha256_header': headers.get('x-amz-content-sha256')}

for line in sys.stdin:
    q = json.loads(line)
    try:
        op = q['op']
        if op == 'request':
            out = request(base64.b64decode(q['data']))
        elif op == 'datagram':
            out = datagram(base64.b64decode(q['data']))
        elif op == 'body':
            data = base64.b64decode(q['data'])
            if q.get('encoding') == 'gzip':
                data = gzip.decompress(data)
            out = request(data)
        elif op == 'json_to_protobuf':
            # OTLP/JSON writes ids as hex where protobuf's JSON mapping takes base64.
            def ids(node):
                if isinstance(node, dict):
                    return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                                if k in ('traceId', 'spanId', 'parentSpanId') and isinstance(v, str) else ids(v))
                            for k, v in node.items()}
                if isinstance(node, list):
                    return [ids(x) for x in node]
                return node
            req = json_format.ParseDict(ids(json.loads(q['json'])), ExportTraceServiceRequest())
            out = {'data': base64.b64encode(req.SerializeToString()).decode()}
        elif op == 'sigv4':
            out = sigv4(q)
        else:
            raise ValueError('unknown op %r' % (op,))
    except (DecodeError, ValueError, KeyError, IndexError, OSError, EOFError) as e:
        out = {'error': '%s: %s' % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
"#;

/// The decoding process; see the module docs.
#[derive(Debug)]
pub struct Decoder {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Decoder {
    fn start() -> io::Result<Self> {
        let python = python()?;
        let mut child = Command::new(&python)
            .args(["-u", "-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", python.display())))?;
        let stdin = child.stdin.take().ok_or_else(|| io::Error::other("no stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?);
        Ok(Self { child, stdin, stdout })
    }

    /// Sends one question and reads its answer.
    pub fn ask(&mut self, question: &Value) -> Value {
        let mut line = question.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).expect("the decoder reads");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("the decoder answers");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("decoder answered {answer:?}: {e}"))
    }

    /// Decodes a protobuf `ExportTraceServiceRequest`.
    pub fn request(&mut self, protobuf: &[u8]) -> Value {
        self.ask(&json!({"op": "request", "data": base64(protobuf)}))
    }

    /// Decodes a whole datagram: the header line, `T1S`/`T1U`, the base64 of a request (`"prefix"` says which).
    pub fn datagram(&mut self, datagram: &[u8]) -> Value {
        self.ask(&json!({"op": "datagram", "data": base64(datagram)}))
    }

    /// Decodes an OTLP/HTTP protobuf body, gunzipped first when `Content-Encoding` said `gzip`.
    pub fn body(&mut self, body: &[u8], content_encoding: Option<&str>) -> Value {
        self.ask(&json!({"op": "body", "data": base64(body), "encoding": content_encoding}))
    }

    /// Turns an OTLP/JSON request (ids in hex, as OTLP/JSON writes them) into the protobuf bytes `protobuf` writes
    /// for it (for tests that send OTLP).
    pub fn json_to_protobuf(&mut self, otlp_json: &str) -> Vec<u8> {
        let answer = self.ask(&json!({"op": "json_to_protobuf", "json": otlp_json}));
        let data = answer["data"].as_str().unwrap_or_else(|| panic!("not OTLP/JSON: {answer}"));
        unbase64(data)
    }

    /// What botocore's `SigV4Auth` computes for `request` (over the headers its `Authorization` names, at its
    /// `X-Amz-Date`), beside what the request carries: `"signature"` (botocore's), `"received"` (the request's),
    /// `"canonical_request"`, `"payload_sha256"` and `"content_sha256_header"`.
    pub fn sigv4(&mut self, request: &Received, url: &str, region: &str, keys: (&str, &str, Option<&str>)) -> Value {
        let headers: Vec<[&str; 2]> = request.headers.iter().map(|(k, v)| [k.as_str(), v.as_str()]).collect();
        self.ask(&json!({
            "op": "sigv4", "method": request.method, "url": url, "headers": headers, "body": base64(&request.body),
            "region": region, "service": "xray", "access_key": keys.0, "secret_key": keys.1, "token": keys.2,
        }))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The process's decoder, started on first use.
pub fn decoder() -> MutexGuard<'static, Decoder> {
    static DECODER: OnceLock<Mutex<Decoder>> = OnceLock::new();
    DECODER
        .get_or_init(|| Mutex::new(Decoder::start().expect("the OTLP decoder starts")))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64, for the questions to the decoder (the code under test has its own).
fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64 from the decoder") as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// One request a [`Collector`] received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`, ...
    pub method: String,
    /// The request target, e.g. `/v1/traces`.
    pub path: String,
    /// Every header, names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body as sent (still gzipped when `Content-Encoding: gzip`).
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body decoded by the official package.
    pub fn decoded(&self) -> Value {
        decoder().body(&self.body, self.header("content-encoding"))
    }
}

/// How a [`Collector`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `200 OK` with an empty `ExportTraceServiceResponse`.
    Ok,
    /// This status, with an empty body.
    Status(u16),
    /// Reads the request, then waits this long before answering 200.
    Late(Duration),
    /// Reads the request and never answers (the connection stays open until the collector is dropped).
    Never,
}

/// An OTLP/HTTP endpoint on 127.0.0.1 that keeps what it receives; see the module docs.
#[derive(Debug)]
pub struct Collector {
    addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Collector {
    /// Starts a collector answering `reply`.
    pub fn start(reply: Reply) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let collector =
            Collector { addr, reply: Arc::new(Mutex::new(reply)), received: Arc::default(), stop: Arc::default() };
        let (reply, received, stop) = (collector.reply.clone(), collector.received.clone(), collector.stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (reply, received, stop) = (reply.clone(), received.clone(), stop.clone());
                std::thread::spawn(move || serve(stream, &reply, &received, &stop));
            }
        });
        collector
    }

    /// `http://127.0.0.1:{port}/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// `http://127.0.0.1:{port}`, the base `OTEL_EXPORTER_OTLP_ENDPOINT` takes.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes how the next requests are answered.
    pub fn set_reply(&self, reply: Reply) {
        *self.reply.lock().unwrap_or_else(PoisonError::into_inner) = reply;
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, reply: &Mutex<Reply>, received: &Mutex<Vec<Received>>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream);
    loop {
        let Ok(Some(request)) = read_request(&mut reader) else { return };
        received.lock().unwrap_or_else(PoisonError::into_inner).push(request);
        let answer = *reply.lock().unwrap_or_else(PoisonError::into_inner);
        let status = match answer {
            Reply::Ok => 200,
            Reply::Status(status) => status,
            Reply::Late(delay) => {
                std::thread::sleep(delay);
                200
            }
            Reply::Never => {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
            if status == 200 { "OK" } else { "Error" }
        );
        if reader.get_mut().write_all(head.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Received>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Received { method, path, headers, body }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(super::unbase64(&super::base64(&bytes)), bytes);
        }
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::base64(b"fo"), "Zm8=");
    }
}
