//! The UDP emitter: each document framed as one datagram (the header line, a newline, the document) and sent to the
//! daemon on a non-blocking socket.

use std::cell::RefCell;
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{Documents, EmitStats, Emitter};
use crate::diag::diag;
use crate::rules::DATAGRAM_HEADER;

/// Sends documents to the daemon over UDP.
pub struct UdpEmitter {
    socket: Option<UdpSocket>,
    target: SocketAddr,
    sent: AtomicU64,
    dropped: AtomicU64,
    /// Whether [`Emitter::send_all`] sends many datagrams per system call (`sendmmsg`); off for good once the
    /// kernel says it has no such call, and each document is then sent on its own.
    batching: AtomicBool,
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
        Self {
            socket,
            target,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            batching: AtomicBool::new(cfg!(target_os = "linux")),
        }
    }

    /// The same emitter sending every document of a batch with a system call of its own: the fallback where
    /// `sendmmsg` is missing, forced (for tests and comparisons).
    #[doc(hidden)]
    pub fn one_send_per_document(self) -> Self {
        self.batching.store(false, Ordering::Relaxed);
        self
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

impl UdpEmitter {
    /// Counts a send as sent or dropped, a dropped one with a diagnostic naming `what` of `len` bytes.
    fn count(&self, sent: std::io::Result<usize>, what: &str, len: usize) {
        match sent {
            Ok(_) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                diag!(SendFailed, "{what} of {len} bytes not sent to {}: {err}", self.target);
            }
        }
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
        let sent = send_framed(socket, document);
        self.count(sent, "document", document.len());
    }

    fn send_all(&self, documents: Documents<'_>) {
        #[cfg(target_os = "linux")]
        if let Some(socket) = &self.socket
            && self.batching.load(Ordering::Relaxed)
        {
            self.send_batched(socket, documents);
            return;
        }
        for document in documents.iter() {
            self.send(document);
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
        self.count(sent, "OTLP request", request.len());
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

/// How many datagrams one `sendmmsg` call takes at most.
#[cfg(target_os = "linux")]
const PER_CALL: usize = 32;

#[cfg(target_os = "linux")]
impl UdpEmitter {
    /// Sends `documents` [`PER_CALL`] datagrams per system call, each framed with the header line as its first
    /// part (nothing is copied).
    /// A document the kernel refuses is counted as dropped with its error, as a refused send is, and the rest go
    /// on; a kernel without `sendmmsg` turns batching off and the documents go one `send` each.
    fn send_batched(&self, socket: &UdpSocket, documents: Documents<'_>) {
        use std::os::fd::AsRawFd;
        let mut documents = documents.iter();
        loop {
            let mut chunk: [&[u8]; PER_CALL] = [&[]; PER_CALL];
            let n = chunk.iter_mut().zip(&mut documents).map(|(slot, document)| *slot = document).count();
            if n == 0 {
                return;
            }
            let part =
                |bytes: &[u8]| libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
            let mut parts = [part(&[]); 2 * PER_CALL];
            for (i, document) in chunk[..n].iter().enumerate() {
                parts[2 * i] = part(DATAGRAM_HEADER);
                parts[2 * i + 1] = part(document);
            }
            // SAFETY: an all-zero `mmsghdr` is valid: null pointers with zero lengths, no flags.
            let mut messages: [libc::mmsghdr; PER_CALL] = unsafe { std::mem::zeroed() };
            for (i, message) in messages[..n].iter_mut().enumerate() {
                message.msg_hdr.msg_iov = parts[2 * i..].as_mut_ptr();
                message.msg_hdr.msg_iovlen = 2;
            }
            let mut done = 0;
            while done < n {
                // SAFETY: `messages[done..n]` are initialised headers on a connected socket (no address), each
                // pointing at two `iovec`s of `parts` that point at live, readable bytes; the kernel only reads
                // them and writes `msg_len`.
                let sent = unsafe {
                    libc::sendmmsg(socket.as_raw_fd(), messages[done..].as_mut_ptr(), (n - done) as libc::c_uint, 0)
                };
                if sent > 0 {
                    self.sent.fetch_add(sent as u64, Ordering::Relaxed);
                    done += sent as usize;
                    continue;
                }
                // The first document of the rest was not taken: counted and told as a failed send is; without
                // `sendmmsg` at all, sent on its own, as every later one will be.
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::ENOSYS) {
                    self.batching.store(false, Ordering::Relaxed);
                    self.send(chunk[done]);
                } else {
                    self.count(Err(err), "document", chunk[done].len());
                }
                done += 1;
            }
        }
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

#[cfg(test)]
mod batch_tests {
    use std::net::UdpSocket;
    use std::time::Duration;

    use super::UdpEmitter;
    use crate::emit::{Documents, Emitter};
    use crate::rules::DATAGRAM_HEADER;

    /// `count` documents of different lengths (one of 60,000 bytes) sent with `send_all` by `emitter` (made for the
    /// receiver's address) arrive as one datagram each, framed, in order.
    fn sent_in_order(count: usize, emitter: impl FnOnce(std::net::SocketAddr) -> UdpEmitter) {
        let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
        receiver.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let emitter = emitter(receiver.local_addr().expect("addr"));
        let (mut bytes, mut ends) = (Vec::new(), Vec::new());
        for i in 0..count {
            let len = if i == 3 { 60_000 } else { 20 + i };
            bytes.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, len));
            ends.push(bytes.len());
        }
        emitter.send_all(Documents::new(&bytes, &ends));
        let mut buf = vec![0u8; 65_536];
        for (i, document) in Documents::new(&bytes, &ends).iter().enumerate() {
            let n = receiver.recv(&mut buf).unwrap_or_else(|e| panic!("datagram {i}: {e}"));
            assert_eq!(&buf[..DATAGRAM_HEADER.len()], DATAGRAM_HEADER, "datagram {i}");
            assert!(&buf[DATAGRAM_HEADER.len()..n] == document, "datagram {i}: {} bytes", n);
        }
        assert_eq!((emitter.stats().sent, emitter.stats().dropped), (count as u64, 0));
    }

    #[test]
    fn a_batch_goes_out_many_datagrams_per_system_call_each_framed_and_in_order() {
        sent_in_order(75, UdpEmitter::new);
    }

    #[test]
    fn without_sendmmsg_a_batch_goes_out_one_send_per_document() {
        sent_in_order(75, |addr| UdpEmitter::new(addr).one_send_per_document());
    }

    #[test]
    fn a_batch_to_a_closed_port_is_counted_as_dropped_not_returned() {
        let port = UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let emitter = UdpEmitter::new(port);
        let (bytes, ends) = (vec![b'x'; 100], vec![10, 20, 30, 100]);
        // The port is closed: the kernel may refuse the sends after the first (connection refused); each is counted.
        for _ in 0..3 {
            emitter.send_all(Documents::new(&bytes, &ends));
        }
        let stats = emitter.stats();
        assert_eq!(stats.sent + stats.dropped, 12, "{stats:?}");
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
