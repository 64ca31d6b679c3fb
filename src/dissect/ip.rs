//! The network layer: IPv4 (with options, checksum verification, fragment reassembly)
//! and IPv6 (with its extension-header chain).

use std::fmt::Write;

use super::model::Host;
use super::reassembly::Outcome;
use super::{Addr, Dissector, Next, Out, Proto, Value, headline, note, padded};
use crate::wire::ipv4::{self, Protocol};
use crate::wire::ipv6;

pub(crate) fn dissect_ip(
    out: &mut Out,
    d: &mut Dissector,
    data: &[u8],
    at: usize,
    end: usize,
) -> Next {
    let Some(&first) = data.get(at) else {
        if let Some(l) = out.pkt.layers.last_mut()
            && l.problem.is_none()
        {
            l.problem = Some(super::Problem::Truncated(
                "the capture ends before the IP header".into(),
            ));
        }
        return Next::Stop;
    };
    match first >> 4 {
        4 => ipv4(out, d, data, at, end),
        6 => ipv6(out, d, data, at, end),
        v => {
            out.begin(Proto::Ip, at);
            out.push_bits(0, &ipv4::VERSION, at..at + 1, 0xf0, Value::Uint(v as u64));
            out.malformed(format!("IP version {v} (expected 4 or 6)"));
            out.end(at + 1);
            Next::Payload(at + 1, end)
        }
    }
}

/// What a fragment led to: held (its bytes shown as data), a complete datagram (the
/// layers above are dissected from the reassembled bytes), or an invalid fragment.
fn reassembled(
    out: &mut Out,
    outcome: Outcome,
    proto: u8,
    (src, dst): (Addr, Addr),
    at: usize,
    end: usize,
) -> Next {
    match outcome {
        Outcome::Held => Next::Payload(at, end),
        Outcome::Complete { payload, frames } => {
            out.pkt.info.clear();
            headline!(
                out,
                " [reassembled from {frames} fragments, {} bytes]",
                payload.len()
            );
            Next::Reassembled {
                proto,
                payload,
                src,
                dst,
            }
        }
        Outcome::Invalid(why) => {
            out.malformed(why);
            Next::Payload(at, end)
        }
    }
}

fn proto_name(p: u8) -> &'static str {
    Protocol::from(p).name()
}

