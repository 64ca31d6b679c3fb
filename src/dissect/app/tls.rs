//! TLS records and the handshake, read with `wire::tls`.
//!
//! Each record is one PDU: its header says how long it is, so a record split over
//! segments is dissected once, on the segment that completes it, and several records in
//! one segment are each dissected (the packet list names them all: `Server Hello,
//! Certificate, Server Key Exchange, Server Hello Done`). The conversation remembers what
//! the hellos negotiated — the version (the Protocol column becomes `TLSv1.3` after a
//! ServerHello choosing it), the cipher suite (which says how to read the key exchange
//! messages) and ALPN — and, per direction, whether a ChangeCipherSpec has switched the
//! sender to encryption: its later handshake records and alerts can no longer be read.
//!
//! A handshake message longer than its record continues in the next (RFC 8446 § 5.1):
//! the start is kept (up to [`MAX_HANDSHAKE`] bytes) and the message is dissected from a
//! "Reassembled TLS handshake" source on the record that completes it.
//!
//! Lengths that run past what contains them (a cipher suite list longer than the hello,
//! a record longer than TLS allows) are marked `[malformed: …]`.

use std::fmt::Write;
use std::ops::Range;

use super::{AppDef, Cx, Dir, Need, Session, Start, Transport};
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::tls::{
    self, Extension, HandshakeMsg, Hello, KeyExchange, Reader, content, ext, handshake, version,
};
use crate::wire::{be16, be32};

/// Wireshark's TLS ports (`tls.port` and the protocols over TLS it knows by port).
pub const APP: AppDef = AppDef {
    name: "tls",
    aliases: &["ssl"],
    proto: Proto::Tls,
    tcp_ports: &[
        443, 465, 636, 853, 993, 995, 324, 802, 1300, 2221, 2443, 3249, 3250, 3251, 3252, 3496,
        5061, 5671, 5684, 5868, 8883, 11207, 19999, 27017,
    ],
    udp_ports: &[],
    heuristic: Some(heuristic),
    new: |start| Box::new(Tls::new(start)),
};

/// The most bytes of one handshake message kept while it arrives in several records.
pub const MAX_HANDSHAKE: usize = 64 * 1024;

/// A handshake record carrying a ClientHello (to the server) or ServerHello (to the
/// client), as Wireshark's TLS heuristic.
fn heuristic(t: Transport, b: &[u8]) -> Option<Dir> {
    if t != Transport::Tcp || !tls::looks_like_record_header(b) || b[0] != content::HANDSHAKE {
        return None;
    }
    match b.get(tls::HEADER_LEN) {
        Some(&handshake::CLIENT_HELLO) => Some(Dir::ToServer),
        Some(&handshake::SERVER_HELLO) => Some(Dir::ToClient),
        _ => None,
    }
}

pub(crate) struct Tls {
    /// The version the ServerHello chose.
    version: Option<u16>,
    /// The cipher suite the ServerHello chose.
    suite: Option<u16>,
    /// The protocol the ServerHello's ALPN chose (TLS 1.2: in the clear).
    alpn: Option<String>,
    /// Per direction: a ChangeCipherSpec was sent; what follows is encrypted.
    encrypted: [bool; 2],
    /// Per direction: the start of a handshake message that continues in the next record.
    partial: [Vec<u8>; 2],
    /// Per direction: encrypted records sent so far (for TLS 1.3's notes).
    sealed: [u32; 2],
    /// The server's port: what the application data is when ALPN does not say.
    port: u16,
}

impl Tls {
    pub fn new(start: &Start) -> Tls {
        Tls {
            version: None,
            suite: None,
            alpn: None,
            encrypted: [false, false],
            partial: [Vec::new(), Vec::new()],
            sealed: [0, 0],
            port: start.server.port(),
        }
    }

    fn tls13(&self) -> bool {
        self.version == Some(version::TLS_1_3)
    }

    /// The protocol inside the records: what ALPN chose in the clear, else what the
    /// server's port is for (Wireshark's TLS port table).
    fn inner(&self) -> Option<&'static str> {
        match self.alpn.as_deref() {
            Some(a) => alpn_protocol(a),
            None => port_protocol(self.port),
        }
    }
}

