//! One Socket.IO client connection, without I/O: Engine.IO packets from the server go
//! in ([`Client::receive`]); packets to send ([`Client::take_output`]) and what happened
//! ([`Client::take_events`]) come out. `commands::socketio` carries the packets over a
//! WebSocket or HTTP long-polling.
//!
//! The exchange (socket.io-protocol v5 § "Exchange protocol"):
//! server `0{"sid":…}` (Engine.IO open) → client `40/chat,{auth}` (CONNECT) → server
//! `40/chat,{"sid":…}` or `44/chat,{"message":…}`; then events both ways; the server's
//! `2` pings are answered with `3`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::wire::engineio::{self as eio, Data, Handshake, PacketType as EioType};
use crate::wire::socketio::{self as sio, Decoder, Message, PacketType as SioType};

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The Engine.IO session is open.
    Open(Handshake),
    /// The namespace accepted us; `sid` is the socket id.
    Connected { sid: String },
    /// The namespace refused us (CONNECT_ERROR data).
    ConnectError(Value),
    /// An event from the server (binary arguments are placeholders into `attachments`).
    Event {
        name: String,
        args: Vec<Value>,
        attachments: Vec<Vec<u8>>,
        /// The server asked for an acknowledgement (answered with the same arguments).
        ack: Option<u64>,
    },
    /// The acknowledgement of one of our emits.
    Ack {
        id: u64,
        event: String,
        args: Vec<Value>,
        attachments: Vec<Vec<u8>>,
    },
    /// The server disconnected us from the namespace.
    Disconnected,
    /// The session is over.
    Closed { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for the Engine.IO open packet.
    Opening,
    /// CONNECT sent, waiting for the answer.
    Connecting,
    Connected,
    Closed,
}

#[derive(Debug)]
pub struct Client {
    nsp: String,
    auth: Option<Value>,
    state: State,
    handshake: Option<Handshake>,
    decoder: Decoder,
    next_ack: u64,
    /// Ack id → the event name, for emits still waiting for their ack.
    pending: BTreeMap<u64, String>,
    out: Vec<eio::Packet>,
    events: Vec<ClientEvent>,
    /// When the session counts as dead without a ping (pingInterval + pingTimeout).
    ping_deadline: Option<Instant>,
    /// Answer the server's pings (off only to watch the server's ping timeout).
    answer_pings: bool,
}

impl Client {
    pub fn new(nsp: &str, auth: Option<Value>) -> Client {
        Client {
            nsp: nsp.to_string(),
            auth,
            state: State::Opening,
            handshake: None,
            decoder: Decoder::new(),
            next_ack: 0,
            pending: BTreeMap::new(),
            out: Vec::new(),
            events: Vec::new(),
            ping_deadline: None,
            answer_pings: true,
        }
    }

