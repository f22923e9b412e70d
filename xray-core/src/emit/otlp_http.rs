//! OTLP/HTTP: each request POSTed as protobuf (`application/x-protobuf`) to the traces endpoint from a background
//! thread, so that sending never blocks the traced code. What is waiting is bounded ([`MAX_QUEUED_BYTES`]: beyond
//! it requests are dropped, counted, with a diagnostic); [`Emitter::flush`] waits for the queue to drain for at most
//! the time it is given (in Lambda: the export timeout, once per invocation), then gives up with one diagnostic and
//! lets the handler's result go back. A collector that is down, slow or answers an error costs that and a
//! diagnostic, never an error in the traced code. No retries: a failed request is dropped and counted.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::{EmitStats, Emitter};
use crate::config::{OtlpSettings, TracesExporter};
use crate::diag::diag;

/// The most request bytes waiting to be sent; a request beyond it is dropped.
pub(crate) const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;

/// The largest request handed over: a batch of spans up to 1 MiB (X-Ray's OTLP endpoint takes 5 MB).
const MAX_REQUEST: usize = 1024 * 1024;

/// The OTLP/HTTP emitter of `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (or `OTEL_EXPORTER_OTLP_ENDPOINT`), when
/// `OTEL_TRACES_EXPORTER=otlp`.
pub(super) fn configured() -> Option<&'static Arc<OtlpHttpEmitter>> {
    static CONFIGURED: OnceLock<Option<Arc<OtlpHttpEmitter>>> = OnceLock::new();
    CONFIGURED
        .get_or_init(|| {
            let config = crate::config::get();
            if config.traces_exporter != TracesExporter::Otlp {
                return None;
            }
            config.otlp.endpoint.as_ref().map(|_| Arc::new(OtlpHttpEmitter::new(config.otlp.clone())))
        })
        .as_ref()
}

/// Sends OTLP requests to a collector over HTTP; see the module docs.
pub struct OtlpHttpEmitter {
    shared: Arc<Shared>,
}

struct Shared {
    settings: OtlpSettings,
    target: Result<Target, String>,
    state: Mutex<State>,
    /// Wakes the sender: a request is waiting.
    work: Condvar,
    /// Wakes those flushing: the queue may have drained.
    idle: Condvar,
    sent: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    /// A request is being sent.
    busy: bool,
    /// Whether the sending thread runs.
    started: bool,
}

/// Where requests go, read off the endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) https: bool,
    host: String,
    port: u16,
    /// The `Host` header: the host, and the port when it is not the scheme's.
    pub(super) authority: String,
    pub(super) path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("`{url}` is not an http:// or https:// URL"));
        };
        let (authority, path) = rest.find('/').map_or((rest, "/"), |at| (&rest[..at], &rest[at..]));
        let default_port = if https { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port = port.parse().map_err(|_| format!("`{url}` has a bad port"))?;
                (host, port)
            }
            _ => (authority, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("`{url}` names no host"));
        }
        Ok(Self { https, host: host.to_owned(), port, authority: authority.to_owned(), path: path.to_owned() })
    }
}

impl fmt::Debug for OtlpHttpEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpHttpEmitter")
            .field("endpoint", &self.shared.settings.endpoint)
            .field("stats", &self.stats())
            .finish()
    }
}

