//! HTTP heads, the WebSocket opening-handshake check, the frame codec and both roles'
//! sessions: no panic, round trips, and the same verdicts whether the bytes come in one
//! read or in many. The checks live in `netlab::ws::fuzz`, which `cargo test` also runs
//! over mutated real handshakes and frames.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netlab::ws::fuzz::check(data);
});
