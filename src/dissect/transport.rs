//! The transport layer (TCP, UDP), ICMP/ICMPv6, and the payload above them.

use std::fmt::Write;

use super::streams::Segment;
use super::{
    Addr, Dissector, Next, Out, Proto, Value, analysis, app, follow, headline, note, padded,
};
use crate::wire::tcp::{self, TcpOption, flags as tf};
use crate::wire::{checksum, icmp, icmpv6, udp};

#[allow(clippy::too_many_arguments)]
pub(crate) fn dissect(
    out: &mut Out,
    d: &mut Dissector,
    data: &[u8],
    proto: u8,
    at: usize,
    end: usize,
    src: Addr,
    dst: Addr,
) -> Next {
    match proto {
        tcp::PROTOCOL => dissect_tcp(out, d, data, at, end, src, dst),
        udp::PROTOCOL => dissect_udp(out, d, data, at, end, src, dst),
        1 if matches!(src, Addr::V4(_)) => dissect_icmp(out, data, at, end),
        icmpv6::PROTOCOL => dissect_icmpv6(out, data, at, end, src, dst),
        _ => {
            if !out.quoted && out.pkt.info.is_empty() {
                let _ = write!(out.pkt.info, "IP protocol {proto} (not decoded)");
            }
            Next::Payload(at, end)
        }
    }
}

/// Sum of the pseudo-header for a transport length `len`.
fn pseudo(src: Addr, dst: Addr, proto: u8, len: usize) -> u32 {
    checksum::pseudo_header(src.bytes(), dst.bytes(), proto, len as u32)
}

/// Verifies a transport checksum when the whole segment was captured.
fn verify(out: &mut Out, what: &str, have: u16, want: Option<u16>) {
    match want {
        Some(w) if w == have => out.note("[correct]"),
        Some(w) => {
            out.note(format!(
                "[incorrect, should be 0x{w:04x} (maybe caused by checksum offload: the NIC fills it in after capture)]"
            ));
            out.warn(format!(
                "{what} checksum 0x{have:04x} is wrong (should be 0x{w:04x})"
            ));
        }
        None => out.note("[not verified: segment not fully captured]"),
    }
}

fn ports_summary(info: &mut String, sp: u16, dp: u16) {
    let _ = write!(info, "{sp} → {dp} ");
}

