//! SMTP lines, DATA and the message as IMF: the codecs and the dissector on any bytes, sent as a
//! conversation's payload in one segment and cut into pieces, from the client and from
//! the server; checks in `netlab::dissect::app::fuzz`, which `cargo test` also runs over
//! mutated messages; every frame rendered every way (`netlab_fuzz::app`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::dissect::app::fuzz::Protocol;

fuzz_target!(|data: &[u8]| {
    netlab_fuzz::app(Protocol::Smtp, data);
});
