//! The trace — "the onion, live": under each unit of bytes a traced connection writes
//! or reads (a WebSocket frame, an HTTP message), the layers that carried it.
//!
//! Three floors, so that each user imports only what it needs:
//! - this file, the **hook**: [`Direction`], [`ConnAddrs`], [`Layer`] (one layer's view
//!   of a unit), [`UnitInfo`] and the [`LowerLayers`] observer a server reports its
//!   units to. It imports `std` only: a server anywhere — `commands::ws` and
//!   `commands::socketio` today, `src/ws/server.rs` and `src/socketio/server.rs` on an
//!   event loop later — holds an `Arc<dyn LowerLayers>` and calls it after each unit,
//!   without knowing how the layers below are found;
//! - [`model`], the **lower onion's model** (the unit; the TCP segments that carried
//!   it, each a dissected packet; or what the socket alone knows): what
//!   `render::onion` draws. It imports the dissection model, so `netlab dissect` can
//!   draw one captured packet with the same model and renderer;
//! - [`onion`], the **implementation**: a packet watch on lo (`net::conn_watch`) and the
//!   kernel's `TCP_INFO`, turned into the model and rendered. It imports `net`,
//!   `dissect`, `render` and `wire`.

pub mod model;
pub mod onion;

use std::net::{SocketAddr, TcpStream};
use std::os::fd::BorrowedFd;

/// Which way a unit (a frame, a segment) went, seen from netlab's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// netlab wrote it: from the local socket to the peer.
    Sent,
    /// netlab read it: from the peer to the local socket.
    Received,
}

impl Direction {
    /// `→` sent, `←` received.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => "→",
            Direction::Received => "←",
        }
    }

    /// `sent` or `received`.
    pub fn verb(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
        }
    }

    /// 0 for sent, 1 for received: an index into per-direction pairs.
    pub fn index(self) -> usize {
        match self {
            Direction::Sent => 0,
            Direction::Received => 1,
        }
    }

    /// The sending and the receiving end of a unit going this way on `conn`.
    pub fn ends(self, conn: &ConnAddrs) -> (SocketAddr, SocketAddr) {
        match self {
            Direction::Sent => (conn.local, conn.peer),
            Direction::Received => (conn.peer, conn.local),
        }
    }
}

/// The two ends of a TCP connection, as netlab's socket sees them. Only addresses:
/// the socket itself is lent to the [`LowerLayers`] for the length of one call (a
/// `BorrowedFd`), so nothing kept here can outlive it and name a reused descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnAddrs {
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

impl ConnAddrs {
    pub fn of(stream: &TcpStream) -> Option<ConnAddrs> {
        Some(ConnAddrs {
            local: stream.local_addr().ok()?,
            peer: stream.peer_addr().ok()?,
        })
    }
}

/// One layer's view of a unit (`Socket.IO 2["chat","hi"]`, `WebSocket FIN=1 …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `Socket.IO`, `Engine.IO`, `WebSocket`, `HTTP`…
    pub name: &'static str,
    /// The layer's unit as it looks: the packet text, the frame's header bits.
    pub shown: String,
    /// What the layer said, in words.
    pub meaning: String,
    /// Bytes this layer added around the layer above.
    pub overhead: usize,
    /// Bytes of this layer's unit in all.
    pub total: usize,
}

/// A unit of bytes that crossed a traced socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitInfo {
    /// `WebSocket frame`, `HTTP message`.
    pub name: &'static str,
    /// Its bytes in the stream (frame header + payload; HTTP head + body).
    pub len: usize,
    /// Of which its own header.
    pub header_len: usize,
}

/// **The hook for the layers below a unit** (TCP, IP, link). A traced server or client
/// calls [`LowerLayers::describe`] once per unit, right after writing it to or reading
/// it from the socket, in stream order per direction, and prints the text it returns
/// under the unit's own line. `sock` is the connection's socket while it is open, for
/// the kernel's view (`TCP_INFO`); `None` when the caller cannot lend it.
///
/// [`onion::Watched`] watches lo with a packet socket (or asks the kernel without
/// CAP_NET_RAW); [`onion::SocketOnly`] says only what a socket can.
pub trait LowerLayers: Send + Sync {
    /// A connection starts being traced after its handshake: `written` bytes went out
    /// before its first traced unit (this side's HTTP head), and `unparsed` bytes were
    /// read but belong to units not traced yet (what followed the peer's head). With
    /// this the units' places are counted; without it they are found by parsing the
    /// watched stream.
    fn opened(&self, _conn: &ConnAddrs, _sock: BorrowedFd<'_>, _written: u64, _unparsed: usize) {}

    /// The text to print under `unit`, which just went `dir` on `conn`.
    fn describe(
        &self,
        conn: &ConnAddrs,
        sock: Option<BorrowedFd<'_>>,
        dir: Direction,
        unit: UnitInfo,
    ) -> String;

    /// The connection is over: forget it.
    fn closed(&self, _conn: &ConnAddrs) {}
}