impl OtlpHttpEmitter {
    /// An emitter for `settings` (its `endpoint`; without one every request is dropped with a diagnostic). The
    /// sending thread starts with the first request.
    pub fn new(settings: OtlpSettings) -> Self {
        let target = match &settings.endpoint {
            Some(url) => Target::parse(url),
            None => Err("no OTLP endpoint is set".to_owned()),
        };
        let target = target.and_then(|t| {
            if t.https && !cfg!(feature = "otlp-https") {
                return Err(format!(
                    "{} is https, and xray-core was built without its `otlp-https` feature",
                    settings.endpoint.as_deref().unwrap_or_default()
                ));
            }
            Ok(t)
        });
        if let Err(why) = &target {
            diag!(SendFailed, "OTLP/HTTP exporter cannot send: {why}; spans will be dropped");
        }
        Self {
            shared: Arc::new(Shared {
                settings,
                target,
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                idle: Condvar::new(),
                sent: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// Requests answered 2xx, and requests dropped (queue full, collector unreachable or answering an error).
    pub fn stats(&self) -> EmitStats {
        EmitStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
        }
    }

    fn start(&self, state: &mut State) -> bool {
        if state.started {
            return true;
        }
        let shared = Arc::clone(&self.shared);
        match std::thread::Builder::new().name("xray-otlp-http".into()).spawn(move || shared.run()) {
            Ok(_) => {
                state.started = true;
                true
            }
            Err(err) => {
                diag!(SendFailed, "cannot start the OTLP/HTTP sending thread: {err}; spans are dropped");
                false
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        let mut connection: Option<Box<dyn Stream>> = None;
        loop {
            let request = {
                let mut state = self.lock();
                state.busy = false;
                self.idle.notify_all();
                loop {
                    if let Some(request) = state.queue.pop_front() {
                        state.queued_bytes -= request.len();
                        state.busy = true;
                        break request;
                    }
                    state = self.work.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
            };
            match self.post(&mut connection, &request) {
                Ok(()) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(why) => {
                    connection = None;
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    let url = self.settings.endpoint.as_deref().unwrap_or_default();
                    diag!(SendFailed, "OTLP request of {} bytes to {url} dropped: {why}", request.len());
                }
            }
        }
    }

    /// POSTs one request, on the open connection if there is one, within the export timeout.
    fn post(&self, connection: &mut Option<Box<dyn Stream>>, request: &[u8]) -> Result<(), String> {
        let target = self.target.as_ref().map_err(Clone::clone)?;
        let deadline = Instant::now() + self.settings.timeout;
        let compressed;
        let body = if self.settings.gzip {
            compressed = gzip(request).map_err(|e| format!("gzip: {e}"))?;
            &compressed[..]
        } else {
            request
        };
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), target.authority.clone()),
            ("Content-Type".into(), "application/x-protobuf".into()),
            ("User-Agent".into(), concat!("xray-rs/", env!("CARGO_PKG_VERSION")).into()),
        ];
        if self.settings.gzip {
            headers.push(("Content-Encoding".into(), "gzip".into()));
        }
        for (k, v) in &self.settings.headers {
            headers.push((k.clone(), v.clone()));
        }
        #[cfg(feature = "otlp-sigv4")]
        super::sigv4::sign(&self.settings, target, &mut headers, body)?;
        let mut head = format!("POST {} HTTP/1.1\r\n", target.path);
        for (k, v) in &headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        // A kept connection may have been closed by the collector since: one fresh attempt then.
        for attempt in 0..2 {
            let reused = connection.is_some();
            let stream = match connection {
                Some(stream) => stream,
                None => connection.insert(connect(target, deadline)?),
            };
            match exchange(stream.as_mut(), head.as_bytes(), body, deadline) {
                Ok((status, keep)) => {
                    if !keep {
                        *connection = None;
                    }
                    return if (200..300).contains(&status) {
                        Ok(())
                    } else {
                        Err(format!("the collector answered {status}"))
                    };
                }
                Err(err) if reused && attempt == 0 && Instant::now() < deadline => {
                    let _ = err;
                    *connection = None;
                }
                Err(err) => return Err(err.to_string()),
            }
        }
        Err("the collector closed the connection".into())
    }
}

/// A connection to the collector: plain TCP, or TLS over it.
pub(super) trait Stream: Read + Write + Send {
    /// Sets the socket's read and write timeouts.
    fn set_timeouts(&mut self, timeout: Duration) -> io::Result<()>;
}

impl Stream for TcpStream {
    fn set_timeouts(&mut self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "export timeout"))
}

fn connect(target: &Target, deadline: Instant) -> Result<Box<dyn Stream>, String> {
    let addrs: Vec<_> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .collect();
    let mut last = format!("{} resolves to no address", target.host);
    for addr in addrs {
        let timeout = remaining(deadline).map_err(|e| e.to_string())?;
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                if target.https {
                    #[cfg(feature = "otlp-https")]
                    return super::tls::connect(stream, &target.host);
                }
                return Ok(Box::new(stream));
            }
            Err(err) => last = format!("cannot connect to {addr}: {err}"),
        }
    }
    Err(last)
}