fn dissect_tcp(
    out: &mut Out,
    d: &mut Dissector,
    data: &[u8],
    at: usize,
    end: usize,
    src: Addr,
    dst: Addr,
) -> Next {
    out.begin(Proto::Tcp, at);
    let h = padded::<60>(data, at);
    let p = tcp::Packet::new_unchecked(&h[..]);
    use tcp::field as F;
    let r = |f: std::ops::Range<usize>| at + f.start..at + f.end;
    let (sp, dp) = (p.src_port(), p.dst_port());
    out.push(0, &tcp::SRC_PORT, r(F::SRC_PORT), Value::Uint(sp as u64));
    out.push(0, &tcp::DST_PORT, r(F::DST_PORT), Value::Uint(dp as u64));
    let hl = p.header_len() as usize;
    let flags = p.flags();
    let seq_raw = p.seq_number();
    let ack_raw = p.ack_number();
    let seg_len = end.saturating_sub(at + hl.max(tcp::HEADER_LEN));
    // Window scale from the options, needed by the tracker before fields are printed.
    let mut wscale = None;
    if hl > tcp::HEADER_LEN && data.len() >= at + hl {
        let mut rest = &h[tcp::HEADER_LEN..hl];
        while let Ok((r2, o)) = tcp::parse_option(rest) {
            if let TcpOption::WindowScale(s) = o {
                wscale = Some(s);
            }
            if rest.is_empty() || matches!(o, TcpOption::EndOfList) {
                break;
            }
            rest = r2;
        }
    }
    let have_fixed = data.len() >= at + tcp::HEADER_LEN;
    let mut tracked = if have_fixed && !out.quoted {
        Some(d.streams.track(&Segment {
            src: (src.key(), sp),
            dst: (dst.key(), dp),
            seq: seq_raw,
            ack: ack_raw,
            flags,
            wscale,
            len: seg_len,
        }))
    } else {
        None
    };
    let rel = tracked.as_ref().map(|t| t.0);
    // Wireshark's analysis of the segment (before its fields: the Info column starts
    // with its marks).
    let marks = tracked.as_mut().and_then(|(rel, st)| {
        let time = (out.pkt.ts_sec as i128 * 1_000_000_000 + out.pkt.ts_nsec as i128)
            .clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        st.live().analysis.segment(&analysis::Seg {
            dir: rel.dir,
            frame: out.pkt.number,
            time,
            seq: seq_raw,
            ack: ack_raw,
            base: seq_raw.wrapping_sub(rel.seq),
            len: seg_len as u32,
            flags,
            window: p.window_len(),
            wscale,
        })
    });
    if let Some(rel) = rel {
        out.push_generated(0, &tcp::STREAM, Value::Uint(rel.stream as u64));
    }
    if have_fixed {
        out.push_generated(0, &tcp::SEGMENT_LEN, Value::Uint(seg_len as u64));
    }
    let seq = rel.map_or(seq_raw, |r| r.seq);
    let ack = rel.map_or(ack_raw, |r| r.ack);
    if out.push(0, &tcp::SEQ, r(F::SEQ_NUM), Value::Uint(seq as u64)) {
        out.last().generated = rel.is_some();
        out.last().range = r(F::SEQ_NUM);
    }
    out.push(0, &tcp::SEQ_RAW, r(F::SEQ_NUM), Value::Uint(seq_raw as u64));
    if have_fixed && !out.quoted {
        // SYN and FIN each use one sequence number; a pure ACK uses none (next = seq).
        let syn_fin = (flags & tf::SYN != 0) as u32 + (flags & tf::FIN != 0) as u32;
        out.push_generated(
            0,
            &tcp::NXTSEQ,
            Value::Uint(seq.wrapping_add(seg_len as u32 + syn_fin) as u64),
        );
    }
    out.push(0, &tcp::ACK, r(F::ACK_NUM), Value::Uint(ack as u64));
    if flags & tf::SYN != 0 && flags & tf::ACK != 0 {
        out.note("(their ISN + 1: a SYN uses one sequence number)");
    }
    out.push(0, &tcp::ACK_RAW, r(F::ACK_NUM), Value::Uint(ack_raw as u64));
    let fr = r(F::FLAGS);
    out.push_bits(
        0,
        &tcp::HDR_LEN,
        fr.start..fr.start + 1,
        0xf0,
        Value::Uint(hl as u64),
    );
    note!(out, "({} x 4 bytes)", hl / 4);
    out.push_bits(
        0,
        &tcp::FLAGS,
        fr.clone(),
        0x0fff,
        Value::Hex(flags as u64, 3),
    );
    let mut fs = String::new();
    flag_string(flags, &mut fs);
    note!(out, "({})", if fs.is_empty() { "none" } else { &fs });
    let bit = |m: u16| Value::Bool(flags & m != 0);
    out.push_bits(
        1,
        &tcp::FLAG_RES,
        fr.clone(),
        0x0e00,
        Value::Uint(((flags >> 9) & 7) as u64),
    );
    out.push_bits(1, &tcp::FLAG_AE, fr.clone(), 0x0100, bit(tf::AE));
    out.push_bits(1, &tcp::FLAG_CWR, fr.clone(), 0x0080, bit(tf::CWR));
    out.push_bits(1, &tcp::FLAG_ECE, fr.clone(), 0x0040, bit(tf::ECE));
    out.push_bits(1, &tcp::FLAG_URG, fr.clone(), 0x0020, bit(tf::URG));
    out.push_bits(1, &tcp::FLAG_ACK, fr.clone(), 0x0010, bit(tf::ACK));
    out.push_bits(1, &tcp::FLAG_PSH, fr.clone(), 0x0008, bit(tf::PSH));
    out.push_bits(1, &tcp::FLAG_RST, fr.clone(), 0x0004, bit(tf::RST));
    out.push_bits(1, &tcp::FLAG_SYN, fr.clone(), 0x0002, bit(tf::SYN));
    out.push_bits(1, &tcp::FLAG_FIN, fr, 0x0001, bit(tf::FIN));
    let win = p.window_len();
    out.push(0, &tcp::WINDOW, r(F::WIN_SIZE), Value::Uint(win as u64));
    if let Some(shift) = rel.and_then(|r| r.window_shift) {
        out.push_generated(1, &tcp::WINDOW_CALC, Value::Uint((win as u64) << shift));
    }
    let ck = p.checksum();
    if out.push(0, &tcp::CHECKSUM, r(F::CHECKSUM), Value::Hex(ck as u64, 4))
        && !out.quoted
        && out.record
    {
        let seg = at..end;
        let want = (hl >= tcp::HEADER_LEN && end <= data.len() && out.pkt.caplen >= out.pkt.len)
            .then(|| {
                tcp::expected_checksum(pseudo(src, dst, tcp::PROTOCOL, seg.len()), &data[seg])
            });
        verify(out, "TCP", ck, want);
    }
    out.push(
        0,
        &tcp::URGENT,
        r(F::URGENT),
        Value::Uint(p.urgent_at() as u64),
    );
    // Summary line (Wireshark's Info column): the analysis' marks first.
    if !out.quoted {
        out.pkt.protocol = "TCP";
        let info = &mut out.pkt.info;
        info.clear();
        // Wireshark shows the analysis after the whole header: not when the capture
        // cut the header short (the analysis still learns from the segment).
        if let Some(m) = marks
            .as_ref()
            .filter(|_| data.len() >= at + hl.max(tcp::HEADER_LEN))
        {
            analysis::info_prefix(m, info);
        }
        out.info_fence = info.len();
        let info = &mut out.pkt.info;
        ports_summary(info, sp, dp);
        let _ = write!(info, "[{fs}] Seq={seq}");
        if flags & tf::ACK != 0 {
            let _ = write!(info, " Ack={ack}");
        }
        let _ = write!(
            info,
            " Win={}",
            rel.and_then(|r| r.window_shift)
                .map_or(win as u64, |s| (win as u64) << s)
        );
        let _ = write!(info, " Len={seg_len}");
    }
    headline!(
        out,
        "Src Port: {sp}, Dst Port: {dp}, Seq: {seq}, Ack: {ack}, Len: {seg_len}"
    );
    if out.is_truncated() {
        out.end(at + tcp::HEADER_LEN);
        return Next::Stop;
    }
    if hl < tcp::HEADER_LEN {
        out.malformed(format!(
            "data offset {} is below 5 (a header of {hl} bytes)",
            hl / 4
        ));
        out.end(at + tcp::HEADER_LEN);
        return Next::Stop;
    }
    if at + hl > end {
        if data.len() < at + hl {
            out.truncated(format!(
                "header of {hl} bytes, capture ends after {}",
                data.len() - at
            ));
        } else {
            out.malformed(format!(
                "header of {hl} bytes is longer than the {} bytes of the segment",
                end - at
            ));
        }
        out.end(end);
        return Next::Stop;
    }
    if hl > tcp::HEADER_LEN {
        // Only the option bytes really captured are read (the rest of `h` is padding).
        let captured = data.len().saturating_sub(at).min(hl);
        // SACK edges are shown relative, like Wireshark: in the other side's numbering.
        let ack_base = ack_raw.wrapping_sub(ack);
        let sack = options(out, &h[..captured], at, captured < hl, ack_base);
        if let (Some((rel, st)), false) = (tracked.as_mut(), sack.is_empty()) {
            st.live().analysis.sack(rel.dir, &sack);
        }
        if captured < hl {
            out.truncated(format!(
                "options end at byte {}, the capture at {}",
                at + hl,
                data.len()
            ));
        }
    }
    if let Some(m) = &marks
        && out.record
        && !out.is_truncated()
    {
        analysis_fields(out, m);
    }
    out.end(at + hl);
    out.tcp_layer = Some(out.pkt.layers.len() - 1);
    let payload = (at + hl).min(data.len())..end.min(data.len());
    if let (Some(f), Some((rel, _))) = (d.follow.as_mut(), tracked.as_ref())
        && f.target == follow::Target::Tcp(rel.stream)
    {
        let bytes = &data[payload.clone()];
        let (s, t) = ((src.key(), sp), (dst.key(), dp));
        f.tcp(rel.dir, s, t, rel.seq, flags, bytes, out.pkt.number);
    }
    // The application stage: the stream's protocol, its bytes in order, PDUs.
    // (A bare ACK matters too: it may acknowledge bytes the capture never saw.)
    let mut claimed = false;
    if let Some((rel, st)) = tracked.as_mut()
        && (seg_len > 0
            || flags & (tf::SYN | tf::FIN | tf::RST) != 0
            || matches!(st.live().app, app::AppState::App(_)))
    {
        let seg = app::TcpSeg {
            dir: rel.dir,
            seq: rel.seq,
            ack: rel.ack,
            flags,
            payload,
            seg_len,
            src: (src, sp),
            dst: (dst, dp),
        };
        let saved = out.avail();
        out.set_avail(usize::MAX);
        let mut env = app::Env::new(out, data, &mut d.extra);
        claimed = app::tcp(&mut env, &mut d.apps, &mut st.live().app, &seg);
        out.set_avail(saved);
    }
    for old in d.streams.dropped.drain(..) {
        app::release(&mut d.apps, old);
    }
    if seg_len > 0 && !claimed {
        return Next::Payload(at + hl, end);
    }
    Next::Stop
}

