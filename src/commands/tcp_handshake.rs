//! `netlab tcp-handshake`: netlab's own TCP endpoint (`src/tcp/`) talks to the real Linux
//! TCP stack — or, with `--simulate`, to a second netlab endpoint — and netlab, being the
//! wire between them, prints every segment, drops, reorders or delays what it is told to,
//! and saves what it delivered to a pcap.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::capture::Writer;
use crate::cli::{CloseHow, HandshakeArgs, Role};
use crate::dissect::{Dissector, Meta, Packet};
use crate::net::raw::{self, RawWire, RstFilter};
use crate::net::sandbox::{Plan, Sandbox};
use crate::random::Rng;
use crate::render::json::write_str;
use crate::render::{Output, Paint};
use crate::tcp::packet::{build_packet, parse_packet};
use crate::tcp::{self as engine, Action, Endpoint, State};
use crate::wire::tcp::flags;
use crate::wiremodel::{self, Conditions, Fate, Link, Offer, Rule};

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From netlab's endpoint to the peer (the kernel, or the simulated server).
    Out,
    /// From the peer to netlab's endpoint.
    In,
}

/// One rule of `--drop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropSpec {
    Nth(u32),
    Syn,
    SynAck,
    Ack,
    Data,
    Fin,
}

impl std::str::FromStr for DropSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "syn" => DropSpec::Syn,
            "syn-ack" | "synack" => DropSpec::SynAck,
            "ack" => DropSpec::Ack,
            "data" => DropSpec::Data,
            "fin" => DropSpec::Fin,
            n => match n.parse::<u32>() {
                Ok(n) if n >= 1 => DropSpec::Nth(n),
                _ => {
                    return Err(format!(
                        "bad --drop `{s}`: a packet number (1, 2, …) or syn, syn-ack, ack, data, fin"
                    ));
                }
            },
        })
    }
}

impl DropSpec {
    fn matches(self, index: u32, f: u16, payload_len: usize) -> bool {
        let syn = f & flags::SYN != 0;
        let ack = f & flags::ACK != 0;
        match self {
            DropSpec::Nth(n) => n == index,
            DropSpec::Syn => syn && !ack,
            DropSpec::SynAck => syn && ack,
            DropSpec::Ack => ack && !syn && payload_len == 0 && f & (flags::FIN | flags::RST) == 0,
            DropSpec::Data => payload_len > 0,
            DropSpec::Fin => f & flags::FIN != 0,
        }
    }
}

/// The wire netlab plays: netlab's one wire model ([`crate::wiremodel`]) with a rule
/// per `--drop` (each hits once), `--reorder` (the first data segment waits for the next
/// one, at most 500 ms) and `--delay` (plus 5 ms each way on the simulated clock, so that
/// round trips are visible). Forward is netlab → peer.
fn wire_model(drops: &[DropSpec], reorder: bool, delay: Duration) -> Link<Vec<u8>> {
    let mut link = Link::new(
        Conditions {
            delay,
            reorder_hold: Duration::from_millis(500),
            ..Conditions::default()
        },
        0,
    );
    for &spec in drops {
        link.add_rule(Rule::drop_first(move |o: &Offer<'_, Vec<u8>>| {
            let (f, plen) =
                parse_packet(o.packet).map_or((0, 0), |p| (p.repr.flags, p.payload.len()));
            spec.matches(o.index as u32 + 1, f, plen)
        }));
    }
    if reorder {
        link.add_rule(Rule::reorder_first(|o: &Offer<'_, Vec<u8>>| {
            parse_packet(o.packet).is_some_and(|p| !p.payload.is_empty())
        }));
    }
    link
}

fn link_dir(d: Dir) -> wiremodel::Dir {
    match d {
        Dir::Out => wiremodel::Dir::Forward,
        Dir::In => wiremodel::Dir::Backward,
    }
}

/// A packet in flight on the wire.
struct InFlight {
    dir: Dir,
    bytes: Vec<u8>,
}

/// Addresses of the two ends.
#[derive(Clone, Copy)]
struct Ends {
    netlab: SocketAddr,
    peer: SocketAddr,
}

/// The other end of the wire.
enum Peer {
    /// The real Linux TCP stack, behind the TUN device of netlab's private namespace.
    Kernel(Sandbox),
    /// A second netlab endpoint (`--simulate`), echoing what it receives.
    Sim(Box<Endpoint>),
    /// A real host reached through raw sockets (`--target`).
    Raw {
        wire: RawWire,
        filter: Option<RstFilter>,
        /// TCP headers netlab sent, to tell them from the local kernel's own segments.
        sent: Vec<(u32, u32, u16, usize)>,
        kernel_rsts: u64,
    },
}

/// What the run is trying to do, step by step.
struct Script {
    to_send: Vec<String>,
    sent: bool,
    expected: usize,
    /// `--bulk`: bytes to send once established (the peer does not echo them).
    bulk: usize,
    received: Vec<u8>,
    close: CloseHow,
    closing: bool,
    /// `--closed-port`: the run ends at the RST.
    refused: bool,
}

