//! HTTP/1.x on reassembled TCP streams (RFC 9112), with the codec `netlab ws serve` and
//! `socketio` use (`wire::http`).
//!
//! A message is one PDU: its head, then its body as the head frames it (RFC 9112 § 6.3):
//! none (a response to HEAD, 1xx, 204, 304), `Content-Length` bytes, `chunked` (the chunks
//! are measured as they arrive and the body is shown de-chunked, as its own source), or —
//! a response with neither — everything until the server closes. Several messages per
//! connection are read one after the other; each response is linked to its request
//! (`http.request_in`, `http.time`, `http.response_for.uri`) by order, as HTTP/1.1 answers
//! requests in the order they came (§ 9.3.2). `http.response_in`, the link forward, needs
//! a second pass over the capture, as with `tshark -2`: `netlab dissect -2` (see
//! `dissect::Links`).
//!
//! Bodies go to the dissector their media type names, as in Wireshark: text to "Line-based
//! text data", JSON to `json`, other types to `media`, and no type at all to `data`; an
//! Engine.IO long-polling body (a request to `/socket.io/`) is read as Engine.IO packets.
//!
//! After `101 Switching Protocols` answers an `Upgrade: websocket` request, both
//! directions carry WebSocket frames (`websocket.rs`).
//!
//! Malformed messages — a head the codec refuses, a `Content-Length` that is not a number
//! or disagrees with itself, a chunk size that is not hex — are marked `[malformed: …]`;
//! a length that lies is found out when the connection ends first (`cx.cut`).

use std::collections::VecDeque;
use std::fmt::Write;

use super::websocket::Ws;
use super::{AppDef, Cx, Dir, Need, Session, Start, Transport, engineio, text_lines};
use crate::dissect::model::{Proto, Value};
use crate::dissect::{headline, note};
use crate::wire::http::{self, HttpError, Request, Response};

/// Wireshark's default `http.tcp.port` range.
pub const APP: AppDef = AppDef {
    name: "http",
    aliases: &[],
    proto: Proto::Http,
    tcp_ports: &[80, 3128, 3132, 5985, 8080, 8088, 11371, 1900, 2869, 2710],
    udp_ports: &[],
    heuristic: Some(heuristic),
    new: |start| Box::new(Http::new(start)),
};

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

fn is_request(b: &[u8]) -> bool {
    METHODS.iter().any(|m| b.starts_with(m))
}

fn is_response(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/1.")
}

/// A request line (sent to the server) or a status line (to the client).
fn heuristic(t: Transport, b: &[u8]) -> Option<Dir> {
    if t != Transport::Tcp {
        return None;
    }
    if is_request(b) {
        Some(Dir::ToServer)
    } else if is_response(b) {
        Some(Dir::ToClient)
    } else {
        None
    }
}

/// Requests remembered while they await their responses.
const MAX_WAITING: usize = 64;
/// A chunk-size line longer than this is not one.
const MAX_CHUNK_LINE: usize = 1024;

/// A request awaiting its response.
#[derive(Debug, Clone)]
struct Waiting {
    frame: u64,
    rel_nsec: i64,
    head: bool,
    upgrade: bool,
    socketio: bool,
    /// An Engine.IO long-polling GET: its response's body holds packets.
    polls: bool,
    uri: String,
}

/// How a message's body is framed (RFC 9112 § 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Length(u64),
    /// Chunked: the offset of the next chunk-size line to read.
    Chunked(usize),
    UntilClose,
}

/// A parsed head.
#[derive(Debug)]
enum Head {
    Request(Request),
    Response(Response),
}

/// The message being measured in one direction.
#[derive(Debug)]
struct Measured {
    head: Result<Head, HttpError>,
    head_len: usize,
    body: Body,
    /// What is wrong with the framing (a bad Content-Length, a bad chunk size).
    problem: Option<String>,
    /// Set once the chunked body's end is found.
    total: Option<usize>,
}

pub(crate) struct Http {
    host: String,
    waiting: VecDeque<Waiting>,
    measured: [Option<Measured>; 2],
    /// An `Upgrade: websocket` request awaits its answer.
    asked_upgrade: bool,
    /// After the upgrade: WebSocket frames both ways.
    ws: Option<Ws>,
    /// Engine.IO's state for the long-polling bodies of this connection.
    eio: engineio::Eio,
}

