//! The checks shared by the application protocols' fuzz targets (`fuzz/`: `dns`, `tls`,
//! `ftp`, `smtp`, `ssh`) and the mutation test below, which `cargo test` runs: whatever
//! bytes arrive, the codecs (`wire::dns`, `tls`, `ftp`, `smtp`, `imf`, `ssh`) and the
//! dissectors must not panic or hang; the model must never point outside its bytes; what
//! decodes must encode back to itself (a DNS message); and where a protocol frames its
//! messages by length (DNS over TCP, TLS), the fields must not depend on how TCP cut the
//! stream into segments.
//!
//! The bytes are given to the dissector as the payload of a real-looking conversation
//! (raw-IPv4 frames with a TCP handshake, or a UDP datagram for DNS), once in one
//! segment and once cut into pieces, from the client and from the server.

use std::fmt::Write;

use super::Proto;
use crate::dissect::model::{Packet, Value};
use crate::dissect::{Dissector, Meta};
use crate::wire::{dns, ftp, imf, smtp, ssh, tls};

/// A protocol under test: its port decides which dissector reads the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Dns,
    Tls,
    Ftp,
    Smtp,
    Ssh,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Dns,
        Protocol::Tls,
        Protocol::Ftp,
        Protocol::Smtp,
        Protocol::Ssh,
    ];

    pub fn port(self) -> u16 {
        match self {
            Protocol::Dns => 53,
            Protocol::Tls => 443,
            Protocol::Ftp => 21,
            Protocol::Smtp => 25,
            Protocol::Ssh => 22,
        }
    }

    fn proto(self) -> Proto {
        match self {
            Protocol::Dns => Proto::Dns,
            Protocol::Tls => Proto::Tls,
            Protocol::Ftp => Proto::Ftp,
            Protocol::Smtp => Proto::Smtp,
            Protocol::Ssh => Proto::Ssh,
        }
    }
}

/// The frames of one TCP connection between 10.0.0.1:40000 and 10.0.0.2:`port`, raw IPv4
/// (link type 101), checksums zero.
pub struct Conversation {
    port: u16,
    seq: [u32; 2],
    pub frames: Vec<Vec<u8>>,
}

impl Conversation {
    /// A connection with its three-way handshake.
    pub fn new(port: u16) -> Conversation {
        let mut c = Conversation {
            port,
            seq: [1000, 9000],
            frames: Vec::new(),
        };
        c.segment(true, 0x02, &[]);
        c.seq[0] += 1;
        c.segment(false, 0x12, &[]);
        c.seq[1] += 1;
        c.segment(true, 0x10, &[]);
        c
    }

    fn segment(&mut self, client: bool, flags: u8, payload: &[u8]) {
        let i = usize::from(!client);
        let (sa, da, sp, dp) = if client {
            ([10, 0, 0, 1], [10, 0, 0, 2], 40000, self.port)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], self.port, 40000)
        };
        let mut f = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
        let total = (40 + payload.len()).min(0xffff) as u16;
        f[2..4].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&sa);
        f.extend_from_slice(&da);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&self.seq[i].to_be_bytes());
        f.extend_from_slice(&self.seq[1 - i].to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.frames.push(f);
    }

    /// `payload` from the client (or the server) in one segment.
    pub fn send(&mut self, client: bool, payload: &[u8]) {
        self.segment(client, 0x18, payload);
        self.seq[usize::from(!client)] =
            self.seq[usize::from(!client)].wrapping_add(payload.len() as u32);
    }

    /// Both sides close.
    pub fn close(&mut self) {
        for c in [true, false] {
            self.segment(c, 0x11, &[]);
            self.seq[usize::from(!c)] = self.seq[usize::from(!c)].wrapping_add(1);
        }
    }
}

