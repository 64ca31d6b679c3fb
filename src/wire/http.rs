//! HTTP/1.1 message heads (RFC 9112, semantics in RFC 9110): just enough HTTP for the
//! WebSocket opening handshake and Engine.IO's long-polling — a start line, header fields,
//! an empty line. Bodies are left to the caller (see [`Headers::content_length`]).
//!
//! ```text
//! GET /chat HTTP/1.1\r\n                   request-line = method SP request-target SP HTTP-version
//! Host: server.netlab.test\r\n            field-line   = field-name ":" OWS field-value OWS
//! Upgrade: websocket\r\n
//! \r\n                                    the empty line ends the head
//!
//! HTTP/1.1 101 Switching Protocols\r\n     status-line  = HTTP-version SP status-code SP [reason-phrase]
//! ```
//!
//! Contract: no I/O, no printing, no panic on any input. The parsers take the bytes
//! received so far and answer "not yet" (`Ok(None)`: no empty line yet), a parsed head
//! and its length in bytes, or an [`HttpError`] that says what is wrong and where, and
//! which status a server should answer ([`HttpError::status`]: 400 or 431). Every header
//! keeps the byte ranges of its line, name and value ([`HeaderSpan`]) so a dissector can
//! colour them in a hex dump.
//!
//! Leniency, each allowed by RFC 9112: a bare LF ends a line like CRLF does (§ 2.2), and
//! empty lines before a request-line are skipped (§ 2.2). Strictness, each required or
//! allowed by it: a bare CR, whitespace between a field name and its colon (§ 5.1), and
//! obsolete line folding (§ 5.2) are errors.

use core::fmt;

use super::{Field, FieldDef};

/// The largest head [`parse_request`] and [`parse_response`] accept, empty line included.
/// Servers commonly allow 8 KiB; a longer head is answered with 431.
pub const MAX_HEAD_LEN: usize = 8 * 1024;
/// The most header fields [`parse_request`] and [`parse_response`] accept.
pub const MAX_HEADERS: usize = 100;

/// Header names netlab reads or writes, spelled as usually sent (matching ignores case).
pub mod name {
    pub const HOST: &str = "Host";
    pub const CONNECTION: &str = "Connection";
    pub const UPGRADE: &str = "Upgrade";
    pub const CONTENT_LENGTH: &str = "Content-Length";
    pub const CONTENT_TYPE: &str = "Content-Type";
    pub const TRANSFER_ENCODING: &str = "Transfer-Encoding";
    pub const ORIGIN: &str = "Origin";
    pub const USER_AGENT: &str = "User-Agent";
    pub const SERVER: &str = "Server";
    pub const SEC_WEBSOCKET_KEY: &str = "Sec-WebSocket-Key";
    pub const SEC_WEBSOCKET_ACCEPT: &str = "Sec-WebSocket-Accept";
    pub const SEC_WEBSOCKET_VERSION: &str = "Sec-WebSocket-Version";
    pub const SEC_WEBSOCKET_PROTOCOL: &str = "Sec-WebSocket-Protocol";
    pub const SEC_WEBSOCKET_EXTENSIONS: &str = "Sec-WebSocket-Extensions";
}

fields! {
    REQUEST_METHOD: Text(
        "Request method",
        "http.request.method",
        "what the client asks the server to do with the target (GET reads, POST sends data)",
    );
    REQUEST_URI: Text(
        "Request URI",
        "http.request.uri",
        "the request target: which resource on the server, usually a path and query (/chat?room=1)",
    );
    REQUEST_VERSION: Text(
        "Request version",
        "http.request.version",
        "the HTTP version the client speaks (a WebSocket handshake needs HTTP/1.1)",
    );
    RESPONSE_VERSION: Text(
        "Response version",
        "http.response.version",
        "the HTTP version the server speaks",
    );
    RESPONSE_CODE: Num(
        "Status code",
        "http.response.code",
        "three digits: 1xx informational (101 = switching protocols), 2xx success, 3xx redirect, \
     4xx client error, 5xx server error",
    );
    RESPONSE_PHRASE: Text(
        "Response phrase",
        "http.response.phrase",
        "words for people after the status code; programs must ignore them",
    );
    REQUEST_LINE: Text(
        "Header line",
        "http.request.line",
        "one header field of the request: a name, a colon, a value",
    );
    RESPONSE_LINE: Text(
        "Header line",
        "http.response.line",
        "one header field of the response: a name, a colon, a value",
    );
    HOST: Text(
        "Host",
        "http.host",
        "which site the client wants: many sites can share one IP address and port",
    );
    USER_AGENT: Text(
        "User-Agent",
        "http.user_agent",
        "the client program's name and version",
    );
    SERVER: Text(
        "Server",
        "http.server",
        "the server program's name and version",
    );
    CONNECTION: Text(
        "Connection",
        "http.connection",
        "options for this connection only: close, keep-alive, or Upgrade (the Upgrade header \
     applies to this hop)",
    );
    UPGRADE: Text(
        "Upgrade",
        "http.upgrade",
        "the protocol the client wants to switch this connection to (websocket); the server \
     agrees with 101 Switching Protocols",
    );
    CONTENT_LENGTH: Text(
        "Content-Length",
        "http.content_length_header",
        "how many bytes of body follow the empty line",
    );
    CONTENT_TYPE: Text(
        "Content-Type",
        "http.content_type",
        "what kind of data the body holds (text/html, application/json…)",
    );
    TRANSFER_ENCODING: Text(
        "Transfer-Encoding",
        "http.transfer_encoding",
        "chunked: the body comes in pieces, each preceded by its length, instead of a \
     Content-Length",
    );
    SEC_WEBSOCKET_KEY: Text(
        "Sec-WebSocket-Key",
        "http.sec_websocket_key",
        "16 random bytes in base64, chosen by the client; the server proves it read the \
     request by hashing it into Sec-WebSocket-Accept",
    );
    SEC_WEBSOCKET_ACCEPT: Text(
        "Sec-WebSocket-Accept",
        "http.sec_websocket_accept",
        "base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)): proof that this server \
     speaks WebSocket and answered this very request",
    );
    SEC_WEBSOCKET_VERSION: Text(
        "Sec-WebSocket-Version",
        "http.sec_websocket_version",
        "the WebSocket protocol version; 13 is RFC 6455, the only one in use",
    );
    SEC_WEBSOCKET_PROTOCOL: Text(
        "Sec-WebSocket-Protocol",
        "http.sec_websocket_protocol",
        "subprotocols: the client lists the application protocols it speaks over WebSocket, \
     the server picks at most one",
    );
    SEC_WEBSOCKET_EXTENSIONS: Text(
        "Sec-WebSocket-Extensions",
        "http.sec_websocket_extensions",
        "extensions the client offers (permessage-deflate compresses messages); the server \
     echoes the ones it accepts",
    );
}

