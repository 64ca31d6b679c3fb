//! The Internet Message Format (RFC 5322): what an e-mail looks like — header fields,
//! `Name: value` one per line (a line starting with a space or tab continues the one
//! before, § 2.2.3), an empty line, then the body. SMTP carries it after `DATA`.
//!
//! [`parse`] reads the header fields with their byte ranges and finds the body;
//! [`addresses`] splits an address list (`To: bob@netlab.test, Carol <carol@…>`).

use core::ops::Range;

fields! {
    DATE: Text("Date", "imf.date", "when the message was written (by the sender's clock)");
    FROM: Text("From", "imf.from", "who wrote the message — which SMTP does not check: anyone can write any From");
    SENDER: Text("Sender", "imf.sender", "who sent it on the author's behalf");
    REPLY_TO: Text("Reply-To", "imf.reply_to", "where answers should go");
    TO: Text("To", "imf.to", "the main recipients, as shown to readers (SMTP's RCPT TO decides who really gets it)");
    CC: Text("Cc", "imf.cc", "recipients of a copy");
    BCC: Text("Bcc", "imf.bcc", "hidden recipients");
    MESSAGE_ID: Text("Message-ID", "imf.message_id", "a unique identifier for this message");
    IN_REPLY_TO: Text("In-Reply-To", "imf.in_reply_to", "the message this one answers");
    REFERENCES: Text("References", "imf.references", "the messages of the thread");
    SUBJECT: Text("Subject", "imf.subject", "the topic");
    COMMENTS: Text("Comments", "imf.comments", "comments on the message");
    USER_AGENT: Text("User-Agent", "imf.user_agent", "the program that wrote the message");
    KEYWORDS: Text("Keywords", "imf.keywords", "keywords");
    RETURN_PATH: Text("Return-Path", "imf.return_path", "where bounces go: the SMTP envelope's MAIL FROM, added on delivery");
    RECEIVED: Text("Received", "imf.received", "a trace line each mail server adds: read them bottom up to follow the message's path");
    CONTENT_TYPE: Text("Content-Type", "imf.content.type", "the body's media type (MIME, RFC 2045)");
    CONTENT_TYPE_TYPE: Text("Type", "imf.content.type.type", "the media type without parameters");
    CONTENT_TYPE_PARAMETERS: Text("Parameters", "imf.content.type.parameters", "the media type's parameters (charset, boundary…)");
    CONTENT_TRANSFER_ENCODING: Text("Content-Transfer-Encoding", "imf.content.transfer_encoding", "how the body is encoded for 7-bit transport (base64, quoted-printable…)");
    CONTENT_DESCRIPTION: Text("Content-Description", "imf.content.description", "a description of the body");
    CONTENT_ID: Text("Content-ID", "imf.content.id", "an identifier for the body part");
    MIME_VERSION: Text("MIME-Version", "imf.mime_version", "the message uses MIME (1.0)");
    X_MAILER: Text("X-Mailer", "imf.ext.mailer", "the program that sent the message");
    DELIVERED_TO: Text("Delivered-To", "imf.delivered_to", "the mailbox it was delivered to");
    X_ORIGINAL_TO: Text("X-Original-To", "imf.ext.original-to", "the recipient before aliases were expanded");
    PRECEDENCE: Text("Precedence", "imf.precedence", "bulk, list or junk: how automated the message is");
    IMPORTANCE: Text("Importance", "imf.importance", "how important the sender says it is");
    PRIORITY: Text("Priority", "imf.priority", "the sender's priority");
    EXTENSION: Text("Unknown-Extension", "imf.extension", "a header field without a meaning of its own in Wireshark");
    EXTENSION_TYPE: Text("Type", "imf.extension.type", "the field's name");
    EXTENSION_VALUE: Text("Value", "imf.extension.value", "the field's value");
    ADDRESS_LIST_ITEM: Text("Item", "imf.address_list.item", "one recipient of the list");
    MAILBOX_LIST_ITEM: Text("Item", "imf.mailbox_list.item", "one author of the list");
    DISPLAY_NAME: Text("Display-Name", "imf.display_name", "the name shown with the address");
    ADDRESS: Text("Address", "imf.address", "an e-mail address: local part @ domain");
    MESSAGE_TEXT: Group("Message-Text", "imf.message_text", "the body: everything after the empty line that ends the header");
    LINE: Text("Line", "", "one line of the body");
}

/// How a header field's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Plain,
    /// A list of addresses (To, Cc, Bcc, Reply-To).
    AddressList,
    /// A list of mailboxes (From).
    MailboxList,
    /// A media type with parameters.
    ContentType,
    /// No field of its own: `imf.extension`.
    Extension,
}

