//! SSH: the version lines, then the binary packet layer, read with `wire::ssh`.
//!
//! Each direction starts with a version line (one PDU: up to its LF). Then each binary
//! packet is one PDU (its length field says how long). Before NEWKEYS the payloads are
//! readable: KEXINIT's name-lists (and the algorithms the two lists agree on, RFC 4253
//! § 7.1), the key exchange's public keys, the server's host key and signature. After a
//! side's NEWKEYS its packets are encrypted: with chacha20-poly1305 (OpenSSH's default)
//! even the packet length is, so each segment's bytes are shown as one encrypted blob;
//! with AES-GCM or an encrypt-then-MAC MAC the lengths stay readable and each packet is
//! shown with its length and MAC.
//!
//! A packet length above `wire::ssh::MAX_PACKET_LEN` (2^32 − 1, say) is marked
//! `[malformed: …]` and the rest of that direction is shown as data — never awaited.

use std::ops::Range;

use super::{AppDef, Cx, Dir, Need, Session, Start};
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::FieldDef;
use crate::wire::ssh::{self, KexKind, Reader, SshError, msg};

pub const APP: AppDef = AppDef {
    name: "ssh",
    aliases: &[],
    proto: Proto::Ssh,
    tcp_ports: &[ssh::PORT, 29418],
    udp_ports: &[],
    heuristic: None,
    new: |start| Box::new(Ssh::new(start)),
};

/// The KEXINIT name-lists' fields, in `wire::ssh::KEXINIT_LISTS` order: (length, text).
const LISTS: [(&FieldDef, &FieldDef); 10] = [
    (&ssh::KEX_ALGORITHMS_LENGTH, &ssh::KEX_ALGORITHMS),
    (
        &ssh::SERVER_HOST_KEY_ALGORITHMS_LENGTH,
        &ssh::SERVER_HOST_KEY_ALGORITHMS,
    ),
    (&ssh::ENCRYPTION_C2S_LENGTH, &ssh::ENCRYPTION_C2S),
    (&ssh::ENCRYPTION_S2C_LENGTH, &ssh::ENCRYPTION_S2C),
    (&ssh::MAC_C2S_LENGTH, &ssh::MAC_C2S),
    (&ssh::MAC_S2C_LENGTH, &ssh::MAC_S2C),
    (&ssh::COMPRESSION_C2S_LENGTH, &ssh::COMPRESSION_C2S),
    (&ssh::COMPRESSION_S2C_LENGTH, &ssh::COMPRESSION_S2C),
    (&ssh::LANGUAGES_C2S_LENGTH, &ssh::LANGUAGES_C2S),
    (&ssh::LANGUAGES_S2C_LENGTH, &ssh::LANGUAGES_S2C),
];

pub(crate) struct Ssh {
    /// Per direction (`Dir::index`): the version line was seen.
    banner: [bool; 2],
    /// An SSH-2 version line has been seen (the Protocol column says `SSHv2`).
    v2: bool,
    /// Per direction: the KEXINIT's ten name-lists.
    offers: [Option<Vec<String>>; 2],
    /// The negotiated key exchange method.
    kex: KexKind,
    /// Per direction: the negotiated cipher and MAC.
    cipher: [String; 2],
    mac: [String; 2],
    /// Per direction: NEWKEYS was sent; what follows is encrypted.
    newkeys: [bool; 2],
    /// Per direction: the next packet's sequence number (RFC 4253 § 6.4).
    seq: [u32; 2],
    /// Per direction: a packet length was impossible; the rest is data.
    broken: [bool; 2],
}

impl Ssh {
    pub fn new(_start: &Start) -> Ssh {
        Ssh {
            banner: [false, false],
            v2: false,
            offers: [None, None],
            kex: KexKind::Unknown,
            cipher: [String::new(), String::new()],
            mac: [String::new(), String::new()],
            newkeys: [false, false],
            seq: [0, 0],
            broken: [false, false],
        }
    }

    /// Bytes of MAC or tag after each encrypted packet, when its length is readable.
    fn clear_length(&self, d: usize) -> Option<usize> {
        ssh::clear_length(&self.cipher[d], &self.mac[d])
    }
}

