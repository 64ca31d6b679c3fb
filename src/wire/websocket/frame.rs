//! WebSocket frames (RFC 6455 § 5): the header as a zero-copy view that shows any
//! frame, even a bad one ([`FrameView`]), parsed and emitted ([`FrameHeader`],
//! [`parse_header`], [`emit_header`]), the protocol checks a header must pass, each with
//! the close code to send ([`FrameHeader::problems`], [`FrameError`]), masking
//! ([`apply_mask`]), an owned [`Frame`] that encodes and decodes itself, and the close
//! frame's payload (§ 5.5.1).
//!
//! Imports: `core`, the wire's field helpers, and [`super::close`] (status codes).

use core::fmt;

use super::close::{close_code, close_code_is_valid_to_receive};
use crate::wire::{Field, need};

/// Byte ranges of the frame header's fields. The fixed part is two bytes; where the
/// masking key sits depends on which length form the frame uses.
pub mod field {
    use crate::wire::Field;
    /// FIN, RSV1–3 and the opcode share the first byte.
    pub const FIN_RSV_OPCODE: Field = 0..1;
    /// MASK and the 7-bit payload length share the second byte.
    pub const MASK_LEN: Field = 1..2;
    /// The 16-bit extended length, when the 7-bit length is 126.
    pub const EXT_LEN_16: Field = 2..4;
    /// The 64-bit extended length, when the 7-bit length is 127.
    pub const EXT_LEN_64: Field = 2..10;
    /// The masking key after a 7-bit length.
    pub const MASKING_KEY_SHORT: Field = 2..6;
    /// The masking key after a 16-bit extended length.
    pub const MASKING_KEY_EXT_16: Field = 4..8;
    /// The masking key after a 64-bit extended length.
    pub const MASKING_KEY_EXT_64: Field = 10..14;
    /// In a Close frame's payload: the status code (RFC 6455 § 5.5.1)…
    pub const CLOSE_CODE: Field = 0..2;
    /// …and the UTF-8 reason after it.
    pub const CLOSE_REASON: usize = 2;
}

/// Bit masks within the first two header bytes.
pub mod bits {
    pub const FIN: u8 = 0x80;
    pub const RSV1: u8 = 0x40;
    pub const RSV2: u8 = 0x20;
    pub const RSV3: u8 = 0x10;
    pub const RSV: u8 = 0x70;
    pub const OPCODE: u8 = 0x0f;
    pub const MASK: u8 = 0x80;
    pub const LEN: u8 = 0x7f;
}

/// The 7-bit length value that announces a 16-bit extended length.
pub const LEN_16_MARKER: u8 = 126;
/// The 7-bit length value that announces a 64-bit extended length.
pub const LEN_64_MARKER: u8 = 127;
/// The shortest header: an unmasked frame of at most 125 bytes.
pub const MIN_HEADER_LEN: usize = 2;
/// The longest header: 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;
/// "All control frames MUST have a payload length of 125 bytes or less" (RFC 6455 § 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// How many bytes of a frame's payload a trace line shows (the session keeps as many
/// of each received frame for it).
pub const PREVIEW_LEN: usize = 32;

/// Which end of the connection: the rules for masking and close codes depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// A frame's opcode (RFC 6455 § 5.2, § 11.8). 3–7 are reserved for further data frames,
/// 0xB–0xF for further control frames: an unknown one is kept, not an error, so it can be
/// shown; [`FrameHeader::problems`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Reserved(u8),
}

impl From<u8> for OpCode {
    /// The low four bits of `v`.
    fn from(v: u8) -> Self {
        match v & bits::OPCODE {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            n => OpCode::Reserved(n),
        }
    }
}

impl From<OpCode> for u8 {
    fn from(op: OpCode) -> u8 {
        match op {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(n) => n & bits::OPCODE,
        }
    }
}

impl OpCode {
    /// Control frames (close, ping, pong and the reserved 0xB–0xF) have the opcode's top
    /// bit set (RFC 6455 § 5.5).
    pub fn is_control(self) -> bool {
        u8::from(self) & 0x8 != 0
    }
    pub fn is_reserved(self) -> bool {
        matches!(self, OpCode::Reserved(_))
    }
    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "Continuation",
            OpCode::Text => "Text",
            OpCode::Binary => "Binary",
            OpCode::Close => "Connection Close",
            OpCode::Ping => "Ping",
            OpCode::Pong => "Pong",
            OpCode::Reserved(n) if n & 0x8 != 0 => "Reserved (control)",
            OpCode::Reserved(_) => "Reserved (data)",
        }
    }
}

/// Which of the three encodings of the payload length a header uses (RFC 6455 § 5.2):
/// the length in the 7-bit field (0–125), 126 and a 16-bit length, or 127 and a 64-bit
/// length. "The minimal number of bytes MUST be used to encode the length."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LengthForm {
    Short,
    Ext16,
    Ext64,
}

