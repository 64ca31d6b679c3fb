//! TCP analysis as Wireshark does it (`tcp_analyze_sequence_number` in its
//! `packet-tcp.c`): each segment is compared with what its direction sent before and what
//! the other direction acknowledged, and marked when it shows TCP's reliability at work —
//! a retransmission, a duplicate ACK, a hole in the sequence, a full or zero window.
//!
//! The rules and their order are Wireshark's, so `-Y tcp.analysis.retransmission` picks
//! the same packets as `tshark -Y`:
//!
//! 1. zero window probe (1 byte at the next sequence number into a zero window) — and
//!    then nothing else is checked;
//! 2. zero window (window 0, no SYN/FIN/RST);
//! 3. lost segment (the segment starts beyond the next expected sequence number);
//! 4. keep-alive (0 or 1 byte one before the next sequence number);
//! 5. window update (no data, same seq/ack, a new window);
//! 6. window full (the data reaches the edge of the window the other side offered);
//! 7. keep-alive ACK and zero-window-probe ACK (they repeat the last ACK after a
//!    keep-alive / probe) — and then the duplicate-ACK check is skipped;
//! 8. duplicate ACK (no data, same seq/ack/window as the last segment);
//! 9. ACKed unseen segment (the ACK covers bytes the capture never showed);
//! 10. for a segment carrying data (or SYN/FIN) that does not advance the sequence:
//!     spurious retransmission (its bytes were already acknowledged), fast retransmission
//!     (it answers ≥ 2 duplicate ACKs within 20 ms), out of order (it came within one
//!     handshake RTT — 3 ms when unknown — of the highest segment), or else a
//!     retransmission (with the RTO since the original);
//! 11. then the bookkeeping: the next expected sequence number, the unacknowledged
//!     segments (`acks_frame`, `ack_rtt` when an ACK matches one exactly), and the bytes
//!     in flight after this segment (minus what the last SACK reported delivered).
//!
//! Numbers are relative (the tracker's); comparisons wrap like TCP's (RFC 9293 § 3.4).
//! Memory: a few dozen bytes per direction, plus at most [`MAX_UNACKED`] unacknowledged
//! segments (Wireshark's limit too), freed as they are acknowledged.

use std::collections::VecDeque;

use crate::wire::tcp::flags::{ACK, FIN, PSH, RST, SYN};

/// Unacknowledged segments remembered per direction (Wireshark's
/// `TCP_MAX_UNACKED_SEGMENTS`).
pub const MAX_UNACKED: usize = 1000;

/// The marks, as Wireshark's `TCP_A_*` flags.
pub mod mark {
    pub const RETRANSMISSION: u16 = 1 << 0;
    pub const FAST_RETRANSMISSION: u16 = 1 << 1;
    pub const SPURIOUS_RETRANSMISSION: u16 = 1 << 2;
    pub const OUT_OF_ORDER: u16 = 1 << 3;
    pub const LOST_SEGMENT: u16 = 1 << 4;
    pub const ACK_LOST_SEGMENT: u16 = 1 << 5;
    pub const WINDOW_UPDATE: u16 = 1 << 6;
    pub const WINDOW_FULL: u16 = 1 << 7;
    pub const KEEP_ALIVE: u16 = 1 << 8;
    pub const KEEP_ALIVE_ACK: u16 = 1 << 9;
    pub const DUPLICATE_ACK: u16 = 1 << 10;
    pub const ZERO_WINDOW: u16 = 1 << 11;
    pub const ZERO_WINDOW_PROBE: u16 = 1 << 12;
    pub const ZERO_WINDOW_PROBE_ACK: u16 = 1 << 13;
    pub const REUSED_PORTS: u16 = 1 << 14;
}
use mark::*;

fn gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}
fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
fn le(a: u32, b: u32) -> bool {
    !gt(a, b)
}

