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
        let result = DATAGRAM.with(|buf| {
            let mut buf = buf.try_borrow_mut().map_err(|_| std::io::Error::other("emitter re-entered"))?;
            buf.clear();
            buf.extend_from_slice(DATAGRAM_HEADER);
            buf.extend_from_slice(document);
            socket.send(&buf)
        });
        match result {
            Ok(_) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                diag!(SendFailed, "document of {} bytes not sent to {}: {err}", document.len(), self.target);
            }
        }
    }
}
