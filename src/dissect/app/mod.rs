//! Application protocols above TCP and UDP, in the manner of Wireshark: found by port,
//! by `--decode-as`, by content, or announced by another conversation (FTP's PASV), and
//! fed the bytes of each TCP direction in order, PDU by PDU.
//!
//! # The model
//!
//! Per TCP stream and direction, a [`flow::Flow`] delivers the stream's bytes in order,
//! once each: out-of-order segments wait for the hole before them, retransmitted and
//! overlapping bytes are cut off. The application dissector is then asked about the bytes
//! at the start of the direction's unread stream — exactly Wireshark's
//! `tcp_dissect_pdus` contract:
//!
//! - [`Need::Pdu`]`(n)`: "a complete PDU of `n` bytes starts here" — once `n` bytes are
//!   there the PDU is dissected, **once**, on the frame that completes it. A PDU wholly
//!   inside one segment is read from the frame's bytes; one built from several segments
//!   is appended to the packet as a "Reassembled TCP" source, and that frame lists the
//!   frames it came from (`[3 Reassembled TCP Segments (2996 bytes): #4(1448), #6(1448),
//!   #7(100)]`, fields `tcp.segments`, `tcp.segment`, `tcp.segment.count`,
//!   `tcp.reassembled.length`). Several PDUs in one segment are each dissected.
//! - [`Need::More`]`(Some(n))` / `More(None)`: "not enough yet: at least `n` bytes in all /
//!   I cannot tell" — the framework asks again once `n` bytes (or any more byte) are there.
//! - [`Need::UntilClose`]: everything until this direction's FIN is one PDU.
//! - [`Need::NotMine`]: "these bytes are not my protocol" — they are shown as data, and
//!   the next segment that starts a PDU is offered to the dissector again.
//!
//! Earlier frames that only carried part of a PDU say `[TCP segment of a reassembled
//! PDU]`. **`tcp.reassembled_in` is not set on them**: netlab prints each frame as soon
//! as it is read and never goes back, as `tshark` does in its default single pass
//! (Wireshark's GUI and `tshark -2` read the capture twice to fill it in).
//!
//! # Limits (bounded memory, marked overflow)
//!
//! - [`flow::MAX_PDU`] (4 MiB) of an unfinished PDU per direction. A PDU announced
//!   larger is dissected from the bytes held when the limit is met (the layer marked
//!   `[truncated: …]` by the dissector, `cx.cut` set) and the rest of it is skipped;
//!   a PDU of unknown length that outgrows the limit ends the direction's dissection.
//! - [`flow::MAX_HELD`] (1 MiB) of out-of-order segments per direction; a segment beyond
//!   it is not kept (the hole it leaves is given up as below).
//! - [`flow::MAX_TOTAL`] (32 MiB) over all streams; a flow that would pass it is treated
//!   as if it had reached its own limit.
//! - A hole the capture never fills is given up when the receiver acknowledges bytes past
//!   it (the capture missed them) or when the capture cut a segment (snaplen): the PDU in
//!   progress is lost, the next frame says how many bytes were missing, and the stream
//!   is picked up at the next segment that starts a PDU.
//! - Application state for at most [`MAX_UDP_SESSIONS`] UDP conversations (oldest
//!   forgotten first); a TCP stream's state is freed when both directions have closed.
//!
//! Each overflow is marked on the frame where it happens and counted for the warning at
//! the end of the run.
//!
//! # Writing an application dissector
//!
//! An [`AppDef`] names the protocol (its `--decode-as` name is Wireshark's), its
//! well-known ports, an optional content heuristic, and makes a [`Session`] per
//! conversation (a TCP stream, or a UDP conversation). The session keeps whatever the
//! protocol needs across PDUs and both directions (HTTP's queue of requests awaiting
//! their responses, FTP's last command). It implements two functions:
//!
//! ```ignore
//! impl Session for Smtp {
//!     // TCP only: how long is the PDU at the start of `buf`? (UDP datagrams are PDUs.)
//!     fn pdu_len(&mut self, dir: Dir, buf: &[u8]) -> Need {
//!         match buf.iter().position(|&b| b == b'\n') {
//!             Some(i) => Need::Pdu(i + 1),                 // one line
//!             None if buf.len() > 4096 => Need::NotMine,   // no line is that long
//!             None => Need::More(None),
//!         }
//!     }
//!     // One complete PDU; offsets are from its first byte.
//!     fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]) {
//!         cx.begin(Proto::Smtp, 0);
//!         cx.push(0, &smtp::COMMAND, 0..4, Value::Text("EHLO".into()));
//!         note!(cx, "(the client says hello)");          // -v only
//!         cx.info().push_str("C: EHLO x");                  // the packet list's Info
//!         cx.end(pdu.len());
//!     }
//! }
//! pub const APP: AppDef = AppDef {
//!     name: "smtp", aliases: &[], proto: Proto::Smtp,
//!     tcp_ports: &[25, 587], udp_ports: &[],
//!     heuristic: None,
//!     new: |_start| Box::new(Smtp::default()),
//! };
//! ```
//!
//! and is listed in [`APPS`]. Fields are declared with `wire::fields!` next to the codec
//! (`src/wire/<proto>.rs`) and their `FIELDS` list added to `wire::ALL` (or, for fields
//! only the dissector computes, declared in the app module and added to
//! `dissect::DISSECT_FIELDS`), which is what makes the display filter know them.
//!
//! The [`Cx`] is the dissector's only way out: `begin`/`end` open and close a layer,
//! `push`/`push_bits`/`push_generated` record fields with byte ranges *relative to the
//! PDU* (the framework maps them to the frame or to the reassembled bytes), `note!` and
//! `headline!` write what `-v` shows, `malformed`/`truncated` mark a layer, `info` and
//! `column` fill the packet list, `source` appends bytes of the dissector's own making (a
//! de-chunked body, an unmasked payload) and dissects inside them, and `expect` announces
//! a connection another conversation will open (FTP's PASV: the data connection to
//! `ip:port` is then dissected as `ftp-data`, labelled with what the control connection
//! said). `cx.record` / `cx.detail` say whether fields / notes are wanted at all: the
//! plain packet list needs neither, and skipping them is most of its speed.
//!
//! Imports: `wire` (codecs and fields) and the dissection model. Never prints.