struct Run<'a> {
    args: &'a HandshakeArgs,
    out: &'a Output,
    /// The first failed write (a closed pipe): [`Run::step`] returns it, which ends the run.
    out_error: Option<std::io::Error>,
    virtual_clock: bool,
    start: Instant,
    now: Duration,
    me: Endpoint,
    peer: Peer,
    ends: Ends,
    /// The wire between netlab's endpoint and the peer.
    wire: Link<Vec<u8>>,
    /// `--drop syn-ack` was asked for.
    drop_syn_ack: bool,
    dissector: Dissector,
    pkt: Packet,
    pcap: Option<Writer<std::io::BufWriter<std::fs::File>>>,
    script: Script,
    used: bool,
    syn_sent_at: Option<Duration>,
    handshake_rtt: Option<Duration>,
    delivered: [u64; 2],
    dropped: u64,
    wire_bytes: u64,
    peer_retransmits: u64,
    last_seq: [Option<u32>; 2],
    /// The congestion state of the segment being offered, for its trace line.
    sending_cc: Option<engine::cc::Snapshot>,
}

impl Run<'_> {
    fn clock(&self) -> Duration {
        if self.virtual_clock {
            self.now
        } else {
            self.start.elapsed()
        }
    }

    fn ms(t: Duration) -> String {
        format!("{:>9.3} ms", t.as_secs_f64() * 1000.0)
    }

    /// A line for people (not with `--json`). A failed write is kept for
    /// [`Run::written`]: the packet handlers that print cannot return it.
    fn say(&mut self, line: &str) {
        if !self.args.json {
            self.write(line);
        }
    }

    /// An NDJSON event (only with `--json`).
    fn event(&mut self, json: &str) {
        if self.args.json {
            self.write(json);
        }
    }

    fn write(&mut self, line: &str) {
        if self.out_error.is_none()
            && let Err(e) = self.out.line(line)
        {
            self.out_error = Some(e);
        }
    }

    /// The first write that failed since the start, as the run's error.
    fn written(&mut self) -> std::io::Result<()> {
        match self.out_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Offers a packet to the wire: it is shown, then dropped, held or scheduled.
    fn offer(&mut self, dir: Dir, bytes: Vec<u8>) {
        let now = self.clock();
        let index = self.wire.offered() as u32 + 1;
        let (f, plen, seq) = match parse_packet(&bytes) {
            Some(p) => (p.repr.flags, p.payload.len(), Some(p.repr.seq_number)),
            None => (0, 0, None),
        };
        let fate = self.wire.offer(now, link_dir(dir), bytes.clone());
        let drop = matches!(fate, Fate::Lost(_));
        // A segment from the peer with a sequence number it already used is the peer's
        // retransmission (the kernel's RTO at work).
        let mut retx = false;
        if dir == Dir::In && plen + (f & (flags::SYN | flags::FIN) != 0) as usize > 0 {
            if seq.is_some() && self.last_seq[1] == seq {
                self.peer_retransmits += 1;
                retx = true;
            }
            self.last_seq[1] = seq;
        }
        self.show(now, index, dir, &bytes, drop, retx);
        if drop {
            self.dropped += 1;
        } else if fate == Fate::Held {
            self.say(&format!(
                "{}   ↺ netlab holds this segment back: it will arrive after the next one",
                Self::ms(now)
            ));
        }
    }

    /// Prints one packet as it crosses the wire, numbered like Wireshark would.
    fn show(
        &mut self,
        now: Duration,
        index: u32,
        dir: Dir,
        bytes: &[u8],
        dropped: bool,
        retx: bool,
    ) {
        let meta = Meta {
            number: index as u64,
            ts_sec: now.as_secs() as i64,
            ts_nsec: now.subsec_nanos(),
            len: bytes.len() as u32,
            interface: 0,
            linktype: 101,
        };
        self.dissector.dissect(meta, bytes, &mut self.pkt);
        let num = |k: &str| match self.pkt.field(k).map(|f| &f.value) {
            Some(crate::dissect::Value::Uint(n) | crate::dissect::Value::Hex(n, _)) => Some(*n),
            _ => None,
        };
        let (seq_raw, ack_raw) = (num("tcp.seq_raw"), num("tcp.ack_raw"));
        let f = num("tcp.flags").unwrap_or(0) as u16;
        let sack = self.pkt.field("tcp.options.sack_le").is_some();
        let state = self.me.state().name();
        if self.args.json {
            let mut j = String::new();
            j.push_str(&format!(
                "{{\"event\":\"packet\",\"t_ms\":{:.3},\"n\":{index},\"dir\":\"{}\",\"dropped\":{dropped},\"bytes\":{},",
                now.as_secs_f64() * 1000.0,
                if dir == Dir::Out { "out" } else { "in" },
                bytes.len()
            ));
            for k in ["tcp.seq", "tcp.ack", "tcp.len", "tcp.flags"] {
                if let Some(v) = num(k) {
                    j.push_str(&format!("\"{}\":{v},", k.trim_start_matches("tcp.")));
                }
            }
            if let (Some(s), Some(a)) = (seq_raw, ack_raw) {
                j.push_str(&format!("\"seq_raw\":{s},\"ack_raw\":{a},"));
            }
            if dir == Dir::Out
                && let Some(c) = self.sending_cc
            {
                j.push_str(&format!(
                    "\"cwnd\":{},\"ssthresh\":{},\"in_flight\":{},",
                    c.cwnd,
                    c.ssthresh_known()
                        .map_or("null".to_string(), |v| v.to_string()),
                    c.in_flight
                ));
            }
            j.push_str("\"summary\":");
            write_str(&mut j, &self.pkt.info);
            j.push_str(",\"state\":");
            write_str(&mut j, state);
            j.push('}');
            self.event(&j);
            return;
        }
        let peer = self.peer_name();
        let arrow = match dir {
            Dir::Out => format!("netlab → {peer} "),
            Dir::In => format!("{peer} → netlab "),
        };
        let mark = if dropped {
            self.out.paint(Paint::ERROR, "✗ DROPPED by netlab ")
        } else {
            String::new()
        };
        let info = self.pkt.info.clone();
        let raw = match (seq_raw, ack_raw) {
            (Some(s), Some(a)) => format!("  (raw seq {s}, raw ack {a})"),
            _ => String::new(),
        };
        let line = format!(
            "{} #{index:<3} {}{mark}{info}{raw}",
            Self::ms(now),
            self.out.paint(
                if dir == Dir::Out {
                    Paint::SENT
                } else {
                    Paint::RECEIVED
                },
                &arrow
            ),
        );
        let line = format!("{line}   [netlab: {state}]");
        self.say(&line);
        if dropped {
            return;
        }
        // Explain what the peer's segments mean when they are not plain.
        let note = if dir == Dir::In && sack {
            Some("a duplicate ACK with SACK blocks: the peer got bytes beyond a hole (SLE..SRE) and still asks for the first missing byte".to_string())
        } else if dir == Dir::In
            && f & flags::RST != 0
            && f & flags::ACK != 0
            && self.me.state() == State::SynSent
        {
            Some("RST/ACK: nobody listens on that port, so the kernel refuses the SYN (RFC 9293 § 3.10.7.1: seq 0, ack = their seq + 1)".to_string())
        } else if retx {
            Some("a retransmission by the peer: the same sequence number again — its timer expired before netlab's ACK arrived".to_string())
        } else {
            None
        };
        if let Some(n) = note {
            self.say(&format!("{:>12}        └ {n}", ""));
        }
    }

    fn peer_name(&self) -> &'static str {
        match self.peer {
            Peer::Kernel(_) => "kernel",
            Peer::Sim(_) => "peer",
            Peer::Raw { .. } => "target",
        }
    }

    /// The local kernel's own segment on a `--target` connection: it never opened this
    /// connection (netlab's raw socket bypassed it), so it resets it.
    fn kernel_segment(&mut self, bytes: &[u8]) {
        let now = self.clock();
        let meta = Meta {
            number: 0,
            ts_sec: now.as_secs() as i64,
            ts_nsec: now.subsec_nanos(),
            len: bytes.len() as u32,
            interface: 0,
            linktype: 101,
        };
        self.dissector.dissect(meta, bytes, &mut self.pkt);
        let info = self.pkt.info.clone();
        if self.args.json {
            let mut j = format!(
                "{{\"event\":\"kernel\",\"t_ms\":{:.3},\"summary\":",
                now.as_secs_f64() * 1000.0
            );
            write_str(&mut j, &info);
            j.push('}');
            self.event(&j);
            return;
        }
        let who = self.out.paint(Paint::ERROR, "local kernel → target ");
        self.say(&format!("{}      {who}{info}", Self::ms(now)));
        self.say(&format!(
            "{:>12}        └ the local kernel got a SYN-ACK for a connection it never opened (netlab's raw socket bypassed it) and answered RST, as RFC 9293 § 3.10.7 requires; --suppress-kernel-rst drops it with a temporary nftables rule",
            ""
        ));
    }

    /// Hands a packet to its receiver.
    fn deliver(&mut self, f: InFlight) -> Result<()> {
        let now = self.clock();
        if let Some(w) = &mut self.pcap {
            let us = (now.as_micros() % 1_000_000) as u32;
            w.write_packet(1_700_000_000 + now.as_secs() as u32, us, &f.bytes)?;
        }
        self.delivered[(f.dir == Dir::In) as usize] += 1;
        self.wire_bytes += f.bytes.len() as u64;
        match f.dir {
            Dir::Out => match &mut self.peer {
                Peer::Kernel(sb) => sb.send(&f.bytes).context("writing to the TUN device")?,
                Peer::Raw { wire, sent, .. } => {
                    if let Some(p) = parse_packet(&f.bytes) {
                        sent.push((
                            p.repr.seq_number,
                            p.repr.ack_number,
                            p.repr.flags,
                            p.payload.len(),
                        ));
                    }
                    wire.send(&f.bytes, self.ends.peer.ip())
                        .context("sending on the raw socket")?;
                }
                Peer::Sim(ep) => {
                    if let Some(p) = parse_packet(&f.bytes) {
                        let acts = ep.on_segment(now, &p.repr, p.payload);
                        self.peer_actions(acts);
                    }
                }
            },
            Dir::In => {
                let Some(p) = parse_packet(&f.bytes) else {
                    return Ok(());
                };
                if p.dst != self.ends.netlab
                    || p.src != self.ends.peer && self.me.state() != State::Listen
                {
                    return Ok(());
                }
                if self.me.state() == State::Listen {
                    self.ends.peer = p.src;
                }
                if self.syn_sent_at.is_some()
                    && self.handshake_rtt.is_none()
                    && p.repr.flags & flags::SYN != 0
                {
                    self.handshake_rtt = self.syn_sent_at.map(|t| now - t);
                }
                let acts = self.me.on_segment(now, &p.repr, p.payload);
                self.my_actions(acts);
            }
        }
        Ok(())
    }

    /// The simulated peer's actions: its segments go on the wire, then its application
    /// reacts (echoes what arrived, closes when the other side closed) — after the
    /// segments, as a kernel would send its ACK before the application runs.
    fn peer_actions(&mut self, acts: Vec<Action>) {
        let now = self.clock();
        let mut echo = Vec::new();
        let mut close = false;
        for a in acts {
            match a {
                Action::Send(seg) => {
                    let b = build_packet(self.ends.peer, self.ends.netlab, &seg.repr, &seg.payload);
                    self.offer(Dir::In, b);
                }
                Action::Deliver(data) if self.script.bulk == 0 => echo.extend_from_slice(&data),
                Action::StateChange {
                    to: State::CloseWait,
                    ..
                } => close = true,
                Action::Retransmit { .. } => self.peer_retransmits += 1,
                _ => {}
            }
        }
        let Peer::Sim(ep) = &mut self.peer else {
            return;
        };
        let mut more = Vec::new();
        if !echo.is_empty() {
            more.extend(ep.send(now, &echo));
        }
        if close {
            more.extend(ep.close(now));
        }
        if !more.is_empty() {
            self.peer_actions(more);
        }
    }

    /// netlab's endpoint's actions: segments go on the wire, everything is explained.
    fn my_actions(&mut self, acts: Vec<Action>) {
        let now = self.clock();
        for a in acts {
            match a {
                Action::Send(seg) => {
                    // The handshake RTT runs from our first SYN (or SYN-ACK, when passive).
                    if seg.has(flags::SYN) && self.syn_sent_at.is_none() {
                        self.syn_sent_at = Some(now);
                    }
                    let why = seg.why.clone();
                    let b = build_packet(self.ends.netlab, self.ends.peer, &seg.repr, &seg.payload);
                    self.sending_cc = seg.cc;
                    self.offer(Dir::Out, b);
                    self.sending_cc = None;
                    if !why.is_empty() {
                        self.say(&format!("{:>12}        └ {why}", ""));
                    }
                    // Data leaves only as the congestion window allows: show it.
                    if let Some(c) = seg.cc.filter(|_| !seg.payload.is_empty()) {
                        self.say(&format!("{:>12}        └ {c}", ""));
                    }
                }
                Action::StateChange { from, to, why } => {
                    self.say(&format!(
                        "{}   netlab: {} → {}  ({why})",
                        Self::ms(now),
                        from.name(),
                        self.out.paint(Paint::HEADING, to.name())
                    ));
                    let mut j = String::from("{\"event\":\"state\",");
                    j.push_str(&format!(
                        "\"t_ms\":{:.3},\"from\":\"{}\",\"to\":\"{}\",\"why\":",
                        now.as_secs_f64() * 1000.0,
                        from.name(),
                        to.name()
                    ));
                    write_str(&mut j, &why);
                    j.push('}');
                    self.event(&j);
                    if to == State::Established && self.handshake_rtt.is_none() {
                        self.handshake_rtt = self.syn_sent_at.map(|t| now - t);
                    }
                }
                Action::Deliver(data) => {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    self.say(&format!(
                        "{}   application ← {} bytes, in order: {text:?}",
                        Self::ms(now),
                        data.len()
                    ));
                    let mut j = format!(
                        "{{\"event\":\"deliver\",\"t_ms\":{:.3},\"bytes\":{},\"text\":",
                        now.as_secs_f64() * 1000.0,
                        data.len()
                    );
                    write_str(&mut j, &text);
                    j.push('}');
                    self.event(&j);
                    self.script.received.extend_from_slice(&data);
                }
                Action::TimerSet { kind, at } => {
                    let j = format!(
                        "{{\"event\":\"timer\",\"t_ms\":{:.3},\"timer\":\"{}\",\"action\":\"set\",\"fires_ms\":{:.3}}}",
                        now.as_secs_f64() * 1000.0,
                        kind.name(),
                        at.as_secs_f64() * 1000.0
                    );
                    self.event(&j);
                    if kind == engine::TimerKind::TimeWait {
                        self.say(&format!(
                            "{}   TIME-WAIT for {}: 2×MSL, so a late duplicate of this connection cannot be taken for a new one, and the last ACK can be resent if it was lost",
                            Self::ms(now),
                            engine::fmt_duration(at.saturating_sub(now))
                        ));
                    }
                }
                Action::TimerFired { kind } => {
                    let j = format!(
                        "{{\"event\":\"timer\",\"t_ms\":{:.3},\"timer\":\"{}\",\"action\":\"fired\"}}",
                        now.as_secs_f64() * 1000.0,
                        kind.name()
                    );
                    self.event(&j);
                }
                Action::TimerStopped { .. } => {}
                Action::Congestion(c) => {
                    let ss = |v: u32| {
                        if v == engine::cc::INITIAL_SSTHRESH {
                            "∞".to_string()
                        } else {
                            engine::cc::fmt_bytes(v)
                        }
                    };
                    let line = format!(
                        "{}   congestion control: {}{}, cwnd {}, ssthresh {} — {}",
                        Self::ms(now),
                        c.from.map_or(String::new(), |f| format!("{f} → ")),
                        self.out.paint(Paint::HEADING, c.to.name()),
                        engine::cc::fmt_bytes(c.cwnd),
                        ss(c.ssthresh),
                        c.why
                    );
                    self.say(&line);
                    let mut j = format!(
                        "{{\"event\":\"cc\",\"t_ms\":{:.3},\"phase\":\"{}\",\"cwnd\":{},\"ssthresh\":{},\"in_flight\":{},\"why\":",
                        now.as_secs_f64() * 1000.0,
                        c.to.name(),
                        c.cwnd,
                        if c.ssthresh == engine::cc::INITIAL_SSTHRESH {
                            "null".to_string()
                        } else {
                            c.ssthresh.to_string()
                        },
                        c.in_flight
                    );
                    write_str(&mut j, &c.why);
                    j.push('}');
                    self.event(&j);
                }
                Action::Retransmit { seq, attempt, rto } => {
                    self.say(&format!(
                        "{}   ⟳ netlab's retransmission timer expired after {} (RFC 6298): resending seq {seq}, attempt {attempt}; the next timeout doubles",
                        Self::ms(now),
                        engine::fmt_duration(rto)
                    ));
                    let j = format!(
                        "{{\"event\":\"retransmit\",\"t_ms\":{:.3},\"seq_raw\":{seq},\"attempt\":{attempt},\"rto_ms\":{}}}",
                        now.as_secs_f64() * 1000.0,
                        rto.as_millis()
                    );
                    self.event(&j);
                }
                Action::DuplicateAck { count } => {
                    self.say(&format!(
                        "{}   duplicate ACK #{count} from the peer: it is still waiting for the same byte",
                        Self::ms(now)
                    ));
                }
                Action::FastRetransmit { seq } => {
                    self.say(&format!(
                        "{}   ⟳ third duplicate ACK: fast retransmit of seq {seq} (RFC 5681) without waiting for the timer",
                        Self::ms(now)
                    ));
                }
                Action::RttSample {
                    rtt,
                    srtt,
                    rttvar,
                    rto,
                } => {
                    self.say(&format!(
                        "{}   RTT sample {}: SRTT {}, RTTVAR {}, RTO {} (RFC 6298 § 2)",
                        Self::ms(now),
                        engine::fmt_duration(rtt),
                        engine::fmt_duration(srtt),
                        engine::fmt_duration(rttvar),
                        engine::fmt_duration(rto)
                    ));
                }
                Action::PeerReset => {
                    self.say(&format!(
                        "{}   the peer reset the connection (RST)",
                        Self::ms(now)
                    ));
                }
                Action::Note(n) => self.say(&format!("{}   {n}", Self::ms(now))),
            }
        }
    }

    /// Sends the texts once established, closes once the echo is back.
    fn advance_script(&mut self) {
        let now = self.clock();
        let st = self.me.state();
        if st == State::Established && !self.script.sent {
            self.script.sent = true;
            let mut acts = Vec::new();
            for t in self.script.to_send.clone() {
                self.say(&format!("{}   application → send({t:?})", Self::ms(now)));
                acts.extend(self.me.send(now, t.as_bytes()));
            }
            if self.script.bulk > 0 {
                self.say(&format!(
                    "{}   application → send({} bytes): they leave as the congestion window allows",
                    Self::ms(now),
                    self.script.bulk
                ));
                let data: Vec<u8> = (0..self.script.bulk)
                    .map(|i| b'a' + (i % 26) as u8)
                    .collect();
                acts.extend(self.me.send(now, &data));
            }
            self.my_actions(acts);
        }
        // Close once the echo is back and (with --bulk) every byte is acknowledged.
        let echoed = self.script.received.len() >= self.script.expected
            && (self.script.bulk == 0 || self.me.send_queue_len() == 0);
        if self.script.sent
            && echoed
            && !self.script.closing
            && matches!(st, State::Established | State::CloseWait)
        {
            self.script.closing = true;
            let acts = match self.script.close {
                CloseHow::Fin => {
                    self.say(&format!(
                        "{}   application → close(): netlab sends FIN",
                        Self::ms(now)
                    ));
                    self.me.close(now)
                }
                CloseHow::Rst => {
                    self.say(&format!(
                        "{}   application → abort: netlab sends RST, no goodbye",
                        Self::ms(now)
                    ));
                    self.me.abort(now)
                }
            };
            self.my_actions(acts);
        }
    }

    fn finished(&self) -> bool {
        self.used && self.me.state() == State::Closed && self.wire.is_idle()
    }

    fn next_deadline(&self) -> Option<Duration> {
        let mut d: Option<Duration> = self.me.poll_at();
        let mut min = |t: Duration| d = Some(d.map_or(t, |x| x.min(t)));
        if let Some(t) = self.wire.next_due() {
            min(t);
        }
        if let Peer::Sim(ep) = &self.peer
            && let Some(t) = ep.poll_at()
        {
            min(t);
        }
        d
    }

    fn step(&mut self) -> Result<()> {
        let now = self.clock();
        // Packets due for delivery, in order.
        while let Some(d) = self.wire.pop_due(now) {
            let dir = if d.dir == wiremodel::Dir::Forward {
                Dir::Out
            } else {
                Dir::In
            };
            self.deliver(InFlight {
                dir,
                bytes: d.packet,
            })?;
        }
        if self.me.poll_at().is_some_and(|t| t <= now) {
            let acts = self.me.on_timer(now);
            self.my_actions(acts);
        }
        if let Peer::Sim(ep) = &mut self.peer
            && ep.poll_at().is_some_and(|t| t <= now)
        {
            let acts = ep.on_timer(now);
            self.peer_actions(acts);
        }
        self.advance_script();
        self.written()?;
        Ok(())
    }

    /// Waits for the next event: a packet from the kernel, or the next deadline.
    fn wait(&mut self, limit: Duration) -> Result<()> {
        let next = self.next_deadline();
        if self.virtual_clock {
            match next {
                Some(t) => self.now = self.now.max(t),
                None => self.now += Duration::from_millis(10),
            }
            return Ok(());
        }
        let now = self.clock();
        let until = next.unwrap_or(now + Duration::from_millis(50)).min(limit);
        let timeout = until.saturating_sub(now).max(Duration::from_millis(1));
        let mut buf = vec![0u8; 65_536];
        if raw::interrupted() {
            if matches!(
                self.peer,
                Peer::Raw {
                    filter: Some(_),
                    ..
                }
            ) {
                bail!("interrupted; the temporary nftables rule is removed");
            }
            bail!("interrupted");
        }
        if let Peer::Raw { wire, .. } = &self.peer {
            let Some(seen) = wire
                .recv(&mut buf, timeout)
                .context("reading the packet socket")?
            else {
                return Ok(());
            };
            buf.truncate(seen.len);
            let Some(p) = parse_packet(&buf) else {
                return Ok(());
            };
            let (me, peer) = (self.ends.netlab, self.ends.peer);
            if p.src == peer && p.dst == me && !seen.outgoing {
                self.offer(Dir::In, buf);
            } else if p.src == me && p.dst == peer && seen.outgoing {
                let key = (
                    p.repr.seq_number,
                    p.repr.ack_number,
                    p.repr.flags,
                    p.payload.len(),
                );
                let Peer::Raw {
                    sent, kernel_rsts, ..
                } = &mut self.peer
                else {
                    unreachable!()
                };
                if let Some(i) = sent.iter().position(|k| *k == key) {
                    sent.remove(i);
                } else {
                    *kernel_rsts += 1;
                    self.kernel_segment(&buf);
                }
            }
            return Ok(());
        }
        let Peer::Kernel(sb) = &mut self.peer else {
            return Ok(());
        };
        if let Some(n) = sb
            .recv(&mut buf, timeout)
            .context("reading the TUN device")?
        {
            buf.truncate(n);
            // Only TCP between the two ends concerns the lesson; the kernel's other
            // chatter (IPv6 multicast listener reports…) is left out.
            if parse_packet(&buf).is_some_and(|p| p.dst.ip() == self.ends.netlab.ip()) {
                self.offer(Dir::In, buf);
            }
        }
        Ok(())
    }
}