impl Session for Ssh {
    fn pdu_len(&mut self, dir: Dir, buf: &[u8]) -> Need {
        let d = dir.index();
        if self.broken[d] {
            return Need::NotMine;
        }
        if !self.banner[d] {
            // The version line, or (from a server) a line before it (RFC 4253 § 4.2).
            return match ssh::line_len(buf) {
                Some(Ok(n)) => Need::Pdu(n),
                Some(Err(())) => Need::NotMine,
                None => Need::More(None),
            };
        }
        if self.newkeys[d] {
            return match self.clear_length(d) {
                Some(tag) => match ssh::packet_len(buf) {
                    None => Need::More(Some(4)),
                    Some(Ok(n)) => Need::Pdu(n + tag),
                    Some(Err(_)) => Need::Pdu(buf.len()),
                },
                // Nothing tells where a packet ends: what arrived is one blob.
                None => Need::Pdu(buf.len()),
            };
        }
        match ssh::packet_len(buf) {
            None => Need::More(Some(4)),
            Some(Ok(n)) => Need::Pdu(n),
            // Shown and marked, then the direction is no longer read as packets.
            Some(Err(_)) => Need::Pdu(buf.len().min(ssh::field::PAYLOAD + 1)),
        }
    }

    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        let d = cx.dir.index();
        let client = cx.dir == Dir::ToServer;
        cx.begin(Proto::Ssh, 0);
        cx.column(if self.v2 { "SSHv2" } else { "SSH" });
        let what = if !self.banner[d] {
            self.banner(cx, pdu, d)
        } else if self.newkeys[d] {
            self.encrypted(cx, pdu, d)
        } else {
            self.packet(cx, pdu, d)
        };
        if cx.first && cx.record {
            cx.push_generated(0, &ssh::DIRECTION, Value::Bool(!client));
            note!(
                cx,
                "({})",
                if client {
                    "client-to-server"
                } else {
                    "server-to-client"
                }
            );
        }
        if cx.cut {
            cx.incomplete(
                "the packet is cut: the connection ended first, or netlab's buffer filled",
            );
        }
        let first = cx.first;
        let info = cx.info();
        if first {
            info.push_str(if client { "Client: " } else { "Server: " });
        } else {
            info.push_str(", ");
        }
        info.push_str(&what);
        cx.end(pdu.len());
    }

    fn lost(&mut self, dir: Dir) {
        // Packet boundaries are lost with the bytes: stop reading this direction.
        if self.banner[dir.index()] {
            self.broken[dir.index()] = true;
        }
    }

    fn layer_on_start(&self) -> Option<Proto> {
        Some(Proto::Ssh)
    }
}

impl Ssh {
    fn banner(&mut self, cx: &mut Cx, pdu: &[u8], d: usize) -> String {
        let Some(b) = ssh::parse_banner(pdu) else {
            // A line a server may send before its version line.
            let line = String::from_utf8_lossy(pdu).trim_end().to_string();
            headline!(cx, "{line}");
            return format!("Protocol line ({line})");
        };
        self.banner[d] = true;
        let version = &pdu[b.proto_version.clone()];
        if version == b"2.0" || version == b"1.99" {
            self.v2 = true;
        }
        let line = String::from_utf8_lossy(&pdu[b.line.clone()]).into_owned();
        if cx.record {
            cx.push(
                0,
                &ssh::PROTOCOL,
                b.line.clone(),
                Value::Text(line.clone().into()),
            );
            note!(
                cx,
                "(protocol {}, software {}{})",
                String::from_utf8_lossy(version),
                String::from_utf8_lossy(&pdu[b.software.clone()]),
                b.comments
                    .as_ref()
                    .map(|c| format!(", comments {}", String::from_utf8_lossy(&pdu[c.clone()])))
                    .unwrap_or_default()
            );
        }
        headline!(cx, "{line}");
        format!("Protocol ({line})")
    }

