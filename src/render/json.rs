//! `--json`: NDJSON, one object per packet:
//! `{"number","time","len","caplen","layers":[…],"fields":{…},"summary","warnings":[…]}`.
//! The keys of `fields` are Wireshark display-filter names; the first occurrence of each
//! wins (like `tshark -T fields -E occurrence=f`). Integers are JSON numbers, flag bits
//! booleans, addresses strings in Wireshark's notation, bytes lowercase hex.

use std::collections::HashSet;
use std::fmt::Write;

use super::write_hex;
use crate::dissect::model::{Packet, Proto, Value};

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

/// Reused between packets so that no set is allocated per packet.
#[derive(Default)]
pub struct JsonWriter {
    seen: HashSet<&'static str>,
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
        self.seen.clear();
        for f in &pkt.fields {
            let key = f.def.key;
            if key.is_empty() || !self.seen.insert(key) {
                continue;
            }
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":");
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
                Value::Group => {
                    out.push('"');
                    write_hex(out, pkt.data.get(f.range.clone()).unwrap_or(&[]), usize::MAX);
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
        out.push_str("},\"summary\":");
        self.scratch.clear();
        let _ = write!(self.scratch, "{} → {} {} {}", pkt.src, pkt.dst, pkt.protocol, pkt.info);
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
}

/// The layer list without the pseudo-layers, for tests and filters.
pub fn layer_names(pkt: &Packet) -> Vec<&'static str> {
    pkt.layers
        .iter()
        .filter(|l| l.proto != Proto::Frame)
        .map(|l| l.proto.short())
        .collect()
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