/// A raw-IPv4 UDP datagram between 10.0.0.1:40000 and 10.0.0.2:`port`.
pub fn udp_frame(port: u16, to_server: bool, payload: &[u8]) -> Vec<u8> {
    let (sa, da, sp, dp) = if to_server {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000, port)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], port, 40000)
    };
    let mut f = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    let total = (28 + payload.len()).min(0xffff) as u16;
    f[2..4].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&sa);
    f.extend_from_slice(&da);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()).min(0xffff) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Where to cut `len` bytes into `pieces` segments (deterministic from the bytes).
fn cuts(data: &[u8], pieces: usize) -> Vec<usize> {
    let len = data.len();
    let mut c: Vec<usize> = (1..pieces)
        .map(|i| {
            let b = data.get(i * 7 % len.max(1)).copied().unwrap_or(0) as usize;
            (i * len / pieces + b % 13).min(len)
        })
        .collect();
    c.push(len);
    c.sort_unstable();
    c.dedup();
    c
}

/// The frames that carry `data` for protocol `p`: sent by the client and then by the
/// server, in `pieces` segments each (DNS: also as UDP datagrams).
pub fn frames(p: Protocol, data: &[u8], pieces: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if p == Protocol::Dns {
        out.push(udp_frame(53, true, data));
        out.push(udp_frame(53, false, data));
    }
    for client in [true, false] {
        let mut c = Conversation::new(p.port());
        // SSH starts with version lines; the bytes under test follow both (unless they
        // start with their own, as a real connection's do).
        if p == Protocol::Ssh && !data.starts_with(b"SSH-") {
            c.send(true, b"SSH-2.0-netlab_fuzz\r\n");
            c.send(false, b"SSH-2.0-netlab_fuzz\r\n");
        }
        let mut at = 0;
        for end in cuts(data, pieces.max(1)) {
            if end > at {
                c.send(client, &data[at..end]);
                at = end;
            }
        }
        c.close();
        out.extend(c.frames);
    }
    out
}

