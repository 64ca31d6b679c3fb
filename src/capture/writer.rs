//! Writes classic pcap files (little-endian, microseconds) that tcpdump, tshark and
//! Wireshark open.

use std::io::{self, Write};

use crate::wire::pcap::{GlobalHeader, RecordHeader};

/// A pcap writer over any byte sink.
pub struct Writer<W: Write> {
    out: W,
    snaplen: u32,
}

impl<W: Write> Writer<W> {
    /// Writes the global header for `linktype` (1 Ethernet, 101 raw IP…).
    pub fn new(mut out: W, linktype: u32) -> io::Result<Self> {
        let snaplen = 262_144;
        out.write_all(&GlobalHeader::emit(snaplen, linktype))?;
        Ok(Writer { out, snaplen })
    }

    /// Appends one packet with its timestamp.
    pub fn write_packet(&mut self, ts_sec: u32, ts_usec: u32, data: &[u8]) -> io::Result<()> {
        let caplen = data.len().min(self.snaplen as usize);
        let h = RecordHeader {
            ts_sec,
            ts_frac: ts_usec,
            caplen: caplen as u32,
            len: data.len() as u32,
        };
        self.out.write_all(&h.emit())?;
        self.out.write_all(&data[..caplen])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Reader;

    #[test]
    fn written_file_reads_back() {
        let mut w = Writer::new(Vec::new(), 101).unwrap();
        w.write_packet(1_700_000_000, 250_000, &[0x45, 0, 0, 20])
            .unwrap();
        w.write_packet(1_700_000_001, 0, &[0x60; 40]).unwrap();
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes[..]).unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!(
            (a.ts_sec, a.ts_nsec, a.linktype),
            (1_700_000_000, 250_000_000, 101)
        );
        assert_eq!(a.data, &[0x45, 0, 0, 20]);
        let b = r.next_record().unwrap().unwrap();
        assert_eq!(b.data.len(), 40);
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn cut_file_reports_offset() {
        let mut w = Writer::new(Vec::new(), 1).unwrap();
        w.write_packet(1, 0, &[0u8; 60]).unwrap();
        let bytes = w.into_inner();
        let cut = &bytes[..24 + 16 + 30];
        let mut r = Reader::new(cut).unwrap();
        match r.next_record() {
            Err(crate::capture::ReadError::Truncated { offset, .. }) => assert_eq!(offset, 70),
            other => panic!("expected truncation, got {other:?}"),
        }
    }

    #[test]
    fn not_a_capture() {
        let e = Reader::new(&b"GET / HTTP/1.1"[..]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "is not a pcap or pcapng file (it starts with 0x47455420)"
        );
        let e = Reader::new(&b""[..]).err().unwrap();
        assert!(e.to_string().contains("empty"));
    }
}