/// Window scaling as known for a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Scale {
    /// No SYN seen: the window's multiplier is unknown.
    #[default]
    Unknown,
    /// The SYNs agreed on no scaling.
    None,
    Shift(u8),
}

#[derive(Debug, Clone, Copy)]
struct Unacked {
    frame: u64,
    seq: u32,
    nextseq: u32,
    ts: i64,
}

/// One direction's state. Sequence numbers are the absolute ones on the wire, and — as
/// in Wireshark — 0 means "not seen yet" for `nextseq`, `lastack` and `maxseqtobeacked`.
#[derive(Debug)]
struct Dir {
    /// The highest sequence number sent so far plus one (with its frame and time).
    nextseq: u32,
    nextseq_frame: u64,
    nextseq_time: i64,
    /// The last acknowledgment number this direction sent, and when.
    lastack: u32,
    lastack_time: i64,
    lastnondupack: u64,
    /// Duplicate ACKs in a row; -1 after an ACKed-unseen-segment (Wireshark's way of
    /// not reporting the same lost segment twice).
    dupacknum: i32,
    /// The highest contiguous sequence number sent: beyond it, an ACK acknowledges
    /// bytes the capture did not see.
    maxseqtobeacked: u32,
    /// The last window this direction advertised (unscaled); u32::MAX before any.
    window: u32,
    /// The last window came from a SYN (never scaled).
    window_from_syn: bool,
    scale: Scale,
    lastsegmentflags: u16,
    valid_bif: bool,
    push_bytes_sent: u32,
    push_set_last: bool,
    /// Newest first, as Wireshark keeps them.
    unacked: VecDeque<Unacked>,
    /// The SACK blocks of this direction's latest segment (relative edges).
    sack: [(u32, u32); 4],
    sacks: usize,
}

impl Default for Dir {
    fn default() -> Self {
        Dir {
            nextseq: 0,
            nextseq_frame: 0,
            nextseq_time: 0,
            lastack: 0,
            lastack_time: 0,
            lastnondupack: 0,
            dupacknum: 0,
            maxseqtobeacked: 0,
            window: u32::MAX,
            window_from_syn: false,
            scale: Scale::Unknown,
            lastsegmentflags: 0,
            valid_bif: true,
            push_bytes_sent: 0,
            push_set_last: false,
            unacked: VecDeque::new(),
            sack: [(0, 0); 4],
            sacks: 0,
        }
    }
}

/// A stream's analysis state (in the tracker's entry).
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    dirs: [Dir; 2],
    /// Time of the most recent SYN (without ACK), for the handshake's RTT.
    mru_syn: Option<i64>,
    /// The handshake's RTT: from the SYN to the ACK that completes the handshake.
    first_rtt: Option<i64>,
}

/// One segment as the analysis sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg {
    /// The tracker's direction (0 or 1).
    pub dir: usize,
    pub frame: u64,
    /// Absolute time in nanoseconds.
    pub time: i64,
    /// Sequence and acknowledgment numbers as on the wire.
    pub seq: u32,
    pub ack: u32,
    /// This direction's base (the relative numbers' zero), for the bytes in flight.
    pub base: u32,
    pub len: u32,
    pub flags: u16,
    /// The window field as sent (unscaled).
    pub window: u16,
    /// The SYN's window-scale option, if any.
    pub wscale: Option<u8>,
}

/// What the analysis says about one segment: Wireshark's `tcp_acked` ("ta"), present
/// when anything is to be said.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Marks {
    pub flags: u16,
    pub dupack_num: u32,
    pub dupack_frame: u64,
    pub acks_frame: Option<u64>,
    pub ack_rtt: i64,
    pub bytes_in_flight: Option<u32>,
    pub push_bytes_sent: Option<u32>,
    /// For a retransmission: time since, and frame of, the segment retransmitted.
    pub rto: Option<(i64, u64)>,
    /// The handshake's RTT, once known.
    pub first_rtt: Option<i64>,
}