/// The [`FieldDef`] that describes a header field named `name` (any case), or the
/// generic header-line definition for a header netlab has no special words for.
pub fn header_def(name: &str, in_request: bool) -> &'static FieldDef {
    const KNOWN: [(&str, &FieldDef); 13] = [
        (name::HOST, &HOST),
        (name::USER_AGENT, &USER_AGENT),
        (name::SERVER, &SERVER),
        (name::CONNECTION, &CONNECTION),
        (name::UPGRADE, &UPGRADE),
        (name::CONTENT_LENGTH, &CONTENT_LENGTH),
        (name::CONTENT_TYPE, &CONTENT_TYPE),
        (name::TRANSFER_ENCODING, &TRANSFER_ENCODING),
        (name::SEC_WEBSOCKET_KEY, &SEC_WEBSOCKET_KEY),
        (name::SEC_WEBSOCKET_ACCEPT, &SEC_WEBSOCKET_ACCEPT),
        (name::SEC_WEBSOCKET_VERSION, &SEC_WEBSOCKET_VERSION),
        (name::SEC_WEBSOCKET_PROTOCOL, &SEC_WEBSOCKET_PROTOCOL),
        (name::SEC_WEBSOCKET_EXTENSIONS, &SEC_WEBSOCKET_EXTENSIONS),
    ];
    if let Some((_, def)) = KNOWN.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return def;
    }
    if in_request {
        &REQUEST_LINE
    } else {
        &RESPONSE_LINE
    }
}

/// The HTTP version of a message: `HTTP-version = "HTTP/" DIGIT "." DIGIT`
/// (RFC 9112 § 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const HTTP_1_0: Version = Version { major: 1, minor: 0 };
    pub const HTTP_1_1: Version = Version { major: 1, minor: 1 };

    /// Reads exactly `HTTP/x.y` (case-sensitive, RFC 9112 § 2.3).
    pub fn parse(b: &[u8]) -> Option<Version> {
        match b {
            [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                if major.is_ascii_digit() && minor.is_ascii_digit() =>
            {
                Some(Version {
                    major: major - b'0',
                    minor: minor - b'0',
                })
            }
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// Limits a parser enforces, so a peer cannot make it buffer without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of head, the closing empty line included.
    pub max_head_len: usize,
    /// Header fields.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_len: MAX_HEAD_LEN,
            max_headers: MAX_HEADERS,
        }
    }
}

/// Why bytes could not be read as an HTTP head. Offsets count from the start of the
/// buffer given to the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No empty line within `limit` bytes. A server answers 431 Request Header Fields
    /// Too Large (RFC 6585 § 5).
    TooLarge { limit: usize },
    /// More than `limit` header fields (answered with 431 as well).
    TooManyHeaders { limit: usize },
    /// The request-line or status-line is malformed.
    BadStartLine { at: usize, why: &'static str },
    /// A header field line is malformed.
    BadHeader { at: usize, why: &'static str },
    /// A header line starts with a space or tab: obsolete line folding, which a server
    /// must reject or unfold (RFC 9112 § 5.2); netlab rejects it.
    ObsFold { at: usize },
}

impl HttpError {
    /// The status a server answers this error with: 431 for a head too large, else 400.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::TooLarge { .. } | HttpError::TooManyHeaders { .. } => 431,
            _ => 400,
        }
    }

    /// Where in the buffer the problem was found, when it is one place.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            HttpError::BadStartLine { at, .. }
            | HttpError::BadHeader { at, .. }
            | HttpError::ObsFold { at } => Some(at),
            _ => None,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::TooLarge { limit } => {
                write!(f, "HTTP head longer than {limit} bytes (no empty line yet)")
            }
            HttpError::TooManyHeaders { limit } => {
                write!(f, "more than {limit} header fields")
            }
            HttpError::BadStartLine { at, why } => write!(f, "start line, offset {at}: {why}"),
            HttpError::BadHeader { at, why } => write!(f, "header field, offset {at}: {why}"),
            HttpError::ObsFold { at } => write!(
                f,
                "header line at offset {at} starts with a space or tab: obsolete line \
                 folding is not allowed (RFC 9112 § 5.2)"
            ),
        }
    }
}

impl std::error::Error for HttpError {}

/// Where a header field sits in the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpan {
    /// The whole line, without its CRLF.
    pub line: Field,
    pub name: Field,
    /// The value without the surrounding whitespace.
    pub value: Field,
}

