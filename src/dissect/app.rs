//! Application protocols over TCP: HTTP/1.x message heads and WebSocket frames, read
//! with the same codecs `netlab ws serve` and `ws connect` use (`wire::http`,
//! `wire::websocket`), so one codec serves both the endpoint and the dissector.
//!
//! How a stream becomes WebSocket: per TCP stream (the tracker's index) netlab remembers
//! whether a request asked for `Upgrade: websocket` and whether a `101` response came
//! back; from then on every payload of that stream, in both directions, is read as
//! WebSocket frames (RFC 6455 § 4.1, § 5.2).
//!
//! Limits, on purpose:
//! - **No TCP reassembly.** Each segment is read on its own: an HTTP head is dissected
//!   only when it is complete in one segment (otherwise the bytes stay `Data`), and a
//!   WebSocket frame cut at the segment's end is marked
//!   `[truncated: frame continues in the next segment]`; the next segment is then not
//!   realigned (its bytes are read as if a frame started there).
//! - Bodies are not decoded: bytes after an HTTP head are `Data`.
//! - Memory is bounded: a two-flag state per stream, at most [`MAX_STREAMS`] streams,
//!   the oldest forgotten first.
//!
//! This runs in every mode, also for the plain packet list (the state must follow
//! every segment, and reading a start line or a 2-to-14-byte frame header is cheap); the
//! fields are only built when they are recorded (`Out::record`).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

use super::{Out, Proto, Value, headline, note};
use crate::wire::http::{self, HeaderSpan};
use crate::wire::websocket::{self as ws, FrameView, LengthForm, OpCode};

/// How many TCP streams the upgrade state is kept for.
pub const MAX_STREAMS: usize = 4096;

#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// A request with `Upgrade: websocket` was seen.
    asked: bool,
    /// …and a `101 Switching Protocols` answered it: frames follow.
    upgraded: bool,
}

/// Per-capture state: which TCP streams were upgraded to WebSocket.
#[derive(Debug, Default)]
pub struct AppStreams {
    map: HashMap<u32, State>,
    order: VecDeque<u32>,
}

impl AppStreams {
    fn get(&self, stream: u32) -> State {
        self.map.get(&stream).copied().unwrap_or_default()
    }

    fn set(&mut self, stream: u32, st: State) {
        if !self.map.contains_key(&stream) {
            if self.map.len() >= MAX_STREAMS
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
            }
            self.order.push_back(stream);
        }
        self.map.insert(stream, st);
    }
}

/// Dissects the payload `data[at..end]` of TCP stream `stream`. Returns false when it is
/// neither WebSocket nor a complete HTTP head (the caller shows it as `Data`).
pub(crate) fn dissect(
    out: &mut Out,
    apps: &mut AppStreams,
    data: &[u8],
    at: usize,
    end: usize,
    stream: u32,
) -> bool {
    if at >= end.min(out.avail()) {
        return false;
    }
    let mut st = apps.get(stream);
    if st.upgraded {
        websocket(out, data, at, end);
        return true;
    }
    let seg = &data[at..end.min(out.avail())];
    let Some(head) = http_head(out, seg, at, &mut st) else {
        return false;
    };
    if st.asked || st.upgraded {
        apps.set(stream, st);
    }
    if head < end - at {
        if st.upgraded {
            websocket(out, data, at + head, end);
        } else {
            super::transport::dissect_payload(out, data, at + head, end);
        }
    }
    true
}

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// An HTTP request or response head at the start of `seg` (which sits at `at` in the
/// frame): dissected if complete, and its length returned.
fn http_head(out: &mut Out, seg: &[u8], at: usize, st: &mut State) -> Option<usize> {
    if seg.starts_with(b"HTTP/") {
        let (resp, n) = http::parse_response(seg).ok()??;
        let span = resp.span.as_ref()?;
        if resp.status == 101 && st.asked {
            st.upgraded = true;
        }
        out.begin(Proto::Http, at);
        let r = |f: &std::ops::Range<usize>| at + f.start..at + f.end;
        if out.record {
            let version = String::from_utf8_lossy(&seg[span.version.clone()]).into_owned();
            out.push(
                0,
                &http::RESPONSE_VERSION,
                r(&span.version),
                Value::Text(version.into()),
            );
            out.push(
                0,
                &http::RESPONSE_CODE,
                r(&span.status),
                Value::Uint(resp.status as u64),
            );
            out.push(
                0,
                &http::RESPONSE_PHRASE,
                r(&span.reason),
                Value::Text(resp.reason.clone().into()),
            );
            headers(out, seg, at, resp.headers.iter().map(|h| &h.span), false);
        }
        if st.upgraded {
            note!(out, "(the connection now carries WebSocket frames)");
        }
        return Some(finish_head(out, &seg[span.line.clone()], at, n));
    }
    if !METHODS.iter().any(|m| seg.starts_with(m)) {
        return None;
    }
    let (req, n) = http::parse_request(seg).ok()??;
    let span = req.span.as_ref()?;
    if req.headers.has_token(http::name::UPGRADE, "websocket") {
        st.asked = true;
    }
    out.begin(Proto::Http, at);
    let r = |f: &std::ops::Range<usize>| at + f.start..at + f.end;
    if out.record {
        out.push(
            0,
            &http::REQUEST_METHOD,
            r(&span.method),
            Value::Text(req.method.clone().into()),
        );
        out.push(
            0,
            &http::REQUEST_URI,
            r(&span.target),
            Value::Text(req.target.clone().into()),
        );
        let version = String::from_utf8_lossy(&seg[span.version.clone()]).into_owned();
        out.push(
            0,
            &http::REQUEST_VERSION,
            r(&span.version),
            Value::Text(version.into()),
        );
        headers(out, seg, at, req.headers.iter().map(|h| &h.span), true);
    }
    Some(finish_head(out, &seg[span.line.clone()], at, n))
}

