//! Messages from frames (RFC 6455 § 5.4 fragmentation, § 5.5 control frames): the
//! [`Assembler`] turns a peer's frames, fed header by header and payload piece by piece,
//! into messages, pings, pongs and closes — or the protocol error to close the
//! connection with (§ 7.1.7): a fragment out of place, a message over the limit before
//! its payload arrives (1009), text that stops being UTF-8 (1007).
//!
//! Imports: [`super::frame`] and [`super::close`].

use super::close::{Utf8Error, Utf8Validator};
use super::frame::{Frame, FrameError, FrameHeader, OpCode, Rules, parse_close};

/// A whole data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    /// The message as one unfragmented, unmasked frame (an echo, a broadcast).
    pub fn to_frame(&self) -> Frame {
        match self {
            Message::Text(t) => Frame::text(t),
            Message::Binary(b) => Frame::binary(b.clone()),
        }
    }
}

/// What the frames received so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete message, its fragments joined.
    Message(Message),
    /// A ping: answer with a pong carrying the same bytes (RFC 6455 § 5.5.2).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// A close frame. `code: None` when the frame had no body (an API reports 1005);
    /// the usual answer is a close frame with the same code (RFC 6455 § 5.5.1).
    Close { code: Option<u16>, reason: String },
    /// The peer broke the protocol: send a close frame with `close_code` and close the
    /// connection (RFC 6455 § 7.1.7). Every later input gives this event again.
    ProtocolError { close_code: u16, why: FrameError },
}

/// The frame whose payload is arriving.
#[derive(Debug)]
struct Current {
    opcode: OpCode,
    fin: bool,
    remaining: u64,
    /// A control frame's payload (at most 125 bytes); data goes to the message.
    control: Vec<u8>,
}

/// The data message being assembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    data: Vec<u8>,
    utf8: Utf8Validator,
}

/// Turns one direction's frames into [`Event`]s, without I/O: the caller parses headers
/// ([`parse_header`]), unmasks payloads ([`apply_mask`]) and feeds them here, either a
/// frame at a time ([`Assembler::push_frame`]) or as the bytes arrive
/// ([`Assembler::begin_frame`], then [`Assembler::payload`] until the frame is done), so
/// that a bad text byte or an oversized message is refused before the rest arrives.
///
/// It checks every header ([`FrameHeader::validate`]), fragmentation (§ 5.4: a message is
/// a text or binary frame and continuation frames up to one with FIN; control frames may
/// come between the fragments), the size limit (1009), UTF-8 of text (1007) and close
/// payloads. Whether frames may still come after a close is the caller's business.
#[derive(Debug)]
pub struct Assembler {
    rules: Rules,
    max_message_len: u64,
    message: Option<Partial>,
    frame: Option<Current>,
    failed: Option<FrameError>,
}

impl Assembler {
    /// Frames obeying `rules` (e.g. [`Rules::from_client`] on a server), messages of at
    /// most `max_message_len` bytes.
    pub fn new(rules: Rules, max_message_len: usize) -> Self {
        Assembler {
            rules,
            max_message_len: max_message_len as u64,
            message: None,
            frame: None,
            failed: None,
        }
    }

    fn fail(&mut self, why: FrameError) -> Option<Event> {
        self.failed = Some(why);
        self.frame = None;
        self.message = None;
        Some(Event::ProtocolError {
            close_code: why.close_code(),
            why,
        })
    }

    /// The error that ended this assembler, if one did.
    pub fn failure(&self) -> Option<FrameError> {
        self.failed
    }

    /// Whether a fragmented message is unfinished.
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// Whether a frame's payload is still expected.
    pub fn in_frame(&self) -> bool {
        self.frame.is_some()
    }

    /// Bytes of the unfinished message held so far.
    pub fn buffered(&self) -> usize {
        self.message.as_ref().map_or(0, |m| m.data.len())
    }

