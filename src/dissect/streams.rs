//! TCP conversation tracking: a stream index per connection and relative sequence
//! numbers, as Wireshark computes them by default.
//!
//! Each direction's base is its initial sequence number when the SYN is seen (so the SYN
//! is relative 0 and the first data byte 1). A direction first seen without a SYN (a
//! capture started mid-connection, or a RST from a closed port) takes `seq - 1`, so its
//! first byte is numbered 1 too. An acknowledgment number is relative to the *other*
//! direction's base; if that direction has not been seen yet, `ack - 1` becomes its base.
//!
//! Memory is bounded: at most [`MAX_STREAMS`] TCP streams and as many UDP conversations
//! are remembered. Beyond that, the one unused for longest is forgotten (a second-chance
//! queue: an entry used since it was queued goes to the back instead); if it ever speaks
//! again, it gets a new stream number (and its analysis starts afresh). Wireshark
//! remembers every conversation; the difference shows only in captures with more than
//! that many conversations, and only for one that falls silent that long.

use std::collections::{HashMap, VecDeque};

/// TCP streams (and, separately, UDP conversations) remembered at once.
pub const MAX_STREAMS: usize = 16_384;

/// An endpoint: address (IPv4 mapped into 16 bytes) and port.
pub type Endpoint = ([u8; 16], u16);

#[derive(Debug, Clone, Copy, Default)]
struct Direction {
    base: Option<u32>,
    /// Window-scale shift from this direction's SYN (None: not seen / not offered).
    wscale: Option<u8>,
    fin: bool,
}

pub(crate) struct Stream {
    index: u32,
    dirs: [Direction; 2],
    rst: bool,
    packets: u64,
    /// The tracker's tick when the stream was last used (see [`MAX_STREAMS`]).
    last: u64,
    /// What the analysis and the application protocol keep while the connection lives
    /// (see [`Live`]).
    live: Option<Box<Live>>,
    /// Listed among the connections over.
    over: bool,
}

/// A connection's working state: Wireshark's sequence analysis (retransmissions,
/// duplicate ACKs…) and the application protocol (its session, each direction's
/// reassembly). Once the connection is over — a RST, or both FINs sent and then a final
/// ACK — it is kept for the next [`MAX_CLOSED_KEPT`] connections to end, then freed, so
/// memory follows the connections open, not all those ever seen. A segment after that
/// starts a fresh one (its analysis then knows nothing before it).
#[derive(Default)]
pub(crate) struct Live {
    pub app: super::app::AppState,
    pub analysis: super::analysis::Analysis,
}

impl Stream {
    /// The working state, created on first use.
    pub(crate) fn live(&mut self) -> &mut Live {
        self.live.get_or_insert_with(Box::default)
    }
}

/// Connections over whose working state is still kept, for late segments (a FIN
/// retransmitted because the final ACK was lost); beyond it the oldest is freed.
pub const MAX_CLOSED_KEPT: usize = 4096;

/// What the tracker says about one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relative {
    pub stream: u32,
    /// Which direction of the stream the segment goes (0 or 1, fixed per stream).
    pub dir: usize,
    pub seq: u32,
    pub ack: u32,
    /// Window multiplier (2^shift) if both sides agreed on window scaling; None when
    /// unknown (the SYNs were not captured).
    pub window_shift: Option<u8>,
}

/// Assigns stream indexes and relative numbers. Memory follows the streams remembered
/// (at most [`MAX_STREAMS`], a few dozen bytes each while closed), not the packets.
#[derive(Default)]
pub struct TcpStreams {
    map: HashMap<(Endpoint, Endpoint), Stream>,
    next_index: u32,
    /// Counts the segments tracked: the streams' clock for eviction.
    tick: u64,
    /// Every stream remembered, oldest use first (second chance: see [`MAX_STREAMS`]).
    order: VecDeque<((Endpoint, Endpoint), u32, u64)>,
    /// Application state of streams retired or freed, for the caller to release.
    pub(crate) dropped: Vec<super::app::AppState>,
    /// Connections over, oldest first (see [`MAX_CLOSED_KEPT`]).
    closed: VecDeque<((Endpoint, Endpoint), u32)>,
}

/// A segment's header values the tracker needs.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub wscale: Option<u8>,
    /// Payload bytes.
    pub len: usize,
}

const SYN: u16 = crate::wire::tcp::flags::SYN;
const ACK: u16 = crate::wire::tcp::flags::ACK;
const FIN: u16 = crate::wire::tcp::flags::FIN;
const RST: u16 = crate::wire::tcp::flags::RST;

