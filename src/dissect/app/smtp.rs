//! SMTP commands and replies, and the message after DATA (read as IMF), with
//! `wire::smtp` and `wire::imf`.
//!
//! As Wireshark reads SMTP, a segment's complete lines are one PDU (a multi-line reply
//! sent line by line shows one line per frame; several in a segment are listed with
//! ` | ` in the packet list), but a line cut by a segment boundary waits for its end.
//! After `DATA` and the server's `354`, the client's segments are the message: each is a
//! DATA fragment, kept (up to [`MAX_DATA`] bytes) until the line with only a dot; the
//! segment that ends it lists the fragments (`smtp.data.fragment`) and shows the message
//! as an Internet message (`imf`): every header field, the addresses in To/Cc/From, and
//! the body's lines. After `STARTTLS` and its `220`, the connection is TLS.

use std::fmt::Write;

use super::tls::Tls;
use super::{AppDef, Cx, Dir, Need, Session, Start};
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::{imf, smtp};

pub const APP: AppDef = AppDef {
    name: "smtp",
    aliases: &[],
    proto: Proto::Smtp,
    tcp_ports: &smtp::PORTS,
    udp_ports: &[],
    heuristic: None,
    new: |start| Box::new(Smtp::new(start)),
};

/// The most message bytes kept while a message arrives.
pub const MAX_DATA: usize = 1 << 20;

pub(crate) struct Smtp {
    start: Start,
    /// DATA was sent; its 354 has not come yet.
    data_asked: bool,
    /// The client is sending a message.
    in_data: bool,
    /// The message so far, and the frames it came in (frame, bytes).
    data: Vec<u8>,
    fragments: Vec<(u64, usize)>,
    /// The message outgrew MAX_DATA: the rest is counted, not kept.
    data_cut: bool,
    /// STARTTLS was sent; after its 220 the connection is TLS.
    starttls_asked: bool,
    tls: Option<Tls>,
}

impl Smtp {
    pub fn new(start: &Start) -> Smtp {
        Smtp {
            start: start.clone(),
            data_asked: false,
            in_data: false,
            data: Vec::new(),
            fragments: Vec::new(),
            data_cut: false,
            starttls_asked: false,
            tls: None,
        }
    }
}

impl Session for Smtp {
    fn pdu_len(&mut self, dir: Dir, buf: &[u8]) -> Need {
        if let Some(t) = &mut self.tls {
            return t.pdu_len(dir, buf);
        }
        if dir == Dir::ToServer && self.in_data {
            // Up to the end of the message when it is here (what follows is commands),
            // else the whole segment: a DATA fragment.
            let keep = self.data.len().min(4);
            let mut joined = self.data[self.data.len() - keep..].to_vec();
            joined.extend_from_slice(buf);
            if self.data.is_empty() && buf.starts_with(b".\r\n") {
                return Need::Pdu(3);
            }
            return match joined.windows(5).position(|w| w == b"\r\n.\r\n") {
                Some(i) => Need::Pdu((i + 5).saturating_sub(keep).max(1)),
                None => Need::Pdu(buf.len()),
            };
        }
        match smtp::complete_lines(buf) {
            Some(Ok(n)) => Need::Pdu(n),
            Some(Err(())) => Need::NotMine,
            None => Need::More(None),
        }
    }

    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        if let Some(t) = &mut self.tls {
            t.dissect(cx, pdu);
            return;
        }
        cx.begin(Proto::Smtp, 0);
        cx.column("SMTP");
        let info = if cx.dir == Dir::ToServer && self.in_data {
            self.data_fragment(cx, pdu)
        } else if cx.dir == Dir::ToServer {
            self.commands(cx, pdu)
        } else {
            self.replies(cx, pdu)
        };
        if let Some(info) = info {
            let first = cx.first;
            let col = cx.info();
            if !first {
                col.push_str(", ");
            }
            col.push_str(&info);
        }
    }

    fn lost(&mut self, dir: Dir) {
        if let Some(t) = &mut self.tls {
            t.lost(dir);
        } else if dir == Dir::ToServer && self.in_data {
            // The message has a hole: what is kept can no longer become it.
            self.data_cut = true;
        }
    }

    fn layer_on_start(&self) -> Option<Proto> {
        self.tls.as_ref().and_then(Session::layer_on_start)
    }
}