/// The "SEQ/ACK analysis" fields, as Wireshark lists them.
fn analysis_fields(out: &mut Out, m: &analysis::Marks) {
    use analysis::mark;
    out.push_generated(0, &analysis::ANALYSIS, Value::Group);
    if let Some(f) = m.acks_frame {
        out.push_generated(1, &analysis::ACKS_FRAME, Value::Uint(f));
        if m.ack_rtt != 0 {
            out.push_generated(1, &analysis::ACK_RTT, Value::Time(m.ack_rtt));
        }
    }
    if let Some(rtt) = m.first_rtt.filter(|&r| r != 0) {
        out.push_generated(1, &analysis::INITIAL_RTT, Value::Time(rtt));
    }
    if let Some(b) = m.bytes_in_flight {
        out.push_generated(1, &analysis::BYTES_IN_FLIGHT, Value::Uint(u64::from(b)));
        if let Some(p) = m.push_bytes_sent {
            out.push_generated(1, &analysis::PUSH_BYTES_SENT, Value::Uint(u64::from(p)));
        }
    }
    if m.flags == 0 {
        return;
    }
    out.push_generated(1, &analysis::FLAGS, Value::Group);
    for (bit, _, def) in analysis::MARKS {
        if m.flags & bit == 0 {
            continue;
        }
        out.push_generated(2, def, Value::Group);
        if bit == mark::RETRANSMISSION
            && let Some((rto, frame)) = m.rto
            && rto != 0
        {
            out.push_generated(2, &analysis::RTO, Value::Time(rto));
            out.push_generated(2, &analysis::RTO_FRAME, Value::Uint(frame));
        }
        // A fast or spurious retransmission is a retransmission too.
        if bit & (mark::FAST_RETRANSMISSION | mark::SPURIOUS_RETRANSMISSION) != 0 {
            out.push_generated(2, &analysis::RETRANSMISSION_F, Value::Group);
        }
    }
    if m.flags & mark::DUPLICATE_ACK != 0 {
        out.push_generated(
            1,
            &analysis::DUPLICATE_ACK_NUM,
            Value::Uint(u64::from(m.dupack_num)),
        );
        out.push_generated(
            1,
            &analysis::DUPLICATE_ACK_FRAME,
            Value::Uint(m.dupack_frame),
        );
        // Wireshark's expert item of the same name, hidden: tshark lists the field twice.
        out.push_generated(1, &analysis::DUPLICATE_ACK_F, Value::Group);
        out.last().hidden = true;
    }
}