/// One header field. `value` has its surrounding spaces and tabs removed; bytes that are
/// not UTF-8 (RFC 9110 allows "obs-text" 0x80–0xFF) are shown as U+FFFD, while
/// [`HeaderSpan::value`] still points at the real bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
    /// Set by the parsers; `None` for a header built to be sent.
    pub span: Option<HeaderSpan>,
}

/// The header fields of a message, in the order received. Names match without regard
/// to case (RFC 9110 § 5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    list: Vec<Header>,
}

impl Headers {
    pub fn new() -> Self {
        Headers::default()
    }
    pub fn len(&self) -> usize {
        self.list.len()
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.list.iter()
    }
    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
    /// The values of every field named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.list
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
    /// How many fields are named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    /// The elements of the comma-separated lists in every field named `name`, trimmed,
    /// empty elements skipped (RFC 9110 § 5.6.1: `#rule` lists; a field may also be
    /// repeated, which means the same as one field with the values joined by commas).
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .map(|e| e.trim_matches([' ', '\t']))
            .filter(|e| !e.is_empty())
    }
    /// Whether the lists in the fields named `name` hold `token`, ignoring case — how
    /// `Connection: keep-alive, Upgrade` is read.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|e| e.eq_ignore_ascii_case(token))
    }
    /// Adds a field at the end (keeping any of the same name).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.list.push(Header {
            name: name.into(),
            value: value.into(),
            span: None,
        });
    }
    /// Replaces every field named `name` by one with `value`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.push(name, value);
    }
    /// Removes every field named `name`; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.list.len();
        self.list.retain(|h| !h.name.eq_ignore_ascii_case(name));
        before - self.list.len()
    }

    /// The body length from `Content-Length` (RFC 9112 § 6.3): `None` without the field;
    /// an error if it is not a number, or if several fields disagree.
    pub fn content_length(&self) -> Result<Option<u64>, HttpError> {
        let mut found: Option<u64> = None;
        for h in self
            .list
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name::CONTENT_LENGTH))
        {
            let at = h.span.as_ref().map_or(0, |s| s.value.start);
            // A list of identical values ("42, 42") is allowed to be read as one.
            for v in h.value.split(',').map(|v| v.trim_matches([' ', '\t'])) {
                if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HttpError::BadHeader {
                        at,
                        why: "Content-Length is not a number",
                    });
                }
                let n: u64 = v.parse().map_err(|_| HttpError::BadHeader {
                    at,
                    why: "Content-Length is not a number",
                })?;
                match found {
                    Some(m) if m != n => {
                        return Err(HttpError::BadHeader {
                            at,
                            why: "several Content-Length values disagree",
                        });
                    }
                    _ => found = Some(n),
                }
            }
        }
        Ok(found)
    }
}

/// Where the parts of a request-line sit in the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLineSpan {
    /// The whole line, without its CRLF.
    pub line: Field,
    pub method: Field,
    pub target: Field,
    pub version: Field,
}

/// Where the parts of a status-line sit in the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLineSpan {
    /// The whole line, without its CRLF.
    pub line: Field,
    pub version: Field,
    pub status: Field,
    /// Empty (at the line's end) when the server sent no phrase.
    pub reason: Field,
}

/// An HTTP request head. RFC 9112 § 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// A token, case-sensitive: `GET`, `POST`…
    pub method: String,
    /// The request-target, usually a path and query: `/chat?room=1`.
    pub target: String,
    pub version: Version,
    pub headers: Headers,
    /// Set by the parser; `None` for a request built to be sent.
    pub span: Option<RequestLineSpan>,
}

/// An HTTP response head. RFC 9112 § 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub version: Version,
    /// Three digits; 101 Switching Protocols completes a WebSocket handshake.
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    /// Set by the parser; `None` for a response built to be sent.
    pub span: Option<StatusLineSpan>,
}

/// The usual reason phrase for a status code (RFC 9110 § 15), or `""`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

impl Request {
    /// An HTTP/1.1 request with no header fields yet.
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            target: target.into(),
            version: Version::HTTP_1_1,
            headers: Headers::new(),
            span: None,
        }
    }

    /// Adds a header field; for building a request in one expression.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Appends the head, closing empty line included, to `out`. CR, LF and NUL in any
    /// part are written as spaces, so a value taken from user input cannot smuggle in
    /// another header line.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put(out, &self.method);
        out.push(b' ');
        put(out, &self.target);
        out.push(b' ');
        put(out, &self.version.to_string());
        out.extend_from_slice(b"\r\n");
        emit_headers(&self.headers, out);
    }

    /// The head as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }
}

impl Response {
    /// An HTTP/1.1 response with the usual reason phrase and no header fields yet.
    pub fn new(status: u16) -> Self {
        Response {
            version: Version::HTTP_1_1,
            status,
            reason: reason_phrase(status).to_string(),
            headers: Headers::new(),
            span: None,
        }
    }

    /// Adds a header field; for building a response in one expression.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Appends the head, closing empty line included, to `out`. CR, LF and NUL are
    /// written as spaces (see [`Request::emit`]); a status above 999 is written as 999,
    /// since the status-line has room for three digits only.
    pub fn emit(&self, out: &mut Vec<u8>) {
        put(out, &self.version.to_string());
        out.push(b' ');
        put(out, &format!("{:03}", self.status.min(999)));
        out.push(b' ');
        put(out, &self.reason);
        out.extend_from_slice(b"\r\n");
        emit_headers(&self.headers, out);
    }

    /// The head as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }
}

fn put(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().map(|b| match b {
        b'\r' | b'\n' | 0 => b' ',
        b => b,
    }));
}