impl Http {
    pub fn new(start: &Start) -> Http {
        Http {
            host: start.server.to_string(),
            waiting: VecDeque::new(),
            measured: [None, None],
            asked_upgrade: false,
            ws: None,
            eio: engineio::Eio::default(),
        }
    }

    /// A session already upgraded (`--decode-as …,websocket`).
    pub fn websocket(start: &Start) -> Http {
        let mut h = Http::new(start);
        h.ws = Some(Ws::new(false));
        h
    }

    fn measure(&mut self, buf: &[u8]) -> Option<Measured> {
        let resp = buf.starts_with(b"HTTP/");
        let parsed = if resp {
            http::parse_response(buf).map(|o| o.map(|(r, n)| (Head::Response(r), n)))
        } else {
            http::parse_request(buf).map(|o| o.map(|(r, n)| (Head::Request(r), n)))
        };
        match parsed {
            Ok(None) => None,
            Ok(Some((head, head_len))) => {
                let mut problem = None;
                let headers = match &head {
                    Head::Request(r) => &r.headers,
                    Head::Response(r) => &r.headers,
                };
                let chunked = headers
                    .list(http::name::TRANSFER_ENCODING)
                    .last()
                    .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
                let length = match headers.content_length() {
                    Ok(n) => n,
                    Err(e) => {
                        problem = Some(e.to_string());
                        None
                    }
                };
                let body = match &head {
                    Head::Request(_) if chunked => Body::Chunked(head_len),
                    Head::Request(_) => Body::Length(length.unwrap_or(0)),
                    Head::Response(r) => {
                        let to_head = self.waiting.front().is_some_and(|w| w.head);
                        if r.status < 200 || r.status == 204 || r.status == 304 || to_head {
                            Body::None
                        } else if chunked {
                            Body::Chunked(head_len)
                        } else if let Some(n) = length {
                            Body::Length(n)
                        } else {
                            Body::UntilClose
                        }
                    }
                };
                Some(Measured {
                    head: Ok(head),
                    head_len,
                    body,
                    problem,
                    total: None,
                })
            }
            Err(e) => {
                // A malformed head: still one message, up to its empty line (or all of
                // what is there), dissected and marked.
                let end = find(buf, b"\r\n\r\n").map(|i| i + 4);
                let head_len = match (&e, end) {
                    (_, Some(end)) => end,
                    (HttpError::TooLarge { .. }, None) => buf.len(),
                    (_, None) if buf.len() >= http::MAX_HEAD_LEN => buf.len(),
                    (_, None) => return None,
                };
                Some(Measured {
                    head: Err(e),
                    head_len,
                    body: Body::None,
                    problem: None,
                    total: None,
                })
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads chunk-size lines from `m`'s next one on; returns the message's length when the
/// last chunk and the trailer are in `buf`.
fn scan_chunks(m: &mut Measured, buf: &[u8]) -> Need {
    let Body::Chunked(mut at) = m.body else {
        return Need::More(None);
    };
    loop {
        if at >= buf.len() {
            m.body = Body::Chunked(at);
            return Need::More(Some(at + 3));
        }
        let window = &buf[at..buf.len().min(at + MAX_CHUNK_LINE)];
        let Some(lf) = window.iter().position(|&b| b == b'\n') else {
            if window.len() >= MAX_CHUNK_LINE {
                m.problem = Some(format!(
                    "no end to the chunk-size line at body offset {}",
                    at - m.head_len
                ));
                m.total = Some(buf.len());
                return Need::Pdu(buf.len());
            }
            m.body = Body::Chunked(at);
            return Need::More(None);
        };
        let line = &window[..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // chunk-size [ chunk-ext ]: the extension after `;` is ignored (RFC 9112 § 7.1.1).
        let digits = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let digits = trim_ascii(digits);
        let size =
            (!digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_hexdigit))
                .then(|| u64::from_str_radix(std::str::from_utf8(digits).unwrap_or("x"), 16).ok())
                .flatten();
        let Some(size) = size else {
            m.problem = Some(format!(
                "chunk size {:?} is not a hexadecimal number",
                String::from_utf8_lossy(line)
            ));
            let end = at + lf + 1;
            m.total = Some(end);
            return Need::Pdu(end);
        };
        let data = at + lf + 1;
        if size == 0 {
            // The trailer section: header lines, then an empty line.
            let rest = &buf[data..];
            if rest.starts_with(b"\r\n") {
                m.total = Some(data + 2);
                return Need::Pdu(data + 2);
            }
            if rest.starts_with(b"\n") {
                m.total = Some(data + 1);
                return Need::Pdu(data + 1);
            }
            m.body = Body::Chunked(at);
            return match find(rest, b"\r\n\r\n") {
                Some(i) => {
                    m.total = Some(data + i + 4);
                    Need::Pdu(data + i + 4)
                }
                None if rest.len() > http::MAX_HEAD_LEN => {
                    m.problem = Some("the trailer section never ends".into());
                    m.total = Some(buf.len());
                    Need::Pdu(buf.len())
                }
                None => Need::More(None),
            };
        }
        // The chunk's data, then CRLF.
        at = (data as u64)
            .saturating_add(size)
            .saturating_add(2)
            .try_into()
            .unwrap_or(usize::MAX);
        if at == usize::MAX {
            m.problem = Some(format!("chunk size {size} is beyond any buffer"));
            return Need::Pdu(usize::MAX);
        }
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e.max(s)]
}

impl Session for Http {
    fn pdu_len(&mut self, dir: Dir, buf: &[u8]) -> Need {
        if let Some(ws) = &mut self.ws {
            return ws.pdu_len(dir, buf);
        }
        let i = dir.index();
        if self.measured[i].is_none() {
            if !is_request(buf) && !is_response(buf) {
                // A message starts with a method or "HTTP/": wait for enough bytes to
                // tell, then refuse.
                let sure = buf.len() >= 8 || buf.contains(&b' ');
                return if sure {
                    Need::NotMine
                } else {
                    Need::More(Some(8))
                };
            }
            match self.measure(buf) {
                Some(m) => self.measured[i] = Some(m),
                None => return Need::More(None),
            }
        }
        let m = self.measured[i].as_mut().expect("set above");
        match m.body {
            Body::None => Need::Pdu(m.head_len),
            Body::Length(n) => Need::Pdu(
                (m.head_len as u64)
                    .saturating_add(n)
                    .try_into()
                    .unwrap_or(usize::MAX),
            ),
            Body::UntilClose => Need::UntilClose,
            Body::Chunked(_) => match m.total {
                Some(t) => Need::Pdu(t),
                None => scan_chunks(m, buf),
            },
        }
    }

    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
        if let Some(ws) = &mut self.ws {
            ws.dissect(cx, pdu);
            return;
        }
        let i = cx.dir.index();
        let m = match self.measured[i].take() {
            Some(m) => m,
            // A PDU cut before its head was measured (e.g. the stream overflowed).
            None => match self.measure(pdu) {
                Some(m) => m,
                None => {
                    cx.begin(Proto::Http, 0);
                    cx.truncated("the HTTP head is incomplete");
                    cx.column("HTTP");
                    cx.info().push_str("Continuation");
                    cx.end(pdu.len());
                    return;
                }
            },
        };
        self.message(cx, pdu, m);
    }

    fn lost(&mut self, dir: Dir) {
        self.measured[dir.index()] = None;
        if let Some(ws) = &mut self.ws {
            ws.lost(dir);
        }
    }
}

impl Http {
    fn message(&mut self, cx: &mut Cx, pdu: &[u8], m: Measured) {
        cx.begin(Proto::Http, 0);
        cx.column("HTTP");
        let head_len = m.head_len.min(pdu.len());
        let head = match m.head {
            Ok(h) => h,
            Err(e) => {
                // Show the start line as the codec could not, and mark the rest.
                let line_end = pdu.iter().position(|&b| b == b'\n').unwrap_or(pdu.len());
                let line = String::from_utf8_lossy(&pdu[..line_end])
                    .trim_end()
                    .to_string();
                headline!(cx, "{line}");
                cx.malformed(e.to_string());
                let info = cx.info();
                info.push_str(&line);
                info.push(' ');
                cx.end(head_len);
                return;
            }
        };
        let (headers, line) = match &head {
            Head::Request(r) => {
                let span = r.span.as_ref();
                let line = span.map(|s| s.line.clone()).unwrap_or(0..0);
                if cx.record
                    && let Some(s) = span
                {
                    cx.push(
                        0,
                        &http::REQUEST_METHOD,
                        s.method.clone(),
                        Value::Text(r.method.clone().into()),
                    );
                    cx.push(
                        0,
                        &http::REQUEST_URI,
                        s.target.clone(),
                        Value::Text(r.target.clone().into()),
                    );
                    cx.push_text(0, &http::REQUEST_VERSION, pdu, s.version.clone());
                }
                (&r.headers, line)
            }
            Head::Response(r) => {
                let span = r.span.as_ref();
                let line = span.map(|s| s.line.clone()).unwrap_or(0..0);
                if cx.record
                    && let Some(s) = span
                {
                    cx.push_text(0, &http::RESPONSE_VERSION, pdu, s.version.clone());
                    cx.push(
                        0,
                        &http::RESPONSE_CODE,
                        s.status.clone(),
                        Value::Uint(r.status as u64),
                    );
                    note!(cx, "({})", http::reason_phrase(r.status));
                    cx.push(
                        0,
                        &http::RESPONSE_PHRASE,
                        s.reason.clone(),
                        Value::Text(r.reason.clone().into()),
                    );
                }
                (&r.headers, line)
            }
        };
        let request = matches!(head, Head::Request(_));
        if cx.record {
            for h in headers.iter() {
                let Some(span) = &h.span else { continue };
                // Every header line is `http.request.line` / `http.response.line` (with its
                // CRLF, as Wireshark), hidden; the known ones also have a field of their own.
                let whole = span.line.start..(span.line.end + 2).min(head_len);
                let generic = if request {
                    &http::REQUEST_LINE
                } else {
                    &http::RESPONSE_LINE
                };
                let def = http::header_def(&h.name, request);
                if def.key == generic.key {
                    cx.push_text(0, generic, pdu, whole);
                } else {
                    cx.push_text(0, generic, pdu, whole);
                    cx.last().hidden = true;
                    // Wireshark keeps what follows the value up to the line's end
                    // (trailing spaces included).
                    let value = span.value.start..span.line.end.max(span.value.start);
                    cx.push_text(0, def, pdu, value);
                }
            }
        }
        let media = headers.get(http::name::CONTENT_TYPE).map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let line_text = String::from_utf8_lossy(&pdu[line.clone()]).into_owned();
        headline!(cx, "{line_text}");
        // Links and the upgrade.
        // Engine.IO: a WebSocket upgraded from a /socket.io/ request; long-polling bodies
        // in POST requests (client to server) and in the responses to GET (the other way;
        // a POST is answered with a plain `ok`).
        let mut eio_body = false;
        match &head {
            Head::Request(r) => {
                let upgrade = r.headers.has_token(http::name::UPGRADE, "websocket");
                let socketio = r.target.starts_with("/socket.io/") || r.target.contains("EIO=");
                eio_body = socketio && r.method == "POST";
                if upgrade {
                    self.asked_upgrade = true;
                }
                let host = r.headers.get(http::name::HOST).unwrap_or(&self.host);
                let full = if r.target.starts_with('/') {
                    format!("http://{host}{}", r.target)
                } else {
                    r.target.clone()
                };
                if cx.record {
                    cx.push_generated(0, &FULL_URI, Value::Text(full.clone().into()));
                    if let Some(frame) = cx.response_in() {
                        cx.push_generated(0, &RESPONSE_IN, Value::Uint(frame));
                    }
                }
                if self.waiting.len() >= MAX_WAITING {
                    self.waiting.pop_front();
                }
                self.waiting.push_back(Waiting {
                    frame: cx.frame,
                    rel_nsec: cx.rel_nsec(),
                    head: r.method == "HEAD",
                    upgrade,
                    socketio,
                    polls: socketio && r.method == "GET",
                    uri: full,
                });
            }
            Head::Response(r) => {
                // 1xx responses (other than 101) come before the final one.
                let interim = r.status < 200 && r.status != 101;
                let req = if interim {
                    self.waiting.front().cloned()
                } else {
                    self.waiting.pop_front()
                };
                if let Some(w) = &req {
                    eio_body = w.polls;
                    cx.answers(w.frame);
                    if cx.record {
                        cx.push_generated(0, &REQUEST_IN, Value::Uint(w.frame));
                        let dt = cx.rel_nsec().saturating_sub(w.rel_nsec);
                        cx.push_generated(0, &TIME, Value::Time(dt));
                        cx.push_generated(0, &RESPONSE_FOR_URI, Value::Text(w.uri.clone().into()));
                    }
                    if r.status == 101 && w.upgrade {
                        self.ws = Some(Ws::new(w.socketio));
                        note!(cx, "(from here on the connection carries WebSocket frames)");
                    }
                }
            }
        }
        if let Some(p) = &m.problem {
            cx.malformed(p.clone());
        }
        // The body.
        let body_range = head_len..pdu.len();
        let mut info_media = None;
        if !body_range.is_empty() {
            match m.body {
                Body::Chunked(_) => {
                    let body = dechunk(cx, pdu, head_len);
                    cx.end(pdu.len());
                    cx.source("De-chunked entity body", &body, |sub| {
                        if sub.record {
                            sub.push(0, &FILE_DATA, 0..body.len(), Value::Bytes(0..body.len()));
                        }
                        info_media =
                            media_body(sub, &body, media.as_deref(), eio_body, &mut self.eio);
                    });
                }
                _ => {
                    if cx.record {
                        if let Body::Length(n) = m.body {
                            cx.push_generated(0, &CONTENT_LENGTH, Value::Uint(n));
                        }
                        cx.push(
                            0,
                            &FILE_DATA,
                            body_range.clone(),
                            Value::Bytes(body_range.clone()),
                        );
                    }
                    cx.end(head_len);
                    let body = &pdu[body_range.clone()];
                    cx.rebase(head_len, |sub| {
                        info_media =
                            media_body(sub, body, media.as_deref(), eio_body, &mut self.eio);
                    });
                }
            }
        } else {
            cx.end(head_len);
        }
        if cx.closed {
            let got = pdu.len().saturating_sub(head_len);
            cx.malformed(match m.body {
                Body::Length(n) => format!(
                    "Content-Length announced {n} bytes of body; the connection closed after {got}"
                ),
                _ => format!(
                    "the chunked body was not finished when the connection closed ({got} bytes)"
                ),
            });
        } else if cx.cut {
            cx.incomplete(match m.body {
                Body::Length(n) => format!(
                    "the body is cut: {n} bytes were announced, {} arrived before the connection ended or netlab's buffer filled",
                    pdu.len().saturating_sub(head_len)
                ),
                _ => "the message is cut: the connection ended first, or netlab's buffer filled".into(),
            });
        }
        // Info: the start line; a body's media type in parentheses.
        let info = cx.info();
        info.push_str(&line_text);
        info.push(' ');
        if let (Some(t), false) = (&media, body_range.is_empty()) {
            let _ = write!(info, " ({t})");
        }
        if let Some(sio) = info_media {
            cx.column(sio.0);
            let info = cx.info();
            info.push(' ');
            info.push_str(&sio.1);
        }
    }
}

/// The de-chunked body; records each chunk's size field.
fn dechunk(cx: &mut Cx, pdu: &[u8], mut at: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(lf) = pdu
        .get(at..)
        .and_then(|r| r.iter().position(|&b| b == b'\n'))
    {
        let line = &pdu[at..at + lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let digits = trim_ascii(line.split(|&b| b == b';').next().unwrap_or(&[]));
        let Some(size) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u64::from_str_radix(d, 16).ok())
        else {
            break;
        };
        if cx.record {
            cx.push(1, &CHUNK_SIZE, at..at + digits.len(), Value::Uint(size));
            note!(cx, "(hexadecimal {})", String::from_utf8_lossy(digits));
        }
        let data = at + lf + 1;
        if size == 0 {
            break;
        }
        let end = (data as u64).saturating_add(size).min(pdu.len() as u64) as usize;
        body.extend_from_slice(&pdu[data..end]);
        at = end + 2;
        if end >= pdu.len() {
            break;
        }
    }
    body
}

/// A body: to the dissector its media type names. Returns a Protocol column and an
/// Info text when the body held Engine.IO / Socket.IO packets.
fn media_body(
    cx: &mut Cx,
    body: &[u8],
    media: Option<&str>,
    socketio: bool,
    eio: &mut engineio::Eio,
) -> Option<(&'static str, String)> {
    let text = media.is_some_and(|t| {
        t.starts_with("text/")
            || t.ends_with("+xml")
            || t == "application/javascript"
            || t == "application/x-www-form-urlencoded"
            || t == "application/xml"
    });
    let looks_eio = socketio || engineio::looks_like_payload(body);
    match media {
        Some("application/x-www-form-urlencoded") => {
            form(cx, body);
            None
        }
        Some("application/json") => {
            cx.begin(Proto::Json, 0);
            if cx.record {
                cx.push_text(0, &JSON_TEXT, body, 0..body.len());
            }
            cx.end(body.len());
            None
        }
        Some(_) if text || looks_eio => {
            text_lines(cx, body);
            if looks_eio {
                return engineio::payload(cx, eio, body);
            }
            None
        }
        Some(t) => {
            cx.begin(Proto::Media, 0);
            if cx.record {
                cx.push(0, &MEDIA_TYPE, 0..0, Value::Text(t.to_string().into()));
                cx.last().generated = true;
                cx.push(0, &MEDIA_DATA, 0..body.len(), Value::Bytes(0..body.len()));
            }
            cx.end(body.len());
            None
        }
        None => {
            cx.begin(Proto::Data, 0);
            if cx.record {
                cx.push(
                    0,
                    &crate::dissect::transport::DATA,
                    0..body.len(),
                    Value::Bytes(0..body.len()),
                );
                cx.push_generated(
                    0,
                    &crate::dissect::transport::DATA_LEN,
                    Value::Uint(body.len() as u64),
                );
            }
            cx.end(body.len());
            None
        }
    }
}

/// An HTML form (`name=netlab&text=hello+there`): each field's name and value, with
/// `+` and `%XX` decoded, as Wireshark's "HTML Form URL Encoded".
fn form(cx: &mut Cx, body: &[u8]) {
    cx.begin(Proto::UrlEncodedForm, 0);
    if cx.record {
        let decode = |b: &[u8]| {
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'+' => out.push(b' '),
                    b'%' if i + 2 < b.len() => {
                        match std::str::from_utf8(&b[i + 1..i + 3])
                            .ok()
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                        {
                            Some(v) => {
                                out.push(v);
                                i += 2;
                            }
                            None => out.push(b'%'),
                        }
                    }
                    c => out.push(c),
                }
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        };
        let mut at = 0;
        for pair in body.split(|&b| b == b'&') {
            let eq = pair.iter().position(|&b| b == b'=').unwrap_or(pair.len());
            let (k, v) = (&pair[..eq], pair.get(eq + 1..).unwrap_or(&[]));
            cx.push(
                0,
                &FORM_KEY,
                at..at + k.len(),
                Value::Text(decode(k).into()),
            );
            let vs = (at + eq + 1).min(at + pair.len());
            cx.push(
                1,
                &FORM_VALUE,
                vs..at + pair.len(),
                Value::Text(decode(v).into()),
            );
            at += pair.len() + 1;
        }
    }
    cx.end(body.len());
}

crate::wire::fields! {
    FULL_URI: Text(
        "Full request URI",
        "http.request.full_uri",
        "the URL this request asked for: the Host header and the request target together",
    );
    REQUEST_IN: Num(
        "Request in frame",
        "http.request_in",
        "the frame of the request this response answers (HTTP/1.1 answers requests in order)",
    );
    RESPONSE_IN: Num(
        "Response in frame",
        "http.response_in",
        "the frame of the response that answers this request: known only by reading the capture twice (`-2`), since it comes later",
    );
    TIME: Time(
        "Time since request",
        "http.time",
        "seconds from the request to this response: the server's thinking plus the network's round trip",
    );
    RESPONSE_FOR_URI: Text(
        "Request URI",
        "http.response_for.uri",
        "the URL the request this response answers asked for",
    );
    CONTENT_LENGTH: Num(
        "Content length",
        "http.content_length",
        "the body's length in bytes, as the Content-Length header announced it",
    );
    FILE_DATA: Bytes(
        "File Data",
        "http.file_data",
        "the body: what the request sends or the response returns",
    );
    CHUNK_SIZE: Num(
        "Chunk size",
        "http.chunk_size",
        "a chunked body comes in pieces, each announced by its size in hexadecimal; size 0 ends it",
    );
    LINE: Text(
        "Line",
        "",
        "one line of a text body",
    );
    JSON_TEXT: Text(
        "JSON",
        "",
        "a JSON document (the body's media type says application/json)",
    );
    FORM_KEY: Text(
        "Form item",
        "urlencoded-form.key",
        "the name of a form field, as the browser sends a form: name=value pairs joined by &",
    );
    FORM_VALUE: Text(
        "Value",
        "urlencoded-form.value",
        "what was entered in the field (spaces sent as +, other bytes as %XX)",
    );
    MEDIA_TYPE: Text(
        "Media type",
        "media.type",
        "what kind of content the body is, from the Content-Type header",
    );
    MEDIA_DATA: Bytes(
        "Media data",
        "",
        "the body's bytes: a type netlab does not decode",
    );
}
