//! HTTP/1.1 over `std::net` sockets for the clients (`ws connect`, `socketio connect`):
//! the WebSocket opening handshake, reading a response head and a body with a deadline;
//! and for the servers on [`super::event_loop`], the connection limit and small
//! responses. The parsing itself is [`crate::wire::http`].

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::net::sockio::is_timeout;
use crate::wire::http::{self, Response};

/// How long a peer may take to send a whole head (slowloris defence).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads until `buf` holds `len` bytes (a body after its head), within `timeout`.
/// Returns false when the peer closed or was too slow.
pub fn read_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    len: usize,
    timeout: Duration,
) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut chunk = vec![0u8; 64 * 1024];
    while buf.len() < len {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        stream.set_read_timeout(Some(left))?;
        let want = (len - buf.len()).min(chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) => return Ok(false),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads a response head within `timeout`: the response and the bytes after it.
pub fn read_response(
    stream: &mut TcpStream,
    timeout: Duration,
) -> anyhow::Result<(Response, Vec<u8>)> {
    use anyhow::{Context, bail};
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if !buf.is_empty()
            && let Some((resp, n)) =
                http::parse_response(&buf).context("the server's answer is not HTTP")?
        {
            return Ok((resp, buf[n..].to_vec()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no response within {} s", timeout.as_secs());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) => bail!("the server closed the connection before its response"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => bail!("no response within {} s", timeout.as_secs()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading the response"),
        }
    }
}

/// How many connections a server serves at once. A slot is taken when a connection is
/// accepted and given back when its [`Slot`] is dropped, whichever thread holds it then.
pub struct ConnLimit {
    active: std::sync::atomic::AtomicUsize,
    max: usize,
}

/// One connection counted against a [`ConnLimit`].
pub struct Slot(std::sync::Arc<ConnLimit>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl ConnLimit {
    pub fn new(max: usize) -> std::sync::Arc<ConnLimit> {
        std::sync::Arc::new(ConnLimit {
            active: std::sync::atomic::AtomicUsize::new(0),
            max: max.max(1),
        })
    }

    /// A slot for one more connection, or `None` when `max` are being served.
    pub fn try_take(self: &std::sync::Arc<Self>) -> Option<Slot> {
        use std::sync::atomic::Ordering;
        if self.active.fetch_add(1, Ordering::SeqCst) >= self.max {
            self.active.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot(std::sync::Arc::clone(self)))
    }
}

/// What a client's WebSocket opening handshake left: the server's answer and what it
/// agreed to, the bytes that came after the `101` head, and the request's size.
pub struct Upgraded {
    pub response: Response,
    pub agreed: crate::wire::websocket::ServerHandshake,
    pub leftover: Vec<u8>,
    pub request_len: usize,
}

/// The client's side of the WebSocket opening handshake (RFC 6455 § 4.1) on a connected
/// stream: sends the Upgrade request with a key made from `nonce`, reads the answer
/// within [`HEAD_TIMEOUT`] and checks it.
pub fn websocket_upgrade(
    stream: &mut TcpStream,
    host: &str,
    target: &str,
    protocols: &[&str],
    nonce: [u8; 16],
) -> anyhow::Result<Upgraded> {
    use crate::wire::websocket as wsw;
    use anyhow::Context;
    use std::io::Write;
    let key = wsw::client_key(nonce);
    let req = wsw::client_request(host, target, &key, protocols).to_bytes();
    stream
        .write_all(&req)
        .context("cannot send the handshake")?;
    let (response, leftover) = read_response(stream, HEAD_TIMEOUT)?;
    let agreed = wsw::validate_server_response(&response, &key, protocols, &[])
        .context("the WebSocket handshake failed")?;
    Ok(Upgraded {
        response,
        agreed,
        leftover,
        request_len: req.len(),
    })
}

/// A response carrying `body` as `content_type`, with its `Content-Length`.
pub fn text_response(status: u16, content_type: &str, body: &str) -> (Response, Vec<u8>) {
    let resp = Response::new(status)
        .with_header(http::name::CONTENT_TYPE, content_type)
        .with_header(http::name::CONTENT_LENGTH, body.len().to_string());
    (resp, body.as_bytes().to_vec())
}
