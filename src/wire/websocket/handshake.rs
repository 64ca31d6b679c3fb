//! The opening handshake (RFC 6455 § 4): an HTTP/1.1 `Upgrade: websocket` request and
//! its `101 Switching Protocols` answer. [`accept_key`] derives `Sec-WebSocket-Accept`;
//! [`validate_client_request`] is what a server checks (with the status to refuse
//! with), [`validate_server_response`] what a client checks; subprotocols and extension
//! offers are read here too. The handshake hands over a ready connection: frames follow.
//!
//! Imports: `core`, [`crate::wire::http`] for the messages, `sha1` and `base64` for the
//! accept key.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

use crate::wire::http::{self, Request, Response};

/// The GUID the server appends to the client's key before hashing (RFC 6455 § 1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The protocol version of RFC 6455, sent in `Sec-WebSocket-Version`.
pub const VERSION: &str = "13";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64 of the SHA-1 of the
/// key (as sent, not decoded) followed by [`GUID`]. RFC 6455 § 4.2.2 step 5.4.
pub fn accept_key(key_b64: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key_b64.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// A client's `Sec-WebSocket-Key` from 16 random bytes the caller draws (this module
/// has no randomness of its own). RFC 6455 § 4.1: "a randomly selected 16-byte value
/// that has been base64-encoded".
pub fn client_key(nonce: [u8; 16]) -> String {
    BASE64.encode(nonce)
}

/// The client's opening handshake for `ws://{host}{target}`. RFC 6455 § 4.1.
pub fn client_request(host: &str, target: &str, key: &str, protocols: &[&str]) -> Request {
    let mut req = Request::new("GET", target)
        .with_header(http::name::HOST, host)
        .with_header(http::name::UPGRADE, "websocket")
        .with_header(http::name::CONNECTION, "Upgrade")
        .with_header(http::name::SEC_WEBSOCKET_KEY, key)
        .with_header(http::name::SEC_WEBSOCKET_VERSION, VERSION);
    if !protocols.is_empty() {
        req.headers
            .push(http::name::SEC_WEBSOCKET_PROTOCOL, protocols.join(", "));
    }
    req
}

/// What was wrong with a client's opening handshake, and so which status the server
/// answers ([`ClientHandshakeError::status`], [`ClientHandshakeError::response`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHandshakeError {
    /// The method was not GET (RFC 6455 § 4.1: "The method of the request MUST be GET").
    NotGet { method: String },
    /// HTTP/1.0 or older: the handshake needs HTTP/1.1 or higher.
    OldHttp { version: http::Version },
    /// No `Host` field.
    NoHost,
    /// No `Upgrade` field listing `websocket` — often a plain HTTP request.
    NoUpgrade,
    /// No `Connection` field listing `Upgrade`.
    NoConnectionUpgrade,
    /// No `Sec-WebSocket-Key`.
    NoKey,
    /// `Sec-WebSocket-Key` more than once (§ 11.3.1 forbids it).
    DuplicateKey,
    /// A key that is not base64 of exactly 16 bytes.
    BadKey { why: &'static str },
    /// No `Sec-WebSocket-Version`.
    NoVersion,
    /// A version other than 13: answered with 426 and `Sec-WebSocket-Version: 13`
    /// (RFC 6455 § 4.4).
    UnsupportedVersion { got: String },
    /// A malformed `Sec-WebSocket-Protocol` list.
    BadProtocols { why: &'static str },
    /// A malformed `Sec-WebSocket-Extensions` offer.
    BadExtensions { why: &'static str },
}

impl ClientHandshakeError {
    /// The status to answer with: 426 Upgrade Required for an unsupported version,
    /// 400 Bad Request for everything else (RFC 6455 § 4.2.1: "an appropriate error code
    /// (such as 400 Bad Request)").
    pub fn status(&self) -> u16 {
        match self {
            ClientHandshakeError::UnsupportedVersion { .. } => 426,
            _ => 400,
        }
    }

    /// The whole response head to send: the status, `Connection: close`, an empty body,
    /// and for 426 the `Upgrade` field RFC 9110 § 15.5.22 requires and the versions this
    /// server speaks (RFC 6455 § 4.4).
    pub fn response(&self) -> Response {
        let mut resp = Response::new(self.status());
        if self.status() == 426 {
            resp.headers.push(http::name::UPGRADE, "websocket");
            resp.headers
                .push(http::name::SEC_WEBSOCKET_VERSION, VERSION);
        }
        resp.headers.push(http::name::CONNECTION, "close");
        resp.headers.push(http::name::CONTENT_LENGTH, "0");
        resp
    }
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ClientHandshakeError::*;
        match self {
            NotGet { method } => write!(
                f,
                "a WebSocket handshake must use GET, not {method} (RFC 6455 § 4.1)"
            ),
            OldHttp { version } => write!(
                f,
                "a WebSocket handshake needs HTTP/1.1 or later, not {version} (RFC 6455 § 4.1)"
            ),
            NoHost => f.write_str("the request has no Host header field (RFC 6455 § 4.1)"),
            NoUpgrade => f.write_str(
                "no \"Upgrade: websocket\" header field: this is a plain HTTP request, not a \
                 WebSocket handshake",
            ),
            NoConnectionUpgrade => f.write_str(
                "the Connection header field does not list \"Upgrade\" (RFC 6455 § 4.1)",
            ),
            NoKey => f.write_str("no Sec-WebSocket-Key header field (RFC 6455 § 4.1)"),
            DuplicateKey => {
                f.write_str("Sec-WebSocket-Key appears more than once (RFC 6455 § 11.3.1)")
            }
            BadKey { why } => write!(f, "bad Sec-WebSocket-Key: {why}"),
            NoVersion => f.write_str("no Sec-WebSocket-Version header field (RFC 6455 § 4.1)"),
            UnsupportedVersion { got } => write!(
                f,
                "Sec-WebSocket-Version {got:?} is not supported; this server speaks 13 \
                 (RFC 6455 § 4.4)"
            ),
            BadProtocols { why } => write!(f, "bad Sec-WebSocket-Protocol: {why}"),
            BadExtensions { why } => write!(f, "bad Sec-WebSocket-Extensions: {why}"),
        }
    }
}

impl std::error::Error for ClientHandshakeError {}

/// One extension in a `Sec-WebSocket-Extensions` field, with its parameters.
/// RFC 6455 § 9.1: `extension = extension-token *( ";" extension-param )`,
/// `extension-param = token [ "=" (token | quoted-string) ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            match value {
                Some(v) => write!(f, "; {name}={v}")?,
                None => write!(f, "; {name}")?,
            }
        }
        Ok(())
    }
}