impl Smtp {
    fn commands(&mut self, cx: &mut Cx, pdu: &[u8]) -> Option<String> {
        if cx.record {
            cx.push_generated(0, &smtp::REQ, Value::Bool(true));
        }
        let mut info = String::from("C: ");
        for (i, l) in smtp::lines(pdu).enumerate() {
            let c = smtp::parse_command(pdu, l.clone());
            let verb = String::from_utf8_lossy(&pdu[c.verb.clone()]).to_ascii_uppercase();
            if cx.record {
                cx.push_text(0, &smtp::COMMAND_LINE, pdu, l.clone());
                cx.push_text(1, &smtp::REQ_COMMAND, pdu, c.verb.clone());
                note!(cx, "({})", command_meaning(&verb));
                if let Some(p) = &c.parameter {
                    cx.push_text(1, &smtp::REQ_PARAMETER, pdu, p.clone());
                }
            }
            match verb.as_str() {
                "DATA" => self.data_asked = true,
                "STARTTLS" => self.starttls_asked = true,
                _ => {}
            }
            let text = String::from_utf8_lossy(&pdu[smtp::trim_eol(pdu, l)]).into_owned();
            if i > 0 {
                info.push_str(" | ");
            }
            info.push_str(&text);
        }
        headline!(cx, "{info}");
        cx.end(pdu.len());
        Some(info)
    }

    fn replies(&mut self, cx: &mut Cx, pdu: &[u8]) -> Option<String> {
        if cx.record {
            cx.push_generated(0, &smtp::RSP, Value::Bool(true));
        }
        let mut info = String::from("S: ");
        for (i, l) in smtp::lines(pdu).enumerate() {
            let text_range = smtp::trim_eol(pdu, l.clone());
            let r = smtp::parse_reply_line(pdu, l.clone());
            // As Wireshark: the segment's first line is the response (with its code);
            // every line gives a parameter (an EHLO reply's extensions).
            if cx.record {
                if i == 0 {
                    cx.push_text(0, &smtp::RESPONSE, pdu, l.clone());
                }
                if let Some(r) = &r {
                    if i == 0 {
                        cx.push(
                            1,
                            &smtp::RESPONSE_CODE,
                            l.start..l.start + 3,
                            Value::Uint(r.code.into()),
                        );
                        note!(cx, "({})", smtp::reply_name(r.code));
                    }
                    if let Some(t) = &r.text {
                        cx.push_text(1, &smtp::RSP_PARAMETER, pdu, t.clone());
                        if i > 0 {
                            note!(cx, "(line {} of the {} reply)", i + 1, r.code);
                        }
                    }
                } else {
                    cx.malformed("a reply line starts with a three-digit code (RFC 5321 § 4.2)");
                }
            }
            if let Some(r) = &r {
                if r.code == 354 && self.data_asked {
                    self.data_asked = false;
                    self.in_data = true;
                    self.data.clear();
                    self.fragments.clear();
                    self.data_cut = false;
                    note!(
                        cx,
                        "(the client now sends the message, ended by a line with only a dot)"
                    );
                } else if r.code >= 400 && self.data_asked {
                    self.data_asked = false;
                }
                if self.starttls_asked && !r.more {
                    self.starttls_asked = false;
                    if r.code == 220 {
                        self.tls = Some(Tls::new(&self.start));
                        note!(cx, "(from here on the connection is TLS: encrypted)");
                    }
                }
            }
            if i == 0 {
                info.push_str(&String::from_utf8_lossy(&pdu[text_range]));
            } else {
                // Later lines: their text without the code, as Wireshark lists them.
                let t = r.and_then(|r| r.text).unwrap_or(text_range);
                info.push_str(" | ");
                info.push_str(&String::from_utf8_lossy(&pdu[t]));
            }
        }
        headline!(cx, "{info}");
        cx.end(pdu.len());
        Some(info)
    }