fn emit_headers(headers: &Headers, out: &mut Vec<u8>) {
    for h in headers.iter() {
        put(out, &h.name);
        out.extend_from_slice(b": ");
        put(out, &h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether `b` may appear in a token (RFC 9110 § 5.6.2): letters, digits and
/// ``!#$%&'*+-.^_`|~``.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is a non-empty token: the syntax of methods, header names, and of
/// WebSocket subprotocol and extension names.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Reads a request head from the front of `buf` with the default [`Limits`]: `Ok(None)`
/// while the closing empty line has not arrived, else the request and the head's length
/// (the body, if any, starts there).
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, HttpError> {
    parse_request_with(buf, &Limits::default())
}

/// [`parse_request`] with chosen limits.
pub fn parse_request_with(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Request, usize)>, HttpError> {
    // RFC 9112 § 2.2: "a server that is expecting to receive and parse a request-line
    // SHOULD ignore at least one empty line (CRLF) received prior to the request-line".
    let mut start = 0;
    while let Some(rest) = buf.get(start..) {
        if rest.starts_with(b"\r\n") {
            start += 2;
        } else if rest.starts_with(b"\n") {
            start += 1;
        } else {
            break;
        }
    }
    // Fail fast on what cannot become a request: a method starts with a token
    // character, so e.g. a TLS ClientHello (first byte 0x16) is refused at once.
    if let Some(&b) = buf.get(start) {
        if b == 0x16 {
            return Err(HttpError::BadStartLine {
                at: start,
                why: "this is not HTTP: byte 0x16 starts a TLS handshake (https:// or \
                      wss:// sent to a plain-HTTP port?)",
            });
        }
        if !is_tchar(b) && b != b'\r' {
            return Err(HttpError::BadStartLine {
                at: start,
                why: "a request must start with a method (a token such as GET)",
            });
        }
    }
    let Some(lines) = split_head(buf, start, limits)? else {
        return Ok(None);
    };
    let (first, rest) = lines.split_first();
    let span = parse_request_line(buf, first)?;
    let headers = parse_headers(buf, rest, limits)?;
    let text = |r: &Field| String::from_utf8_lossy(&buf[r.clone()]).into_owned();
    let version = Version::parse(&buf[span.version.clone()]).unwrap_or(Version::HTTP_1_1);
    let req = Request {
        method: text(&span.method),
        target: text(&span.target),
        version,
        headers,
        span: Some(span),
    };
    Ok(Some((req, lines.head_len)))
}

/// Reads a response head from the front of `buf` with the default [`Limits`]: `Ok(None)`
/// while the closing empty line has not arrived, else the response and the head's
/// length.
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, HttpError> {
    parse_response_with(buf, &Limits::default())
}

/// [`parse_response`] with chosen limits.
pub fn parse_response_with(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Response, usize)>, HttpError> {
    // Fail fast: a status-line starts with "HTTP/".
    let n = buf.len().min(5);
    if buf[..n] != b"HTTP/"[..n] {
        return Err(HttpError::BadStartLine {
            at: 0,
            why: "a response must start with the HTTP version (HTTP/1.1)",
        });
    }
    let Some(lines) = split_head(buf, 0, limits)? else {
        return Ok(None);
    };
    let (first, rest) = lines.split_first();
    let span = parse_status_line(buf, first)?;
    let headers = parse_headers(buf, rest, limits)?;
    let version = Version::parse(&buf[span.version.clone()]).unwrap_or(Version::HTTP_1_1);
    let status = buf[span.status.clone()]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let resp = Response {
        version,
        status,
        reason: String::from_utf8_lossy(&buf[span.reason.clone()]).into_owned(),
        headers,
        span: Some(span),
    };
    Ok(Some((resp, lines.head_len)))
}

/// The lines of a complete head: each range excludes its line terminator.
struct Lines {
    lines: Vec<Field>,
    head_len: usize,
}

impl Lines {
    fn split_first(&self) -> (Field, &[Field]) {
        match self.lines.split_first() {
            Some((first, rest)) => (first.clone(), rest),
            None => (0..0, &[]),
        }
    }
}

/// Finds the lines of the head that starts at `start`, up to the empty line. A line
/// ends with LF, optionally preceded by CR; a CR anywhere else is an error.
fn split_head(buf: &[u8], start: usize, limits: &Limits) -> Result<Option<Lines>, HttpError> {
    let window = &buf[..buf.len().min(limits.max_head_len)];
    let mut lines = Vec::new();
    let mut line_start = start;
    let mut at = start;
    while let Some(pos) = window
        .get(at..)
        .and_then(|w| w.iter().position(|&b| b == b'\n'))
    {
        let lf = at + pos;
        let end = if lf > line_start && buf[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        if let Some(cr) = buf[line_start..end].iter().position(|&b| b == b'\r') {
            return Err(HttpError::BadHeader {
                at: line_start + cr,
                why: "a CR not followed by LF (bare CR) is not allowed (RFC 9112 § 2.2)",
            });
        }
        if end == line_start {
            if lines.is_empty() {
                return Err(HttpError::BadStartLine {
                    at: line_start,
                    why: "the head starts with an empty line",
                });
            }
            return Ok(Some(Lines {
                lines,
                head_len: lf + 1,
            }));
        }
        // The start line and the header lines; one more than the headers allowed is
        // already too many.
        if lines.len() > limits.max_headers {
            return Err(HttpError::TooManyHeaders {
                limit: limits.max_headers,
            });
        }
        lines.push(line_start..end);
        line_start = lf + 1;
        at = lf + 1;
    }
    if buf.len() >= limits.max_head_len {
        return Err(HttpError::TooLarge {
            limit: limits.max_head_len,
        });
    }
    // A bare CR is refused as soon as it is followed by anything but LF.
    if let Some(cr) = buf[line_start..]
        .windows(2)
        .position(|w| w[0] == b'\r' && w[1] != b'\n')
    {
        return Err(HttpError::BadHeader {
            at: line_start + cr,
            why: "a CR not followed by LF (bare CR) is not allowed (RFC 9112 § 2.2)",
        });
    }
    Ok(None)
}

/// Splits a start line at single spaces into its first two parts and the rest.
fn three_parts(buf: &[u8], line: &Field) -> (Field, Option<Field>, Option<Field>) {
    let l = &buf[line.clone()];
    let Some(sp1) = l.iter().position(|&b| b == b' ') else {
        return (line.clone(), None, None);
    };
    let a = line.start..line.start + sp1;
    let rest = line.start + sp1 + 1;
    match buf[rest..line.end].iter().position(|&b| b == b' ') {
        None => (a, Some(rest..line.end), None),
        Some(sp2) => (a, Some(rest..rest + sp2), Some(rest + sp2 + 1..line.end)),
    }
}

fn parse_request_line(buf: &[u8], line: Field) -> Result<RequestLineSpan, HttpError> {
    let bad = |at, why| Err(HttpError::BadStartLine { at, why });
    let (method, target, version) = three_parts(buf, &line);
    if method.is_empty() {
        return bad(method.start, "the request line starts with a space");
    }
    if let Some(i) = buf[method.clone()].iter().position(|&b| !is_tchar(b)) {
        return bad(
            method.start + i,
            "the method must be a token (letters such as GET), followed by one space",
        );
    }
    let Some(target) = target else {
        return bad(
            line.end,
            "the request line ends after the method: no target",
        );
    };
    if target.is_empty() {
        return bad(
            target.start,
            "two spaces after the method: exactly one separates the parts",
        );
    }
    if let Some(i) = buf[target.clone()]
        .iter()
        .position(|&b| !(0x21..=0x7e).contains(&b))
    {
        return bad(
            target.start + i,
            "the request target may hold only visible ASCII characters",
        );
    }
    let Some(version) = version else {
        return bad(
            line.end,
            "the request line ends after the target: no HTTP version",
        );
    };
    if Version::parse(&buf[version.clone()]).is_none() {
        return bad(
            version.start,
            "the version must be written HTTP/1.1 (after exactly one space)",
        );
    }
    Ok(RequestLineSpan {
        line,
        method,
        target,
        version,
    })
}

fn parse_status_line(buf: &[u8], line: Field) -> Result<StatusLineSpan, HttpError> {
    let bad = |at, why| Err(HttpError::BadStartLine { at, why });
    let (version, status, _) = three_parts(buf, &line);
    if Version::parse(&buf[version.clone()]).is_none() {
        return bad(
            version.start,
            "the status line must start with the version written HTTP/1.1",
        );
    }
    let Some(status) = status else {
        return bad(
            line.end,
            "the status line ends after the version: no status code",
        );
    };
    let status = status.start..(status.start + 3).min(line.end);
    let digits = &buf[status.clone()];
    if digits.len() != 3 || !digits.iter().all(u8::is_ascii_digit) {
        return bad(status.start, "the status code must be three digits");
    }
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]; some servers
    // leave out the second space when there is no phrase, which is read the same.
    let reason = match buf.get(status.end) {
        None => line.end..line.end,
        Some(b' ') => status.end + 1..line.end,
        Some(_) if status.end == line.end => line.end..line.end,
        Some(_) => return bad(status.end, "the status code must be three digits"),
    };
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    if let Some(i) = buf[reason.clone()]
        .iter()
        .position(|&b| (b != b'\t' && b < 0x20) || b == 0x7f)
    {
        return bad(reason.start + i, "a control character in the reason phrase");
    }
    Ok(StatusLineSpan {
        line,
        version,
        status,
        reason,
    })
}

fn parse_headers(buf: &[u8], lines: &[Field], limits: &Limits) -> Result<Headers, HttpError> {
    if lines.len() > limits.max_headers {
        return Err(HttpError::TooManyHeaders {
            limit: limits.max_headers,
        });
    }
    let mut headers = Headers::new();
    for line in lines {
        let bad = |at, why| Err(HttpError::BadHeader { at, why });
        let l = &buf[line.clone()];
        if matches!(l.first(), Some(b' ' | b'\t')) {
            return Err(HttpError::ObsFold { at: line.start });
        }
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            return bad(
                line.start,
                "a header line needs a colon between name and value",
            );
        };
        if colon == 0 {
            return bad(line.start, "the header name is empty");
        }
        let name = line.start..line.start + colon;
        if matches!(l[colon - 1], b' ' | b'\t') {
            return bad(
                line.start + colon - 1,
                "whitespace between the header name and the colon is not allowed \
                 (RFC 9112 § 5.1)",
            );
        }
        if let Some(i) = l[..colon].iter().position(|&b| !is_tchar(b)) {
            return bad(
                line.start + i,
                "the header name must be a token (letters, digits, -)",
            );
        }
        // field-value = *field-content, surrounded by optional whitespace (OWS).
        let mut v0 = name.end + 1;
        let mut v1 = line.end;
        while v0 < v1 && matches!(buf[v0], b' ' | b'\t') {
            v0 += 1;
        }
        while v1 > v0 && matches!(buf[v1 - 1], b' ' | b'\t') {
            v1 -= 1;
        }
        // RFC 9110 § 5.5: CR, LF and NUL are "invalid and dangerous"; other controls
        // are not field-content either.
        if let Some(i) = buf[v0..v1]
            .iter()
            .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return bad(v0 + i, "a control character in a header value");
        }
        headers.list.push(Header {
            name: String::from_utf8_lossy(&buf[name.clone()]).into_owned(),
            value: String::from_utf8_lossy(&buf[v0..v1]).into_owned(),
            span: Some(HeaderSpan {
                line: line.clone(),
                name,
                value: v0..v1,
            }),
        });
    }
    Ok(headers)
}

/// Splits a URL's authority `HOST[:PORT]` (RFC 3986 § 3.2; an IPv6 host in brackets,
/// `[::1]:9001`) into host and port, `default_port` when none is given. Errors name
/// the problem: a port that is not a number from 0 to 65535, or no host.
pub fn split_authority(authority: &str, default_port: u16) -> Result<(&str, u16), String> {
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => {
            let port = &authority[i + 1..];
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("bad port {port:?}"))?;
            (&authority[..i], port)
        }
        _ => (authority, default_port),
    };
    if host.is_empty() {
        return Err("no host".to_string());
    }
    Ok((host, port))
}

