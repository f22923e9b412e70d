//! A stand-in for the daemon in tests: a UDP socket on a loopback port that checks and parses what arrives.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::emit::DATAGRAM_HEADER;

/// What went wrong receiving a datagram.
#[derive(Debug)]
pub enum CollectError {
    /// Nothing arrived in time.
    Timeout,
    /// The datagram did not start with the daemon's header line.
    BadHeader(String),
    /// The document was not JSON.
    BadJson(String),
    /// The socket failed.
    Io(io::Error),
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("no datagram arrived in time"),
            Self::BadHeader(h) => write!(f, "datagram does not start with the daemon header line: {h:?}"),
            Self::BadJson(e) => write!(f, "document is not JSON: {e}"),
            Self::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

impl std::error::Error for CollectError {}

/// A stand-in for the daemon in tests: a UDP socket on 127.0.0.1 on an ephemeral port.
#[derive(Debug)]
pub struct UdpCollector {
    socket: UdpSocket,
}

impl UdpCollector {
    /// Binds 127.0.0.1 on a free port, with a receive buffer large enough (8 MiB asked) that a burst of
    /// full-size datagrams is not lost while the test thread is busy.
    pub fn bind() -> io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        // The kernel may grant less (it caps at net.core.rmem_max); what it grants is still the best available.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(8 << 20);
        Ok(Self { socket })
    }

    /// Where to send documents.
    pub fn addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Receives one datagram, checks its header line and returns the parsed document with its size in bytes.
    pub fn recv_sized(&self, timeout: Duration) -> Result<(serde_json::Value, usize), CollectError> {
        self.socket.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(CollectError::Io)?;
        let mut buf = vec![0u8; 70_000];
        let len = match self.socket.recv(&mut buf) {
            Ok(len) => len,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(CollectError::Timeout);
            }
            Err(e) => return Err(CollectError::Io(e)),
        };
        let datagram = &buf[..len];
        let Some(document) = datagram.strip_prefix(DATAGRAM_HEADER) else {
            let line = datagram.split(|&b| b == b'\n').next().unwrap_or_default();
            return Err(CollectError::BadHeader(String::from_utf8_lossy(line).into_owned()));
        };
        let value = serde_json::from_slice(document).map_err(|e| CollectError::BadJson(e.to_string()))?;
        Ok((value, len))
    }

    /// Receives one document.
    pub fn recv(&self, timeout: Duration) -> Result<serde_json::Value, CollectError> {
        self.recv_sized(timeout).map(|(v, _)| v)
    }

    /// Receives documents until none arrives for `quiet`, or `limit` passes.
    pub fn collect(&self, quiet: Duration, limit: Duration) -> Result<Vec<serde_json::Value>, CollectError> {
        let deadline = Instant::now() + limit;
        let mut documents = Vec::new();
        while Instant::now() < deadline {
            match self.recv(quiet) {
                Ok(doc) => documents.push(doc),
                Err(CollectError::Timeout) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(documents)
    }
}