impl Session for Tls {
    fn pdu_len(&mut self, _dir: Dir, buf: &[u8]) -> Need {
        if buf.len() < tls::HEADER_LEN {
            // Refuse early what cannot become a record header.
            let ok = match buf {
                [] => true,
                [t] => (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(t),
                [t, 3, ..] => (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(t),
                _ => false,
            };
            return if ok {
                Need::More(Some(tls::HEADER_LEN))
            } else {
                Need::NotMine
            };
        }
        if !tls::looks_like_record_header(buf) {
            return Need::NotMine;
        }
        tls::record_len(buf).map_or(Need::More(Some(tls::HEADER_LEN)), Need::Pdu)
    }

    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        cx.begin(Proto::Tls, 0);
        let mut descr = String::new();
        if pdu.len() < tls::HEADER_LEN {
            cx.truncated("the record header is incomplete");
            cx.column("TLS");
            cx.end(pdu.len());
            return;
        }
        let rec = tls::Record::new_unchecked(pdu);
        let (ct, rv, len) = (rec.content_type(), rec.version(), rec.length() as usize);
        let end = (tls::HEADER_LEN + len).min(pdu.len());
        let frag = tls::HEADER_LEN..end;
        let d = cx.dir.index();
        let encrypted = self.encrypted[d];
        let opaque = self.tls13() && ct == content::APPLICATION_DATA;
        if cx.record {
            cx.push(0, &tls::RECORD, 0..end, Value::Group);
            let def = if opaque {
                &tls::RECORD_OPAQUE_TYPE
            } else {
                &tls::RECORD_CONTENT_TYPE
            };
            cx.push(1, def, tls::field::CONTENT_TYPE, Value::Uint(ct.into()));
            note!(cx, "({})", tls::content_type_name(ct));
            cx.push(
                1,
                &tls::RECORD_VERSION,
                tls::field::VERSION,
                Value::Hex(rv.into(), 4),
            );
            note!(cx, "({})", tls::version_name(rv));
            cx.push(
                1,
                &tls::RECORD_LENGTH,
                tls::field::LENGTH,
                Value::Uint(len as u64),
            );
        }
        if len > tls::MAX_RECORD_LEN {
            cx.malformed(format!(
                "the record announces {len} bytes; TLS allows at most {} (2^14 + 2048)",
                tls::MAX_RECORD_LEN
            ));
        }
        // A message split over records must continue in the next handshake record.
        if ct != content::HANDSHAKE && !self.partial[d].is_empty() {
            cx.malformed(format!(
                "a handshake message was cut: {} bytes of it arrived, then a {} record",
                self.partial[d].len(),
                tls::content_type_name(ct)
            ));
            self.partial[d].clear();
        }
        match ct {
            content::CHANGE_CIPHER_SPEC => {
                if cx.record {
                    cx.push(1, &tls::CHANGE_CIPHER_SPEC, frag.clone(), Value::Group);
                }
                if frag.len() != 1 {
                    cx.malformed(format!(
                        "a ChangeCipherSpec is 1 byte, this one is {}",
                        frag.len()
                    ));
                }
                self.encrypted[d] = true;
                descr.push_str("Change Cipher Spec");
            }
            content::ALERT if encrypted || self.tls13() && frag.len() != 2 => {
                if cx.record {
                    cx.push(1, &tls::ALERT_MESSAGE, frag.clone(), Value::Group);
                    note!(cx, "(encrypted: nobody on the path can read which alert)");
                }
                descr.push_str("Encrypted Alert");
            }
            content::ALERT => {
                if frag.len() < 2 {
                    cx.malformed(format!("an alert is 2 bytes, this one is {}", frag.len()));
                    descr.push_str("Alert");
                } else {
                    let (level, desc) = (pdu[frag.start], pdu[frag.start + 1]);
                    if cx.record {
                        cx.push(1, &tls::ALERT_MESSAGE, frag.clone(), Value::Group);
                        let a = frag.start;
                        cx.push(2, &tls::ALERT_LEVEL, a..a + 1, Value::Uint(level.into()));
                        note!(cx, "({})", tls::alert_level_name(level));
                        cx.push(
                            2,
                            &tls::ALERT_DESCRIPTION,
                            a + 1..a + 2,
                            Value::Uint(desc.into()),
                        );
                        note!(cx, "({})", tls::alert_name(desc));
                    }
                    let _ = write!(
                        descr,
                        "Alert (Level: {}, Description: {})",
                        tls::alert_level_name(level),
                        tls::alert_name(desc)
                    );
                    if frag.len() != 2 {
                        cx.malformed(format!("an alert is 2 bytes, this one is {}", frag.len()));
                    }
                }
            }
            content::HANDSHAKE if encrypted => {
                if cx.record {
                    cx.push(1, &tls::HANDSHAKE, frag.clone(), Value::Group);
                    note!(
                        cx,
                        "(encrypted: after ChangeCipherSpec this side's messages are sealed; this is its Finished)"
                    );
                }
                descr.push_str("Encrypted Handshake Message");
            }
            content::HANDSHAKE => self.handshakes(cx, pdu, frag.clone(), &mut descr),
            content::APPLICATION_DATA => {
                self.sealed[d] += 1;
                if cx.record {
                    cx.push(1, &tls::APP_DATA, frag.clone(), Value::Bytes(frag.clone()));
                    if self.tls13() {
                        let client = cx.dir == Dir::ToServer;
                        if !client && self.sealed[Dir::ToServer.index()] == 0 {
                            note!(
                                cx,
                                "(TLS 1.3 encrypts the rest of the server's handshake too: EncryptedExtensions, its Certificate, CertificateVerify and Finished travel in records like this one)"
                            );
                        } else if client && self.sealed[d] == 1 {
                            note!(
                                cx,
                                "(TLS 1.3: most likely the client's Finished, its first encrypted message)"
                            );
                        }
                    }
                    if let Some(p) = self.inner() {
                        cx.push_generated(1, &tls::APP_DATA_PROTO, Value::Text(p.into()));
                    }
                }
                descr.push_str("Application Data");
            }
            _ => {
                if cx.record {
                    cx.push(1, &tls::APP_DATA, frag.clone(), Value::Bytes(frag.clone()));
                }
                descr.push_str(tls::content_type_name(ct));
            }
        }
        // The layer's heading, as Wireshark's tree names a record: `TLSv1.2 Record
        // Layer: Handshake Protocol: Client Hello`.
        if cx.detail {
            let col = tls::version_column(self.version.unwrap_or(rv));
            let line = match ct {
                content::HANDSHAKE => format!("Handshake Protocol: {descr}"),
                content::CHANGE_CIPHER_SPEC => format!("Change Cipher Spec Protocol: {descr}"),
                content::APPLICATION_DATA => format!(
                    "Application Data Protocol: {}",
                    self.alpn
                        .as_deref()
                        .and_then(alpn_protocol)
                        .unwrap_or(&descr)
                ),
                _ => descr.clone(),
            };
            headline!(cx, "{col} Record Layer: {line}");
        }
        if cx.cut {
            cx.incomplete(format!(
                "the record is cut: {len} bytes announced, {} arrived before the connection ended",
                pdu.len().saturating_sub(tls::HEADER_LEN)
            ));
        }
        cx.column(tls::version_column(self.version.unwrap_or(rv)));
        let first = cx.first;
        let info = cx.info();
        if !first && !info.is_empty() {
            info.push_str(", ");
        }
        info.push_str(&descr);
        cx.end(end);
    }

    fn lost(&mut self, dir: Dir) {
        self.partial[dir.index()].clear();
    }

    fn layer_on_start(&self) -> Option<Proto> {
        Some(Proto::Tls)
    }
}

/// The protocol a TLS port carries, as Wireshark's port table names it (its long name).
fn port_protocol(port: u16) -> Option<&'static str> {
    Some(match port {
        443 => "Hypertext Transfer Protocol",
        853 => "Domain Name System",
        465 => "Simple Mail Transfer Protocol",
        993 => "Internet Message Access Protocol",
        995 => "Post Office Protocol",
        636 => "Lightweight Directory Access Protocol",
        5061 => "Session Initiation Protocol",
        8883 => "MQ Telemetry Transport Protocol",
        _ => return None,
    })
}

