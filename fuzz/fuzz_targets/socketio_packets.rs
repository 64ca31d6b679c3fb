//! Engine.IO v4 and Socket.IO v5 decoders and engines: the input, split at 0x00 bytes
//! into messages (odd first byte: a binary message, else text), goes through the text
//! and long-polling decoders (which must round-trip what they accept), the Socket.IO
//! attachment reassembly, a server `Hub` (one WebSocket session, one polling session
//! being upgraded) and a client engine. The checks live in `netlab::socketio::fuzz`,
//! which `cargo test` also runs over mutated real packets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netlab::socketio::fuzz::check(data);
});
