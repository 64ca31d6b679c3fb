//! IP fragment reassembly (IPv4 RFC 791 § 3.2, IPv6 RFC 8200 § 4.5), as Wireshark does it
//! by default: fragments are held until the datagram is complete, and the upper layers
//! are dissected on the packet whose fragment completes it.
//!
//! Bounded: at most [`MAX_PENDING`] datagrams and [`MAX_BYTES`] bytes are held; the oldest
//! incomplete datagram is dropped first (and reported), so a capture full of lone
//! fragments cannot exhaust memory.

use std::collections::{HashMap, VecDeque};

pub const MAX_PENDING: usize = 1024;
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// An IP datagram cannot exceed 65,535 bytes (its length field is 16 bits).
pub const MAX_DATAGRAM: usize = 65_535;

/// Identifies one datagram: source, destination, protocol (IPv4) and identification.
pub type Key = ([u8; 16], [u8; 16], u8, u32);

#[derive(Debug, Default)]
struct Pending {
    /// (offset, bytes), in arrival order.
    pieces: Vec<(usize, Vec<u8>)>,
    /// Known once the last fragment (MF = 0) arrives.
    total: Option<usize>,
    bytes: usize,
}

/// What became of a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Held; the datagram is not complete yet.
    Held,
    /// This fragment completed the datagram: here is its whole payload, and how many
    /// fragments carried it.
    Complete { payload: Vec<u8>, frames: usize },
    /// The fragment contradicts the datagram (beyond 64 KiB, or past the end).
    Invalid(&'static str),
}

#[derive(Debug, Default)]
pub struct Reassembler {
    pending: HashMap<Key, Pending>,
    order: VecDeque<Key>,
    bytes: usize,
    /// Datagrams dropped because the bounds were reached.
    pub evicted: u64,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a fragment's payload at byte `offset`; `more` is the MF bit.
    pub fn add(&mut self, key: Key, offset: usize, more: bool, data: &[u8]) -> Outcome {
        let end = offset + data.len();
        if end > MAX_DATAGRAM {
            return Outcome::Invalid("fragment reaches beyond 65,535 bytes");
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= MAX_PENDING || self.bytes + data.len() > MAX_BYTES {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if let Some(p) = self.pending.remove(&old) {
                    self.bytes -= p.bytes;
                    self.evicted += 1;
                }
            }
            self.order.push_back(key);
        }
        let p = self.pending.entry(key).or_default();
        if !more {
            if p.total.is_some_and(|t| t != end) {
                return Outcome::Invalid("two last fragments disagree on the length");
            }
            // A fragment held earlier may reach past the end this one announces.
            if p.pieces.iter().any(|(o, d)| o + d.len() > end) {
                let p = self.pending.remove(&key).expect("present");
                self.order.retain(|k| *k != key);
                self.bytes -= p.bytes;
                return Outcome::Invalid("an earlier fragment reaches past the datagram's end");
            }
            p.total = Some(end);
        }
        if p.total.is_some_and(|t| end > t) {
            return Outcome::Invalid("fragment reaches past the datagram's end");
        }
        p.pieces.push((offset, data.to_vec()));
        p.bytes += data.len();
        self.bytes += data.len();
        let Some(total) = p.total else {
            return Outcome::Held;
        };
        // Complete when [0, total) is covered.
        let mut spans: Vec<(usize, usize)> =
            p.pieces.iter().map(|(o, d)| (*o, o + d.len())).collect();
        spans.sort_unstable();
        let mut covered = 0;
        for (s, e) in spans {
            if s > covered {
                return Outcome::Held;
            }
            covered = covered.max(e);
        }
        if covered < total {
            return Outcome::Held;
        }
        let p = self.pending.remove(&key).expect("present");
        self.order.retain(|k| *k != key);
        self.bytes -= p.bytes;
        let mut payload = vec![0u8; total];
        // Later fragments overwrite earlier ones where they overlap.
        for (o, d) in &p.pieces {
            // Every piece ends within `total` (checked on arrival and when the total
            // became known); `get_mut` keeps that an invariant rather than a panic.
            if let Some(dst) = payload.get_mut(*o..o + d.len()) {
                dst.copy_from_slice(d);
            }
        }
        Outcome::Complete {
            payload,
            frames: p.pieces.len(),
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Key = ([1; 16], [2; 16], 17, 7);

    #[test]
    fn out_of_order_fragments_complete() {
        let mut r = Reassembler::new();
        assert_eq!(r.add(K, 8, false, b"world!!!"), Outcome::Held);
        match r.add(K, 0, true, b"hello, ") {
            Outcome::Held => {}
            o => panic!("{o:?}"),
        }
        match r.add(K, 7, true, b"_") {
            Outcome::Complete { payload, frames } => {
                assert_eq!(payload, b"hello, _world!!!");
                assert_eq!(frames, 3);
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn earlier_fragment_past_the_announced_end_is_invalid() {
        // Found by the fuzzer: 24 bytes with MF=1, then a last fragment ending at 16.
        let mut r = Reassembler::new();
        assert_eq!(r.add(K, 0, true, &[0; 24]), Outcome::Held);
        assert!(matches!(r.add(K, 8, false, &[0; 8]), Outcome::Invalid(_)));
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn bounded() {
        let mut r = Reassembler::new();
        for id in 0..(MAX_PENDING as u32 + 10) {
            r.add(([1; 16], [2; 16], 17, id), 0, true, &[0; 8]);
        }
        assert_eq!(r.pending(), MAX_PENDING);
        assert_eq!(r.evicted, 10);
        assert!(matches!(
            r.add(K, 65_530, false, &[0; 8]),
            Outcome::Invalid(_)
        ));
    }
}
