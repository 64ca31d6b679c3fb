//! One direction of a TCP stream, put back in order for the application dissectors.
//!
//! TCP numbers every byte it sends (RFC 9293 § 3.4); a receiver keeps what arrives ahead
//! of a hole and hands the application only the bytes that continue the stream, once each.
//! A [`Flow`] does the same with what the capture saw:
//!
//! - a segment that continues the stream is delivered;
//! - its bytes already delivered (a retransmission, an overlap) are cut off first, so no
//!   byte reaches a dissector twice;
//! - a segment that starts beyond the next expected byte is held, out of order, until the
//!   hole before it is filled;
//! - a hole the capture never fills is given up when the receiver acknowledges the bytes
//!   in it (the capture missed them; the receiver did not) or when the capture cut the
//!   segment short (snaplen): the bytes after the hole are then read from the next segment
//!   that starts a PDU.
//!
//! Delivered bytes wait in `buf` until the application dissector says a whole PDU is
//! there. Memory is bounded: [`MAX_PDU`] bytes of an unfinished PDU and [`MAX_HELD`]
//! bytes out of order per direction, [`MAX_TOTAL`] bytes over all streams together (see
//! [`Budget`]); what happens beyond them is decided and marked by the framework (`mod.rs`).

use std::collections::{BTreeMap, VecDeque};

/// Bytes of one unfinished PDU a direction may hold. A PDU announced larger than this is
/// dissected from its first `MAX_PDU` bytes and the rest is skipped.
pub const MAX_PDU: usize = 4 << 20;
/// Bytes of out-of-order segments a direction may hold.
pub const MAX_HELD: usize = 1 << 20;
/// Bytes held by all streams together (unfinished PDUs and out-of-order segments).
pub const MAX_TOTAL: usize = 32 << 20;

/// The bytes held over all streams, against [`MAX_TOTAL`].
#[derive(Debug, Default)]
pub struct Budget {
    pub used: usize,
    /// PDUs cut because a buffer limit was reached (for the end-of-run warning).
    pub overflows: u64,
}

impl Budget {
    /// Whether `n` more bytes fit.
    pub fn fits(&self, n: usize) -> bool {
        self.used.saturating_add(n) <= MAX_TOTAL
    }
}

/// How the bytes of a direction are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PDU after PDU, as the application dissector measures them.
    Pdus,
    /// Everything until the direction closes is one PDU (an HTTP/1.0 body without a
    /// length).
    UntilClose,
    /// This many bytes still belong to a PDU too large to hold: they are skipped.
    Skip(u64),
    /// Bytes were lost (a hole, a PDU the dissector refused): the next segment that
    /// starts a PDU picks the stream up again.
    Resync,
    /// Nothing more is read as the application protocol (shown as data).
    Off,
}

/// Where a segment's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// New bytes start `trim` bytes into the payload (those before were delivered).
    New { trim: usize },
    /// Every byte was delivered before: a retransmission.
    Old,
    /// The segment starts beyond a hole: held until the hole is filled.
    Held,
    /// Beyond a hole, but the out-of-order buffer is full: not kept.
    Dropped,
}

/// One direction's reassembly state.
#[derive(Debug)]
pub struct Flow {
    /// The next relative sequence number expected, and its offset in the stream (an
    /// offset never wraps, a sequence number does).
    next: Option<(u32, u64)>,
    /// Delivered bytes; those before `start` are consumed (compacted after each frame).
    pub buf: Vec<u8>,
    pub start: usize,
    /// Which frames the bytes of `buf[start..]` came from, in order: (frame, bytes).
    pub parts: VecDeque<(u64, usize)>,
    /// Out-of-order segments: stream offset → (frame, bytes).
    held: BTreeMap<u64, (u64, Vec<u8>)>,
    held_bytes: usize,
    /// Bytes `buf[start..]` must hold before the dissector is asked again.
    pub need: usize,
    pub mode: Mode,
    /// Bytes the capture is missing, not yet reported on a frame of this direction.
    pub missing: u64,
    /// A FIN or RST ended this direction.
    pub closed: bool,
    /// The dissector said how long the pending PDU is: the bytes are its.
    pub claimed: bool,
}

impl Default for Flow {
    fn default() -> Self {
        Flow {
            next: None,
            buf: Vec::new(),
            start: 0,
            parts: VecDeque::new(),
            held: BTreeMap::new(),
            held_bytes: 0,
            need: 0,
            mode: Mode::Pdus,
            missing: 0,
            closed: false,
            claimed: false,
        }
    }
}