impl TcpStreams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tracks a segment: its stream, relative numbers, and the stream's state.
    pub(crate) fn track(&mut self, s: &Segment) -> (Relative, &mut Stream) {
        let (key, dir) = if s.src <= s.dst {
            ((s.src, s.dst), 0)
        } else {
            ((s.dst, s.src), 1)
        };
        let syn_only = s.flags & (SYN | ACK) == SYN;
        // A new SYN on a tuple whose previous connection ended starts a new stream.
        if let Some(old) = self.map.get(&key) {
            let ended = old.rst || (old.dirs[0].fin && old.dirs[1].fin);
            let other_isn = old.dirs[dir].base.is_some_and(|b| b != s.seq);
            if syn_only && (ended || (other_isn && old.packets > 2)) {
                let old = self.map.remove(&key).expect("present");
                self.dropped.extend(old.live.map(|l| l.app));
            }
        }
        self.tick += 1;
        if !self.map.contains_key(&key) {
            self.make_room();
            let index = self.next_index;
            self.next_index += 1;
            self.order.push_back((key, index, self.tick));
            self.map.insert(
                key,
                Stream {
                    index,
                    dirs: [Direction::default(); 2],
                    rst: false,
                    packets: 0,
                    last: 0,
                    live: None,
                    over: false,
                },
            );
        }
        let st = self.map.get_mut(&key).expect("present");
        st.packets += 1;
        st.last = self.tick;
        if s.flags & RST != 0 {
            st.rst = true;
        }
        let fwd = &mut st.dirs[dir];
        if s.flags & SYN != 0 {
            if fwd.base.is_none() {
                fwd.base = Some(s.seq);
            }
            fwd.wscale = s.wscale;
        } else if fwd.base.is_none() {
            fwd.base = Some(s.seq.wrapping_sub(1));
        }
        if s.flags & FIN != 0 {
            fwd.fin = true;
        }
        let seq = s.seq.wrapping_sub(fwd.base.unwrap_or(s.seq));
        let rev = &mut st.dirs[1 - dir];
        let ack = if s.flags & ACK != 0 {
            if rev.base.is_none() {
                rev.base = Some(s.ack.wrapping_sub(1));
            }
            s.ack.wrapping_sub(rev.base.unwrap_or(0))
        } else {
            s.ack
        };
        // Over: reset, or both FINs sent and this a final ACK (no FIN, no data).
        let over = st.rst || (st.dirs[0].fin && st.dirs[1].fin && s.flags & FIN == 0 && s.len == 0);
        let window_shift = match (st.dirs[dir].wscale, st.dirs[1 - dir].wscale) {
            // Scaling applies only when both SYNs carried the option (RFC 7323 § 2.2),
            // and never to the SYNs themselves.
            (Some(w), Some(_)) if s.flags & SYN == 0 => Some(w.min(14)),
            _ => None,
        };
        let rel = Relative {
            stream: st.index,
            dir,
            seq,
            ack,
            window_shift,
        };
        if over && !st.over {
            st.over = true;
            let index = st.index;
            self.closed.push_back((key, index));
            while self.closed.len() > MAX_CLOSED_KEPT {
                let Some((k, i)) = self.closed.pop_front() else {
                    break;
                };
                if let Some(old) = self.map.get_mut(&k).filter(|o| o.index == i) {
                    self.dropped.extend(old.live.take().map(|l| l.app));
                }
            }
        }
        let st = self.map.get_mut(&key).expect("tracked above");
        (rel, st)
    }

    /// Forgets the stream unused for longest when the table is full.
    fn make_room(&mut self) {
        while self.map.len() >= MAX_STREAMS {
            let Some((key, index, queued)) = self.order.pop_front() else {
                return;
            };
            match self.map.get(&key) {
                Some(st) if st.index == index && st.last > queued => {
                    // Used since it was queued: a second chance.
                    let last = st.last;
                    self.order.push_back((key, index, last));
                }
                Some(st) if st.index == index => {
                    let st = self.map.remove(&key).expect("present");
                    self.dropped.extend(st.live.map(|l| l.app));
                }
                _ => {}
            }
        }
    }
}