/// Reads a `Sec-WebSocket-Extensions` value: a comma-separated list of extensions, each
/// with `;`-separated parameters. A quoted parameter value is unquoted, and must then be
/// a token (RFC 6455 § 9.1).
pub fn parse_extensions(value: &str) -> Result<Vec<Extension>, &'static str> {
    let b = value.as_bytes();
    let mut i = 0;
    let ows = |i: &mut usize| {
        while matches!(b.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> Option<String> {
        let start = *i;
        while b.get(*i).is_some_and(|&c| http::is_tchar(c)) {
            *i += 1;
        }
        (*i > start).then(|| value[start..*i].to_string())
    };
    let mut out = Vec::new();
    loop {
        // Empty list elements (", ,") are allowed and skipped (RFC 9110 § 5.6.1).
        while matches!(b.get(i), Some(b' ' | b'\t' | b',')) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let name = token(&mut i).ok_or("an extension name must be a token")?;
        let mut params = Vec::new();
        ows(&mut i);
        while b.get(i) == Some(&b';') {
            i += 1;
            ows(&mut i);
            let pname = token(&mut i).ok_or("a parameter name must be a token")?;
            ows(&mut i);
            let mut pvalue = None;
            if b.get(i) == Some(&b'=') {
                i += 1;
                ows(&mut i);
                let v = if b.get(i) == Some(&b'"') {
                    i += 1;
                    let mut v = String::new();
                    loop {
                        match b.get(i) {
                            None => return Err("a quoted parameter value is not closed"),
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(b'\\') if i + 1 < b.len() => {
                                v.push(char::from(b[i + 1]));
                                i += 2;
                            }
                            Some(&c) => {
                                v.push(char::from(c));
                                i += 1;
                            }
                        }
                    }
                    if !http::is_token(&v) {
                        return Err("a quoted parameter value must be a token once unquoted");
                    }
                    v
                } else {
                    token(&mut i).ok_or("a parameter value must be a token or quoted")?
                };
                pvalue = Some(v);
                ows(&mut i);
            }
            params.push((pname, pvalue));
        }
        match b.get(i) {
            None | Some(b',') => out.push(Extension { name, params }),
            Some(_) => return Err("expected \",\" or \";\" after an extension"),
        }
    }
}

/// The subprotocol a server picks: the first of `supported` (in the server's order of
/// preference) that the client offered. Names match exactly, case included.
/// RFC 6455 § 4.2.2: the server selects "one or none of the acceptable protocols".
pub fn select_subprotocol<'a>(offered: &[String], supported: &[&'a str]) -> Option<&'a str> {
    supported
        .iter()
        .copied()
        .find(|s| offered.iter().any(|o| o == s))
}

