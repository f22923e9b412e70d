//! The UDP socket: bound where the daemon listens, with a receive buffer raised for bursts, read many datagrams per
//! system call ([`Datagrams`]), and the kernel's count of the datagrams it dropped because that buffer was full.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// The receive buffer asked for; Linux grants at most `net.core.rmem_max`.
pub const RECV_BUFFER_BYTES: usize = 8 << 20;

/// A datagram buffer large enough for any UDP payload, so nothing is cut short.
pub const DATAGRAM_BYTES: usize = 65_536;

/// The most datagrams read by one `recvmmsg` call. Only the pages a datagram fills are ever touched, so 64 buffers
/// of 64 KiB cost about 64 pages for small documents.
pub const BATCH: usize = 64;

/// Datagrams read from a socket in batches: one `recvmmsg` call takes every datagram queued (up to [`BATCH`]), where
/// a `recv` per datagram would cost a system call each. Where `recvmmsg` does not exist (not Linux, or a kernel or
/// sandbox that refuses it) each read takes one datagram with `recv`.
pub struct Datagrams {
    /// [`BATCH`] slots of [`DATAGRAM_BYTES`] each (one slot when reading one at a time).
    buf: Vec<u8>,
    /// The length of each datagram of the last read.
    lens: Vec<usize>,
    batched: bool,
}

impl Datagrams {
    /// Reads in batches where the system can.
    pub fn new() -> Datagrams {
        Datagrams::with(cfg!(target_os = "linux"))
    }

    /// Reads one datagram per system call.
    pub fn one_at_a_time() -> Datagrams {
        Datagrams::with(false)
    }

    fn with(batched: bool) -> Datagrams {
        let slots = if batched { BATCH } else { 1 };
        Datagrams { buf: vec![0; slots * DATAGRAM_BYTES], lens: Vec::with_capacity(slots), batched }
    }

    /// Whether reads take many datagrams per system call.
    pub fn batched(&self) -> bool {
        self.batched
    }

    /// Waits (up to the socket's read timeout) for at least one datagram and reads every one queued, up to the
    /// batch; returns how many. A read that fails gives the error of the first datagram (a timeout when idle).
    pub fn read(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.lens.clear();
        if self.batched {
            match recv_many(socket, &mut self.buf, &mut self.lens) {
                Err(err) if unsupported(&err) => {
                    // Told once: from now on every read takes one datagram.
                    crate::render::warn(format_args!(
                        "recvmmsg is not available ({err}): reading one datagram per call"
                    ));
                    self.batched = false;
                }
                result => return result,
            }
        }
        let n = socket.recv(&mut self.buf[..DATAGRAM_BYTES])?;
        self.lens.push(n);
        Ok(1)
    }

    /// The datagrams of the last read, in the order they arrived.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.lens.iter().enumerate().map(|(i, &n)| &self.buf[i * DATAGRAM_BYTES..i * DATAGRAM_BYTES + n])
    }
}

impl Default for Datagrams {
    fn default() -> Self {
        Datagrams::new()
    }
}

/// Whether `err` says the system has no `recvmmsg` (rather than that this read failed).
fn unsupported(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::Unsupported) || err.raw_os_error() == Some(ENOSYS)
}

#[cfg(target_os = "linux")]
const ENOSYS: i32 = libc::ENOSYS;
#[cfg(not(target_os = "linux"))]
const ENOSYS: i32 = 38;

/// One `recvmmsg` into the slots of `buf`, pushing each datagram's length to `lens`.
#[cfg(target_os = "linux")]
fn recv_many(socket: &UdpSocket, buf: &mut [u8], lens: &mut Vec<usize>) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let slots = buf.len() / DATAGRAM_BYTES;
    let mut iovecs: Vec<libc::iovec> = buf
        .chunks_exact_mut(DATAGRAM_BYTES)
        .map(|slot| libc::iovec { iov_base: slot.as_mut_ptr().cast(), iov_len: slot.len() })
        .collect();
    // SAFETY: an all-zero mmsghdr is a valid empty header (no name, no control data); each is pointed at one iovec.
    let mut headers: Vec<libc::mmsghdr> = iovecs
        .iter_mut()
        .map(|iov| {
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
            header
        })
        .collect();
    // MSG_WAITFORONE: block (up to the socket's read timeout) for the first datagram only, then take what is queued.
    // SAFETY: `headers` holds `slots` valid headers whose iovecs point into `buf`, which outlives the call.
    let n = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            slots as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    lens.extend(headers[..n].iter().map(|h| h.msg_len as usize));
    Ok(n)
}

#[cfg(not(target_os = "linux"))]
fn recv_many(_socket: &UdpSocket, _buf: &mut [u8], _lens: &mut Vec<usize>) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Binds a UDP socket at `addr` with a raised receive buffer and a read timeout of `tick` (so the receiving loop
/// can look at the clock and at shutdown while idle). Returns the socket and the buffer size granted.
pub fn bind(addr: SocketAddr, buffer: usize, tick: Duration) -> io::Result<(UdpSocket, usize)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Ask for the buffer before binding; a refusal is not fatal, the default buffer still works.
    let _ = socket.set_recv_buffer_size(buffer);
    // Linux caps SO_RCVBUF at `net.core.rmem_max` (4 MiB on many systems, granted as twice that); a process allowed
    // to (CAP_NET_ADMIN) may go past the cap with SO_RCVBUFFORCE, and the kernel's grant says which happened.
    #[cfg(target_os = "linux")]
    if socket.recv_buffer_size().unwrap_or(0) < buffer {
        force_recv_buffer(&socket, buffer);
    }
    socket.bind(&addr.into())?;
    socket.set_read_timeout(Some(tick))?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok((socket.into(), granted))
}