    fn encrypted(&mut self, cx: &mut Cx, pdu: &[u8], d: usize) -> String {
        let tag = self.clear_length(d);
        let cipher = self.cipher[d].clone();
        headline!(
            cx,
            "SSH Version 2 (encryption:{} compression:none)",
            if cipher.is_empty() {
                "unknown"
            } else {
                &cipher
            }
        );
        match (tag, ssh::packet_len(pdu)) {
            (Some(tag), Some(Ok(n))) if pdu.len() >= n + tag => {
                if cx.record {
                    cx.push(
                        0,
                        &ssh::PACKET_LENGTH,
                        ssh::field::PACKET_LENGTH,
                        Value::Uint((n - 4) as u64),
                    );
                    note!(cx, "(readable: {cipher} leaves the length in the clear)");
                    cx.push(0, &ssh::ENCRYPTED_PACKET, 4..n, Value::Bytes(4..n));
                    cx.push(0, &ssh::MAC, n..n + tag, Value::Bytes(n..n + tag));
                    cx.push_generated(0, &ssh::SEQ_NUM, Value::Uint(self.seq[d].into()));
                }
                self.seq[d] = self.seq[d].wrapping_add(1);
                format!("Encrypted packet (len={})", n - 4)
            }
            (Some(_), Some(Err(e))) => {
                cx.malformed(e.to_string());
                self.broken[d] = true;
                "Encrypted packet".into()
            }
            _ => {
                if cx.record {
                    let all = 0..pdu.len();
                    cx.push(0, &ssh::ENCRYPTED_PACKET, all.clone(), Value::Bytes(all));
                    note!(
                        cx,
                        "({} even hides the packet lengths: these bytes may hold one packet or several)",
                        if cipher.is_empty() {
                            "the cipher"
                        } else {
                            &cipher
                        }
                    );
                }
                format!("Encrypted packet (len={})", pdu.len())
            }
        }
    }

    /// One unencrypted binary packet.
    fn packet(&mut self, cx: &mut Cx, pdu: &[u8], d: usize) -> String {
        if pdu.len() < ssh::field::PAYLOAD + 1 {
            cx.truncated("the packet header is incomplete");
            return "Packet".into();
        }
        let n = ssh::Packet::new_unchecked(pdu).packet_length();
        if cx.record {
            cx.push(
                0,
                &ssh::PACKET_LENGTH,
                ssh::field::PACKET_LENGTH,
                Value::Uint(n.into()),
            );
        }
        if n as usize > ssh::MAX_PACKET_LEN {
            cx.malformed(SshError::PacketTooLong(n).to_string());
            self.broken[d] = true;
            headline!(cx, "Packet Length {n}");
            return "[malformed packet length]".into();
        }
        let pad = pdu[ssh::field::PADDING_LENGTH.start];
        let code = pdu[ssh::field::PAYLOAD];
        if cx.record {
            cx.push(
                0,
                &ssh::PADDING_LENGTH,
                ssh::field::PADDING_LENGTH,
                Value::Uint(pad.into()),
            );
        }
        if pad as u32 + 1 > n {
            cx.malformed(
                SshError::Padding {
                    padding: pad,
                    packet: n,
                }
                .to_string(),
            );
            self.broken[d] = true;
            return "[malformed padding length]".into();
        }
        if pdu.len() < 4 + n as usize {
            // Cut: the connection ended (or netlab's buffer filled) before the packet did.
            if cx.record {
                cx.push(0, &ssh::MESSAGE_CODE, 5..6, Value::Uint(code.into()));
                note!(cx, "({})", ssh::message_name(code, self.kex));
            }
            cx.truncated(format!(
                "the packet announces {} bytes, {} arrived",
                4 + n as usize,
                pdu.len()
            ));
            return ssh::message_name(code, self.kex).to_string();
        }
        let p = ssh::Packet::new_unchecked(pdu);
        let payload = p.payload();
        let name = ssh::message_name(code, self.kex);
        if cx.record {
            cx.push(0, &ssh::MESSAGE_CODE, 5..6, Value::Uint(code.into()));
            note!(cx, "({name})");
        }
        let body = payload.start + 1..payload.end;
        let r = match code {
            msg::KEXINIT => self.kexinit(cx, pdu, body, d),
            msg::KEX_30
            | msg::KEX_31
            | msg::KEX_DH_GEX_INIT
            | msg::KEX_DH_GEX_REPLY
            | msg::KEX_DH_GEX_REQUEST => {
                if cx.record {
                    self.key_exchange(cx, pdu, body, code)
                } else {
                    Ok(())
                }
            }
            msg::DISCONNECT if cx.record => disconnect(cx, pdu, body),
            msg::IGNORE if cx.record => {
                let mut rd = Reader::new(pdu, body);
                rd.string("the ignored data").map(|(l, s)| {
                    cx.push(0, &ssh::IGNORE_DATA_LENGTH, l, Value::Uint(s.len() as u64));
                    cx.push(0, &ssh::IGNORE_DATA, s.clone(), Value::Bytes(s));
                })
            }
            msg::NEWKEYS => {
                self.newkeys[d] = true;
                note!(
                    cx,
                    "(from the next packet on, this side encrypts with the new keys)"
                );
                Ok(())
            }
            _ => {
                if cx.record && !body.is_empty() {
                    cx.push(0, &ssh::PAYLOAD, body.clone(), Value::Bytes(body));
                }
                Ok(())
            }
        };
        if let Err(e) = r {
            cx.malformed(format!("{name}: {e}"));
        }
        if cx.record {
            let pr = p.padding();
            cx.push(0, &ssh::PADDING_STRING, pr.clone(), Value::Bytes(pr));
            cx.push_generated(0, &ssh::SEQ_NUM, Value::Uint(self.seq[d].into()));
        }
        self.seq[d] = self.seq[d].wrapping_add(1);
        headline!(cx, "{name}");
        name.to_string()
    }