/// A valid client handshake, read by [`validate_client_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    /// The request-target: the WebSocket's path and query.
    pub target: String,
    pub host: String,
    /// Set by browsers: the page's origin, which a server may check.
    pub origin: Option<String>,
    pub key: String,
    /// [`accept_key`] of `key`, for the 101 response.
    pub accept: String,
    /// Subprotocols offered, in the client's order.
    pub protocols: Vec<String>,
    /// Extensions offered, in the client's order.
    pub extensions: Vec<Extension>,
}

impl ClientHandshake {
    /// Whether the client offered the extension `name` (e.g. `permessage-deflate`).
    pub fn offers_extension(&self, name: &str) -> bool {
        self.extensions
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// The server's 101 Switching Protocols with `protocol` chosen (see
    /// [`select_subprotocol`]). Offered extensions are declined by not echoing them
    /// (RFC 6455 § 9.1): after this response no extension is in use.
    pub fn accept_response(&self, protocol: Option<&str>) -> Response {
        let mut resp = Response::new(101)
            .with_header(http::name::UPGRADE, "websocket")
            .with_header(http::name::CONNECTION, "Upgrade")
            .with_header(http::name::SEC_WEBSOCKET_ACCEPT, self.accept.clone());
        if let Some(p) = protocol {
            resp.headers.push(http::name::SEC_WEBSOCKET_PROTOCOL, p);
        }
        resp
    }
}

/// Checks a client's opening handshake as a server must (RFC 6455 § 4.2.1): GET,
/// HTTP/1.1 or later, `Host`, `Upgrade: websocket` and `Connection: Upgrade` (tokens,
/// any case), a `Sec-WebSocket-Key` that is base64 of 16 bytes, and
/// `Sec-WebSocket-Version: 13`.
pub fn validate_client_request(req: &Request) -> Result<ClientHandshake, ClientHandshakeError> {
    use ClientHandshakeError::*;
    use http::name;
    let h = &req.headers;
    if req.method != "GET" {
        return Err(NotGet {
            method: req.method.clone(),
        });
    }
    if req.version < http::Version::HTTP_1_1 {
        return Err(OldHttp {
            version: req.version,
        });
    }
    let host = h.get(name::HOST).ok_or(NoHost)?.to_string();
    if !h.has_token(name::UPGRADE, "websocket") {
        return Err(NoUpgrade);
    }
    if !h.has_token(name::CONNECTION, "Upgrade") {
        return Err(NoConnectionUpgrade);
    }
    let key = match h.count(name::SEC_WEBSOCKET_KEY) {
        0 => return Err(NoKey),
        1 => h.get(name::SEC_WEBSOCKET_KEY).unwrap_or_default(),
        _ => return Err(DuplicateKey),
    };
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => {}
        Ok(_) => {
            return Err(BadKey {
                why: "it must be base64 of exactly 16 bytes (24 characters ending in ==)",
            });
        }
        Err(_) => {
            return Err(BadKey {
                why: "it is not valid base64",
            });
        }
    }
    let versions: Vec<&str> = h.get_all(name::SEC_WEBSOCKET_VERSION).collect();
    match versions.as_slice() {
        [] => return Err(NoVersion),
        [v] if *v == VERSION => {}
        _ => {
            return Err(UnsupportedVersion {
                got: versions.join(", "),
            });
        }
    }
    let mut protocols: Vec<String> = Vec::new();
    for p in h.list(name::SEC_WEBSOCKET_PROTOCOL) {
        if !http::is_token(p) {
            return Err(BadProtocols {
                why: "each subprotocol must be a token (no spaces, quotes or separators)",
            });
        }
        if protocols.iter().any(|q| q == p) {
            return Err(BadProtocols {
                why: "a subprotocol is listed twice (RFC 6455 § 4.1: they MUST be unique)",
            });
        }
        protocols.push(p.to_string());
    }
    let mut extensions = Vec::new();
    for v in h.get_all(name::SEC_WEBSOCKET_EXTENSIONS) {
        extensions.extend(parse_extensions(v).map_err(|why| BadExtensions { why })?);
    }
    Ok(ClientHandshake {
        target: req.target.clone(),
        host,
        origin: h.get(name::ORIGIN).map(str::to_string),
        key: key.to_string(),
        accept: accept_key(key),
        protocols,
        extensions,
    })
}

