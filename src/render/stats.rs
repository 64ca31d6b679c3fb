//! `--stats`: the protocol hierarchy and the conversation tables.

use std::fmt::Write;

use crate::dissect::stats::{Conv, MARKS, Stats};
use crate::dissect::streams::Endpoint;

fn endpoint(out: &mut String, e: &Endpoint) {
    let ip = std::net::Ipv6Addr::from(e.0);
    match ip.to_ipv4_mapped() {
        Some(v4) => {
            let _ = write!(out, "{v4}:{}", e.1);
        }
        None => {
            let _ = write!(out, "[{ip}]:{}", e.1);
        }
    }
}

fn table(out: &mut String, name: &str, convs: &[Conv]) {
    let _ = writeln!(out, "{name} conversations ({}):", convs.len());
    if convs.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  {:<46} {:>8} {:>10} {:>8} {:>10} {:>10} {:>10}",
        "A <-> B", "A→B pkts", "A→B bytes", "B→A pkts", "B→A bytes", "start s", "duration s"
    );
    for c in convs {
        let mut ab = String::new();
        endpoint(&mut ab, &c.a);
        ab.push_str(" <-> ");
        endpoint(&mut ab, &c.b);
        let _ = writeln!(
            out,
            "  {:<46} {:>8} {:>10} {:>8} {:>10} {:>10.6} {:>10.6}",
            ab,
            c.a_to_b.packets,
            c.a_to_b.bytes,
            c.b_to_a.packets,
            c.b_to_a.bytes,
            c.first_nsec as f64 / 1e9,
            (c.last_nsec as i128 - c.first_nsec as i128) as f64 / 1e9
        );
    }
}

pub fn write(out: &mut String, s: &Stats) {
    let _ = writeln!(out, "Packets: {}   Bytes: {}", s.packets, s.bytes);
    let _ = writeln!(
        out,
        "Protocol hierarchy (packets, bytes, share of packets):"
    );
    for (path, c) in &s.protocols {
        let depth = path.matches(':').count();
        let name = path.rsplit(':').next().unwrap_or(path);
        let pct = if s.packets > 0 {
            100.0 * c.packets as f64 / s.packets as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {:indent$}{:<width$} {:>9} {:>12} {:>6.1}%",
            "",
            name,
            c.packets,
            c.bytes,
            pct,
            indent = depth * 2,
            width = 24usize.saturating_sub(depth * 2).max(name.len())
        );
    }
    table(out, "TCP", &s.tcp);
    table(out, "UDP", &s.udp);
    expert(out, s);
}

/// The TCP analysis marks per stream: Wireshark's expert information, for TCP.
fn expert(out: &mut String, s: &Stats) {
    let total: u64 = s.expert.values().flat_map(|e| e.counts.values()).sum();
    let _ = writeln!(
        out,
        "TCP analysis marks ({total}: what TCP's reliability had to do, per stream):"
    );
    for (stream, e) in &s.expert {
        let mut line = format!("  stream {stream}");
        if let (Some(a), Some(b)) = (&e.a, &e.b) {
            line.push_str(" (");
            endpoint(&mut line, a);
            line.push_str(" <-> ");
            endpoint(&mut line, b);
            line.push(')');
        }
        let _ = writeln!(out, "{line}:");
        let mut row = String::from("   ");
        for (m, n) in &e.counts {
            let item = format!(" {n} {}", MARKS[*m]);
            if row.len() + item.len() + 1 > 80 {
                let _ = writeln!(out, "{row}");
                row = String::from("   ");
            }
            row.push_str(&item);
            row.push(',');
        }
        let _ = writeln!(out, "{}", row.trim_end_matches(','));
    }
}