pub(crate) mod dns;
pub(crate) mod engineio;
pub(crate) mod flow;
pub(crate) mod ftp;
pub mod fuzz;
pub(crate) mod http;
pub(crate) mod smtp;
pub(crate) mod ssh;
pub(crate) mod tls;
pub(crate) mod websocket;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::ops::{Range, RangeInclusive};

use super::model::{Field, Proto, Source, Value};
use super::{Addr, Out};
use crate::wire::FieldDef;
pub(crate) use flow::Budget;
use flow::{Accept, Flow, Mode};

/// Which transport carried the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

/// Which way bytes travel in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the client (who opened the connection, or sent the request) to the server.
    ToServer,
    ToClient,
}

impl Dir {
    pub fn other(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// An application dissector's answer about the bytes at the start of a direction's
/// unread stream (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A complete PDU of this many bytes (at least 1) starts here.
    Pdu(usize),
    /// More bytes are needed: at least this many in all, when known.
    More(Option<usize>),
    /// Everything until the direction closes is one PDU.
    UntilClose,
    /// Not this protocol.
    NotMine,
}

/// What a new session is told about its conversation.
#[derive(Debug, Clone)]
pub struct Start {
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The label of the expectation that announced this conversation (see
    /// [`Cx::expect`]), e.g. "PASV".
    pub label: Option<String>,
    /// What the announcing conversation shares with this one (see
    /// [`Cx::expect_shared`]): FTP's control connection tells its data connection which
    /// command it carries the answer to.
    pub shared: Option<Shared>,
    /// The frame the conversation's application data starts in.
    pub frame: u64,
}

/// State one conversation shares with a conversation it announced.
pub type Shared = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// The state of one application protocol in one conversation.
pub trait Session {
    /// TCP only: the length of the PDU at the start of `buf` (bytes `dir` sent).
    fn pdu_len(&mut self, dir: Dir, buf: &[u8]) -> Need;
    /// Dissects one complete PDU (or, if `cx.cut`, the start of one that could not be
    /// held whole, or was cut by the connection's end): offsets are from `pdu[0]`.
    fn dissect(&mut self, cx: &mut Cx, pdu: &[u8]);
    /// Bytes of `dir` were lost (a hole in the capture): forget any partial state.
    fn lost(&mut self, _dir: Dir) {}
    /// Wireshark's dissectors that reassemble on their own (TLS, SSH) are called on the
    /// segment where a PDU starts even when it ends in a later one, so such a segment
    /// lists them in `frame.protocols`: the protocol to show there as an empty layer.
    fn layer_on_start(&self) -> Option<Proto> {
        None
    }
}

/// A content heuristic: given the first payload of a conversation, which way it was sent
/// if it is this protocol.
pub type Heuristic = fn(Transport, &[u8]) -> Option<Dir>;

/// One application protocol.
pub struct AppDef {
    /// Wireshark's name for it (`-d tcp.port==8765,http`).
    pub name: &'static str,
    /// Other names `--decode-as` accepts (`ssl` for `tls`).
    pub aliases: &'static [&'static str],
    pub proto: Proto,
    pub tcp_ports: &'static [u16],
    pub udp_ports: &'static [u16],
    pub heuristic: Option<Heuristic>,
    pub new: fn(&Start) -> Box<dyn Session>,
}

impl std::fmt::Debug for AppDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A WebSocket seen without its handshake (`--decode-as …,websocket`): an HTTP session
/// already upgraded. Here, so that `websocket.rs` and `http.rs` (which holds a
/// WebSocket after an upgrade) do not import each other.
fn websocket_session(start: &Start) -> Box<dyn Session> {
    Box::new(http::Http::websocket(start))
}

/// "Line-based text data": one field per line.
pub(super) fn text_lines(cx: &mut Cx, text: &[u8]) {
    cx.begin(Proto::TextLines, 0);
    if cx.record {
        let mut at = 0;
        for line in text.split_inclusive(|&b| b == b'\n') {
            cx.push_text(0, &http::LINE, text, at..at + line.len());
            at += line.len();
        }
    }
    crate::dissect::headline!(cx, "{} bytes", text.len());
    cx.end(text.len());
}

/// Every application protocol, in the order heuristics are tried.
pub static APPS: &[&AppDef] = &[
    &http::APP,
    &websocket::APP,
    &dns::APP,
    &tls::APP,
    &ssh::APP,
    &ftp::APP,
    &ftp::DATA_APP,
    &smtp::APP,
];

/// The names `--decode-as` accepts: every protocol's, and `data` (no dissector).
pub fn decode_as_names() -> impl Iterator<Item = &'static str> {
    APPS.iter()
        .flat_map(|a| std::iter::once(a.name).chain(a.aliases.iter().copied()))
        .chain(std::iter::once("data"))
}

fn app_named(name: &str) -> Option<Option<&'static AppDef>> {
    if name.eq_ignore_ascii_case("data") {
        return Some(None);
    }
    APPS.iter()
        .find(|a| {
            a.name.eq_ignore_ascii_case(name)
                || a.aliases.iter().any(|x| x.eq_ignore_ascii_case(name))
        })
        .map(|a| Some(*a))
}

/// One `--decode-as` rule: Wireshark's `tcp.port==8765,http` (also `udp.port==…`, a
/// range `8000-8010`, or `8000:3` for three ports from 8000).
#[derive(Debug, Clone)]
pub struct DecodeAs {
    pub transport: Transport,
    pub ports: RangeInclusive<u16>,
    /// `None`: `data`, no dissector.
    pub app: Option<&'static AppDef>,
}