    /// Starts a frame. Returns an event when the header is refused, or when the frame
    /// has no payload and so is already complete (an empty message, ping or close).
    pub fn begin_frame(&mut self, h: &FrameHeader) -> Option<Event> {
        if let Some(why) = self.failed {
            return self.fail(why);
        }
        if let Some(cur) = &self.frame {
            let missing = cur.remaining;
            return self.fail(FrameError::PayloadIncomplete { missing });
        }
        if let Err(why) = h.validate(&self.rules) {
            return self.fail(why);
        }
        match h.opcode {
            OpCode::Continuation if self.message.is_none() => {
                return self.fail(FrameError::UnexpectedContinuation);
            }
            OpCode::Text | OpCode::Binary if self.message.is_some() => {
                return self.fail(FrameError::ExpectedContinuation);
            }
            OpCode::Text | OpCode::Binary => {
                self.message = Some(Partial {
                    text: h.opcode == OpCode::Text,
                    data: Vec::new(),
                    utf8: Utf8Validator::new(),
                });
            }
            _ => {}
        }
        if !h.is_control() {
            let len = self.buffered() as u64 + h.payload_len;
            if len > self.max_message_len {
                return self.fail(FrameError::MessageTooBig {
                    len,
                    max: self.max_message_len,
                });
            }
            if let Some(m) = &mut self.message {
                // Within the limit just checked, but a generous limit must not let a
                // peer's header alone allocate it: reserve what a few packets bring.
                m.data.reserve(h.payload_len.min(1 << 16) as usize);
            }
        }
        self.frame = Some(Current {
            opcode: h.opcode,
            fin: h.fin,
            remaining: h.payload_len,
            control: Vec::new(),
        });
        if h.payload_len == 0 {
            return self.end_frame();
        }
        None
    }

    /// Takes the next (unmasked) payload bytes of the current frame. Returns how many
    /// bytes of `data` belong to this frame — the rest starts the next frame — and the
    /// event the frame completes, or the error found in these bytes. Without a frame
    /// begun, takes nothing.
    pub fn payload(&mut self, data: &[u8]) -> (usize, Option<Event>) {
        if let Some(why) = self.failed {
            return (0, self.fail(why));
        }
        let Some(cur) = &mut self.frame else {
            return (0, None);
        };
        let n = usize::try_from(cur.remaining).map_or(data.len(), |r| r.min(data.len()));
        let chunk = &data[..n];
        cur.remaining -= n as u64;
        let done = cur.remaining == 0;
        if cur.opcode.is_control() {
            cur.control.extend_from_slice(chunk);
        } else if let Some(m) = &mut self.message {
            if m.text
                && let Err(Utf8Error::InvalidByte { at }) = m.utf8.feed(chunk)
            {
                let at = (m.data.len() + at) as u64;
                return (n, self.fail(FrameError::InvalidUtf8 { at }));
            }
            m.data.extend_from_slice(chunk);
        }
        if done {
            return (n, self.end_frame());
        }
        (n, None)
    }

    /// A whole frame: [`Assembler::begin_frame`] and [`Assembler::payload`]. `payload`
    /// should be the frame's whole payload; if it is shorter, the frame stays open for
    /// more [`Assembler::payload`] calls, and bytes beyond the header's length are not
    /// taken.
    pub fn push_frame(&mut self, h: &FrameHeader, payload: &[u8]) -> Option<Event> {
        if let Some(ev) = self.begin_frame(h) {
            return Some(ev);
        }
        self.payload(payload).1
    }

    /// A whole [`Frame`].
    pub fn push(&mut self, frame: &Frame) -> Option<Event> {
        self.push_frame(&frame.header(), &frame.payload)
    }

