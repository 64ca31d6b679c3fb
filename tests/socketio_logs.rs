//! Engine.IO and Socket.IO as netlab dissects them from the Socket.IO captures, against
//! what the peers logged (tshark has no dissector for them: the official server's and
//! client's own records are the truth; `captures/README.md` describes the logs).
//!
//! For every TCP connection (the client's port) and direction, the Engine.IO packets
//! netlab finds — in WebSocket messages and in long-polling bodies, in the order of the
//! frames and of the records in a body — must be the packets the server logged sending
//! or receiving, in the same order: the same type and data (a binary message: the same
//! length). Where the log decoded a Socket.IO packet, netlab's must have its type,
//! namespace, ack id and, for an event, its name; binary packets are joined to their
//! attachments on the frame of the last one, as in the log.

use std::collections::BTreeMap;

use crate::common::root;

/// One Engine.IO packet: type and text data, or a binary message's length.
#[derive(Debug, Clone, PartialEq)]
enum Eio {
    Text(u64, String),
    Binary(usize),
}

/// A Socket.IO packet's identity: type, namespace, ack id, event name.
type Sio = (u64, String, Option<u64>, Option<String>);

#[derive(Debug, Default)]
struct Seen {
    eio: Vec<Eio>,
    sio: Vec<Sio>,
}

/// (client port, "send" from the server or "recv" by it).
type Key = (u64, &'static str);

fn from_log(file: &str) -> BTreeMap<Key, Seen> {
    let text = std::fs::read_to_string(root().join("captures").join(file)).expect("log");
    let log: serde_json::Value = serde_json::from_str(&text).expect("JSON log");
    let mut seen: BTreeMap<Key, Seen> = BTreeMap::new();
    for p in log["packets"].as_array().expect("packets") {
        if p["peer"] != "server" {
            continue;
        }
        let port = p["tcp_client_port"]
            .as_u64()
            .expect("the server knows the port");
        let dir = if p["dir"] == "send" { "send" } else { "recv" };
        let s = seen.entry((port, dir)).or_default();
        let e = &p["engineio"];
        match e.get("binary_base64").and_then(|b| b.as_str()) {
            Some(b64) => {
                use base64::Engine as _;
                let n = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("base64")
                    .len();
                s.eio.push(Eio::Binary(n));
            }
            None => s.eio.push(Eio::Text(
                e["type"].as_u64().expect("type"),
                e["data"].as_str().unwrap_or("").to_string(),
            )),
        }
        if let Some(sio) = p.get("socketio") {
            // socket.io-parser hands a reassembled BINARY_EVENT / BINARY_ACK on as an
            // EVENT / ACK with its buffers in place; on the wire (and in netlab) it is
            // the binary type: 2 + 3 = 5, 3 + 3 = 6.
            let binary = sio["attachments"].as_u64().unwrap_or(0) > 0;
            let ty = sio["type"].as_u64().expect("type") + if binary { 3 } else { 0 };
            let event = match (Some(ty), &sio["data"]) {
                (Some(2 | 5), serde_json::Value::Array(a)) => {
                    a.first().and_then(|n| n.as_str()).map(str::to_string)
                }
                _ => None,
            };
            s.sio.push((
                ty,
                sio["nsp"].as_str().unwrap_or("/").to_string(),
                sio.get("id").and_then(|i| i.as_u64()),
                event,
            ));
        }
    }
    seen
}

/// What netlab dissects, read layer by layer (the library, as `netlab dissect` uses it).
fn from_netlab(file: &str, server_port: u64) -> BTreeMap<Key, Seen> {
    use netlab::capture::Reader;
    use netlab::dissect::{Dissector, Meta, Packet, Proto, Value};
    let f = std::fs::File::open(root().join("captures").join(file)).expect("capture");
    let mut reader = Reader::new(std::io::BufReader::new(f)).expect("a capture");
    let mut d = Dissector::new();
    d.decode_as(&format!("tcp.port=={server_port},http"))
        .expect("rule");
    let mut pkt = Packet::default();
    let mut seen: BTreeMap<Key, Seen> = BTreeMap::new();
    let mut number = 0;
    while let Some(r) = reader.next_record().expect("readable") {
        number += 1;
        let meta = Meta {
            number,
            ts_sec: r.ts_sec,
            ts_nsec: r.ts_nsec,
            len: r.len,
            interface: r.interface,
            linktype: r.linktype,
        };
        d.dissect(meta, r.data, &mut pkt);
        let num = |key: &str| match pkt.field(key).map(|f| &f.value) {
            Some(Value::Uint(n)) => Some(*n),
            _ => None,
        };
        let (Some(sp), Some(dp)) = (num("tcp.srcport"), num("tcp.dstport")) else {
            continue;
        };
        let (port, dir) = if sp == server_port {
            (dp, "send")
        } else {
            (sp, "recv")
        };
        for l in &pkt.layers {
            let fields = pkt.layer_fields(l);
            let get = |key: &str| fields.iter().find(|f| f.def.key == key).map(|f| &f.value);
            match l.proto {
                Proto::EngineIo => {
                    let s = seen.entry((port, dir)).or_default();
                    match (get("engineio.packet_type"), get("engineio.binary_length")) {
                        (Some(Value::Uint(t)), _) => {
                            let data = match get("engineio.data") {
                                Some(Value::Text(t)) => t.to_string(),
                                _ => String::new(),
                            };
                            s.eio.push(Eio::Text(*t, data));
                        }
                        (_, Some(Value::Uint(n))) => s.eio.push(Eio::Binary(*n as usize)),
                        _ => panic!("{file} frame {number}: an Engine.IO layer without a packet"),
                    }
                }
                Proto::SocketIo => {
                    let Some(Value::Uint(t)) = get("socketio.packet_type") else {
                        continue; // an error (marked) or an attachment on its way
                    };
                    // A binary packet counts where it is complete (its last attachment),
                    // as in the log.
                    if (*t == 5 || *t == 6) && get("socketio.announced_in").is_none() {
                        continue;
                    }
                    let text = |key: &str| match get(key) {
                        Some(Value::Text(t)) => Some(t.to_string()),
                        _ => None,
                    };
                    let id = match get("socketio.ack_id") {
                        Some(Value::Uint(n)) => Some(*n),
                        _ => None,
                    };
                    seen.entry((port, dir)).or_default().sio.push((
                        *t,
                        text("socketio.namespace").unwrap_or_else(|| "/".into()),
                        id,
                        text("socketio.event"),
                    ));
                }
                _ => {}
            }
        }
    }
    seen
}

fn check(file: &str, log: &str) {
    let theirs = from_log(log);
    let ours = from_netlab(file, 8765);
    assert!(!theirs.is_empty());
    let mut eio = 0;
    let mut sio = 0;
    for (key, t) in &theirs {
        let o = ours
            .get(key)
            .unwrap_or_else(|| panic!("{file}: netlab found nothing for {key:?}"));
        assert_eq!(o.eio, t.eio, "{file} {key:?}: Engine.IO packets");
        eio += t.eio.len();
        assert_eq!(o.sio, t.sio, "{file} {key:?}: Socket.IO packets");
        sio += t.sio.len();
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{file}: connections and directions"
    );
    println!("{file}: {eio} Engine.IO and {sio} Socket.IO packets as the peers logged them");
    assert!(eio > 20 && sio > 10);
}

#[test]
fn socketio_over_websocket_is_what_the_peers_logged() {
    check("socketio-ws.pcap", "socketio-ws.log.json");
}

#[test]
fn socketio_over_polling_then_websocket_is_what_the_peers_logged() {
    check("socketio-polling.pcap", "socketio-polling.log.json");
}