/// Wireshark's flag list: `SYN, ACK`.
pub(crate) fn flag_string(flags: u16, s: &mut String) {
    for (m, n) in [
        (tf::FIN, "FIN"),
        (tf::SYN, "SYN"),
        (tf::RST, "RST"),
        (tf::PSH, "PSH"),
        (tf::ACK, "ACK"),
        (tf::URG, "URG"),
        (tf::ECE, "ECE"),
        (tf::CWR, "CWR"),
        (tf::AE, "AE"),
    ] {
        if flags & m != 0 {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str(n);
        }
    }
}

/// Decodes the options in `hdr` (the header bytes captured); `cut` says the capture
/// ended inside the options, so a last option that does not parse is cut, not malformed.
/// Returns the SACK blocks (relative edges) for the analysis.
fn options(out: &mut Out, hdr: &[u8], at: usize, cut: bool, ack_base: u32) -> Vec<(u32, u32)> {
    let mut sack = Vec::new();
    let start = tcp::HEADER_LEN;
    out.push(1, &tcp::OPTIONS, at + start..at + hdr.len(), Value::Group);
    let mut i = start;
    let mut summary = String::new();
    while i < hdr.len() {
        let (rest, o) = match tcp::parse_option(&hdr[i..]) {
            Ok(x) => x,
            // Cut by the capture, not malformed: the caller marks the truncation.
            Err(_) if cut => break,
            Err(e) => {
                out.malformed(format!("TCP option at byte {}: {e}", i));
                break;
            }
        };
        let n = if matches!(o, TcpOption::EndOfList) {
            1
        } else {
            o.buffer_len()
        };
        let rg = at + i..at + i + n;
        match o {
            TcpOption::EndOfList => {
                out.push(2, &tcp::OPT_EOL, rg, Value::Uint(0));
            }
            TcpOption::NoOperation => {
                out.push(2, &tcp::OPT_NOP, rg, Value::Uint(1));
            }
            TcpOption::MaxSegmentSize(m) => {
                out.push(2, &tcp::OPT_MSS, rg, Value::Uint(m as u64));
                let _ = write!(summary, " MSS={m}");
            }
            TcpOption::WindowScale(s) => {
                out.push(2, &tcp::OPT_WSCALE, rg.clone(), Value::Uint(s as u64));
                if s > 14 {
                    out.note("[more than 14: treated as 14, RFC 7323 § 2.3]");
                }
                out.push_generated(3, &tcp::OPT_WSCALE_MULT, Value::Uint(1u64 << s.min(14)));
                out.last().range = rg;
                let _ = write!(summary, " WS={}", 1u32 << s.min(14));
            }
            TcpOption::SackPermitted => {
                out.push(2, &tcp::OPT_SACK_PERM, rg, Value::Bool(true));
                summary.push_str(" SACK_PERM");
            }
            TcpOption::SackRange(edges) => {
                out.push(2, &tcp::OPT_SACK, rg.clone(), Value::Group);
                for (k, (l, r)) in edges.iter().flatten().enumerate() {
                    let (l, r) = (l.wrapping_sub(ack_base), r.wrapping_sub(ack_base));
                    sack.push((l, r));
                    let b = rg.start + 2 + k * 8;
                    out.push(3, &tcp::OPT_SACK_LE, b..b + 4, Value::Uint(l as u64));
                    out.push(3, &tcp::OPT_SACK_RE, b + 4..b + 8, Value::Uint(r as u64));
                    let _ = write!(summary, " SLE={l} SRE={r}");
                }
            }
            TcpOption::Timestamp { tsval, tsecr } => {
                out.push(
                    2,
                    &tcp::OPT_TSVAL,
                    rg.start + 2..rg.start + 6,
                    Value::Uint(tsval as u64),
                );
                out.push(
                    2,
                    &tcp::OPT_TSECR,
                    rg.start + 6..rg.start + 10,
                    Value::Uint(tsecr as u64),
                );
                let _ = write!(summary, " TSval={tsval} TSecr={tsecr}");
            }
            TcpOption::Unknown { kind, .. } => {
                out.push(2, &tcp::OPT_UNKNOWN, rg.clone(), Value::Bytes(rg));
                note!(out, "(kind {kind})");
            }
        }
        if matches!(o, TcpOption::EndOfList) {
            break;
        }
        i = hdr.len() - rest.len();
    }
    if !out.quoted {
        out.pkt.info.push_str(&summary);
    }
    sack
}

