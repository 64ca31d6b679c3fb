//! FTP: the control connection's commands and replies, and the data connections they
//! announce (`ftp-data`), read with `wire::ftp`.
//!
//! A command is one PDU (a line); a reply is one PDU too, all its lines when it has
//! several (`230-…` up to `230 …`, RFC 959 § 4.2). The conversation remembers the
//! working directory (from PWD's 257 and successful CWD/CDUP), and when a PASV, EPSV,
//! PORT or EPRT sets up a data connection it announces it to the framework: that TCP
//! connection is then dissected as `ftp-data`, labelled with how it was set up and with
//! the command whose answer it carries (LIST, RETR…; shared with the control
//! conversation, since the command usually comes after the connection is set up).
//!
//! As in Wireshark, a data connection's payload is shown as lines of text when its
//! first 20 bytes are printable, as data otherwise.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use super::text_lines;
use super::{AppDef, Cx, Dir, Need, Session, Shared, Start};
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::ftp;

pub const APP: AppDef = AppDef {
    name: "ftp",
    aliases: &[],
    proto: Proto::Ftp,
    tcp_ports: &[ftp::PORT],
    udp_ports: &[],
    heuristic: None,
    new: |start| Box::new(Ftp::new(start)),
};

/// A data connection: announced by the control connection, or on port 20 (an active-mode
/// server's source port).
pub const DATA_APP: AppDef = AppDef {
    name: "ftp-data",
    aliases: &[],
    proto: Proto::FtpData,
    tcp_ports: &[ftp::DATA_PORT],
    udp_ports: &[],
    heuristic: None,
    new: |start| Box::new(FtpData::new(start)),
};

/// What the control connection tells a data connection.
#[derive(Debug, Default)]
struct DataInfo {
    setup_frame: u64,
    /// PASV, EPASV, PORT or EPRT.
    method: &'static str,
    /// The command whose answer the connection carries, and its frame.
    command: Option<(String, u64)>,
    /// The working directory when the connection was set up.
    cwd: String,
}

/// Commands whose answer travels on the data connection.
fn answers_on_data(cmd: &str) -> bool {
    ["RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"]
        .iter()
        .any(|c| cmd.starts_with(c))
}

pub(crate) struct Ftp {
    server: SocketAddr,
    client: SocketAddr,
    /// The working directory, as far as the conversation tells.
    cwd: String,
    /// The last command line.
    last: Option<String>,
    /// The data connection set up last.
    data: Option<Arc<Mutex<DataInfo>>>,
    /// The code of a multi-line reply in progress.
    multi: Option<u16>,
}

impl Ftp {
    pub fn new(start: &Start) -> Ftp {
        Ftp {
            server: start.server,
            client: start.client,
            cwd: String::new(),
            last: None,
            data: None,
            multi: None,
        }
    }

    /// Announces a data connection to `addr` and remembers it.
    fn setup(&mut self, cx: &mut Cx, addr: SocketAddr, method: &'static str) {
        let info = Arc::new(Mutex::new(DataInfo {
            setup_frame: cx.frame,
            method,
            command: None,
            cwd: self.cwd.clone(),
        }));
        let shared: Shared = info.clone();
        cx.expect_shared(addr, &DATA_APP, method, Some(shared));
        self.data = Some(info);
    }
}