impl Analysis {
    /// Analyses one segment; `None` when there is nothing to show (Wireshark shows no
    /// "SEQ/ACK analysis" then).
    pub fn segment(&mut self, s: &Seg) -> Option<Marks> {
        let mut ta: Option<Marks> = None;
        let (fwd, rev) = {
            let [a, b] = &mut self.dirs;
            if s.dir == 0 { (a, b) } else { (b, a) }
        };
        let (seq, ack, seglen, flags) = (s.seq, s.ack, s.len, s.flags);
        let window = u32::from(s.window);
        let ctl = flags & (SYN | FIN | RST);
        if flags & SYN != 0 {
            // Window scaling (RFC 7323 § 2.2): both SYNs must carry the option. Without
            // it in this SYN, neither side scales; with it in a SYN-ACK answering a SYN
            // without it, neither does either.
            match s.wscale {
                Some(w) => fwd.scale = Scale::Shift(w.min(14)),
                None => {
                    fwd.scale = Scale::None;
                    rev.scale = Scale::None;
                }
            }
            if flags & ACK != 0 && rev.scale == Scale::None {
                fwd.scale = Scale::None;
            }
        }
        if flags & ACK != 0 {
            rev.valid_bif = true;
        }
        // Only the SACK blocks of a direction's latest segment count (set after this).
        fwd.sacks = 0;
        let set = |ta: &mut Option<Marks>, f: u16| ta.get_or_insert_with(Marks::default).flags |= f;

        'fwd: {
            // Zero window probe: 1 byte at the next sequence number into a zero window.
            if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
                set(&mut ta, ZERO_WINDOW_PROBE);
                break 'fwd;
            }
            // Zero window.
            if window == 0 && ctl == 0 {
                set(&mut ta, ZERO_WINDOW);
            }
            // A segment beyond the next expected: the one before was not captured.
            if fwd.nextseq != 0 && gt(seq, fwd.nextseq) && flags & RST == 0 {
                set(&mut ta, LOST_SEGMENT);
                fwd.valid_bif = false;
            }
            // Keep-alive: 0 or 1 byte, one before the next sequence number.
            if (seglen == 0 || seglen == 1) && seq == fwd.nextseq.wrapping_sub(1) && ctl == 0 {
                set(&mut ta, KEEP_ALIVE);
            }
            let same = seq == fwd.nextseq && ack == fwd.lastack && ctl == 0;
            // Window update: no data, nothing new but the window.
            if seglen == 0 && window != 0 && window != fwd.window && same {
                set(&mut ta, WINDOW_UPDATE);
            }
            // Window full: the data reaches the edge of the window offered.
            if seglen > 0 && rev.scale != Scale::Unknown && ctl == 0 {
                let shift = match rev.scale {
                    Scale::Shift(n) if !rev.window_from_syn => u32::from(n),
                    _ => 0,
                };
                let edge = rev.lastack.wrapping_add(rev.window.wrapping_shl(shift));
                if seq.wrapping_add(seglen) == edge {
                    set(&mut ta, WINDOW_FULL);
                }
            }
            // Keep-alive ACK.
            if seglen == 0
                && window != 0
                && window == fwd.window
                && same
                && rev.lastsegmentflags & KEEP_ALIVE != 0
            {
                set(&mut ta, KEEP_ALIVE_ACK);
                break 'fwd;
            }
            // Zero window probe ACK.
            if seglen == 0
                && window == 0
                && window == fwd.window
                && same
                && rev.lastsegmentflags & ZERO_WINDOW_PROBE != 0
            {
                set(&mut ta, ZERO_WINDOW_PROBE_ACK);
                break 'fwd;
            }
            // Duplicate ACK.
            if seglen == 0 && window != 0 && window == fwd.window && same {
                fwd.dupacknum = if fwd.dupacknum == -1 {
                    1
                } else {
                    fwd.dupacknum + 1
                };
                let m = ta.get_or_insert_with(Marks::default);
                m.flags |= DUPLICATE_ACK;
                m.dupack_num = fwd.dupacknum.max(0) as u32;
                m.dupack_frame = fwd.lastnondupack;
            }
        }
        if ack != fwd.lastack {
            fwd.lastnondupack = s.frame;
            fwd.dupacknum = 0;
        }
        // ACKed unseen segment: the ACK covers bytes the other direction never showed.
        if rev.maxseqtobeacked != 0 && gt(ack, rev.maxseqtobeacked) && flags & ACK != 0 {
            let m = ta.get_or_insert_with(Marks::default);
            if gt(rev.nextseq, rev.maxseqtobeacked) {
                // Not again for the same bytes.
                rev.maxseqtobeacked = rev.nextseq;
                m.flags |= ACK_LOST_SEGMENT;
            } else {
                // The other side is stalled on the same lost bytes: say it once.
                if rev.dupacknum == 0 {
                    m.flags |= ACK_LOST_SEGMENT;
                }
                rev.dupacknum = -1;
            }
        }
        // Retransmission, fast retransmission, spurious, out of order.
        'retx: {
            if !(seglen > 0 || flags & (SYN | FIN) != 0) {
                break 'retx;
            }
            let mut not_advanced = fwd.nextseq != 0 && lt(seq, fwd.nextseq);
            if ta.as_ref().is_some_and(|m| m.flags & KEEP_ALIVE != 0) {
                break 'retx;
            }
            // One byte less than the next sequence number with more data: after a
            // zero-window probe, new data.
            if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
                not_advanced = false;
            }
            if seglen > 0 && rev.lastack != 0 && le(seq.wrapping_add(seglen), rev.lastack) {
                set(&mut ta, SPURIOUS_RETRANSMISSION);
                break 'retx;
            }
            // (Wireshark's counter is unsigned: its -1 counts as many duplicates.)
            if not_advanced
                && rev.dupacknum as u32 >= 2
                && rev.lastack == seq
                && s.time.saturating_sub(rev.lastack_time) < 20_000_000
            {
                set(&mut ta, FAST_RETRANSMISSION);
                break 'retx;
            }
            let since = s.time.saturating_sub(fwd.nextseq_time);
            let thres = self.first_rtt.unwrap_or(3_000_000);
            let end = seq
                .wrapping_add(seglen)
                .wrapping_add(u32::from(flags & (SYN | FIN) != 0));
            if not_advanced && since < thres && fwd.nextseq != end {
                set(&mut ta, OUT_OF_ORDER);
                break 'retx;
            }
            if not_advanced {
                let m = ta.get_or_insert_with(Marks::default);
                m.flags |= RETRANSMISSION;
                // The RTO: since the oldest unacknowledged segment (or the highest).
                let mut rto = (s.time - fwd.nextseq_time, fwd.nextseq_frame);
                if let Some(old) = fwd.unacked.back() {
                    rto = (s.time - old.ts, old.frame);
                }
                m.rto = Some(rto);
            }
        }
        // Bookkeeping.
        let mut nextseq = seq.wrapping_add(seglen);
        if flags & (SYN | FIN) != 0 {
            nextseq = nextseq.wrapping_add(1);
        }
        if (seglen > 0 || flags & (SYN | FIN) != 0) && fwd.unacked.len() < MAX_UNACKED {
            fwd.unacked.push_front(Unacked {
                frame: s.frame,
                seq,
                nextseq,
                ts: s.time,
            });
        }
        let probe = ta
            .as_ref()
            .is_some_and(|m| m.flags & ZERO_WINDOW_PROBE != 0);
        if (gt(nextseq, fwd.nextseq) || fwd.nextseq == 0) && !probe {
            fwd.nextseq = nextseq;
            fwd.nextseq_frame = s.frame;
            fwd.nextseq_time = s.time;
        }
        if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !probe {
            fwd.maxseqtobeacked = fwd.nextseq;
        }
        fwd.window = window;
        fwd.window_from_syn = flags & SYN != 0;
        fwd.lastack = ack;
        fwd.lastack_time = s.time;
        fwd.lastsegmentflags = ta.as_ref().map_or(0, |m| m.flags);
        // The segments this ACK acknowledges.
        let mut i = 0;
        while i < rev.unacked.len() {
            let u = &mut rev.unacked[i];
            if ack == u.nextseq {
                let m = ta.get_or_insert_with(Marks::default);
                m.acks_frame = Some(u.frame);
                m.ack_rtt = s.time - u.ts;
            } else if gt(ack, u.seq) && le(ack, u.nextseq) {
                // Part of it: what remains unacknowledged starts at the ACK.
                u.seq = ack;
                continue;
            } else if gt(u.nextseq, ack) {
                i += 1;
                continue;
            }
            rev.unacked.remove(i);
        }
        // Bytes in flight after this segment (Wireshark's default, payload-based way),
        // with relative numbers compared plainly, as Wireshark does.
        if seglen != 0 && !fwd.unacked.is_empty() && fwd.valid_bif {
            let rel = |x: u32| x.wrapping_sub(s.base);
            let first = fwd.unacked.iter().map(|u| rel(u.seq)).min().unwrap_or(0);
            let last = fwd
                .unacked
                .iter()
                .map(|u| rel(u.nextseq))
                .max()
                .unwrap_or(0);
            let mut in_flight = last.wrapping_sub(first);
            let delivered: u32 = rev.sack[..rev.sacks]
                .iter()
                .fold(0u32, |d, (l, r)| d.wrapping_add(r.wrapping_sub(*l)));
            in_flight = in_flight.wrapping_sub(delivered);
            if in_flight > 0 && in_flight < 2_000_000_000 {
                let m = ta.get_or_insert_with(Marks::default);
                m.bytes_in_flight = Some(in_flight - u32::from(flags & (SYN | FIN) != 0));
            }
            // Bytes sent since the last PSH.
            let push = flags & PSH != 0;
            fwd.push_bytes_sent = match (push, fwd.push_set_last) {
                (true, true) | (false, true) => seglen,
                (_, false) => fwd.push_bytes_sent.wrapping_add(seglen),
            };
            fwd.push_set_last = push;
            ta.get_or_insert_with(Marks::default).push_bytes_sent = Some(fwd.push_bytes_sent);
        }
        // The handshake's RTT: SYN to the pure ACK that completes it (after the analysis,
        // as in Wireshark, so the completing ACK itself does not use it).
        if flags & SYN != 0 && flags & ACK == 0 {
            self.mru_syn = Some(s.time);
        }
        if flags & (SYN | ACK) == ACK
            && self.first_rtt.is_none()
            && let Some(t) = self.mru_syn
        {
            self.first_rtt = Some(s.time - t);
        }
        if let Some(m) = ta.as_mut() {
            m.first_rtt = self.first_rtt;
        }
        ta
    }

    /// Records the SACK blocks a segment of direction `dir` carried (relative edges),
    /// for the bytes in flight of the other direction.
    pub fn sack(&mut self, dir: usize, blocks: &[(u32, u32)]) {
        let d = &mut self.dirs[dir];
        d.sacks = blocks.len().min(4);
        d.sack[..d.sacks].copy_from_slice(&blocks[..d.sacks]);
    }
}

