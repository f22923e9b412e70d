//! The UDP socket: bound where the daemon listens, with a receive buffer raised for bursts, and the kernel's count
//! of the datagrams it dropped because that buffer was full.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// The receive buffer asked for; Linux grants at most `net.core.rmem_max`.
pub const RECV_BUFFER_BYTES: usize = 8 << 20;

/// A datagram buffer large enough for any UDP payload, so nothing is cut short.
pub const DATAGRAM_BYTES: usize = 65_536;

/// Binds a UDP socket at `addr` with a raised receive buffer and a read timeout of `tick` (so the receiving loop
/// can look at the clock and at shutdown while idle). Returns the socket and the buffer size granted.
pub fn bind(addr: SocketAddr, buffer: usize, tick: Duration) -> io::Result<(UdpSocket, usize)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Ask for the buffer before binding; a refusal is not fatal, the default buffer still works.
    let _ = socket.set_recv_buffer_size(buffer);
    socket.bind(&addr.into())?;
    socket.set_read_timeout(Some(tick))?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok((socket.into(), granted))
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