impl Session for Ftp {
    fn pdu_len(&mut self, _dir: Dir, buf: &[u8]) -> Need {
        // Every complete line that has arrived: a segment is one message, as Wireshark
        // reads FTP (a reply of several lines sent line by line is several messages;
        // its continuation lines are marked as such), but a line cut by a segment
        // boundary waits for its end.
        match ftp::complete_lines(buf) {
            Some(Ok(n)) => Need::Pdu(n),
            Some(Err(())) => Need::NotMine,
            None => Need::More(None),
        }
    }

    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        cx.begin(Proto::Ftp, 0);
        cx.column("FTP");
        let request = cx.dir == Dir::ToServer;
        if cx.record {
            cx.push_generated(0, &ftp::REQUEST, Value::Bool(request));
            cx.last().hidden = true;
            cx.push_generated(0, &ftp::RESPONSE, Value::Bool(!request));
            cx.last().hidden = true;
        }
        // The first line is the message; Wireshark shows the others as text.
        let eol = pdu
            .iter()
            .position(|&b| b == b'\n')
            .map_or(pdu.len(), |i| i + 1);
        let first_line = if request {
            self.command(cx, &pdu[..eol])
        } else {
            self.reply(cx, &pdu[..eol])
        };
        let mut at = eol;
        while at < pdu.len() {
            let n = pdu[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(pdu.len() - at, |i| i + 1);
            let line = &pdu[at..at + n];
            if !request {
                self.track_multiline(line);
            }
            if cx.record {
                let text = line.strip_suffix(b"\n").unwrap_or(line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                cx.push_text(0, &ftp::LINE, pdu, at..at + text.len());
            }
            at += n;
        }
        if cx.record {
            cx.push_generated(0, &CWD, Value::Text(self.cwd.clone().into()));
        }
        if cx.cut {
            cx.incomplete("the line is cut: the connection ended before its end");
        }
        headline!(cx, "{first_line}");
        let first = cx.first;
        let info = cx.info();
        if !first {
            info.push_str(", ");
        }
        info.push_str(if request { "Request: " } else { "Response: " });
        info.push_str(&first_line);
        cx.end(pdu.len());
    }
}

impl Ftp {
    fn command(&mut self, cx: &mut Cx, pdu: &[u8]) -> String {
        let c = ftp::parse_command(pdu);
        let line = String::from_utf8_lossy(&pdu[c.line.clone()]).into_owned();
        let verb = String::from_utf8_lossy(&pdu[c.verb.clone()]).to_ascii_uppercase();
        if cx.record && !c.verb.is_empty() {
            cx.push_text(0, &ftp::REQUEST_COMMAND, pdu, c.verb.clone());
            note!(cx, "({})", command_meaning(&verb));
            if let Some(a) = &c.arg {
                cx.push_text(0, &ftp::REQUEST_ARG, pdu, a.clone());
                if verb == "PASS" {
                    note!(cx, "(a password, in the clear: FTP does not encrypt)");
                }
            }
        }
        // The data connection learns which command it answers: the first command after
        // its setup, replaced by one whose answer travels on it (Wireshark 4.2's rule).
        if let Some(d) = &self.data
            && let Ok(mut d) = d.lock()
        {
            let replace = match &d.command {
                None => true,
                Some((old, _)) => !answers_on_data(old) && answers_on_data(&line),
            };
            if replace {
                d.command = Some((line.clone(), cx.frame));
            }
        }
        self.last = Some(line.clone());
        // Active mode: the client names where it listens.
        if let Some(a) = c.arg.clone() {
            let text = &pdu[a.clone()];
            match verb.as_str() {
                "PORT" => {
                    if let Some(hp) = ftp::parse_pasv(text) {
                        if cx.record
                            && let IpAddr::V4(ip) = hp.ip
                        {
                            let r = shift(&hp.ip_range, a.start);
                            cx.push(0, &ftp::ACTIVE_IP, r, Value::Ipv4(ip.octets()));
                            let r = shift(&hp.port_range, a.start);
                            cx.push(0, &ftp::ACTIVE_PORT, r, Value::Uint(hp.port.into()));
                            if hp.ip != self.client.ip() {
                                cx.push_generated(0, &ftp::ACTIVE_NAT, Value::Bool(true));
                            }
                        }
                        self.setup(cx, SocketAddr::new(hp.ip, hp.port), "PORT");
                    } else {
                        cx.malformed("PORT's argument is not h1,h2,h3,h4,p1,p2");
                    }
                }
                "EPRT" => match ftp::parse_eprt(text) {
                    Some((af, hp)) => {
                        if cx.record {
                            cx.push(
                                0,
                                &ftp::EPRT_AF,
                                a.start + 1..a.start + 2,
                                Value::Uint(af.into()),
                            );
                            let r = shift(&hp.ip_range, a.start);
                            match hp.ip {
                                IpAddr::V4(ip) => {
                                    cx.push(0, &ftp::EPRT_IP, r, Value::Ipv4(ip.octets()))
                                }
                                IpAddr::V6(ip) => {
                                    cx.push(0, &ftp::EPRT_IPV6, r, Value::Ipv6(ip.octets()))
                                }
                            }
                            let r = shift(&hp.port_range, a.start);
                            cx.push(0, &ftp::EPRT_PORT, r, Value::Uint(hp.port.into()));
                        }
                        self.setup(cx, SocketAddr::new(hp.ip, hp.port), "EPRT");
                    }
                    None => cx.malformed(
                        "EPRT arguments must have the form |<family>|<address>|<port>| (RFC 2428 § 2)",
                    ),
                },
                _ => {}
            }
        }
        line
    }

