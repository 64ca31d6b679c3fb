//! A streaming reader for pcap (both byte orders, µs and ns) and pcapng (SHB, IDB, EPB,
//! SPB, the obsolete OPB; several sections and interfaces; `if_tsresol`/`if_tsoffset`).

use std::fmt;
use std::io::{self, Read};

use crate::wire::pcap::{self, Endian, GlobalHeader, Interface, Kind, RecordHeader};

/// One packet record, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct Record<'a> {
    pub ts_sec: i64,
    pub ts_nsec: u32,
    /// Length on the wire.
    pub len: u32,
    pub interface: u32,
    pub linktype: u32,
    pub data: &'a [u8],
}

/// Why reading stopped early.
#[derive(Debug)]
pub enum ReadError {
    /// Not a capture at all (nothing read yet). `first` holds up to 4 leading bytes.
    NotCapture {
        first: Vec<u8>,
    },
    /// The file ends inside a header or a record.
    Truncated {
        offset: u64,
        what: String,
    },
    /// A header contradicts itself.
    Malformed {
        offset: u64,
        what: String,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotCapture { first } if first.is_empty() => {
                write!(f, "is not a pcap or pcapng file (it is empty)")
            }
            ReadError::NotCapture { first } => {
                write!(f, "is not a pcap or pcapng file (it starts with 0x")?;
                for b in first {
                    write!(f, "{b:02x}")?;
                }
                write!(f, ")")
            }
            ReadError::Truncated { offset, what } => {
                write!(f, "the capture is cut short at byte {offset}: {what}")
            }
            ReadError::Malformed { offset, what } => {
                write!(f, "the capture is damaged at byte {offset}: {what}")
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

enum Format {
    Pcap(GlobalHeader),
    Pcapng {
        endian: Endian,
        interfaces: Vec<Interface>,
    },
}

/// Reads records one at a time from any byte stream (a file, standard input, a pipe).
pub struct Reader<R: Read> {
    src: R,
    format: Format,
    /// Bytes consumed so far (for error messages).
    offset: u64,
    buf: Vec<u8>,
}

/// Fills `buf` completely, or reports how many bytes there were.
fn fill<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: Read> Reader<R> {
    /// Reads the file header (pcap) or the first section header (pcapng).
    pub fn new(mut src: R) -> Result<Self, ReadError> {
        let mut first = [0u8; 4];
        let n = fill(&mut src, &mut first).map_err(ReadError::Io)?;
        let kind = if n == 4 { pcap::sniff(first) } else { None };
        let Some(kind) = kind else {
            return Err(ReadError::NotCapture {
                first: first[..n].to_vec(),
            });
        };
        let mut r = Reader {
            src,
            format: Format::Pcapng {
                endian: Endian { big: false },
                interfaces: Vec::new(),
            },
            offset: 4,
            buf: Vec::with_capacity(65536),
        };
        match kind {
            Kind::Pcap { .. } => {
                let mut h = [0u8; pcap::GLOBAL_HEADER_LEN];
                h[..4].copy_from_slice(&first);
                r.read_exact_at(&mut h[4..], "the 24-byte pcap file header")?;
                let g = GlobalHeader::parse(&h).map_err(|e| ReadError::Malformed {
                    offset: 0,
                    what: e.to_string(),
                })?;
                r.format = Format::Pcap(g);
            }
            Kind::Pcapng => {
                // The block type is read; the rest of the SHB follows.
                r.read_block_after_type(pcap::BLOCK_SHB)?;
                r.section_header()?;
            }
        }
        Ok(r)
    }

    /// Link type of a pcap file (pcapng files have one per interface).
    pub fn pcap_linktype(&self) -> Option<u32> {
        match &self.format {
            Format::Pcap(g) => Some(g.linktype),
            Format::Pcapng { .. } => None,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Appends exactly `n` bytes to `self.buf`. The buffer grows with what really
    /// arrives, so a length field that lies costs no more memory than the file has.
    fn read_append(&mut self, n: usize, what: &str) -> Result<(), ReadError> {
        let got = (&mut self.src)
            .take(n as u64)
            .read_to_end(&mut self.buf)
            .map_err(ReadError::Io)?;
        if got < n {
            return Err(ReadError::Truncated {
                offset: self.offset + got as u64,
                what: format!("expected {what} ({n} bytes), found only {got}"),
            });
        }
        self.offset += n as u64;
        Ok(())
    }

    fn read_exact_at(&mut self, buf: &mut [u8], what: &str) -> Result<(), ReadError> {
        let n = fill(&mut self.src, buf).map_err(ReadError::Io)?;
        if n < buf.len() {
            let at = self.offset + n as u64;
            return Err(ReadError::Truncated {
                offset: at,
                what: format!("expected {what} ({} bytes), found only {n}", buf.len()),
            });
        }
        self.offset += n as u64;
        Ok(())
    }

    /// Reads a block whose 4-byte type has been read: into `self.buf` goes the body
    /// (between the leading length and the trailing length).
    fn read_block_after_type(&mut self, btype: u32) -> Result<(), ReadError> {
        let start = self.offset - 4;
        let mut len4 = [0u8; 4];
        self.read_exact_at(&mut len4, "a pcapng block length")?;
        let endian = if btype == pcap::BLOCK_SHB {
            // The byte-order magic follows the length; peek it to decide the order.
            let mut bom = [0u8; 4];
            self.read_exact_at(&mut bom, "the section's byte-order magic")?;
            let e = match (u32::from_le_bytes(bom), u32::from_be_bytes(bom)) {
                (pcap::BYTE_ORDER_MAGIC, _) => Endian { big: false },
                (_, pcap::BYTE_ORDER_MAGIC) => Endian { big: true },
                _ => {
                    return Err(ReadError::Malformed {
                        offset: start + 8,
                        what: "section header without the byte-order magic 1a2b3c4d".into(),
                    });
                }
            };
            self.format = Format::Pcapng {
                endian: e,
                interfaces: Vec::new(),
            };
            e
        } else {
            match &self.format {
                Format::Pcapng { endian, .. } => *endian,
                Format::Pcap(_) => unreachable!("blocks exist only in pcapng"),
            }
        };
        let total = endian.u32(&len4, 0) as usize;
        if total < 12 || !total.is_multiple_of(4) || total > pcap::MAX_RECORD {
            return Err(ReadError::Malformed {
                offset: start + 4,
                what: format!("block length {total} is not a multiple of 4 between 12 and 64 MiB"),
            });
        }
        let already = if btype == pcap::BLOCK_SHB { 4 } else { 0 };
        if btype == pcap::BLOCK_SHB && total < 28 {
            return Err(ReadError::Malformed {
                offset: start + 4,
                what: format!("section header block of {total} bytes (at least 28)"),
            });
        }
        // body = total - type - len - trailing len
        let body_len = total - 12;
        self.buf.clear();
        if already == 4 {
            self.buf
                .extend_from_slice(&endian.put_u32(pcap::BYTE_ORDER_MAGIC));
        }
        self.read_append(body_len + 4 - already, "the rest of a pcapng block")?;
        let trailer = endian.u32(&self.buf, body_len);
        if trailer as usize != total {
            return Err(ReadError::Malformed {
                offset: start,
                what: format!("block's trailing length {trailer} differs from its leading {total}"),
            });
        }
        self.buf.truncate(body_len);
        Ok(())
    }

    fn section_header(&mut self) -> Result<(), ReadError> {
        // Body: magic(4) major(2) minor(2) section length(8) options.
        if self.buf.len() < 16 {
            return Err(ReadError::Malformed {
                offset: self.offset,
                what: "section header block too short".into(),
            });
        }
        Ok(())
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, ReadError> {
        match self.format {
            Format::Pcap(g) => self.next_pcap(g),
            Format::Pcapng { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, g: GlobalHeader) -> Result<Option<Record<'_>>, ReadError> {
        let mut h = [0u8; pcap::RECORD_HEADER_LEN];
        let n = fill(&mut self.src, &mut h).map_err(ReadError::Io)?;
        if n == 0 {
            return Ok(None);
        }
        if n < h.len() {
            return Err(ReadError::Truncated {
                offset: self.offset + n as u64,
                what: format!("expected a 16-byte record header, found only {n} bytes"),
            });
        }
        let rec_at = self.offset;
        self.offset += 16;
        let r = RecordHeader::parse(g.endian, &h).expect("16 bytes present");
        let caplen = r.caplen as usize;
        if caplen > pcap::MAX_RECORD {
            return Err(ReadError::Malformed {
                offset: rec_at,
                what: format!("record claims {caplen} captured bytes (more than 64 MiB)"),
            });
        }
        self.buf.clear();
        self.read_append(caplen, "the record's captured bytes")?;
        let nsec = if g.nanos {
            r.ts_frac
        } else {
            r.ts_frac.saturating_mul(1000)
        };
        Ok(Some(Record {
            ts_sec: r.ts_sec as i64,
            ts_nsec: nsec.min(999_999_999),
            len: r.len.max(r.caplen),
            interface: 0,
            linktype: g.linktype,
            data: &self.buf,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Record<'_>>, ReadError> {
        loop {
            let mut t = [0u8; 4];
            let n = fill(&mut self.src, &mut t).map_err(ReadError::Io)?;
            if n == 0 {
                return Ok(None);
            }
            if n < 4 {
                return Err(ReadError::Truncated {
                    offset: self.offset + n as u64,
                    what: format!("expected a 4-byte block type, found only {n} bytes"),
                });
            }
            let block_at = self.offset;
            self.offset += 4;
            let endian = match &self.format {
                Format::Pcapng { endian, .. } => *endian,
                Format::Pcap(_) => unreachable!(),
            };
            // An SHB's type reads the same in both orders.
            let btype = endian.u32(&t, 0);
            self.read_block_after_type(btype)?;
            let Format::Pcapng { endian, interfaces } = &mut self.format else {
                unreachable!()
            };
            let e = *endian;
            let malformed = |what: String| ReadError::Malformed {
                offset: block_at,
                what,
            };
            match btype {
                pcap::BLOCK_SHB => {}
                pcap::BLOCK_IDB => {
                    let i = Interface::parse(e, &self.buf)
                        .map_err(|err| malformed(format!("interface description: {err}")))?;
                    interfaces.push(i);
                }
                pcap::BLOCK_EPB | pcap::BLOCK_OPB => {
                    if self.buf.len() < 20 {
                        return Err(malformed(
                            "packet block shorter than its 20-byte header".into(),
                        ));
                    }
                    let (id, hi_at) = if btype == pcap::BLOCK_EPB {
                        (e.u32(&self.buf, 0), 4)
                    } else {
                        (e.u16(&self.buf, 0) as u32, 4)
                    };
                    let hi = e.u32(&self.buf, hi_at) as u64;
                    let lo = e.u32(&self.buf, hi_at + 4) as u64;
                    let caplen = e.u32(&self.buf, 12) as usize;
                    let len = e.u32(&self.buf, 16);
                    let Some(iface) = interfaces.get(id as usize).copied() else {
                        return Err(malformed(format!(
                            "packet for interface {id}, but only {} described",
                            interfaces.len()
                        )));
                    };
                    if 20 + caplen > self.buf.len() {
                        return Err(malformed(format!(
                            "packet block claims {caplen} captured bytes, has room for {}",
                            self.buf.len() - 20
                        )));
                    }
                    let (ts_sec, ts_nsec) = iface.split_ts((hi << 32) | lo);
                    return Ok(Some(Record {
                        ts_sec,
                        ts_nsec,
                        len: len.max(caplen as u32),
                        interface: id,
                        linktype: iface.linktype,
                        data: &self.buf[20..20 + caplen],
                    }));
                }
                pcap::BLOCK_SPB => {
                    let Some(iface) = interfaces.first().copied() else {
                        return Err(malformed("simple packet block before any interface".into()));
                    };
                    if self.buf.len() < 4 {
                        return Err(malformed("simple packet block without its length".into()));
                    }
                    let len = e.u32(&self.buf, 0);
                    let mut caplen = (len as usize).min(self.buf.len() - 4);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    return Ok(Some(Record {
                        ts_sec: 0,
                        ts_nsec: 0,
                        len,
                        interface: 0,
                        linktype: iface.linktype,
                        data: &self.buf[4..4 + caplen],
                    }));
                }
                // Name resolution, statistics, decryption secrets, custom blocks: not
                // packets; skipped.
                _ => {}
            }
        }
    }
}