impl DecodeAs {
    pub fn parse(s: &str) -> Result<DecodeAs, String> {
        let usage = "expected Wireshark's form LAYER==PORT,PROTOCOL, e.g. tcp.port==8765,http";
        let (sel, proto) = s
            .split_once(',')
            .ok_or_else(|| format!("`{s}`: no `,PROTOCOL` ({usage})"))?;
        let (layer, value) = sel
            .split_once("==")
            .ok_or_else(|| format!("`{s}`: no `==` ({usage})"))?;
        let transport = match layer.trim() {
            "tcp.port" => Transport::Tcp,
            "udp.port" => Transport::Udp,
            other => {
                return Err(format!(
                    "`{other}`: netlab decodes by tcp.port or udp.port ({usage})"
                ));
            }
        };
        let value = value.trim();
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("`{p}` is not a port number (0 to 65535)"))
        };
        let ports = if let Some((a, b)) = value.split_once('-') {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("`{value}`: the range runs backwards"));
            }
            a..=b
        } else if let Some((a, n)) = value.split_once(':') {
            let a = port(a)?;
            let n: u16 = n
                .trim()
                .parse()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("`{value}`: `PORT:COUNT` needs a count from 1"))?;
            a..=a.saturating_add(n - 1)
        } else {
            let p = port(value)?;
            p..=p
        };
        let proto = proto.trim();
        let app = app_named(proto).ok_or_else(|| {
            let names: Vec<&str> = decode_as_names().collect();
            format!(
                "`{proto}`: netlab has no dissector of that name (it knows {})",
                names.join(", ")
            )
        })?;
        Ok(DecodeAs {
            transport,
            ports,
            app,
        })
    }
}

/// Most UDP conversations whose application state is kept.
pub const MAX_UDP_SESSIONS: usize = 4096;
/// Most announced connections (FTP data) remembered.
pub const MAX_EXPECTED: usize = 64;

/// A connection another conversation announced.
struct Expect {
    server: SocketAddr,
    app: &'static AppDef,
    label: String,
    shared: Option<Shared>,
}

impl std::fmt::Debug for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expect({} {:?} {})", self.server, self.app, self.label)
    }
}

/// Per-capture application state: the rules, announcements, budget and UDP sessions.
/// (A TCP stream's state lives with the stream in `streams`, so one lookup finds both.)
#[derive(Default)]
pub(crate) struct Apps {
    pub decode_as: Vec<DecodeAs>,
    expects: VecDeque<Expect>,
    pub budget: Budget,
    udp: HashMap<u32, UdpConv>,
    udp_order: VecDeque<u32>,
}

struct UdpConv {
    app: &'static AppDef,
    session: Box<dyn Session>,
    /// The client's endpoint (who sent first, or to the well-known port).
    client: (Addr, u16),
}

/// A TCP stream's application state (kept in the stream tracker's entry).
pub(crate) enum AppState {
    /// No protocol recognised yet; the number of payloads tried.
    Undecided(u8),
    /// No application protocol: payloads are data.
    Data,
    App(Box<Conv>),
}

impl Default for AppState {
    fn default() -> Self {
        AppState::Undecided(0)
    }
}

/// Payloads that start a direction's stream tried by the heuristics before a TCP stream
/// is taken for data (a retransmitted first segment counts again).
const MAX_TRIES: u8 = 3;

pub(crate) struct Conv {
    session: Box<dyn Session>,
    /// Indexed by the tracker's direction (0 or 1).
    flows: [Flow; 2],
    /// The tracker's direction whose bytes go to the server.
    to_server: usize,
}

impl Conv {
    fn dir(&self, d: usize) -> Dir {
        if d == self.to_server {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }
}

/// A TCP segment as the application stage needs it.
pub(crate) struct TcpSeg {
    /// The tracker's direction (0 or 1).
    pub dir: usize,
    /// Relative sequence and acknowledgment numbers.
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    /// The payload's captured bytes in the frame.
    pub payload: Range<usize>,
    /// The payload's length on the wire (more than captured when the capture cut it).
    pub seg_len: usize,
    pub src: (Addr, u16),
    pub dst: (Addr, u16),
}

fn sock(a: Addr, port: u16) -> SocketAddr {
    let ip = match a {
        Addr::V4(b) => IpAddr::from(b),
        Addr::V6(b) => IpAddr::from(b),
    };
    SocketAddr::new(ip, port)
}

/// What the app stage of one frame works with.
pub(crate) struct Env<'a, 'p> {
    pub out: &'a mut Out<'p>,
    /// The frame's bytes (and a reassembled IP datagram after them).
    pub data: &'a [u8],
    /// Bytes made during the app stage (reassembled PDUs, de-chunked bodies…), appended
    /// to the packet's data after it; they will sit at `data.len()`.
    pub extra: &'a mut Vec<u8>,
    pub frame: u64,
    /// PDUs dissected in this frame so far.
    pdus: usize,
}

impl<'a, 'p> Env<'a, 'p> {
    pub fn new(out: &'a mut Out<'p>, data: &'a [u8], extra: &'a mut Vec<u8>) -> Self {
        let frame = out.pkt.number;
        Env {
            out,
            data,
            extra,
            frame,
            pdus: 0,
        }
    }
}

/// Whether a PDU is all there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Whole,
    /// Cut at netlab's buffer limit.
    Overflow,
    /// Cut by the connection's end.
    Closed,
}

/// How the bytes of a PDU reached the dissector.
enum Place<'b> {
    /// In the frame, at this offset.
    Frame(usize),
    /// Reassembled from these frames: (frame, bytes).
    Reassembled(&'b [(u64, usize)]),
}