/// The field a header name maps to (names are case-insensitive, RFC 5322 § 1.2.2).
pub fn header_def(name: &str) -> (&'static crate::wire::FieldDef, ValueKind) {
    use ValueKind::*;
    match name.to_ascii_lowercase().as_str() {
        "date" => (&DATE, Plain),
        "from" => (&FROM, MailboxList),
        "sender" => (&SENDER, Plain),
        "reply-to" => (&REPLY_TO, AddressList),
        "to" => (&TO, AddressList),
        "cc" => (&CC, AddressList),
        "bcc" => (&BCC, AddressList),
        "message-id" => (&MESSAGE_ID, Plain),
        "in-reply-to" => (&IN_REPLY_TO, Plain),
        "references" => (&REFERENCES, Plain),
        "subject" => (&SUBJECT, Plain),
        "comments" => (&COMMENTS, Plain),
        "user-agent" => (&USER_AGENT, Plain),
        "keywords" => (&KEYWORDS, Plain),
        "return-path" => (&RETURN_PATH, Plain),
        "received" => (&RECEIVED, Plain),
        "content-type" => (&CONTENT_TYPE, ContentType),
        "content-transfer-encoding" => (&CONTENT_TRANSFER_ENCODING, Plain),
        "content-description" => (&CONTENT_DESCRIPTION, Plain),
        "content-id" => (&CONTENT_ID, Plain),
        "mime-version" => (&MIME_VERSION, Plain),
        "x-mailer" => (&X_MAILER, Plain),
        "delivered-to" => (&DELIVERED_TO, Plain),
        "x-original-to" => (&X_ORIGINAL_TO, Plain),
        "precedence" => (&PRECEDENCE, Plain),
        "importance" => (&IMPORTANCE, Plain),
        "priority" => (&PRIORITY, Plain),
        _ => (&EXTENSION, Extension),
    }
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The whole field, its line ending (and continuation lines) included.
    pub span: Range<usize>,
    pub name: Range<usize>,
    /// After the colon and the spaces that follow, up to the line ending.
    pub value: Range<usize>,
}

/// A message: its header fields, and where the body starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<Header>,
    /// The body's range: after the empty line (empty when there is none).
    pub body: Range<usize>,
    /// A line that is no header field, where one was expected (its offset).
    pub bad_line: Option<usize>,
}

/// Reads a message.
pub fn parse(msg: &[u8]) -> Message {
    let mut headers: Vec<Header> = Vec::new();
    let mut at = 0;
    let mut bad_line = None;
    while at < msg.len() {
        let n = msg[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(msg.len() - at, |i| i + 1);
        let line = &msg[at..at + n];
        let content = trim_eol(line);
        if content.is_empty() {
            // The empty line: the body follows.
            return Message {
                headers,
                body: at + n..msg.len(),
                bad_line,
            };
        }
        if matches!(content[0], b' ' | b'\t') {
            // Folding: this line continues the previous field (RFC 5322 § 2.2.3).
            if let Some(h) = headers.last_mut() {
                h.span.end = at + n;
                h.value.end = at + content.len();
                at += n;
                continue;
            }
        }
        match content.iter().position(|&b| b == b':') {
            Some(c) if c > 0 => {
                let mut v = c + 1;
                while v < content.len() && matches!(content[v], b' ' | b'\t') {
                    v += 1;
                }
                headers.push(Header {
                    span: at..at + n,
                    name: at..at + c,
                    value: at + v..at + content.len(),
                });
            }
            _ => {
                // Not a header field: the message has no header section end; the rest
                // is read as body.
                bad_line.get_or_insert(at);
                return Message {
                    headers,
                    body: at..msg.len(),
                    bad_line,
                };
            }
        }
        at += n;
    }
    Message {
        headers,
        body: msg.len()..msg.len(),
        bad_line,
    }
}

fn trim_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// One address of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The item as Wireshark shows it: from after the comma (spaces skipped) to the next
    /// comma — the last one up to the field's end, its line ending included.
    pub item: Range<usize>,
    pub display_name: Option<Range<usize>>,
    pub address: Range<usize>,
}