/// One field per header line: the known ones (`Host`, `Upgrade`, `Sec-WebSocket-Key`…)
/// under their own Wireshark names with the value's bytes; the others as a whole line.
fn headers<'a>(
    out: &mut Out,
    seg: &[u8],
    at: usize,
    spans: impl Iterator<Item = &'a Option<HeaderSpan>>,
    request: bool,
) {
    for span in spans.flatten() {
        let name = String::from_utf8_lossy(&seg[span.name.clone()]);
        let def = http::header_def(&name, request);
        // The definitions are consts (no fixed address): compare by key.
        let generic = def.key == http::REQUEST_LINE.key || def.key == http::RESPONSE_LINE.key;
        let range = if generic { &span.line } else { &span.value };
        let text = String::from_utf8_lossy(&seg[range.clone()]).into_owned();
        out.push(
            0,
            def,
            at + range.start..at + range.end,
            Value::Text(text.into()),
        );
    }
}

/// WebSocket frames from `at` to the segment's end `end` (several per segment possible).
fn websocket(out: &mut Out, data: &[u8], mut at: usize, end: usize) {
    let mut first = true;
    while at < end {
        out.begin(Proto::WebSocket, at);
        let have = end.min(out.avail());
        let v = FrameView::new_unchecked(&data[at..have.max(at)]);
        if v.check_len().is_err() {
            if have < end {
                out.truncated(format!("frame header cut by the capture at byte {}", have));
            } else {
                out.truncated("frame continues in the next segment".into());
            }
            if first {
                out.pkt.protocol = "WebSocket";
                out.pkt.info.clear();
                out.pkt
                    .info
                    .push_str("WebSocket [header continues in the next segment]");
            }
            out.end(end);
            return;
        }
        let h = v.header();
        let hl = v.header_len();
        out.push_bits(0, &ws::FIN, at..at + 1, 0x80, Value::Bool(h.fin));
        out.push_bits(0, &ws::RSV, at..at + 1, 0x70, Value::Uint(h.rsv as u64));
        out.push_bits(
            0,
            &ws::OPCODE,
            at..at + 1,
            0x0f,
            Value::Uint(u8::from(h.opcode) as u64),
        );
        note!(out, "({})", h.opcode.name());
        out.push_bits(0, &ws::MASK, at + 1..at + 2, 0x80, Value::Bool(h.masked()));
        out.push_bits(
            0,
            &ws::PAYLOAD_LEN,
            at + 1..at + 2,
            0x7f,
            Value::Uint(v.len7() as u64),
        );
        match h.length_form {
            LengthForm::Short => {}
            LengthForm::Ext16 => {
                out.push(
                    1,
                    &ws::PAYLOAD_LEN_EXT_16,
                    at + 2..at + 4,
                    Value::Uint(h.payload_len),
                );
            }
            LengthForm::Ext64 => {
                out.push(
                    1,
                    &ws::PAYLOAD_LEN_EXT_64,
                    at + 2..at + 10,
                    Value::Uint(h.payload_len),
                );
            }
        }
        if let Some(nm) = h.non_minimal_length() {
            note!(out, "(not minimal: the {} form was required)", nm.name());
        }
        if let Some(kf) = h.masking_key_field() {
            let kr = at + kf.start..at + kf.end;
            out.push(0, &ws::MASKING_KEY, kr.clone(), Value::Bytes(kr));
        }
        let start = at + hl;
        let frame_end = usize::try_from(h.payload_len)
            .ok()
            .and_then(|n| start.checked_add(n))
            .unwrap_or(usize::MAX);
        let pend = frame_end.min(end);
        let shown = start..pend.min(have).max(start);
        let def = if h.masked() {
            &ws::MASKED_PAYLOAD
        } else {
            &ws::PAYLOAD
        };
        if h.payload_len > 0 {
            out.push(0, def, shown.clone(), Value::Bytes(shown.clone()));
        }
        if out.record && !shown.is_empty() {
            let mut p = data[shown.clone()].to_vec();
            if let Some(key) = h.masking_key {
                ws::apply_mask(&mut p, key, 0);
            }
            unmasked(out, h.opcode, h.masked(), &p, frame_end <= have);
        }
        headline!(
            out,
            "{}{}{}, {} bytes of payload",
            h.opcode.name(),
            if h.fin { " [FIN]" } else { "" },
            if h.masked() { " [MASKED]" } else { "" },
            h.payload_len
        );
        // Wireshark's Info column: "WebSocket Text [FIN] [MASKED]".
        if first {
            out.pkt.protocol = "WebSocket";
            out.pkt.info.clear();
            out.pkt.info.push_str("WebSocket");
        } else {
            out.pkt.info.push(',');
        }
        let _ = write!(out.pkt.info, " {}", h.opcode.name());
        if h.fin {
            out.pkt.info.push_str(" [FIN] ");
        }
        if h.masked() {
            out.pkt.info.push_str("[MASKED]");
        }
        let cut = have < frame_end.min(end);
        if cut {
            out.truncated(format!("frame cut by the capture at byte {have}"));
        } else if frame_end > end {
            // No TCP reassembly (see the module comment).
            out.truncated("frame continues in the next segment".into());
        }
        out.end(pend);
        if cut || frame_end >= end {
            return;
        }
        first = false;
        at = frame_end;
    }
}