/// The protocol Wireshark names for an ALPN token (its long name).
fn alpn_protocol(alpn: &str) -> Option<&'static str> {
    match alpn {
        "http/1.1" | "http/1.0" => Some("Hypertext Transfer Protocol"),
        "h2" => Some("HyperText Transfer Protocol 2"),
        _ => None,
    }
}

impl Tls {
    /// The handshake messages of one record's fragment `frag`.
    fn handshakes(&mut self, cx: &mut Cx, pdu: &[u8], frag: Range<usize>, descr: &mut String) {
        let d = cx.dir.index();
        if !self.partial[d].is_empty() {
            // The rest of a message the previous record began: put it together and read
            // it (and whatever complete messages follow) from the joined bytes.
            let mut joined = std::mem::take(&mut self.partial[d]);
            if joined.len() + frag.len() > MAX_HANDSHAKE {
                cx.malformed(format!(
                    "a handshake message spans more than {MAX_HANDSHAKE} bytes of records; netlab does not hold more"
                ));
                return;
            }
            joined.extend_from_slice(&pdu[frag.clone()]);
            let complete = complete_prefix(&joined);
            if cx.record {
                cx.push(1, &tls::HANDSHAKE, frag.clone(), Value::Group);
                note!(cx, "(the rest of a message begun in an earlier record)");
            }
            if complete > 0 {
                let bytes = joined[..complete].to_vec();
                cx.source("Reassembled TLS handshake", &bytes, |sub| {
                    self.messages(sub, &bytes, 0..bytes.len(), descr);
                });
            }
            if complete < joined.len() {
                self.partial[d] = joined[complete..].to_vec();
                sep(descr);
                descr.push_str("Handshake message fragment");
            }
            return;
        }
        self.messages(cx, pdu, frag, descr);
    }

