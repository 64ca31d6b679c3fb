//! A conversation of TCP segments (in order or not, repeated, overlapping, with holes)
//! and UDP datagrams, made from the input, through the whole dissector: stream
//! tracking, TCP analysis, reassembly and the application dissectors (HTTP, WebSocket,
//! Engine.IO/Socket.IO), in both modes. The input's format and the checks are in
//! `netlab::dissect::fuzz` (which `cargo test` also runs over mutated seeds).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netlab::dissect::fuzz::check(data);
});