    fn kexinit(
        &mut self,
        cx: &mut Cx,
        pdu: &[u8],
        body: Range<usize>,
        d: usize,
    ) -> Result<(), SshError> {
        let k = ssh::parse_kexinit(pdu, body)?;
        let lists: Vec<String> = (0..10).map(|i| k.list(pdu, i).to_string()).collect();
        let client = d == Dir::ToServer.index();
        // Once both offers are known: what they agree on.
        let other = &self.offers[1 - d];
        let agreed = |i: usize| -> Option<String> {
            let o = other.as_ref()?;
            let (c, s) = if client {
                (&lists[i], &o[i])
            } else {
                (&o[i], &lists[i])
            };
            ssh::negotiate(c, s).map(str::to_string)
        };
        if cx.record {
            cx.push(
                0,
                &ssh::COOKIE,
                k.cookie.clone(),
                Value::Bytes(k.cookie.clone()),
            );
            for (i, ((len_def, def), (l, s))) in LISTS.iter().zip(&k.lists).enumerate() {
                cx.push(0, len_def, l.clone(), Value::Uint(s.len() as u64));
                cx.push_text(0, def, pdu, s.clone());
                if i < 8
                    && let Some(a) = agreed(i)
                {
                    note!(cx, "(both sides agree on {a})");
                }
            }
            let (f, fr) = k.first_kex_packet_follows.clone();
            cx.push(0, &ssh::FIRST_KEX_PACKET_FOLLOWS, fr, Value::Uint(f.into()));
            cx.push(
                0,
                &ssh::KEX_RESERVED,
                k.reserved.clone(),
                Value::Bytes(k.reserved.clone()),
            );
            // HASSH: the lists for this side's direction, joined by `;`.
            let (kex, enc, mac, comp) = if client { (0, 2, 4, 6) } else { (0, 3, 5, 7) };
            let line = [kex, enc, mac, comp]
                .iter()
                .map(|&i| lists[i].as_str())
                .collect::<Vec<_>>()
                .join(";");
            let hash = crate::wire::md5::hex(line.as_bytes());
            let (full, short) = if client {
                (&ssh::HASSH_ALGORITHMS, &ssh::HASSH)
            } else {
                (&ssh::HASSH_SERVER_ALGORITHMS, &ssh::HASSH_SERVER)
            };
            cx.push_generated(0, full, Value::Text(line.into()));
            cx.push_generated(0, short, Value::Text(hash.into()));
        }
        self.offers[d] = Some(lists);
        if let (Some(c), Some(s)) = (&self.offers[0], &self.offers[1]) {
            let to_server = Dir::ToServer.index();
            let (c, s) = if to_server == 0 { (c, s) } else { (s, c) };
            self.kex = ssh::negotiate(&c[0], &s[0]).map_or(KexKind::Unknown, ssh::kex_kind);
            let pick = |i: usize| ssh::negotiate(&c[i], &s[i]).unwrap_or("").to_string();
            self.cipher[Dir::ToServer.index()] = pick(2);
            self.cipher[Dir::ToClient.index()] = pick(3);
            self.mac[Dir::ToServer.index()] = pick(4);
            self.mac[Dir::ToClient.index()] = pick(5);
        }
        Ok(())
    }