fn dissect_udp(
    out: &mut Out,
    d: &mut Dissector,
    data: &[u8],
    at: usize,
    end: usize,
    src: Addr,
    dst: Addr,
) -> Next {
    out.begin(Proto::Udp, at);
    let h = padded::<8>(data, at);
    let p = udp::Packet::new_unchecked(&h[..]);
    use udp::field as F;
    let r = |f: std::ops::Range<usize>| at + f.start..at + f.end;
    let (sp, dp, len) = (p.src_port(), p.dst_port(), p.len() as usize);
    out.push(0, &udp::SRC_PORT, r(F::SRC_PORT), Value::Uint(sp as u64));
    out.push(0, &udp::DST_PORT, r(F::DST_PORT), Value::Uint(dp as u64));
    out.push(0, &udp::LENGTH, r(F::LENGTH), Value::Uint(len as u64));
    let ck = p.checksum();
    let ok = out.push(0, &udp::CHECKSUM, r(F::CHECKSUM), Value::Hex(ck as u64, 4));
    let dgram_end = at + len;
    if ok && !out.quoted && out.record {
        if ck == 0 && matches!(src, Addr::V4(_)) {
            out.note("[none: the sender did not compute one, allowed over IPv4]");
        } else {
            let want = (len >= 8 && dgram_end <= data.len() && dgram_end <= end).then(|| {
                udp::expected_checksum(pseudo(src, dst, udp::PROTOCOL, len), &data[at..dgram_end])
            });
            verify(out, "UDP", ck, want);
        }
    }
    // (An ICMP error's quoted datagram belongs to its conversation too, as in Wireshark.)
    let stream = ok.then(|| d.udp.track((src.key(), sp), (dst.key(), dp)));
    if let Some(s) = stream {
        out.push_generated(0, &UDP_STREAM, Value::Uint(s as u64));
    }
    out.end(at + udp::HEADER_LEN);
    headline!(out, "Src Port: {sp}, Dst Port: {dp}");
    if !out.quoted {
        out.pkt.protocol = "UDP";
        out.pkt.info.clear();
        ports_summary(&mut out.pkt.info, sp, dp);
        let _ = write!(out.pkt.info, "Len={}", len.saturating_sub(8));
    }
    if !ok {
        return Next::Stop;
    }
    if len < udp::HEADER_LEN {
        out.malformed(format!("length {len} is below the 8-byte header"));
        return Next::Stop;
    }
    if dgram_end > end && !out.quoted {
        out.malformed(format!(
            "length {len} is beyond the {} bytes the IP layer carries",
            end - at
        ));
    }
    let pend = dgram_end.min(end);
    if let (Some(f), Some(s)) = (d.follow.as_mut(), stream)
        && f.target == follow::Target::Udp(s)
        && !out.quoted
    {
        let payload = (at + udp::HEADER_LEN).min(data.len())..pend.min(data.len());
        let (a, b) = ((src.key(), sp), (dst.key(), dp));
        let dir = usize::from(a > b);
        f.udp(dir, a, b, &data[payload], out.pkt.number);
    }
    if pend > at + udp::HEADER_LEN {
        let payload = at + udp::HEADER_LEN..pend.min(data.len());
        if let Some(s) = stream
            && !payload.is_empty()
            && !out.quoted
        {
            let saved = out.avail();
            out.set_avail(usize::MAX);
            let mut env = app::Env::new(out, data, &mut d.extra);
            let claimed = app::udp(&mut env, &mut d.apps, s, (src, sp), (dst, dp), payload);
            out.set_avail(saved);
            if claimed {
                return Next::Stop;
            }
        }
        return Next::Payload(at + udp::HEADER_LEN, pend);
    }
    Next::Stop
}