    fn end_frame(&mut self) -> Option<Event> {
        let cur = self.frame.take()?;
        match cur.opcode {
            OpCode::Ping => Some(Event::Ping(cur.control)),
            OpCode::Pong => Some(Event::Pong(cur.control)),
            OpCode::Close => match parse_close(&cur.control) {
                Ok(None) => Some(Event::Close {
                    code: None,
                    reason: String::new(),
                }),
                Ok(Some((code, reason))) => Some(Event::Close {
                    code: Some(code),
                    reason: reason.to_string(),
                }),
                Err(why) => self.fail(why),
            },
            OpCode::Reserved(_) => None, // refused in begin_frame
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                if !cur.fin {
                    return None;
                }
                let m = self.message.take()?;
                if !m.text {
                    return Some(Event::Message(Message::Binary(m.data)));
                }
                let at = m.data.len() as u64;
                if m.utf8.finish().is_err() {
                    return self.fail(FrameError::InvalidUtf8 { at });
                }
                match String::from_utf8(m.data) {
                    Ok(s) => Some(Event::Message(Message::Text(s))),
                    Err(_) => self.fail(FrameError::InvalidUtf8 { at }),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::close::tests::KOSME;
    use super::super::frame::examples::*;
    use super::super::frame::{FrameView, LengthForm, apply_mask, parse_header};
    use super::*;

    fn frame(bytes: &[u8]) -> (FrameHeader, usize) {
        parse_header(bytes).unwrap().unwrap()
    }

    fn server() -> Assembler {
        Assembler::new(Rules::from_client(), 1000)
    }

    fn err(why: FrameError) -> Option<Event> {
        Some(Event::ProtocolError {
            close_code: why.close_code(),
            why,
        })
    }

    #[test]
    fn assembles_with_control_frames_between_fragments() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::text("Hel").with_fin(false).with_mask(KEY)),
            None
        );
        assert_eq!(
            a.push(&Frame::ping(&b"p"[..]).with_mask(KEY)),
            Some(Event::Ping(b"p".to_vec()))
        );
        assert_eq!(
            a.push(
                &Frame::new(OpCode::Continuation, &b""[..])
                    .with_fin(false)
                    .with_mask(KEY)
            ),
            None
        );
        assert_eq!(
            a.push(&Frame::pong(Vec::new()).with_mask(KEY)),
            Some(Event::Pong(vec![]))
        );
        assert_eq!(a.buffered(), 3);
        assert_eq!(
            a.push(&Frame::new(OpCode::Continuation, &b"lo"[..]).with_mask(KEY)),
            Some(Event::Message(Message::Text("Hello".into())))
        );
        assert_eq!(
            a.push(&Frame::binary(Vec::new()).with_mask(KEY)),
            Some(Event::Message(Message::Binary(vec![])))
        );
        assert_eq!(
            a.push(&Frame::close(Some(1000), "bye").with_mask(KEY)),
            Some(Event::Close {
                code: Some(1000),
                reason: "bye".into()
            })
        );
        assert_eq!(
            a.push(&Frame::close(None, "").with_mask(KEY)),
            Some(Event::Close {
                code: None,
                reason: String::new()
            })
        );
    }