/// What was wrong with a server's answer to the client's handshake. Every case means the
/// client must fail the connection (RFC 6455 § 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHandshakeError {
    /// The status was not 101: e.g. 400 or 426 (the server refused), 401 (needs
    /// authentication), 3xx (redirect), 200 (not a WebSocket server at all).
    NotSwitching {
        status: u16,
        reason: String,
    },
    NoUpgrade,
    NoConnectionUpgrade,
    NoAccept,
    /// `Sec-WebSocket-Accept` is not the hash of the key this client sent.
    WrongAccept {
        expected: String,
        got: String,
    },
    /// A subprotocol the client did not offer (or several).
    UnrequestedProtocol {
        protocol: String,
    },
    /// An extension the client did not offer.
    UnrequestedExtension {
        name: String,
    },
    BadExtensions {
        why: &'static str,
    },
}

impl fmt::Display for ServerHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ServerHandshakeError::*;
        match self {
            NotSwitching { status, reason } => write!(
                f,
                "the server answered {status} {reason}, not 101 Switching Protocols"
            ),
            NoUpgrade => f.write_str("the 101 response has no \"Upgrade: websocket\""),
            NoConnectionUpgrade => f.write_str("the 101 response has no \"Connection: Upgrade\""),
            NoAccept => f.write_str("the 101 response has no Sec-WebSocket-Accept"),
            WrongAccept { expected, got } => write!(
                f,
                "Sec-WebSocket-Accept is {got:?}, but the key sent hashes to {expected:?} \
                 (RFC 6455 § 4.1)"
            ),
            UnrequestedProtocol { protocol } => write!(
                f,
                "the server chose subprotocol {protocol:?}, which the client did not offer"
            ),
            UnrequestedExtension { name } => write!(
                f,
                "the server uses extension {name:?}, which the client did not offer"
            ),
            BadExtensions { why } => write!(f, "bad Sec-WebSocket-Extensions: {why}"),
        }
    }
}

impl std::error::Error for ServerHandshakeError {}

/// What the server agreed to, read by [`validate_server_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHandshake {
    pub protocol: Option<String>,
    pub extensions: Vec<Extension>,
}

