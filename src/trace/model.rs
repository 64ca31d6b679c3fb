//! The lower half of the onion as data: a unit of bytes in a TCP stream and either the
//! segments that carried it (each a dissected packet: TCP → IP → link) or what the
//! socket alone could tell about it. `render::onion` turns it into text; nothing here
//! touches a socket.
//!
//! Imports: the dissection model and [`super`] (the hook's types).

use std::net::SocketAddr;
use std::ops::Range;

use super::Direction;
use crate::dissect::model::Packet;

/// The traced unit: a WebSocket frame, an HTTP message, any run of stream bytes.
#[derive(Debug, Clone)]
pub struct Unit {
    pub dir: Direction,
    /// Its bytes in the sender's stream (0 = the first byte after the SYN).
    pub stream: Range<u64>,
    /// What its own layer added (the WebSocket frame header) and its name.
    pub header_len: usize,
    pub name: &'static str,
    /// Say what each layer is for (the first unit of a connection); later units show
    /// only the numbers.
    pub explain: bool,
    /// `stream` is the unit's real place in the stream (else only its length is).
    pub position_known: bool,
}

impl Unit {
    pub fn len(&self) -> u64 {
        self.stream.end - self.stream.start
    }

    pub fn is_empty(&self) -> bool {
        self.stream.is_empty()
    }
}

/// One TCP segment that carried (part of) the unit, dissected from its link frame.
#[derive(Debug)]
pub struct SegmentView<'a> {
    pub pkt: &'a Packet,
    /// Its number among the connection's segments the watch saw (or the frame number
    /// in a capture).
    pub number: u64,
    /// The stream bytes its data carries.
    pub stream: Range<u64>,
    pub retransmission: bool,
    /// Microseconds after the first segment shown for this connection (if known).
    pub rel_us: Option<u64>,
}

/// What a socket can know without a packet socket (`getsockname`, `getpeername`,
/// `TCP_INFO`), for one traced unit.
#[derive(Debug, Clone)]
pub struct SocketFacts {
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
    /// `TCP_INFO`, or why it could not be read.
    pub info: Result<KernelFigures, String>,
}

/// The `TCP_INFO` figures shown, with the change since the previous traced unit in the
/// same direction (segments and bytes) when known.
#[derive(Debug, Clone, Default)]
pub struct KernelFigures {
    pub state: &'static str,
    pub rtt_us: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub snd_cwnd: u32,
    pub total_retrans: u32,
    /// Segments in this unit's direction: total, and the change since the last unit.
    pub segs: Option<(u32, u32)>,
    /// Data bytes in this unit's direction: total, and the change since the last unit.
    pub bytes: Option<(u64, u64)>,
}
