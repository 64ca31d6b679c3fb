//! The WebSocket session engine (RFC 6455 § 5–§ 7), without I/O: bytes from the peer
//! go in ([`Session::receive_with`]), and events come out in order — frames to write,
//! messages, pings, pongs and the end of the connection. [`server`] runs sessions on
//! the event loop (`netlab ws serve`), [`client`] one over a blocking socket
//! (`netlab ws connect`); a test drives two sessions against each other in memory.
//!
//! What the engine does for its owner:
//! - parses frame headers as bytes arrive ([`ws::parse_header`]); a whole unfragmented
//!   frame is unmasked where it lies and its payload lent to the owner (no copy, no
//!   allocation: the common case); anything else streams through an [`Assembler`],
//!   unmasked piece by piece ([`ws::apply_mask`]), so an oversized message (1009) or a
//!   bad UTF-8 byte (1007) is refused before the rest arrives. Both ways reach the same
//!   verdicts, whatever the reads (the fuzz checks assert it);
//! - answers a ping with a pong carrying the same bytes (§ 5.5.2);
//! - the closing handshake (§ 5.5.1, § 7): open → closing (we sent a close) → closed;
//!   a close from the peer is answered with a close echoing its code;
//! - fails the connection on any breach of the protocol, with the close code the
//!   assembler names (§ 7.1.7): 1002, 1007 or 1009;
//! - masks every frame a client sends with a fresh key (§ 5.3), drawn from the
//!   [`Rng`] it is given: the OS's CSPRNG in the commands, a seeded one in tests.
//!
//! Imports: `std`, [`crate::wire::websocket`] and [`crate::random`] only ([`server`]
//! adds the event loop of `net` and the trace's hook, [`client`] `net`'s HTTP upgrade
//! and the trace's hook).

pub mod client;
pub mod fuzz;
pub mod server;

use crate::random::Rng;
use crate::wire::websocket::{
    self as ws, Assembler, Event, Frame, FrameError, FrameHeader, Message, OpCode, Role, Rules,
    close_code,
};

/// How much of each frame's payload [`Action::Received`] keeps for a trace line.
pub use crate::wire::websocket::PREVIEW_LEN;

/// Where the closing handshake stands (RFC 6455 § 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's; we send nothing more
    /// (§ 5.5.1: "the endpoint MUST NOT send any more data frames").
    Closing,
    /// Both close frames have passed, or the connection failed: the TCP connection
    /// should be closed now (by the server first, § 7.1.1).
    Closed,
}

/// What the session asks its owner to do or report, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this frame (already masked for a client; [`Frame::encode`] it).
    Send(Frame),
    /// A frame arrived (for a trace): its header and the first [`PREVIEW_LEN`] bytes of
    /// its unmasked payload. Comes before the event the frame completes.
    Received {
        header: FrameHeader,
        preview: Vec<u8>,
    },
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The closing handshake is over. `code` is the peer's (None: its close frame had
    /// no body, an API says 1005); `by_peer` is true when the peer closed first.
    Closed {
        code: Option<u16>,
        reason: String,
        by_peer: bool,
    },
    /// The peer broke the protocol: the close frame with `close_code` has been queued
    /// (a [`Action::Send`] just before), and the connection should be dropped.
    Failed {
        close_code: u16,
        why: FrameError,
    },
}