/// Writes the request and reads the response's status; whether the connection can be kept.
fn exchange(stream: &mut dyn Stream, head: &[u8], body: &[u8], deadline: Instant) -> io::Result<(u16, bool)> {
    stream.set_timeouts(remaining(deadline)?)?;
    stream.write_all(head)?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the collector closed the connection"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))?;
    let (mut length, mut chunked, mut keep) = (None, false, true);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "response cut short"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<u64>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => keep &= !value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    // The body (an `ExportTraceServiceResponse`, or an error's) is read and dropped, bounded.
    const MAX_BODY: u64 = 64 * 1024;
    if chunked {
        let mut total = 0u64;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk"))?;
            total += size;
            if total > MAX_BODY {
                return Ok((status, false));
            }
            io::copy(&mut (&mut reader).take(size + 2), &mut io::sink())?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = length {
        if length > MAX_BODY {
            return Ok((status, false));
        }
        io::copy(&mut (&mut reader).take(length), &mut io::sink())?;
    } else {
        keep = false;
    }
    // Bytes read past the response would be lost with the reader: keep the connection only if there are none.
    keep &= reader.buffer().is_empty();
    Ok((status, keep))
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3), flate2::Compression::fast());
    encoder.write_all(data)?;
    encoder.finish()
}

impl Emitter for OtlpHttpEmitter {
    /// Segment documents do not travel over OTLP: they go to the daemon.
    fn send(&self, document: &[u8]) {
        super::daemon().send(document);
    }

    fn send_spans(&self, request: &[u8], sampled: bool) {
        // Unsampled spans are for Application Signals through Lambda's UDP endpoint only: a collector would show
        // them as traces.
        if !sampled {
            return;
        }
        if self.shared.target.is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut state = self.shared.lock();
        if state.queued_bytes + request.len() > MAX_QUEUED_BYTES {
            drop(state);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            diag!(
                SendFailed,
                "OTLP request of {} bytes dropped: {MAX_QUEUED_BYTES} bytes are already waiting for the collector",
                request.len()
            );
            return;
        }
        if !self.start(&mut state) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.queued_bytes += request.len();
        state.queue.push_back(request.to_vec());
        self.shared.work.notify_one();
    }

    fn max_spans_request(&self) -> usize {
        MAX_REQUEST
    }

    fn flush(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let mut state = self.shared.lock();
        while !state.queue.is_empty() || state.busy {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                let waiting = state.queue.len() + usize::from(state.busy);
                drop(state);
                diag!(
                    SendFailed,
                    "the OTLP collector at {} did not take {waiting} request(s) within {} ms; going on without \
                     waiting (they are sent in the background, or dropped when the queue is full)",
                    self.shared.settings.endpoint.as_deref().unwrap_or_default(),
                    within.as_millis()
                );
                return;
            };
            state = self.shared.idle.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_read() {
        let t = Target::parse("http://127.0.0.1:4318/v1/traces").expect("valid");
        assert_eq!((t.host.as_str(), t.port, t.path.as_str(), t.https), ("127.0.0.1", 4318, "/v1/traces", false));
        let t = Target::parse("https://xray.eu-west-1.amazonaws.com/v1/traces").expect("valid");
        assert_eq!((t.port, t.authority.as_str()), (443, "xray.eu-west-1.amazonaws.com"));
        let t = Target::parse("http://[::1]:9/x").expect("valid");
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://:80/").is_err());
        assert!(Target::parse("http://h:notaport/").is_err());
    }
}