fn dissect_icmp(out: &mut Out, data: &[u8], at: usize, end: usize) -> Next {
    out.begin(Proto::Icmp, at);
    let h = padded::<8>(data, at);
    let p = icmp::Packet::new_unchecked(&h[..]);
    use icmp::field as F;
    let r = |f: std::ops::Range<usize>| at + f.start..at + f.end;
    let t = p.msg_type();
    let code = p.msg_code();
    out.push(0, &icmp::TYPE, at..at + 1, Value::Uint(h[0] as u64));
    note!(out, "({})", t.name());
    out.push(0, &icmp::CODE, at + 1..at + 2, Value::Uint(code as u64));
    let code_name = match t {
        icmp::Message::DstUnreachable => icmp::unreachable_code(code),
        icmp::Message::TimeExceeded => icmp::time_exceeded_code(code),
        _ => "",
    };
    if !code_name.is_empty() {
        note!(out, "({code_name})");
    }
    let ck = p.checksum();
    if out.push(0, &icmp::CHECKSUM, r(F::CHECKSUM), Value::Hex(ck as u64, 4))
        && !out.quoted
        && out.record
    {
        let want = (end <= data.len() && out.pkt.caplen >= out.pkt.len)
            .then(|| icmp::Packet::new_unchecked(&data[at..end]).expected_checksum());
        verify(out, "ICMP", ck, want);
    }
    if !out.quoted {
        out.pkt.protocol = "ICMP";
        out.pkt.info.clear();
        out.pkt.info.push_str(t.name());
    }
    headline!(out, "{}", t.name());
    match t {
        icmp::Message::EchoRequest | icmp::Message::EchoReply => {
            let (id, seq) = (p.echo_ident(), p.echo_seq_no());
            out.push(0, &icmp::IDENT, r(F::ECHO_IDENT), Value::Hex(id as u64, 4));
            note!(out, "({id})");
            out.push(0, &icmp::SEQ, r(F::ECHO_SEQNO), Value::Uint(seq as u64));
            if !out.quoted {
                let _ = write!(
                    out.pkt.info,
                    "  id=0x{id:04x}, seq={seq}/{}",
                    seq.swap_bytes()
                );
                if let Some(ttl) = out.ttl {
                    let _ = write!(out.pkt.info, ", ttl={ttl}");
                }
            }
            out.end(at + icmp::HEADER_LEN);
            if end > at + icmp::HEADER_LEN {
                return Next::Payload(at + icmp::HEADER_LEN, end);
            }
            Next::Stop
        }
        t if t.is_error() => {
            if t == icmp::Message::DstUnreachable && code == 4 {
                out.push(
                    0,
                    &icmp::MTU,
                    at + 6..at + 8,
                    Value::Uint(crate::wire::be16(&h, 6) as u64),
                );
            } else {
                out.push(
                    0,
                    &icmp::UNUSED,
                    r(F::UNUSED),
                    Value::Hex(crate::wire::be32(&h, 4) as u64, 8),
                );
            }
            if !out.quoted && !code_name.is_empty() {
                let _ = write!(out.pkt.info, " ({code_name})");
            }
            out.end(at + icmp::HEADER_LEN);
            if out.quoted || end <= at + icmp::HEADER_LEN {
                return Next::Stop;
            }
            // The quoted datagram: dissect it as a nested IP packet, without tracking.
            out.quoted = true;
            Next::Ip(at + icmp::HEADER_LEN)
        }
        _ => {
            out.end(at + 4);
            if end > at + 4 {
                return Next::Payload(at + 4, end);
            }
            Next::Stop
        }
    }
}