    /// Follows a multi-line reply (RFC 959 § 4.2): `123-` opens it, `123 ` closes it.
    fn track_multiline(&mut self, line: &[u8]) {
        let code = line
            .get(..3)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|d| d.iter().fold(0u16, |n, c| n * 10 + u16::from(c - b'0')));
        match (code, line.get(3)) {
            (Some(c), Some(b'-')) if self.multi.is_none() => self.multi = Some(c),
            (Some(c), _) if self.multi == Some(c) && line.get(3) != Some(&b'-') => {
                self.multi = None
            }
            _ => {}
        }
    }

    fn reply(&mut self, cx: &mut Cx, pdu: &[u8]) -> String {
        let r = ftp::parse_reply(pdu);
        let line = String::from_utf8_lossy(&pdu[r.line.clone()]).into_owned();
        let inside = self.multi;
        self.track_multiline(pdu);
        if r.code.is_none() {
            // A line in the middle of a multi-line reply: Wireshark takes it whole as
            // the reply's text.
            if cx.record && !r.line.is_empty() {
                cx.push_text(0, &ftp::RESPONSE_ARG, pdu, r.line.clone());
                if let Some(c) = inside {
                    note!(cx, "(a line of the multi-line {c} reply)");
                }
            }
            return line;
        }
        if let Some(code) = r.code {
            if cx.record {
                cx.push(0, &ftp::RESPONSE_CODE, 0..3, Value::Uint(code.into()));
                note!(cx, "({})", ftp::reply_name(code));
                if let Some(a) = &r.arg {
                    cx.push_text(0, &ftp::RESPONSE_ARG, pdu, a.clone());
                }
            }
            let last = self.last.clone().unwrap_or_default();
            let last_verb = last.split(' ').next().unwrap_or("").to_ascii_uppercase();
            match code {
                250 if last_verb == "CWD" => {
                    let path = last.get(4..).unwrap_or("");
                    self.cwd = change_dir(&self.cwd, path);
                }
                250 if last_verb == "CDUP" => self.cwd = change_dir(&self.cwd, ".."),
                257 => {
                    if let Some(p) = r.arg.as_ref().and_then(|a| quoted_path(&pdu[a.clone()])) {
                        self.cwd = p;
                    }
                }
                227 => {
                    let a = r.arg.clone().unwrap_or(0..0);
                    match ftp::parse_pasv(&pdu[a.clone()]) {
                        Some(hp) => {
                            if cx.record
                                && let IpAddr::V4(ip) = hp.ip
                            {
                                let ir = shift(&hp.ip_range, a.start);
                                cx.push(0, &ftp::PASSIVE_IP, ir, Value::Ipv4(ip.octets()));
                                note!(cx, "(the data connection will go to this address)");
                                let pr = shift(&hp.port_range, a.start);
                                cx.push(0, &ftp::PASSIVE_PORT, pr, Value::Uint(hp.port.into()));
                                note!(cx, "(the two numbers p1,p2 mean p1 × 256 + p2)");
                                if hp.ip != self.server.ip() {
                                    cx.push_generated(0, &ftp::PASSIVE_NAT, Value::Bool(true));
                                }
                            }
                            self.setup(cx, SocketAddr::new(hp.ip, hp.port), "PASV");
                        }
                        None => cx.malformed(
                            "227's text holds no address h1,h2,h3,h4,p1,p2 (RFC 959 § 4.1.2)",
                        ),
                    }
                }
                229 => {
                    let a = r.arg.clone().unwrap_or(0..0);
                    match ftp::parse_epsv(&pdu[a.clone()]) {
                        Some((port, pr)) => {
                            let ip = self.server.ip();
                            if cx.record {
                                match ip {
                                    IpAddr::V4(v4) => cx.push_generated(
                                        0,
                                        &ftp::EPSV_IP,
                                        Value::Ipv4(v4.octets()),
                                    ),
                                    IpAddr::V6(v6) => cx.push_generated(
                                        0,
                                        &ftp::EPSV_IPV6,
                                        Value::Ipv6(v6.octets()),
                                    ),
                                }
                                note!(
                                    cx,
                                    "(the control connection's address: EPSV names only a port)"
                                );
                                cx.push(
                                    0,
                                    &ftp::EPSV_PORT,
                                    shift(&pr, a.start),
                                    Value::Uint(port.into()),
                                );
                            }
                            self.setup(cx, SocketAddr::new(ip, port), "EPASV");
                        }
                        None => cx.malformed(
                            "EPSV's answer must have the form (|||<port>|) (RFC 2428 § 3)",
                        ),
                    }
                }
                _ => {}
            }
        }
        line
    }
}