impl Flow {
    /// Bytes delivered and waiting for the rest of their PDU.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Where the stream's first byte is, when the SYN told it (`isn + 1`, relative 1).
    pub fn begin_at(&mut self, rel_seq: u32) {
        if self.next.is_none() {
            self.next = Some((rel_seq, 0));
        }
    }

    /// The stream offset of relative sequence number `seq`, against the next expected.
    fn offset(&self, seq: u32) -> Option<i128> {
        let (nseq, noff) = self.next?;
        Some(noff as i128 + seq.wrapping_sub(nseq) as i32 as i128)
    }

    /// Decides what to do with a segment of `len` captured bytes at relative `seq`.
    /// New bytes are taken as delivered: the caller feeds them to the dissector.
    pub fn accept(
        &mut self,
        seq: u32,
        len: usize,
        frame: u64,
        bytes: &[u8],
        budget: &mut Budget,
    ) -> Accept {
        if self.next.is_none() {
            self.next = Some((seq, 0));
        }
        let Some(off) = self.offset(seq) else {
            return Accept::Old;
        };
        let (_, noff) = self.next.expect("set above");
        let end = off + len as i128;
        if end <= noff as i128 {
            return Accept::Old;
        }
        if off > noff as i128 {
            // Ahead of a hole: keep it for when the hole is filled.
            let off = off as u64;
            let already = self.held.get(&off).map_or(0, |(_, b)| b.len());
            if already >= len {
                return Accept::Held;
            }
            if self.held_bytes + len > MAX_HELD || !budget.fits(len) {
                return Accept::Dropped;
            }
            if let Some((_, old)) = self.held.insert(off, (frame, bytes.to_vec())) {
                self.held_bytes -= old.len();
                budget.used -= old.len();
            }
            self.held_bytes += len;
            budget.used += len;
            return Accept::Held;
        }
        let trim = (noff as i128 - off) as usize;
        self.advance(len - trim);
        Accept::New { trim }
    }

    /// Moves the next expected byte `n` bytes on.
    fn advance(&mut self, n: usize) {
        if let Some((seq, off)) = self.next.as_mut() {
            *seq = seq.wrapping_add(n as u32);
            *off += n as u64;
        }
    }

    /// Gives up `n` bytes the capture does not have (a snaplen cut, or bytes the receiver
    /// acknowledged that the capture never saw): the stream continues after them.
    pub fn skip_hole(&mut self, n: u64) {
        if let Some((seq, off)) = self.next.as_mut() {
            *seq = seq.wrapping_add(n as u32);
            *off += n;
        }
        self.missing += n;
    }

    /// Of `n` bytes to give up, how many lie before the first held segment: the stream
    /// picks up there, where the capture has bytes again.
    pub fn hole_before_held(&self, n: u64) -> u64 {
        match (self.held.keys().next(), self.next) {
            (Some(&off), Some((_, noff))) if off > noff => n.min(off - noff),
            _ => n,
        }
    }

    /// How many bytes the receiver acknowledged beyond what this direction delivered
    /// (`ack` relative, in this direction's numbering), if any.
    pub fn acked_beyond(&self, ack: u32) -> Option<u64> {
        let (nseq, _) = self.next?;
        let d = ack.wrapping_sub(nseq) as i32;
        (d > 0).then_some(d as u64)
    }

    /// The next held segment that continues the stream, trimmed of bytes already
    /// delivered (and taken as delivered); held segments left behind are dropped.
    pub fn pop_held(&mut self, budget: &mut Budget) -> Option<(u64, Vec<u8>)> {
        loop {
            let (&off, _) = self.held.iter().next()?;
            let (_, noff) = self.next?;
            if off > noff {
                return None;
            }
            let (frame, mut bytes) = self.held.remove(&off).expect("present");
            self.held_bytes -= bytes.len();
            budget.used -= bytes.len();
            let trim = (noff - off) as usize;
            if trim >= bytes.len() {
                continue;
            }
            bytes.drain(..trim);
            self.advance(bytes.len());
            return Some((frame, bytes));
        }
    }

    /// Appends delivered bytes from `frame`, counted against the budget.
    pub fn push(&mut self, frame: u64, bytes: &[u8], budget: &mut Budget) {
        if bytes.is_empty() {
            return;
        }
        self.buf.extend_from_slice(bytes);
        budget.used += bytes.len();
        match self.parts.back_mut() {
            Some((f, n)) if *f == frame => *n += bytes.len(),
            _ => self.parts.push_back((frame, bytes.len())),
        }
    }