    #[test]
    fn fragmentation_errors() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Continuation, &b"x"[..]).with_mask(KEY)),
            err(FrameError::UnexpectedContinuation)
        );
        let mut a = server();
        a.push(&Frame::text("a").with_fin(false).with_mask(KEY));
        assert_eq!(
            a.push(&Frame::binary(&b"b"[..]).with_mask(KEY)),
            err(FrameError::ExpectedContinuation)
        );
        // The failure sticks.
        assert_eq!(
            a.push(&Frame::text("c").with_mask(KEY)),
            err(FrameError::ExpectedContinuation)
        );
        assert_eq!(a.payload(b"zz").1, err(FrameError::ExpectedContinuation));
        assert_eq!(a.failure(), Some(FrameError::ExpectedContinuation));
    }

    #[test]
    fn header_errors_reach_the_assembler() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::text("unmasked")),
            err(FrameError::UnmaskedFromClient)
        );
        let mut a = Assembler::new(Rules::from_server(), 1000);
        assert_eq!(
            a.push(&Frame::text("masked").with_mask(KEY)),
            err(FrameError::MaskedFromServer)
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::ping(vec![0; 126]).with_mask(KEY)),
            err(FrameError::ControlTooLong { len: 126 })
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::ping(vec![]).with_fin(false).with_mask(KEY)),
            err(FrameError::ControlFragmented)
        );
        let mut a = server();
        let f = Frame {
            rsv: 0b010,
            ..Frame::text("x").with_mask(KEY)
        };
        assert_eq!(a.push(&f), err(FrameError::ReservedBits { rsv: 0b010 }));
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Reserved(3), vec![]).with_mask(KEY)),
            err(FrameError::ReservedOpcode { opcode: 3 })
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::close(None, "").with_mask(KEY).with_fin(true)),
            Some(Event::Close {
                code: None,
                reason: String::new()
            })
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Close, vec![3]).with_mask(KEY)),
            err(FrameError::CloseTooShort)
        );
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Close, vec![0x03, 0xee]).with_mask(KEY)),
            err(FrameError::InvalidCloseCode { code: 1006 })
        );
    }

    #[test]
    fn message_too_big_before_the_payload_arrives() {
        let mut a = server();
        assert_eq!(
            a.push(&Frame::binary(vec![0; 600]).with_fin(false).with_mask(KEY)),
            None
        );
        let h = FrameHeader::new(true, OpCode::Continuation, 401, Some(KEY));
        let ev = a.begin_frame(&h);
        assert_eq!(
            ev,
            err(FrameError::MessageTooBig {
                len: 1001,
                max: 1000
            })
        );
        assert_eq!(
            FrameError::MessageTooBig { len: 1, max: 0 }.close_code(),
            1009
        );
        // Exactly the limit is fine.
        let mut a = server();
        assert_eq!(
            a.push(&Frame::binary(vec![7; 1000]).with_mask(KEY)),
            Some(Event::Message(Message::Binary(vec![7; 1000])))
        );
    }

    #[test]
    fn invalid_utf8_in_text() {
        // Fails in the first fragment, before the final one.
        let mut a = server();
        assert_eq!(
            a.push(
                &Frame::new(OpCode::Text, KOSME.to_vec())
                    .with_fin(false)
                    .with_mask(KEY)
            ),
            None
        );
        assert_eq!(
            a.push(
                &Frame::new(OpCode::Continuation, &b"\xf4\x90\x80\x80"[..])
                    .with_fin(false)
                    .with_mask(KEY)
            ),
            err(FrameError::InvalidUtf8 { at: 12 })
        );
        assert_eq!(FrameError::InvalidUtf8 { at: 0 }.close_code(), 1007);
        // Truncated at the end of the message.
        let mut a = server();
        assert_eq!(
            a.push(&Frame::new(OpCode::Text, &b"ok\xce"[..]).with_mask(KEY)),
            err(FrameError::InvalidUtf8 { at: 3 })
        );
        // Binary messages are not checked.
        let mut a = server();
        assert_eq!(
            a.push(&Frame::binary(&b"\xff"[..]).with_mask(KEY)),
            Some(Event::Message(Message::Binary(vec![0xff])))
        );
    }

    #[test]
    fn streaming_payload_fails_fast() {
        // A 16-byte text frame whose 5th byte is bad: refused on the chunk holding it.
        let mut a = server();
        let h = FrameHeader::new(true, OpCode::Text, 16, Some(KEY));
        assert_eq!(a.begin_frame(&h), None);
        assert_eq!(a.payload(b"abcd"), (4, None));
        assert_eq!(
            a.payload(b"\xc0"),
            (1, err(FrameError::InvalidUtf8 { at: 4 }))
        );
        // Chunks beyond the frame's end are not taken.
        let mut a = server();
        let h = FrameHeader::new(true, OpCode::Binary, 3, Some(KEY));
        assert_eq!(a.begin_frame(&h), None);
        assert!(a.in_frame());
        assert_eq!(
            a.payload(b"abcdef"),
            (3, Some(Event::Message(Message::Binary(b"abc".to_vec()))))
        );
        assert_eq!(a.payload(b"def"), (0, None));
        // A new header before the payload ended is the caller's bug: 1011.
        let mut a = server();
        assert_eq!(a.begin_frame(&h), None);
        assert_eq!(a.payload(b"a"), (1, None));
        assert_eq!(
            a.begin_frame(&h),
            err(FrameError::PayloadIncomplete { missing: 2 })
        );
        assert_eq!(
            FrameError::PayloadIncomplete { missing: 2 }.close_code(),
            1011
        );
    }

    /// Reads frames out of `wire` the way a session engine would: header, unmask,
    /// assemble, in chunks of `chunk` bytes.
    pub(crate) fn decode_stream(wire: &[u8], rules: Rules, max: usize) -> Vec<Event> {
        let mut a = Assembler::new(rules, max);
        let mut events = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let h = match parse_header(&wire[at..]) {
                Ok(Some((h, n))) => {
                    at += n;
                    h
                }
                Ok(None) => break,
                Err(why) => {
                    events.push(Event::ProtocolError {
                        close_code: why.close_code(),
                        why,
                    });
                    break;
                }
            };
            if let Some(ev) = a.begin_frame(&h) {
                let stop = matches!(ev, Event::ProtocolError { .. });
                events.push(ev);
                if stop {
                    break;
                }
            }
            let mut offset = 0;
            while a.in_frame() && at < wire.len() {
                let end = (at + 5).min(wire.len());
                let mut chunk = wire[at..end].to_vec();
                if let Some(key) = h.masking_key {
                    apply_mask(&mut chunk, key, offset);
                }
                let (n, ev) = a.payload(&chunk);
                at += n;
                offset += n;
                if let Some(ev) = ev {
                    let stop = matches!(ev, Event::ProtocolError { .. });
                    events.push(ev);
                    if stop {
                        return events;
                    }
                }
            }
        }
        events
    }

    #[test]
    fn stream_of_rfc_frames() {
        let mut wire = HEL.to_vec();
        wire.extend_from_slice(&PING_HELLO);
        wire.extend_from_slice(&LO);
        wire.extend_from_slice(&HELLO);
        assert_eq!(
            decode_stream(&wire, Rules::from_server(), 100),
            [
                Event::Ping(b"Hello".to_vec()),
                Event::Message(Message::Text("Hello".into())),
                Event::Message(Message::Text("Hello".into())),
            ]
        );
        let mut wire = HELLO_MASKED.to_vec();
        wire.extend_from_slice(&PONG_HELLO_MASKED);
        assert_eq!(
            decode_stream(&wire, Rules::from_client(), 100),
            [
                Event::Message(Message::Text("Hello".into())),
                Event::Pong(b"Hello".to_vec()),
            ]
        );
    }

    #[test]
    fn rfc_fragmented_hello() {
        let (h1, _) = frame(&HEL);
        assert!(!h1.fin);
        assert_eq!(h1.opcode, OpCode::Text);
        let (h2, _) = frame(&LO);
        assert!(h2.fin);
        assert_eq!(h2.opcode, OpCode::Continuation);
        assert_eq!(Frame::text("Hel").with_fin(false).encode(), HEL);
        assert_eq!(Frame::new(OpCode::Continuation, &b"lo"[..]).encode(), LO);

        let mut a = Assembler::new(Rules::from_server(), 1 << 20);
        assert_eq!(a.push_frame(&h1, &HEL[2..]), None);
        assert!(a.in_message());
        assert_eq!(
            a.push_frame(&h2, &LO[2..]),
            Some(Event::Message(Message::Text("Hello".into())))
        );
        assert!(!a.in_message());
    }

    #[test]
    fn rfc_ping_pong() {
        let (h, n) = frame(&PING_HELLO);
        assert_eq!((h.opcode, h.payload_len), (OpCode::Ping, 5));
        assert!(h.is_control());
        assert_eq!(Frame::ping(&b"Hello"[..]).encode(), PING_HELLO);
        let mut client = Assembler::new(Rules::from_server(), 1 << 20);
        assert_eq!(
            client.push_frame(&h, &PING_HELLO[n..]),
            Some(Event::Ping(b"Hello".to_vec()))
        );
        assert_eq!(
            Frame::pong(&b"Hello"[..]).with_mask(KEY).encode(),
            PONG_HELLO_MASKED
        );
        let (pong, _) = Frame::decode(&PONG_HELLO_MASKED).unwrap().unwrap();
        let mut server = Assembler::new(Rules::from_client(), 1 << 20);
        assert_eq!(server.push(&pong), Some(Event::Pong(b"Hello".to_vec())));
    }

    #[test]
    fn rfc_64k_64_bit_length() {
        let data = vec![0xabu8; 65536];
        let wire = Frame::binary(data.clone()).encode();
        assert_eq!(
            wire[..10],
            [0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        let (h, n) = frame(&wire);
        assert_eq!(n, 10);
        assert_eq!(h.length_form, LengthForm::Ext64);
        assert_eq!(h.payload_len, 65536);
        let (f, used) = Frame::decode(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(f.payload, data);
        let mut a = Assembler::new(Rules::from_server(), 65536);
        assert_eq!(a.push(&f), Some(Event::Message(Message::Binary(data))));
    }

    #[test]
    fn length_msb_set() {
        // 2^63: the top bit of the 64-bit length.
        let wire = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse_header(&wire), Err(FrameError::LengthMsbSet));
        // Refused as soon as the first length byte is in.
        assert_eq!(parse_header(&wire[..3]), Err(FrameError::LengthMsbSet));
        assert_eq!(FrameError::LengthMsbSet.close_code(), 1002);
        // The view still shows it.
        let v = FrameView::new_checked(&wire[..]).unwrap();
        assert_eq!(v.payload_len(), 1 << 63);
        assert!(
            v.header()
                .problems(&Rules::from_server())
                .any(|e| e == FrameError::LengthMsbSet)
        );
        assert!(v.payload_range().is_empty());
        // 2^63 - 1 is a legal length, refused only by a receiver's size limit.
        let wire = [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let (h, _) = frame(&wire);
        assert_eq!(h.payload_len, u64::MAX >> 1);
        let mut a = Assembler::new(Rules::from_server(), 1 << 20);
        assert_eq!(
            a.begin_frame(&h),
            Some(Event::ProtocolError {
                close_code: 1009,
                why: FrameError::MessageTooBig {
                    len: u64::MAX >> 1,
                    max: 1 << 20
                }
            })
        );
        assert_eq!(Frame::decode(&wire), Ok(None));
    }

    #[test]
    fn non_minimal_length_is_flagged_not_refused() {
        // "Hello" with a 16-bit length, then with a 64-bit one.
        let w16 = [0x81, 0x7e, 0x00, 0x05, b'H', b'e', b'l', b'l', b'o'];
        let (h, n) = frame(&w16);
        assert_eq!((h.length_form, n), (LengthForm::Ext16, 4));
        assert_eq!(h.non_minimal_length(), Some(LengthForm::Short));
        assert_eq!(h.validate(&Rules::from_server()), Ok(()));
        let mut a = Assembler::new(Rules::from_server(), 100);
        assert_eq!(
            a.push_frame(&h, &w16[n..]),
            Some(Event::Message(Message::Text("Hello".into())))
        );
        let mut w64 = vec![0x81, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
        w64.extend(vec![b'a'; 256]);
        let (h, n) = frame(&w64);
        assert_eq!(n, 10);
        assert_eq!(h.non_minimal_length(), Some(LengthForm::Ext16));
        assert_eq!(frame(&HELLO).0.non_minimal_length(), None);
        // Re-emitting uses the minimal form.
        let (f, _) = Frame::decode(&w16).unwrap().unwrap();
        assert_eq!(f.encode(), HELLO);
    }

    // -- masking ------------------------------------------------------------------
}