    /// One segment of the message; the one that ends it shows the whole message.
    fn data_fragment(&mut self, cx: &mut Cx, pdu: &[u8]) -> Option<String> {
        // Where the end marker is, counting the bytes kept before this segment.
        let mut joined = std::mem::take(&mut self.data);
        if !self.data_cut {
            if joined.len() + pdu.len() > MAX_DATA {
                self.data_cut = true;
            } else {
                joined.extend_from_slice(pdu);
            }
        }
        let end = if self.data_cut {
            pdu.ends_with(b"\r\n.\r\n").then_some((0, pdu.len()))
        } else {
            smtp::data_end(&joined)
        };
        self.fragments.push((cx.frame, pdu.len()));
        let Some((content, _)) = end else {
            self.data = joined;
            if cx.record {
                for l in smtp::lines(pdu) {
                    let t = smtp::trim_eol(pdu, l);
                    cx.push_text(0, &smtp::DATA_LINE, pdu, t);
                }
            }
            let info = format!("C: DATA fragment, {} bytes", pdu.len());
            headline!(cx, "{info}");
            cx.end(pdu.len());
            return Some(info);
        };
        // The end: the dot line.
        self.in_data = false;
        let dot = pdu.len().saturating_sub(3);
        if cx.record {
            cx.push(0, &smtp::EOM, dot..pdu.len(), Value::Group);
            note!(cx, "C: .");
        }
        if self.data_cut {
            cx.incomplete(format!(
                "the message is longer than netlab keeps ({} KiB), or part of it was not captured: its start is not shown",
                MAX_DATA >> 10
            ));
            let info = "C: DATA fragment (end of message)".to_string();
            cx.end(pdu.len());
            self.fragments.clear();
            return Some(info);
        }
        let fragments = std::mem::take(&mut self.fragments);
        if cx.record {
            cx.push_generated(0, &smtp::DATA_FRAGMENTS, Value::Group);
            if cx.detail {
                let mut s = format!(
                    "{} DATA fragment{} ({content} bytes):",
                    fragments.len(),
                    if fragments.len() == 1 { "" } else { "s" }
                );
                for (i, (f, n)) in fragments.iter().enumerate() {
                    let _ = write!(s, "{} #{f}({n})", if i == 0 { "" } else { "," });
                }
                cx.note(s);
            }
            for (f, _) in &fragments {
                cx.push_generated(1, &smtp::DATA_FRAGMENT, Value::Uint(*f));
            }
            cx.push_generated(
                1,
                &smtp::DATA_FRAGMENT_COUNT,
                Value::Uint(fragments.len() as u64),
            );
            cx.push_generated(
                1,
                &smtp::DATA_REASSEMBLED_LENGTH,
                Value::Uint(content as u64),
            );
        }
        headline!(
            cx,
            "the message ({content} bytes), ended by a line with only a dot"
        );
        cx.end(pdu.len());
        let message = joined[..content].to_vec();
        let info = cx.source("Reassembled SMTP DATA", &message, |sub| {
            message_layer(sub, &message)
        });
        cx.column("SMTP/IMF");
        Some(info)
    }
}

