//! `--json`: NDJSON, one object per packet:
//! `{"number","time","len","caplen","layers":[…],"fields":{…},"summary","warnings":[…]}`.
//! The keys of `fields` are Wireshark display-filter names. A name that occurs once has
//! its value; a name that occurs several times (two IP headers in an ICMP error, every
//! `tcp.segment` of a reassembled PDU, one `socketio.event` per packet of a polling body)
//! has an array of its values in order (like `tshark -T fields -E occurrence=a`). Integers are JSON numbers, flag bits
//! booleans, addresses strings in Wireshark's notation, bytes lowercase hex.

use std::collections::HashSet;
use std::fmt::Write;
use std::hash::{BuildHasherDefault, Hasher};

use super::write_hex;
use crate::dissect::model::{Field, Packet, Value};

/// Writes `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A cheap hasher for field names (SipHash made the JSON mode a third slower): it mixes
/// the few bytes `Key` feeds it. Collisions only cost a string comparison.
#[derive(Default)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A name keyed by the text (for equality) but hashed cheaply.
#[derive(Clone, Copy)]
struct Key(&'static str);

impl PartialEq for Key {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Key {}
impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Equal texts may live at different addresses, so hash the text's length and
        // its last bytes, which differ between field names of a protocol.
        let b = self.0.as_bytes();
        h.write_usize(b.len());
        h.write(&b[b.len().saturating_sub(8)..]);
    }
}

/// Reused between packets so that no map is allocated per packet.
#[derive(Default)]
pub struct JsonWriter {
    seen: HashSet<Key, BuildHasherDefault<NameHasher>>,
    /// Names that occur more than once in the packet, and those already written.
    repeated: Vec<&'static str>,
    done: Vec<&'static str>,
    scratch: String,
}

impl JsonWriter {
    pub fn write(&mut self, out: &mut String, pkt: &Packet) {
        let _ = write!(
            out,
            "{{\"number\":{},\"time\":{}.{:09},\"len\":{},\"caplen\":{},\"interface\":{},\"layers\":[",
            pkt.number, pkt.ts_sec, pkt.ts_nsec, pkt.len, pkt.caplen, pkt.interface
        );
        for (i, l) in pkt.layers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{}\"", l.proto.short());
        }
        out.push_str("],\"fields\":{\"frame.protocols\":");
        write_str(out, &pkt.protocols());
        let _ = write!(
            out,
            ",\"frame.number\":{},\"frame.len\":{},\"frame.cap_len\":{}",
            pkt.number, pkt.len, pkt.caplen
        );
        // First pass: the names that occur more than once (rare: a short list).
        self.seen.clear();
        self.repeated.clear();
        for f in &pkt.fields {
            for key in [f.def.key, f.def.alias] {
                if !key.is_empty() && !self.seen.insert(Key(key)) && !self.repeated.contains(&key) {
                    self.repeated.push(key);
                }
            }
        }
        // Second pass: each name once, a repeated one as the array of its values.
        self.done.clear();
        for (i, f) in pkt.fields.iter().enumerate() {
            for key in [f.def.key, f.def.alias] {
                if key.is_empty() {
                    continue;
                }
                let repeated = !self.repeated.is_empty() && self.repeated.contains(&key);
                if repeated {
                    if self.done.contains(&key) {
                        continue;
                    }
                    self.done.push(key);
                }
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":");
                if !repeated {
                    self.value(out, pkt, f);
                    continue;
                }
                out.push('[');
                self.value(out, pkt, f);
                for g in &pkt.fields[i + 1..] {
                    if g.def.key == key || g.def.alias == key {
                        out.push(',');
                        self.value(out, pkt, g);
                    }
                }
                out.push(']');
            }
        }
        out.push_str("},\"summary\":");
        self.scratch.clear();
        pkt.src.write(&mut self.scratch);
        self.scratch.push_str(" → ");
        pkt.dst.write(&mut self.scratch);
        let _ = write!(self.scratch, " {} {}", pkt.protocol, pkt.info);
        write_str(out, &self.scratch);
        out.push_str(",\"warnings\":[");
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !first {
                out.push(',');
            }
            first = false;
        };
        for l in &pkt.layers {
            if let Some(p) = &l.problem {
                sep(out);
                let s = format!("{}: {}", l.proto.short(), p.text());
                write_str(out, &s);
            }
        }
        for w in &pkt.warnings {
            sep(out);
            write_str(out, w);
        }
        out.push_str("]}\n");
    }
    /// Writes one field's value.
    fn value(&mut self, out: &mut String, pkt: &Packet, f: &Field) {
        match &f.value {
            Value::Uint(n) | Value::Hex(n, _) => {
                let _ = write!(out, "{n}");
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Text(t) => write_str(out, t),
            Value::Bytes(r) => {
                out.push('"');
                write_hex(out, pkt.data.get(r.clone()).unwrap_or(&[]), usize::MAX);
                out.push('"');
            }
            Value::Time(ns) => super::write_seconds(out, *ns),
            // A mark with no bytes of its own (tcp.analysis.retransmission): present.
            Value::Group if f.range.is_empty() => out.push_str("true"),
            Value::Group => {
                out.push('"');
                write_hex(
                    out,
                    pkt.data.get(f.range.clone()).unwrap_or(&[]),
                    usize::MAX,
                );
                out.push('"');
            }
            v => {
                self.scratch.clear();
                super::write_value(&mut self.scratch, v, &pkt.data);
                out.push('"');
                out.push_str(&self.scratch);
                out.push('"');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\n\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u0001""#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, "a\"b\\c\n\u{1}");
    }
}