/// The application stage of a TCP segment: decide the protocol, put the bytes in order,
/// dissect what is complete. Returns false when the payload is plain data (the caller
/// shows it as such).
pub(crate) fn tcp(env: &mut Env, apps: &mut Apps, state: &mut AppState, seg: &TcpSeg) -> bool {
    use crate::wire::tcp::flags::{ACK, FIN, RST, SYN};
    let has_payload = !seg.payload.is_empty();
    if let AppState::Undecided(tries) = *state
        && has_payload
    {
        // Content is judged only where a direction's stream starts (relative 1).
        let first = &env.data[seg.payload.clone()];
        let content = seg.seq == 1;
        *state = match decide_tcp(apps, seg, first, content, env.frame) {
            Some(conv) => AppState::App(conv),
            None if tries + u8::from(content) >= MAX_TRIES => AppState::Data,
            None => AppState::Undecided(tries + u8::from(content)),
        };
    }
    let AppState::App(conv) = state else {
        return false;
    };
    let conv = &mut **conv;
    // The receiver acknowledged bytes of the other direction the capture never saw.
    if seg.flags & ACK != 0 {
        let r = 1 - seg.dir;
        if let Some(n) = conv.flows[r].acked_beyond(seg.ack)
            && conv.flows[r].mode != Mode::Off
        {
            let dir = conv.dir(r);
            lose(conv, r, n, &mut apps.budget);
            conv.session.lost(dir);
        }
    }
    if seg.flags & SYN != 0 {
        // The first data byte is relative 1 (the SYN used relative 0).
        conv.flows[seg.dir].begin_at(seg.seq.wrapping_add(1));
    }
    let d = seg.dir;
    let dir = conv.dir(d);
    let mut shown = !has_payload;
    if has_payload {
        let payload = &env.data[seg.payload.clone()];
        let before = env.pdus;
        let fresh = conv.flows[d].pending() == 0;
        // Held segments a given-up hole left next in line come before this one.
        while let Some((frame, bytes)) = conv.flows[d].pop_held(&mut apps.budget) {
            feed(env, conv, apps, d, &bytes, None, frame);
        }
        let accept =
            conv.flows[d].accept(seg.seq, payload.len(), env.frame, payload, &mut apps.budget);
        if conv.flows[d].missing > 0 {
            let n = std::mem::take(&mut conv.flows[d].missing);
            missing_note(env, n);
        }
        match accept {
            Accept::New { trim } => {
                let at = seg.payload.start + trim;
                let chunk = &env.data[at..seg.payload.end];
                shown = feed(env, conv, apps, d, chunk, Some(at), env.frame);
                while let Some((frame, bytes)) = conv.flows[d].pop_held(&mut apps.budget) {
                    feed(env, conv, apps, d, &bytes, None, frame);
                }
                // The capture cut the segment: the rest of it is a hole.
                if seg.seg_len > payload.len() {
                    let n = (seg.seg_len - payload.len()) as u64;
                    lose(conv, d, n, &mut apps.budget);
                    conv.flows[d].missing = 0;
                    conv.session.lost(dir);
                }
            }
            Accept::Old => {
                env.out.note_tcp(
                    "these bytes were delivered in an earlier frame: a retransmission, not read again",
                );
                shown = true;
            }
            Accept::Held => {
                env.out
                    .note_tcp("out of order: held until the bytes before it arrive, then read");
                shown = true;
            }
            Accept::Dropped => {
                env.out.note_tcp(
                    "out of order, and netlab's buffer for held segments is full: not kept",
                );
                apps.budget.overflows += 1;
                shown = true;
            }
        }
        let waiting = matches!(accept, Accept::Held | Accept::Dropped)
            || (conv.flows[d].pending() > 0 && accept != Accept::Old);
        if env.pdus == before && shown && waiting {
            if fresh
                && matches!(accept, Accept::New { .. })
                && let Some(proto) = conv.session.layer_on_start()
            {
                env.out.begin(proto, seg.payload.start);
                env.out.end(seg.payload.end);
            }
            env.out
                .pkt
                .info
                .push_str(" [TCP segment of a reassembled PDU]");
            // The bytes wait for the rest of their PDU: shown as TCP segment data.
            if env.out.record {
                let r = seg.payload.clone();
                env.out.insert_tcp_fields(vec![Field {
                    def: &SEGMENT_DATA,
                    value: Value::Bytes(r.clone()),
                    range: r,
                    depth: 0,
                    note: None,
                    bits: None,
                    generated: false,
                    hidden: false,
                }]);
            }
        }
    }
    if seg.flags & (FIN | RST) != 0 {
        close(env, conv, apps, d, seg.flags & FIN != 0);
    }
    for f in &mut conv.flows {
        f.compact();
    }
    // Both directions closed: nothing new can come; free the conversation.
    if conv.flows.iter().all(|f| f.closed) {
        *state = AppState::Data;
    }
    shown
}

/// Frees what a forgotten stream held.
pub(crate) fn release(apps: &mut Apps, state: AppState) {
    if let AppState::App(mut conv) = state {
        for f in &mut conv.flows {
            f.release(&mut apps.budget);
        }
    }
}

/// The capture lacks `n` bytes of direction `d`: the PDU in progress is lost and the
/// stream is picked up after them.
fn lose(conv: &mut Conv, d: usize, n: u64, budget: &mut Budget) {
    let f = &mut conv.flows[d];
    let n = f.hole_before_held(n);
    f.clear(budget);
    f.skip_hole(n);
    f.mode = match f.mode {
        Mode::Skip(k) if k > n => Mode::Skip(k - n),
        Mode::Off => Mode::Off,
        _ => Mode::Resync,
    };
}

fn missing_note(env: &mut Env, n: u64) {
    env.out.note_tcp(format!(
        "{n} bytes before this segment are missing from the capture: the message they belonged to cannot be read"
    ));
}

/// Direction `d` ended (FIN: normally; RST: aborted).
fn close(env: &mut Env, conv: &mut Conv, apps: &mut Apps, d: usize, fin: bool) {
    let dir = conv.dir(d);
    let Conv { flows, session, .. } = conv;
    let flow = &mut flows[d];
    if flow.closed {
        return;
    }
    flow.closed = true;
    let pending = flow.pending();
    let until_close = flow.mode == Mode::UntilClose;
    if pending > 0 && fin && (until_close || flow.claimed) {
        // The PDU in progress ends here: whole if it was "until close", else the
        // connection closed before the length its header announced.
        let start = flow.start;
        let from = flow.consume(pending, &mut apps.budget);
        let bytes = &flow.buf[start..start + pending];
        let place = Place::Reassembled(&from);
        let end = if until_close { End::Whole } else { End::Closed };
        dissect_pdu(
            env,
            &mut apps.expects,
            &mut **session,
            dir,
            bytes,
            place,
            end,
        );
    } else {
        if pending > 0 {
            env.out.note_tcp(format!(
                "the connection closed with {pending} bytes that never made a whole message"
            ));
        }
        flow.clear(&mut apps.budget);
    }
    if flows.iter().all(|f| f.closed) {
        for f in flows.iter_mut() {
            f.release(&mut apps.budget);
        }
    }
}