/// Panics when the packet points outside its own bytes.
pub fn check_packet(pkt: &Packet) {
    let n = pkt.data.len();
    let within = |r: &std::ops::Range<usize>| r.start <= r.end && r.end <= n;
    for l in &pkt.layers {
        assert!(
            within(&l.range),
            "layer {:?} covers {:?} of {n}",
            l.proto,
            l.range
        );
        assert!(
            l.fields.start <= l.fields.end && l.fields.end <= pkt.fields.len(),
            "layer {:?} fields {:?}",
            l.proto,
            l.fields
        );
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

/// Dissects `frames` in order and returns, per frame, the application fields of `p`'s
/// layers (name and value), after checking each packet.
pub fn dissect(p: Protocol, frames: &[Vec<u8>]) -> Vec<String> {
    let mut d = Dissector::new();
    let mut pkt = Packet::default();
    let mut seen = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let meta = Meta {
            number: i as u64 + 1,
            ts_sec: 0,
            ts_nsec: i as u32,
            len: f.len() as u32,
            interface: 0,
            linktype: 101,
        };
        d.dissect(meta, f, &mut pkt);
        check_packet(&pkt);
        let mut s = String::new();
        for l in pkt.layers.iter().filter(|l| l.proto == p.proto()) {
            for f in &pkt.fields[l.fields.clone()] {
                if f.def.key.is_empty() || f.generated {
                    continue;
                }
                let v = match &f.value {
                    Value::Bytes(r) => format!("{:?}", pkt.data.get(r.clone())),
                    v => format!("{v:?}"),
                };
                let _ = write!(s, "{}={v};", f.def.key);
            }
        }
        if !s.is_empty() {
            seen.push(s);
        }
    }
    seen
}

/// The codecs on `data`: no panic, ranges inside the bytes, and a DNS message that
/// decodes encodes back to itself.
pub fn check_codecs(p: Protocol, data: &[u8]) {
    let len = data.len();
    match p {
        Protocol::Dns => {
            if let Ok(m) = dns::Message::parse(data) {
                assert!(m.end <= len);
                for q in &m.questions {
                    assert!(q.span.end <= len);
                }
            }
            if let Ok(r) = dns::Repr::parse(data)
                && let Ok(bytes) = r.to_bytes()
            {
                // Names with escaped bytes (a dot inside a label) read back otherwise.
                let plain = !format!("{r:?}").contains('\\');
                if plain {
                    assert_eq!(dns::Repr::parse(&bytes).as_ref(), Ok(&r), "DNS round trip");
                }
            }
        }
        Protocol::Tls => {
            let mut at = 0;
            while let Some(n) = tls::record_len(&data[at..]) {
                let end = (at + n).min(len);
                let mut h = at + tls::HEADER_LEN;
                while let Some(m) = tls::read_handshake(data, h, end) {
                    assert!(m.span.end <= end && m.span.start == h);
                    let _ = tls::parse_hello(data, m.body.clone(), true);
                    if let Ok(hello) = tls::parse_hello(data, m.body.clone(), false) {
                        let _ = tls::ja3_line(data, &hello, false);
                    }
                    let _ = tls::parse_certificates(data, m.body.clone());
                    let _ = tls::parse_ecdhe_server_params(data, m.body.clone(), true);
                    let _ = tls::parse_session_ticket(data, m.body.clone());
                    h = m.span.end;
                }
                if at + n >= len {
                    break;
                }
                at += n;
            }
        }
        Protocol::Ftp => {
            let _ = ftp::reply_len(data);
            let c = ftp::parse_command(data);
            assert!(c.line.end <= len);
            let r = ftp::parse_reply(data);
            assert!(r.more.iter().all(|m| m.end <= len));
            if let Some(hp) = ftp::parse_pasv(data) {
                assert!(hp.port_range.end <= len);
            }
            let _ = ftp::parse_epsv(data);
            let _ = ftp::parse_eprt(data);
        }
        Protocol::Smtp => {
            for l in smtp::lines(data) {
                let _ = smtp::parse_command(data, l.clone());
                let _ = smtp::parse_reply_line(data, l);
            }
            let _ = smtp::data_end(data);
            let _ = smtp::unstuff(data);
            let m = imf::parse(data);
            assert!(m.body.end <= len);
            for h in &m.headers {
                for a in imf::addresses(data, h.value.clone(), h.span.end) {
                    assert!(a.item.end <= len && a.address.end <= len);
                }
            }
        }
        Protocol::Ssh => {
            let _ = ssh::parse_banner(data);
            let mut at = 0;
            while let Some(Ok(n)) = ssh::packet_len(&data[at..]) {
                if let Ok(p) = ssh::Packet::new_checked(&data[at..]) {
                    let pl = p.payload();
                    let _ = ssh::parse_kexinit(&data[at..], pl.start + 1..pl.end);
                }
                at += n;
                if at >= len {
                    break;
                }
            }
        }
    }
}

/// Everything, for protocol `p`: the codecs, then the dissector on `data` in one
/// segment and cut into pieces. DNS and TLS frame their messages by length: their fields
/// must not depend on the cuts.
pub fn check(p: Protocol, data: &[u8]) {
    check_codecs(p, data);
    let whole = dissect(p, &frames(p, data, 1));
    let pieces = 2 + data.first().copied().unwrap_or(0) as usize % 5;
    let cut = dissect(p, &frames(p, data, pieces));
    // A TLS stream that stops being records is given up at the segment where that
    // shows, and picked up at a later segment that starts one (as Wireshark does):
    // there the cuts do matter.
    let framed = match p {
        Protocol::Dns => true,
        Protocol::Tls => {
            let mut at = 0;
            loop {
                let rest = &data[at..];
                if rest.len() < tls::HEADER_LEN {
                    break rest.is_empty();
                }
                if !tls::looks_like_record_header(rest) {
                    break false;
                }
                at += tls::record_len(rest).unwrap_or(rest.len());
                if at >= data.len() {
                    break true;
                }
            }
        }
        _ => false,
    };
    if framed {
        assert_eq!(
            whole.concat(),
            cut.concat(),
            "{p:?}: the fields depend on how TCP cut the stream {data:02x?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real messages of each protocol (built with the codecs, shaped like the captures').
    fn seeds(p: Protocol) -> Vec<Vec<u8>> {
        match p {
            Protocol::Dns => {
                let mut a = dns::Repr::query(0x2001, "netlab.test", dns::rtype::MX);
                a.flags |= dns::flags::QR | dns::flags::AA;
                a.answers.push(dns::RecordRepr {
                    name: "netlab.test".into(),
                    class: 1,
                    ttl: 600,
                    data: dns::RdataRepr::Mx {
                        preference: 10,
                        exchange: "mail.netlab.test".into(),
                    },
                });
                a.additionals.push(dns::RecordRepr {
                    name: String::new(),
                    class: 1232,
                    ttl: 0,
                    data: dns::RdataRepr::Opt(vec![(10, vec![1; 8])]),
                });
                let q = dns::Repr::query(0x2002, "www.netlab.test", dns::rtype::A)
                    .to_bytes()
                    .unwrap();
                let a = a.to_bytes().unwrap();
                // Over TCP: length-prefixed, two messages back to back.
                let mut tcp = (q.len() as u16).to_be_bytes().to_vec();
                tcp.extend_from_slice(&q);
                tcp.extend_from_slice(&(a.len() as u16).to_be_bytes());
                tcp.extend_from_slice(&a);
                vec![q, a, tcp]
            }
            Protocol::Tls => {
                let mut two = tls::tests::client_hello().record();
                two.extend_from_slice(&[20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 3, 1, 2, 3]);
                vec![tls::tests::client_hello().record(), two]
            }
            Protocol::Ftp => vec![
                b"220 Welcome\r\nUSER anonymous\r\n".to_vec(),
                b"227 Entering Passive Mode (10,0,0,2,117,55).\r\n".to_vec(),
                b"229 Entering Extended Passive Mode (|||30004|)\r\n".to_vec(),
                b"211-Features:\r\n EPSV\r\n211 End\r\nPORT 10,0,0,1,4,1\r\nEPRT |2|::1|5282|\r\n"
                    .to_vec(),
            ],
            Protocol::Smtp => vec![
                b"EHLO c\r\nMAIL FROM:<a@x>\r\nDATA\r\n".to_vec(),
                b"250-x\r\n250 HELP\r\n354 go\r\n".to_vec(),
                b"From: a@x\r\nTo: b@x, \"C, D\" <c@x>\r\nSubject: s\r\n\r\n..dot\r\n.\r\n"
                    .to_vec(),
            ],
            Protocol::Ssh => {
                let mut k = ssh::packet(&ssh::tests::kexinit().payload());
                k.extend_from_slice(&ssh::packet(&[ssh::msg::NEWKEYS]));
                k.extend_from_slice(&[0x11; 40]);
                vec![k]
            }
        }
    }

    const SPECIAL: &[u8] =
        b"\x00\x01\x02\x03\x04\x0a\x0d\x14\x15\x16\x17\x1f\x20\x2c\x2e\x3a\x7f\x80\xc0\xff";

    #[test]
    fn mutated_messages_never_panic_and_keep_their_invariants() {
        let mut rng = crate::random::mutation_seed();
        let mut cases = 0;
        for p in Protocol::ALL {
            for seed in seeds(p) {
                check(p, &seed);
                for _ in 0..150 {
                    let mut b = seed.clone();
                    crate::random::mutate(&mut b, &mut rng, SPECIAL);
                    check(p, &b);
                    cases += 1;
                }
            }
        }
        assert!(cases >= 1500, "{cases}");
    }

    #[test]
    fn the_checks_see_real_messages() {
        // Not vacuous: each protocol's seed yields its fields.
        for p in Protocol::ALL {
            for seed in seeds(p) {
                let seen = dissect(p, &frames(p, &seed, 1));
                assert!(!seen.is_empty(), "{p:?}: no fields from {seed:?}");
            }
        }
    }
}
