//! `-v`: one block per layer — the onion — each field with its value, its meaning for a
//! learner, and where it sits in the bytes (`@offset+length`).

use std::fmt::Write;

use super::{Paint, Style, layer_color, write_value};
use crate::dissect::model::{Field, Packet, Value};
use crate::wire::link::LinkType;

/// UTC calendar date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// `2026-11-25 21:42:14.123456789 UTC`
pub fn write_utc(out: &mut String, sec: i64, nsec: u32) {
    let (y, mo, d) = civil(sec.div_euclid(86_400));
    let s = sec.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{nsec:09} UTC",
        s / 3600,
        (s / 60) % 60,
        s % 60
    );
}

/// `0100 .... ` for a 4-bit field in the top of a byte: the learner sees which bits.
fn write_bits(out: &mut String, f: &Field, data: &[u8]) {
    let (Some(mask), n) = (f.bits, f.range.len()) else {
        return;
    };
    if n == 0 || n > 4 {
        return;
    }
    let mut word: u32 = 0;
    for &b in data.get(f.range.clone()).unwrap_or(&[]) {
        word = (word << 8) | b as u32;
    }
    let width = n * 8;
    for i in (0..width).rev() {
        let bit = 1u32 << i;
        out.push(if mask & bit == 0 {
            '.'
        } else if word & bit != 0 {
            '1'
        } else {
            '0'
        });
        if i % 4 == 0 && i != 0 {
            out.push(' ');
        }
    }
    out.push_str(" = ");
}

pub fn write(out: &mut String, pkt: &Packet, style: Style) {
    let _ = write!(
        out,
        "Frame {}: {} bytes on wire, {} bytes captured, interface {}, link type {} ({}), ",
        pkt.number,
        pkt.len,
        pkt.caplen,
        pkt.interface,
        pkt.linktype,
        LinkType::from(pkt.linktype).name()
    );
    write_utc(out, pkt.ts_sec, pkt.ts_nsec);
    out.push('\n');
    for (li, layer) in pkt.layers.iter().enumerate() {
        let code = layer_color(layer.proto);
        let last = li + 1 == pkt.layers.len();
        out.push_str(if last { "└─ " } else { "├─ " });
        style.start(out, code.bold());
        out.push_str(layer.proto.title());
        style.reset(out);
        if !layer.headline.is_empty() {
            out.push_str(", ");
            out.push_str(&layer.headline);
        }
        // Offsets count from the start of the buffer the bytes are in: the frame, or
        // a source of netlab's (reassembled, unmasked…) that `-x` dumps on its own.
        let (layer_src, r) = pkt.locate(&layer.range);
        if r.end > r.start {
            let _ = write!(out, "  [bytes {}-{}", r.start, r.end - 1);
            if let Some(s) = layer_src {
                let _ = write!(out, " of {}", s.label);
            }
            let _ = write!(out, ", {} bytes]", r.len());
        }
        out.push('\n');
        let bar = if last { "   " } else { "│  " };
        for f in pkt.layer_fields(layer).iter().filter(|f| !f.hidden) {
            out.push_str(bar);
            for _ in 0..=f.depth {
                out.push_str("  ");
            }
            write_bits(out, f, &pkt.data);
            if f.generated {
                out.push('[');
            }
            style.paint(out, code, f.def.name);
            if !matches!(f.value, Value::Group) {
                out.push_str(": ");
                write_value(out, &f.value, &pkt.data);
                if matches!(f.value, Value::Time(_)) {
                    out.push_str(" seconds");
                }
            }
            if let Some(n) = f.note.as_deref().filter(|n| !n.is_empty()) {
                out.push(' ');
                out.push_str(n);
            }
            if f.generated {
                out.push(']');
            }
            style.start(out, Paint::NOTE);
            let _ = write!(out, " — {}", f.def.meaning);
            if !f.range.is_empty() && !f.generated {
                let (src, r) = pkt.locate(&f.range);
                let _ = write!(out, "  @{}+{}", r.start, r.len());
                if let Some(s) = src.filter(|s| Some(*s) != layer_src) {
                    let _ = write!(out, " in {}", s.label);
                } else if src.is_none() && layer_src.is_some() {
                    out.push_str(" in the frame");
                }
            }
            style.reset(out);
            out.push('\n');
        }
        if let Some(p) = &layer.problem {
            out.push_str(bar);
            out.push_str("  ");
            style.paint(out, Paint::ERROR, &p.text());
            out.push('\n');
        }
    }
    for w in &pkt.warnings {
        out.push_str("   ");
        style.paint(out, Paint::WARNING, &format!("warning: {w}"));
        out.push('\n');
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        let mut s = String::new();
        write_utc(&mut s, 0, 0);
        assert_eq!(s, "1970-01-01 00:00:00.000000000 UTC");
        s.clear();
        // 2024-02-29 12:34:56 UTC
        write_utc(&mut s, 1_709_210_096, 5);
        assert_eq!(s, "2024-02-29 12:34:56.000000005 UTC");
    }
}