/// Picks a new TCP stream's protocol: an announced connection, `--decode-as`, a
/// well-known port (the lower port first, as Wireshark tries them), then content.
fn decide_tcp(
    apps: &mut Apps,
    seg: &TcpSeg,
    first: &[u8],
    content: bool,
    frame: u64,
) -> Option<Box<Conv>> {
    let src = sock(seg.src.0, seg.src.1);
    let dst = sock(seg.dst.0, seg.dst.1);
    // (app, the tracker direction that goes to the server, label, shared state)
    let mut found: Option<(&'static AppDef, usize, Option<String>, Option<Shared>)> = None;
    if let Some(i) = apps
        .expects
        .iter()
        .position(|e| e.server == dst || e.server == src)
    {
        let e = apps.expects.remove(i).expect("present");
        let to_server = if e.server == dst {
            seg.dir
        } else {
            1 - seg.dir
        };
        found = Some((e.app, to_server, Some(e.label), e.shared));
    }
    if found.is_none() {
        for rule in apps
            .decode_as
            .iter()
            .filter(|r| r.transport == Transport::Tcp)
        {
            let to_server = if rule.ports.contains(&seg.dst.1) {
                seg.dir
            } else if rule.ports.contains(&seg.src.1) {
                1 - seg.dir
            } else {
                continue;
            };
            match rule.app {
                Some(app) => found = Some((app, to_server, None, None)),
                None => return None,
            }
            break;
        }
    }
    if found.is_none() {
        let (lo, hi) = if seg.src.1 <= seg.dst.1 {
            (seg.src.1, seg.dst.1)
        } else {
            (seg.dst.1, seg.src.1)
        };
        'ports: for port in [lo, hi] {
            for app in APPS {
                if app.tcp_ports.contains(&port) {
                    let to_server = if seg.dst.1 == port {
                        seg.dir
                    } else {
                        1 - seg.dir
                    };
                    found = Some((app, to_server, None, None));
                    break 'ports;
                }
            }
        }
    }
    if found.is_none() && content {
        for app in APPS {
            if let Some(h) = app.heuristic
                && let Some(sent) = h(Transport::Tcp, first)
            {
                let to_server = if sent == Dir::ToServer {
                    seg.dir
                } else {
                    1 - seg.dir
                };
                found = Some((app, to_server, None, None));
                break;
            }
        }
    }
    let (app, to_server, label, shared) = found?;
    let (client, server) = if to_server == seg.dir {
        (src, dst)
    } else {
        (dst, src)
    };
    let start = Start {
        transport: Transport::Tcp,
        client,
        server,
        label,
        shared,
        frame,
    };
    let mut flows = [Flow::default(), Flow::default()];
    for f in &mut flows {
        f.begin_at(1);
    }
    Some(Box::new(Conv {
        session: (app.new)(&start),
        flows,
        to_server,
    }))
}

/// Feeds delivered bytes of direction `d` to the dissector; `at` is their offset in the
/// frame when they are the current frame's (`None` for held bytes from `from_frame`).
/// Returns false when the bytes were not claimed (the caller shows them as data).
fn feed(
    env: &mut Env,
    conv: &mut Conv,
    apps: &mut Apps,
    d: usize,
    mut chunk: &[u8],
    mut at: Option<usize>,
    from_frame: u64,
) -> bool {
    let dir = conv.dir(d);
    let Conv { flows, session, .. } = conv;
    let flow = &mut flows[d];
    let session = &mut **session;
    if let Mode::Skip(n) = flow.mode {
        let k = (n.min(chunk.len() as u64)) as usize;
        chunk = &chunk[k..];
        at = at.map(|a| a + k);
        flow.mode = if n > k as u64 {
            Mode::Skip(n - k as u64)
        } else {
            Mode::Pdus
        };
        if at.is_some() && k > 0 {
            env.out.note_tcp(format!(
                "{k} bytes continue a PDU too large for netlab's buffer: skipped"
            ));
            let info = &mut env.out.pkt.info;
            info.push_str(" [continuation of an oversized PDU]");
        }
        if chunk.is_empty() {
            return true;
        }
    }
    match flow.mode {
        Mode::Off => return false,
        Mode::Resync => {
            if flow.pending() > 0 {
                flow.clear(&mut apps.budget);
            }
            match session.pdu_len(dir, chunk) {
                Need::NotMine | Need::Pdu(0) => {
                    if at.is_some() {
                        env.out.note_tcp(
                    "the stream lost bytes before: this segment does not start a message, shown as data",
                        );
                    }
                    return false;
                }
                _ => flow.mode = Mode::Pdus,
            }
        }
        Mode::UntilClose => {
            if flow.pending() + chunk.len() > flow::MAX_PDU || !apps.budget.fits(chunk.len()) {
                overflow(env, flow, session, dir, apps, None);
                return true;
            }
            flow.push(from_frame, chunk, &mut apps.budget);
            return true;
        }
        Mode::Pdus | Mode::Skip(_) => {}
    }
    // In place: nothing pending, the bytes are the frame's own.
    if flow.pending() == 0
        && let Some(base) = at
    {
        let mut pos = 0;
        while pos < chunk.len() {
            let rest = &chunk[pos..];
            match session.pdu_len(dir, rest) {
                Need::Pdu(n) if n > 0 && n <= rest.len() => {
                    let place = Place::Frame(base + pos);
                    dissect_pdu(
                        env,
                        &mut apps.expects,
                        session,
                        dir,
                        &rest[..n],
                        place,
                        End::Whole,
                    );
                    pos += n;
                    flow.need = 0;
                }
                Need::NotMine | Need::Pdu(0) => {
                    flow.mode = Mode::Resync;
                    session.lost(dir);
                    if pos == 0 {
                        return false;
                    }
                    env.out
                        .note_tcp("the rest of this segment is not a message: shown as data");
                    let (a, b) = (base + pos, base + chunk.len());
                    super::transport::dissect_payload(env.out, env.data, a, b);
                    return true;
                }
                Need::UntilClose => {
                    flow.mode = Mode::UntilClose;
                    flow.push(env.frame, rest, &mut apps.budget);
                    return true;
                }
                need => {
                    flow.need = need_of(need, rest.len());
                    flow.claimed = matches!(need, Need::Pdu(_));
                    if flow.need > flow::MAX_PDU || !apps.budget.fits(rest.len()) {
                        flow.push(env.frame, rest, &mut apps.budget);
                        overflow(env, flow, session, dir, apps, Some(need));
                        return true;
                    }
                    flow.push(env.frame, rest, &mut apps.budget);
                    return true;
                }
            }
        }
        return true;
    }
    // Appended to what is pending.
    let cur = flow.buf.len();
    if flow.pending() + chunk.len() > flow::MAX_PDU || !apps.budget.fits(chunk.len()) {
        // Take what fits, dissect it as the start of an oversized PDU.
        let room = flow::MAX_PDU
            .saturating_sub(flow.pending())
            .min(chunk.len());
        flow.push(from_frame, &chunk[..room], &mut apps.budget);
        let known = (flow.need > 0).then_some(Need::Pdu(flow.need));
        overflow(env, flow, session, dir, apps, known);
        if let Mode::Skip(n) = flow.mode {
            let rest = (chunk.len() - room) as u64;
            flow.mode = if n > rest {
                Mode::Skip(n - rest)
            } else {
                Mode::Pdus
            };
        }
        return true;
    }
    flow.push(from_frame, chunk, &mut apps.budget);
    while flow.pending() > 0 && flow.pending() >= flow.need && flow.mode == Mode::Pdus {
        let avail = flow.pending();
        let need = session.pdu_len(dir, &flow.buf[flow.start..]);
        match need {
            Need::Pdu(n) if n > 0 && n <= avail => {
                let start = flow.start;
                let from = flow.consume(n, &mut apps.budget);
                flow.need = 0;
                let bytes = &flow.buf[start..start + n];
                // Wholly this frame's bytes: read them where they are in the frame.
                let place = match (at, from.as_slice()) {
                    (Some(a), [(f, _)]) if *f == env.frame && start >= cur => {
                        Place::Frame(a + (start - cur))
                    }
                    _ => Place::Reassembled(&from),
                };
                dissect_pdu(
                    env,
                    &mut apps.expects,
                    session,
                    dir,
                    bytes,
                    place,
                    End::Whole,
                );
            }
            Need::NotMine | Need::Pdu(0) => {
                flow.clear(&mut apps.budget);
                flow.mode = Mode::Resync;
                session.lost(dir);
                env.out
                    .note_tcp("the bytes waiting here are not a message: dropped");
                break;
            }
            Need::UntilClose => {
                flow.mode = Mode::UntilClose;
                break;
            }
            need => {
                flow.need = need_of(need, avail);
                flow.claimed = matches!(need, Need::Pdu(_));
                if flow.need > flow::MAX_PDU {
                    overflow(env, flow, session, dir, apps, Some(need));
                }
                break;
            }
        }
    }
    true
}

