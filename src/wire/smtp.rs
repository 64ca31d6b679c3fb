//! SMTP, the Simple Mail Transfer Protocol (RFC 5321): how mail travels between
//! servers, as lines of text.
//!
//! The client sends commands (`EHLO client.example`, `MAIL FROM:<alice@…>`,
//! `RCPT TO:<bob@…>`, `DATA`, `QUIT`), the server answers each with a three-digit code
//! and text; a reply of several lines repeats the code with `-` on every line but the
//! last (`250-SIZE 33554432` … `250 HELP`, § 4.2.1). After `DATA` and the server's
//! `354`, the client sends the message itself (RFC 5322, `wire::imf`) and ends it with a
//! line holding only a dot; a line of the message that starts with a dot gets a second
//! one (dot-stuffing, § 4.5.2). `MAIL FROM` and `RCPT TO` are the *envelope*: who the
//! message is really from and for, whatever its `From:` and `To:` headers say.
//!
//! [`parse_command`] and [`parse_reply_line`] read lines with byte ranges;
//! [`data_end`] finds the end of a message; [`CommandRepr`] writes commands.

use core::ops::Range;

/// SMTP's well-known ports: 25 between servers, 587 for submission by mail clients.
pub const PORTS: [u16; 2] = [25, 587];
/// The longest line netlab reads as one (RFC 5321 § 4.5.3.1.4 allows 1000 octets, text
/// lines of messages too; servers differ).
pub const MAX_LINE: usize = 8192;

fields! {
    REQ: Bool(
        "Request",
        "smtp.req",
        "this is the client's: a command, or message data",
    );
    RSP: Bool(
        "Response",
        "smtp.rsp",
        "this is the server's: replies",
    );
    COMMAND_LINE: Text(
        "Command Line",
        "smtp.command_line",
        "one command line as the client sent it",
    );
    REQ_COMMAND: Text(
        "Command",
        "smtp.req.command",
        "the command: EHLO/HELO (hello), MAIL (the envelope's sender), RCPT (a recipient), DATA (the message follows), QUIT…",
    );
    REQ_PARAMETER: Text(
        "Request parameter",
        "smtp.req.parameter",
        "the command's argument: the client's name, an envelope address <…>",
    );
    RESPONSE: Text(
        "Response",
        "smtp.response",
        "one reply line as the server sent it",
    );
    RESPONSE_CODE: Num(
        "Response code",
        "smtp.response.code",
        "three digits: 2xx done, 3xx go on (354: send the message), 4xx try later, 5xx refused",
    );
    RSP_PARAMETER: Text(
        "Response parameter",
        "smtp.rsp.parameter",
        "the reply's text; in an EHLO reply, one extension the server offers per line",
    );
    DATA_FRAGMENTS: Group(
        "DATA fragments",
        "smtp.data.fragments",
        "the message arrived in these segments; SMTP put it back together",
    );
    DATA_FRAGMENT: Num(
        "DATA fragment",
        "smtp.data.fragment",
        "a frame that carried part of the message",
    );
    DATA_FRAGMENT_COUNT: Num(
        "DATA fragment count",
        "smtp.data.fragment.count",
        "how many segments carried the message",
    );
    DATA_REASSEMBLED_LENGTH: Num(
        "Reassembled DATA length",
        "smtp.data.reassembled.length",
        "the message's length, without the final dot line",
    );
    EOM: Group(
        "EOM",
        "smtp.eom",
        "the line with only a dot: the end of the message",
    );
    DATA_LINE: Text(
        "Message line",
        "",
        "part of the message, sent after DATA",
    );
}

/// The length of the complete lines at the start of `buf` (to its last LF): `None` until
/// there is one, `Some(Err(()))` when no LF comes within [`MAX_LINE`] bytes.
pub fn complete_lines(buf: &[u8]) -> Option<Result<usize, ()>> {
    match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => Some(Ok(i + 1)),
        None if buf.len() >= MAX_LINE => Some(Err(())),
        None => None,
    }
}

/// The lines of `buf`, each with its line ending.
pub fn lines(buf: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= buf.len() {
            return None;
        }
        let n = buf[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len() - at, |i| i + 1);
        let r = at..at + n;
        at += n;
        Some(r)
    })
}

/// A line's range without its CR LF.
pub fn trim_eol(buf: &[u8], r: Range<usize>) -> Range<usize> {
    let mut e = r.end;
    if e > r.start && buf[e - 1] == b'\n' {
        e -= 1;
    }
    if e > r.start && buf[e - 1] == b'\r' {
        e -= 1;
    }
    r.start..e
}

/// A command line: its verb and (after the first space) its parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub verb: Range<usize>,
    pub parameter: Option<Range<usize>>,
}