const INTRO: &str = "\
netlab is the wire. It moved itself into a private network namespace of its own (it
vanishes when netlab exits) with a TUN device: the Linux kernel owns KERNEL there, and
netlab's hand-written TCP endpoint answers for NETLAB. Every packet the kernel sends to
NETLAB comes out of the TUN device into netlab; every packet netlab's endpoint crafts
(headers and checksums computed by netlab) goes into the kernel as if it came off a cable.

Why not a raw socket on a normal interface? Then the kernel would see the SYN-ACK for a
connection it never opened and answer it with RST, killing the hand-made connection.
Here the kernel has no socket for NETLAB at all: NETLAB is on the far side of the wire.";

pub fn run(args: &HandshakeArgs, out: &Output) -> Result<()> {
    let drops = args
        .drop
        .iter()
        .map(|s| s.parse::<DropSpec>())
        .collect::<Result<Vec<_>, String>>()
        .map_err(anyhow::Error::msg)?;
    let (kernel_ip, netlab_ip, prefix): (IpAddr, IpAddr, u8) = if args.ipv6 {
        (
            "fd00:6e6c::1".parse().expect("valid"),
            "fd00:6e6c::2".parse().expect("valid"),
            64,
        )
    } else {
        (
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
            24,
        )
    };
    // ISNs, the client's port and the timestamp offset, each drawn on its own from the
    // OS's CSPRNG: unpredictable, as a real stack's (RFC 6528).
    let mut rng = Rng::os();
    let (my_isn, peer_isn, ts_offset) = (rng.next_u32(), rng.next_u32(), rng.next_u32());
    let client_port = 40_000 + (rng.next_u32() % 20_000) as u16;
    let listen_port = args.port;
    let target_port = if let Some(t) = args.target {
        t.port()
    } else if args.closed_port {
        listen_port.wrapping_add(1).max(1)
    } else {
        listen_port
    };
    let my_port = if args.role == Role::Client {
        client_port
    } else {
        listen_port
    };
    let mut ends = Ends {
        netlab: SocketAddr::new(netlab_ip, my_port),
        peer: SocketAddr::new(
            kernel_ip,
            if args.role == Role::Client {
                target_port
            } else {
                0
            },
        ),
    };

    // The peer: the kernel in a sandbox, or a simulated netlab endpoint.
    let mut kernel_threads = Vec::new();
    let bulk = args.bulk.is_some();
    let peer = if let Some(target) = args.target {
        if args.role == Role::Server {
            bail!("--target opens the connection: it works with --role client only");
        }
        let wire = RawWire::open(target.is_ipv6())?;
        let local = raw::local_addr_for(target).with_context(|| format!("no route to {target}"))?;
        ends = Ends {
            netlab: SocketAddr::new(local, my_port),
            peer: target,
        };
        raw::catch_interrupts();
        let filter = if args.suppress_kernel_rst {
            Some(
                RstFilter::install(ends.netlab, target)
                    .context("installing the nftables rule (is nftables installed?)")?,
            )
        } else {
            None
        };
        Peer::Raw {
            wire,
            filter,
            sent: Vec::new(),
            kernel_rsts: 0,
        }
    } else if args.simulate {
        let mut cfg = engine::Config::server(listen_port, peer_isn);
        cfg.window_scale = Some(7);
        let ep = match args.role {
            // Nobody listens on the port netlab will try: a closed endpoint answers.
            Role::Client if args.closed_port => {
                Endpoint::closed(engine::Config::server(target_port, peer_isn))
            }
            Role::Client => Endpoint::listen(cfg),
            Role::Server => Endpoint::listen(engine::Config::server(0, peer_isn)),
        };
        Peer::Sim(Box::new(ep))
    } else {
        let sb = Sandbox::create(
            "netlab0",
            Plan {
                kernel: kernel_ip,
                netlab: netlab_ip,
                prefix,
            },
        )
        .map_err(|e| anyhow::anyhow!(e.explain("tcp-handshake", true)))?;
        match args.role {
            Role::Client if !args.closed_port => {
                let l = TcpListener::bind(SocketAddr::new(kernel_ip, listen_port))
                    .with_context(|| format!("kernel listener on {kernel_ip}:{listen_port}"))?;
                kernel_threads.push(std::thread::spawn(move || {
                    if let Ok((s, _)) = l.accept() {
                        echo(s, bulk);
                    }
                }));
            }
            Role::Client => {}
            Role::Server => {
                let to = SocketAddr::new(netlab_ip, listen_port);
                kernel_threads.push(std::thread::spawn(move || {
                    // Give netlab's endpoint a moment to be listening.
                    std::thread::sleep(Duration::from_millis(100));
                    if let Ok(s) = TcpStream::connect_timeout(&to, Duration::from_secs(20)) {
                        echo(s, bulk);
                    }
                }));
            }
        }
        Peer::Kernel(sb)
    };
    let me = Endpoint::listen(engine::Config::server(my_port, my_isn));
    let pcap = match &args.write {
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Some(Writer::new(std::io::BufWriter::new(f), 101)?)
        }
        None => None,
    };
    let expected = args.send.iter().map(|s| s.len()).sum();
    let mut run = Run {
        args,
        out,
        out_error: None,
        virtual_clock: args.simulate,
        start: Instant::now(),
        now: Duration::ZERO,
        me,
        peer,
        ends,
        wire: wire_model(
            &drops,
            args.reorder,
            Duration::from_millis(args.delay.unwrap_or(0))
                + if args.simulate {
                    Duration::from_millis(5)
                } else {
                    Duration::ZERO
                },
        ),
        drop_syn_ack: drops.contains(&DropSpec::SynAck),
        dissector: Dissector::new(),
        pkt: Packet::default(),
        pcap,
        script: Script {
            to_send: args.send.clone(),
            sent: false,
            expected,
            bulk: args.bulk.unwrap_or(0) as usize,
            received: Vec::new(),
            close: args.close,
            closing: false,
            refused: args.closed_port,
        },
        used: false,
        syn_sent_at: None,
        handshake_rtt: None,
        delivered: [0, 0],
        dropped: 0,
        wire_bytes: 0,
        peer_retransmits: 0,
        last_seq: [None, None],
        sending_cc: None,
    };
    run.dissector.detail = false;
    if !args.json {
        let who = if let Peer::Raw { filter, .. } = &run.peer {
            let mut t = format!(
                "Raw sockets: netlab builds every IP packet itself and sends it from {} to {}; a packet\n\
                 socket shows what comes back. The local kernel sees that traffic too: when the SYN-ACK\n\
                 arrives for a connection it never opened, it answers RST.",
                ends.netlab, ends.peer
            );
            if let Some(f) = filter {
                t.push_str(&format!(
                    "\nA temporary nftables rule (table inet {}) drops the kernel's RSTs for exactly this\n\
                     connection; netlab removes it when it exits.",
                    f.table()
                ));
            }
            t
        } else if args.simulate {
            "netlab is the wire between its own TCP endpoint (NETLAB) and a second netlab endpoint\n\
             standing in for the kernel (KERNEL), on a simulated clock: no privileges needed."
                .to_string()
        } else {
            INTRO.to_string()
        };
        let who = who
            .replace("KERNEL", &ends.peer.ip().to_string())
            .replace("NETLAB", &netlab_ip.to_string());
        run.say(&who);
        run.say("");
    }
    // Open the connection.
    let now = run.clock();
    match args.role {
        Role::Client => {
            let mut cfg = engine::Config::client(my_port, target_port, my_isn);
            cfg.ts_clock_offset = ts_offset;
            if run.drop_syn_ack {
                // Both sides start with a 1 s RTO; wait longer for the SYN-ACK (RFC 6298
                // § 2.1 allowed 3 s), so it is the kernel's timer that fires first.
                cfg.initial_rto = Duration::from_secs(3);
                run.say(&format!(
                    "{}   (netlab's SYN timer is set to 3 s here, so the kernel's 1 s SYN-ACK timer fires first)",
                    Run::ms(now)
                ));
            }
            let (ep, acts) = Endpoint::connect(cfg, now);
            run.me = ep;
            run.used = true;
            run.say(&format!(
                "{}   netlab connects {} → {}; its initial sequence number (ISN) is {my_isn}, picked at random",
                Run::ms(now),
                ends.netlab,
                ends.peer
            ));
            run.my_actions(acts);
        }
        Role::Server => {
            run.used = true;
            run.say(&format!(
                "{}   netlab listens on {} (LISTEN); a client will connect",
                Run::ms(now),
                ends.netlab
            ));
            if let Peer::Sim(_) = run.peer {
                let cfg = engine::Config::client(client_port, listen_port, peer_isn);
                run.ends.peer = SocketAddr::new(kernel_ip, cfg.local_port);
                let (ep, acts) = Endpoint::connect(cfg, now);
                run.peer = Peer::Sim(Box::new(ep));
                run.peer_actions(acts);
            }
        }
    }
    let limit = Duration::from_secs(if args.simulate { 600 } else { 60 });
    let kernel_note = args.target.is_some();
    loop {
        run.step()?;
        if run.finished() {
            break;
        }
        if run.clock() > limit {
            bail!(
                "the connection did not finish within {} s (netlab's endpoint is in {})",
                limit.as_secs(),
                run.me.state().name()
            );
        }
        run.wait(limit)?;
    }
    // Let the kernel's last words (a final ACK, a retransmitted FIN) show up.
    if !args.simulate {
        let quiet = run.clock() + Duration::from_millis(300);
        while run.clock() < quiet {
            run.wait(quiet)?;
            run.step()?;
        }
    }
    if let Some(w) = &mut run.pcap {
        w.flush()?;
    }
    if kernel_note && let Peer::Raw { kernel_rsts, .. } = run.peer {
        let j = format!("{{\"event\":\"kernel_rsts\",\"count\":{kernel_rsts}}}");
        run.event(&j);
        run.say(&format!(
            "The local kernel sent {kernel_rsts} RST(s) of its own on this connection."
        ));
    }
    summary(&mut run);
    run.written()?;
    drop(run);
    for t in kernel_threads {
        let _ = t.join();
    }
    Ok(())
}