/// The payload after unmasking, as generated fields: text as text, a close frame's code
/// and reason, anything else as hex.
fn unmasked(out: &mut Out, op: OpCode, masked: bool, p: &[u8], whole: bool) {
    match op {
        OpCode::Text => {
            let text = String::from_utf8_lossy(p).into_owned();
            out.push_generated(1, &ws::PAYLOAD_TEXT, Value::Text(text.into()));
            if masked {
                out.note("(unmasked)");
            }
        }
        OpCode::Close if p.len() >= 2 => {
            let code = u16::from_be_bytes([p[0], p[1]]);
            out.push_generated(1, &ws::CLOSE_CODE, Value::Uint(code as u64));
            if p.len() > 2 {
                let reason = String::from_utf8_lossy(&p[2..]).into_owned();
                out.push_generated(1, &ws::CLOSE_REASON, Value::Text(reason.into()));
            }
        }
        _ if masked => {
            let mut hex = String::with_capacity(p.len() * 2);
            for b in p {
                let _ = write!(hex, "{b:02x}");
            }
            out.push_generated(1, &UNMASKED, Value::Text(hex.into()));
        }
        _ => {}
    }
    if !whole {
        note!(out, "(only the part in this segment)");
    }
}

crate::wire::fields! {
    /// A masked binary (or other) payload after unmasking, in hex. No Wireshark name.
    UNMASKED: Bytes(
        "Unmasked payload",
        "",
        "the payload XORed with the masking key again: what the application sent",
    );
}