/// Reads the command line `line` (a range of `buf`, with its ending).
pub fn parse_command(buf: &[u8], line: Range<usize>) -> Command {
    let t = trim_eol(buf, line.clone());
    match buf[t.clone()].iter().position(|&b| b == b' ') {
        Some(sp) => Command {
            verb: t.start..t.start + sp,
            parameter: (t.start + sp + 1 < t.end).then_some(t.start + sp + 1..t.end),
        },
        None => Command {
            verb: t,
            parameter: None,
        },
    }
}

/// A reply line: its code, whether more lines follow (`-`), its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine {
    pub code: u16,
    pub more: bool,
    pub text: Option<Range<usize>>,
}

/// Reads a reply line (RFC 5321 § 4.2): `None` when it does not start with 3 digits.
pub fn parse_reply_line(buf: &[u8], line: Range<usize>) -> Option<ReplyLine> {
    let t = trim_eol(buf, line);
    let b = &buf[t.clone()];
    let d = b.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = d.iter().fold(0u16, |n, c| n * 10 + u16::from(c - b'0'));
    let more = b.get(3) == Some(&b'-');
    let text = (b.len() > 4).then_some(t.start + 4..t.end);
    Some(ReplyLine { code, more, text })
}

/// Where the message data at the start of `buf` ends: `(content_len, total)` where the
/// content leaves out the final `CRLF . CRLF` and `total` includes it (RFC 5321
/// § 4.1.1.4). `None` until the dot line has arrived.
pub fn data_end(buf: &[u8]) -> Option<(usize, usize)> {
    if buf.starts_with(b".\r\n") {
        return Some((0, 3));
    }
    let i = buf.windows(5).position(|w| w == b"\r\n.\r\n")?;
    Some((i, i + 5))
}

/// Removes dot-stuffing: a line of the message that starts with `.` was sent with a
/// second dot (RFC 5321 § 4.5.2).
pub fn unstuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut line_start = true;
    for &b in data {
        if line_start && b == b'.' {
            line_start = false;
            continue;
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}

/// What a reply code means, in Wireshark's words (RFC 5321 § 4.2.3).
pub fn reply_name(code: u16) -> &'static str {
    match code {
        211 => "System status, or system help reply",
        214 => "Help message",
        220 => "<domain> Service ready",
        221 => "<domain> Service closing transmission channel",
        235 => "Authentication successful",
        250 => "Requested mail action okay, completed",
        251 => "User not local; will forward to <forward-path>",
        252 => "Cannot VRFY user, but will accept message and attempt delivery",
        334 => "AUTH input",
        354 => "Start mail input; end with <CRLF>.<CRLF>",
        421 => "<domain> Service not available, closing transmission channel",
        432 => "A password transition is needed",
        450 => "Requested mail action not taken: mailbox unavailable",
        451 => "Requested action aborted: local error in processing",
        452 => "Requested action not taken: insufficient system storage",
        454 => "Temporary authenticate failure",
        500 => "Syntax error, command unrecognized",
        501 => "Syntax error in parameters or arguments",
        502 => "Command not implemented",
        503 => "Bad sequence of commands",
        504 => "Command parameter not implemented",
        530 => "Authentication required",
        534 => "Authentication mechanism is too weak",
        535 => "Authentication credentials invalid",
        538 => "Encryption required for requested authentication mechanism",
        550 => "Requested action not taken: mailbox unavailable",
        551 => "User not local; please try <forward-path>",
        552 => "Requested mail action aborted: exceeded storage allocation",
        553 => "Requested action not taken: mailbox name not allowed",
        554 => "Transaction failed",
        _ => "Unknown",
    }
}

/// A command to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRepr {
    pub verb: String,
    pub parameter: Option<String>,
}

impl CommandRepr {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.verb.clone().into_bytes();
        if let Some(p) = &self.parameter {
            v.push(b' ');
            v.extend_from_slice(p.as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        v
    }
}

/// A message body prepared for DATA: dot-stuffed, ending in CRLF . CRLF.
pub fn stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// captures/smtp.pcap, frames 8, 9, 11 and 12: aiosmtpd's multi-line answer to EHLO,
    /// one line per segment.
    const EHLO_REPLY: [&[u8]; 4] = [
        b"250-mail.netlab.test\r\n",
        b"250-SIZE 33554432\r\n",
        b"250-8BITMIME\r\n",
        b"250 HELP\r\n",
    ];

    /// captures/smtp.pcap, frame 22: what swaks sent after DATA — the message and the
    /// line with the lone dot that ends it (the TCP payload).
    pub(crate) const SWAKS_DATA: &[u8] = b"Date: Sat, 01 Jun 2024 12:00:00 +0000\r\n\
To: bob@netlab.test,carol@netlab.test\r\n\
From: alice@netlab.test\r\n\
Subject: Hello from the SMTP lesson\r\n\
Message-Id: <lesson-smtp-1@client.netlab.test>\r\n\
X-Mailer: swaks v20201014.0 jetmore.org/john/code/swaks/\r\n\
\r\n\
Hi Bob and Carol,\r\n\
\r\n\
This message crossed the wire as plain text:\r\n\
every header and line is readable in the capture.\r\n\
\r\n\
-- \r\n\
Alice\r\n\
\r\n\
.\r\n";

