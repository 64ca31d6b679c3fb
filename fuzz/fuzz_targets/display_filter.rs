//! Bytes (as UTF-8, lossily) → `Filter::parse`; when it parses, the filter is evaluated
//! against packets dissected from fixed frames (TCP over IPv4, UDP over IPv6 in a VLAN,
//! ARP, a truncated frame), in both dissector modes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use netlab::dissect::Packet;
use netlab::dissect::filter::Filter;
use netlab_fuzz::{dissector, meta};

fn frames() -> Vec<Vec<u8>> {
    let mac = |last: u8| [0x02, 0, 0, 0, 0, last];
    let mut tcp = Vec::new();
    tcp.extend(mac(2));
    tcp.extend(mac(1));
    tcp.extend([0x08, 0x00]);
    tcp.extend([
        0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    tcp.extend([
        0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    tcp.extend([2, 4, 5, 0xb4]);
    tcp.resize(60, 0);

    let mut udp6 = Vec::new();
    udp6.extend(mac(2));
    udp6.extend(mac(1));
    udp6.extend([0x81, 0x00, 0x00, 0x64, 0x86, 0xdd]);
    udp6.extend([0x60, 0, 0, 0, 0, 12, 17, 64]);
    udp6.extend([0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    udp6.extend([0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    udp6.extend([0xc0, 0x00, 0, 53, 0, 12, 0, 0, b'a', b'b', b'c', b'd']);

    let mut arp = Vec::new();
    arp.extend([0xff; 6]);
    arp.extend(mac(1));
    arp.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend(mac(1));
    arp.extend([10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    arp.resize(60, 0);

    let cut = tcp[..40].to_vec();
    vec![tcp, udp6, arp, cut]
}

fn packets() -> &'static [Packet] {
    static PACKETS: OnceLock<Vec<Packet>> = OnceLock::new();
    PACKETS.get_or_init(|| {
        let mut v = Vec::new();
        for fast in [false, true] {
            for f in frames() {
                let mut d = dissector(fast);
                let mut p = Packet::default();
                d.dissect(meta(1, f.len().max(60) as u32), &f, &mut p);
                v.push(p);
            }
        }
        v
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Filter::parse(&text) {
        Ok(filter) => {
            for p in packets() {
                let _ = filter.matches(p);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