/// Splits the address list `value` (ranges into `msg`); `line_end` is where the field
/// ends, its line ending included. Commas inside quotes or angle brackets do not split.
pub fn addresses(msg: &[u8], value: Range<usize>, line_end: usize) -> Vec<Address> {
    let mut out = Vec::new();
    let mut start = value.start;
    let mut quoted = false;
    let mut angle = 0usize;
    let mut i = value.start;
    while i <= value.end {
        let at_end = i == value.end;
        let c = if at_end { b',' } else { msg[i] };
        match c {
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle += 1,
            b'>' if !quoted => angle = angle.saturating_sub(1),
            b',' if !quoted && angle == 0 => {
                let mut s = start;
                while s < i && matches!(msg[s], b' ' | b'\t' | b'\r' | b'\n') {
                    s += 1;
                }
                let item_end = if at_end { line_end.max(i) } else { i };
                if s < i {
                    out.push(address(msg, s..i, s..item_end));
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `Name <addr>` or a bare address.
fn address(msg: &[u8], text: Range<usize>, item: Range<usize>) -> Address {
    let t = &msg[text.clone()];
    if let (Some(lt), Some(gt)) = (
        t.iter().position(|&b| b == b'<'),
        t.iter().rposition(|&b| b == b'>'),
    ) && lt < gt
    {
        let mut ns = text.start;
        let mut ne = text.start + lt;
        while ns < ne && matches!(msg[ns], b' ' | b'"') {
            ns += 1;
        }
        while ne > ns && matches!(msg[ne - 1], b' ' | b'"') {
            ne -= 1;
        }
        return Address {
            item,
            display_name: (ne > ns).then_some(ns..ne),
            address: text.start + lt + 1..text.start + gt,
        };
    }
    Address {
        address: item.clone(),
        item,
        display_name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After captures/smtp.pcap, frame 22: the head of swaks's message with its Subject
    /// folded (the capture's is not) to test folding.
    const MSG: &[u8] = b"Date: Sat, 01 Jun 2024 12:00:00 +0000\r\nTo: bob@netlab.test,carol@netlab.test\r\nFrom: alice@netlab.test\r\nSubject: Hello from\r\n the SMTP lesson\r\n\r\nHi Bob and Carol,\r\n";

    /// captures/smtp.pcap, frame 22: swaks's message as sent after DATA (without its
    /// end-of-data line), read as tshark's `imf` reads it.
    #[test]
    fn swaks_message_from_the_capture() {
        let data = crate::wire::smtp::tests::SWAKS_DATA;
        let msg = &data[..data.len() - 3];
        let m = parse(msg);
        assert_eq!(m.bad_line, None);
        let names: Vec<&[u8]> = m.headers.iter().map(|h| &msg[h.name.clone()]).collect();
        assert_eq!(
            names,
            [
                &b"Date"[..],
                b"To",
                b"From",
                b"Subject",
                b"Message-Id",
                b"X-Mailer"
            ]
        );
        let value = |i: usize| &msg[m.headers[i].value.clone()];
        assert_eq!(value(3), b"Hello from the SMTP lesson");
        assert_eq!(value(4), b"<lesson-smtp-1@client.netlab.test>");
        assert_eq!(header_def("Message-Id").0.key, "imf.message_id");
        assert!(msg[m.body.clone()].starts_with(b"Hi Bob and Carol,\r\n"));
        assert!(msg[m.body.clone()].ends_with(b"Alice\r\n\r\n"));
        // tshark: "To: bob@netlab.test,carol@netlab.test, 2 items", the last item to the
        // line's end; "From: alice@netlab.test, 1 item".
        let items = |i: usize| -> Vec<(&[u8], &[u8])> {
            let h = &m.headers[i];
            addresses(msg, h.value.clone(), h.span.end)
                .into_iter()
                .map(|a| (&msg[a.item], &msg[a.address]))
                .collect()
        };
        assert_eq!(
            items(1),
            [
                (&b"bob@netlab.test"[..], &b"bob@netlab.test"[..]),
                (b"carol@netlab.test\r\n", b"carol@netlab.test\r\n")
            ]
        );
        assert_eq!(
            items(2),
            [(&b"alice@netlab.test\r\n"[..], &b"alice@netlab.test\r\n"[..])]
        );
    }

    #[test]
    fn headers_folding_and_body() {
        let m = parse(MSG);
        assert_eq!(m.headers.len(), 4);
        let s = &m.headers[3];
        assert_eq!(&MSG[s.name.clone()], b"Subject");
        assert_eq!(&MSG[s.value.clone()], b"Hello from\r\n the SMTP lesson");
        assert_eq!(&MSG[m.body.clone()], b"Hi Bob and Carol,\r\n");
        assert_eq!(m.bad_line, None);
        assert_eq!(header_def("TO").1, ValueKind::AddressList);
        assert_eq!(header_def("X-Lesson").1, ValueKind::Extension);
    }

    #[test]
    fn address_lists_as_wireshark_cuts_them() {
        let m = parse(MSG);
        let to = &m.headers[1];
        let a = addresses(MSG, to.value.clone(), to.span.end);
        assert_eq!(a.len(), 2);
        assert_eq!(&MSG[a[0].item.clone()], b"bob@netlab.test");
        // The last item runs to the line's end.
        assert_eq!(&MSG[a[1].item.clone()], b"carol@netlab.test\r\n");
        let t = b"\"Carol, C.\" <carol@netlab.test>, bob@x\r\n";
        let a = addresses(t, 0..t.len() - 2, t.len());
        assert_eq!(a.len(), 2);
        assert_eq!(&t[a[0].display_name.clone().unwrap()], b"Carol, C.");
        assert_eq!(&t[a[0].address.clone()], b"carol@netlab.test");
    }

    #[test]
    fn a_message_without_header_end_or_with_garbage() {
        let m = parse(b"Subject: x\r\n");
        assert_eq!((m.headers.len(), m.body.is_empty()), (1, true));
        let m = parse(b"no colon here\r\nbody\r\n");
        assert_eq!(m.bad_line, Some(0));
        assert!(m.headers.is_empty());
        let m = parse(b"");
        assert!(m.headers.is_empty() && m.body.is_empty());
    }
}