    /// Every message in `r`; a message that runs past `r` is kept for the next record.
    fn messages(&mut self, cx: &mut Cx, buf: &[u8], r: Range<usize>, descr: &mut String) {
        let mut at = r.start;
        while at < r.end {
            let Some(m) = tls::read_handshake(buf, at, r.end) else {
                // A message continuing in the next record (or a header cut by it).
                let announced = buf
                    .get(at + 1..at + 4)
                    .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize);
                if announced.is_some_and(|n| n + tls::HANDSHAKE_HEADER_LEN > MAX_HANDSHAKE) {
                    cx.malformed(format!(
                        "a handshake message announces {} bytes, past the record ({} left) and more than netlab holds",
                        announced.unwrap_or(0),
                        r.end - at - tls::HANDSHAKE_HEADER_LEN.min(r.end - at)
                    ));
                } else {
                    self.partial[cx.dir.index()] = buf[at..r.end].to_vec();
                    if cx.record {
                        cx.push(1, &tls::HANDSHAKE, at..r.end, Value::Group);
                        note!(
                            cx,
                            "(the start of a {} message that continues in the next record)",
                            tls::handshake_name(buf[at])
                        );
                    }
                }
                sep(descr);
                let _ = write!(descr, "{} (fragment)", tls::handshake_name(buf[at]));
                return;
            };
            at = m.span.end;
            let name = self.message(cx, buf, &m);
            sep(descr);
            descr.push_str(name);
        }
    }

    /// One handshake message; returns its name for the packet list.
    fn message(&mut self, cx: &mut Cx, buf: &[u8], m: &HandshakeMsg) -> &'static str {
        let t = m.msg_type;
        let mut name = tls::handshake_name(t);
        let h = m.span.start;
        let retry = t == handshake::SERVER_HELLO
            && buf.get(h + 6..h + 38) == Some(&tls::HELLO_RETRY_RANDOM[..]);
        if retry {
            name = "Hello Retry Request";
        }
        if cx.record {
            cx.push(1, &tls::HANDSHAKE, m.span.clone(), Value::Group);
            note!(cx, "{name}");
            cx.push(2, &tls::HANDSHAKE_TYPE, h..h + 1, Value::Uint(t.into()));
            note!(cx, "({})", tls::handshake_name(t));
            cx.push(
                2,
                &tls::HANDSHAKE_LENGTH,
                h + 1..h + 4,
                Value::Uint(m.length.into()),
            );
        }
        let body = m.body.clone();
        let result = match t {
            handshake::CLIENT_HELLO | handshake::SERVER_HELLO => {
                let client = t == handshake::CLIENT_HELLO;
                tls::parse_hello(buf, body, client).map(|hello| {
                    if !client {
                        self.learn(buf, &hello, retry);
                    }
                    if cx.record {
                        self.hello(cx, buf, &hello, client, retry);
                    }
                })
            }
            handshake::CERTIFICATE if !self.tls13() => {
                tls::parse_certificates(buf, body).map(|c| {
                    if cx.record {
                        certificates(cx, &c);
                    }
                })
            }
            handshake::SERVER_KEY_EXCHANGE => self.server_key_exchange(cx, buf, body),
            handshake::CLIENT_KEY_EXCHANGE => self.client_key_exchange(cx, buf, body),
            handshake::NEW_SESSION_TICKET if !self.tls13() => tls::parse_session_ticket(buf, body)
                .map(|s| {
                    if cx.record {
                        cx.push(
                            2,
                            &tls::SESSION_TICKET_LIFETIME_HINT,
                            s.lifetime_hint.1,
                            Value::Uint(s.lifetime_hint.0.into()),
                        );
                        note!(cx, "seconds ({})", super::dns::duration(s.lifetime_hint.0));
                        cx.push(
                            2,
                            &tls::SESSION_TICKET_LENGTH,
                            s.ticket_len,
                            Value::Uint(s.ticket.len() as u64),
                        );
                        cx.push(
                            2,
                            &tls::SESSION_TICKET,
                            s.ticket.clone(),
                            Value::Bytes(s.ticket),
                        );
                    }
                }),
            _ => Ok(()),
        };
        if let Err(e) = result {
            cx.malformed(format!("{name}: {e}"));
        }
        name
    }

    /// What the ServerHello decided.
    fn learn(&mut self, buf: &[u8], hello: &Hello, retry: bool) {
        self.version = Some(hello.version);
        if let Some(e) = hello.extension(ext::SUPPORTED_VERSIONS)
            && e.data.len() == 2
        {
            self.version = Some(be16(buf, e.data.start));
        }
        if retry {
            return;
        }
        self.suite = hello.cipher_suites.first().map(|s| s.0);
        if let Some(e) = hello.extension(ext::ALPN) {
            let mut r = Reader::new(buf, e.data.clone());
            if let Ok((_, list)) = r.vec(2, "ALPN")
                && let Ok((_, p)) = r.sub(list).vec(1, "ALPN")
            {
                self.alpn = Some(String::from_utf8_lossy(&buf[p]).into_owned());
            }
        }
    }

    fn hello(&self, cx: &mut Cx, buf: &[u8], h: &Hello, client: bool, retry: bool) {
        cx.push(
            2,
            &tls::HANDSHAKE_VERSION,
            h.version_range.clone(),
            Value::Hex(h.version.into(), 4),
        );
        note!(cx, "({})", tls::version_name(h.version));
        cx.push(
            2,
            &tls::RANDOM,
            h.random.clone(),
            Value::Bytes(h.random.clone()),
        );
        if retry {
            note!(cx, "(the fixed value that marks a HelloRetryRequest)");
        }
        // Wireshark reads a time in the random, except in a TLS 1.3 ServerHello (whose
        // random is all random).
        let tls13_server = !client && self.tls13();
        if !tls13_server && !retry {
            let r = h.random.start;
            let secs = be32(buf, r);
            cx.push(
                3,
                &tls::RANDOM_TIME,
                r..r + 4,
                Value::Text(gmt(secs).into()),
            );
            cx.push(
                3,
                &tls::RANDOM_BYTES,
                r + 4..h.random.end,
                Value::Bytes(r + 4..h.random.end),
            );
        }
        cx.push(
            2,
            &tls::SESSION_ID_LENGTH,
            h.session_id_len.clone(),
            Value::Uint(h.session_id.len() as u64),
        );
        if !h.session_id.is_empty() {
            cx.push(
                2,
                &tls::SESSION_ID,
                h.session_id.clone(),
                Value::Bytes(h.session_id.clone()),
            );
        }
        match &h.cipher_suites_len {
            Some(l) => {
                let n = h.cipher_suites.len();
                cx.push(
                    2,
                    &tls::CIPHER_SUITES_LENGTH,
                    l.clone(),
                    Value::Uint((2 * n) as u64),
                );
                let all = l.end..l.end + 2 * n;
                cx.push(2, &tls::CIPHER_SUITES, all, Value::Group);
                note!(cx, "({n} suite{})", if n == 1 { "" } else { "s" });
                for (s, r) in &h.cipher_suites {
                    cx.push(3, &tls::CIPHER_SUITE, r.clone(), Value::Hex((*s).into(), 4));
                    note!(cx, "({})", tls::cipher_suite_name(*s));
                }
            }
            None => {
                if let Some((s, r)) = h.cipher_suites.first() {
                    cx.push(2, &tls::CIPHER_SUITE, r.clone(), Value::Hex((*s).into(), 4));
                    note!(cx, "({}) — the server's choice", tls::cipher_suite_name(*s));
                }
            }
        }
        match &h.compression_len {
            Some(l) => {
                let n = h.compression.len();
                cx.push(
                    2,
                    &tls::COMP_METHODS_LENGTH,
                    l.clone(),
                    Value::Uint(n as u64),
                );
                cx.push(2, &tls::COMP_METHODS, l.end..l.end + n, Value::Group);
                note!(cx, "({n} method{})", if n == 1 { "" } else { "s" });
                for (c, r) in &h.compression {
                    cx.push(3, &tls::COMP_METHOD, r.clone(), Value::Uint((*c).into()));
                    note!(cx, "({})", if *c == 0 { "null" } else { "Unknown" });
                }
            }
            None => {
                if let Some((c, r)) = h.compression.first() {
                    cx.push(2, &tls::COMP_METHOD, r.clone(), Value::Uint((*c).into()));
                    note!(cx, "({})", if *c == 0 { "null" } else { "Unknown" });
                }
            }
        }
        if let Some(l) = &h.extensions_len {
            let n = h.extensions.last().map_or(l.end, |e| e.span.end) - l.end;
            cx.push(2, &tls::EXTENSIONS_LENGTH, l.clone(), Value::Uint(n as u64));
        }
        for e in &h.extensions {
            if let Err(err) = extension(cx, buf, e, client, retry) {
                cx.malformed(format!(
                    "extension {}: {err}",
                    tls::extension_name(e.ext_type)
                ));
            }
        }
        if !retry {
            let line = tls::ja3_line(buf, h, client);
            let hash = crate::wire::md5::hex(line.as_bytes());
            let (full, short) = if client {
                (&tls::JA3_FULL, &tls::JA3)
            } else {
                (&tls::JA3S_FULL, &tls::JA3S)
            };
            cx.push_generated(2, full, Value::Text(line.into()));
            cx.push_generated(2, short, Value::Text(hash.into()));
        }
    }

    fn server_key_exchange(
        &self,
        cx: &mut Cx,
        buf: &[u8],
        body: Range<usize>,
    ) -> Result<(), tls::TlsError> {
        let kx = self.suite.map_or(KeyExchange::Other, tls::key_exchange);
        if kx != KeyExchange::Ecdhe {
            return Ok(());
        }
        let with_alg = self.version.is_some_and(|v| v >= version::TLS_1_2);
        let p = tls::parse_ecdhe_server_params(buf, body, with_alg)?;
        if !cx.record {
            return Ok(());
        }
        cx.push(
            2,
            &tls::SERVER_CURVE_TYPE,
            p.curve_type.1,
            Value::Hex(p.curve_type.0.into(), 2),
        );
        note!(
            cx,
            "({})",
            if p.curve_type.0 == 3 {
                "named_curve"
            } else {
                "Unknown"
            }
        );
        cx.push(
            2,
            &tls::SERVER_NAMED_CURVE,
            p.named_curve.1,
            Value::Hex(p.named_curve.0.into(), 4),
        );
        note!(cx, "({})", tls::group_name(p.named_curve.0));
        cx.push(
            2,
            &tls::SERVER_POINT_LEN,
            p.point_len,
            Value::Uint(p.point.len() as u64),
        );
        cx.push(
            2,
            &tls::SERVER_POINT,
            p.point.clone(),
            Value::Bytes(p.point),
        );
        if let Some((a, r)) = p.sig_alg {
            sig_alg(cx, 2, a, r);
        }
        cx.push(2, &tls::SIG_LEN, p.sig_len, Value::Uint(p.sig.len() as u64));
        cx.push(2, &tls::SIG, p.sig.clone(), Value::Bytes(p.sig));
        Ok(())
    }

    fn client_key_exchange(
        &self,
        cx: &mut Cx,
        buf: &[u8],
        body: Range<usize>,
    ) -> Result<(), tls::TlsError> {
        let kx = self.suite.map_or(KeyExchange::Other, tls::key_exchange);
        if kx != KeyExchange::Ecdhe {
            return Ok(());
        }
        let mut rd = Reader::new(buf, body);
        let (l, point) = rd.vec(1, "the client's public key")?;
        if cx.record {
            cx.push(
                2,
                &tls::CLIENT_POINT_LEN,
                l,
                Value::Uint(point.len() as u64),
            );
            cx.push(2, &tls::CLIENT_POINT, point.clone(), Value::Bytes(point));
        }
        Ok(())
    }
}