fn shift(r: &std::ops::Range<usize>, by: usize) -> std::ops::Range<usize> {
    r.start + by..r.end + by
}

/// The path in a 257 reply's text: between the first two quotes, `""` standing for one
/// quote (RFC 959 Appendix II).
fn quoted_path(text: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    let mut chars = text.strip_prefix('"')?.chars().peekable();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// The working directory after a successful `CWD path` (or CDUP: `..`), normalised.
fn change_dir(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    if cwd.is_empty() {
        return path.to_string();
    }
    let absolute = cwd.starts_with('/');
    let mut parts: Vec<&str> = cwd.split('/').filter(|p| !p.is_empty()).collect();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// What a command asks for, for the tree (RFC 959 § 4.1, RFC 2428, RFC 3659).
fn command_meaning(verb: &str) -> &'static str {
    match verb {
        "USER" => "log in as this user",
        "PASS" => "the user's password",
        "ACCT" => "an account",
        "CWD" => "change the working directory",
        "CDUP" => "go up one directory",
        "QUIT" => "log out and close the connection",
        "PORT" => "active mode: connect to me at this address for the data",
        "PASV" => "passive mode: listen on a port and tell me where",
        "EPRT" => "extended active mode (IPv6 too)",
        "EPSV" => "extended passive mode: tell me a port to connect to",
        "TYPE" => "A for text, I for binary (image)",
        "MODE" | "STRU" => "transfer mode or structure",
        "RETR" => "send me this file on the data connection",
        "STOR" => "store the file I send on the data connection",
        "APPE" => "append to a file",
        "DELE" => "delete a file",
        "RNFR" | "RNTO" => "rename a file",
        "MKD" => "make a directory",
        "RMD" => "remove a directory",
        "PWD" => "where am I? (the working directory)",
        "LIST" => "list a directory on the data connection",
        "NLST" => "list names on the data connection",
        "MLSD" => "list a directory, machine-readable",
        "SIZE" => "a file's size",
        "MDTM" => "a file's modification time",
        "SYST" => "which system the server runs",
        "FEAT" => "which extensions the server supports",
        "NOOP" => "do nothing (keep the connection alive)",
        "AUTH" => "switch to TLS",
        "OPTS" => "set an option",
        "REST" => "restart a transfer at this offset",
        "ABOR" => "abort the transfer",
        _ => "a command",
    }
}

/// A data connection's session.
pub(crate) struct FtpData {
    info: Option<Arc<Mutex<DataInfo>>>,
}

impl FtpData {
    pub fn new(start: &Start) -> FtpData {
        let info = start
            .shared
            .clone()
            .and_then(|s| s.downcast::<Mutex<DataInfo>>().ok());
        FtpData { info }
    }
}

impl Session for FtpData {
    fn pdu_len(&mut self, _dir: Dir, buf: &[u8]) -> Need {
        // No message boundaries: what arrives is shown as it comes.
        Need::Pdu(buf.len())
    }

    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        cx.begin(Proto::FtpData, 0);
        cx.column("FTP-DATA");
        let mut info = format!("FTP Data: {} bytes", pdu.len());
        if let Some(i) = &self.info
            && let Ok(d) = i.lock()
        {
            if cx.record {
                cx.push_generated(0, &DATA_SETUP_FRAME, Value::Uint(d.setup_frame));
                cx.push_generated(0, &DATA_SETUP_METHOD, Value::Text(d.method.into()));
            }
            info.push_str(&format!(" ({})", d.method));
            if let Some((cmd, frame)) = &d.command {
                if cx.record {
                    cx.push_generated(0, &DATA_COMMAND, Value::Text(cmd.clone().into()));
                    cx.push_generated(0, &DATA_COMMAND_FRAME, Value::Uint(*frame));
                }
                info.push_str(&format!(" ({cmd})"));
            }
            if cx.record {
                cx.push_generated(0, &DATA_CWD, Value::Text(d.cwd.clone().into()));
            }
        }
        headline!(cx, "{} bytes", pdu.len());
        cx.end(0);
        // Text when the first 20 bytes are printable (or CR, LF), as Wireshark decides.
        let text = pdu
            .iter()
            .take(20)
            .all(|&c| c == b'\r' || c == b'\n' || (0x20..0x7f).contains(&c));
        if text && !pdu.is_empty() {
            text_lines(cx, pdu);
        } else if !pdu.is_empty() {
            cx.begin(Proto::Data, 0);
            if cx.record {
                let all = 0..pdu.len();
                cx.push(
                    0,
                    &crate::dissect::transport::DATA,
                    all.clone(),
                    Value::Bytes(all),
                );
                cx.push_generated(
                    0,
                    &crate::dissect::transport::DATA_LEN,
                    Value::Uint(pdu.len() as u64),
                );
            }
            cx.end(pdu.len());
        }
        let first = cx.first;
        let col = cx.info();
        if !first {
            col.push_str(", ");
        }
        col.push_str(&info);
    }
}