    fn key_exchange(
        &self,
        cx: &mut Cx,
        pdu: &[u8],
        body: Range<usize>,
        code: u8,
    ) -> Result<(), SshError> {
        let mut rd = Reader::new(pdu, body.clone());
        match (self.kex, code) {
            (KexKind::Ecdh, msg::KEX_30) => {
                string(cx, &mut rd, &ssh::ECDH_Q_C_LENGTH, &ssh::ECDH_Q_C, "Q_C")?;
                note!(cx, "(the client's half of the key agreement)");
                Ok(())
            }
            (KexKind::Dh, msg::KEX_30) | (KexKind::DhGex, msg::KEX_DH_GEX_INIT) => {
                string(cx, &mut rd, &ssh::MPINT_LENGTH, &ssh::DH_E, "e")
            }
            (KexKind::DhGex, msg::KEX_DH_GEX_REQUEST) => {
                for def in [&ssh::DH_GEX_MIN, &ssh::DH_GEX_NBITS, &ssh::DH_GEX_MAX] {
                    let (v, r) = rd.uint32(def.name)?;
                    cx.push(0, def, r, Value::Uint(v.into()));
                }
                Ok(())
            }
            (KexKind::DhGex, msg::KEX_31) => {
                string(cx, &mut rd, &ssh::MPINT_LENGTH, &ssh::DH_GEX_P, "p")?;
                string(cx, &mut rd, &ssh::MPINT_LENGTH, &ssh::DH_GEX_G, "g")
            }
            (KexKind::Ecdh | KexKind::Dh, msg::KEX_31)
            | (KexKind::DhGex, msg::KEX_DH_GEX_REPLY) => {
                let (l, blob) = rd.string("the host key")?;
                cx.push(0, &ssh::HOST_KEY_LENGTH, l, Value::Uint(blob.len() as u64));
                note!(
                    cx,
                    "(the server's long-term public key: what known_hosts remembers)"
                );
                host_key(cx, pdu, blob)?;
                if self.kex == KexKind::Ecdh {
                    string(cx, &mut rd, &ssh::ECDH_Q_S_LENGTH, &ssh::ECDH_Q_S, "Q_S")?;
                } else {
                    string(cx, &mut rd, &ssh::MPINT_LENGTH, &ssh::DH_F, "f")?;
                }
                let (l, sig) = rd.string("the signature")?;
                cx.push(0, &ssh::HOST_SIG_LENGTH, l, Value::Uint(sig.len() as u64));
                let mut sr = Reader::new(pdu, sig);
                string_text(
                    cx,
                    &mut sr,
                    &ssh::HOST_SIG_TYPE_LENGTH,
                    &ssh::HOST_SIG_TYPE,
                    "the signature's type",
                )?;
                let (_, data) = sr.string("the signature")?;
                cx.push(0, &ssh::HOST_SIG_DATA, data.clone(), Value::Bytes(data));
                Ok(())
            }
            _ => {
                if !body.is_empty() {
                    cx.push(0, &ssh::PAYLOAD, body.clone(), Value::Bytes(body));
                }
                Ok(())
            }
        }
    }
}