/// The message as an Internet message (RFC 5322); returns the packet list's text.
fn message_layer(cx: &mut Cx, msg: &[u8]) -> String {
    cx.begin(Proto::Imf, 0);
    let m = imf::parse(msg);
    let mut from = None;
    let mut subject = None;
    for h in &m.headers {
        let name = String::from_utf8_lossy(&msg[h.name.clone()]).into_owned();
        let (def, kind) = imf::header_def(&name);
        let value = String::from_utf8_lossy(&msg[h.value.clone()]).into_owned();
        if name.eq_ignore_ascii_case("from") {
            from = Some(value.clone());
        } else if name.eq_ignore_ascii_case("subject") {
            subject = Some(value.clone());
        }
        if !cx.record {
            continue;
        }
        match kind {
            imf::ValueKind::Extension => {
                cx.push_text(0, &imf::EXTENSION_TYPE, msg, h.name.clone());
                cx.push_text(0, &imf::EXTENSION_VALUE, msg, h.value.clone());
            }
            _ => {
                cx.push_text(0, def, msg, h.value.clone());
            }
        }
        match kind {
            imf::ValueKind::AddressList | imf::ValueKind::MailboxList => {
                let item_def = if kind == imf::ValueKind::AddressList {
                    &imf::ADDRESS_LIST_ITEM
                } else {
                    &imf::MAILBOX_LIST_ITEM
                };
                let list = imf::addresses(msg, h.value.clone(), h.span.end);
                note!(
                    cx,
                    "({} item{})",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                );
                for a in list {
                    cx.push_text(1, item_def, msg, a.item.clone());
                    if let Some(d) = a.display_name {
                        cx.push_text(2, &imf::DISPLAY_NAME, msg, d);
                    }
                    cx.push_text(2, &imf::ADDRESS, msg, a.address);
                }
            }
            imf::ValueKind::ContentType => {
                let v = &msg[h.value.clone()];
                let semi = v.iter().position(|&b| b == b';').unwrap_or(v.len());
                let mut te = semi;
                while te > 0 && v[te - 1] == b' ' {
                    te -= 1;
                }
                cx.push_text(
                    1,
                    &imf::CONTENT_TYPE_TYPE,
                    msg,
                    h.value.start..h.value.start + te,
                );
                if semi < v.len() {
                    let mut ps = semi + 1;
                    while ps < v.len() && matches!(v[ps], b' ' | b'\t' | b'\r' | b'\n') {
                        ps += 1;
                    }
                    cx.push_text(
                        1,
                        &imf::CONTENT_TYPE_PARAMETERS,
                        msg,
                        h.value.start + ps..h.value.end,
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(at) = m.bad_line {
        cx.malformed(format!(
            "offset {at}: a line that is no header field (Name: value) before the empty line that ends the header"
        ));
    }
    // The packet list, as Wireshark writes it: from, subject, then the body's lines.
    let mut info = String::new();
    if let Some(f) = &from {
        let _ = write!(info, "from: {f}");
    }
    if let Some(s) = &subject {
        if !info.is_empty() {
            info.push_str(", ");
        }
        let _ = write!(info, "subject: {s}");
    }
    info.push_str(", ");
    if cx.record && !m.body.is_empty() {
        cx.push(0, &imf::MESSAGE_TEXT, m.body.clone(), Value::Group);
    }
    for l in smtp::lines(&msg[m.body.clone()]) {
        let r = m.body.start + l.start..m.body.start + l.end;
        if cx.record {
            let t = smtp::trim_eol(msg, r.clone());
            cx.push_text(1, &imf::LINE, msg, t);
        }
        info.push_str(", ");
        for &b in &msg[r] {
            info.push(match b {
                b'\r' | b'\n' | b'\t' => ' ',
                b => b as char,
            });
        }
    }
    headline!(
        cx,
        "{} header field{}, {} bytes of body",
        m.headers.len(),
        if m.headers.len() == 1 { "" } else { "s" },
        m.body.len()
    );
    cx.end(msg.len());
    info
}

/// What a command asks for (RFC 5321 § 4.1.1, RFC 3207 STARTTLS, RFC 4954 AUTH).
fn command_meaning(verb: &str) -> &'static str {
    match verb {
        "EHLO" => "hello, with ESMTP: the server answers with the extensions it supports",
        "HELO" => "hello (plain SMTP)",
        "MAIL" => "a new message; the envelope's sender (where bounces go)",
        "RCPT" => "one recipient of the envelope",
        "DATA" => "the message follows",
        "BDAT" => "a chunk of the message follows (CHUNKING)",
        "RSET" => "forget the message so far",
        "VRFY" => "does this mailbox exist?",
        "EXPN" => "expand this mailing list",
        "HELP" => "help",
        "NOOP" => "do nothing",
        "QUIT" => "goodbye",
        "STARTTLS" => "switch this connection to TLS",
        "AUTH" => "log in (the credentials are only base64: readable unless TLS runs first)",
        _ => "a command",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::app::tests::Conn;

    #[test]
    fn a_mail_session_with_data_over_two_segments() {
        let mut c = Conn::new(25);
        c.handshake();
        let p = c.send(false, b"220 mail.netlab.test ESMTP\r\n");
        assert_eq!(p.info, "S: 220 mail.netlab.test ESMTP");
        c.send(true, b"EHLO client.netlab.test\r\n");
        let p = c.send(
            false,
            b"250-mail.netlab.test\r\n250-SIZE 33554432\r\n250 HELP\r\n",
        );
        assert_eq!(p.info, "S: 250-mail.netlab.test | SIZE 33554432 | HELP");
        assert_eq!(p.fields_named("smtp.response.code").count(), 1);
        assert_eq!(p.fields_named("smtp.rsp.parameter").count(), 3);
        let p = c.send(true, b"MAIL FROM:<alice@netlab.test>\r\n");
        assert_eq!(
            p.field("smtp.req.parameter").unwrap().value,
            Value::Text("FROM:<alice@netlab.test>".into())
        );
        c.send(false, b"250 OK\r\n");
        c.send(true, b"DATA\r\n");
        c.send(false, b"354 End data with <CR><LF>.<CR><LF>\r\n");
        let p = c.send(
            true,
            b"From: alice@netlab.test\r\nTo: bob@netlab.test, carol@netlab.test\r\n",
        );
        assert_eq!(p.info, "C: DATA fragment, 65 bytes");
        let p = c.send(true, b"Subject: hi\r\n\r\nHi Bob\r\n.\r\n");
        assert_eq!(p.protocol, "SMTP/IMF");
        assert_eq!(p.info, "from: alice@netlab.test, subject: hi, , Hi Bob");
        assert_eq!(p.protocols(), "raw:ip:tcp:smtp:imf");
        assert_eq!(p.fields_named("smtp.data.fragment").count(), 2);
        assert_eq!(p.fields_named("imf.address").count(), 3);
        assert_eq!(
            p.field("imf.subject").unwrap().value,
            Value::Text("hi".into())
        );
        // Back to commands.
        let p = c.send(true, b"QUIT\r\n");
        assert_eq!(p.info, "C: QUIT");
    }

    #[test]
    fn starttls_switches_to_tls() {
        let mut c = Conn::new(25);
        c.handshake();
        c.send(false, b"220 mail ESMTP\r\n");
        c.send(true, b"STARTTLS\r\n");
        c.send(false, b"220 Ready to start TLS\r\n");
        let p = c.send(true, &crate::wire::tls::tests::client_hello().record());
        assert_eq!(p.info, "Client Hello");
        assert!(p.has(Proto::Tls));
    }
}