crate::wire::fields! {
    CWD: Text(
        "Current working directory",
        "ftp.current-working-directory",
        "the directory commands refer to, as far as the conversation has told (PWD's answer, successful CWDs)",
    );
    DATA_SETUP_FRAME: Num(
        "Setup frame",
        "ftp-data.setup-frame",
        "the frame of the control connection that set up this data connection (PASV, EPSV, PORT, EPRT)",
    );
    DATA_SETUP_METHOD: Text(
        "Setup method",
        "ftp-data.setup-method",
        "how it was set up: PASV/EPASV (the client connects to the server) or PORT/EPRT (the server connects to the client)",
    );
    DATA_COMMAND: Text(
        "Command",
        "ftp-data.command",
        "the command whose answer this connection carries",
    );
    DATA_COMMAND_FRAME: Num(
        "Command frame",
        "ftp-data.command-frame",
        "the frame of that command",
    );
    DATA_CWD: Text(
        "Current working directory",
        "ftp-data.current-working-directory",
        "the working directory when the connection was set up",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::app::tests::Conn;

    #[test]
    fn directories_change_as_ftp_says() {
        assert_eq!(change_dir("/", "pub"), "/pub");
        assert_eq!(change_dir("/pub", ".."), "/");
        assert_eq!(change_dir("/a/b", "../c/./d"), "/a/c/d");
        assert_eq!(change_dir("", "pub"), "pub");
        assert_eq!(change_dir("/pub", "/etc"), "/etc");
        assert_eq!(
            quoted_path(br#""/" is the current directory"#),
            Some("/".into())
        );
        assert_eq!(quoted_path(br#""/a""b" x"#), Some("/a\"b".into()));
        assert_eq!(quoted_path(b"no quotes"), None);
    }

    #[test]
    fn a_session_with_pasv_labels_its_data_connection() {
        let mut c = Conn::new(21);
        c.handshake();
        let p = c.send(false, b"220 Welcome to the netlab FTP server.\r\n");
        assert_eq!(p.info, "Response: 220 Welcome to the netlab FTP server.");
        assert_eq!(
            p.field("ftp.response.code").unwrap().value,
            Value::Uint(220)
        );
        c.send(true, b"PWD\r\n");
        c.send(false, b"257 \"/\" is the current directory\r\n");
        c.send(true, b"CWD pub\r\n");
        let p = c.send(false, b"250 Directory successfully changed.\r\n");
        assert_eq!(
            p.field("ftp.current-working-directory").unwrap().value,
            Value::Text("/pub".into())
        );
        c.send(true, b"PASV\r\n");
        // A multi-line reply over two segments, then the PASV answer.
        let p = c.send(false, b"227 Entering Passive Mode (10,0,0,2,117,109).\r\n");
        assert_eq!(
            p.field("ftp.passive.ip").unwrap().value,
            Value::Ipv4([10, 0, 0, 2])
        );
        assert_eq!(
            p.field("ftp.passive.port").unwrap().value,
            Value::Uint(117 * 256 + 109)
        );
        let p = c.send(true, b"LIST\r\n");
        assert_eq!(
            p.field("ftp.request.command").unwrap().value,
            Value::Text("LIST".into())
        );
        // A multi-line reply sent line by line: one message per segment, as tshark.
        let p = c.send(false, b"150-Here comes\r\n");
        assert_eq!(p.info, "Response: 150-Here comes");
        let p = c.send(false, b" the\r\n");
        assert_eq!(
            p.field("ftp.response.arg").unwrap().value,
            Value::Text(" the".into())
        );
        assert!(p.field("ftp.response.code").is_none());
        let p = c.send(false, b"150 directory listing.\r\n");
        assert_eq!(p.fields_named("ftp.response.code").count(), 1);
        // A line cut by a segment boundary waits for its end.
        let p = c.send(true, b"NO");
        assert!(!p.has(Proto::Ftp));
        let p = c.send(true, b"OP\r\n");
        assert_eq!(p.info, "Request: NOOP");
        // The data connection: 10.0.0.1:50000 -> 10.0.0.2:30061.
        let mut d = Conn::with(std::mem::take(&mut c.d), 30061);
        d.handshake();
        let p = d.send(false, b"-rw-r--r-- 1 0 0 15 Dec 05 hello.txt\r\n");
        assert_eq!(p.protocol, "FTP-DATA");
        assert_eq!(p.info, "FTP Data: 38 bytes (PASV) (LIST)");
        assert_eq!(p.protocols(), "raw:ip:tcp:ftp-data:data-text-lines");
        assert_eq!(
            p.field("ftp-data.current-working-directory").unwrap().value,
            Value::Text("/pub".into())
        );
    }
}
