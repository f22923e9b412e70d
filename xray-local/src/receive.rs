//! The UDP socket: bound where the daemon listens, with a receive buffer raised for bursts.

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
