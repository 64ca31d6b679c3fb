//! FTP's control connection (RFC 959, extended passive mode RFC 2428): lines of text.
//!
//! The client sends commands, one per line: a verb and maybe an argument,
//! `RETR hello.txt\r\n`. The server answers each with a reply: a three-digit code and
//! text, `226 Transfer complete.\r\n`; a reply of several lines starts `123-` and ends
//! with a line starting `123 ` (§ 4.2). The first digit says how it went: 1 preliminary,
//! 2 done, 3 more needed, 4 try again, 5 failed.
//!
//! Files and listings do not travel here but on a separate *data connection*, whose
//! address the two agree on first: `PASV` asks the server to listen and it answers
//! `227 Entering Passive Mode (10,99,0,2,117,109)` — an IPv4 address and a port
//! written as six numbers (port 117·256 + 109); `EPSV` gets `229 Entering Extended Passive
//! Mode (|||30061|)`, a port on the same address; `PORT`/`EPRT` make the server connect
//! to the client instead. [`parse_pasv`], [`parse_epsv`] and [`parse_eprt`] read them.
//!
//! Parsers return values with byte ranges (into the line given); [`CommandRepr`] and
//! [`ReplyRepr`] write lines.

use core::ops::Range;
use std::net::{IpAddr, Ipv4Addr};

/// The control connection's well-known port.
pub const PORT: u16 = 21;
/// The port an active-mode server connects from (RFC 959 § 3.2: L−1).
pub const DATA_PORT: u16 = 20;
/// The longest line netlab reads as one; a longer "line" is no FTP.
pub const MAX_LINE: usize = 8192;
/// The longest multi-line reply read as one.
pub const MAX_REPLY: usize = 64 * 1024;

fields! {
    REQUEST: Bool(
        "Request",
        "ftp.request",
        "the client's command (true) or the server's reply",
    );
    RESPONSE: Bool(
        "Response",
        "ftp.response",
        "the server's reply (true) or the client's command",
    );
    REQUEST_COMMAND: Text(
        "Request command",
        "ftp.request.command",
        "the command: USER, PASS, CWD, LIST, RETR, STOR, PASV, QUIT… (RFC 959 § 4.1)",
    );
    REQUEST_ARG: Text(
        "Request arg",
        "ftp.request.arg",
        "the command's argument: a user name, a path — and PASS's password, in the clear for anyone on the path",
    );
    RESPONSE_CODE: Num(
        "Response code",
        "ftp.response.code",
        "three digits: the first says how it went (1 preliminary, 2 done, 3 more needed, 4 try again, 5 failed)",
    );
    RESPONSE_ARG: Text(
        "Response arg",
        "ftp.response.arg",
        "the reply's text, for people",
    );
    PASSIVE_IP: Ipv4(
        "Passive IP address",
        "ftp.passive.ip",
        "PASV's answer: the address the server listens on for the data connection",
    );
    PASSIVE_PORT: Num(
        "Passive port",
        "ftp.passive.port",
        "the port of the data connection, written as two numbers p1,p2 meaning p1×256 + p2",
    );
    PASSIVE_NAT: Bool(
        "Passive IP NAT",
        "ftp.passive.nat",
        "the address in the reply is not the server's own: a NAT box or a misconfigured server",
    );
    ACTIVE_IP: Ipv4(
        "Active IP address",
        "ftp.active.cip",
        "PORT: the address the client listens on; the server will connect to it",
    );
    ACTIVE_PORT: Num(
        "Active port",
        "ftp.active.port",
        "the port the client listens on",
    );
    ACTIVE_NAT: Bool(
        "Active IP NAT",
        "ftp.active.nat",
        "the address in the command is not the client's own",
    );
    EPRT_AF: Num(
        "Extended active address family",
        "ftp.eprt.af",
        "1 IPv4, 2 IPv6 (RFC 2428)",
    );
    EPRT_IP: Ipv4(
        "Extended active IP address",
        "ftp.eprt.ip",
        "the IPv4 address the client listens on",
    );
    EPRT_IPV6: Ipv6(
        "Extended active IPv6 address",
        "ftp.eprt.ipv6",
        "the IPv6 address the client listens on",
    );
    EPRT_PORT: Num(
        "Extended active port",
        "ftp.eprt.port",
        "the port the client listens on",
    );
    EPSV_IP: Ipv4(
        "Extended passive IPv4 address",
        "ftp.epsv.ip",
        "EPSV names only a port: the address is the control connection's",
    );
    EPSV_IPV6: Ipv6(
        "Extended passive IPv6 address",
        "ftp.epsv.ipv6",
        "EPSV names only a port: the address is the control connection's",
    );
    EPSV_PORT: Num(
        "Extended passive port",
        "ftp.epsv.port",
        "EPSV's answer (RFC 2428): the port the server listens on for the data connection",
    );
    LINE: Text(
        "Line",
        "",
        "one more line of a multi-line reply",
    );
}