fn dissect_icmpv6(out: &mut Out, data: &[u8], at: usize, end: usize, src: Addr, dst: Addr) -> Next {
    use icmpv6::Message as M;
    out.begin(Proto::Icmpv6, at);
    let h = padded::<40>(data, at);
    let p = icmpv6::Packet::new_unchecked(&h[..]);
    let t = p.msg_type();
    out.push(0, &icmpv6::TYPE, at..at + 1, Value::Uint(h[0] as u64));
    note!(out, "({})", t.name());
    out.push(
        0,
        &icmpv6::CODE,
        at + 1..at + 2,
        Value::Uint(p.msg_code() as u64),
    );
    let code_name = icmpv6::code_name(t, p.msg_code());
    if !code_name.is_empty() {
        note!(out, "({code_name})");
    }
    let ck = p.checksum();
    if out.push(
        0,
        &icmpv6::CHECKSUM,
        at + 2..at + 4,
        Value::Hex(ck as u64, 4),
    ) && !out.quoted
        && out.record
    {
        let want = (end <= data.len() && out.pkt.caplen >= out.pkt.len).then(|| {
            let ps = pseudo(src, dst, icmpv6::PROTOCOL, end - at);
            icmpv6::Packet::new_unchecked(&data[at..end]).expected_checksum(ps)
        });
        verify(out, "ICMPv6", ck, want);
    }
    if !out.quoted {
        out.pkt.protocol = "ICMPv6";
        out.pkt.info.clear();
        out.pkt.info.push_str(t.name());
    }
    headline!(out, "{}", t.name());
    let fixed = p.fixed_len();
    let r = |a: usize, b: usize| at + a..at + b;
    match t {
        M::EchoRequest | M::EchoReply => {
            let (id, seq) = (p.echo_ident(), p.echo_seq_no());
            out.push(0, &icmpv6::IDENT, r(4, 6), Value::Hex(id as u64, 4));
            out.push(0, &icmpv6::SEQ, r(6, 8), Value::Uint(seq as u64));
            if !out.quoted {
                let _ = write!(out.pkt.info, " id=0x{id:04x}, seq={seq}");
                if let Some(hl) = out.ttl {
                    let _ = write!(out.pkt.info, ", hop limit={hl}");
                }
            }
            out.end(at + 8);
            if end > at + 8 {
                return Next::Payload(at + 8, end);
            }
            return Next::Stop;
        }
        M::NeighborSolicit | M::NeighborAdvert => {
            let target = p.target_addr();
            if t == M::NeighborAdvert {
                let f = p.nd_flags();
                out.push(0, &icmpv6::NA_FLAGS, r(4, 8), Value::Hex(f as u64, 8));
                out.push_bits(
                    1,
                    &icmpv6::NA_ROUTER,
                    r(4, 8),
                    0x8000_0000,
                    Value::Bool(f & 0x8000_0000 != 0),
                );
                out.push_bits(
                    1,
                    &icmpv6::NA_SOLICITED,
                    r(4, 8),
                    0x4000_0000,
                    Value::Bool(f & 0x4000_0000 != 0),
                );
                out.push_bits(
                    1,
                    &icmpv6::NA_OVERRIDE,
                    r(4, 8),
                    0x2000_0000,
                    Value::Bool(f & 0x2000_0000 != 0),
                );
                out.push(0, &icmpv6::NA_TARGET, r(8, 24), Value::Ipv6(target));
            } else {
                out.push(
                    0,
                    &icmpv6::RESERVED,
                    r(4, 8),
                    Value::Hex(p.nd_flags() as u64, 8),
                );
                out.push(0, &icmpv6::NS_TARGET, r(8, 24), Value::Ipv6(target));
            }
            if !out.quoted {
                let _ = write!(
                    out.pkt.info,
                    " {} {}",
                    if t == M::NeighborSolicit { "for" } else { "" },
                    std::net::Ipv6Addr::from(target)
                );
                if t == M::NeighborAdvert {
                    out.pkt.info = out.pkt.info.replace("  ", " ");
                }
            }
        }
        M::RouterAdvert => {
            out.push(0, &icmpv6::RA_HOP_LIMIT, r(4, 5), Value::Uint(h[4] as u64));
            out.push(0, &icmpv6::RA_FLAGS, r(5, 6), Value::Hex(h[5] as u64, 2));
            out.push(
                0,
                &icmpv6::RA_LIFETIME,
                r(6, 8),
                Value::Uint(crate::wire::be16(&h, 6) as u64),
            );
            out.push(
                0,
                &icmpv6::RA_REACHABLE,
                r(8, 12),
                Value::Uint(crate::wire::be32(&h, 8) as u64),
            );
            out.push(
                0,
                &icmpv6::RA_RETRANS,
                r(12, 16),
                Value::Uint(crate::wire::be32(&h, 12) as u64),
            );
        }
        M::RouterSolicit => {
            out.push(
                0,
                &icmpv6::RESERVED,
                r(4, 8),
                Value::Hex(crate::wire::be32(&h, 4) as u64, 8),
            );
        }
        t if t.is_error() => {
            out.push(
                0,
                &icmpv6::RESERVED,
                r(4, 8),
                Value::Hex(crate::wire::be32(&h, 4) as u64, 8),
            );
            if t == M::PacketTooBig {
                out.note("(the MTU of the next link)");
            }
            if !out.quoted && !code_name.is_empty() {
                let _ = write!(out.pkt.info, " ({code_name})");
            }
            out.end(at + 8);
            if out.quoted || end <= at + 8 {
                return Next::Stop;
            }
            out.quoted = true;
            return Next::Ip(at + 8);
        }
        _ => {
            out.end(at + 4);
            if end > at + 4 {
                return Next::Payload(at + 4, end);
            }
            return Next::Stop;
        }
    }
    // Neighbour-discovery options follow the fixed part.
    let mut i = at + fixed;
    while i < end.min(data.len()) {
        match icmpv6::parse_nd_option(&data[i..end.min(data.len())]) {
            Ok((kind, len)) => {
                out.push(1, &icmpv6::OPT_TYPE, i..i + 1, Value::Uint(kind as u64));
                out.note(match kind {
                    1 => "(Source link-layer address)",
                    2 => "(Target link-layer address)",
                    3 => "(Prefix information)",
                    5 => "(MTU)",
                    _ => "(other)",
                });
                out.push(
                    2,
                    &icmpv6::OPT_LEN,
                    i + 1..i + 2,
                    Value::Uint((len / 8) as u64),
                );
                match (kind, len) {
                    (1 | 2, 8) => {
                        let mac: [u8; 6] = data[i + 2..i + 8].try_into().expect("6");
                        out.push(2, &icmpv6::OPT_LINKADDR, i + 2..i + 8, Value::Mac(mac));
                        if kind == 1 && !out.quoted && t == M::NeighborSolicit {
                            out.pkt.info.push_str(" from ");
                            crate::wire::ethernet::fmt_mac(&mac, &mut out.pkt.info);
                        }
                        if kind == 2 && !out.quoted {
                            out.pkt.info.push_str(" is at ");
                            crate::wire::ethernet::fmt_mac(&mac, &mut out.pkt.info);
                        }
                    }
                    (5, 8) => {
                        out.push(
                            2,
                            &icmpv6::OPT_MTU,
                            i + 4..i + 8,
                            Value::Uint(crate::wire::be32(data, i + 4) as u64),
                        );
                    }
                    (3, 32) => {
                        out.push(
                            2,
                            &icmpv6::OPT_PREFIX_LEN,
                            i + 2..i + 3,
                            Value::Uint(data[i + 2] as u64),
                        );
                        let pfx: [u8; 16] = data[i + 16..i + 32].try_into().expect("16");
                        out.push(2, &icmpv6::OPT_PREFIX, i + 16..i + 32, Value::Ipv6(pfx));
                    }
                    _ => {
                        out.push(
                            2,
                            &icmpv6::OPT_DATA,
                            i + 2..i + len,
                            Value::Bytes(i + 2..i + len),
                        );
                    }
                }
                i += len;
            }
            Err(crate::wire::Error::Truncated { .. }) if end > data.len() => {
                out.truncated("neighbour-discovery option cut by the capture".into());
                break;
            }
            Err(e) => {
                out.malformed(format!("neighbour-discovery option: {e}"));
                break;
            }
        }
    }
    out.end(end.max(at + fixed));
    Next::Stop
}

pub(crate) fn dissect_payload(out: &mut Out, data: &[u8], at: usize, end: usize) {
    let end = end.min(out.avail());
    if at >= end {
        return;
    }
    out.begin(Proto::Data, at);
    out.push(0, &DATA, at..end, Value::Bytes(at..end));
    out.push_generated(0, &DATA_LEN, Value::Uint((end - at) as u64));
    let text = data[at..end]
        .iter()
        .take(48)
        .all(|&b| b == b'\r' || b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b));
    headline!(
        out,
        "{} bytes{}",
        end - at,
        if text { " (looks like text)" } else { "" }
    );
    out.end(end);
}

crate::wire::fields! {
    SEGMENT_NOTE: Text(
        "Reassembly",
        "",
        "what became of this segment's bytes on their way to the application",
    );
    UDP_STREAM: Num(
        "Stream index",
        "udp.stream",
        "netlab's number for this UDP conversation (a pair of endpoints), counted from 0 in order of appearance",
    );
    DATA: Bytes(
        "Data",
        "data.data",
        "bytes no dissector claimed: an application protocol netlab does not decode, or one it could not recognise here",
    );
    DATA_LEN: Num(
        "Length",
        "data.len",
        "number of payload bytes",
    );
}
