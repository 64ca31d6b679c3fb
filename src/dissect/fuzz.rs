//! The checks shared by the `tcp_streams` fuzz target (fuzz/) and the mutation test
//! (tests/mutation.rs), which CI runs: a conversation made from arbitrary bytes — TCP
//! segments in both directions, in order or not, repeated, overlapping, with holes, and
//! UDP datagrams — goes through the whole dissector (stream tracking, the analysis, the
//! reassembly, the application dissectors), in both of its modes. Nothing may panic or
//! hang, every layer and field must lie inside the packet's bytes, and the reassembly
//! budget must come back to zero once both directions have closed.
//!
//! The input is a list of operations. Each starts with 6 bytes: `op` (bit 0: which side
//! sends; bits 1–2: 0 TCP data, 1 TCP control, 2 UDP, 3 TCP data at an offset from the
//! next sequence number), `flags` (TCP flags), `offset` (i16: bytes before or after
//! the next sequence number), `len` (u16), then `len` bytes of payload (cut at the
//! input's end). The first byte of the input chooses the server port: HTTP's 80, an
//! unregistered 3000 (content decides), 8080 with `--decode-as websocket`, DNS's 53.

use super::{Dissector, Meta, Packet, Value};

/// The ports the first input byte chooses from.
const PORTS: [u16; 4] = [80, 3000, 8080, 53];