/// Asks for `buffer` bytes past `net.core.rmem_max`; refused without CAP_NET_ADMIN, which leaves the buffer as it was.
#[cfg(target_os = "linux")]
fn force_recv_buffer(socket: &Socket, buffer: usize) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(buffer).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt reads one c_int from `size`, which lives across the call.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&raw const size).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The kernel's count of datagrams dropped on their way into one socket (its receive buffer was full, or memory ran
/// short), read from the `drops` column of `/proc/net/udp` and `/proc/net/udp6` on Linux. Unlike the count that
/// `SO_RXQ_OVFL` attaches to received datagrams, it is up to date after a burst even when nothing follows it.
#[derive(Debug, Clone, Copy)]
pub struct KernelDrops {
    /// The socket's inode, which names it in `/proc/net/udp`; `None` where that file does not exist.
    inode: Option<u64>,
}

impl KernelDrops {
    /// The counter of `socket`.
    pub fn of(socket: &UdpSocket) -> KernelDrops {
        KernelDrops { inode: inode(socket) }
    }

    /// The datagrams dropped since the socket was opened, or `None` where the system does not say.
    pub fn read(&self) -> Option<u64> {
        let inode = self.inode?;
        ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|table| drops(&std::fs::read_to_string(table).ok()?, inode))
    }
}

#[cfg(target_os = "linux")]
fn inode(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    // The descriptor links to `socket:[<inode>]`.
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(not(target_os = "linux"))]
fn inode(_socket: &UdpSocket) -> Option<u64> {
    None
}

/// The `drops` of the socket with `inode` in the text of `/proc/net/udp` (or `udp6`): each row has the inode in
/// its tenth field and the drops in its last.
fn drops(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        let fields: Vec<&str> = row.split_whitespace().collect();
        if fields.get(9)?.parse::<u64>().ok()? != inode {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `count` numbered datagrams of different lengths to `socket` and reads them all with `datagrams`;
    /// returns what was read and the most datagrams one read took.
    fn send_and_read(datagrams: &mut Datagrams, count: usize) -> (Vec<Vec<u8>>, usize) {
        let (socket, _) =
            bind("127.0.0.1:0".parse().expect("addr"), 1 << 20, Duration::from_millis(100)).expect("bind");
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        let sent: Vec<Vec<u8>> =
            (0..count).map(|i| format!("datagram {i} {}", "x".repeat(i * 7)).into_bytes()).collect();
        for datagram in &sent {
            sender.send_to(datagram, socket.local_addr().expect("addr")).expect("send");
        }
        let (mut read, mut most) = (Vec::new(), 0);
        while read.len() < count {
            let n = datagrams.read(&socket).expect("the datagrams are queued");
            assert_eq!(n, datagrams.iter().count());
            most = most.max(n);
            read.extend(datagrams.iter().map(<[u8]>::to_vec));
        }
        assert_eq!(read, sent, "every datagram, whole and in order");
        assert!(datagrams.read(&socket).is_err(), "nothing more: the read times out");
        (read, most)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn queued_datagrams_are_read_many_per_call() {
        let mut datagrams = Datagrams::new();
        let (_, most) = send_and_read(&mut datagrams, 200);
        assert!(datagrams.batched());
        assert!(most > 1 && most <= BATCH, "one read took {most}");
    }

    #[test]
    fn without_recvmmsg_each_read_takes_one_datagram_and_nothing_is_lost() {
        let mut datagrams = Datagrams::one_at_a_time();
        let (_, most) = send_and_read(&mut datagrams, 200);
        assert_eq!(most, 1);
    }

    #[test]
    fn a_system_without_recvmmsg_is_told_apart_from_a_failed_read() {
        assert!(unsupported(&io::Error::from_raw_os_error(ENOSYS)));
        assert!(unsupported(&io::Error::from(io::ErrorKind::Unsupported)));
        assert!(!unsupported(&io::Error::from(io::ErrorKind::WouldBlock)));
        assert!(!unsupported(&io::Error::from(io::ErrorKind::TimedOut)));
    }

    #[test]
    fn the_drops_of_a_socket_are_found_by_its_inode() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  245: 0100007F:07D0 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 73311 2 0000000000000000 0
  900: 0100007F:A3C1 00000000:0000 07 00000000:00042300 00:00000000 00000000  1000        0 73412 2 0000000000000000 13183
";
        assert_eq!(drops(table, 73412), Some(13_183));
        assert_eq!(drops(table, 73311), Some(0));
        assert_eq!(drops(table, 1), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn datagrams_that_arrive_while_the_buffer_is_full_are_counted() {
        // Guards issue 10 point 12: datagrams the kernel dropped were not counted anywhere.
        let (socket, _) = bind("127.0.0.1:0".parse().expect("addr"), 1, Duration::from_millis(100)).expect("bind");
        let drops = KernelDrops::of(&socket);
        assert_eq!(drops.read(), Some(0));
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        let sent = 200u64;
        for _ in 0..sent {
            sender.send_to(&[b'x'; 1000], socket.local_addr().expect("addr")).expect("send");
        }
        // Only now is the socket read, until it is empty.
        let mut buf = [0u8; 2048];
        let mut received = 0u64;
        while socket.recv(&mut buf).is_ok() {
            received += 1;
        }
        let dropped = drops.read().expect("Linux says how many it dropped");
        assert!(dropped > 0 && received > 0, "received {received}, dropped {dropped}");
        assert_eq!(received + dropped, sent);
    }
}