fn need_of(need: Need, have: usize) -> usize {
    match need {
        Need::Pdu(n) => n.max(have + 1),
        Need::More(Some(n)) => n.max(have + 1),
        _ => have + 1,
    }
}

/// A PDU cannot be held whole: dissect its start now, then skip the rest of it (when
/// its length is known) or stop reading the direction.
fn overflow(
    env: &mut Env,
    flow: &mut Flow,
    session: &mut dyn Session,
    dir: Dir,
    apps: &mut Apps,
    need: Option<Need>,
) {
    apps.budget.overflows += 1;
    let pending = flow.pending();
    let start = flow.start;
    let from = flow.consume(pending, &mut apps.budget);
    env.out.note_tcp(format!(
        "reassembly limit: this PDU needs more than netlab holds ({} MiB per direction, {} MiB in all): its first {pending} bytes are dissected here",
        flow::MAX_PDU >> 20,
        flow::MAX_TOTAL >> 20
    ));
    let bytes = &flow.buf[start..start + pending];
    let place = Place::Reassembled(&from);
    dissect_pdu(
        env,
        &mut apps.expects,
        session,
        dir,
        bytes,
        place,
        End::Overflow,
    );
    flow.compact();
    flow.need = 0;
    flow.mode = match need {
        Some(Need::Pdu(n)) if n > pending => Mode::Skip((n - pending) as u64),
        _ => Mode::Off,
    };
}

/// Dissects one PDU: maps its offsets to where its bytes are, lists the frames a
/// reassembled one came from, and hands it to the session.
fn dissect_pdu(
    env: &mut Env,
    expects: &mut VecDeque<Expect>,
    session: &mut dyn Session,
    dir: Dir,
    bytes: &[u8],
    place: Place,
    end: End,
) {
    let record = env.out.record;
    let base = match place {
        Place::Frame(at) => at,
        Place::Reassembled(from) => {
            // Copied even for the plain packet list: a layer's bytes are always in the
            // packet (the copy is cheap next to dissecting them).
            let base = env.data.len() + env.extra.len();
            env.extra.extend_from_slice(bytes);
            env.out.pkt.sources.push(Source {
                label: "Reassembled TCP",
                range: base..base + bytes.len(),
            });
            if record {
                segments(env.out, from, bytes.len());
            }
            base
        }
    };
    let mut cx = Cx {
        out: &mut *env.out,
        extra: &mut *env.extra,
        data_len: env.data.len(),
        base,
        dir,
        frame: env.frame,
        transport: Transport::Tcp,
        cut: end != End::Whole,
        closed: end == End::Closed,
        first: env.pdus == 0,
        info_started: false,
        record,
        detail: false,
        expects: Some(expects),
    };
    cx.detail = cx.out.detail;
    session.dissect(&mut cx, bytes);
    env.pdus += 1;
}

/// `[3 Reassembled TCP Segments (2996 bytes): #4(1448), #6(1448), #7(100)]`, as fields of
/// the TCP layer.
fn segments(out: &mut Out, from: &[(u64, usize)], len: usize) {
    let mut fields = Vec::with_capacity(from.len() + 3);
    let generated = |def: &'static FieldDef, depth: u8, value: Value| Field {
        def,
        value,
        range: 0..0,
        depth,
        note: None,
        bits: None,
        generated: true,
        hidden: false,
    };
    let mut group = generated(&SEGMENTS, 0, Value::Group);
    if out.detail {
        // Wireshark's `[2 Reassembled TCP Segments (194 bytes): #6(127), #8(67)]`.
        let mut s = format!("({}, {len} bytes:", from.len());
        for (i, (f, n)) in from.iter().enumerate() {
            let _ = write!(s, "{} #{f}({n})", if i == 0 { "" } else { "," });
        }
        s.push(')');
        group.note = Some(s.into());
    }
    fields.push(group);
    for (f, _) in from {
        fields.push(generated(&SEGMENT, 1, Value::Uint(*f)));
    }
    fields.push(generated(&SEGMENT_COUNT, 1, Value::Uint(from.len() as u64)));
    fields.push(generated(&REASSEMBLED_LENGTH, 1, Value::Uint(len as u64)));
    out.insert_tcp_fields(fields);
}