/// A raw-IP (link type 101) IPv4 packet with a TCP or UDP header.
fn frame(
    client: bool,
    tcp: bool,
    port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (sa, da) = if client {
        ([10, 0, 0, 1], [10, 0, 0, 2])
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1])
    };
    let (sp, dp) = if client {
        (40000u16, port)
    } else {
        (port, 40000)
    };
    let hl = if tcp { 20 } else { 8 };
    let total = (20 + hl + payload.len()).min(u16::MAX as usize) as u16;
    let mut f = vec![
        0x45,
        0,
        0,
        0,
        0,
        0,
        0x40,
        0,
        64,
        if tcp { 6 } else { 17 },
        0,
        0,
    ];
    f[2..4].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&sa);
    f.extend_from_slice(&da);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    if tcp {
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&((8 + payload.len()).min(u16::MAX as usize) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    let room = usize::from(total) - 20 - hl;
    f.extend_from_slice(&payload[..payload.len().min(room)]);
    // Checksums stay 0: the dissector verifies them only to say so.
    f
}

/// Every layer and field inside the packet's bytes; the sources back to back after the
/// frame.
fn check_packet(pkt: &Packet, input_len: usize) {
    let n = pkt.data.len();
    let within = |r: &std::ops::Range<usize>| r.start <= r.end && r.end <= n;
    let mut at = input_len;
    for s in &pkt.sources {
        assert_eq!(s.range.start, at, "source {:?} at {:?}", s.label, s.range);
        at = s.range.end;
    }
    assert_eq!(at, n, "data ends at {n}, the frame and its sources at {at}");
    for l in &pkt.layers {
        assert!(
            within(&l.range),
            "layer {:?} covers {:?} of {n}",
            l.proto,
            l.range
        );
        assert!(l.fields.start <= l.fields.end && l.fields.end <= pkt.fields.len());
    }
    for f in &pkt.fields {
        assert!(
            within(&f.range),
            "field {} covers {:?} of {n}",
            f.def.key,
            f.range
        );
        if let Value::Bytes(r) = &f.value {
            assert!(within(r), "field {} holds {r:?} of {n}", f.def.key);
        }
    }
    assert!(!pkt.info.contains('\n'), "one-line Info: {:?}", pkt.info);
}

/// Runs the conversation `data` describes through a dissector in each mode; returns
/// how many application-protocol layers the full mode found (so a test can tell the
/// harness reaches them).
pub fn check(data: &[u8]) -> usize {
    let mut app_layers = 0;
    for fast in [false, true] {
        let mut d = Dissector::new();
        if fast {
            d.record = false;
            d.detail = false;
        }
        let Some((&sel, mut rest)) = data.split_first() else {
            return 0;
        };
        let port = PORTS[usize::from(sel) % PORTS.len()];
        if port == 8080 {
            d.decode_as("tcp.port==8080,websocket")
                .expect("a valid rule");
        }
        let mut next = [1000u32, 5000u32];
        let mut pkt = Packet::default();
        let mut number = 0;
        let mut emit = |d: &mut Dissector, pkt: &mut Packet, f: &[u8]| {
            number += 1;
            let meta = Meta {
                number,
                ts_sec: 1_700_000_000 + number as i64 / 1000,
                ts_nsec: (number % 1000) as u32 * 1_000_000,
                len: f.len() as u32,
                interface: 0,
                linktype: 101,
            };
            d.dissect(meta, f, pkt);
            check_packet(pkt, f.len());
            if !fast {
                app_layers += pkt
                    .layers
                    .iter()
                    .filter(|l| l.proto.is_application())
                    .count();
            }
        };
        // The handshake.
        emit(
            &mut d,
            &mut pkt,
            &frame(true, true, port, next[0] - 1, 0, 0x02, b""),
        );
        emit(
            &mut d,
            &mut pkt,
            &frame(false, true, port, next[1] - 1, next[0], 0x12, b""),
        );
        let mut ops = 0;
        while rest.len() >= 6 && ops < 256 {
            ops += 1;
            let (op, flags) = (rest[0], rest[1]);
            let offset = i16::from_be_bytes([rest[2], rest[3]]);
            let len = usize::from(u16::from_be_bytes([rest[4], rest[5]]));
            rest = &rest[6..];
            let payload = &rest[..len.min(rest.len())];
            rest = &rest[payload.len()..];
            let client = op & 1 == 0;
            let i = usize::from(!client);
            let ack = next[1 - i];
            let f = match (op >> 1) & 3 {
                0 => {
                    let f = frame(client, true, port, next[i], ack, 0x18, payload);
                    next[i] = next[i].wrapping_add(payload.len() as u32);
                    f
                }
                1 => {
                    let f = frame(client, true, port, next[i], ack, flags, b"");
                    if flags & 0x01 != 0 {
                        next[i] = next[i].wrapping_add(1);
                    }
                    f
                }
                2 => frame(client, false, port, 0, 0, 0, payload),
                _ => {
                    let seq = next[i].wrapping_add(offset as i32 as u32);
                    frame(client, true, port, seq, ack, flags | 0x10, payload)
                }
            };
            emit(&mut d, &mut pkt, &f);
        }
        // Both sides close: every buffer is given back.
        emit(
            &mut d,
            &mut pkt,
            &frame(true, true, port, next[0], next[1], 0x11, b""),
        );
        next[0] = next[0].wrapping_add(1);
        emit(
            &mut d,
            &mut pkt,
            &frame(false, true, port, next[1], next[0], 0x11, b""),
        );
        next[1] = next[1].wrapping_add(1);
        emit(
            &mut d,
            &mut pkt,
            &frame(true, true, port, next[0], next[1], 0x10, b""),
        );
        assert_eq!(
            d.apps.budget.used, 0,
            "reassembly buffers still held after both FINs"
        );
    }
    app_layers
}

/// Seeds for the fuzz corpus and the mutation test: conversations that reach each
/// application dissector (HTTP with chunked and lying bodies, WebSocket across
/// segments, Engine.IO over polling and WebSocket).
pub fn seeds() -> Vec<Vec<u8>> {
    fn op(out: &mut Vec<u8>, op: u8, flags: u8, offset: i16, payload: &[u8]) {
        out.extend_from_slice(&[op, flags]);
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        out.extend_from_slice(payload);
    }
    let mut v = Vec::new();
    // HTTP on port 80: a request in two pieces, a chunked response, one that lies.
    let mut s = vec![0];
    op(&mut s, 0, 0, 0, b"GET /a HTTP/1.1\r\nHo");
    op(&mut s, 0, 0, 0, b"st: x\r\n\r\n");
    op(&mut s, 1, 0, 0, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    op(&mut s, 1, 0, 0, b"0\r\n\r\n");
    op(&mut s, 0, 0, 0, b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    op(&mut s, 7, 0x18, 40, b"out of order");
    op(
        &mut s,
        1,
        0,
        0,
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    );
    v.push(s);
    // WebSocket (decode-as on 8080): frames across and within segments, a close.
    let mut s = vec![2];
    op(
        &mut s,
        1,
        0,
        0,
        &[0x81, 5, b'h', b'e', b'l', b'l', b'o', 0x82, 126, 0, 3],
    );
    op(&mut s, 1, 0, 0, &[1, 2, 3, 0x88, 2, 0x03, 0xe8]);
    op(
        &mut s,
        0,
        0,
        0,
        &[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2],
    );
    op(&mut s, 0, 0, 0, &[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    v.push(s);
    // Socket.IO on 3000: polling, then an upgrade and a binary event.
    let mut s = vec![1];
    op(
        &mut s,
        0,
        0,
        0,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let body = br#"0{"sid":"s","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(body);
    op(&mut s, 1, 0, 0, &resp);
    op(&mut s, 0, 0, 0, b"GET /socket.io/?EIO=4&transport=websocket&sid=s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    op(
        &mut s,
        1,
        0,
        0,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    );
    let ev = br#"451-["up",{"_placeholder":true,"num":0}]"#;
    let mut f = vec![0x81, ev.len() as u8];
    f.extend_from_slice(ev);
    f.extend_from_slice(&[0x82, 2, 9, 9, 0x81, 2, b'4', b'x']);
    op(&mut s, 1, 0, 0, &f);
    v.push(s);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_pass() {
        // Not vacuous: each seed reaches its application dissectors.
        for s in seeds() {
            assert!(check(&s) >= 4, "seed {:?}", &s[..1]);
        }
    }

    /// The mutation loop CI runs (the `tcp_streams` fuzz target searches further):
    /// bytes flipped, set to values that mean something to the protocols, inserted,
    /// deleted, and whole operations repeated — thousands of conversations.
    #[test]
    fn mutated_conversations_never_panic_or_leak() {
        const SPECIAL: &[u8] = b"\x00\x01\x02\x10\x11\x18\x7e\x7f\x80\x81\x82\x88\xff\r\n: 0-4\x1e";
        let mut x: u64 = 0x6e65_746c_6162_2121;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut cases = 0;
        for seed in seeds() {
            for _ in 0..2000 {
                let mut b = seed.clone();
                for _ in 0..1 + next() % 4 {
                    let n = b.len().max(1);
                    let i = (next() as usize) % n;
                    match next() % 5 {
                        0 if !b.is_empty() => b[i] ^= 1 << (next() % 8),
                        1 if !b.is_empty() => b[i] = SPECIAL[(next() as usize) % SPECIAL.len()],
                        2 => b.insert(i.min(b.len()), next() as u8),
                        3 if b.len() > 1 => {
                            b.remove(i);
                        }
                        _ => {
                            // Repeat a stretch (a retransmission, or more of the same).
                            let j = (i + (next() as usize) % 64).min(b.len());
                            let piece = b[i.min(j)..j].to_vec();
                            b.splice(j..j, piece);
                        }
                    }
                }
                check(&b);
                cases += 1;
            }
        }
        assert!(cases >= 6000);
    }
}