/// The length of the line at the start of `buf` (its LF included): `None` until the LF
/// is there, `Some(Err(()))` when no LF comes within [`MAX_LINE`] bytes.
pub fn line_len(buf: &[u8]) -> Option<Result<usize, ()>> {
    match buf.iter().take(MAX_LINE).position(|&b| b == b'\n') {
        Some(i) => Some(Ok(i + 1)),
        None if buf.len() >= MAX_LINE => Some(Err(())),
        None => None,
    }
}

/// The length of the complete lines at the start of `buf` (up to its last LF): `None`
/// until a first LF, `Some(Err(()))` when none comes within [`MAX_LINE`] bytes.
pub fn complete_lines(buf: &[u8]) -> Option<Result<usize, ()>> {
    match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => Some(Ok(i + 1)),
        None if buf.len() >= MAX_LINE => Some(Err(())),
        None => None,
    }
}

/// The code of a reply line: three digits followed by a space, a hyphen or the line's
/// end.
fn code_of(line: &[u8]) -> Option<(u16, u8)> {
    let d = line.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sep = match line.get(3) {
        None | Some(b'\r' | b'\n') => b' ',
        Some(&c @ (b' ' | b'-')) => c,
        _ => return None,
    };
    let n = d.iter().fold(0u16, |n, c| n * 10 + u16::from(c - b'0'));
    Some((n, sep))
}

/// The length of the reply at the start of `buf`: one line, or (first line `123-`) up to
/// and including the line that starts `123 ` (RFC 959 § 4.2). `None` until complete,
/// `Some(Err(()))` past [`MAX_REPLY`]. A line with no code is a reply of its own.
pub fn reply_len(buf: &[u8]) -> Option<Result<usize, ()>> {
    let first = match line_len(buf)? {
        Ok(n) => n,
        Err(()) => return Some(Err(())),
    };
    let Some((code, b'-')) = code_of(&buf[..first]) else {
        return Some(Ok(first));
    };
    let mut at = first;
    loop {
        if at >= MAX_REPLY {
            return Some(Err(()));
        }
        let n = match line_len(&buf[at..])? {
            Ok(n) => n,
            Err(()) => return Some(Err(())),
        };
        let line = &buf[at..at + n];
        at += n;
        if code_of(line) == Some((code, b' ')) {
            return Some(Ok(at));
        }
    }
}

/// A line without its CR LF.
fn trim_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// A command line: `verb [SP argument]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The line without CR LF.
    pub line: Range<usize>,
    pub verb: Range<usize>,
    /// Everything after the first space (RFC 2640 § 3.1: later spaces belong to it).
    pub arg: Option<Range<usize>>,
}

pub fn parse_command(buf: &[u8]) -> Command {
    let end = trim_eol(buf).len();
    let sp = buf[..end].iter().position(|&b| b == b' ');
    match sp {
        Some(i) => Command {
            line: 0..end,
            verb: 0..i,
            arg: (i + 1 < end).then_some(i + 1..end),
        },
        None => Command {
            line: 0..end,
            verb: 0..end,
            arg: None,
        },
    }
}

/// A reply: its code and the first line's text, and the other lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `None`: a line with no code (text in the middle of a reply).
    pub code: Option<u16>,
    /// The first line without CR LF.
    pub line: Range<usize>,
    /// The text after `123 ` / `123-` on the first line.
    pub arg: Option<Range<usize>>,
    /// The lines after the first (without CR LF).
    pub more: Vec<Range<usize>>,
}

