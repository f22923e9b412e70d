//! A UDP tap in front of the daemon: every datagram sent to it is kept and passed on unchanged, so a test can decode
//! exactly what the functions sent (e.g. their OTLP datagrams with `--otlp`) with a decoder of its own.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The tap; dropping it stops it.
#[derive(Debug)]
pub struct Tap {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl Tap {
    /// Listens on a free loopback port and passes everything on to `daemon`.
    pub fn start(daemon: SocketAddr) -> io::Result<Tap> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = socket.local_addr()?;
        let (seen, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (kept, stopped) = (seen.clone(), stop.clone());
        std::thread::Builder::new().name("demo-udp-tap".into()).spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let _ = socket.send_to(&buf[..n], daemon);
                    kept.lock().unwrap_or_else(PoisonError::into_inner).push(buf[..n].to_vec());
                }
            }
        })?;
        Ok(Tap { addr, seen, stop })
    }

    /// Where to send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every datagram passed on so far, in arrival order.
    pub fn datagrams(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