/// Ends an HTTP head layer of `n` bytes at `at`: its start line is the headline and,
/// like Wireshark's Info column, the packet's summary.
fn finish_head(out: &mut Out, line: &[u8], at: usize, n: usize) -> usize {
    let line = String::from_utf8_lossy(line);
    headline!(out, "{line}");
    out.pkt.protocol = "HTTP";
    out.pkt.info.clear();
    out.pkt.info.push_str(&line);
    out.pkt.info.push(' ');
    out.end(at + n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{Dissector, Meta, Packet, Problem};
    use crate::wire::websocket::Frame;

    /// A raw-IP (linktype 101) IPv4 + TCP frame, PSH|ACK, checksums left at zero.
    fn segment(client: bool, seq: u32, payload: &[u8]) -> Vec<u8> {
        let (sp, dp): (u16, u16) = if client { (40000, 8080) } else { (8080, 40000) };
        let mut f = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        let total = (20 + 20 + payload.len()) as u16;
        f[2..4].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&1u32.to_be_bytes());
        f.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    fn run(d: &mut Dissector, n: u64, bytes: &[u8]) -> Packet {
        let mut p = Packet::default();
        let meta = Meta {
            number: n,
            ts_sec: 0,
            ts_nsec: 0,
            len: bytes.len() as u32,
            interface: 0,
            linktype: 101,
        };
        d.dissect(meta, bytes, &mut p);
        p
    }

    fn upgraded(d: &mut Dissector) {
        let req =
            b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        let p = run(d, 1, &segment(true, 1, req));
        assert_eq!(p.protocol, "HTTP");
        assert_eq!(p.info, "GET /chat HTTP/1.1 ");
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let p = run(d, 2, &segment(false, 1, resp));
        assert_eq!(p.info, "HTTP/1.1 101 Switching Protocols ");
    }

    #[test]
    fn several_frames_in_a_segment_and_one_cut() {
        let mut d = Dissector::new();
        upgraded(&mut d);
        let key = [1, 2, 3, 4];
        let mut payload = Frame::new(OpCode::Text, "hello").with_mask(key).encode();
        payload.extend(
            Frame::new(OpCode::Binary, vec![7u8; 3])
                .with_mask(key)
                .encode(),
        );
        let third = Frame::new(OpCode::Text, "cut here").with_mask(key).encode();
        payload.extend_from_slice(&third[..third.len() - 3]);
        let p = run(&mut d, 3, &segment(true, 100, &payload));
        let ws: Vec<_> = p
            .layers
            .iter()
            .filter(|l| l.proto == Proto::WebSocket)
            .collect();
        assert_eq!(ws.len(), 3);
        assert_eq!(p.protocol, "WebSocket");
        assert!(p.info.starts_with("WebSocket Text [FIN] [MASKED], Binary"));
        assert_eq!(
            ws[2].problem,
            Some(Problem::Truncated(
                "frame continues in the next segment".into()
            ))
        );
        let text = p
            .fields
            .iter()
            .find(|f| f.generated && f.def.name == ws::PAYLOAD_TEXT.name)
            .expect("unmasked text");
        assert_eq!(text.value, Value::Text("hello".into()));
        assert!(p.protocols().ends_with(
            ":tcp:http:websocket:data-text-lines:websocket:data:websocket:data-text-lines"
        ));
    }

    #[test]
    fn summary_mode_still_names_the_protocols() {
        let mut d = Dissector::new();
        d.record = false;
        d.detail = false;
        upgraded(&mut d);
        let frame = Frame::new(OpCode::Text, "hi").encode();
        let p = run(&mut d, 3, &segment(false, 200, &frame));
        assert_eq!(p.protocol, "WebSocket");
        assert_eq!(p.info, "WebSocket Text [FIN] ");
        assert!(p.fields.is_empty());
    }

    #[test]
    fn without_an_upgrade_frames_are_data() {
        let mut d = Dissector::new();
        let frame = Frame::new(OpCode::Text, "hi").encode();
        let p = run(&mut d, 1, &segment(false, 1, &frame));
        assert!(p.has(Proto::Data));
        assert!(!p.has(Proto::WebSocket));
    }

    #[test]
    fn stream_state_is_bounded_oldest_first() {
        let mut a = AppStreams::default();
        let up = State {
            asked: true,
            upgraded: true,
        };
        for s in 0..(MAX_STREAMS as u32 + 10) {
            a.set(s, up);
        }
        assert_eq!(a.map.len(), MAX_STREAMS);
        assert!(!a.get(0).upgraded, "the oldest is forgotten");
        assert!(a.get(MAX_STREAMS as u32 + 9).upgraded);
    }
}