pub fn parse_reply(buf: &[u8]) -> Reply {
    let first = buf
        .iter()
        .position(|&b| b == b'\n')
        .map_or(buf.len(), |i| i + 1);
    let end = trim_eol(&buf[..first]).len();
    let code = code_of(&buf[..end]).map(|(c, _)| c);
    let arg = match code {
        Some(_) if end > 4 => Some(4..end),
        Some(_) => None,
        None => (end > 0).then_some(0..end),
    };
    let mut more = Vec::new();
    let mut at = first;
    while at < buf.len() {
        let n = buf[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len() - at, |i| i + 1);
        let e = trim_eol(&buf[at..at + n]).len();
        more.push(at..at + e);
        at += n;
    }
    Reply {
        code,
        line: 0..end,
        arg: if code.is_some() { arg } else { None },
        more,
    }
}

/// An address and port read from text, with where each was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub ip: IpAddr,
    pub port: u16,
    pub ip_range: Range<usize>,
    pub port_range: Range<usize>,
}

/// Reads `h1,h2,h3,h4,p1,p2` anywhere in `text` (a 227 reply's text or PORT's argument),
/// as Wireshark and curl do: the first run of six comma-separated numbers (RFC 959
/// § 4.1.2; many servers leave out the parentheses).
pub fn parse_pasv(text: &[u8]) -> Option<HostPort> {
    let mut at = 0;
    while at < text.len() {
        if !text[at].is_ascii_digit() {
            at += 1;
            continue;
        }
        // Try six numbers from here.
        let mut nums = [0u32; 6];
        let mut spans: [Range<usize>; 6] = Default::default();
        let mut p = at;
        let mut ok = true;
        for i in 0..6 {
            let s = p;
            while p < text.len() && text[p].is_ascii_digit() && p - s < 4 {
                p += 1;
            }
            if p == s {
                ok = false;
                break;
            }
            nums[i] = std::str::from_utf8(&text[s..p])
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(u32::MAX);
            spans[i] = s..p;
            if i < 5 {
                if text.get(p) != Some(&b',') {
                    ok = false;
                    break;
                }
                p += 1;
            }
        }
        if ok && nums[..4].iter().all(|&n| n <= 255) {
            return Some(HostPort {
                ip: IpAddr::V4(Ipv4Addr::new(
                    nums[0] as u8,
                    nums[1] as u8,
                    nums[2] as u8,
                    nums[3] as u8,
                )),
                port: (((nums[4] & 0xff) << 8) | (nums[5] & 0xff)) as u16,
                ip_range: spans[0].start..spans[3].end,
                port_range: spans[4].start..spans[5].end,
            });
        }
        // Skip this number and look further.
        while at < text.len() && text[at].is_ascii_digit() {
            at += 1;
        }
    }
    None
}

/// RFC 2428 § 2: a delimiter is any printable ASCII character that cannot appear in the
/// fields.
fn is_delimiter(c: u8) -> bool {
    c.is_ascii_graphic() && !b"0123456789abcdefABCDEF.:".contains(&c)
}

/// Reads a 229 reply's `(|||port|)` (RFC 2428 § 3): the port and where it was written.
pub fn parse_epsv(text: &[u8]) -> Option<(u16, Range<usize>)> {
    let open = text.iter().position(|&b| b == b'(')?;
    let d = *text.get(open + 1)?;
    if !is_delimiter(d) || text.get(open + 2) != Some(&d) || text.get(open + 3) != Some(&d) {
        return None;
    }
    let s = open + 4;
    let e = s + text[s..].iter().position(|&b| b == d)?;
    if text.get(e + 1) != Some(&b')') {
        return None;
    }
    let port = std::str::from_utf8(&text[s..e]).ok()?.parse().ok()?;
    Some((port, s..e))
}

