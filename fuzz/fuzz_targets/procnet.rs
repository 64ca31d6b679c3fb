//! The kernel's socket tables (`/proc/net/tcp`, `udp`, their IPv6 twins), the local
//! port range and `/proc/PID/fd` socket links, read by `wire::procnet`: any text, no
//! panic, and a line that parses alone parses the same inside its table. The checks are
//! `netlab::wire::procnet::fuzz_check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        netlab::wire::procnet::fuzz_check(text);
    }
});