/// A `string` shown as its length and bytes.
fn string(
    cx: &mut Cx,
    rd: &mut Reader,
    len_def: &'static FieldDef,
    def: &'static FieldDef,
    what: &'static str,
) -> Result<(), SshError> {
    let (l, s) = rd.string(what)?;
    cx.push(0, len_def, l, Value::Uint(s.len() as u64));
    cx.push(0, def, s.clone(), Value::Bytes(s));
    Ok(())
}

/// A `string` shown as its length and text.
fn string_text(
    cx: &mut Cx,
    rd: &mut Reader,
    len_def: &'static FieldDef,
    def: &'static FieldDef,
    what: &'static str,
) -> Result<(), SshError> {
    let (l, s) = rd.string(what)?;
    cx.push(0, len_def, l, Value::Uint(s.len() as u64));
    cx.push_text(0, def, rd.buf, s);
    Ok(())
}

/// A host key blob (RFC 4253 § 6.6, RFC 8709 Ed25519, RFC 5656 § 3.1 ECDSA).
fn host_key(cx: &mut Cx, pdu: &[u8], blob: Range<usize>) -> Result<(), SshError> {
    let mut rd = Reader::new(pdu, blob);
    let (tl, t) = rd.string("the host key type")?;
    let ty = String::from_utf8_lossy(&pdu[t.clone()]).into_owned();
    cx.push(
        0,
        &ssh::HOST_KEY_TYPE_LENGTH,
        tl,
        Value::Uint(t.len() as u64),
    );
    cx.push_text(0, &ssh::HOST_KEY_TYPE, pdu, t);
    match ty.as_str() {
        "ssh-ed25519" | "ssh-ed448" => string(
            cx,
            &mut rd,
            &ssh::HOST_KEY_EDDSA_KEY_LENGTH,
            &ssh::HOST_KEY_EDDSA_KEY,
            "the EdDSA key",
        )?,
        t if t.starts_with("ecdsa-sha2-") => {
            string_text(
                cx,
                &mut rd,
                &ssh::HOST_KEY_ECDSA_ID_LENGTH,
                &ssh::HOST_KEY_ECDSA_ID,
                "the curve name",
            )?;
            string(
                cx,
                &mut rd,
                &ssh::HOST_KEY_ECDSA_Q_LENGTH,
                &ssh::HOST_KEY_ECDSA_Q,
                "the ECDSA key",
            )?;
        }
        "ssh-rsa" => {
            string(cx, &mut rd, &ssh::MPINT_LENGTH, &ssh::HOST_KEY_RSA_E, "e")?;
            string(cx, &mut rd, &ssh::MPINT_LENGTH, &ssh::HOST_KEY_RSA_N, "n")?;
        }
        _ => {
            let rest = rd.pos..rd.end;
            if !rest.is_empty() {
                cx.push(0, &ssh::HOST_KEY_DATA, rest.clone(), Value::Bytes(rest));
            }
        }
    }
    Ok(())
}

