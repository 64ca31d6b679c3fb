//! The Engine.IO v4 / Socket.IO v5 engines, without I/O.
//!
//! [`Hub`] is a whole server's state: Engine.IO sessions (transport, heartbeat, the
//! polling → WebSocket upgrade), and on top of them Socket.IO namespaces, sockets,
//! rooms and the demo application (chat broadcast, acks that echo their arguments).
//! Packets go in ([`Hub::receive`]); outgoing packets wait in per-session queues that
//! the owner drains ([`Hub::take`]) when [`Hub::drain_dirty`] names the session; timers
//! run when the owner calls [`Hub::tick`] with the current time (a heap of deadlines:
//! a tick costs what is due). [`server`] does the HTTP, the WebSocket and the event
//! loop around it; a test drives a hub directly.
//!
//! [`client::Client`] is the same for one client connection; [`connect`] carries it
//! over a WebSocket or HTTP long-polling (blocking sockets, a reader thread).
//!
//! Imports: `std`, `serde_json`, [`crate::wire`] and [`crate::random`] (session ids
//! from the [`Rng`] it is given: the OS's CSPRNG in the commands, so that no client can
//! guess another's `sid`; a seeded one in tests).

pub mod client;
pub mod connect;
#[doc(hidden)]
pub mod fuzz;
pub mod server;
pub mod trace;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::random::Rng;
use crate::wire::engineio::{self as eio, Data, Handshake, PacketType as EioType};
use crate::wire::socketio::{self as sio, Decoder, Message, PacketType as SioType};

/// The path the official client and server use.
pub const PATH: &str = "/socket.io/";

/// How a session's packets travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling: GET waits for packets, POST brings packets.
    Polling,
    WebSocket,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    pub fn from_query(s: &str) -> Option<Transport> {
        match s {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::WebSocket),
            _ => None,
        }
    }
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_payload: usize,
    /// When set, a CONNECT must carry `{"token": this}` or it gets CONNECT_ERROR.
    pub auth_token: Option<String>,
    /// Bytes of packets that may wait for a session's transport (a long-polling client
    /// that stops polling while it is sent a lot); beyond it the session is closed
    /// ("slow reader") instead of its queue growing without bound.
    pub max_queue: usize,
}

/// The default [`Config::max_queue`] for `max_payload`: room for a few of the largest
/// messages, at least 4 MiB.
pub fn default_max_queue(max_payload: usize) -> usize {
    max_payload.saturating_mul(4).max(4 << 20)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_interval: Duration::from_millis(eio::DEFAULT_PING_INTERVAL),
            ping_timeout: Duration::from_millis(eio::DEFAULT_PING_TIMEOUT),
            max_payload: eio::DEFAULT_MAX_PAYLOAD,
            auth_token: None,
            max_queue: default_max_queue(eio::DEFAULT_MAX_PAYLOAD),
        }
    }
}

/// Something worth a log line.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Opened {
        sid: String,
        transport: Transport,
    },
    Upgraded {
        sid: String,
    },
    Closed {
        sid: String,
        reason: String,
    },
    Connected {
        sid: String,
        nsp: String,
        socket_id: String,
    },
    Refused {
        sid: String,
        nsp: String,
        message: String,
    },
    Left {
        sid: String,
        nsp: String,
    },
    Event {
        sid: String,
        nsp: String,
        name: String,
        /// The arguments for reading, binaries shown as `<Buffer …>`.
        args: String,
        ack: Option<u64>,
        /// How many other sockets the event was relayed to.
        relayed: usize,
    },
    Joined {
        sid: String,
        nsp: String,
        room: String,
    },
}

/// One Engine.IO session and the Socket.IO sockets it carries.
#[derive(Debug)]
struct Session {
    transport: Transport,
    /// A WebSocket sent `2probe` and got `3probe`; the switch happens on `5`.
    upgrading: bool,
    /// Packets for the current transport.
    queue: Vec<eio::Packet>,
    /// Their payload bytes (against [`Config::max_queue`]).
    queued: usize,
    /// Packets for the WebSocket being probed (only `3probe`).
    probe_queue: Vec<eio::Packet>,
    /// A polling GET is waiting for packets.
    polling: bool,
    next_ping: Instant,
    pong_deadline: Option<Instant>,
    decoder: Decoder,
    /// Namespace → socket id.
    sockets: BTreeMap<String, String>,
    /// The rooms it is in, (namespace, room): leaving needs no search of every room.
    joined: BTreeSet<(String, String)>,
    /// Why the session ended; the owner sees it in [`Taken::closed`], then it is removed.
    closed: Option<String>,
    dirty: bool,
}