impl LengthForm {
    /// The form a sender must use for `len`.
    pub const fn minimal(len: u64) -> LengthForm {
        if len <= 125 {
            LengthForm::Short
        } else if len <= 0xffff {
            LengthForm::Ext16
        } else {
            LengthForm::Ext64
        }
    }
    /// Bytes of extended length after the first two header bytes.
    pub const fn ext_len(self) -> usize {
        match self {
            LengthForm::Short => 0,
            LengthForm::Ext16 => 2,
            LengthForm::Ext64 => 8,
        }
    }
    /// Where the extended length sits, if there is one.
    pub fn ext_field(self) -> Option<Field> {
        match self {
            LengthForm::Short => None,
            LengthForm::Ext16 => Some(field::EXT_LEN_16),
            LengthForm::Ext64 => Some(field::EXT_LEN_64),
        }
    }
    /// Where the masking key sits when the frame is masked.
    pub fn masking_key_field(self) -> Field {
        match self {
            LengthForm::Short => field::MASKING_KEY_SHORT,
            LengthForm::Ext16 => field::MASKING_KEY_EXT_16,
            LengthForm::Ext64 => field::MASKING_KEY_EXT_64,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LengthForm::Short => "7-bit",
            LengthForm::Ext16 => "7+16-bit",
            LengthForm::Ext64 => "7+64-bit",
        }
    }
}

/// A frame header, parsed or to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Last frame of its message.
    pub fin: bool,
    /// RSV1–RSV3 as a 3-bit number: RSV1 is 0b100, RSV3 0b001 (Wireshark's
    /// `websocket.rsv`).
    pub rsv: u8,
    pub opcode: OpCode,
    /// Present exactly when the MASK bit is set.
    pub masking_key: Option<[u8; 4]>,
    pub payload_len: u64,
    /// How the length was written in a parsed header. [`emit_header`] always writes the
    /// minimal form and ignores this.
    pub length_form: LengthForm,
}

impl FrameHeader {
    /// The header's fields in one line, as a trace shows them:
    /// `FIN=1 RSV=000 opcode=0x1 (Text) MASK=1 len=5 (7-bit) key=37fa213d`.
    pub fn summary(&self) -> String {
        let key = match self.masking_key {
            Some(k) => format!(" key={:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3]),
            None => String::new(),
        };
        format!(
            "FIN={} RSV={:03b} opcode={:#x} ({}) MASK={} len={} ({}){key}",
            u8::from(self.fin),
            self.rsv,
            u8::from(self.opcode),
            self.opcode.name(),
            u8::from(self.masked()),
            self.payload_len,
            self.length_form.name(),
        )
    }
}

impl FrameHeader {
    /// A header for `payload_len` bytes, in the minimal length form, RSV bits clear.
    pub fn new(
        fin: bool,
        opcode: OpCode,
        payload_len: u64,
        masking_key: Option<[u8; 4]>,
    ) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            masking_key,
            payload_len,
            length_form: LengthForm::minimal(payload_len),
        }
    }
    /// Header bytes in [`Self::length_form`].
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.length_form.ext_len() + if self.masked() { 4 } else { 0 }
    }
    pub fn masked(&self) -> bool {
        self.masking_key.is_some()
    }
    pub fn is_control(&self) -> bool {
        self.opcode.is_control()
    }
    /// Header and payload bytes, if that fits in a `usize`.
    pub fn frame_len(&self) -> Option<usize> {
        usize::try_from(self.payload_len)
            .ok()?
            .checked_add(self.header_len())
    }
    /// Where the masking key sits, if the frame is masked.
    pub fn masking_key_field(&self) -> Option<Field> {
        self.masked().then(|| self.length_form.masking_key_field())
    }
    /// The minimal length form when the header used a longer one. RFC 6455 § 5.2 makes
    /// the minimal form a sender's duty; receivers commonly accept the longer ones, and
    /// so does netlab — but shows it.
    pub fn non_minimal_length(&self) -> Option<LengthForm> {
        let minimal = LengthForm::minimal(self.payload_len);
        (minimal != self.length_form).then_some(minimal)
    }

    /// Every rule of RFC 6455 § 5 this header breaks, for a frame sent under `rules`.
    /// A dissector shows them all; an endpoint fails the connection on the first
    /// ([`Self::validate`]) with [`FrameError::close_code`].
    pub fn problems(&self, rules: &Rules) -> impl Iterator<Item = FrameError> + use<> {
        let unexpected_rsv = self.rsv & 0b111 & !rules.allowed_rsv;
        let control = self.is_control();
        let found = [
            (unexpected_rsv != 0).then_some(FrameError::ReservedBits {
                rsv: unexpected_rsv,
            }),
            match self.opcode {
                OpCode::Reserved(opcode) => Some(FrameError::ReservedOpcode { opcode }),
                _ => None,
            },
            (control && !self.fin).then_some(FrameError::ControlFragmented),
            (control && self.payload_len > MAX_CONTROL_PAYLOAD as u64).then_some(
                FrameError::ControlTooLong {
                    len: self.payload_len,
                },
            ),
            (self.payload_len >> 63 != 0).then_some(FrameError::LengthMsbSet),
            match (rules.sender, self.masked()) {
                (Role::Client, false) => Some(FrameError::UnmaskedFromClient),
                (Role::Server, true) => Some(FrameError::MaskedFromServer),
                _ => None,
            },
        ];
        found.into_iter().flatten()
    }

    /// The first of [`Self::problems`], if any.
    pub fn validate(&self, rules: &Rules) -> Result<(), FrameError> {
        match self.problems(rules).next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What the frames of one direction must obey: who sends them (clients mask, servers do
/// not) and which RSV bits an agreed extension has given a meaning (none without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub sender: Role,
    /// RSV bits allowed, as in [`FrameHeader::rsv`] (0b100 = RSV1).
    pub allowed_rsv: u8,
}

impl Rules {
    /// Frames a server receives.
    pub const fn from_client() -> Rules {
        Rules {
            sender: Role::Client,
            allowed_rsv: 0,
        }
    }
    /// Frames a client receives.
    pub const fn from_server() -> Rules {
        Rules {
            sender: Role::Server,
            allowed_rsv: 0,
        }
    }
}

/// A breach of RFC 6455 in a frame or message: each one fails the connection with the
/// close code [`FrameError::close_code`] gives (§ 7.1.7, § 7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// RSV bits set that no agreed extension defines (§ 5.2).
    ReservedBits { rsv: u8 },
    /// An opcode reserved for the future (§ 5.2).
    ReservedOpcode { opcode: u8 },
    /// A control frame without FIN (§ 5.5: "Control frames ... MUST NOT be fragmented").
    ControlFragmented,
    /// A control frame with more than 125 bytes of payload (§ 5.5).
    ControlTooLong { len: u64 },
    /// A 64-bit length with its top bit set (§ 5.2: "the most significant bit MUST be 0").
    LengthMsbSet,
    /// A client frame without a mask (§ 5.1: the server MUST close the connection).
    UnmaskedFromClient,
    /// A server frame with a mask (§ 5.1: the client MUST close the connection).
    MaskedFromServer,
    /// A continuation frame with no message begun (§ 5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished (§ 5.4).
    ExpectedContinuation,
    /// The message would exceed the receiver's limit (1009, § 7.4.1).
    MessageTooBig { len: u64, max: u64 },
    /// A text message that is not UTF-8; `at` counts bytes from the message's start
    /// (1007, § 8.1).
    InvalidUtf8 { at: u64 },
    /// A close payload of one byte: a code needs two (§ 5.5.1).
    CloseTooShort,
    /// A close code that may not be sent (§ 7.4).
    InvalidCloseCode { code: u16 },
    /// A close reason that is not UTF-8 (1007, § 5.5.1).
    InvalidCloseReason,
    /// Not the peer's fault: a new frame was fed to the [`Assembler`] before the
    /// previous frame's payload was complete, which the wire cannot do (1011).
    PayloadIncomplete { missing: u64 },
}