/// SSH_MSG_DISCONNECT (RFC 4253 § 11.1).
fn disconnect(cx: &mut Cx, pdu: &[u8], body: Range<usize>) -> Result<(), SshError> {
    let mut rd = Reader::new(pdu, body);
    let (reason, r) = rd.uint32("the reason")?;
    let (dl, desc) = rd.string("the description")?;
    let (ll, lang) = rd.string("the language tag")?;
    if cx.record {
        cx.push(0, &ssh::DISCONNECT_REASON, r, Value::Uint(reason.into()));
        cx.push(
            0,
            &ssh::DISCONNECT_DESCRIPTION_LENGTH,
            dl,
            Value::Uint(desc.len() as u64),
        );
        cx.push_text(0, &ssh::DISCONNECT_DESCRIPTION, pdu, desc);
        cx.push(0, &ssh::LANG_TAG_LENGTH, ll, Value::Uint(lang.len() as u64));
        cx.push_text(0, &ssh::LANG_TAG, pdu, lang);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::app::tests::Conn;
    use crate::dissect::model::Problem;
    use crate::wire::ssh::tests::kexinit;

    #[test]
    fn banners_kexinit_and_encryption() {
        let mut c = Conn::new(22);
        c.handshake();
        let p = c.send(true, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n");
        assert_eq!(p.protocol, "SSH");
        assert_eq!(
            p.info,
            "Client: Protocol (SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10)"
        );
        let p = c.send(false, b"SSH-2.0-OpenSSH_9.2p1\r\n");
        assert_eq!(p.protocol, "SSHv2");
        // The client's KEXINIT in two segments.
        let k = ssh::packet(&kexinit().payload());
        let p = c.send(true, &k[..100]);
        assert!(p.has(Proto::Ssh) && p.field("ssh.packet_length").is_none());
        let p = c.send(true, &k[100..]);
        assert_eq!(p.info, "Client: Key Exchange Init");
        assert_eq!(
            p.field("ssh.kex_algorithms").unwrap().value,
            Value::Text("curve25519-sha256,ecdh-sha2-nistp256,ext-info-c".into())
        );
        assert!(p.field("ssh.kex.hassh").is_some());
        // The server's KEXINIT and NEWKEYS in one segment.
        let mut s = ssh::packet(&kexinit().payload());
        s.extend_from_slice(&ssh::packet(&[msg::NEWKEYS]));
        let p = c.send(false, &s);
        assert_eq!(p.info, "Server: Key Exchange Init, New Keys");
        assert_eq!(p.fields_named("ssh.direction").count(), 1);
        // After NEWKEYS with chacha20-poly1305: one encrypted blob per segment.
        let p = c.send(false, &[0x5a; 60]);
        assert_eq!(p.info, "Server: Encrypted packet (len=60)");
        assert!(p.field("ssh.encrypted_packet").is_some());
        assert_eq!(p.problems().count(), 0, "{:?}", p.layers);
    }

    /// Found by the app fuzz checks: a packet cut by the end of the connection was read
    /// as if whole — its payload and padding fields pointed past the bytes that arrived
    /// (the hex dump and JSON slice them), a cut KEXINIT was called malformed.
    #[test]
    fn a_packet_cut_by_the_connection_end_is_marked_truncated() {
        let mut kex = ssh::packet(&kexinit().payload());
        kex.truncate(40);
        // SSH_MSG_CHANNEL_DATA: channel 0, a string of 60 bytes.
        let mut payload = vec![94, 0, 0, 0, 0, 0, 0, 0, 60];
        payload.extend_from_slice(&[0x61; 60]);
        let mut data = ssh::packet(&payload);
        data.truncate(30);
        for (cut, code, name) in [(kex, 20, "Key Exchange Init"), (data, 94, "Channel Data")] {
            let mut c = Conn::new(22);
            c.handshake();
            c.send(true, b"SSH-2.0-x\r\n");
            let p = c.send(true, &cut);
            assert!(p.field("ssh.packet_length").is_none(), "awaited");
            let p = c.fin(true);
            crate::dissect::app::fuzz::check_packet(&p);
            assert_eq!(p.info, format!("Client: {name}"), "{:?}", p.layers);
            assert_eq!(
                p.field("ssh.message_code").unwrap().value,
                Value::Uint(code)
            );
            let arrived = format!("{} arrived", cut.len());
            assert!(
                p.problems()
                    .any(|x| matches!(x, Problem::Truncated(w) if w.contains(&arrived))),
                "{:?}",
                p.layers
            );
            assert!(p.field("ssh.kex_algorithms").is_none());
            assert!(p.field("ssh.payload").is_none());
        }
    }

    #[test]
    fn a_packet_length_of_two_to_the_32_minus_one_is_marked_not_awaited() {
        let mut c = Conn::new(22);
        c.handshake();
        c.send(true, b"SSH-2.0-x\r\n");
        let p = c.send(true, &[0xff, 0xff, 0xff, 0xff, 4, 20, 0, 0]);
        assert!(
            p.problems()
                .any(|x| matches!(x, Problem::Malformed(w) if w.contains("4294967295"))),
            "{:?}",
            p.layers
        );
        // The direction is data from here on: no wait for 4 GiB.
        let p = c.send(true, b"more bytes");
        assert!(!p.has(Proto::Ssh));
    }
}