fn sep(s: &mut String) {
    if !s.is_empty() {
        s.push_str(", ");
    }
}

/// How many leading bytes of `b` are complete handshake messages.
fn complete_prefix(b: &[u8]) -> usize {
    let mut at = 0;
    while let Some(m) = tls::read_handshake(b, at, b.len()) {
        at = m.span.end;
    }
    at
}

/// The 2-byte items of a list, or why its length is odd.
fn pairs(list: &Range<usize>, what: &'static str) -> Result<Vec<Range<usize>>, tls::TlsError> {
    if !list.len().is_multiple_of(2) {
        return Err(tls::TlsError::Uneven {
            what,
            at: list.start,
            len: list.len(),
            item: 2,
        });
    }
    Ok((list.start..list.end)
        .step_by(2)
        .map(|i| i..i + 2)
        .collect())
}

fn sig_alg(cx: &mut Cx, depth: u8, a: u16, r: Range<usize>) {
    cx.push(
        depth,
        &tls::SIG_HASH_ALG,
        r.clone(),
        Value::Hex(a.into(), 4),
    );
    note!(cx, "({})", tls::signature_scheme_name(a));
    let (hash, sig) = ((a >> 8) as u8, a as u8);
    cx.push(
        depth + 1,
        &tls::SIG_HASH_HASH,
        r.start..r.start + 1,
        Value::Uint(hash.into()),
    );
    note!(cx, "({})", tls::sig_hash_name(hash));
    cx.push(
        depth + 1,
        &tls::SIG_HASH_SIG,
        r.start + 1..r.end,
        Value::Uint(sig.into()),
    );
    note!(cx, "({})", tls::sig_sig_name(sig));
}