/// Reads EPRT's argument `|af|address|port|` (RFC 2428 § 2): family 1 IPv4, 2 IPv6.
pub fn parse_eprt(text: &[u8]) -> Option<(u8, HostPort)> {
    let d = *text.first()?;
    if !is_delimiter(d) || text.iter().filter(|&&b| b == d).count() != 4 {
        return None;
    }
    let mut parts = Vec::with_capacity(3);
    let mut s = 1;
    for (i, &b) in text.iter().enumerate().skip(1) {
        if b == d {
            if i == s {
                return None;
            }
            parts.push(s..i);
            s = i + 1;
        }
    }
    let [af, ip, port] = parts.as_slice() else {
        return None;
    };
    let txt = |r: &Range<usize>| std::str::from_utf8(&text[r.clone()]).ok();
    let af: u8 = txt(af)?.parse().ok()?;
    let addr: IpAddr = match af {
        1 => IpAddr::V4(txt(ip)?.parse().ok()?),
        2 => IpAddr::V6(txt(ip)?.parse().ok()?),
        _ => return None,
    };
    let p = txt(port)?.parse().ok()?;
    Some((
        af,
        HostPort {
            ip: addr,
            port: p,
            ip_range: ip.clone(),
            port_range: port.clone(),
        },
    ))
}

/// What a reply code means, in Wireshark's words (RFC 959 § 4.2.2).
pub fn reply_name(code: u16) -> &'static str {
    match code {
        110 => "Restart marker reply",
        120 => "Service ready in nnn minutes",
        125 => "Data connection already open; transfer starting",
        150 => "File status okay; about to open data connection",
        200 => "Command okay",
        202 => "Command not implemented, superfluous at this site",
        211 => "System status, or system help reply",
        212 => "Directory status",
        213 => "File status",
        214 => "Help message",
        215 => "NAME system type",
        220 => "Service ready for new user",
        221 => "Service closing control connection",
        225 => "Data connection open; no transfer in progress",
        226 => "Closing data connection",
        227 => "Entering Passive Mode",
        229 => "Entering Extended Passive Mode",
        230 => "User logged in, proceed",
        232 => "User logged in, authorized by security data exchange",
        234 => "Security data exchange complete",
        235 => "Security data exchange completed successfully",
        250 => "Requested file action okay, completed",
        257 => "PATHNAME created",
        331 => "User name okay, need password",
        332 => "Need account for login",
        334 => "Requested security mechanism is ok",
        335 => "Security data is acceptable, more is required",
        336 => "Username okay, need password. Challenge is ...",
        350 => "Requested file action pending further information",
        421 => "Service not available, closing control connection",
        425 => "Can't open data connection",
        426 => "Connection closed; transfer aborted",
        431 => "Need some unavailable resource to process security",
        450 => "Requested file action not taken",
        451 => "Requested action aborted: local error in processing",
        452 => "Requested action not taken. Insufficient storage space in system",
        500 => "Syntax error, command unrecognized",
        501 => "Syntax error in parameters or arguments",
        502 => "Command not implemented",
        503 => "Bad sequence of commands",
        504 => "Command not implemented for that parameter",
        521 => "Supported address families are",
        522 => "Protocol not supported",
        530 => "Not logged in",
        532 => "Need account for storing files",
        533 => "Command protection level denied for policy reasons",
        534 => "Request denied for policy reasons",
        535 => "Failed security check",
        536 => "Data protection level not supported by security mechanism",
        537 => "Command protection level not supported by security mechanism",
        550 => "Requested action not taken: File unavailable",
        551 => "Requested action aborted: page type unknown",
        552 => "Requested file action aborted: Exceeded storage allocation",
        553 => "Requested action not taken: File name not allowed",
        631 => "Integrity protected reply",
        632 => "Confidentiality and integrity protected reply",
        633 => "Confidentiality protected reply",
        _ => "Unknown",
    }
}

/// A command to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRepr {
    pub verb: String,
    pub arg: Option<String>,
}

impl CommandRepr {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.verb.clone().into_bytes();
        if let Some(a) = &self.arg {
            v.push(b' ');
            v.extend_from_slice(a.as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        v
    }
}

/// A reply to write: one line, or several (`123-…` then `123 …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRepr {
    pub code: u16,
    pub lines: Vec<String>,
}

