//! Follow a stream, like Wireshark's "Follow TCP Stream": the bytes each side sent to the
//! application, in order, once each — retransmissions and overlaps cut, out-of-order
//! segments put back in place (the same [`Flow`] the application dissectors read from).
//!
//! The conversation comes out as [`Event`]s, in stream order per side and in capture
//! order between the sides: a run of bytes from one side, or a hole the capture does
//! not fill. Node 0 (the "client") is the side that sent the SYN, or else the first
//! segment; a UDP conversation's node 0 sent the first datagram.

use super::app::flow::{Accept, Budget, Flow};
use super::streams::Endpoint;
use crate::wire::tcp::flags::{ACK, SYN};

/// Which stream to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Tcp(u32),
    Udp(u32),
}

impl Target {
    /// Wireshark's forms: `tcp.stream==N` (or `eq`), `udp.stream==N`, or `N` for TCP.
    pub fn parse(s: &str) -> Result<Target, String> {
        let t = s.trim();
        let num = |n: &str| {
            n.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{n}` is not a stream number (0, 1, 2…)"))
        };
        for (prefix, tcp) in [("tcp.stream", true), ("udp.stream", false)] {
            if let Some(rest) = t.strip_prefix(prefix) {
                let rest = rest.trim_start();
                let n = rest
                    .strip_prefix("==")
                    .or_else(|| rest.strip_prefix("eq "))
                    .ok_or_else(|| format!("`{s}`: expected {prefix}==N"))?;
                let n = num(n)?;
                return Ok(if tcp { Target::Tcp(n) } else { Target::Udp(n) });
            }
        }
        num(t).map(Target::Tcp).map_err(|e| {
            format!("{e}; follow a stream as tcp.stream==N, udp.stream==N or N (a TCP stream)")
        })
    }
}

/// What the followed conversation did next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes node `node` (0 or 1) sent, in order, from `frame`.
    Data {
        node: usize,
        frame: u64,
        bytes: Vec<u8>,
    },
    /// Bytes of node `node` the capture does not have.
    Missing { node: usize, bytes: u64 },
}

/// The followed stream's state and the events not yet taken.
#[derive(Debug)]
pub struct Follow {
    pub target: Target,
    /// The two endpoints: node 0 and node 1, once seen.
    pub nodes: Option<[Endpoint; 2]>,
    /// Node 0's direction in the tracker's numbering.
    node0_dir: Option<usize>,
    flows: [Flow; 2],
    budget: Budget,
    pub events: Vec<Event>,
    /// Bytes each node sent (in order, once each), and how many frames carried them.
    pub totals: [(u64, u64); 2],
    pub missing: [u64; 2],
    /// Frames of the stream seen.
    pub frames: u64,
}

impl Follow {
    pub fn new(target: Target) -> Follow {
        Follow {
            target,
            nodes: None,
            node0_dir: None,
            flows: [Flow::default(), Flow::default()],
            budget: Budget::default(),
            events: Vec::new(),
            totals: [(0, 0); 2],
            missing: [0; 2],
            frames: 0,
        }
    }

    fn node(&mut self, dir: usize, src: Endpoint, dst: Endpoint) -> usize {
        let d0 = *self.node0_dir.get_or_insert(dir);
        self.nodes
            .get_or_insert(if dir == d0 { [src, dst] } else { [dst, src] });
        usize::from(dir != d0)
    }

    fn data(&mut self, node: usize, frame: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.totals[node].0 += bytes.len() as u64;
        self.totals[node].1 += 1;
        // Consecutive bytes of one side from one frame join.
        if let Some(Event::Data {
            node: n,
            frame: f,
            bytes: b,
        }) = self.events.last_mut()
            && *n == node
            && *f == frame
        {
            b.extend_from_slice(bytes);
            return;
        }
        self.events.push(Event::Data {
            node,
            frame,
            bytes: bytes.to_vec(),
        });
    }

    fn missing(&mut self, node: usize, n: u64) {
        if n > 0 {
            self.missing[node] += n;
            self.events.push(Event::Missing { node, bytes: n });
        }
    }

    /// A TCP segment of the followed stream (`seq` relative; the SYN decides node 0).
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        dir: usize,
        src: Endpoint,
        dst: Endpoint,
        seq: u32,
        flags: u16,
        payload: &[u8],
        frame: u64,
    ) {
        self.frames += 1;
        if flags & (SYN | ACK) == SYN && self.node0_dir.is_none() {
            self.node0_dir = Some(dir);
        }
        let node = self.node(dir, src, dst);
        if flags & SYN != 0 {
            self.flows[dir].begin_at(seq.wrapping_add(1));
        } else {
            self.flows[dir].begin_at(1);
        }
        if payload.is_empty() {
            return;
        }
        match self.flows[dir].accept(seq, payload.len(), frame, payload, &mut self.budget) {
            Accept::New { trim } => {
                self.data(node, frame, &payload[trim..]);
                while let Some((f, b)) = self.flows[dir].pop_held(&mut self.budget) {
                    self.data(node, f, &b);
                }
            }
            Accept::Dropped => {
                // The out-of-order buffer is full: give the hole up.
                self.flush_held(dir, node);
                if let Accept::New { trim } =
                    self.flows[dir].accept(seq, payload.len(), frame, payload, &mut self.budget)
                {
                    self.data(node, frame, &payload[trim..]);
                }
            }
            Accept::Old | Accept::Held => {}
        }
    }

    /// Gives up the holes before held segments of `dir`, delivering what follows them.
    fn flush_held(&mut self, dir: usize, node: usize) {
        loop {
            let gap = self.flows[dir].hole_before_held(u64::MAX);
            if gap == u64::MAX {
                return;
            }
            self.flows[dir].skip_hole(gap);
            self.missing(node, gap);
            let mut any = false;
            while let Some((f, b)) = self.flows[dir].pop_held(&mut self.budget) {
                self.data(node, f, &b);
                any = true;
            }
            if !any {
                return;
            }
        }
    }

    /// A UDP datagram of the followed conversation.
    pub fn udp(&mut self, dir: usize, src: Endpoint, dst: Endpoint, payload: &[u8], frame: u64) {
        self.frames += 1;
        let node = self.node(dir, src, dst);
        self.data(node, frame, payload);
    }

    /// The capture ended: segments still held lie beyond holes it never filled.
    pub fn finish(&mut self) {
        for dir in 0..2 {
            let node = usize::from(Some(dir) != self.node0_dir);
            self.flush_held(dir, node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_in_wiresharks_forms() {
        assert_eq!(Target::parse("tcp.stream==3"), Ok(Target::Tcp(3)));
        assert_eq!(Target::parse("tcp.stream eq 3"), Ok(Target::Tcp(3)));
        assert_eq!(Target::parse("udp.stream == 0"), Ok(Target::Udp(0)));
        assert_eq!(Target::parse("7"), Ok(Target::Tcp(7)));
        assert!(Target::parse("ip.addr==1.2.3.4").is_err());
        assert!(Target::parse("tcp.stream==x").is_err());
    }

    #[test]
    fn bytes_come_out_in_order_once_with_holes_named() {
        let a = ([1; 16], 1000);
        let b = ([2; 16], 80);
        let mut f = Follow::new(Target::Tcp(0));
        f.tcp(0, a, b, 0, SYN, b"", 1);
        f.tcp(0, a, b, 7, ACK, b"world", 2); // ahead of "hello "
        f.tcp(0, a, b, 1, ACK, b"hello ", 3);
        f.tcp(0, a, b, 1, ACK, b"hello ", 4); // retransmitted
        f.tcp(1, b, a, 1, ACK, b"ok", 5);
        f.tcp(0, a, b, 20, ACK, b"late", 6); // after a hole of 9 bytes
        f.finish();
        assert_eq!(
            f.events,
            vec![
                Event::Data {
                    node: 0,
                    frame: 3,
                    bytes: b"hello ".to_vec()
                },
                Event::Data {
                    node: 0,
                    frame: 2,
                    bytes: b"world".to_vec()
                },
                Event::Data {
                    node: 1,
                    frame: 5,
                    bytes: b"ok".to_vec()
                },
                Event::Missing { node: 0, bytes: 8 },
                Event::Data {
                    node: 0,
                    frame: 6,
                    bytes: b"late".to_vec()
                },
            ]
        );
        assert_eq!(f.totals, [(15, 3), (2, 1)]);
        assert_eq!(f.nodes, Some([a, b]));
    }
}