fn certificates(cx: &mut Cx, c: &tls::Certificates) {
    cx.push(
        2,
        &tls::CERTIFICATES_LENGTH,
        c.list_len.clone(),
        Value::Uint(c.list.len() as u64),
    );
    cx.push(2, &tls::CERTIFICATES, c.list.clone(), Value::Group);
    let n = c.certs.len();
    note!(
        cx,
        "({n} certificate{}: {})",
        if n == 1 { "" } else { "s" },
        c.certs
            .iter()
            .map(|(_, b)| format!("{} bytes", b.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (l, b) in &c.certs {
        cx.push(
            3,
            &tls::CERTIFICATE_LENGTH,
            l.clone(),
            Value::Uint(b.len() as u64),
        );
        cx.push(3, &tls::CERTIFICATE, b.clone(), Value::Bytes(b.clone()));
    }
}

/// One extension's fields.
fn extension(
    cx: &mut Cx,
    buf: &[u8],
    e: &Extension,
    client: bool,
    retry: bool,
) -> Result<(), tls::TlsError> {
    let t = e.ext_type;
    let s = e.span.start;
    cx.push(2, &tls::EXTENSION, e.span.clone(), Value::Group);
    note!(cx, "{} (len={})", tls::extension_name(t), e.data.len());
    cx.push(3, &tls::EXTENSION_TYPE, s..s + 2, Value::Uint(t.into()));
    note!(cx, "({})", tls::extension_name(t));
    cx.push(
        3,
        &tls::EXTENSION_LEN,
        s + 2..s + 4,
        Value::Uint(e.data.len() as u64),
    );
    let mut rd = Reader::new(buf, e.data.clone());
    match t {
        ext::SERVER_NAME if client => {
            let (l, list) = rd.vec(2, "the server name list")?;
            cx.push(
                4,
                &tls::SERVER_NAME_LIST_LEN,
                l,
                Value::Uint(list.len() as u64),
            );
            let mut lr = rd.sub(list);
            while !lr.is_empty() {
                let a = lr.pos;
                let typ = lr.u8("a server name's type")?;
                cx.push(4, &tls::SERVER_NAME_TYPE, a..a + 1, Value::Uint(typ.into()));
                note!(cx, "({})", if typ == 0 { "host_name" } else { "Unknown" });
                let (nl, name) = lr.vec(2, "a server name")?;
                cx.push(4, &tls::SERVER_NAME_LEN, nl, Value::Uint(name.len() as u64));
                cx.push_text(4, &tls::SERVER_NAME, buf, name);
            }
        }
        ext::SUPPORTED_GROUPS => {
            let (l, list) = rd.vec(2, "the supported groups")?;
            cx.push(
                4,
                &tls::SUPPORTED_GROUPS_LENGTH,
                l,
                Value::Uint(list.len() as u64),
            );
            cx.push(4, &tls::SUPPORTED_GROUPS, list.clone(), Value::Group);
            for i in pairs(&list, "the supported groups")? {
                let g = be16(buf, i.start);
                cx.push(5, &tls::SUPPORTED_GROUP, i, Value::Hex(g.into(), 4));
                note!(cx, "({})", tls::group_name(g));
            }
        }
        ext::EC_POINT_FORMATS => {
            let (l, list) = rd.vec(1, "the point formats")?;
            cx.push(
                4,
                &tls::EC_POINT_FORMATS_LENGTH,
                l,
                Value::Uint(list.len() as u64),
            );
            cx.push(4, &tls::EC_POINT_FORMATS, list.clone(), Value::Group);
            for i in list {
                cx.push(
                    5,
                    &tls::EC_POINT_FORMAT,
                    i..i + 1,
                    Value::Uint(buf[i].into()),
                );
                note!(cx, "({})", tls::ec_point_format_name(buf[i]));
            }
        }
        ext::SIGNATURE_ALGORITHMS => {
            let (l, list) = rd.vec(2, "the signature algorithms")?;
            cx.push(4, &tls::SIG_HASH_ALG_LEN, l, Value::Uint(list.len() as u64));
            cx.push(4, &tls::SIG_HASH_ALGS, list.clone(), Value::Group);
            note!(cx, "({} algorithms)", list.len() / 2);
            for i in pairs(&list, "the signature algorithms")? {
                sig_alg(cx, 5, be16(buf, i.start), i);
            }
        }
        ext::ALPN => {
            let (l, list) = rd.vec(2, "the ALPN list")?;
            cx.push(4, &tls::ALPN_LEN, l, Value::Uint(list.len() as u64));
            cx.push(4, &tls::ALPN_LIST, list.clone(), Value::Group);
            let mut lr = rd.sub(list);
            while !lr.is_empty() {
                let (sl, p) = lr.vec(1, "a protocol name")?;
                cx.push(5, &tls::ALPN_STR_LEN, sl, Value::Uint(p.len() as u64));
                cx.push_text(5, &tls::ALPN_STR, buf, p);
            }
        }
        ext::SUPPORTED_VERSIONS if client => {
            let (l, list) = rd.vec(1, "the supported versions")?;
            cx.push(
                4,
                &tls::SUPPORTED_VERSIONS_LEN,
                l,
                Value::Uint(list.len() as u64),
            );
            for i in pairs(&list, "the supported versions")? {
                let v = be16(buf, i.start);
                cx.push(4, &tls::SUPPORTED_VERSION, i, Value::Hex(v.into(), 4));
                note!(cx, "({})", tls::version_name(v));
            }
        }
        ext::SUPPORTED_VERSIONS => {
            let r = rd.take(2, "the selected version")?;
            let v = be16(buf, r.start);
            cx.push(4, &tls::SUPPORTED_VERSION, r, Value::Hex(v.into(), 4));
            note!(
                cx,
                "({}) — the version the server chose",
                tls::version_name(v)
            );
        }
        ext::PSK_KEY_EXCHANGE_MODES => {
            let (l, list) = rd.vec(1, "the PSK modes")?;
            cx.push(
                4,
                &tls::PSK_KE_MODES_LENGTH,
                l,
                Value::Uint(list.len() as u64),
            );
            for i in list {
                cx.push(4, &tls::PSK_KE_MODE, i..i + 1, Value::Uint(buf[i].into()));
                note!(cx, "({})", tls::psk_ke_mode_name(buf[i]));
            }
        }
        ext::KEY_SHARE if retry => {
            let r = rd.take(2, "the selected group")?;
            let g = be16(buf, r.start);
            cx.push(4, &tls::KEY_SHARE_SELECTED_GROUP, r, Value::Uint(g.into()));
            note!(cx, "({})", tls::group_name(g));
        }
        ext::KEY_SHARE => {
            let entries = if client {
                let (l, list) = rd.vec(2, "the key shares")?;
                cx.push(
                    4,
                    &tls::KEY_SHARE_CLIENT_LENGTH,
                    l,
                    Value::Uint(list.len() as u64),
                );
                rd.sub(list)
            } else {
                rd.clone()
            };
            let mut kr = entries;
            while !kr.is_empty() {
                let a = kr.pos;
                let g = kr.u16("a key share's group")?;
                cx.push(4, &tls::KEY_SHARE_GROUP, a..a + 2, Value::Uint(g.into()));
                note!(cx, "({})", tls::group_name(g));
                let (kl, key) = kr.vec(2, "a key share")?;
                cx.push(
                    4,
                    &tls::KEY_SHARE_KEY_EXCHANGE_LENGTH,
                    kl,
                    Value::Uint(key.len() as u64),
                );
                cx.push(
                    4,
                    &tls::KEY_SHARE_KEY_EXCHANGE,
                    key.clone(),
                    Value::Bytes(key),
                );
            }
        }
        ext::RENEGOTIATION_INFO => {
            let (l, data) = rd.vec(1, "the renegotiation info")?;
            cx.push(4, &tls::RENEG_INFO_LEN, l, Value::Uint(data.len() as u64));
            if !data.is_empty() {
                cx.push(4, &tls::RENEG_INFO, data.clone(), Value::Bytes(data));
            }
        }
        ext::SESSION_TICKET => {
            cx.push(
                3,
                &tls::EXTENSION_DATA,
                e.data.clone(),
                Value::Bytes(e.data.clone()),
            );
        }
        ext::PADDING => {
            cx.push(
                3,
                &tls::PADDING_DATA,
                e.data.clone(),
                Value::Bytes(e.data.clone()),
            );
        }
        ext::RECORD_SIZE_LIMIT => {
            let r = rd.take(2, "the record size limit")?;
            cx.push(
                4,
                &tls::RECORD_SIZE_LIMIT,
                r.clone(),
                Value::Uint(be16(buf, r.start).into()),
            );
        }
        ext::STATUS_REQUEST if client => {
            let a = rd.pos;
            let typ = rd.u8("the status type")?;
            cx.push(
                4,
                &tls::STATUS_REQUEST_TYPE,
                a..a + 1,
                Value::Uint(typ.into()),
            );
            note!(cx, "({})", if typ == 1 { "OCSP" } else { "Unknown" });
            let (l, ids) = rd.vec(2, "the responder IDs")?;
            cx.push(
                4,
                &tls::STATUS_REQUEST_RESPONDER_IDS_LEN,
                l,
                Value::Uint(ids.len() as u64),
            );
            let (l, exts) = rd.vec(2, "the request extensions")?;
            cx.push(
                4,
                &tls::STATUS_REQUEST_EXTS_LEN,
                l,
                Value::Uint(exts.len() as u64),
            );
        }
        ext::ENCRYPT_THEN_MAC
        | ext::EXTENDED_MASTER_SECRET
        | ext::POST_HANDSHAKE_AUTH
        | ext::SERVER_NAME
        | ext::STATUS_REQUEST => {}
        _ => {
            if !e.data.is_empty() {
                cx.push(
                    3,
                    &tls::EXTENSION_DATA,
                    e.data.clone(),
                    Value::Bytes(e.data.clone()),
                );
            }
        }
    }
    Ok(())
}

/// A Unix time as Wireshark writes an absolute time in UTC: `May  9, 2076
/// 11:33:57.000000000 UTC`.
fn gmt(secs: u32) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = i64::from(secs / 86_400);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {:>2}, {} {:02}:{:02}:{:02}.000000000 UTC",
        MONTHS[(month - 1) as usize],
        day,
        year,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::app::tests::Conn;
    use crate::dissect::model::Problem;
    use crate::wire::tls::tests::client_hello;

    fn count(p: &crate::dissect::Packet, key: &str) -> usize {
        p.fields_named(key).count()
    }

    #[test]
    fn a_client_hello_split_over_segments_is_read_once_whole() {
        let mut c = Conn::new(443);
        c.handshake();
        let rec = client_hello().record();
        // The segment that starts the record shows an empty TLS layer, as tshark lists
        // `tls` there (its dissector reassembles on its own).
        let p = c.send(true, &rec[..20]);
        assert!(p.has(Proto::Tls) && p.field("tls.record").is_none());
        assert!(
            p.info.ends_with("[TCP segment of a reassembled PDU]"),
            "{}",
            p.info
        );
        let p = c.send(true, &rec[20..]);
        assert_eq!(p.protocol, "TLSv1");
        assert_eq!(p.info, "Client Hello");
        let sni = p.field("tls.handshake.extensions_server_name").unwrap();
        assert_eq!(sni.value, Value::Text("netlab.test".into()));
        assert_eq!(count(&p, "tls.handshake.extensions_alpn_str"), 2);
        assert_eq!(count(&p, "tls.handshake.ciphersuite"), 4);
        assert_eq!(p.problems().count(), 0, "{:?}", p.layers);
        assert!(p.field("tls.handshake.ja3").is_some());
    }

    /// A ServerHello choosing TLS 1.3, then a ChangeCipherSpec and an encrypted record,
    /// all in one segment.
    #[test]
    fn several_records_in_one_segment_and_the_version_switch() {
        let mut c = Conn::new(443);
        c.handshake();
        c.send(true, &client_hello().record());
        let mut body = vec![3, 3];
        body.extend_from_slice(&[5; 32]);
        body.push(0);
        body.extend_from_slice(&[0x13, 0x02, 0]);
        let exts = [0, 43, 0, 2, 3, 4];
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend_from_slice(&body);
        let mut seg = vec![22, 3, 3, 0, msg.len() as u8];
        seg.extend_from_slice(&msg);
        seg.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
        seg.extend_from_slice(&[23, 3, 3, 0, 4, 0xde, 0xad, 0xbe, 0xef]);
        let p = c.send(false, &seg);
        assert_eq!(p.protocol, "TLSv1.3");
        assert_eq!(p.info, "Server Hello, Change Cipher Spec, Application Data");
        assert_eq!(count(&p, "tls.record"), 3);
        // TLS 1.3's encrypted records carry an "opaque type".
        assert!(p.field("tls.record.opaque_type").is_some());
        assert!(p.field("tls.app_data").is_some());
        assert_eq!(p.protocols(), "raw:ip:tcp:tls");
    }

    #[test]
    fn a_cipher_suite_list_past_the_hello_is_malformed() {
        let mut c = Conn::new(443);
        c.handshake();
        let mut rec = client_hello().record();
        let at = tls::HEADER_LEN + 4 + 2 + 32 + 1 + 32;
        rec[at..at + 2].copy_from_slice(&0x4000u16.to_be_bytes());
        let p = c.send(true, &rec);
        assert_eq!(p.info, "Client Hello");
        assert!(
            p.problems()
                .any(|x| matches!(x, Problem::Malformed(w) if w.contains("cipher suites"))),
            "{:?}",
            p.layers
        );
    }

    #[test]
    fn a_record_longer_than_tls_allows_is_malformed() {
        let mut c = Conn::new(443);
        c.handshake();
        let mut rec = vec![23, 3, 3, 0xff, 0xff];
        rec.extend_from_slice(&[0; 100]);
        c.send(true, &client_hello().record());
        c.send(true, &rec);
        let p = c.fin(true);
        assert!(
            p.problems()
                .any(|x| matches!(x, Problem::Malformed(w) if w.contains("65535")))
        );
    }

    #[test]
    fn a_handshake_message_over_two_records_is_put_together() {
        let mut c = Conn::new(443);
        c.handshake();
        let msg = client_hello().message();
        let (a, b) = msg.split_at(40);
        let mut seg = vec![22, 3, 1];
        seg.extend_from_slice(&(a.len() as u16).to_be_bytes());
        seg.extend_from_slice(a);
        let p = c.send(true, &seg);
        assert_eq!(p.info, "Client Hello (fragment)");
        assert!(p.field("tls.handshake.ciphersuite").is_none());
        let mut seg = vec![22, 3, 1];
        seg.extend_from_slice(&(b.len() as u16).to_be_bytes());
        seg.extend_from_slice(b);
        let p = c.send(true, &seg);
        assert_eq!(p.info, "Client Hello");
        assert_eq!(count(&p, "tls.handshake.ciphersuite"), 4);
        assert!(
            p.sources
                .iter()
                .any(|s| s.label == "Reassembled TLS handshake")
        );
        assert_eq!(p.problems().count(), 0, "{:?}", p.layers);
    }

    #[test]
    fn gmt_times_read_like_wiresharks() {
        assert_eq!(gmt(0), "Jan  1, 1970 00:00:00.000000000 UTC");
        // From a ClientHello's random (c8 0c 4e 25).
        assert_eq!(gmt(0xc80c_4e25), "May  9, 2076 11:33:57.000000000 UTC");
        assert_eq!(gmt(u32::MAX), "Feb  7, 2106 06:28:15.000000000 UTC");
    }
}