impl FrameError {
    /// The status code of the Close frame to send (RFC 6455 § 7.4.1): 1009 for a message
    /// too big, 1007 for text that is not UTF-8, 1011 for an internal error, else 1002
    /// (protocol error).
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::MessageTooBig { .. } => close_code::MESSAGE_TOO_BIG,
            FrameError::InvalidUtf8 { .. } | FrameError::InvalidCloseReason => {
                close_code::INVALID_PAYLOAD
            }
            FrameError::PayloadIncomplete { .. } => close_code::INTERNAL_ERROR,
            _ => close_code::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FrameError::*;
        match self {
            ReservedBits { rsv } => write!(
                f,
                "reserved bits set (RSV {rsv:03b}) without an extension that defines them \
                 (RFC 6455 § 5.2)"
            ),
            ReservedOpcode { opcode } => {
                write!(f, "opcode {opcode:#x} is reserved (RFC 6455 § 5.2)")
            }
            ControlFragmented => f.write_str(
                "a control frame (close, ping, pong) without FIN: control frames must not \
                 be fragmented (RFC 6455 § 5.5)",
            ),
            ControlTooLong { len } => write!(
                f,
                "a control frame with {len} bytes of payload: at most 125 are allowed \
                 (RFC 6455 § 5.5)"
            ),
            LengthMsbSet => f.write_str(
                "the 64-bit payload length has its most significant bit set, which must be 0 \
                 (RFC 6455 § 5.2)",
            ),
            UnmaskedFromClient => f.write_str(
                "a frame from the client is not masked: clients must mask every frame \
                 (RFC 6455 § 5.1)",
            ),
            MaskedFromServer => f.write_str(
                "a frame from the server is masked: servers must not mask (RFC 6455 § 5.1)",
            ),
            UnexpectedContinuation => f.write_str(
                "a continuation frame, but no fragmented message has begun (RFC 6455 § 5.4)",
            ),
            ExpectedContinuation => f.write_str(
                "a new text or binary frame before the fragmented message before it ended: \
                 a continuation frame was expected (RFC 6455 § 5.4)",
            ),
            MessageTooBig { len, max } => write!(
                f,
                "a message of at least {len} bytes, more than the {max} this endpoint accepts"
            ),
            InvalidUtf8 { at } => write!(
                f,
                "a text message that is not valid UTF-8 (at byte {at} of the message; \
                 RFC 6455 § 8.1)"
            ),
            CloseTooShort => f.write_str(
                "a close frame with a 1-byte payload: the status code needs 2 bytes \
                 (RFC 6455 § 5.5.1)",
            ),
            InvalidCloseCode { code } => write!(
                f,
                "close code {code} may not be sent on the wire (RFC 6455 § 7.4)"
            ),
            InvalidCloseReason => {
                f.write_str("the close reason is not valid UTF-8 (RFC 6455 § 5.5.1)")
            }
            PayloadIncomplete { missing } => write!(
                f,
                "a new frame began while {missing} payload bytes of the previous frame were \
                 missing (a bug in the caller)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads every header field from `buf` without judging any: `None` if the header is not
/// complete yet.
fn read_header(buf: &[u8]) -> Option<FrameHeader> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let len7 = b1 & bits::LEN;
    let (length_form, payload_len) = match len7 {
        LEN_16_MARKER => {
            let b = buf.get(field::EXT_LEN_16)?;
            (
                LengthForm::Ext16,
                u64::from(u16::from_be_bytes([b[0], b[1]])),
            )
        }
        LEN_64_MARKER => {
            let mut b = [0u8; 8];
            b.copy_from_slice(buf.get(field::EXT_LEN_64)?);
            (LengthForm::Ext64, u64::from_be_bytes(b))
        }
        n => (LengthForm::Short, u64::from(n)),
    };
    let masking_key = if b1 & bits::MASK != 0 {
        let mut k = [0u8; 4];
        k.copy_from_slice(buf.get(length_form.masking_key_field())?);
        Some(k)
    } else {
        None
    };
    Some(FrameHeader {
        fin: b0 & bits::FIN != 0,
        rsv: (b0 & bits::RSV) >> 4,
        opcode: OpCode::from(b0),
        masking_key,
        payload_len,
        length_form,
    })
}

/// Reads a frame header from the front of `buf`: `Ok(None)` while it is incomplete,
/// else the header and its length (the payload starts there). The one thing refused
/// here is a 64-bit length with its top bit set (RFC 6455 § 5.2), which cannot be a real
/// length; all other rules depend on context and are [`FrameHeader::problems`].
pub fn parse_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
    // Fail as soon as the 64-bit length is in, before the masking key.
    if buf.get(1).is_some_and(|b| b & bits::LEN == LEN_64_MARKER)
        && buf
            .get(field::EXT_LEN_64.start)
            .is_some_and(|b| b & 0x80 != 0)
    {
        return Err(FrameError::LengthMsbSet);
    }
    Ok(read_header(buf).map(|h| {
        let n = h.header_len();
        (h, n)
    }))
}

/// Writes `h` to the front of `buf` in the minimal length form and returns the bytes
/// written (2 to 14); an error, with nothing written, if `buf` is shorter.
pub fn emit_header(h: &FrameHeader, buf: &mut [u8]) -> crate::wire::Result<usize> {
    let form = LengthForm::minimal(h.payload_len);
    let n = MIN_HEADER_LEN + form.ext_len() + if h.masked() { 4 } else { 0 };
    need(buf, n)?;
    buf[0] = if h.fin { bits::FIN } else { 0 }
        | ((h.rsv & 0b111) << 4)
        | (u8::from(h.opcode) & bits::OPCODE);
    let mask = if h.masked() { bits::MASK } else { 0 };
    match form {
        LengthForm::Short => buf[1] = mask | h.payload_len as u8,
        LengthForm::Ext16 => {
            buf[1] = mask | LEN_16_MARKER;
            buf[field::EXT_LEN_16].copy_from_slice(&(h.payload_len as u16).to_be_bytes());
        }
        LengthForm::Ext64 => {
            buf[1] = mask | LEN_64_MARKER;
            buf[field::EXT_LEN_64].copy_from_slice(&h.payload_len.to_be_bytes());
        }
    }
    if let Some(key) = h.masking_key {
        buf[form.masking_key_field()].copy_from_slice(&key);
    }
    Ok(n)
}

/// XORs `data` with the masking key, as the sender masks and the receiver unmasks
/// (RFC 6455 § 5.3: byte i of the payload with `key[i % 4]`). `offset` is the position
/// of `data[0]` in the payload, so a payload can be unmasked piece by piece as it
/// arrives. Eight bytes at a time.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let mut k = key;
    k.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let (chunks, rest) = data.as_chunks_mut::<8>();
    for c in chunks {
        *c = (u64::from_ne_bytes(*c) ^ wide).to_ne_bytes();
    }
    // `rest` starts at a multiple of 8, so the key lines up again at k[0].
    for (b, m) in rest.iter_mut().zip(k.iter().cycle()) {
        *b ^= m;
    }
}

