//! TCP conversation tracking: a stream index per connection and relative sequence
//! numbers, as Wireshark computes them by default.
//!
//! Each direction's base is its initial sequence number when the SYN is seen (so the SYN
//! is relative 0 and the first data byte 1). A direction first seen without a SYN (a
//! capture started mid-connection, or a RST from a closed port) takes `seq - 1`, so its
//! first byte is numbered 1 too. An acknowledgment number is relative to the *other*
//! direction's base; if that direction has not been seen yet, `ack - 1` becomes its base.

use std::collections::HashMap;

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
    bytes: u64,
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

/// One row of `--stats` conversations.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub index: u32,
    pub a: Endpoint,
    pub b: Endpoint,
    pub packets: u64,
    pub bytes: u64,
}

/// Assigns stream indexes and relative numbers. Memory grows with the number of
/// connections (a few dozen bytes each), not with the number of packets.
#[derive(Default)]
pub struct TcpStreams {
    map: HashMap<(Endpoint, Endpoint), Stream>,
    next_index: u32,
    /// Closed streams kept for `--stats` after a tuple was reused.
    retired: Vec<Conversation>,
    /// Application state of streams retired or freed, for the caller to release.
    pub(crate) dropped: Vec<super::app::AppState>,
    /// Connections over, oldest first (see [`MAX_CLOSED_KEPT`]).
    closed: std::collections::VecDeque<((Endpoint, Endpoint), u32)>,
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
    pub frame_len: u32,
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
                self.retired.push(Conversation {
                    index: old.index,
                    a: key.0,
                    b: key.1,
                    packets: old.packets,
                    bytes: old.bytes,
                });
            }
        }
        let next = &mut self.next_index;
        let st = self.map.entry(key).or_insert_with(|| {
            let index = *next;
            *next += 1;
            Stream {
                index,
                dirs: [Direction::default(); 2],
                rst: false,
                packets: 0,
                bytes: 0,
                live: None,
                over: false,
            }
        });
        st.packets += 1;
        st.bytes += s.frame_len as u64;
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

    /// Every conversation seen, by stream index.
    pub fn conversations(&self) -> Vec<Conversation> {
        let mut v: Vec<Conversation> = self
            .map
            .iter()
            .map(|(k, s)| Conversation {
                index: s.index,
                a: k.0,
                b: k.1,
                packets: s.packets,
                bytes: s.bytes,
            })
            .chain(self.retired.iter().cloned())
            .collect();
        v.sort_by_key(|c| c.index);
        v
    }
}

/// UDP conversations, numbered as Wireshark numbers `udp.stream`: in the order their
/// first datagram appears, one per pair of endpoints (either way). Memory grows with the
/// number of conversations, not of datagrams.
#[derive(Debug, Default)]
pub struct UdpStreams {
    map: HashMap<(Endpoint, Endpoint), u32>,
}

impl UdpStreams {
    /// The conversation's index.
    pub fn track(&mut self, src: Endpoint, dst: Endpoint) -> u32 {
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let next = self.map.len() as u32;
        *self.map.entry(key).or_insert(next)
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
            frame_len: 60,
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
        assert_eq!(t.conversations().len(), 2);
    }
}