    #[test]
    fn aiosmtpd_ehlo_reply_from_the_capture() {
        // Each segment is one complete line; together they are one reply.
        for seg in EHLO_REPLY {
            assert_eq!(complete_lines(seg), Some(Ok(seg.len())));
        }
        let b = EHLO_REPLY.concat();
        let replies: Vec<ReplyLine> = lines(&b)
            .map(|l| parse_reply_line(&b, l).unwrap())
            .collect();
        assert_eq!(replies.len(), 4);
        assert!(replies.iter().all(|r| r.code == 250));
        let more: Vec<bool> = replies.iter().map(|r| r.more).collect();
        assert_eq!(more, [true, true, true, false]);
        let texts: Vec<&[u8]> = replies
            .iter()
            .map(|r| &b[r.text.clone().unwrap()])
            .collect();
        assert_eq!(
            texts,
            [
                &b"mail.netlab.test"[..],
                b"SIZE 33554432",
                b"8BITMIME",
                b"HELP"
            ]
        );
    }

    /// captures/smtp.pcap, frames 6, 14 and 16: swaks's commands.
    #[test]
    fn swaks_commands_from_the_capture() {
        for (line, verb, param) in [
            (
                &b"EHLO client.netlab.test\r\n"[..],
                &b"EHLO"[..],
                &b"client.netlab.test"[..],
            ),
            (
                b"MAIL FROM:<alice@netlab.test>\r\n",
                b"MAIL",
                b"FROM:<alice@netlab.test>",
            ),
            (
                b"RCPT TO:<bob@netlab.test>\r\n",
                b"RCPT",
                b"TO:<bob@netlab.test>",
            ),
        ] {
            let c = parse_command(line, 0..line.len());
            assert_eq!(&line[c.verb], verb);
            assert_eq!(&line[c.parameter.unwrap()], param);
        }
        // Frame 20: DATA has no parameter.
        assert_eq!(parse_command(b"DATA\r\n", 0..6).parameter, None);
    }

    #[test]
    fn swaks_message_data_from_the_capture() {
        let (content, total) = data_end(SWAKS_DATA).unwrap();
        assert_eq!(total, SWAKS_DATA.len());
        assert!(SWAKS_DATA[..content].ends_with(b"Alice\r\n"));
        // No line starts with a dot: nothing to unstuff, and stuffing gives the wire back.
        let message = unstuff(&SWAKS_DATA[..content + 2]);
        assert_eq!(message, &SWAKS_DATA[..content + 2]);
        assert_eq!(stuff(&message), SWAKS_DATA);
        // Cut anywhere before the dot line, the end has not arrived.
        assert_eq!(data_end(&SWAKS_DATA[..SWAKS_DATA.len() - 1]), None);
    }

    #[test]
    fn commands_and_replies() {
        let b = b"MAIL FROM:<alice@netlab.test>\r\n";
        let c = parse_command(b, 0..b.len());
        assert_eq!(&b[c.verb], b"MAIL");
        assert_eq!(&b[c.parameter.unwrap()], b"FROM:<alice@netlab.test>");
        let b = b"250-SIZE 33554432\r\n250 HELP\r\n";
        let ls: Vec<_> = lines(b).collect();
        assert_eq!(ls.len(), 2);
        let r = parse_reply_line(b, ls[0].clone()).unwrap();
        assert_eq!((r.code, r.more), (250, true));
        assert_eq!(&b[r.text.unwrap()], b"SIZE 33554432");
        let r = parse_reply_line(b, ls[1].clone()).unwrap();
        assert!(!r.more);
        assert!(parse_reply_line(b"hello\r\n", 0..7).is_none());
        assert_eq!(complete_lines(b"220 x\r\n22"), Some(Ok(7)));
        assert_eq!(complete_lines(b"220"), None);
    }

    #[test]
    fn message_data_ends_at_the_dot_line_and_is_unstuffed() {
        let body = b"Subject: x\r\n\r\n.hidden dot\r\nend\r\n";
        let wire = stuff(body);
        assert!(wire.ends_with(b"\r\n.\r\n"));
        assert!(wire.windows(5).any(|w| w == b"\n..hi"));
        let (content, total) = data_end(&wire).unwrap();
        assert_eq!(total, wire.len());
        // The content leaves out the CRLF that belongs to the end marker.
        assert_eq!(unstuff(&wire[..content + 2]), body);
        assert_eq!(data_end(b".\r\n"), Some((0, 3)));
        assert_eq!(data_end(b"no end yet\r\n"), None);
        assert_eq!(
            CommandRepr {
                verb: "RCPT".into(),
                parameter: Some("TO:<bob@netlab.test>".into())
            }
            .to_bytes(),
            b"RCPT TO:<bob@netlab.test>\r\n"
        );
    }
}