/// A view of one frame at the start of a buffer, for showing any frame as sent — also a
/// bad one. After [`FrameView::check_len`] (the header is complete) no accessor panics;
/// the payload accessors give what the buffer holds of the payload (see
/// [`FrameView::is_complete`]).
#[derive(Debug, Clone)]
pub struct FrameView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FrameView<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        FrameView { buffer }
    }
    pub fn new_checked(buffer: T) -> crate::wire::Result<Self> {
        let v = Self::new_unchecked(buffer);
        v.check_len()?;
        Ok(v)
    }
    /// Checks that the buffer holds the whole header.
    pub fn check_len(&self) -> crate::wire::Result<()> {
        let b = self.buffer.as_ref();
        need(b, MIN_HEADER_LEN)?;
        need(b, self.header_len())
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn fin(&self) -> bool {
        self.b()[0] & bits::FIN != 0
    }
    /// RSV1–RSV3 as a 3-bit number (RSV1 = 0b100).
    pub fn rsv(&self) -> u8 {
        (self.b()[0] & bits::RSV) >> 4
    }
    pub fn opcode(&self) -> OpCode {
        OpCode::from(self.b()[0])
    }
    pub fn masked(&self) -> bool {
        self.b()[1] & bits::MASK != 0
    }
    /// The 7-bit length field as sent (126 and 127 announce an extended length).
    pub fn len7(&self) -> u8 {
        self.b()[1] & bits::LEN
    }
    pub fn length_form(&self) -> LengthForm {
        match self.len7() {
            LEN_16_MARKER => LengthForm::Ext16,
            LEN_64_MARKER => LengthForm::Ext64,
            _ => LengthForm::Short,
        }
    }
    pub fn header_len(&self) -> usize {
        let b = self.b();
        let Some(&b1) = b.get(1) else {
            return MIN_HEADER_LEN;
        };
        let form = match b1 & bits::LEN {
            LEN_16_MARKER => LengthForm::Ext16,
            LEN_64_MARKER => LengthForm::Ext64,
            _ => LengthForm::Short,
        };
        MIN_HEADER_LEN + form.ext_len() + if b1 & bits::MASK != 0 { 4 } else { 0 }
    }
    pub fn payload_len(&self) -> u64 {
        self.header().payload_len
    }
    pub fn masking_key(&self) -> Option<[u8; 4]> {
        self.header().masking_key
    }
    /// The header as a [`FrameHeader`], whatever rule it breaks.
    pub fn header(&self) -> FrameHeader {
        read_header(self.b()).unwrap_or(FrameHeader::new(false, OpCode::Continuation, 0, None))
    }
    /// Whether the buffer holds the whole payload.
    pub fn is_complete(&self) -> bool {
        self.header()
            .frame_len()
            .is_some_and(|n| n <= self.b().len())
    }
    /// The payload's place in the buffer, cut at the buffer's end.
    pub fn payload_range(&self) -> Field {
        let b = self.b();
        let start = self.header_len().min(b.len());
        let len = usize::try_from(self.payload_len()).unwrap_or(usize::MAX);
        start..start.saturating_add(len).min(b.len())
    }
    /// The payload as sent (still masked if the frame is masked), as far as the buffer
    /// holds it.
    pub fn raw_payload(&self) -> &[u8] {
        &self.b()[self.payload_range()]
    }
    /// The payload unmasked, as far as the buffer holds it.
    pub fn payload(&self) -> Vec<u8> {
        let mut p = self.raw_payload().to_vec();
        if let Some(key) = self.masking_key() {
            apply_mask(&mut p, key, 0);
        }
        p
    }
}