/// The kernel side's application: echo everything (only read, with `--bulk`), close
/// when the peer closes.
fn echo(mut s: TcpStream, bulk: bool) {
    use std::io::Read;
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = [0u8; 65_536];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || (!bulk && s.write_all(&buf[..n]).is_err()) {
            break;
        }
    }
}

fn summary(run: &mut Run) {
    let st = run.me.stats();
    let total = run.clock();
    let rtt = run
        .handshake_rtt
        .map_or("n/a".to_string(), engine::fmt_duration);
    if run.args.json {
        let j = format!(
            "{{\"event\":\"summary\",\"packets_out\":{},\"packets_in\":{},\"dropped\":{},\"wire_bytes\":{},\"bytes_sent\":{},\"bytes_received\":{},\"retransmissions\":{},\"peer_retransmissions\":{},\"dup_acks_received\":{},\"dup_acks_sent\":{},\"handshake_rtt_ms\":{},\"ms\":{:.3},\"state\":\"{}\"}}",
            run.delivered[0],
            run.delivered[1],
            run.dropped,
            run.wire_bytes,
            st.bytes_sent,
            st.bytes_received,
            st.retransmissions,
            run.peer_retransmits,
            st.dup_acks_received,
            st.dup_acks_sent,
            run.handshake_rtt.map_or("null".to_string(), |d| format!(
                "{:.3}",
                d.as_secs_f64() * 1000.0
            )),
            total.as_secs_f64() * 1000.0,
            run.me.state().name()
        );
        run.event(&j);
        return;
    }
    let refused = run.script.refused;
    let peer = run.peer_name();
    run.say("");
    run.say(&format!(
        "Summary: {} packets netlab → {peer}, {} {peer} → netlab, {} dropped on purpose; {} bytes on the wire",
        run.delivered[0], run.delivered[1], run.dropped, run.wire_bytes
    ));
    run.say(&format!(
        "         data: {} bytes sent, {} bytes received in order; retransmissions: netlab {}, {peer} {}; duplicate ACKs: received {}, sent {}",
        st.bytes_sent, st.bytes_received, st.retransmissions, run.peer_retransmits, st.dup_acks_received, st.dup_acks_sent
    ));
    run.say(&format!(
        "         handshake RTT {rtt}; total {}; netlab's endpoint ends in {}",
        engine::fmt_duration(Duration::from_micros(total.as_micros() as u64)),
        run.me.state().name()
    ));
    if refused {
        run.say("         Nobody listened on that port: the kernel refused the SYN with RST/ACK (RFC 9293 § 3.10.7.1). No connection existed.");
    }
}