/// The `Host` header for `host` and `port` (RFC 9110 § 7.2): the port is left out when
/// it is the scheme's default.
pub fn host_header(host: &str, port: u16, default_port: u16) -> String {
    if port == default_port {
        host.to_string()
    } else {
        format!("{host}:{port}")
    }
}

/// Real messages for the tests of this module and the ones above it.
#[cfg(test)]
pub(crate) mod examples {
    /// The client handshake of RFC 6455 § 1.2, as bytes on the wire (its example hosts
    /// renamed to `.test` names of the same length, so no offset changes).
    pub(crate) const RFC6455_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.netlab.test\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://netlab.test\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

    /// The server handshake of RFC 6455 § 1.2 (the subprotocol chosen: chat).
    pub(crate) const RFC6455_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n";
}

#[cfg(test)]
mod tests {
    use super::examples::*;
    use super::*;

    #[test]
    fn authorities_split_like_urls_do() {
        assert_eq!(
            split_authority("127.0.0.1:9001", 80),
            Ok(("127.0.0.1", 9001))
        );
        assert_eq!(split_authority("[::1]:3000", 80), Ok(("[::1]", 3000)));
        assert_eq!(split_authority("[::1]", 80), Ok(("[::1]", 80)));
        assert_eq!(split_authority("localhost", 80), Ok(("localhost", 80)));
        assert_eq!(
            split_authority("h:99999", 80),
            Err("bad port \"99999\"".to_string())
        );
        assert_eq!(split_authority(":80", 80), Err("no host".to_string()));
        assert_eq!(host_header("127.0.0.1", 80, 80), "127.0.0.1");
        assert_eq!(host_header("[::1]", 3000, 80), "[::1]:3000");
    }

