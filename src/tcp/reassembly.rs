//! The out-of-order queue: bytes that arrived after a hole in the stream.
//!
//! IP may lose or reorder packets, yet TCP promises the application its bytes in order.
//! A receiver that sees segment 3 before segment 2 could throw segment 3 away and wait
//! for the sender to resend both, but it is cheaper to keep it and hand it over the moment
//! segment 2 fills the hole (RFC 9293 § 3.10.7.4, "seventh, process the segment text":
//! segments beyond RCV.NXT "should be held for later processing"). The blocks held here
//! are also what a SACK option reports (RFC 2018): "I have these ranges, only the hole
//! is missing".
//!
//! The queue is bounded ([`REASSEMBLY_LIMIT`]): a peer cannot make netlab hold more than
//! that; a segment that would not fit is dropped, and the sender will resend it.
//!
//! Contract: sequence numbers wrap ([`super::seq`]); every block lies ahead of the
//! receiver's `RCV.NXT` and within its window (far less than 2^31 away). No imports
//! beyond `seq`.

use super::seq::{seq_diff, seq_le};

/// The most out-of-order bytes netlab keeps: 256 KiB.
pub const REASSEMBLY_LIMIT: usize = 256 * 1024;

/// Out-of-order blocks, sorted by sequence number, never overlapping or touching.
#[derive(Debug, Clone)]
pub struct Reassembly {
    blocks: Vec<(u32, Vec<u8>)>,
    /// Left edge of the block that took the most recent segment (reported first in SACK).
    latest: Option<u32>,
    limit: usize,
}

impl Default for Reassembly {
    fn default() -> Self {
        Self::new(REASSEMBLY_LIMIT)
    }
}

impl Reassembly {
    /// An empty queue holding at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Reassembly {
            blocks: Vec::new(),
            latest: None,
            limit,
        }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(|(_, b)| b.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Holds `data`, whose first byte has sequence number `seq`, beyond `rcv_nxt`. Bytes
    /// before `rcv_nxt` are ignored (they were delivered already). Returns false, storing
    /// nothing, when the queue would exceed its limit.
    pub fn insert(&mut self, rcv_nxt: u32, seq: u32, data: &[u8]) -> bool {
        let mut seq = seq;
        let mut data = data;
        let behind = seq_diff(rcv_nxt, seq);
        if behind > 0 {
            let skip = (behind as usize).min(data.len());
            data = &data[skip..];
            seq = rcv_nxt;
        }
        if data.is_empty() {
            return true;
        }
        // Work in offsets from rcv_nxt (u64: no overflow while merging).
        let off = |s: u32| u64::from(s.wrapping_sub(rcv_nxt));
        let mut all: Vec<(u64, Vec<u8>)> = self
            .blocks
            .iter()
            .filter(|(s, b)| seq_diff(s.wrapping_add(b.len() as u32), rcv_nxt) > 0)
            .map(|(s, b)| (off(*s), b.clone()))
            .collect();
        let new_off = off(seq);
        all.push((new_off, data.to_vec()));
        all.sort_by_key(|(o, _)| *o);
        let mut merged: Vec<(u64, Vec<u8>)> = Vec::with_capacity(all.len());
        for (o, bytes) in all {
            match merged.last_mut() {
                Some((lo, lb)) if o <= *lo + lb.len() as u64 => {
                    let end = *lo + lb.len() as u64;
                    let new_end = o + bytes.len() as u64;
                    if new_end > end {
                        lb.extend_from_slice(&bytes[(end - o) as usize..]);
                    }
                }
                _ => merged.push((o, bytes)),
            }
        }
        let total: usize = merged.iter().map(|(_, b)| b.len()).sum();
        if total > self.limit {
            return false;
        }
        self.latest = merged
            .iter()
            .find(|(o, b)| *o <= new_off && new_off < *o + b.len() as u64)
            .map(|(o, _)| rcv_nxt.wrapping_add(*o as u32));
        self.blocks = merged
            .into_iter()
            .map(|(o, b)| (rcv_nxt.wrapping_add(o as u32), b))
            .collect();
        true
    }

    /// Takes the bytes that now continue the stream at `rcv_nxt`, if the hole is filled.
    pub fn take(&mut self, rcv_nxt: u32) -> Option<Vec<u8>> {
        while let Some((start, _)) = self.blocks.first() {
            if !seq_le(*start, rcv_nxt) {
                return None;
            }
            let skip = seq_diff(rcv_nxt, *start) as usize;
            let (start, bytes) = self.blocks.remove(0);
            if self.latest == Some(start) {
                self.latest = None;
            }
            if skip < bytes.len() {
                return Some(bytes[skip..].to_vec());
            }
        }
        None
    }

    /// SACK blocks as (left edge, right edge) pairs, the most recently extended block
    /// first (RFC 2018 § 4), then the others from the highest down; at most `max`.
    pub fn sack_blocks(&self, max: usize) -> Vec<(u32, u32)> {
        let edge = |(s, b): &(u32, Vec<u8>)| (*s, s.wrapping_add(b.len() as u32));
        let mut out = Vec::new();
        if let Some(l) = self.latest
            && let Some(b) = self.blocks.iter().find(|(s, _)| *s == l)
        {
            out.push(edge(b));
        }
        for b in self.blocks.iter().rev() {
            if Some(b.0) != self.latest {
                out.push(edge(b));
            }
        }
        out.truncate(max);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_a_hole() {
        let mut r = Reassembly::default();
        assert!(r.insert(100, 105, b"fghij"));
        assert_eq!(r.take(100), None);
        assert_eq!(r.sack_blocks(4), vec![(105, 110)]);
        // In-order bytes 100..105 arrive (delivered by the caller), rcv_nxt becomes 105.
        assert_eq!(r.take(105), Some(b"fghij".to_vec()));
        assert!(r.is_empty());
    }

    #[test]
    fn merges_overlaps_and_neighbours() {
        let mut r = Reassembly::default();
        r.insert(0, 10, b"klm");
        r.insert(0, 13, b"nop");
        r.insert(0, 12, b"mno");
        r.insert(0, 20, b"uv");
        assert_eq!(r.len(), 8);
        assert_eq!(r.sack_blocks(4), vec![(20, 22), (10, 16)]);
        r.insert(0, 16, b"qrst");
        assert_eq!(r.sack_blocks(4), vec![(10, 22)]);
        // Bytes 0..12 arrive in order; the block overlaps them.
        assert_eq!(r.take(12), Some(b"mnopqrstuv".to_vec()));
    }

    #[test]
    fn wraps_around_two_to_the_32() {
        let mut r = Reassembly::default();
        let nxt = u32::MAX - 1;
        r.insert(nxt, u32::MAX, b"b");
        r.insert(nxt, 1, b"d");
        assert_eq!(r.sack_blocks(4), vec![(1, 2), (u32::MAX, 0)]);
        r.insert(nxt, 0, b"c");
        assert_eq!(r.take(u32::MAX), Some(b"bcd".to_vec()));
    }

    #[test]
    fn bounded() {
        let mut r = Reassembly::new(4);
        assert!(r.insert(0, 1, b"abcd"));
        assert!(!r.insert(0, 10, b"x"));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn ignores_bytes_already_delivered() {
        let mut r = Reassembly::default();
        assert!(r.insert(10, 5, b"abcdefgh")); // 5..13, only 10..13 kept
        assert_eq!(r.take(10), Some(b"fgh".to_vec()));
        assert!(r.insert(10, 2, b"ab"));
        assert!(r.is_empty());
    }
}