    /// Stops answering pings: the server will close the session after its pingTimeout.
    pub fn ignore_pings(&mut self) {
        self.answer_pings = false;
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    /// Emits waiting for their acknowledgement.
    pub fn pending_acks(&self) -> usize {
        self.pending.len()
    }

    pub fn take_output(&mut self) -> Vec<eio::Packet> {
        std::mem::take(&mut self.out)
    }

    pub fn take_events(&mut self) -> Vec<ClientEvent> {
        std::mem::take(&mut self.events)
    }

    fn send_sio(&mut self, p: &sio::Packet, attachments: &[Vec<u8>]) {
        self.out.push(eio::Packet::message(p.encode()));
        for a in attachments {
            self.out.push(eio::Packet::binary(a.clone()));
        }
    }

    fn close(&mut self, reason: &str) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.events.push(ClientEvent::Closed {
                reason: reason.to_string(),
            });
        }
    }

    /// Emits `name` with `args` (placeholders `{"_placeholder":true,"num":N}` name
    /// `binaries[N]`); with `ack`, returns the ack id the server must answer.
    pub fn emit(
        &mut self,
        name: &str,
        args: Vec<Value>,
        binaries: &[Vec<u8>],
        ack: bool,
    ) -> Option<u64> {
        let id = ack.then(|| {
            let id = self.next_ack;
            self.next_ack += 1;
            self.pending.insert(id, name.to_string());
            id
        });
        let p = sio::Packet::event(&self.nsp, name, args, id);
        self.send_sio(&p, binaries);
        id
    }

    /// Leaves the namespace and closes the session (`41` then `1`).
    pub fn disconnect(&mut self) {
        if self.state == State::Connected {
            self.send_sio(&sio::Packet::disconnect(&self.nsp), &[]);
        }
        if self.state != State::Closed {
            self.out.push(eio::Packet::new(EioType::Close, ""));
        }
        self.close("client disconnect");
    }

    /// The transport closed under us.
    pub fn transport_closed(&mut self) {
        self.close("transport close");
    }

    /// Closes the session when the server's pings stopped (v4 § "Heartbeat": the
    /// client waits pingInterval + pingTimeout).
    pub fn tick(&mut self, now: Instant) {
        if let Some(d) = self.ping_deadline
            && now >= d
            && self.state != State::Closed
        {
            self.close("ping timeout");
        }
    }

    fn arm(&mut self, now: Instant) {
        if let Some(h) = &self.handshake {
            self.ping_deadline =
                Some(now + Duration::from_millis(h.ping_interval + h.ping_timeout));
        }
    }

    /// A packet from the server.
    pub fn receive(&mut self, packet: eio::Packet, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        match (packet.ptype, &packet.data) {
            (EioType::Open, Data::Text(json)) => match Handshake::parse(json) {
                Ok(h) if self.state == State::Opening => {
                    self.handshake = Some(h.clone());
                    self.arm(now);
                    self.events.push(ClientEvent::Open(h));
                    let connect = sio::Packet::connect(&self.nsp, self.auth.clone());
                    self.send_sio(&connect, &[]);
                    self.state = State::Connecting;
                }
                Ok(_) => self.close("a second open packet"),
                Err(e) => self.close(&format!("bad open packet: {e}")),
            },
            (EioType::Ping, _) => {
                self.arm(now);
                if self.answer_pings {
                    self.out.push(eio::Packet::pong());
                }
            }
            (EioType::Close, _) => self.close("the server closed the session"),
            (EioType::Message, data) => {
                let decoded = match data {
                    Data::Text(t) => self.decoder.text(t),
                    Data::Binary(b) => self.decoder.binary(b),
                };
                match decoded {
                    Ok(Some(m)) => self.socketio(m),
                    Ok(None) => {}
                    Err(e) => self.close(&format!("parse error: {e}")),
                }
            }
            _ => {}
        }
    }

    fn socketio(&mut self, m: Message) {
        let Message {
            packet,
            attachments,
        } = m;
        if packet.nsp != self.nsp {
            return;
        }
        match packet.ptype {
            SioType::Connect => {
                let sid = packet
                    .data
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.state = State::Connected;
                self.events.push(ClientEvent::Connected { sid });
            }
            SioType::ConnectError => {
                self.events.push(ClientEvent::ConnectError(
                    packet.data.clone().unwrap_or(Value::Null),
                ));
                self.out.push(eio::Packet::new(EioType::Close, ""));
                self.close("connect_error");
            }
            SioType::Disconnect => {
                self.events.push(ClientEvent::Disconnected);
                self.out.push(eio::Packet::new(EioType::Close, ""));
                self.close("io server disconnect");
            }
            SioType::Event | SioType::BinaryEvent => {
                let Some((name, args)) = packet.event_parts() else {
                    return;
                };
                let args = args.to_vec();
                if let Some(id) = packet.id {
                    let ack = sio::Packet::ack(&self.nsp, id, args.clone());
                    self.send_sio(&ack, &attachments);
                }
                self.events.push(ClientEvent::Event {
                    name,
                    args,
                    attachments,
                    ack: packet.id,
                });
            }
            SioType::Ack | SioType::BinaryAck => {
                let Some(id) = packet.id else { return };
                if let Some(event) = self.pending.remove(&id) {
                    self.events.push(ClientEvent::Ack {
                        id,
                        event,
                        args: packet.ack_args().to_vec(),
                        attachments,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Rng;
    use crate::socketio::{Config, Hub, Transport};

    #[test]
    fn pings_are_answered_and_their_absence_noticed() {
        let t = Instant::now();
        let mut c = Client::new("/", None);
        let h = Handshake {
            sid: "s".into(),
            upgrades: vec![],
            ping_interval: 100,
            ping_timeout: 50,
            max_payload: 1000,
        };
        c.receive(h.packet(), t);
        assert_eq!(c.take_output(), vec![eio::Packet::message("0")]);
        c.receive(eio::Packet::ping(), t + Duration::from_millis(100));
        assert_eq!(c.take_output(), vec![eio::Packet::pong()]);
        // The next ping is due by 100 + 50 ms after the last one.
        c.tick(t + Duration::from_millis(249));
        assert_ne!(c.state(), State::Closed);
        c.tick(t + Duration::from_millis(250));
        assert_eq!(c.state(), State::Closed);
        assert!(c.take_events().contains(&ClientEvent::Closed {
            reason: "ping timeout".into()
        }));
        let mut quiet = Client::new("/", None);
        quiet.ignore_pings();
        quiet.receive(h.packet(), t);
        quiet.take_output();
        quiet.receive(eio::Packet::ping(), t);
        assert!(quiet.take_output().is_empty());
    }

    /// netlab's client against netlab's hub, packets carried in memory.
    #[test]
    fn client_against_hub() {
        let t = Instant::now();
        let mut hub = Hub::new(Config::default(), Rng::seeded(3));
        let sid = hub.open(Transport::WebSocket, t);
        let mut c = Client::new("/chat", Some(serde_json::json!({"token": "x"})));
        let pump = |hub: &mut Hub, c: &mut Client| {
            for _ in 0..4 {
                for p in hub.take(&sid, Transport::WebSocket).packets {
                    c.receive(p, t);
                }
                for p in c.take_output() {
                    hub.receive(&sid, Transport::WebSocket, p, t);
                }
            }
        };
        pump(&mut hub, &mut c);
        assert_eq!(c.state(), State::Connected);
        let id = c.emit(
            "up",
            vec![serde_json::json!("a"), sio::placeholder(0)],
            &[vec![1, 2]],
            true,
        );
        pump(&mut hub, &mut c);
        let ev = c.take_events();
        assert!(
            ev.contains(&ClientEvent::Ack {
                id: id.unwrap(),
                event: "up".into(),
                args: vec![serde_json::json!("a"), sio::placeholder(0)],
                attachments: vec![vec![1, 2]],
            }),
            "{ev:?}"
        );
        c.disconnect();
        pump(&mut hub, &mut c);
        assert_eq!(hub.transport(&sid), None);
    }
}