    #[test]
    fn rfc6455_request() {
        let (req, n) = parse_request(RFC6455_REQUEST).unwrap().unwrap();
        assert_eq!(n, RFC6455_REQUEST.len());
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/chat");
        assert_eq!(req.version, Version::HTTP_1_1);
        assert_eq!(req.headers.len(), 7);
        assert_eq!(req.headers.get("host"), Some("server.netlab.test"));
        assert_eq!(req.headers.get("UPGRADE"), Some("websocket"));
        assert!(req.headers.has_token("connection", "upgrade"));
        assert_eq!(
            req.headers
                .list("Sec-WebSocket-Protocol")
                .collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        let span = req.span.as_ref().unwrap();
        assert_eq!(span.line, 0..18);
        assert_eq!(span.method, 0..3);
        assert_eq!(span.target, 4..9);
        assert_eq!(span.version, 10..18);
        // "Host: server.netlab.test" is the second line, at 20.
        let host = req.headers.iter().next().unwrap().span.clone().unwrap();
        assert_eq!(host.line, 20..44);
        assert_eq!(&RFC6455_REQUEST[host.name], b"Host");
        assert_eq!(&RFC6455_REQUEST[host.value], b"server.netlab.test");
    }

    #[test]
    fn rfc6455_response() {
        let (resp, n) = parse_response(RFC6455_RESPONSE).unwrap().unwrap();
        assert_eq!(n, RFC6455_RESPONSE.len());
        assert_eq!(resp.status, 101);
        assert_eq!(resp.reason, "Switching Protocols");
        assert_eq!(
            resp.headers.get("sec-websocket-accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        let span = resp.span.unwrap();
        assert_eq!(&RFC6455_RESPONSE[span.status], b"101");
        assert_eq!(&RFC6455_RESPONSE[span.reason], b"Switching Protocols");
    }

    #[test]
    fn emit_parses_back_byte_for_byte() {
        let (req, _) = parse_request(RFC6455_REQUEST).unwrap().unwrap();
        assert_eq!(req.to_bytes(), RFC6455_REQUEST);
        let (resp, _) = parse_response(RFC6455_RESPONSE).unwrap().unwrap();
        assert_eq!(resp.to_bytes(), RFC6455_RESPONSE);
        let built = Response::new(101)
            .with_header("Upgrade", "websocket")
            .with_header("Connection", "Upgrade")
            .with_header("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            .with_header("Sec-WebSocket-Protocol", "chat");
        assert_eq!(built.to_bytes(), RFC6455_RESPONSE);
    }

    #[test]
    fn emit_cannot_inject_lines() {
        let r = Request::new("GET", "/").with_header("X", "a\r\nEvil: 1");
        assert_eq!(r.to_bytes(), b"GET / HTTP/1.1\r\nX: a  Evil: 1\r\n\r\n");
        let r = Response {
            status: 1234,
            ..Response::new(200)
        };
        assert!(r.to_bytes().starts_with(b"HTTP/1.1 999 OK\r\n"));
    }

    #[test]
    fn incomplete_until_the_empty_line() {
        for n in 0..RFC6455_REQUEST.len() {
            assert_eq!(parse_request(&RFC6455_REQUEST[..n]), Ok(None), "prefix {n}");
        }
        for n in 0..RFC6455_RESPONSE.len() {
            assert_eq!(
                parse_response(&RFC6455_RESPONSE[..n]),
                Ok(None),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn body_starts_after_head() {
        let msg = b"POST /socket.io/?EIO=4 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        let (req, n) = parse_request(msg).unwrap().unwrap();
        assert_eq!(&msg[n..], b"hello");
        assert_eq!(req.headers.content_length(), Ok(Some(5)));
    }

    #[test]
    fn bare_lf_and_leading_empty_lines() {
        let msg = b"\r\n\nGET / HTTP/1.1\nHost: a\n\n";
        let (req, n) = parse_request(msg).unwrap().unwrap();
        assert_eq!(n, msg.len());
        assert_eq!(req.headers.get("Host"), Some("a"));
        assert_eq!(req.span.unwrap().method, 3..6);
    }

    #[test]
    fn values_trimmed_names_any_case() {
        let msg = b"GET / HTTP/1.1\r\nX-A:\t  spaced out \t\r\nx-empty:\r\n\r\n";
        let (req, _) = parse_request(msg).unwrap().unwrap();
        assert_eq!(req.headers.get("x-a"), Some("spaced out"));
        assert_eq!(req.headers.get("X-EMPTY"), Some(""));
        let h = req.headers.iter().next().unwrap().span.clone().unwrap();
        assert_eq!(&msg[h.value], b"spaced out");
    }

    #[test]
    fn obs_text_is_kept_lossy() {
        let msg = b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n";
        let (req, _) = parse_request(msg).unwrap().unwrap();
        assert_eq!(req.headers.get("x"), Some("caf\u{fffd}"));
    }

    fn req_err(msg: &[u8]) -> HttpError {
        parse_request(msg).unwrap_err()
    }

    #[test]
    fn bad_request_lines() {
        use HttpError::BadStartLine;
        for (msg, at) in [
            (&b"GET  / HTTP/1.1\r\n\r\n"[..], 4),
            (b"GET\r\n\r\n", 3),
            (b"GET /\r\n\r\n", 5),
            (b"GET / HTTP/1.1 x\r\n\r\n", 6),
            (b"GET / http/1.1\r\n\r\n", 6),
            (b"GET / HTTP/11\r\n\r\n", 6),
            (b"G(T / HTTP/1.1\r\n\r\n", 1),
            (b" GET / HTTP/1.1\r\n\r\n", 0),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0),
        ] {
            match req_err(msg) {
                BadStartLine { at: got, why } => {
                    assert_eq!(got, at, "{:?}: {why}", String::from_utf8_lossy(msg))
                }
                e => panic!("{:?}: {e:?}", String::from_utf8_lossy(msg)),
            }
        }
        assert_eq!(req_err(b"GET /\x01 HTTP/1.1\r\n\r\n").status(), 400);
    }

    #[test]
    fn bad_headers() {
        assert_eq!(
            req_err(b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"),
            HttpError::ObsFold { at: 25 }
        );
        assert!(matches!(
            req_err(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
            HttpError::BadHeader { at: 20, .. }
        ));
        assert!(matches!(
            req_err(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
            HttpError::BadHeader { at: 16, .. }
        ));
        assert!(matches!(
            req_err(b"GET / HTTP/1.1\r\n: v\r\n\r\n"),
            HttpError::BadHeader { at: 16, .. }
        ));
        assert!(matches!(
            req_err(b"GET / HTTP/1.1\r\nA(b: v\r\n\r\n"),
            HttpError::BadHeader { at: 17, .. }
        ));
        assert!(matches!(
            req_err(b"GET / HTTP/1.1\r\nA: v\x00w\r\n\r\n"),
            HttpError::BadHeader { at: 20, .. }
        ));
        // A bare CR is refused without waiting for the end of the head.
        assert!(matches!(
            req_err(b"GET / HTTP/1.1\r\nA: v\rB: w"),
            HttpError::BadHeader { at: 20, .. }
        ));
        assert!(matches!(
            req_err(b"GET / HTTP/1.1\r\nA: v\rw\r\n\r\n"),
            HttpError::BadHeader { at: 20, .. }
        ));
    }

    #[test]
    fn too_large_and_too_many() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD_LEN, b'a');
        let e = req_err(&big);
        assert_eq!(
            e,
            HttpError::TooLarge {
                limit: MAX_HEAD_LEN
            }
        );
        assert_eq!(e.status(), 431);
        // One byte under the limit is still "not yet".
        assert_eq!(parse_request(&big[..MAX_HEAD_LEN - 1]), Ok(None));
        // Exactly the limit, empty line included, is fine.
        big.truncate(MAX_HEAD_LEN - 4);
        big.extend_from_slice(b"\r\n\r\n");
        assert!(parse_request(&big).unwrap().is_some());

        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        let e = req_err(&many); // refused before the empty line arrives
        assert_eq!(e, HttpError::TooManyHeaders { limit: MAX_HEADERS });
        assert_eq!(e.status(), 431);
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert!(parse_request_with(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", &limits).is_ok());
        assert!(
            parse_request_with(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &limits).is_err()
        );
    }

    #[test]
    fn status_lines() {
        let (r, _) = parse_response(b"HTTP/1.1 200\r\n\r\n").unwrap().unwrap();
        assert_eq!((r.status, r.reason.as_str()), (200, ""));
        let (r, _) = parse_response(b"HTTP/1.0 404 \r\n\r\n").unwrap().unwrap();
        assert_eq!((r.status, r.version), (404, Version::HTTP_1_0));
        let (r, _) =
            parse_response(b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(r.headers.get("sec-websocket-version"), Some("13"));
        for bad in [
            &b"HTTP/1.1 20\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1\r\n\r\n",
            b"HTTP/x.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
        ] {
            assert!(
                matches!(parse_response(bad), Err(HttpError::BadStartLine { .. })),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Not HTTP at all: refused on the first byte.
        assert!(parse_response(b"SSH-2.0").is_err());
        assert!(parse_response(b"\x81").is_err());
        assert_eq!(parse_response(b"HTT"), Ok(None));
    }

    #[test]
    fn content_length() {
        let h = |v: &str| {
            let mut hs = Headers::new();
            hs.push("Content-Length", v);
            hs.content_length()
        };
        assert_eq!(h("0"), Ok(Some(0)));
        assert_eq!(h("42, 42"), Ok(Some(42)));
        assert!(h("42, 43").is_err());
        assert!(h("-1").is_err());
        assert!(h("1e3").is_err());
        assert!(h("99999999999999999999").is_err());
        assert_eq!(Headers::new().content_length(), Ok(None));
    }

    #[test]
    fn header_defs() {
        assert_eq!(header_def("upgrade", true).key, "http.upgrade");
        assert_eq!(
            header_def("SEC-WEBSOCKET-PROTOCOL", true).key,
            "http.sec_websocket_protocol"
        );
        assert_eq!(header_def("X-Foo", true).key, "http.request.line");
        assert_eq!(header_def("X-Foo", false).key, "http.response.line");
    }

    #[test]
    fn headers_edit() {
        let mut h = Headers::new();
        h.push("A", "1");
        h.push("a", "2");
        assert_eq!(h.count("A"), 2);
        h.set("A", "3");
        assert_eq!(h.get_all("a").collect::<Vec<_>>(), ["3"]);
        assert_eq!(h.remove("A"), 1);
        assert!(h.is_empty());
    }

    /// A small xorshift generator, so the test needs no crate and is reproducible.
    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut s = 0x6874_7470_2f31_2e31;
        let alphabet = b"GET /HTTP1.:\r\n \tAa\x00\x80\xff";
        for _ in 0..20_000 {
            let len = (xorshift(&mut s) % 80) as usize;
            let mut buf: Vec<u8> = (0..len)
                .map(|_| alphabet[(xorshift(&mut s) % alphabet.len() as u64) as usize])
                .collect();
            if xorshift(&mut s).is_multiple_of(2) {
                buf.splice(0..0, b"GET / HTTP/1.1\r\n".iter().copied());
            }
            let limits = Limits {
                max_head_len: 64,
                max_headers: 3,
            };
            if let Ok(Some((r, n))) = parse_request_with(&buf, &limits) {
                assert!(n <= buf.len());
                let _ = r.to_bytes();
            }
            if let Ok(Some((r, n))) = parse_response_with(&buf, &limits) {
                assert!(n <= buf.len());
                let _ = r.to_bytes();
            }
        }
    }
}

/// Real bytes: the HTTP heads of `captures/http.pcap` (curl against a Python server, see
/// captures/README.md): frame 4's request and frame 6's response, each the TCP payload
/// after 66 bytes of Ethernet, IPv4 and TCP with timestamps.
#[cfg(test)]
mod real_bytes {
    use super::*;

    const REQUEST: &[u8] =
        b"GET / HTTP/1.1\r\nHost: 10.99.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: netlab-test/1.0 \r\nDate: Wed, 25 Nov 2026 23:45:19 GMT\r\nContent-Type: text/html\r\nContent-Length: 67\r\n\r\n";

    #[test]
    fn curls_request_head() {
        let (req, used) = parse_request(REQUEST).unwrap().unwrap();
        assert_eq!(
            used,
            REQUEST.len(),
            "the whole payload is the head (73 bytes)"
        );
        assert_eq!((req.method.as_str(), req.target.as_str()), ("GET", "/"));
        let names: Vec<&str> = req.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Host", "User-Agent", "Accept"]);
        assert_eq!(
            req.headers.get("host"),
            Some("10.99.0.2"),
            "names match in any case"
        );
        assert_eq!(req.headers.content_length().unwrap(), None);
        assert_eq!(req.to_bytes(), REQUEST, "written back byte for byte");
        // Every cut before the blank line is "not yet": more bytes are needed.
        for n in 0..REQUEST.len() {
            assert!(parse_request(&REQUEST[..n]).unwrap().is_none(), "{n} bytes");
        }
    }

    #[test]
    fn the_servers_response_head() {
        let (resp, used) = parse_response(RESPONSE).unwrap().unwrap();
        assert_eq!(used, RESPONSE.len());
        assert_eq!((resp.status, resp.reason.as_str()), (200, "OK"));
        assert_eq!(resp.headers.content_length().unwrap(), Some(67));
        assert_eq!(resp.headers.get("Content-Type"), Some("text/html"));
        // The server wrote a trailing space after its name; the value is read without it.
        assert_eq!(resp.headers.get("Server"), Some("netlab-test/1.0"));
        for n in 0..RESPONSE.len() {
            assert!(
                parse_response(&RESPONSE[..n]).unwrap().is_none(),
                "{n} bytes"
            );
        }
    }
}
