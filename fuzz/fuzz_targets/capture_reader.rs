//! Bytes → `capture::Reader` (pcap or pcapng) → every record dissected, checked and
//! rendered every way. The reader must stop: never more records than bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::capture::Reader;
use netlab::dissect::Meta;
use netlab::dissect::stats::Stats;
use netlab_fuzz::{Sink, dissector};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::new(data) else {
        return;
    };
    // The last byte picks the plain-list fast path and colours, so both get fuzzed.
    let flags = data.last().copied().unwrap_or(0);
    let mut d = dissector(flags & 1 != 0);
    let mut sink = Sink::default();
    let mut stats = Stats::default();
    let mut records = 0u64;
    loop {
        assert!(reader.offset() <= data.len() as u64, "offset past the end");
        let Ok(Some(rec)) = reader.next_record() else {
            break;
        };
        records += 1;
        assert!(records <= data.len() as u64, "the reader does not stop");
        let meta = Meta {
            number: records,
            ts_sec: rec.ts_sec,
            ts_nsec: rec.ts_nsec,
            len: rec.len,
            interface: rec.interface,
            linktype: rec.linktype,
        };
        let n = rec.data.len();
        d.dissect(meta, rec.data, &mut sink.pkt);
        sink.render(n, flags & 2 != 0, &mut stats);
    }
    // Asking again after the end or an error must not panic either.
    let _ = reader.next_record();
    sink.stats(&stats);
});