/// A whole frame with its payload unmasked: the easy way to build and read frames when
/// copying the payload does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    /// RSV bits, as in [`FrameHeader::rsv`].
    pub rsv: u8,
    pub opcode: OpCode,
    /// Unmasked: [`Frame::encode`] masks a copy when `masking_key` is set.
    pub payload: Vec<u8>,
    pub masking_key: Option<[u8; 4]>,
}

impl Frame {
    /// A final, unmasked frame.
    pub fn new(opcode: OpCode, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            payload: payload.into(),
            masking_key: None,
        }
    }
    pub fn text(text: &str) -> Frame {
        Frame::new(OpCode::Text, text.as_bytes())
    }
    pub fn binary(data: impl Into<Vec<u8>>) -> Frame {
        Frame::new(OpCode::Binary, data)
    }
    pub fn ping(data: impl Into<Vec<u8>>) -> Frame {
        Frame::new(OpCode::Ping, data)
    }
    pub fn pong(data: impl Into<Vec<u8>>) -> Frame {
        Frame::new(OpCode::Pong, data)
    }
    /// A close frame: empty without a code, else the code and as much of `reason` as
    /// fits (see [`close_payload`]).
    pub fn close(code: Option<u16>, reason: &str) -> Frame {
        let payload = code.map(|c| close_payload(c, reason)).unwrap_or_default();
        Frame::new(OpCode::Close, payload)
    }
    /// The same frame with FIN set or clear (clear: more fragments follow).
    pub fn with_fin(self, fin: bool) -> Frame {
        Frame { fin, ..self }
    }
    /// The same frame masked with `key`, as a client sends it (RFC 6455 § 5.3: the key
    /// must be fresh and unpredictable for every frame; the caller draws it).
    pub fn with_mask(self, key: [u8; 4]) -> Frame {
        Frame {
            masking_key: Some(key),
            ..self
        }
    }
    pub fn header(&self) -> FrameHeader {
        FrameHeader {
            rsv: self.rsv,
            ..FrameHeader::new(
                self.fin,
                self.opcode,
                self.payload.len() as u64,
                self.masking_key,
            )
        }
    }
    /// Bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.header().header_len() + self.payload.len()
    }
    /// Appends the frame as sent to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut head = [0u8; MAX_HEADER_LEN];
        // A 14-byte buffer holds every header, so this cannot fail.
        let n = emit_header(&self.header(), &mut head).unwrap_or(0);
        out.extend_from_slice(&head[..n]);
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = self.masking_key {
            apply_mask(&mut out[start..], key, 0);
        }
    }
    /// The frame as sent.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }
    /// Reads one whole frame from the front of `buf`, unmasking its payload: `Ok(None)`
    /// until the whole frame is there, else the frame and its length on the wire. Only
    /// [`parse_header`]'s check is made; see [`FrameHeader::problems`] for the others.
    pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some((h, hl)) = parse_header(buf)? else {
            return Ok(None);
        };
        let Some(total) = h.frame_len() else {
            return Ok(None);
        };
        let Some(raw) = buf.get(hl..total) else {
            return Ok(None);
        };
        let mut payload = raw.to_vec();
        if let Some(key) = h.masking_key {
            apply_mask(&mut payload, key, 0);
        }
        let frame = Frame {
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode,
            payload,
            masking_key: h.masking_key,
        };
        Ok(Some((frame, total)))
    }
}