impl ReplyRepr {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let text = self.lines.get(i).map_or("", String::as_str);
            v.extend_from_slice(format!("{:03}{sep}{text}\r\n", self.code).as_bytes());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_at_the_first_space() {
        let c = parse_command(b"RETR my file.txt\r\n");
        assert_eq!(c.verb, 0..4);
        assert_eq!(c.arg, Some(5..16));
        let c = parse_command(b"PASV\r\n");
        assert_eq!((c.verb, c.arg), (0..4, None));
        assert_eq!(
            CommandRepr {
                verb: "USER".into(),
                arg: Some("anonymous".into())
            }
            .to_bytes(),
            b"USER anonymous\r\n"
        );
    }

    #[test]
    fn multi_line_replies_end_at_their_code_and_a_space() {
        let r = b"230-Welcome\r\n230-to netlab\r\n230 Login successful.\r\nNEXT";
        assert_eq!(reply_len(r), Some(Ok(r.len() - 4)));
        assert_eq!(reply_len(&r[..20]), None);
        let p = parse_reply(&r[..r.len() - 4]);
        assert_eq!(p.code, Some(230));
        assert_eq!(p.arg, Some(4..11));
        assert_eq!(p.more.len(), 2);
        assert_eq!(reply_len(b"226 Done.\r\n150 x\r\n"), Some(Ok(11)));
        assert_eq!(
            ReplyRepr {
                code: 230,
                lines: vec!["Welcome".into(), "Login successful.".into()]
            }
            .to_bytes(),
            b"230-Welcome\r\n230 Login successful.\r\n"
        );
        // A line with no code.
        assert_eq!(parse_reply(b"hello\r\n").code, None);
        // No LF in MAX_LINE bytes: not a line.
        assert_eq!(reply_len(&[b'2'; MAX_LINE]), Some(Err(())));
    }

    /// captures/ftp.pcap, frames 28 and 44: vsftpd's answers to PASV and EPSV.
    #[test]
    fn vsftpd_passive_replies_from_the_capture() {
        let pasv = b"227 Entering Passive Mode (10,99,0,2,117,55).\r\n";
        let r = parse_reply(pasv);
        assert_eq!(r.code, Some(227));
        let hp = parse_pasv(&pasv[r.arg.clone().unwrap()]).unwrap();
        assert_eq!(
            (hp.ip, hp.port),
            (IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2)), 30007)
        );
        let epsv = b"229 Entering Extended Passive Mode (|||30004|)\r\n";
        let r = parse_reply(epsv);
        assert_eq!(parse_epsv(&epsv[r.arg.unwrap()]).map(|p| p.0), Some(30004));
        assert_eq!(complete_lines(epsv), Some(Ok(epsv.len())));
    }

    /// Made-up passive answers, valid and not.
    #[test]
    fn passive_addresses() {
        let t = b"Entering Passive Mode (10,98,0,2,117,109).";
        let hp = parse_pasv(t).unwrap();
        assert_eq!(hp.ip, IpAddr::V4(Ipv4Addr::new(10, 98, 0, 2)));
        assert_eq!(hp.port, 117 * 256 + 109);
        assert_eq!(&t[hp.ip_range], b"10,98,0,2");
        assert_eq!(&t[hp.port_range], b"117,109");
        assert!(parse_pasv(b"Entering Passive Mode (10,98,0,2,117).").is_none());
        assert!(parse_pasv(b"999,1,1,1,1,1").is_none());
        let t = b"Entering Extended Passive Mode (|||30061|)";
        let (port, r) = parse_epsv(t).unwrap();
        assert_eq!(port, 30061);
        assert_eq!(&t[r], b"30061");
        assert!(parse_epsv(b"(|||x|)").is_none());
        assert!(parse_epsv(b"(|||30061)").is_none());
        let (af, hp) = parse_eprt(b"|2|fd00:99::1|5282|").unwrap();
        assert_eq!((af, hp.port), (2, 5282));
        assert!(parse_eprt(b"|1|10.0.0.1|x|").is_none());
        assert!(parse_eprt(b"|3|10.0.0.1|1|").is_none());
    }
}
