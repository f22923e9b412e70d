//! The UDP emitter: each document framed as one datagram (the header line, a newline, the document) and sent to the
//! daemon on a non-blocking socket.

use std::cell::RefCell;
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{EmitStats, Emitter};
use crate::diag::diag;
use crate::rules::DATAGRAM_HEADER;

/// Sends documents to the daemon over UDP.
pub struct UdpEmitter {
    socket: Option<UdpSocket>,
    target: SocketAddr,
    sent: AtomicU64,
    dropped: AtomicU64,
}

impl fmt::Debug for UdpEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpEmitter").field("target", &self.target).field("stats", &self.stats()).finish()
    }
}

impl UdpEmitter {
    /// An emitter sending to `target`. If no socket can be opened, every send is counted as dropped.
    pub fn new(target: SocketAddr) -> Self {
        let local: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = UdpSocket::bind(local)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(|s| s.connect(target).map(|()| s));
        let socket = match socket {
            Ok(s) => Some(s),
            Err(err) => {
                diag!(
                    SendFailed,
                    "cannot open a UDP socket to the daemon at {target}: {err}; documents will be dropped"
                );
                None
            }
        };
        Self { socket, target, sent: AtomicU64::new(0), dropped: AtomicU64::new(0) }
    }

    /// Where documents go.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// What has been sent and dropped so far.
    pub fn stats(&self) -> EmitStats {
        EmitStats { sent: self.sent.load(Ordering::Relaxed), dropped: self.dropped.load(Ordering::Relaxed) }
    }
}

thread_local! {
    static DATAGRAM: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Emitter for UdpEmitter {
    fn send(&self, document: &[u8]) {
        let Some(socket) = &self.socket else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match send_framed(socket, document) {
            Ok(_) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                diag!(SendFailed, "document of {} bytes not sent to {}: {err}", document.len(), self.target);
            }
        }
    }

    #[cfg(feature = "otlp")]
    fn send_spans(&self, request: &[u8], sampled: bool) {
        self.send_spans_framed(request, sampled);
    }
}

/// The largest OTLP request one datagram carries: the header line, `T1S` and the request's padded base64 fit
/// [`crate::rules::MAX_DATAGRAM_BYTES`].
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub const MAX_UDP_SPANS_REQUEST: usize =
    (crate::rules::MAX_DATAGRAM_BYTES - DATAGRAM_HEADER.len() - SPANS_PREFIX_LEN) / 4 * 3;

/// `T1S` (spans of a sampled trace) or `T1U` (unsampled, for Application Signals), as ADOT's UDP exporter writes.
#[cfg(feature = "otlp")]
const SPANS_PREFIX_LEN: usize = 3;

#[cfg(feature = "otlp")]
impl UdpEmitter {
    /// Sends an OTLP request framed as Lambda's endpoint takes it: the header line, `T1S`/`T1U`, the request's
    /// padded standard base64.
    fn send_spans_framed(&self, request: &[u8], sampled: bool) {
        let Some(socket) = &self.socket else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let sent = DATAGRAM.with(|buf| {
            let mut buf = buf.try_borrow_mut().map_err(|_| std::io::Error::other("emitter re-entered"))?;
            buf.clear();
            buf.extend_from_slice(DATAGRAM_HEADER);
            buf.extend_from_slice(if sampled { b"T1S" } else { b"T1U" });
            base64(&mut buf, request);
            socket.send(&buf)
        });
        match sent {
            Ok(_) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                diag!(SendFailed, "OTLP request of {} bytes not sent to {}: {err}", request.len(), self.target);
            }
        }
    }
}

/// Appends the padded standard base64 of `data` to `out`.
#[cfg(feature = "otlp")]
pub(crate) fn base64(out: &mut Vec<u8>, data: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(data.len().div_ceil(3) * 4);
    let mut chunks = data.chunks_exact(3);
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[ALPHABET[(n >> 18) as usize & 63], ALPHABET[(n >> 12) as usize & 63], b'=', b'=']);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                ALPHABET[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

/// Sends `document` framed as a datagram on `socket`, through this thread's datagram buffer.
fn send_framed(socket: &UdpSocket, document: &[u8]) -> std::io::Result<usize> {
    DATAGRAM.with(|buf| {
        let mut buf = buf.try_borrow_mut().map_err(|_| std::io::Error::other("emitter re-entered"))?;
        buf.clear();
        buf.extend_from_slice(DATAGRAM_HEADER);
        buf.extend_from_slice(document);
        socket.send(&buf)
    })
}

/// Sends one document-sized datagram from a throwaway loopback socket to itself, so that the first document sent
/// to the daemon does not pay for the first send of the process (about 20 us: the send path's first run, in the
/// process and in the kernel) and finds this thread's datagram buffer allocated. Nothing leaves the process.
pub(crate) fn warm_up() {
    let Ok(socket) = UdpSocket::bind(("127.0.0.1", 0)) else { return };
    // Non-blocking: this must never wait, whatever the socket's state.
    if socket.set_nonblocking(true).is_ok()
        && let Ok(me) = socket.local_addr()
        && socket.connect(me).is_ok()
    {
        let _ = send_framed(&socket, &[b' '; 1024]);
    }
}

#[cfg(all(test, feature = "otlp"))]
mod tests {
    #[test]
    fn base64_is_standard_and_padded() {
        for (data, text) in
            [(&b""[..], ""), (b"f", "Zg=="), (b"fo", "Zm8="), (b"foo", "Zm9v"), (b"\xff\xfe\xfd\x00", "//79AA==")]
        {
            let mut out = Vec::new();
            super::base64(&mut out, data);
            assert_eq!(String::from_utf8(out).expect("ascii"), text);
        }
    }

    #[test]
    fn a_full_request_fits_a_datagram() {
        let len = super::MAX_UDP_SPANS_REQUEST;
        let datagram = super::DATAGRAM_HEADER.len() + 3 + len.div_ceil(3) * 4;
        assert!(datagram <= crate::rules::MAX_DATAGRAM_BYTES, "{datagram}");
        assert!(datagram + 4 > crate::rules::MAX_DATAGRAM_BYTES - 4, "{datagram}: room left unused");
    }
}