/// Checks the server's answer as a client must (RFC 6455 § 4.1): status 101,
/// `Upgrade: websocket`, `Connection: Upgrade`, the accept value matching `key` (the key
/// this client sent), and no subprotocol or extension the client did not offer.
pub fn validate_server_response(
    resp: &Response,
    key: &str,
    offered_protocols: &[&str],
    offered_extensions: &[&str],
) -> Result<ServerHandshake, ServerHandshakeError> {
    use ServerHandshakeError::*;
    use http::name;
    let h = &resp.headers;
    if resp.status != 101 {
        return Err(NotSwitching {
            status: resp.status,
            reason: resp.reason.clone(),
        });
    }
    if !h.has_token(name::UPGRADE, "websocket") {
        return Err(NoUpgrade);
    }
    if !h.has_token(name::CONNECTION, "Upgrade") {
        return Err(NoConnectionUpgrade);
    }
    let got = h.get(name::SEC_WEBSOCKET_ACCEPT).ok_or(NoAccept)?;
    let expected = accept_key(key);
    if got != expected {
        return Err(WrongAccept {
            expected,
            got: got.to_string(),
        });
    }
    let chosen: Vec<&str> = h.list(name::SEC_WEBSOCKET_PROTOCOL).collect();
    let protocol = match chosen.as_slice() {
        [] => None,
        [p] if offered_protocols.contains(p) => Some(p.to_string()),
        _ => {
            return Err(UnrequestedProtocol {
                protocol: chosen.join(", "),
            });
        }
    };
    let mut extensions = Vec::new();
    for v in h.get_all(name::SEC_WEBSOCKET_EXTENSIONS) {
        for e in parse_extensions(v).map_err(|why| BadExtensions { why })? {
            if !offered_extensions
                .iter()
                .any(|o| o.eq_ignore_ascii_case(&e.name))
            {
                return Err(UnrequestedExtension { name: e.name });
            }
            extensions.push(e);
        }
    }
    Ok(ServerHandshake {
        protocol,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    use crate::wire::http::examples::{
        RFC6455_REQUEST as RFC_REQUEST, RFC6455_RESPONSE as RFC_RESPONSE,
    };

    fn rfc_request() -> Request {
        http::parse_request(RFC_REQUEST).unwrap().unwrap().0
    }

    #[test]
    fn accept_key_rfc_example() {
        assert_eq!(accept_key(RFC_KEY), RFC_ACCEPT);
        // RFC 6455 § 4.1's nonce example: 0x01 0x02 … 0x10.
        let nonce: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        assert_eq!(client_key(nonce), "AQIDBAUGBwgJCgsMDQ4PEA==");
    }

    #[test]
    fn rfc_handshake_both_sides() {
        let hs = validate_client_request(&rfc_request()).unwrap();
        assert_eq!(hs.target, "/chat");
        assert_eq!(hs.host, "server.netlab.test");
        assert_eq!(hs.origin.as_deref(), Some("http://netlab.test"));
        assert_eq!(hs.key, RFC_KEY);
        assert_eq!(hs.accept, RFC_ACCEPT);
        assert_eq!(hs.protocols, ["chat", "superchat"]);
        let chosen = select_subprotocol(&hs.protocols, &["superchat", "chat"]);
        assert_eq!(chosen, Some("superchat"));
        assert_eq!(select_subprotocol(&hs.protocols, &["Chat"]), None);
        let chosen = select_subprotocol(&hs.protocols, &["chat"]);
        let resp = hs.accept_response(chosen);
        assert_eq!(resp.to_bytes(), RFC_RESPONSE);

        let (resp, _) = http::parse_response(RFC_RESPONSE).unwrap().unwrap();
        let ok = validate_server_response(&resp, RFC_KEY, &["chat", "superchat"], &[]).unwrap();
        assert_eq!(ok.protocol.as_deref(), Some("chat"));
        assert!(ok.extensions.is_empty());

        // The client's own request, built here, is accepted by the server side.
        let req = client_request(
            "server.netlab.test",
            "/chat",
            RFC_KEY,
            &["chat", "superchat"],
        );
        let bytes = req.to_bytes();
        let (parsed, _) = http::parse_request(&bytes).unwrap().unwrap();
        assert_eq!(validate_client_request(&parsed).unwrap().accept, RFC_ACCEPT);
    }

    fn with(req: &Request, name: &str, value: Option<&str>) -> Request {
        let mut r = req.clone();
        r.headers.remove(name);
        if let Some(v) = value {
            r.headers.push(name, v);
        }
        r
    }

    #[test]
    fn client_request_errors() {
        use ClientHandshakeError::*;
        let ok = rfc_request();
        let check = |r: &Request| validate_client_request(r).unwrap_err();

        let e = check(&Request {
            method: "POST".into(),
            ..ok.clone()
        });
        assert_eq!(
            (e.clone(), e.status()),
            (
                NotGet {
                    method: "POST".into()
                },
                400
            )
        );
        let e = check(&Request {
            version: http::Version::HTTP_1_0,
            ..ok.clone()
        });
        assert_eq!(e.status(), 400);
        assert_eq!(check(&with(&ok, "Host", None)), NoHost);
        assert_eq!(check(&with(&ok, "Upgrade", None)), NoUpgrade);
        assert_eq!(check(&with(&ok, "Upgrade", Some("h2c"))), NoUpgrade);
        assert_eq!(
            check(&with(&ok, "Connection", Some("keep-alive"))),
            NoConnectionUpgrade
        );
        assert_eq!(check(&with(&ok, "Sec-WebSocket-Key", None)), NoKey);
        let mut two = ok.clone();
        two.headers.push("sec-websocket-key", RFC_KEY);
        assert_eq!(check(&two), DuplicateKey);
        assert!(matches!(
            check(&with(&ok, "Sec-WebSocket-Key", Some("not base64!"))),
            BadKey { .. }
        ));
        // 15 bytes.
        assert!(matches!(
            check(&with(
                &ok,
                "Sec-WebSocket-Key",
                Some("AQIDBAUGBwgJCgsMDQ4P")
            )),
            BadKey { .. }
        ));
        assert_eq!(check(&with(&ok, "Sec-WebSocket-Version", None)), NoVersion);
        let e = check(&with(&ok, "Sec-WebSocket-Version", Some("8")));
        assert_eq!(e, UnsupportedVersion { got: "8".into() });
        assert_eq!(e.status(), 426);
        let resp = e.response();
        assert_eq!(resp.status, 426);
        assert_eq!(resp.headers.get("Sec-WebSocket-Version"), Some("13"));
        assert_eq!(resp.headers.get("Upgrade"), Some("websocket"));
        assert!(
            resp.to_bytes()
                .starts_with(b"HTTP/1.1 426 Upgrade Required\r\n")
        );
        let resp = NoKey.response();
        assert_eq!(resp.status, 400);
        assert_eq!(resp.headers.get("Sec-WebSocket-Version"), None);
        assert!(matches!(
            check(&with(&ok, "Sec-WebSocket-Protocol", Some("chat, chat"))),
            BadProtocols { .. }
        ));
        assert!(matches!(
            check(&with(&ok, "Sec-WebSocket-Protocol", Some("a b"))),
            BadProtocols { .. }
        ));
        assert!(matches!(
            check(&with(
                &ok,
                "Sec-WebSocket-Extensions",
                Some("permessage-deflate; =")
            )),
            BadExtensions { .. }
        ));
        for e in [NoHost, NoUpgrade, DuplicateKey] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn tokens_match_any_case_and_lists() {
        // Firefox sends "Connection: keep-alive, Upgrade"; case does not matter.
        let r = with(&rfc_request(), "Connection", Some("keep-alive, UPGRADE"));
        let r = with(&r, "Upgrade", Some("WebSocket"));
        assert!(validate_client_request(&r).is_ok());
    }

    #[test]
    fn extension_offers() {
        // What Chrome and Firefox send.
        let exts = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(
            exts,
            [Extension {
                name: "permessage-deflate".into(),
                params: vec![("client_max_window_bits".into(), None)],
            }]
        );
        let exts = parse_extensions(
            "permessage-deflate; server_max_window_bits=10 ; client_max_window_bits=\"12\", \
             , x-webkit-deflate-frame",
        )
        .unwrap();
        assert_eq!(exts.len(), 2);
        assert_eq!(
            exts[0].params,
            [
                ("server_max_window_bits".to_string(), Some("10".to_string())),
                ("client_max_window_bits".to_string(), Some("12".to_string())),
            ]
        );
        assert_eq!(
            exts[0].to_string(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"
        );
        assert_eq!(parse_extensions(""), Ok(vec![]));
        for bad in [
            "permessage-deflate; a=\"unclosed",
            "permessage-deflate; a=\"not a token\"",
            "; a",
            "ext; =1",
            "ext; a=",
            "ext x",
            "ext; a=1 b",
        ] {
            assert!(parse_extensions(bad).is_err(), "{bad}");
        }

        // A server declines permessage-deflate by not echoing it.
        let r = with(
            &rfc_request(),
            "Sec-WebSocket-Extensions",
            Some("permessage-deflate; client_max_window_bits"),
        );
        let hs = validate_client_request(&r).unwrap();
        assert!(hs.offers_extension("permessage-deflate"));
        let resp = hs.accept_response(None);
        assert!(!resp.headers.contains("Sec-WebSocket-Extensions"));
        assert!(!resp.headers.contains("Sec-WebSocket-Protocol"));
    }

    #[test]
    fn server_response_errors() {
        use ServerHandshakeError::*;
        let (ok, _) = http::parse_response(RFC_RESPONSE).unwrap().unwrap();
        let check =
            |r: &Response| validate_server_response(r, RFC_KEY, &["chat"], &["permessage-deflate"]);
        assert!(check(&ok).is_ok());
        let mut r = ok.clone();
        r.status = 426;
        r.reason = "Upgrade Required".into();
        assert_eq!(
            check(&r),
            Err(NotSwitching {
                status: 426,
                reason: "Upgrade Required".into()
            })
        );
        let mut r = ok.clone();
        r.headers.remove("upgrade");
        assert_eq!(check(&r), Err(NoUpgrade));
        let mut r = ok.clone();
        r.headers.set("Connection", "close");
        assert_eq!(check(&r), Err(NoConnectionUpgrade));
        let mut r = ok.clone();
        r.headers.remove("Sec-WebSocket-Accept");
        assert_eq!(check(&r), Err(NoAccept));
        let e = validate_server_response(&ok, "AQIDBAUGBwgJCgsMDQ4PEA==", &["chat"], &[]);
        assert!(matches!(e, Err(WrongAccept { .. })));
        let mut r = ok.clone();
        r.headers.set("Sec-WebSocket-Protocol", "superchat");
        assert!(matches!(check(&r), Err(UnrequestedProtocol { .. })));
        r.headers.set("Sec-WebSocket-Protocol", "chat, chat");
        assert!(matches!(check(&r), Err(UnrequestedProtocol { .. })));
        let mut r = ok.clone();
        r.headers.push("Sec-WebSocket-Extensions", "x-custom");
        assert_eq!(
            check(&r),
            Err(UnrequestedExtension {
                name: "x-custom".into()
            })
        );
        let mut r = ok.clone();
        r.headers
            .push("Sec-WebSocket-Extensions", "permessage-deflate");
        assert_eq!(check(&r).unwrap().extensions.len(), 1);
    }
}

/// Real bytes: the opening handshake of `captures/websocket.pcap` (`netlab ws connect`
/// against Python's websockets server, see captures/README.md): frame 4's Upgrade
/// request and frame 6's 101, each the TCP payload after 66 bytes of headers.
#[cfg(test)]
mod real_bytes {
    use super::*;

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: 7p1rAe62qJsBkrm0Z8Xvhw==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: T0GAwAqlLxvtVLUuXrEbTYoug3A=\r\n\r\n";

    #[test]
    fn a_real_upgrade_and_its_101() {
        let (req, _) = http::parse_request(REQUEST).unwrap().unwrap();
        let hs = validate_client_request(&req).unwrap();
        assert_eq!(
            (hs.target.as_str(), hs.host.as_str()),
            ("/", "127.0.0.1:8080")
        );
        assert_eq!(hs.key, "7p1rAe62qJsBkrm0Z8Xvhw==");
        assert!(hs.protocols.is_empty() && hs.extensions.is_empty() && hs.origin.is_none());
        // The server's Sec-WebSocket-Accept is the SHA-1 of the key and the GUID.
        assert_eq!(hs.accept, "T0GAwAqlLxvtVLUuXrEbTYoug3A=");
        assert_eq!(accept_key(&hs.key), hs.accept);
        let (resp, _) = http::parse_response(RESPONSE).unwrap().unwrap();
        assert_eq!(resp.status, 101);
        let agreed = validate_server_response(&resp, &hs.key, &[], &[]).unwrap();
        assert_eq!(agreed.protocol, None);
        // Netlab's own 101 for that request is the same bytes.
        assert_eq!(hs.accept_response(None).to_bytes(), RESPONSE);
        // The same response does not fit another key.
        assert!(validate_server_response(&resp, "dGhlIHNhbXBsZSBub25jZQ==", &[], &[]).is_err());
    }
}