/// The dissector's view of one PDU: where to write, where the bytes are, and what the
/// conversation is (see the module documentation).
pub struct Cx<'a, 'p> {
    out: &'a mut Out<'p>,
    extra: &'a mut Vec<u8>,
    data_len: usize,
    /// Where byte 0 of the PDU sits in the packet's data.
    base: usize,
    pub dir: Dir,
    pub frame: u64,
    pub transport: Transport,
    /// The PDU is incomplete: it could not be held whole, or the connection closed first.
    pub cut: bool,
    /// …because the connection closed before the end its header announced (a length
    /// that lies).
    pub closed: bool,
    /// The first PDU dissected in this frame.
    pub first: bool,
    info_started: bool,
    /// Fields are recorded (JSON, `-v`, `-x`, filters, stats).
    pub record: bool,
    /// Notes and headlines are shown (`-v`).
    pub detail: bool,
    expects: Option<&'a mut VecDeque<Expect>>,
}

impl<'a, 'p> Cx<'a, 'p> {
    fn abs(&self, r: Range<usize>) -> Range<usize> {
        self.base + r.start..self.base + r.end
    }

    /// The frame's time since the capture's first frame, in nanoseconds.
    pub fn rel_nsec(&self) -> i64 {
        self.out.pkt.rel_nsec
    }

    /// `-2`, first pass: this PDU (a response) answers the request in frame `request`.
    /// The last answer wins (a final response after `100 Continue`).
    pub fn answers(&mut self, request: u64) {
        if let Some(links) = self.out.links.as_deref_mut()
            && links.learning
        {
            links.response_in.insert(request, self.frame);
        }
    }

    /// `-2`, second pass: the frame of the response to the request in this frame.
    pub fn response_in(&self) -> Option<u64> {
        let links = self.out.links.as_deref()?;
        if links.learning {
            return None;
        }
        links.response_in.get(&self.frame).copied()
    }

    /// Runs `f` with offsets counted from `at` in this PDU (a body after its head).
    pub fn rebase<R>(&mut self, at: usize, f: impl FnOnce(&mut Cx) -> R) -> R {
        let mut sub = Cx {
            out: &mut *self.out,
            extra: &mut *self.extra,
            data_len: self.data_len,
            base: self.base + at,
            dir: self.dir,
            frame: self.frame,
            transport: self.transport,
            cut: self.cut,
            closed: self.closed,
            first: self.first,
            info_started: self.info_started,
            record: self.record,
            detail: self.detail,
            expects: self.expects.as_deref_mut(),
        };
        let r = f(&mut sub);
        self.info_started = sub.info_started;
        r
    }

    /// Opens a layer at `at` (offset in the PDU).
    pub fn begin(&mut self, proto: Proto, at: usize) {
        self.out.begin(proto, self.base + at);
    }

    /// Closes the current layer's bytes at `end`.
    pub fn end(&mut self, end: usize) {
        self.out.end(self.base + end);
    }

    /// Records a field whose bytes are `range` of the PDU. `Value::Bytes` ranges are PDU
    /// offsets too.
    pub fn push(&mut self, depth: u8, def: &'static FieldDef, range: Range<usize>, value: Value) {
        if !self.record {
            return;
        }
        let value = match value {
            Value::Bytes(r) => Value::Bytes(self.abs(r)),
            v => v,
        };
        let range = self.abs(range);
        self.out.push(depth, def, range, value);
    }

    /// A sub-byte field: `mask` selects its bits.
    pub fn push_bits(
        &mut self,
        depth: u8,
        def: &'static FieldDef,
        range: Range<usize>,
        mask: u32,
        value: Value,
    ) {
        if !self.record {
            return;
        }
        self.push(depth, def, range, value);
        self.out.last().bits = Some(mask);
    }

    /// A value the dissector computed (shown in brackets, no bytes of its own).
    pub fn push_generated(&mut self, depth: u8, def: &'static FieldDef, value: Value) {
        if !self.record {
            return;
        }
        self.out.push_generated(depth, def, value);
    }

    /// The text of `pdu[range]`, as a field (lossy UTF-8).
    pub fn push_text(
        &mut self,
        depth: u8,
        def: &'static FieldDef,
        pdu: &[u8],
        range: Range<usize>,
    ) {
        if !self.record {
            return;
        }
        let bytes = pdu.get(range.clone()).unwrap_or(&[]);
        let text = String::from_utf8_lossy(bytes).into_owned();
        self.push(depth, def, range, Value::Text(text.into()));
    }

    /// The field pushed last (for a note or bits).
    pub fn last(&mut self) -> &mut Field {
        self.out.last()
    }

    /// A note on the last field (use `note!`, which skips the formatting without `-v`).
    pub fn note(&mut self, note: impl Into<std::borrow::Cow<'static, str>>) {
        if self.record {
            self.out.note(note);
        }
    }

    /// The current layer's headline (use `headline!`).
    pub fn headline(&mut self) -> &mut String {
        self.out.headline()
    }

    pub fn malformed(&mut self, why: impl Into<String>) {
        self.out.malformed(why);
    }

    pub fn truncated(&mut self, why: impl Into<String>) {
        self.out.truncated(why.into());
    }

    /// Marks the layer as a message netlab could not hold whole (see `cut`).
    pub fn incomplete(&mut self, why: impl Into<String>) {
        self.out.incomplete(why);
    }

    /// The packet list's Info text for this PDU: the first PDU of a frame replaces the
    /// transport's summary (TCP analysis marks such as `[TCP Retransmission]` stay in
    /// front); later PDUs append after it (write your own separator, `cx.first` says).
    pub fn info(&mut self) -> &mut String {
        if !self.info_started {
            self.info_started = true;
            if self.first {
                let fence = self.out.info_fence.min(self.out.pkt.info.len());
                self.out.pkt.info.truncate(fence);
            }
        }
        &mut self.out.pkt.info
    }