/// Each mark: its bit, the packet list's text (Wireshark's), its field, and — in the
/// field's meaning — what it says about TCP, for a learner.
pub(crate) const MARKS: [(u16, &str, &crate::wire::FieldDef); 15] = [
    (REUSED_PORTS, "[TCP Port numbers reused] ", &REUSED_PORTS_F),
    (RETRANSMISSION, "[TCP Retransmission] ", &RETRANSMISSION_F),
    (
        FAST_RETRANSMISSION,
        "[TCP Fast Retransmission] ",
        &FAST_RETRANSMISSION_F,
    ),
    (
        SPURIOUS_RETRANSMISSION,
        "[TCP Spurious Retransmission] ",
        &SPURIOUS_RETRANSMISSION_F,
    ),
    (OUT_OF_ORDER, "[TCP Out-Of-Order] ", &OUT_OF_ORDER_F),
    (
        LOST_SEGMENT,
        "[TCP Previous segment not captured] ",
        &LOST_SEGMENT_F,
    ),
    (
        ACK_LOST_SEGMENT,
        "[TCP ACKed unseen segment] ",
        &ACK_LOST_SEGMENT_F,
    ),
    (WINDOW_UPDATE, "[TCP Window Update] ", &WINDOW_UPDATE_F),
    (WINDOW_FULL, "[TCP Window Full] ", &WINDOW_FULL_F),
    (KEEP_ALIVE, "[TCP Keep-Alive] ", &KEEP_ALIVE_F),
    (KEEP_ALIVE_ACK, "[TCP Keep-Alive ACK] ", &KEEP_ALIVE_ACK_F),
    (DUPLICATE_ACK, "", &DUPLICATE_ACK_F),
    (
        ZERO_WINDOW_PROBE,
        "[TCP ZeroWindowProbe] ",
        &ZERO_WINDOW_PROBE_F,
    ),
    (ZERO_WINDOW, "[TCP ZeroWindow] ", &ZERO_WINDOW_F),
    (
        ZERO_WINDOW_PROBE_ACK,
        "[TCP ZeroWindowProbeAck] ",
        &ZERO_WINDOW_PROBE_ACK_F,
    ),
];