    /// Consumes `n` pending bytes (a PDU was dissected, or they are given up); returns
    /// the frames they came from.
    pub fn consume(&mut self, n: usize, budget: &mut Budget) -> Vec<(u64, usize)> {
        let n = n.min(self.pending());
        self.claimed = false;
        self.start += n;
        budget.used -= n;
        let mut left = n;
        let mut from = Vec::new();
        while left > 0 {
            let Some((f, len)) = self.parts.front_mut() else {
                break;
            };
            let take = left.min(*len);
            from.push((*f, take));
            *len -= take;
            left -= take;
            if *len == 0 {
                self.parts.pop_front();
            }
        }
        from
    }

    /// Drops every pending byte (a hole made the PDU in progress unreadable).
    pub fn clear(&mut self, budget: &mut Budget) {
        let n = self.pending();
        self.consume(n, budget);
        self.need = 0;
        self.compact();
    }

    /// Forgets the bytes consumed, and frees a large buffer once it is empty.
    pub fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buf.drain(..self.start);
        self.start = 0;
        if self.buf.is_empty() && self.buf.capacity() > 64 * 1024 {
            self.buf = Vec::new();
        }
    }

    /// Frees everything (the stream is forgotten); returns the bytes released.
    pub fn release(&mut self, budget: &mut Budget) {
        budget.used -= self.pending() + self.held_bytes;
        self.buf = Vec::new();
        self.start = 0;
        self.parts.clear();
        self.held.clear();
        self.held_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmitted_and_overlapping_bytes_are_cut() {
        let mut b = Budget::default();
        let mut f = Flow::default();
        f.begin_at(1);
        assert_eq!(
            f.accept(1, 10, 1, &[0; 10], &mut b),
            Accept::New { trim: 0 }
        );
        assert_eq!(f.accept(1, 10, 2, &[0; 10], &mut b), Accept::Old);
        // 5 old bytes, 5 new.
        assert_eq!(
            f.accept(6, 10, 3, &[0; 10], &mut b),
            Accept::New { trim: 5 }
        );
        assert_eq!(f.acked_beyond(16), None);
        assert_eq!(f.acked_beyond(20), Some(4));
    }

    #[test]
    fn out_of_order_segments_wait_for_the_hole() {
        let mut b = Budget::default();
        let mut f = Flow::default();
        f.begin_at(1);
        assert_eq!(f.accept(11, 5, 2, b"world", &mut b), Accept::Held);
        assert_eq!(b.used, 5);
        assert!(f.pop_held(&mut b).is_none());
        assert_eq!(
            f.accept(1, 12, 3, b"hello, there", &mut b),
            Accept::New { trim: 0 }
        );
        // The held segment overlaps the 2 bytes just delivered: only "rld" is new.
        assert_eq!(f.pop_held(&mut b), Some((2, b"rld".to_vec())));
        assert_eq!(b.used, 0);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut b = Budget::default();
        let mut f = Flow::default();
        f.begin_at(u32::MAX - 1);
        assert_eq!(
            f.accept(u32::MAX - 1, 4, 1, &[0; 4], &mut b),
            Accept::New { trim: 0 }
        );
        assert_eq!(f.accept(2, 4, 2, &[0; 4], &mut b), Accept::New { trim: 0 });
        assert_eq!(f.accept(0, 2, 3, &[0; 2], &mut b), Accept::Old);
    }

    #[test]
    fn the_held_bytes_are_bounded() {
        let mut b = Budget::default();
        let mut f = Flow::default();
        f.begin_at(1);
        let chunk = vec![0u8; 64 * 1024];
        let mut held = 0;
        for i in 0..40u32 {
            let seq = 1_000 + i * chunk.len() as u32;
            if f.accept(seq, chunk.len(), 1, &chunk, &mut b) == Accept::Held {
                held += chunk.len();
            }
        }
        assert!(held <= MAX_HELD);
        assert_eq!(b.used, held);
        f.release(&mut b);
        assert_eq!(b.used, 0);
    }

    #[test]
    fn consumed_bytes_name_their_frames() {
        let mut b = Budget::default();
        let mut f = Flow::default();
        f.push(4, &[1; 3], &mut b);
        f.push(6, &[2; 5], &mut b);
        assert_eq!(f.consume(4, &mut b), vec![(4, 3), (6, 1)]);
        assert_eq!(f.pending(), 4);
        f.compact();
        assert_eq!(f.buf, vec![2; 4]);
        f.clear(&mut b);
        assert_eq!(b.used, 0);
    }
}