/// What [`Hub::take`] hands the owner.
#[derive(Debug, Default, PartialEq)]
pub struct Taken {
    pub packets: Vec<eio::Packet>,
    /// The session is over: write the packets, then close the transport.
    pub closed: Option<String>,
}

/// A whole Engine.IO + Socket.IO server, without I/O.
#[derive(Debug)]
pub struct Hub {
    config: Config,
    sessions: HashMap<String, Session>,
    /// (namespace, room) → sessions in it. Every socket is in its namespace's room ""
    /// and in the room named by its own id, as in the official server.
    rooms: HashMap<(String, String), BTreeSet<String>>,
    rng: Rng,
    dirty: Vec<String>,
    notes: Vec<Note>,
    /// Heartbeat deadlines (a ping due, a pong awaited), earliest first. An entry that
    /// no longer matches its session's state is skipped when it comes up (lazy
    /// cancellation): [`Hub::tick`] costs what is due, not one look at every session.
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
}

impl Hub {
    pub fn new(config: Config, rng: Rng) -> Hub {
        Hub {
            config,
            sessions: HashMap::new(),
            rooms: HashMap::new(),
            rng,
            dirty: Vec::new(),
            notes: Vec::new(),
            deadlines: BinaryHeap::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A 20-character base64url id from 15 random bytes, like the official server's
    /// (which takes them from Node's CSPRNG, `crypto.randomBytes`).
    fn new_id(&mut self) -> String {
        let mut b = [0u8; 15];
        self.rng.fill(&mut b);
        URL_SAFE_NO_PAD.encode(b)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The handshake a new session on `transport` gets.
    fn handshake(&self, sid: &str, transport: Transport) -> Handshake {
        Handshake {
            sid: sid.to_string(),
            upgrades: match transport {
                Transport::Polling => vec!["websocket".to_string()],
                Transport::WebSocket => Vec::new(),
            },
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
            max_payload: self.config.max_payload,
        }
    }

    /// Opens a session; its open packet waits in the queue.
    pub fn open(&mut self, transport: Transport, now: Instant) -> String {
        let sid = loop {
            let id = self.new_id();
            if !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let open = self.handshake(&sid, transport).packet();
        self.sessions.insert(
            sid.clone(),
            Session {
                transport,
                upgrading: false,
                queue: vec![open],
                queued: 0,
                probe_queue: Vec::new(),
                polling: false,
                next_ping: now + self.config.ping_interval,
                pong_deadline: None,
                decoder: Decoder::new(),
                sockets: BTreeMap::new(),
                joined: BTreeSet::new(),
                closed: None,
                dirty: false,
            },
        );
        self.deadlines
            .push(Reverse((now + self.config.ping_interval, sid.clone())));
        self.notes.push(Note::Opened {
            sid: sid.clone(),
            transport,
        });
        self.mark(&sid);
        sid
    }

    /// The session's transport, None when it is unknown (or over).
    pub fn transport(&self, sid: &str) -> Option<Transport> {
        self.sessions
            .get(sid)
            .filter(|s| s.closed.is_none())
            .map(|s| s.transport)
    }

    /// Whether the hub still holds `sid` (open, or closed and not yet taken).
    pub fn contains(&self, sid: &str) -> bool {
        self.sessions.contains_key(sid)
    }

    /// Forgets `sid` if it is over (no transport is left to take its end). True when
    /// it is gone.
    pub fn reap(&mut self, sid: &str) -> bool {
        match self.sessions.get(sid) {
            Some(s) if s.closed.is_some() => {
                self.sessions.remove(sid);
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    pub fn is_upgrading(&self, sid: &str) -> bool {
        self.sessions.get(sid).is_some_and(|s| s.upgrading)
    }

    fn mark(&mut self, sid: &str) {
        if let Some(s) = self.sessions.get_mut(sid)
            && !s.dirty
        {
            s.dirty = true;
            self.dirty.push(sid.to_string());
        }
    }

    /// Sessions with something new to take (packets or their end) since the last call.
    pub fn drain_dirty(&mut self) -> Vec<String> {
        let v = std::mem::take(&mut self.dirty);
        for sid in &v {
            if let Some(s) = self.sessions.get_mut(sid) {
                s.dirty = false;
            }
        }
        v
    }

    /// What happened since the last call, for log lines.
    pub fn drain_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    fn push(&mut self, sid: &str, p: eio::Packet) {
        if let Some(s) = self.sessions.get_mut(sid)
            && s.closed.is_none()
        {
            s.queued += p.data.len();
            if s.queued > self.config.max_queue {
                let why = format!(
                    "slow reader: {} bytes wait for it, over the cap of {}",
                    s.queued, self.config.max_queue
                );
                self.close(sid, &why);
                return;
            }
            s.queue.push(p);
            self.mark(sid);
        }
    }

    /// Takes the packets waiting for `via`. When the session is over it is forgotten
    /// after this call and [`Taken::closed`] says why.
    pub fn take(&mut self, sid: &str, via: Transport) -> Taken {
        let Some(s) = self.sessions.get_mut(sid) else {
            return Taken {
                packets: Vec::new(),
                closed: Some("unknown session".to_string()),
            };
        };
        if via != s.transport {
            // The transport being probed only ever gets the probe answer; the old
            // polling transport, after the upgrade, gets nothing.
            let packets = if via == Transport::WebSocket {
                std::mem::take(&mut s.probe_queue)
            } else {
                Vec::new()
            };
            return Taken {
                packets,
                closed: s.closed.clone(),
            };
        }
        let packets = std::mem::take(&mut s.queue);
        s.queued = 0;
        let closed = s.closed.clone();
        if closed.is_some() {
            self.sessions.remove(sid);
        }
        Taken { packets, closed }
    }

    /// True when a packet waits for `via` or the session is over.
    pub fn has_output(&self, sid: &str, via: Transport) -> bool {
        match self.sessions.get(sid) {
            None => true,
            Some(s) if s.closed.is_some() => true,
            Some(s) if via == s.transport => !s.queue.is_empty(),
            Some(s) => via == Transport::WebSocket && !s.probe_queue.is_empty(),
        }
    }

    /// A polling GET arrives. False when one is already waiting (the official server
    /// then answers 400 and closes the session, "overlap from client") or the session
    /// is unknown.
    pub fn begin_poll(&mut self, sid: &str) -> bool {
        let Some(s) = self.sessions.get_mut(sid) else {
            return false;
        };
        if s.polling {
            self.close(sid, "overlap from client");
            return false;
        }
        s.polling = true;
        true
    }

    pub fn end_poll(&mut self, sid: &str) {
        if let Some(s) = self.sessions.get_mut(sid) {
            s.polling = false;
        }
    }

    /// Ends a session: every socket leaves its namespace and rooms. The owner learns
    /// it from [`Hub::take`].
    pub fn close(&mut self, sid: &str, reason: &str) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        if s.closed.is_some() {
            return;
        }
        s.closed = Some(reason.to_string());
        let nsps: Vec<String> = s.sockets.keys().cloned().collect();
        for nsp in nsps {
            self.leave_all(sid, &nsp);
        }
        self.notes.push(Note::Closed {
            sid: sid.to_string(),
            reason: reason.to_string(),
        });
        self.mark(sid);
    }

    /// The transport under the session went away (TCP closed, WebSocket closed).
    pub fn transport_closed(&mut self, sid: &str, via: Transport) {
        match self.sessions.get_mut(sid) {
            Some(s) if s.transport == via => self.close(sid, "transport close"),
            // A failed probe: the session carries on over polling.
            Some(s) if via == Transport::WebSocket => {
                s.upgrading = false;
                s.probe_queue.clear();
            }
            _ => {}
        }
    }

    /// Sends pings that are due and closes sessions whose pong is late. Returns when
    /// it next needs to run.
    pub fn tick(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, _))) = self.deadlines.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, sid))) = self.deadlines.pop() else {
                break;
            };
            let Some(s) = self.sessions.get_mut(&sid) else {
                continue;
            };
            if s.closed.is_some() {
                continue;
            }
            match s.pong_deadline {
                Some(d) if d <= now => self.close(&sid, "ping timeout"),
                // Waiting for a pong that is not late yet: a stale entry.
                Some(_) => {}
                None if s.next_ping <= now => {
                    let d = now + self.config.ping_timeout;
                    s.pong_deadline = Some(d);
                    self.deadlines.push(Reverse((d, sid.clone())));
                    self.push(&sid, eio::Packet::ping());
                }
                None => {}
            }
        }
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// An Engine.IO packet from the client, over `via`.
    pub fn receive(&mut self, sid: &str, via: Transport, packet: eio::Packet, now: Instant) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        if s.closed.is_some() {
            return;
        }
        if via != s.transport {
            // Only the upgrade dialogue may use the new transport before `5`.
            match (via, packet.ptype, &packet.data) {
                (Transport::WebSocket, EioType::Ping, Data::Text(t)) if t == "probe" => {
                    s.upgrading = true;
                    s.probe_queue.push(eio::Packet::new(EioType::Pong, "probe"));
                    // End the pending poll so the client can pause polling (v4 §
                    // "Upgrade": the server answers a pending GET with noop).
                    s.queue.push(eio::Packet::new(EioType::Noop, ""));
                    self.mark(sid);
                }
                (Transport::WebSocket, EioType::Upgrade, _) if s.upgrading => {
                    s.upgrading = false;
                    s.transport = Transport::WebSocket;
                    // What was still queued for polling now goes over the WebSocket,
                    // except the noops meant for the poll.
                    s.queue.retain(|p| p.ptype != EioType::Noop);
                    s.queue.append(&mut s.probe_queue);
                    self.notes.push(Note::Upgraded {
                        sid: sid.to_string(),
                    });
                    self.mark(sid);
                }
                _ => self.close(sid, "unexpected packet during the upgrade"),
            }
            return;
        }
        match packet.ptype {
            EioType::Pong => {
                s.pong_deadline = None;
                s.next_ping = now + self.config.ping_interval;
                self.deadlines.push(Reverse((s.next_ping, sid.to_string())));
            }
            EioType::Message => {
                let decoded = match &packet.data {
                    Data::Text(t) => s.decoder.text(t),
                    Data::Binary(b) => s.decoder.binary(b),
                };
                match decoded {
                    Ok(Some(m)) => self.socketio(sid, m),
                    Ok(None) => {}
                    // The official server closes the whole connection on a packet its
                    // parser refuses (socket.io `client.ts` onerror → close).
                    Err(_) => self.close(sid, "parse error"),
                }
            }
            EioType::Close => self.close(sid, "transport close"),
            // v4: only the server pings; a ping from the client is an error.
            EioType::Ping => self.close(sid, "invalid heartbeat direction"),
            EioType::Noop => {}
            EioType::Open | EioType::Upgrade => self.close(sid, "parse error"),
        }
    }

    /// Sends a Socket.IO packet (and its attachments) on a session.
    fn send_sio(&mut self, sid: &str, packet: &sio::Packet, attachments: &[Vec<u8>]) {
        self.push(sid, eio::Packet::message(packet.encode()));
        for a in attachments {
            self.push(sid, eio::Packet::binary(a.clone()));
        }
    }

    fn join(&mut self, sid: &str, nsp: &str, room: &str) {
        let key = (nsp.to_string(), room.to_string());
        if let Some(s) = self.sessions.get_mut(sid) {
            s.joined.insert(key.clone());
        }
        self.rooms.entry(key).or_default().insert(sid.to_string());
    }

    fn leave_all(&mut self, sid: &str, nsp: &str) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        s.sockets.remove(nsp);
        let rooms: Vec<(String, String)> =
            s.joined.iter().filter(|(n, _)| n == nsp).cloned().collect();
        for key in rooms {
            s.joined.remove(&key);
            if let Some(members) = self.rooms.get_mut(&key) {
                members.remove(sid);
                if members.is_empty() {
                    self.rooms.remove(&key);
                }
            }
        }
    }

    fn members(&self, nsp: &str, room: &str) -> Vec<String> {
        self.rooms
            .get(&(nsp.to_string(), room.to_string()))
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The Socket.IO layer and the demo application.
    fn socketio(&mut self, sid: &str, m: Message) {
        let Message {
            packet,
            attachments,
        } = m;
        let nsp = packet.nsp.clone();
        let connected = self
            .sessions
            .get(sid)
            .and_then(|s| s.sockets.get(&nsp))
            .is_some();
        match packet.ptype {
            SioType::Connect => {
                if connected {
                    return;
                }
                let token = packet
                    .data
                    .as_ref()
                    .and_then(|d| d.get("token"))
                    .and_then(Value::as_str);
                if let Some(want) = &self.config.auth_token
                    && token != Some(want.as_str())
                {
                    let message = if token.is_some() {
                        "invalid token"
                    } else {
                        "a token is required: auth: {token}"
                    };
                    self.send_sio(sid, &sio::Packet::connect_error(&nsp, message), &[]);
                    self.notes.push(Note::Refused {
                        sid: sid.to_string(),
                        nsp,
                        message: message.to_string(),
                    });
                    return;
                }
                let socket_id = self.new_id();
                if let Some(s) = self.sessions.get_mut(sid) {
                    s.sockets.insert(nsp.clone(), socket_id.clone());
                }
                self.join(sid, &nsp, "");
                self.join(sid, &nsp, &socket_id);
                let answer =
                    sio::Packet::connect(&nsp, Some(serde_json::json!({"sid": socket_id})));
                self.send_sio(sid, &answer, &[]);
                self.notes.push(Note::Connected {
                    sid: sid.to_string(),
                    nsp,
                    socket_id,
                });
            }
            SioType::Disconnect if connected => {
                self.leave_all(sid, &nsp);
                self.notes.push(Note::Left {
                    sid: sid.to_string(),
                    nsp,
                });
            }
            SioType::Event | SioType::BinaryEvent if connected => {
                self.event(sid, &packet, &attachments);
            }
            // Acks from clients answer nothing the demo asked; packets for a namespace
            // the client has not joined are dropped, as the official server does.
            _ => {}
        }
    }

    /// The demo: `chat` goes to the namespace's other sockets; `join ROOM` joins a
    /// room; `say ROOM args…` goes to the room's other sockets; `bye` makes the server
    /// disconnect the socket; every event asking for an ack is acked with its arguments.
    fn event(&mut self, sid: &str, packet: &sio::Packet, attachments: &[Vec<u8>]) {
        let nsp = packet.nsp.as_str();
        let Some((name, args)) = packet.event_parts() else {
            return;
        };
        let mut relayed = 0;
        let first = args.first().and_then(Value::as_str).map(str::to_string);
        match (name.as_str(), first) {
            ("chat", _) => {
                let out = sio::Packet {
                    id: None,
                    ..packet.clone()
                };
                for other in self.members(nsp, "") {
                    if other != sid {
                        self.send_sio(&other, &out, attachments);
                        relayed += 1;
                    }
                }
            }
            ("join", Some(room)) => {
                self.join(sid, nsp, &room);
                self.notes.push(Note::Joined {
                    sid: sid.to_string(),
                    nsp: nsp.to_string(),
                    room,
                });
            }
            ("say", Some(room)) => {
                let out = sio::Packet {
                    id: None,
                    ..packet.clone()
                };
                for other in self.members(nsp, &room) {
                    if other != sid {
                        self.send_sio(&other, &out, attachments);
                        relayed += 1;
                    }
                }
            }
            _ => {}
        }
        self.notes.push(Note::Event {
            sid: sid.to_string(),
            nsp: nsp.to_string(),
            name: name.clone(),
            args: sio::show_args(args, attachments),
            ack: packet.id,
            relayed,
        });
        if let Some(id) = packet.id {
            let ack = sio::Packet::ack(nsp, id, args.to_vec());
            self.send_sio(sid, &ack, attachments);
        }
        if name == "bye" {
            self.send_sio(sid, &sio::Packet::disconnect(nsp), &[]);
            self.leave_all(sid, nsp);
            self.notes.push(Note::Left {
                sid: sid.to_string(),
                nsp: nsp.to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &eio::Packet) -> String {
        p.encode_text().unwrap()
    }

    fn hub() -> (Hub, Instant) {
        let config = Config {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..Config::default()
        };
        (Hub::new(config, Rng::seeded(7)), Instant::now())
    }

    fn msg(s: &str) -> eio::Packet {
        eio::Packet::message(s)
    }

    #[test]
    fn open_connect_event_ack() {
        let (mut h, t) = hub();
        let sid = h.open(Transport::WebSocket, t);
        assert_eq!(h.drain_dirty(), vec![sid.clone()]);
        let open = h.take(&sid, Transport::WebSocket).packets;
        assert_eq!(open.len(), 1);
        assert!(text(&open[0]).starts_with(&format!("0{{\"sid\":\"{sid}\",\"upgrades\":[],")));
        h.receive(&sid, Transport::WebSocket, msg("0"), t);
        let got = h.take(&sid, Transport::WebSocket).packets;
        assert!(text(&got[0]).starts_with("40{\"sid\":\""), "{got:?}");
        h.receive(&sid, Transport::WebSocket, msg("212[\"hello\",1]"), t);
        let got = h.take(&sid, Transport::WebSocket).packets;
        assert_eq!(got, vec![msg("312[1]")]);
    }

    #[test]
    fn chat_goes_to_the_others_and_binary_acks_echo() {
        let (mut h, t) = hub();
        let a = h.open(Transport::WebSocket, t);
        let b = h.open(Transport::WebSocket, t);
        for s in [&a, &b] {
            h.receive(s, Transport::WebSocket, msg("0/chat,"), t);
            h.take(s, Transport::WebSocket);
        }
        h.receive(&a, Transport::WebSocket, msg("2/chat,[\"chat\",\"hi\"]"), t);
        assert!(h.take(&a, Transport::WebSocket).packets.is_empty());
        assert_eq!(
            h.take(&b, Transport::WebSocket).packets,
            vec![msg("2/chat,[\"chat\",\"hi\"]")]
        );
        h.receive(
            &a,
            Transport::WebSocket,
            msg("51-/chat,4[\"up\",{\"_placeholder\":true,\"num\":0}]"),
            t,
        );
        h.receive(&a, Transport::WebSocket, eio::Packet::binary([9u8, 8]), t);
        assert_eq!(
            h.take(&a, Transport::WebSocket).packets,
            vec![
                msg("61-/chat,4[{\"_placeholder\":true,\"num\":0}]"),
                eio::Packet::binary([9u8, 8])
            ]
        );
    }

    #[test]
    fn rooms_and_server_disconnect() {
        let (mut h, t) = hub();
        let ids: Vec<String> = (0..3).map(|_| h.open(Transport::WebSocket, t)).collect();
        for s in &ids {
            h.receive(s, Transport::WebSocket, msg("0"), t);
            h.take(s, Transport::WebSocket);
        }
        // 0 and 1 join "tea"; 2 does not.
        for s in &ids[..2] {
            h.receive(s, Transport::WebSocket, msg("2[\"join\",\"tea\"]"), t);
        }
        h.receive(
            &ids[0],
            Transport::WebSocket,
            msg("2[\"say\",\"tea\",\"brewing\"]"),
            t,
        );
        let said = msg("2[\"say\",\"tea\",\"brewing\"]");
        assert!(h.take(&ids[0], Transport::WebSocket).packets.is_empty());
        assert_eq!(h.take(&ids[1], Transport::WebSocket).packets, vec![said]);
        assert!(h.take(&ids[2], Transport::WebSocket).packets.is_empty());
        // `bye`: the server sends DISCONNECT and the socket leaves its rooms.
        h.receive(&ids[1], Transport::WebSocket, msg("2[\"bye\"]"), t);
        assert_eq!(
            h.take(&ids[1], Transport::WebSocket).packets,
            vec![msg("1")]
        );
        h.receive(
            &ids[0],
            Transport::WebSocket,
            msg("2[\"say\",\"tea\",1]"),
            t,
        );
        assert!(h.take(&ids[1], Transport::WebSocket).packets.is_empty());
        // After DISCONNECT the session itself lives on (other namespaces may use it).
        assert_eq!(h.transport(&ids[1]), Some(Transport::WebSocket));
    }

    #[test]
    fn auth_token() {
        let (mut h, t) = hub();
        h.config.auth_token = Some("s3cret".into());
        let a = h.open(Transport::WebSocket, t);
        h.take(&a, Transport::WebSocket);
        h.receive(
            &a,
            Transport::WebSocket,
            msg("0/admin,{\"token\":\"no\"}"),
            t,
        );
        assert_eq!(
            h.take(&a, Transport::WebSocket).packets,
            vec![msg("4/admin,{\"message\":\"invalid token\"}")]
        );
        h.receive(
            &a,
            Transport::WebSocket,
            msg("0/admin,{\"token\":\"s3cret\"}"),
            t,
        );
        let got = h.take(&a, Transport::WebSocket).packets;
        assert!(text(&got[0]).starts_with("40/admin,{\"sid\":"), "{got:?}");
    }

    #[test]
    fn heartbeat_and_timeout() {
        let (mut h, t) = hub();
        let a = h.open(Transport::WebSocket, t);
        h.take(&a, Transport::WebSocket);
        assert_eq!(h.tick(t), Some(t + Duration::from_millis(300)));
        let t1 = t + Duration::from_millis(300);
        h.tick(t1);
        assert_eq!(
            h.take(&a, Transport::WebSocket).packets,
            vec![eio::Packet::ping()]
        );
        h.receive(&a, Transport::WebSocket, eio::Packet::pong(), t1);
        let t2 = t1 + Duration::from_millis(300);
        h.tick(t2);
        assert_eq!(
            h.take(&a, Transport::WebSocket).packets,
            vec![eio::Packet::ping()]
        );
        // No pong: closed after pingTimeout.
        h.tick(t2 + Duration::from_millis(200));
        let taken = h.take(&a, Transport::WebSocket);
        assert_eq!(taken.closed.as_deref(), Some("ping timeout"));
        assert_eq!(h.transport(&a), None);
    }

    #[test]
    fn upgrade_from_polling() {
        let (mut h, t) = hub();
        let a = h.open(Transport::Polling, t);
        let open = h.take(&a, Transport::Polling).packets;
        assert!(text(&open[0]).contains("\"upgrades\":[\"websocket\"]"));
        h.receive(
            &a,
            Transport::WebSocket,
            eio::Packet::new(EioType::Ping, "probe"),
            t,
        );
        assert_eq!(
            h.take(&a, Transport::WebSocket).packets,
            vec![eio::Packet::new(EioType::Pong, "probe")]
        );
        assert_eq!(
            h.take(&a, Transport::Polling).packets,
            vec![eio::Packet::new(EioType::Noop, "")]
        );
        h.receive(
            &a,
            Transport::WebSocket,
            eio::Packet::new(EioType::Upgrade, ""),
            t,
        );
        assert_eq!(h.transport(&a), Some(Transport::WebSocket));
        h.receive(&a, Transport::WebSocket, msg("0"), t);
        assert_eq!(h.take(&a, Transport::WebSocket).packets.len(), 1);
    }

    #[test]
    fn a_polling_client_that_stops_polling_is_closed_past_the_queue_cap() {
        let (mut h, t) = hub();
        h.config.max_queue = 1000;
        let a = h.open(Transport::Polling, t);
        let b = h.open(Transport::WebSocket, t);
        for (s, via) in [(&a, Transport::Polling), (&b, Transport::WebSocket)] {
            h.receive(s, via, msg("0"), t);
            h.take(s, via);
        }
        let chat = format!("2[\"chat\",\"{}\"]", "x".repeat(100));
        for _ in 0..20 {
            h.receive(&b, Transport::WebSocket, msg(&chat), t);
        }
        let taken = h.take(&a, Transport::Polling);
        let why = taken.closed.unwrap_or_default();
        assert!(why.starts_with("slow reader"), "{why}");
        // What it was sent before the cap still goes out with the close.
        assert!(!taken.packets.is_empty() && taken.packets.len() < 20);
        assert_eq!(h.transport(&b), Some(Transport::WebSocket));
    }

    #[test]
    fn malformed_packets_close_only_their_session() {
        let (mut h, t) = hub();
        let a = h.open(Transport::WebSocket, t);
        let b = h.open(Transport::WebSocket, t);
        h.receive(&a, Transport::WebSocket, msg("2[\"a\""), t);
        assert_eq!(
            h.take(&a, Transport::WebSocket).closed.as_deref(),
            Some("parse error")
        );
        assert_eq!(h.transport(&b), Some(Transport::WebSocket));
        h.receive(&b, Transport::WebSocket, eio::Packet::ping(), t);
        assert!(h.take(&b, Transport::WebSocket).closed.is_some());
    }
}