/// UDP conversations, numbered as Wireshark numbers `udp.stream`: in the order their
/// first datagram appears, one per pair of endpoints (either way). Memory grows with the
/// number of conversations, not of datagrams.
#[derive(Debug, Default)]
pub struct UdpStreams {
    /// Conversation → (index, tick of its last datagram).
    map: HashMap<(Endpoint, Endpoint), (u32, u64)>,
    next_index: u32,
    tick: u64,
    order: VecDeque<((Endpoint, Endpoint), u32, u64)>,
}

impl UdpStreams {
    /// The conversation's index.
    pub fn track(&mut self, src: Endpoint, dst: Endpoint) -> u32 {
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        self.tick += 1;
        if let Some(e) = self.map.get_mut(&key) {
            e.1 = self.tick;
            return e.0;
        }
        // Full: forget the conversation unused for longest (second chance).
        while self.map.len() >= MAX_STREAMS {
            let Some((k, index, queued)) = self.order.pop_front() else {
                break;
            };
            match self.map.get(&k) {
                Some(&(i, last)) if i == index && last > queued => {
                    self.order.push_back((k, index, last));
                }
                Some(&(i, _)) if i == index => {
                    self.map.remove(&k);
                }
                _ => {}
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        self.map.insert(key, (index, self.tick));
        self.order.push_back((key, index, self.tick));
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(last: u8, port: u16) -> Endpoint {
        let mut a = [0u8; 16];
        a[15] = last;
        (a, port)
    }

    fn seg(src: Endpoint, dst: Endpoint, seq: u32, ack: u32, flags: u16) -> Segment {
        Segment {
            src,
            dst,
            seq,
            ack,
            flags,
            wscale: None,
            len: 0,
        }
    }

    #[test]
    fn handshake_is_relative_zero_then_one() {
        // Numbers from a real loopback connection (tshark agreed: 0/0, 0/1, 1/1).
        let (c, s) = (ep(1, 51000), ep(1, 8765));
        let mut t = TcpStreams::new();
        let (r, _) = t.track(&seg(c, s, 2751598473, 0, SYN));
        assert_eq!((r.stream, r.seq, r.ack), (0, 0, 0));
        let (r, _) = t.track(&seg(s, c, 1295451892, 2751598474, SYN | ACK));
        assert_eq!((r.seq, r.ack), (0, 1));
        let (r, _) = t.track(&seg(c, s, 2751598474, 1295451893, ACK));
        assert_eq!((r.seq, r.ack), (1, 1));
    }

    #[test]
    fn rst_from_closed_port() {
        // SYN then RST/ACK with seq 0: tshark shows seq 1, ack 1.
        let (c, s) = (ep(1, 40000), ep(1, 8766));
        let mut t = TcpStreams::new();
        t.track(&seg(c, s, 3445857943, 0, SYN));
        let (r, _) = t.track(&seg(s, c, 0, 3445857944, RST | ACK));
        assert_eq!((r.seq, r.ack), (1, 1));
    }

    #[test]
    fn reused_tuple_gets_new_stream() {
        let (c, s) = (ep(1, 40000), ep(2, 80));
        let mut t = TcpStreams::new();
        t.track(&seg(c, s, 100, 0, SYN));
        t.track(&seg(s, c, 0, 101, RST | ACK));
        let (r, _) = t.track(&seg(c, s, 5000, 0, SYN));
        assert_eq!(r.stream, 1);
    }

    #[test]
    fn the_tables_are_bounded_and_keep_what_is_used() {
        // A distinct address for each of many connections.
        let host = |i: u32| {
            let mut a = [0u8; 16];
            a[12..].copy_from_slice(&i.to_be_bytes());
            (a, 1024)
        };
        let mut t = TcpStreams::new();
        let s = ep(2, 80);
        let busy = ep(1, 1);
        t.track(&seg(busy, s, 1, 0, SYN));
        for i in 0..(MAX_STREAMS as u32 + 100) {
            t.track(&seg(host(i + 10), s, 1, 0, SYN));
            if i % 1000 == 0 {
                // The busy connection keeps being used: it is never forgotten.
                let (r, _) = t.track(&seg(busy, s, 2, 0, ACK));
                assert_eq!(r.stream, 0);
            }
        }
        assert!(t.map.len() <= MAX_STREAMS);
        let mut u = UdpStreams::default();
        let first = u.track(ep(1, 53), ep(2, 5353));
        for i in 0..(MAX_STREAMS as u32 + 10) {
            u.track(host(i + 10), ep(2, 53));
        }
        assert!(u.map.len() <= MAX_STREAMS);
        // Forgotten, then seen again: a new number.
        assert_ne!(u.track(ep(1, 53), ep(2, 5353)), first);
    }
}