// ---------------------------------------------------------------------------------------
// Close frames. RFC 6455 § 5.5.1, § 7.4.
// ---------------------------------------------------------------------------------------

/// Whether an endpoint in `sender`'s role may send `code`: any valid code, except that
/// 1010 ("the server did not agree to an extension I need") is a client's alone
/// (RFC 6455 § 7.4.1: "this status code is not used by the server, because it can fail
/// the WebSocket handshake instead").
pub fn close_code_may_send(code: u16, sender: Role) -> bool {
    close_code_is_valid_to_receive(code)
        && !(code == close_code::MANDATORY_EXTENSION && sender == Role::Server)
}

/// Reads a close frame's payload (RFC 6455 § 5.5.1): `None` when it is empty (no code:
/// an API reports 1005), else the code and the reason. A one-byte payload and an invalid
/// code are errors (1002), a reason that is not UTF-8 too (1007).
pub fn parse_close(payload: &[u8]) -> Result<Option<(u16, &str)>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::CloseTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close_code_is_valid_to_receive(code) {
                return Err(FrameError::InvalidCloseCode { code });
            }
            let reason =
                core::str::from_utf8(reason).map_err(|_| FrameError::InvalidCloseReason)?;
            Ok(Some((code, reason)))
        }
    }
}

/// A close frame's payload: the code, then `reason` cut at a character boundary so the
/// whole fits the 125 bytes of a control frame.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

/// The frames of RFC 6455 § 5.7's examples, byte for byte (tests).
#[cfg(test)]
pub(crate) mod examples {
    /// A single-frame unmasked text message "Hello".
    pub const HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// A single-frame masked text message "Hello" (key 37 fa 21 3d).
    pub const HELLO_MASKED: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    /// A fragmented unmasked text message: "Hel"…
    pub const HEL: [u8; 5] = [0x01, 0x03, 0x48, 0x65, 0x6c];
    /// …then "lo".
    pub const LO: [u8; 4] = [0x80, 0x02, 0x6c, 0x6f];
    /// An unmasked ping with body "Hello".
    pub const PING_HELLO: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// A masked pong with body "Hello", answering it.
    pub const PONG_HELLO_MASKED: [u8; 11] = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
}

#[cfg(test)]
mod tests {
    use super::super::close::close_code_name;
    use super::examples::*;
    use super::*;

    fn frame(bytes: &[u8]) -> (FrameHeader, usize) {
        parse_header(bytes).unwrap().unwrap()
    }

    #[test]
    fn rfc_single_unmasked_hello() {
        let (h, n) = frame(&HELLO);
        assert_eq!(n, 2);
        assert!(h.fin);
        assert_eq!(h.rsv, 0);
        assert_eq!(h.opcode, OpCode::Text);
        assert_eq!(h.masking_key, None);
        assert_eq!(h.payload_len, 5);
        assert_eq!(h.length_form, LengthForm::Short);
        assert_eq!(&HELLO[n..], b"Hello");
        assert_eq!(Frame::text("Hello").encode(), HELLO);
        assert_eq!(h.validate(&Rules::from_server()), Ok(()));
        assert_eq!(
            h.validate(&Rules::from_client()),
            Err(FrameError::UnmaskedFromClient)
        );
    }

    #[test]
    fn rfc_single_masked_hello() {
        let (h, n) = frame(&HELLO_MASKED);
        assert_eq!(n, 6);
        assert_eq!(h.masking_key, Some(KEY));
        assert_eq!(h.masking_key_field(), Some(field::MASKING_KEY_SHORT));
        let mut p = HELLO_MASKED[n..].to_vec();
        apply_mask(&mut p, KEY, 0);
        assert_eq!(p, b"Hello");
        assert_eq!(Frame::text("Hello").with_mask(KEY).encode(), HELLO_MASKED);
        let (f, used) = Frame::decode(&HELLO_MASKED).unwrap().unwrap();
        assert_eq!(used, HELLO_MASKED.len());
        assert_eq!(f.payload, b"Hello");
        assert_eq!(h.validate(&Rules::from_client()), Ok(()));
        assert_eq!(
            h.validate(&Rules::from_server()),
            Err(FrameError::MaskedFromServer)
        );
    }

