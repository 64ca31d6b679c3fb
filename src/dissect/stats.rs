//! `--stats`: packets and bytes per protocol (like `tshark -z io,phs`) and the TCP/UDP
//! conversations (like `tshark -z conv,tcp` / `conv,udp`).

use std::collections::{BTreeMap, HashMap};

use super::model::{Packet, Proto, Value};
use super::streams::Endpoint;

#[derive(Debug, Default, Clone)]
pub struct Count {
    pub packets: u64,
    pub bytes: u64,
}

/// One UDP or TCP conversation between two endpoints.
#[derive(Debug, Clone)]
pub struct Conv {
    pub a: Endpoint,
    pub b: Endpoint,
    /// Frames and bytes from a to b, and from b to a.
    pub a_to_b: Count,
    pub b_to_a: Count,
    pub first_nsec: i64,
    pub last_nsec: i64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    /// Keyed by the protocol path, e.g. `eth:ip:tcp`.
    pub protocols: BTreeMap<String, Count>,
    pub tcp: Vec<Conv>,
    pub udp: Vec<Conv>,
    index: HashMap<(bool, Endpoint, Endpoint), usize>,
    /// Wireshark's expert summary for TCP: per stream, how often each analysis mark
    /// (`tcp.analysis.retransmission`…) was set.
    pub expert: BTreeMap<u32, Expert>,
}

/// One TCP stream's analysis marks.
#[derive(Debug, Default, Clone)]
pub struct Expert {
    /// The endpoints, as first seen.
    pub a: Option<Endpoint>,
    pub b: Option<Endpoint>,
    /// Mark name (without `tcp.analysis.`) and count, in the order of [`MARKS`].
    pub counts: BTreeMap<usize, u64>,
}

/// The marks counted, in the order they are listed.
pub const MARKS: [&str; 14] = [
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "lost_segment",
    "ack_lost_segment",
    "duplicate_ack",
    "zero_window",
    "zero_window_probe",
    "zero_window_probe_ack",
    "window_full",
    "window_update",
    "keep_alive",
    "keep_alive_ack",
];

/// The packet's source or destination endpoint (IP address and port).
fn endpoint(pkt: &Packet, side: &str, port: &str) -> Option<Endpoint> {
    let ip = pkt
        .field(&format!("ip.{side}"))
        .or_else(|| pkt.field(&format!("ipv6.{side}")))?;
    let Some(Value::Uint(p)) = pkt.field(port).map(|f| &f.value) else {
        return None;
    };
    Some((addr_key(&ip.value)?, *p as u16))
}

fn addr_key(v: &Value) -> Option<[u8; 16]> {
    match v {
        Value::Ipv4(a) => Some(std::net::Ipv4Addr::from(*a).to_ipv6_mapped().octets()),
        Value::Ipv6(a) => Some(*a),
        _ => None,
    }
}

impl Stats {
    /// Counts the TCP analysis marks of the packet's stream.
    fn expert(&mut self, pkt: &Packet) {
        let mut marks = pkt
            .fields
            .iter()
            .filter(|f| !f.hidden)
            .filter_map(|f| f.def.key.strip_prefix("tcp.analysis."))
            .filter_map(|m| MARKS.iter().position(|k| *k == m))
            .peekable();
        if marks.peek().is_none() {
            return;
        }
        let Some(Value::Uint(stream)) = pkt.field("tcp.stream").map(|f| &f.value) else {
            return;
        };
        let e = self.expert.entry(*stream as u32).or_default();
        for m in marks {
            *e.counts.entry(m).or_default() += 1;
        }
        if e.a.is_none() {
            e.a = endpoint(pkt, "src", "tcp.srcport");
            e.b = endpoint(pkt, "dst", "tcp.dstport");
        }
    }

    pub fn add(&mut self, pkt: &Packet) {
        self.packets += 1;
        self.bytes += pkt.len as u64;
        let mut path = String::new();
        for l in &pkt.layers {
            // Several messages of one application protocol in a frame count once.
            if l.proto.is_application() && path.split(':').any(|t| t == l.proto.short()) {
                continue;
            }
            if !path.is_empty() {
                path.push(':');
            }
            path.push_str(l.proto.short());
            let c = self.protocols.entry(path.clone()).or_default();
            c.packets += 1;
            c.bytes += pkt.len as u64;
        }
        let tcp = pkt.has(Proto::Tcp);
        if !tcp && !pkt.has(Proto::Udp) {
            return;
        }
        if tcp {
            self.expert(pkt);
        }
        let (sk, dk) = if tcp {
            ("tcp.srcport", "tcp.dstport")
        } else {
            ("udp.srcport", "udp.dstport")
        };
        let src = pkt.field("ip.src").or_else(|| pkt.field("ipv6.src"));
        let dst = pkt.field("ip.dst").or_else(|| pkt.field("ipv6.dst"));
        let (Some(src), Some(dst)) = (
            src.and_then(|f| addr_key(&f.value)),
            dst.and_then(|f| addr_key(&f.value)),
        ) else {
            return;
        };
        let port = |k: &str| match pkt.field(k).map(|f| &f.value) {
            Some(Value::Uint(n)) => Some(*n as u16),
            _ => None,
        };
        let (Some(sp), Some(dp)) = (port(sk), port(dk)) else {
            return;
        };
        let (s, d) = ((src, sp), (dst, dp));
        let key = if s <= d { (tcp, s, d) } else { (tcp, d, s) };
        let list = if tcp { &mut self.tcp } else { &mut self.udp };
        let i = *self.index.entry(key).or_insert_with(|| {
            list.push(Conv {
                a: s,
                b: d,
                a_to_b: Count::default(),
                b_to_a: Count::default(),
                first_nsec: pkt.rel_nsec,
                last_nsec: pkt.rel_nsec,
            });
            list.len() - 1
        });
        let conv = &mut list[i];
        // `a` is whoever spoke first.
        let c = if conv.a == s {
            &mut conv.a_to_b
        } else {
            &mut conv.b_to_a
        };
        c.packets += 1;
        c.bytes += pkt.len as u64;
        conv.last_nsec = pkt.rel_nsec;
    }
}
