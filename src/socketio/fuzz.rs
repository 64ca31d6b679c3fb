//! The checks shared by the `socketio_packets` fuzz target (fuzz/) and the mutation loop
//! below, which CI runs: whatever bytes arrive, the Engine.IO and Socket.IO decoders and
//! the engines must not panic, and what decodes must encode back to the same thing.
//!
//! A broken invariant panics (that is how libFuzzer and the test notice it).

use std::time::{Duration, Instant};

use crate::random::Rng;
use crate::socketio::client::Client;
use crate::socketio::{Config, Hub, Transport};
use crate::wire::engineio as eio;
use crate::wire::socketio as sio;

/// Runs every decoder and both engines over `data`.
///
/// `data` is split at 0x00 bytes into messages; a message whose first byte is odd is
/// a binary message (its remaining bytes), else text (lossy UTF-8).
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    round_trips(&text);

    let messages: Vec<eio::Packet> = data
        .split(|&b| b == 0)
        .filter_map(|m| match m.split_first() {
            Some((first, rest)) if first % 2 == 1 => Some(eio::Packet::binary(rest)),
            _ => eio::Packet::decode_text(&String::from_utf8_lossy(m)).ok(),
        })
        .collect();
    for m in data.split(|&b| b == 0) {
        round_trips(&String::from_utf8_lossy(m));
    }

    let mut decoder = sio::Decoder::new();
    for p in &messages {
        let _ = match &p.data {
            eio::Data::Text(t) => decoder.text(t),
            eio::Data::Binary(b) => decoder.binary(b),
        };
    }

    // The server's engine: a WebSocket session and a polling one being upgraded.
    let t0 = Instant::now();
    let config = Config {
        ping_interval: Duration::from_millis(10),
        ping_timeout: Duration::from_millis(10),
        max_payload: 1000,
        auth_token: Some("t".into()),
        max_queue: 1 << 20,
    };
    let mut hub = Hub::new(config, Rng::seeded(data.len() as u64 + 1));
    let a = hub.open(Transport::WebSocket, t0);
    let b = hub.open(Transport::Polling, t0);
    let _ = hub.begin_poll(&b);
    for (i, p) in messages.iter().enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 3);
        hub.receive(&a, Transport::WebSocket, p.clone(), now);
        let via = if i % 2 == 0 {
            Transport::WebSocket
        } else {
            Transport::Polling
        };
        hub.receive(&b, via, p.clone(), now);
        hub.tick(now);
        for sid in hub.drain_dirty() {
            for via in [Transport::WebSocket, Transport::Polling] {
                let taken = hub.take(&sid, via);
                if taken.closed.is_some() {
                    assert_eq!(hub.transport(&sid), None, "a closed session lives on");
                }
            }
        }
        hub.drain_notes();
    }
    hub.end_poll(&b);
    hub.transport_closed(&a, Transport::WebSocket);
    hub.transport_closed(&b, Transport::Polling);

    // The client's engine, after a proper open packet.
    let mut client = Client::new("/", None);
    let open = eio::Handshake {
        sid: "s".into(),
        upgrades: Vec::new(),
        ping_interval: 10,
        ping_timeout: 10,
        max_payload: 1000,
    };
    client.receive(open.packet(), t0);
    for (i, p) in messages.iter().enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 7);
        client.receive(p.clone(), now);
        client.tick(now);
        client.take_output();
        client.take_events();
    }
}

/// Decode → encode → decode gives the same packet.
fn round_trips(text: &str) {
    if let Ok(p) = eio::Packet::decode_text(text) {
        assert_eq!(p.encode_text().as_deref(), Some(text), "Engine.IO text");
    }
    if let Ok(ps) = eio::decode_payload(text) {
        let again = eio::encode_payload(&ps);
        assert_eq!(
            eio::decode_payload(&again).as_ref(),
            Ok(&ps),
            "Engine.IO payload"
        );
    }
    if let Ok(p) = sio::Packet::decode(text) {
        let encoded = p.encode();
        assert_eq!(
            sio::Packet::decode(&encoded).as_ref(),
            Ok(&p),
            "Socket.IO {text:?} → {encoded:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real packets (the protocol docs' examples and what the official client sent in
    /// netlab's interop tests), each mutated many times with a fixed seed.
    const SEEDS: &[&str] = &[
        "0",
        "40",
        "0/admin,{\"token\":\"123\"}",
        "40{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
        "44{\"message\":\"Not authorized\"}",
        "42[\"foo\"]",
        "42/admin,456[\"project:delete\",123]",
        "43/admin,456[]",
        "41/admin,",
        "451-[\"hello\",{\"_placeholder\":true,\"num\":0}]\0\x01\x01\x02\x03",
        "461-/admin,456[{\"_placeholder\":true,\"num\":0}]\0\x03\x01",
        "4hello\x1e4€\x1ebAQIDBA==",
        "2probe\x003probe\x005\x006\x002\x003\x001",
        "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}",
    ];

    /// Bytes that mean something to these protocols.
    const SPECIAL: &[u8] = b"0123456789-,/[]{}\":\x1eb\0\x01\xff_";

    #[test]
    fn mutated_packets_never_panic_and_round_trip() {
        let mut rng = crate::random::mutation_seed();
        let mut cases = 0;
        for s in SEEDS {
            check(s.as_bytes());
            for _ in 0..1500 {
                let mut b = s.as_bytes().to_vec();
                crate::random::mutate(&mut b, &mut rng, SPECIAL);
                check(&b);
                cases += 1;
            }
        }
        assert!(cases > 10_000);
    }
}