/// What [`Session::receive_with`] reports, in order, borrowing the bytes it can from
/// the input: a whole unfragmented frame is unmasked where it lies and its payload
/// lent out, with no copy and no allocation — the path every small message takes.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A frame arrived (for a trace): its header and the first [`PREVIEW_LEN`] bytes of
    /// its unmasked payload. Comes before the event the frame completes.
    Frame {
        header: FrameHeader,
        preview: &'a [u8],
    },
    Text(&'a str),
    Binary(&'a [u8]),
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    /// Write this control frame: a pong, the close echo, or the close a failure sends
    /// (already masked for a client).
    Reply(Frame),
    /// See [`Action::Closed`].
    Closed {
        code: Option<u16>,
        reason: &'a str,
        by_peer: bool,
    },
    /// See [`Action::Failed`]; the close frame was the [`Incoming::Reply`] before.
    Failed {
        close_code: u16,
        why: FrameError,
    },
}

/// The frame whose payload is arriving.
#[derive(Debug)]
struct Partial {
    header: FrameHeader,
    /// Payload bytes received so far.
    offset: u64,
    preview: [u8; PREVIEW_LEN],
    preview_len: usize,
}

/// One end of a WebSocket connection after the opening handshake.
#[derive(Debug)]
pub struct Session {
    role: Role,
    state: State,
    rules: Rules,
    max_message_len: u64,
    assembler: Assembler,
    /// Received bytes not yet taken: part of a frame header (at most 13 bytes).
    pending: Vec<u8>,
    frame: Option<Partial>,
    rng: Rng,
}

impl Session {
    /// A session for `role` that accepts messages of at most `max_message_len` bytes.
    pub fn new(role: Role, max_message_len: usize, rng: Rng) -> Self {
        // A server receives frames from a client, which must be masked, and vice versa.
        let rules = match role {
            Role::Server => Rules::from_client(),
            Role::Client => Rules::from_server(),
        };
        Session {
            role,
            state: State::Open,
            rules,
            max_message_len: max_message_len as u64,
            assembler: Assembler::new(rules, max_message_len),
            pending: Vec::new(),
            frame: None,
            rng,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// `frame` as this end sends it: masked with a fresh key by a client (§ 5.3), never
    /// by a server (§ 5.1).
    fn outgoing(&mut self, frame: Frame) -> Frame {
        match self.role {
            Role::Client => frame.with_mask(self.rng.masking_key()),
            Role::Server => Frame {
                masking_key: None,
                ..frame
            },
        }
    }

    /// The frame to write for a message or ping, or None once a close was sent or
    /// received (§ 5.5.1: no data frames after a close).
    pub fn send(&mut self, frame: Frame) -> Option<Frame> {
        (self.state == State::Open).then(|| self.outgoing(frame))
    }

    pub fn send_text(&mut self, text: &str) -> Option<Frame> {
        self.send(Frame::text(text))
    }

    pub fn send_binary(&mut self, data: impl Into<Vec<u8>>) -> Option<Frame> {
        self.send(Frame::binary(data))
    }

    /// Starts the closing handshake: the close frame to write (None if one was sent
    /// already). The session is then [`State::Closing`] until the peer's close arrives.
    pub fn close(&mut self, code: u16, reason: &str) -> Option<Frame> {
        if self.state != State::Open {
            return None;
        }
        self.state = State::Closing;
        Some(self.outgoing(Frame::close(Some(code), reason)))
    }

    /// The peer closed the TCP connection. Returns the report when that ended a
    /// session that was not closed yet: an abnormal closure (1006, § 7.1.5).
    pub fn eof(&mut self) -> Option<Action> {
        if self.state == State::Closed {
            return None;
        }
        self.state = State::Closed;
        Some(Action::Closed {
            code: Some(close_code::ABNORMAL),
            reason: "the TCP connection closed without a close frame".to_string(),
            by_peer: true,
        })
    }

    /// Takes bytes from the peer and returns what they amount to, owned (see
    /// [`Session::receive_with`] for the same without copies).
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        let mut input = bytes.to_vec();
        self.receive_with(&mut input, &mut |ev| out.push(Action::from(ev)));
        out
    }

    /// Takes bytes from the peer and reports, in order, what they amount to. `input`
    /// is unmasked in place. Bytes after the connection closed or failed are ignored
    /// (§ 7.1.1: after the closing handshake the TCP connection ends; nothing more is
    /// read).
    pub fn receive_with(&mut self, input: &mut [u8], on: &mut impl FnMut(Incoming<'_>)) {
        let mut input = input;
        while self.state != State::Closed && !input.is_empty() {
            if self.frame.is_some() {
                let n = self.payload(input, on);
                input = &mut input[n..];
                continue;
            }
            if !self.pending.is_empty() {
                // Header bytes are collected in `pending` until a whole header is in.
                let had = self.pending.len();
                let take = input.len().min(ws::MAX_HEADER_LEN);
                self.pending.extend_from_slice(&input[..take]);
                match ws::parse_header(&self.pending) {
                    Err(why) => return self.fail(why, on),
                    Ok(None) => {
                        input = &mut input[take..];
                    }
                    Ok(Some((header, len))) => {
                        input = &mut input[len - had..];
                        self.pending.clear();
                        self.begin(header, on);
                    }
                }
                continue;
            }
            let (header, hl) = match ws::parse_header(input) {
                Err(why) => return self.fail(why, on),
                Ok(None) => {
                    // Less than a header: at most 13 bytes to keep.
                    self.pending.extend_from_slice(input);
                    return;
                }
                Ok(Some(h)) => h,
            };
            let whole = hl as u64 + header.payload_len;
            if self.fast(&header) && input.len() as u64 >= whole {
                let (frame, rest) = std::mem::take(&mut input).split_at_mut(whole as usize);
                input = rest;
                self.whole_message(header, &mut frame[hl..], on);
            } else {
                input = &mut input[hl..];
                self.begin(header, on);
            }
        }
    }

    /// Whether a frame with `h` may take the short way: a whole unfragmented text or
    /// binary frame that breaks no rule — exactly the frames the [`Assembler`] would
    /// take whole without a word.
    fn fast(&self, h: &FrameHeader) -> bool {
        h.fin
            && matches!(h.opcode, OpCode::Text | OpCode::Binary)
            && h.payload_len <= self.max_message_len
            && !self.assembler.in_message()
            && !self.assembler.in_frame()
            && self.assembler.failure().is_none()
            && h.validate(&self.rules).is_ok()
    }

    /// A whole message in one frame, still masked in `payload`.
    fn whole_message(
        &mut self,
        header: FrameHeader,
        payload: &mut [u8],
        on: &mut impl FnMut(Incoming<'_>),
    ) {
        if let Some(key) = header.masking_key {
            ws::apply_mask(payload, key, 0);
        }
        if header.opcode == OpCode::Text {
            if let Ok(text) = std::str::from_utf8(payload) {
                on(Incoming::Frame {
                    header,
                    preview: &payload[..payload.len().min(PREVIEW_LEN)],
                });
                on(Incoming::Text(text));
                return;
            }
            // Not UTF-8: the assembler names the failure, as it would have byte by
            // byte (same code, same position).
            let ev = self
                .assembler
                .begin_frame(&header)
                .or_else(|| self.assembler.payload(payload).1);
            on(Incoming::Frame {
                header,
                preview: &payload[..payload.len().min(PREVIEW_LEN)],
            });
            if let Some(ev) = ev {
                self.event(ev, on);
            }
            return;
        }
        on(Incoming::Frame {
            header,
            preview: &payload[..payload.len().min(PREVIEW_LEN)],
        });
        on(Incoming::Binary(payload));
    }

    fn begin(&mut self, header: FrameHeader, on: &mut impl FnMut(Incoming<'_>)) {
        match self.assembler.begin_frame(&header) {
            Some(ev) => {
                on(Incoming::Frame {
                    header,
                    preview: &[],
                });
                self.event(ev, on);
            }
            None => {
                self.frame = Some(Partial {
                    header,
                    offset: 0,
                    preview: [0; PREVIEW_LEN],
                    preview_len: 0,
                });
            }
        }
    }

    /// Feeds payload bytes of the current frame (unmasking them in place); returns how
    /// many were taken.
    fn payload(&mut self, input: &mut [u8], on: &mut impl FnMut(Incoming<'_>)) -> usize {
        let Some(cur) = &mut self.frame else {
            return 0;
        };
        let remaining = cur.header.payload_len - cur.offset;
        let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        let chunk = &mut input[..n];
        if let Some(key) = cur.header.masking_key {
            // The offset keeps the key's phase across reads (§ 5.3: octet i with
            // key[i mod 4]).
            apply_mask_at(chunk, key, cur.offset);
        }
        let room = (PREVIEW_LEN - cur.preview_len).min(chunk.len());
        cur.preview[cur.preview_len..cur.preview_len + room].copy_from_slice(&chunk[..room]);
        cur.preview_len += room;
        cur.offset += n as u64;
        let done = cur.offset == cur.header.payload_len;
        let (_, ev) = self.assembler.payload(chunk);
        if done || ev.is_some() {
            if let Some(cur) = self.frame.take() {
                on(Incoming::Frame {
                    header: cur.header,
                    preview: &cur.preview[..cur.preview_len],
                });
            }
            if let Some(ev) = ev {
                self.event(ev, on);
            }
        }
        n
    }

    fn event(&mut self, ev: Event, on: &mut impl FnMut(Incoming<'_>)) {
        match ev {
            Event::Message(Message::Text(t)) => on(Incoming::Text(&t)),
            Event::Message(Message::Binary(b)) => on(Incoming::Binary(&b)),
            Event::Ping(data) => {
                // § 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
                // frame in response ... unless it already received a Close frame."
                if let Some(pong) = self.send(Frame::pong(data.clone())) {
                    on(Incoming::Reply(pong));
                }
                on(Incoming::Ping(&data));
            }
            Event::Pong(data) => on(Incoming::Pong(&data)),
            Event::Close { code, reason } => {
                let by_peer = self.state == State::Open;
                if by_peer {
                    // § 5.5.1: "the endpoint typically echos the status code it
                    // received."
                    let echo = self.outgoing(Frame::close(code, ""));
                    on(Incoming::Reply(echo));
                }
                self.state = State::Closed;
                self.frame = None;
                on(Incoming::Closed {
                    code,
                    reason: &reason,
                    by_peer,
                });
            }
            Event::ProtocolError { why, .. } => self.fail(why, on),
        }
    }

    /// § 7.1.7 "Fail the WebSocket Connection": send a close with the code, if the
    /// closing handshake has not begun, and stop.
    fn fail(&mut self, why: FrameError, on: &mut impl FnMut(Incoming<'_>)) {
        let code = why.close_code();
        if self.state == State::Open {
            let frame = self.outgoing(Frame::close(Some(code), &why.to_string()));
            on(Incoming::Reply(frame));
        }
        self.state = State::Closed;
        self.frame = None;
        self.pending.clear();
        on(Incoming::Failed {
            close_code: code,
            why,
        });
    }
}

impl From<Incoming<'_>> for Action {
    fn from(ev: Incoming<'_>) -> Action {
        match ev {
            Incoming::Frame { header, preview } => Action::Received {
                header,
                preview: preview.to_vec(),
            },
            Incoming::Text(t) => Action::Message(Message::Text(t.to_string())),
            Incoming::Binary(b) => Action::Message(Message::Binary(b.to_vec())),
            Incoming::Ping(d) => Action::Ping(d.to_vec()),
            Incoming::Pong(d) => Action::Pong(d.to_vec()),
            Incoming::Reply(f) => Action::Send(f),
            Incoming::Closed {
                code,
                reason,
                by_peer,
            } => Action::Closed {
                code,
                reason: reason.to_string(),
                by_peer,
            },
            Incoming::Failed { close_code, why } => Action::Failed { close_code, why },
        }
    }
}

/// The header of a final, unmasked frame of `len` payload bytes — what a server
/// writes before a message's payload (§ 5.2), so the payload need not be copied into
/// a [`Frame`] first. Returns the buffer and the header's length in it.
pub fn server_frame_head(opcode: OpCode, len: usize) -> ([u8; ws::MAX_HEADER_LEN], usize) {
    let mut head = [0u8; ws::MAX_HEADER_LEN];
    let h = FrameHeader::new(true, opcode, len as u64, None);
    // A 14-byte buffer holds every header, so this cannot fail.
    let n = ws::emit_header(&h, &mut head).unwrap_or(0);
    (head, n)
}

/// [`ws::apply_mask`] with a payload offset that may exceed `usize` on a 32-bit host:
/// only the offset modulo 4 matters.
fn apply_mask_at(data: &mut [u8], key: [u8; 4], offset: u64) {
    ws::apply_mask(data, key, (offset % 4) as usize);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Session, Session) {
        (
            Session::new(Role::Client, 1 << 20, Rng::seeded(1)),
            Session::new(Role::Server, 1 << 20, Rng::seeded(2)),
        )
    }

    fn sent(actions: &[Action]) -> Vec<Frame> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    fn events(actions: Vec<Action>) -> Vec<Action> {
        actions
            .into_iter()
            .filter(|a| !matches!(a, Action::Received { .. }))
            .collect()
    }

    #[test]
    fn client_masks_with_fresh_keys_server_does_not() {
        let (mut c, mut s) = pair();
        let a = c.send_text("hi").unwrap();
        let b = c.send_text("hi").unwrap();
        assert!(a.masking_key.is_some() && b.masking_key.is_some());
        assert_ne!(a.masking_key, b.masking_key);
        assert_eq!(s.send_text("hi").unwrap().masking_key, None);
    }

    #[test]
    fn message_split_byte_by_byte() {
        let (mut c, mut s) = pair();
        let bytes = c.send_text("hello, world").unwrap().encode();
        let mut got = Vec::new();
        for b in bytes {
            got.extend(events(s.receive(&[b])));
        }
        assert_eq!(
            got,
            vec![Action::Message(Message::Text("hello, world".into()))]
        );
    }

    #[test]
    fn sixty_four_bit_length_in_chunks() {
        let (mut c, mut s) = pair();
        let data: Vec<u8> = (0..70 * 1024).map(|i| i as u8).collect();
        let bytes = c.send_binary(data.clone()).unwrap().encode();
        assert_eq!(bytes[1] & 0x7f, ws::LEN_64_MARKER);
        let mut got = Vec::new();
        for chunk in bytes.chunks(1000) {
            got.extend(events(s.receive(chunk)));
        }
        assert_eq!(got, vec![Action::Message(Message::Binary(data))]);
    }

    #[test]
    fn ping_is_answered_with_pong() {
        let (mut c, mut s) = pair();
        let ping = c.send(Frame::ping(b"abc".to_vec())).unwrap().encode();
        let acts = s.receive(&ping);
        let out = sent(&acts);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].opcode, OpCode::Pong);
        assert_eq!(out[0].payload, b"abc");
        assert!(acts.contains(&Action::Ping(b"abc".to_vec())));
    }

    #[test]
    fn close_handshake_echoes_code() {
        let (mut c, mut s) = pair();
        let close = c.close(1000, "bye").unwrap();
        assert_eq!(c.state(), State::Closing);
        assert!(c.send_text("late").is_none());
        let acts = s.receive(&close.encode());
        let echo = sent(&acts);
        assert_eq!(echo.len(), 1);
        assert_eq!(ws::parse_close(&echo[0].payload).unwrap().unwrap().0, 1000);
        assert_eq!(s.state(), State::Closed);
        let acts = events(c.receive(&echo[0].encode()));
        assert_eq!(
            acts,
            vec![Action::Closed {
                code: Some(1000),
                reason: String::new(),
                by_peer: false
            }]
        );
        assert_eq!(c.state(), State::Closed);
    }

    fn failure_code(s: &mut Session, bytes: &[u8]) -> u16 {
        let acts = s.receive(bytes);
        let close = sent(&acts);
        assert_eq!(close.len(), 1, "{acts:?}");
        let code = ws::parse_close(&close[0].payload).unwrap().unwrap().0;
        assert!(
            acts.iter()
                .any(|a| matches!(a, Action::Failed { close_code, .. } if *close_code == code))
        );
        assert_eq!(s.state(), State::Closed);
        code
    }

    #[test]
    fn unmasked_client_frame_fails_with_1002() {
        let (_, mut s) = pair();
        assert_eq!(failure_code(&mut s, &Frame::text("x").encode()), 1002);
    }

    #[test]
    fn length_msb_set_fails_with_1002() {
        let (_, mut s) = pair();
        let mut b = vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(failure_code(&mut s, &b), 1002);
    }

    #[test]
    fn invalid_utf8_fails_with_1007() {
        let (mut c, mut s) = pair();
        let f = c.send(Frame::new(OpCode::Text, vec![0x61, 0xff])).unwrap();
        assert_eq!(failure_code(&mut s, &f.encode()), 1007);
    }

    #[test]
    fn too_big_fails_with_1009_on_the_header() {
        let mut s = Session::new(Role::Server, 10, Rng::seeded(3));
        let mut c = Session::new(Role::Client, 10, Rng::seeded(4));
        let bytes = c.send_binary(vec![0u8; 11]).unwrap().encode();
        // The header alone is enough to refuse it.
        assert_eq!(failure_code(&mut s, &bytes[..6]), 1009);
    }

    #[test]
    fn reserved_opcode_fails_with_1002() {
        let (mut c, mut s) = pair();
        let f = c.send(Frame::new(OpCode::from(3), vec![])).unwrap();
        assert_eq!(failure_code(&mut s, &f.encode()), 1002);
    }

    #[test]
    fn eof_before_close_is_abnormal() {
        let (_, mut s) = pair();
        assert!(matches!(
            s.eof(),
            Some(Action::Closed {
                code: Some(1006),
                ..
            })
        ));
        assert_eq!(s.eof(), None);
    }

    #[test]
    fn a_whole_frame_is_lent_from_the_input_not_copied() {
        let (mut c, mut s) = pair();
        let mut bytes = c.send_binary(vec![5u8; 300]).unwrap().encode();
        bytes.extend(c.send_text("two").unwrap().encode());
        let range = bytes.as_ptr_range();
        let mut lent = Vec::new();
        s.receive_with(&mut bytes, &mut |ev| match ev {
            Incoming::Binary(b) => lent.push((range.contains(&b.as_ptr()), b.len())),
            Incoming::Text(t) => lent.push((range.contains(&t.as_ptr()), t.len())),
            _ => {}
        });
        assert_eq!(lent, vec![(true, 300), (true, 3)]);
    }

    #[test]
    fn a_server_frame_head_is_what_encode_writes() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let f = Frame::binary(vec![1u8; len]);
            let (head, n) = server_frame_head(OpCode::Binary, len);
            assert_eq!(&head[..n], &f.encode()[..n], "{len}");
        }
    }
}