/// The Info column's prefix: Wireshark prepends each mark in the order above, so the
/// last one comes first.
pub(crate) fn info_prefix(m: &Marks, out: &mut String) {
    for (bit, text, _) in MARKS.iter().rev() {
        if m.flags & bit == 0 {
            continue;
        }
        if *bit == DUPLICATE_ACK {
            use std::fmt::Write;
            let _ = write!(out, "[TCP Dup ACK {}#{}] ", m.dupack_frame, m.dupack_num);
        } else {
            out.push_str(text);
        }
    }
}

crate::wire::fields! {
    ANALYSIS: Group(
        "SEQ/ACK analysis",
        "tcp.analysis",
        "what netlab (like Wireshark) concludes from comparing this segment with the ones before it",
    );
    ACKS_FRAME: Num(
        "This is an ACK to the segment in frame",
        "tcp.analysis.acks_frame",
        "the frame whose data this acknowledgment confirms: everything up to its end arrived",
    );
    ACK_RTT: Time(
        "The RTT to ACK the segment was",
        "tcp.analysis.ack_rtt",
        "seconds from that segment to its acknowledgment: one round trip, as seen where the capture was made",
    );
    INITIAL_RTT: Time(
        "iRTT",
        "tcp.analysis.initial_rtt",
        "the handshake's round trip: from the SYN to the ACK that completed it",
    );
    BYTES_IN_FLIGHT: Num(
        "Bytes in flight",
        "tcp.analysis.bytes_in_flight",
        "data this side has sent that the other side has not acknowledged yet (the window limits it)",
    );
    PUSH_BYTES_SENT: Num(
        "Bytes sent since last PSH flag",
        "tcp.analysis.push_bytes_sent",
        "data sent since the sender last asked the receiver to hand its data to the application",
    );
    FLAGS: Group(
        "TCP Analysis Flags",
        "tcp.analysis.flags",
        "this segment shows something worth a look: loss, repetition, a full or empty window",
    );
    RETRANSMISSION_F: Group(
        "Retransmission",
        "tcp.analysis.retransmission",
        "this is TCP's reliability at work: these bytes were sent before and no acknowledgment came in time, so the sender sent them again",
    );
    RTO: Time(
        "The RTO for this segment was",
        "tcp.analysis.rto",
        "seconds the sender waited before sending again (its retransmission timeout)",
    );
    RTO_FRAME: Num(
        "RTO based on delta from frame",
        "tcp.analysis.rto_frame",
        "the frame that first carried these bytes",
    );
    FAST_RETRANSMISSION_F: Group(
        "Fast retransmission",
        "tcp.analysis.fast_retransmission",
        "this is TCP's reliability at work: duplicate ACKs told the sender a segment was missing, so it sent it again at once instead of waiting for its timer",
    );
    SPURIOUS_RETRANSMISSION_F: Group(
        "Spurious retransmission",
        "tcp.analysis.spurious_retransmission",
        "these bytes were already acknowledged: the retransmission was not needed (the ACK was late or lost, or the timer too short)",
    );
    OUT_OF_ORDER_F: Group(
        "Out-of-order segment",
        "tcp.analysis.out_of_order",
        "this segment arrived after one that follows it: the network reordered them, and the receiver puts them back in order",
    );
    LOST_SEGMENT_F: Group(
        "Previous segment not captured",
        "tcp.analysis.lost_segment",
        "bytes before this segment are missing: lost on the way (TCP will send them again) or just not seen by the capture",
    );
    ACK_LOST_SEGMENT_F: Group(
        "ACKed segment that wasn't captured",
        "tcp.analysis.ack_lost_segment",
        "this acknowledges bytes the capture never showed: the receiver got them, the capture missed them",
    );
    WINDOW_UPDATE_F: Group(
        "Window update",
        "tcp.analysis.window_update",
        "only the window changed: the receiver tells the sender how much more it may send now",
    );
    WINDOW_FULL_F: Group(
        "Window full",
        "tcp.analysis.window_full",
        "this segment fills the window the receiver offered: the sender must wait for an acknowledgment before sending more (flow control)",
    );
    KEEP_ALIVE_F: Group(
        "Keep-alive",
        "tcp.analysis.keep_alive",
        "a probe on an idle connection (one byte before the next sequence number): are you still there?",
    );
    KEEP_ALIVE_ACK_F: Group(
        "Keep-alive ACK",
        "tcp.analysis.keep_alive_ack",
        "the answer to a keep-alive: yes, still here",
    );
    DUPLICATE_ACK_F: Group(
        "Duplicate ACK",
        "tcp.analysis.duplicate_ack",
        "this is TCP's reliability at work: the receiver got a segment out of order and acknowledges the last byte it has in order again, telling the sender something is missing",
    );
    DUPLICATE_ACK_NUM: Num(
        "Duplicate ACK #",
        "tcp.analysis.duplicate_ack_num",
        "how many times this acknowledgment was repeated; at 3, the sender retransmits without waiting (fast retransmit, RFC 5681)",
    );
    DUPLICATE_ACK_FRAME: Num(
        "Duplicate to the ACK in frame",
        "tcp.analysis.duplicate_ack_frame",
        "the frame that first carried this acknowledgment",
    );
    ZERO_WINDOW_PROBE_F: Group(
        "Zero window probe",
        "tcp.analysis.zero_window_probe",
        "the receiver's window is 0; the sender sends one byte now and then to learn when it opens",
    );
    ZERO_WINDOW_F: Group(
        "Zero window",
        "tcp.analysis.zero_window",
        "this side's receive buffer is full: the other side must stop sending until the window opens (flow control)",
    );
    ZERO_WINDOW_PROBE_ACK_F: Group(
        "Zero window probe ACK",
        "tcp.analysis.zero_window_probe_ack",
        "the answer to a zero window probe: the window is still 0",
    );
    REUSED_PORTS_F: Group(
        "TCP port numbers reused",
        "tcp.analysis.reused_ports",
        "a new connection with the same addresses and ports as an earlier one in the capture",
    );
}