fn ipv4(out: &mut Out, d: &mut Dissector, data: &[u8], at: usize, end: usize) -> Next {
    out.begin(Proto::Ip, at);
    let h = padded::<60>(data, at);
    let p = ipv4::Packet::new_unchecked(&h[..]);
    use ipv4::field as F;
    let r = |f: std::ops::Range<usize>| at + f.start..at + f.end;
    let b = |i: usize| at + i..at + i + 1;
    let hl = p.header_len() as usize;
    out.push_bits(
        0,
        &ipv4::VERSION,
        b(F::VER_IHL),
        0xf0,
        Value::Uint(p.version() as u64),
    );
    out.push_bits(0, &ipv4::IHL, b(F::VER_IHL), 0x0f, Value::Uint(hl as u64));
    note!(out, "({} x 4 bytes)", hl / 4);
    out.push_bits(
        0,
        &ipv4::DSCP,
        b(F::DSCP_ECN),
        0xfc,
        Value::Uint(p.dscp() as u64),
    );
    out.push_bits(
        0,
        &ipv4::ECN,
        b(F::DSCP_ECN),
        0x03,
        Value::Uint(p.ecn() as u64),
    );
    let total = p.total_len() as usize;
    out.push(0, &ipv4::LENGTH, r(F::LENGTH), Value::Uint(total as u64));
    out.push(
        0,
        &ipv4::IDENT,
        r(F::IDENT),
        Value::Hex(p.ident() as u64, 4),
    );
    note!(out, "({})", p.ident());
    out.push_bits(
        0,
        &ipv4::FLAGS,
        r(F::FLG_OFF),
        0xe000,
        Value::Hex(p.flags() as u64, 2),
    );
    out.note(match (p.dont_frag(), p.more_frags()) {
        (true, false) => "(Don't fragment)",
        (false, true) => "(More fragments)",
        (true, true) => "(Don't fragment, More fragments)",
        (false, false) => "",
    });
    out.push_bits(
        1,
        &ipv4::FLAG_RB,
        r(F::FLG_OFF),
        0x8000,
        Value::Bool(p.flags() & 4 != 0),
    );
    out.push_bits(
        1,
        &ipv4::FLAG_DF,
        r(F::FLG_OFF),
        0x4000,
        Value::Bool(p.dont_frag()),
    );
    out.push_bits(
        1,
        &ipv4::FLAG_MF,
        r(F::FLG_OFF),
        0x2000,
        Value::Bool(p.more_frags()),
    );
    let frag_off = p.frag_offset() as usize;
    out.push_bits(
        0,
        &ipv4::FRAG_OFFSET,
        r(F::FLG_OFF),
        0x1fff,
        Value::Uint(frag_off as u64 / 8),
    );
    note!(out, "({frag_off} bytes)");
    out.push(0, &ipv4::TTL, b(F::TTL), Value::Uint(p.ttl() as u64));
    let proto = p.protocol();
    out.push(
        0,
        &ipv4::PROTOCOL,
        b(F::PROTOCOL),
        Value::Uint(proto as u64),
    );
    note!(out, "({})", proto_name(proto));
    let header_ok = hl >= ipv4::HEADER_LEN;
    let ck = p.checksum();
    if out.push(0, &ipv4::CHECKSUM, r(F::CHECKSUM), Value::Hex(ck as u64, 4))
        && header_ok
        && data.len() >= at + hl
    {
        let want = p.expected_checksum();
        if want == ck {
            out.note("[correct]");
        } else {
            note!(out, "[incorrect, should be 0x{want:04x}]");
            out.warn(format!(
                "IPv4 header checksum 0x{ck:04x} is wrong (should be 0x{want:04x})"
            ));
        }
    }
    let (src, dst) = (p.src_addr(), p.dst_addr());
    out.push(0, &ipv4::SRC, r(F::SRC_ADDR), Value::Ipv4(src));
    let ok = out.push(0, &ipv4::DST, r(F::DST_ADDR), Value::Ipv4(dst));
    if out.detail {
        let hlw = out.headline();
        let _ = write!(
            hlw,
            "Src: {}, Dst: {}",
            std::net::Ipv4Addr::from(src),
            std::net::Ipv4Addr::from(dst)
        );
    }
    if !ok {
        return Next::Stop;
    }
    if !out.quoted {
        out.ttl = Some(p.ttl());
        out.pkt.src = Host::Ipv4(src);
        out.pkt.dst = Host::Ipv4(dst);
    }
    if !header_ok {
        out.malformed(format!(
            "header length {hl} is below the minimum of 20 bytes"
        ));
        out.end(at + ipv4::HEADER_LEN);
        return Next::Stop;
    }
    if hl > ipv4::HEADER_LEN {
        options(out, &h[..hl], at);
    }
    out.end(at + hl);
    if out.is_truncated() {
        return Next::Stop;
    }
    // The datagram ends where its total length says, unless the capture (or an
    // enclosing header) ends first; bytes past it are link-layer padding.
    if total < hl {
        out.malformed(format!(
            "total length {total} is smaller than the header ({hl})"
        ));
        return Next::Stop;
    }
    let dgram_end = at + total;
    // Cut by the snaplen: trust the length field (Wireshark's "reported length"), so
    // the layers above know how long they really were; their fields stop at the bytes
    // captured.
    let snapped = (out.pkt.caplen as usize) < out.pkt.len as usize && !out.quoted;
    let payload_end = if snapped {
        dgram_end
    } else {
        dgram_end.min(end)
    };
    if dgram_end > end && !out.quoted {
        if data.len() < out.pkt.len as usize {
            out.truncated(format!(
                "total length says {total} bytes, {} captured",
                end.saturating_sub(at)
            ));
        } else {
            out.malformed(format!(
                "total length {total} is beyond the {} bytes present",
                end.saturating_sub(at)
            ));
        }
    }
    let (sa, da) = (Addr::V4(src), Addr::V4(dst));
    if (p.more_frags() || frag_off > 0) && !out.quoted {
        let _ = write!(
            out.pkt.info,
            "Fragmented IP protocol (proto={} {proto}, off={frag_off}, ID={:04x})",
            proto_name(proto),
            p.ident()
        );
        out.pkt.protocol = "IPv4";
        if dgram_end > data.len() {
            return Next::Stop;
        }
        let key = (sa.key(), da.key(), proto, p.ident() as u32);
        let piece = &data[at + hl..dgram_end];
        let outcome = d.frags.add(key, frag_off, p.more_frags(), piece);
        return reassembled(out, outcome, proto, (sa, da), at + hl, payload_end);
    }
    Next::Transport {
        proto,
        at: at + hl,
        end: payload_end,
        src: sa,
        dst: da,
    }
}