    #[test]
    fn rfc_256_bytes_16_bit_length() {
        let data: Vec<u8> = (0..=255).collect();
        let wire = Frame::binary(data.clone()).encode();
        assert_eq!(wire[..4], [0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(wire.len(), 4 + 256);
        let (h, n) = frame(&wire);
        assert_eq!(n, 4);
        assert_eq!(h.length_form, LengthForm::Ext16);
        assert_eq!(h.payload_len, 256);
        let v = FrameView::new_checked(&wire[..]).unwrap();
        assert_eq!(v.len7(), 126);
        assert_eq!(v.length_form().ext_field(), Some(field::EXT_LEN_16));
        assert_eq!(v.payload(), data);
        assert!(v.is_complete());
    }

    #[test]
    fn emit_header_round_trips_and_is_minimal() {
        for (len, form, hl) in [
            (0u64, LengthForm::Short, 2),
            (125, LengthForm::Short, 2),
            (126, LengthForm::Ext16, 4),
            (65535, LengthForm::Ext16, 4),
            (65536, LengthForm::Ext64, 10),
            (u64::MAX >> 1, LengthForm::Ext64, 10),
        ] {
            for key in [None, Some(KEY)] {
                let h = FrameHeader::new(true, OpCode::Binary, len, key);
                assert_eq!(h.length_form, form);
                let mut buf = [0u8; MAX_HEADER_LEN];
                let n = emit_header(&h, &mut buf).unwrap();
                assert_eq!(n, hl + if key.is_some() { 4 } else { 0 });
                assert_eq!(n, h.header_len());
                assert_eq!(parse_header(&buf[..n]), Ok(Some((h, n))));
                // Too small a buffer: an error, and no panic.
                assert!(emit_header(&h, &mut buf[..n - 1]).is_err());
            }
        }
        // rsv and every opcode survive.
        for op in 0..16u8 {
            let h = FrameHeader {
                rsv: 0b101,
                ..FrameHeader::new(false, OpCode::from(op), 3, None)
            };
            let mut buf = [0u8; 2];
            emit_header(&h, &mut buf).unwrap();
            assert_eq!(u8::from(frame(&buf).0.opcode), op);
            assert_eq!(frame(&buf).0.rsv, 0b101);
        }
    }

    #[test]
    fn too_short_buffers_need_more() {
        let w256 = Frame::binary(vec![0; 256]).with_mask(KEY).encode();
        let w64k = Frame::binary(vec![0; 65536]).with_mask(KEY).encode();
        for wire in [&HELLO[..], &HELLO_MASKED, &HEL, &w256, &w64k] {
            let (h, hl) = frame(wire);
            for n in 0..hl {
                assert_eq!(parse_header(&wire[..n]), Ok(None), "prefix {n}");
                assert!(matches!(
                    FrameView::new_checked(&wire[..n]),
                    Err(crate::wire::Error::Truncated { .. })
                ));
            }
            for n in 0..wire.len() {
                assert_eq!(Frame::decode(&wire[..n]), Ok(None), "prefix {n}");
            }
            // A view over a cut frame shows what is there.
            let v = FrameView::new_checked(&wire[..hl + 1]).unwrap();
            assert_eq!(v.header(), h);
            assert!(!v.is_complete());
            assert_eq!(v.raw_payload().len(), 1);
        }
    }

    #[test]
    fn header_problems() {
        let s = Rules::from_server();
        // RSV1 without an extension; allowed once one gives it a meaning.
        assert_eq!(
            problems(&[0xc1, 0x00], s),
            [FrameError::ReservedBits { rsv: 0b100 }]
        );
        assert_eq!(
            problems(
                &[0xc1, 0x00],
                Rules {
                    allowed_rsv: 0b100,
                    ..s
                }
            ),
            []
        );
        assert_eq!(
            problems(&[0xb1, 0x00], s),
            [FrameError::ReservedBits { rsv: 0b011 }]
        );
        // Every reserved opcode.
        for op in (3..=7).chain(0xb..=0xf) {
            assert_eq!(
                problems(&[0x80 | op, 0x00], s),
                [FrameError::ReservedOpcode { opcode: op }]
            );
        }
        // A ping of 126 bytes (16-bit length), a fragmented close.
        assert_eq!(
            problems(&[0x89, 0x7e, 0x00, 0x7e], s),
            [FrameError::ControlTooLong { len: 126 }]
        );
        assert_eq!(problems(&[0x89, 0x7d], s), []);
        assert_eq!(problems(&[0x08, 0x00], s), [FrameError::ControlFragmented]);
        // Several at once, all shown.
        assert_eq!(
            problems(&[0x7b, 0xfe, 0x01, 0x00, 1, 2, 3, 4], s),
            [
                FrameError::ReservedBits { rsv: 0b111 },
                FrameError::ReservedOpcode { opcode: 0xb },
                FrameError::ControlFragmented,
                FrameError::ControlTooLong { len: 256 },
                FrameError::MaskedFromServer,
            ]
        );
        for e in problems(&[0x7b, 0xfe, 0x01, 0x00, 1, 2, 3, 4], s) {
            assert_eq!(e.close_code(), 1002);
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn apply_mask_matches_the_definition() {
        let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            for offset in 0..9 {
                let mut fast = data[..len].to_vec();
                let mut slow = fast.clone();
                apply_mask(&mut fast, KEY, offset);
                mask_naive(&mut slow, KEY, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                apply_mask(&mut fast, KEY, offset);
                assert_eq!(fast, data[..len], "masking twice restores");
            }
        }
        // In pieces, with the offset carried along, the same as at once.
        let mut whole = data.clone();
        apply_mask(&mut whole, KEY, 0);
        let mut pieces = data.clone();
        let mut at = 0;
        for n in [3, 1, 8, 13, 75] {
            apply_mask(&mut pieces[at..at + n], KEY, at);
            at += n;
        }
        assert_eq!(pieces, whole);
    }

    // -- close frames ---------------------------------------------------------------

    #[test]
    fn close_payloads() {
        assert_eq!(parse_close(&[]), Ok(None));
        assert_eq!(parse_close(&[0x03]), Err(FrameError::CloseTooShort));
        assert_eq!(parse_close(&[0x03, 0xe8]), Ok(Some((1000, ""))));
        assert_eq!(parse_close(b"\x03\xe9bye"), Ok(Some((1001, "bye"))));
        assert_eq!(
            parse_close(&[0x03, 0xed]),
            Err(FrameError::InvalidCloseCode { code: 1005 })
        );
        let e = parse_close(b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")
            .unwrap_err();
        assert_eq!((e, e.close_code()), (FrameError::InvalidCloseReason, 1007));
        assert_eq!(close_payload(1000, "ok"), b"\x03\xe8ok");
        // Cut to 125 bytes, at a character boundary.
        let long = "é".repeat(100);
        let p = close_payload(4000, &long);
        assert_eq!(p.len(), 124);
        assert!(parse_close(&p).is_ok());
        let f = Frame::close(Some(1000), &long);
        assert!(f.header().validate(&Rules::from_server()).is_ok());
        assert_eq!(Frame::close(None, "ignored").payload, b"");
    }

    #[test]
    fn close_codes() {
        // Autobahn 7.7.x (valid) and 7.9.x (invalid), plus the rest of RFC 6455 § 7.4.
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(close_code_is_valid_to_receive(code), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!close_code_is_valid_to_receive(code), "{code}");
            assert_eq!(
                parse_close(&code.to_be_bytes()),
                Err(FrameError::InvalidCloseCode { code })
            );
        }
        assert!(close_code_may_send(1010, Role::Client));
        assert!(!close_code_may_send(1010, Role::Server));
        assert!(!close_code_may_send(1005, Role::Client));
        assert!(close_code_may_send(1011, Role::Server));
        assert_eq!(close_code_name(1009), "Message Too Big");
    }

    #[test]
    fn opcodes() {
        for v in 0..16u8 {
            let op = OpCode::from(v);
            assert_eq!(u8::from(op), v);
            assert_eq!(op.is_control(), v >= 8);
            assert_eq!(op.is_reserved(), matches!(v, 3..=7 | 0xb..=0xf));
            assert!(!op.name().is_empty());
        }
        assert_eq!(OpCode::from(0x81), OpCode::Text);
        assert_eq!(Role::Client.peer(), Role::Server);
    }

    fn problems(wire: &[u8], rules: Rules) -> Vec<FrameError> {
        frame(wire).0.problems(&rules).collect()
    }

    fn mask_naive(data: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }
}

/// Real bytes: frames of `captures/websocket.pcap` (`netlab ws connect` to Python's
/// websockets server on 127.0.0.1:8080, see captures/README.md), each the TCP payload
/// after 66 bytes of Ethernet, IPv4 and TCP.
#[cfg(test)]
mod real_bytes {
    use super::*;

    /// Frame 8: the client's masked text "hello" (key 71 71 3f 01).
    const CLIENT_TEXT: [u8; 11] = [
        0x81, 0x85, 0x71, 0x71, 0x3f, 0x01, 0x19, 0x14, 0x53, 0x6d, 0x1e,
    ];
    /// Frame 12: the server's echo, unmasked.
    const SERVER_TEXT: [u8; 7] = [0x81, 0x05, b'h', b'e', b'l', b'l', b'o'];
    /// Frame 16: the client's close, masked, code 1000.
    const CLIENT_CLOSE: [u8; 8] = [0x88, 0x82, 0xa1, 0x9c, 0x40, 0xd9, 0xa2, 0x74];

    #[test]
    fn a_masked_text_frame_from_the_client() {
        let (h, n) = parse_header(&CLIENT_TEXT).unwrap().unwrap();
        assert_eq!((h.fin, h.rsv, h.opcode, n), (true, 0, OpCode::Text, 6));
        assert_eq!(
            (h.masking_key, h.payload_len),
            (Some([0x71, 0x71, 0x3f, 0x01]), 5)
        );
        assert!(h.validate(&Rules::from_client()).is_ok());
        let mut payload = CLIENT_TEXT[n..].to_vec();
        apply_mask(&mut payload, h.masking_key.unwrap(), 0);
        assert_eq!(payload, b"hello");
        let (f, used) = Frame::decode(&CLIENT_TEXT).unwrap().unwrap();
        assert_eq!((f.payload.as_slice(), used), (&b"hello"[..], 11));
        assert_eq!(
            Frame::text("hello")
                .with_mask([0x71, 0x71, 0x3f, 0x01])
                .encode(),
            CLIENT_TEXT
        );
        for k in 0..CLIENT_TEXT.len() {
            assert!(
                Frame::decode(&CLIENT_TEXT[..k]).unwrap().is_none(),
                "{k} bytes"
            );
        }
    }

    #[test]
    fn the_servers_echo_and_the_clients_close() {
        let (h, n) = parse_header(&SERVER_TEXT).unwrap().unwrap();
        assert_eq!((h.masking_key, h.payload_len, n), (None, 5, 2));
        assert!(h.validate(&Rules::from_server()).is_ok());
        assert_eq!(
            h.validate(&Rules::from_client()),
            Err(FrameError::UnmaskedFromClient),
            "a server's frame is never masked"
        );
        assert_eq!(Frame::text("hello").encode(), SERVER_TEXT);
        let (close, _) = Frame::decode(&CLIENT_CLOSE).unwrap().unwrap();
        assert_eq!(close.opcode, OpCode::Close);
        assert_eq!(
            parse_close(&close.payload),
            Ok(Some((close_code::NORMAL, "")))
        );
    }
}