    /// The packet list's Protocol column (`HTTP`, `TLSv1.3`).
    pub fn column(&mut self, name: &'static str) {
        self.out.pkt.protocol = name;
    }

    /// Appends bytes of the dissector's own making (a de-chunked body, an unmasked
    /// payload) as a new source labelled `label`, and runs `f` with a context whose
    /// offsets are into those bytes.
    pub fn source<R>(
        &mut self,
        label: &'static str,
        bytes: &[u8],
        f: impl FnOnce(&mut Cx) -> R,
    ) -> R {
        let base = self.data_len + self.extra.len();
        self.extra.extend_from_slice(bytes);
        self.out.pkt.sources.push(Source {
            label,
            range: base..base + bytes.len(),
        });
        let mut sub = Cx {
            out: &mut *self.out,
            extra: &mut *self.extra,
            data_len: self.data_len,
            base,
            dir: self.dir,
            frame: self.frame,
            transport: self.transport,
            cut: self.cut,
            closed: self.closed,
            first: self.first,
            info_started: self.info_started,
            record: self.record,
            detail: self.detail,
            expects: self.expects.as_deref_mut(),
        };
        let r = f(&mut sub);
        self.info_started = sub.info_started;
        r
    }

    /// Announces that a connection to `server` (e.g. the address FTP's PASV reply gave)
    /// carries `app`; its session is started with `label`.
    pub fn expect(&mut self, server: SocketAddr, app: &'static AppDef, label: impl Into<String>) {
        self.expect_shared(server, app, label, None);
    }

    /// [`Cx::expect`], with state the two conversations share (`Start::shared`).
    pub fn expect_shared(
        &mut self,
        server: SocketAddr,
        app: &'static AppDef,
        label: impl Into<String>,
        shared: Option<Shared>,
    ) {
        let Some(expects) = self.expects.as_deref_mut() else {
            return;
        };
        expects.retain(|e| e.server != server);
        if expects.len() >= MAX_EXPECTED {
            expects.pop_front();
        }
        expects.push_back(Expect {
            server,
            app,
            label: label.into(),
            shared,
        });
    }
}

/// The application stage of a UDP datagram (`payload` in the frame). Returns false when
/// no protocol claims it.
pub(crate) fn udp(
    env: &mut Env,
    apps: &mut Apps,
    stream: u32,
    src: (Addr, u16),
    dst: (Addr, u16),
    payload: Range<usize>,
) -> bool {
    if payload.is_empty() {
        return false;
    }
    let bytes = &env.data[payload.clone()];
    if !apps.udp.contains_key(&stream) {
        let Some((app, to_server)) = decide_udp(apps, src, dst, bytes) else {
            return false;
        };
        let (client, server) = if to_server { (src, dst) } else { (dst, src) };
        let start = Start {
            transport: Transport::Udp,
            client: sock(client.0, client.1),
            server: sock(server.0, server.1),
            label: None,
            shared: None,
            frame: env.frame,
        };
        if apps.udp.len() >= MAX_UDP_SESSIONS
            && let Some(old) = apps.udp_order.pop_front()
        {
            apps.udp.remove(&old);
        }
        apps.udp_order.push_back(stream);
        apps.udp.insert(
            stream,
            UdpConv {
                app,
                session: (app.new)(&start),
                client,
            },
        );
    }
    let Apps { udp, expects, .. } = apps;
    let conv = udp.get_mut(&stream).expect("inserted above");
    let _ = conv.app;
    let dir = if src == conv.client {
        Dir::ToServer
    } else {
        Dir::ToClient
    };
    let record = env.out.record;
    let mut cx = Cx {
        out: &mut *env.out,
        extra: &mut *env.extra,
        data_len: env.data.len(),
        base: payload.start,
        dir,
        frame: env.frame,
        transport: Transport::Udp,
        cut: false,
        closed: false,
        first: true,
        info_started: false,
        record,
        detail: false,
        expects: Some(expects),
    };
    cx.detail = cx.out.detail;
    conv.session.dissect(&mut cx, bytes);
    env.pdus += 1;
    true
}

/// A UDP datagram's protocol: `--decode-as`, a well-known port, content. Returns the
/// protocol and whether the datagram goes to the server.
fn decide_udp(
    apps: &Apps,
    src: (Addr, u16),
    dst: (Addr, u16),
    first: &[u8],
) -> Option<(&'static AppDef, bool)> {
    for rule in apps
        .decode_as
        .iter()
        .filter(|r| r.transport == Transport::Udp)
    {
        if rule.ports.contains(&dst.1) {
            return rule.app.map(|a| (a, true));
        }
        if rule.ports.contains(&src.1) {
            return rule.app.map(|a| (a, false));
        }
    }
    let (lo, hi) = if src.1 <= dst.1 {
        (src.1, dst.1)
    } else {
        (dst.1, src.1)
    };
    for port in [lo, hi] {
        for app in APPS {
            if app.udp_ports.contains(&port) {
                return Some((app, dst.1 == port));
            }
        }
    }
    for app in APPS {
        if let Some(h) = app.heuristic
            && let Some(sent) = h(Transport::Udp, first)
        {
            return Some((app, sent == Dir::ToServer));
        }
    }
    None
}

crate::wire::fields! {
    SEGMENT_DATA: Bytes(
        "TCP segment data",
        "tcp.segment_data",
        "bytes of an application message that continues in a later segment: they wait in the receiver's buffer, and in netlab's",
    );
    SEGMENTS: Group(
        "Reassembled TCP Segments",
        "tcp.segments",
        "the application message in this frame was sent in several TCP segments; the receiver put them back together, and so does netlab",
    );
    SEGMENT: Num(
        "Segment",
        "tcp.segment",
        "a frame that carried part of the message",
    );
    SEGMENT_COUNT: Num(
        "Segment count",
        "tcp.segment.count",
        "how many segments carried the message",
    );
    REASSEMBLED_LENGTH: Num(
        "Reassembled PDU length",
        "tcp.reassembled.length",
        "the message's length once put back together",
    );
}
