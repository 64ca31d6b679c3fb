//! One frame under a link type: the first two bytes (little-endian u16 `s`) choose the
//! link type `LINK_TYPES[s % 10]` and, with `s / 10`, the options (bit 0: the fast
//! plain-list path; bit 1: colours; bits 2-3: the length on the wire — the frame's own,
//! 100 bytes more (a snaplen cut), 0, or u32::MAX). The rest is the frame, dissected
//! twice (the second time meets the TCP stream and fragment state of the first),
//! checked and rendered every way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::dissect::stats::Stats;
use netlab_fuzz::{LINK_TYPES, Sink, dissector, meta};

fuzz_target!(|data: &[u8]| {
    let Some((sel, frame)) = data.split_first_chunk::<2>() else {
        return;
    };
    let sel = u16::from_le_bytes(*sel) as usize;
    let linktype = LINK_TYPES[sel % LINK_TYPES.len()];
    let opts = sel / LINK_TYPES.len();
    let caplen = frame.len() as u32;
    let len = match (opts >> 2) & 3 {
        0 => caplen,
        1 => caplen.saturating_add(100),
        2 => 0,
        _ => u32::MAX,
    };
    let mut d = dissector(opts & 1 != 0);
    let mut sink = Sink::default();
    let mut stats = Stats::default();
    for number in 1..=2 {
        let m = netlab::dissect::Meta {
            number,
            ..meta(linktype, len)
        };
        d.dissect(m, frame, &mut sink.pkt);
        sink.render(frame.len(), opts & 2 != 0, &mut stats);
    }
    sink.stats(&stats);
});