fn options(out: &mut Out, hdr: &[u8], at: usize) {
    let start = at + ipv4::field::OPTIONS;
    out.push(
        1,
        &ipv4::OPTIONS,
        start..at + hdr.len(),
        super::Value::Group,
    );
    let mut i = ipv4::field::OPTIONS;
    while i < hdr.len() {
        let kind = hdr[i];
        let len = match kind {
            0 | 1 => 1,
            _ => match hdr.get(i + 1) {
                Some(&l) if l >= 2 && i + l as usize <= hdr.len() => l as usize,
                _ => {
                    out.malformed(format!("IPv4 option {kind} has a bad length"));
                    return;
                }
            },
        };
        out.push(
            2,
            &ipv4::OPTION,
            at + i..at + i + len,
            Value::Uint(kind as u64),
        );
        note!(out, "({}, {len} bytes)", ipv4::option_name(kind));
        i += len;
        if kind == 0 {
            break;
        }
    }
}

fn ipv6(out: &mut Out, d: &mut Dissector, data: &[u8], at: usize, end: usize) -> Next {
    out.begin(Proto::Ipv6, at);
    let h = padded::<40>(data, at);
    let p = ipv6::Packet::new_unchecked(&h[..]);
    use ipv6::field as F;
    let r = |f: std::ops::Range<usize>| at + f.start..at + f.end;
    out.push_bits(
        0,
        &ipv6::VERSION,
        at..at + 1,
        0xf0,
        Value::Uint(p.version() as u64),
    );
    out.push_bits(
        0,
        &ipv6::TCLASS,
        at..at + 2,
        0x0ff0,
        Value::Hex(p.traffic_class() as u64, 2),
    );
    out.push_bits(
        0,
        &ipv6::FLOW,
        at + 1..at + 4,
        0x0f_ffff,
        Value::Hex(p.flow_label() as u64, 5),
    );
    let plen = p.payload_len() as usize;
    out.push(0, &ipv6::PLEN, r(F::LENGTH), Value::Uint(plen as u64));
    let mut nh = p.next_header();
    out.push(
        0,
        &ipv6::NXT,
        at + F::NXT_HDR..at + F::NXT_HDR + 1,
        Value::Uint(nh as u64),
    );
    note!(out, "({})", proto_name(nh));
    out.push(
        0,
        &ipv6::HLIM,
        at + F::HOP_LIMIT..at + F::HOP_LIMIT + 1,
        Value::Uint(p.hop_limit() as u64),
    );
    let (src, dst) = (p.src_addr(), p.dst_addr());
    out.push(0, &ipv6::SRC, r(F::SRC_ADDR), Value::Ipv6(src));
    let ok = out.push(0, &ipv6::DST, r(F::DST_ADDR), Value::Ipv6(dst));
    if out.detail {
        let hl = out.headline();
        hl.push_str("Src: ");
        ipv6::fmt_addr(&src, hl);
        hl.push_str(", Dst: ");
        ipv6::fmt_addr(&dst, hl);
    }
    if !ok {
        return Next::Stop;
    }
    if !out.quoted {
        out.ttl = Some(p.hop_limit());
        out.pkt.src = Host::Ipv6(src);
        out.pkt.dst = Host::Ipv6(dst);
    }
    let pkt_end = at + ipv6::HEADER_LEN + plen;
    if pkt_end > end && !out.quoted {
        if data.len() < out.pkt.len as usize {
            out.truncated(format!(
                "payload length says {plen} bytes, {} captured",
                end.saturating_sub(at + 40)
            ));
        } else {
            out.malformed(format!(
                "payload length {plen} is beyond the {} bytes present",
                end.saturating_sub(at + 40)
            ));
        }
    }
    let snapped = (out.pkt.caplen as usize) < out.pkt.len as usize && !out.quoted;
    let end = if snapped { pkt_end } else { pkt_end.min(end) };
    // Walk the extension headers (RFC 8200 § 4.1 order, but any order is decoded).
    let mut i = at + ipv6::HEADER_LEN;
    let mut frag: Option<(u16, bool, u32)> = None;
    let mut count = 0;
    while ipv6::is_extension(nh) {
        count += 1;
        if count > 16 {
            out.malformed("more than 16 IPv6 extension headers");
            out.end(i);
            return Next::Stop;
        }
        let buf = &data[i.min(data.len())..end.max(i).min(data.len())];
        let ext = match ipv6::parse_ext(nh, buf) {
            Ok(e) => e,
            Err(e) => {
                out.truncated(format!("{}: {e}", proto_name(nh)));
                out.end(i);
                return Next::Stop;
            }
        };
        let def = match nh {
            0 => &ipv6::HOPOPTS,
            43 => &ipv6::ROUTING,
            44 => &ipv6::FRAGMENT,
            _ => &ipv6::DSTOPTS,
        };
        out.push(1, def, i..i + ext.len, Value::Group);
        out.push(
            2,
            &ipv6::EXT_NXT,
            i..i + 1,
            Value::Uint(ext.next_header as u64),
        );
        note!(out, "({})", proto_name(ext.next_header));
        if nh == 44 {
            let (off, more, id) = ipv6::fragment_fields(buf);
            out.push_bits(
                2,
                &ipv6::FRAG_OFFSET,
                i + 2..i + 4,
                0xfff8,
                Value::Uint(off as u64),
            );
            out.push_bits(2, &ipv6::FRAG_MORE, i + 2..i + 4, 0x0001, Value::Bool(more));
            out.push(2, &ipv6::FRAG_ID, i + 4..i + 8, Value::Hex(id as u64, 8));
            frag = Some((off, more, id));
        } else {
            out.push(2, &ipv6::EXT_LEN, i + 1..i + 2, Value::Uint(ext.len as u64));
            if nh == 43 {
                out.push(
                    2,
                    &ipv6::ROUTING_TYPE,
                    i + 2..i + 3,
                    Value::Uint(buf[2] as u64),
                );
                out.push(
                    2,
                    &ipv6::ROUTING_SEGLEFT,
                    i + 3..i + 4,
                    Value::Uint(buf[3] as u64),
                );
                out.push(
                    2,
                    &ipv6::EXT_DATA,
                    i + 4..i + ext.len,
                    Value::Bytes(i + 4..i + ext.len),
                );
            } else {
                out.push(
                    2,
                    &ipv6::EXT_DATA,
                    i + 2..i + ext.len,
                    Value::Bytes(i + 2..i + ext.len),
                );
            }
        }
        nh = ext.next_header;
        i += ext.len;
    }
    out.end(i);
    let (sa, da) = (Addr::V6(src), Addr::V6(dst));
    if let Some((off, more, id)) = frag
        && !out.quoted
        && (off > 0 || more)
    {
        let _ = write!(
            out.pkt.info,
            "IPv6 fragment (off={off} more={} ident=0x{id:08x} nxt={nh})",
            if more { "y" } else { "n" }
        );
        out.pkt.protocol = "IPv6";
        if end > data.len() || i > end {
            return Next::Stop;
        }
        let key = (sa.key(), da.key(), nh, id);
        let outcome = d.frags.add(key, off as usize, more, &data[i..end]);
        return reassembled(out, outcome, nh, (sa, da), i, end);
    }
    if nh == 59 {
        return Next::Stop;
    }
    Next::Transport {
        proto: nh,
        at: i,
        end,
        src: sa,
        dst: da,
    }
}
