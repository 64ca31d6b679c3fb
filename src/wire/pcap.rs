//! The pcap and pcapng file formats: header layouts and their parsing, without I/O.
//! `src/capture/` streams files through these.
//!
//! pcap (tcpdump.org, draft-ietf-opsawg-pcap): a 24-byte global header, then records
//! of a 16-byte header plus the captured bytes. The magic number tells the byte order
//! (`a1 b2 c3 d4` written in the writer's order) and the timestamp unit (`a1b2c3d4`:
//! microseconds, `a1b23c4d`: nanoseconds).
//!
//! pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks `type, total length, body,
//! total length`. A Section Header Block fixes the byte order; Interface Description
//! Blocks describe interfaces (link type, snaplen, timestamp resolution); Enhanced and
//! Simple Packet Blocks carry packets.

use super::{Error, Result, need};

pub const MAGIC_USEC: u32 = 0xa1b2_c3d4;
pub const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
pub const GLOBAL_HEADER_LEN: usize = 24;
pub const RECORD_HEADER_LEN: usize = 16;

pub const BLOCK_SHB: u32 = 0x0a0d_0d0a;
pub const BLOCK_IDB: u32 = 0x0000_0001;
pub const BLOCK_OPB: u32 = 0x0000_0002;
pub const BLOCK_SPB: u32 = 0x0000_0003;
pub const BLOCK_EPB: u32 = 0x0000_0006;
pub const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Option code of `if_tsresol` in an IDB.
pub const OPT_IF_TSRESOL: u16 = 9;
/// Option code of `if_tsoffset` in an IDB.
pub const OPT_IF_TSOFFSET: u16 = 14;

/// Largest record or block netlab accepts; a bigger length is treated as corruption
/// rather than allocated.
pub const MAX_RECORD: usize = 64 * 1024 * 1024;

/// What a file's first four bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pcap { big_endian: bool, nanos: bool },
    Pcapng,
}

/// Identifies the format from the first four bytes.
pub fn sniff(first4: [u8; 4]) -> Option<Kind> {
    let be = u32::from_be_bytes(first4);
    let le = u32::from_le_bytes(first4);
    match (be, le) {
        (MAGIC_USEC, _) => Some(Kind::Pcap {
            big_endian: true,
            nanos: false,
        }),
        (MAGIC_NSEC, _) => Some(Kind::Pcap {
            big_endian: true,
            nanos: true,
        }),
        (_, MAGIC_USEC) => Some(Kind::Pcap {
            big_endian: false,
            nanos: false,
        }),
        (_, MAGIC_NSEC) => Some(Kind::Pcap {
            big_endian: false,
            nanos: true,
        }),
        (BLOCK_SHB, _) => Some(Kind::Pcapng),
        _ => None,
    }
}

/// Reads a u16/u32 in the file's byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endian {
    pub big: bool,
}

impl Endian {
    pub fn u16(self, b: &[u8], at: usize) -> u16 {
        let a = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }
    pub fn u32(self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
    pub fn put_u16(self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    pub fn put_u32(self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
}

/// The pcap global header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalHeader {
    pub endian: Endian,
    pub nanos: bool,
    pub version: (u16, u16),
    pub snaplen: u32,
    /// Link type (the low 16 bits of the "network" field; the upper bits hold FCS info).
    pub linktype: u32,
}

impl GlobalHeader {
    pub fn parse(b: &[u8]) -> Result<GlobalHeader> {
        need(b, GLOBAL_HEADER_LEN)?;
        let Some(Kind::Pcap { big_endian, nanos }) = sniff([b[0], b[1], b[2], b[3]]) else {
            return Err(Error::Malformed("not a pcap magic number"));
        };
        let e = Endian { big: big_endian };
        Ok(GlobalHeader {
            endian: e,
            nanos,
            version: (e.u16(b, 4), e.u16(b, 6)),
            snaplen: e.u32(b, 16),
            linktype: e.u32(b, 20) & 0x03ff_ffff,
        })
    }

    /// The header of a fresh little-endian microsecond file, as tcpdump writes it.
    pub fn emit(snaplen: u32, linktype: u32) -> [u8; GLOBAL_HEADER_LEN] {
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC_USEC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        h
    }
}

/// A pcap record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub ts_sec: u32,
    /// Microseconds or nanoseconds, as the magic says.
    pub ts_frac: u32,
    pub caplen: u32,
    pub len: u32,
}

impl RecordHeader {
    pub fn parse(e: Endian, b: &[u8]) -> Result<RecordHeader> {
        need(b, RECORD_HEADER_LEN)?;
        Ok(RecordHeader {
            ts_sec: e.u32(b, 0),
            ts_frac: e.u32(b, 4),
            caplen: e.u32(b, 8),
            len: e.u32(b, 12),
        })
    }

    /// Little-endian microsecond record header.
    pub fn emit(&self) -> [u8; RECORD_HEADER_LEN] {
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&self.ts_sec.to_le_bytes());
        h[4..8].copy_from_slice(&self.ts_frac.to_le_bytes());
        h[8..12].copy_from_slice(&self.caplen.to_le_bytes());
        h[12..16].copy_from_slice(&self.len.to_le_bytes());
        h
    }
}

/// An interface described by a pcapng IDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    pub linktype: u32,
    pub snaplen: u32,
    /// Timestamp units per second (10^6 unless `if_tsresol` says otherwise).
    pub units_per_sec: u64,
    /// `if_tsoffset`: seconds to add to every timestamp.
    pub ts_offset: i64,
}

impl Interface {
    /// Parses an IDB body (after type and length, before the trailing length).
    pub fn parse(e: Endian, body: &[u8]) -> Result<Interface> {
        need(body, 8)?;
        let mut iface = Interface {
            linktype: e.u16(body, 0) as u32,
            snaplen: e.u32(body, 4),
            units_per_sec: 1_000_000,
            ts_offset: 0,
        };
        let mut opts = &body[8..];
        while opts.len() >= 4 {
            let code = e.u16(opts, 0);
            let len = e.u16(opts, 2) as usize;
            let padded = 4 + len.div_ceil(4) * 4;
            if code == 0 {
                break;
            }
            let Some(val) = opts.get(4..4 + len) else {
                return Err(Error::Malformed("interface option runs past its block"));
            };
            match (code, len) {
                (OPT_IF_TSRESOL, 1) => {
                    let v = val[0];
                    let exp = (v & 0x7f) as u32;
                    iface.units_per_sec = if v & 0x80 != 0 {
                        if exp > 63 {
                            return Err(Error::Malformed("if_tsresol beyond 2^63"));
                        }
                        1u64 << exp
                    } else {
                        10u64
                            .checked_pow(exp)
                            .ok_or(Error::Malformed("if_tsresol beyond 10^19"))?
                    };
                }
                (OPT_IF_TSOFFSET, 8) => {
                    let hi = e.u32(val, 0) as u64;
                    let lo = e.u32(val, 4) as u64;
                    // The offset is a 64-bit integer in the section's byte order.
                    let v = if e.big {
                        (hi << 32) | lo
                    } else {
                        (lo << 32) | hi
                    };
                    iface.ts_offset = v as i64;
                }
                _ => {}
            }
            opts = opts.get(padded..).unwrap_or(&[]);
        }
        Ok(iface)
    }

    /// Splits a raw timestamp in this interface's units into seconds and nanoseconds.
    pub fn split_ts(&self, ts: u64) -> (i64, u32) {
        let secs = ts / self.units_per_sec;
        let frac = ts % self.units_per_sec;
        let nanos = (frac as u128 * 1_000_000_000 / self.units_per_sec as u128) as u32;
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        (secs.saturating_add(self.ts_offset), nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics() {
        assert_eq!(
            sniff([0xd4, 0xc3, 0xb2, 0xa1]),
            Some(Kind::Pcap {
                big_endian: false,
                nanos: false
            })
        );
        assert_eq!(
            sniff([0xa1, 0xb2, 0x3c, 0x4d]),
            Some(Kind::Pcap {
                big_endian: true,
                nanos: true
            })
        );
        assert_eq!(sniff([0x0a, 0x0d, 0x0d, 0x0a]), Some(Kind::Pcapng));
        assert_eq!(sniff(*b"GET "), None);
    }

    #[test]
    fn global_header_roundtrip() {
        let h = GlobalHeader::emit(262144, 101);
        let g = GlobalHeader::parse(&h).unwrap();
        assert_eq!(g.linktype, 101);
        assert_eq!(g.snaplen, 262144);
        assert_eq!(g.version, (2, 4));
        assert!(!g.nanos);
        assert!(GlobalHeader::parse(&h[..23]).is_err());
    }

    #[test]
    fn tsresol() {
        // linktype 1, snaplen 0, option if_tsresol=9 (nanoseconds), end of options.
        let body = [1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0];
        let i = Interface::parse(Endian { big: false }, &body).unwrap();
        assert_eq!(i.units_per_sec, 1_000_000_000);
        assert_eq!(i.split_ts(1_500_000_000), (1, 500_000_000));
        // 2^-10 resolution.
        let body = [1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 0x8a, 0, 0, 0];
        let i = Interface::parse(Endian { big: false }, &body).unwrap();
        assert_eq!(i.units_per_sec, 1024);
        assert_eq!(i.split_ts(1024 + 512), (1, 500_000_000));
    }
}

/// Real bytes: the starts of files in `captures/`: tcpdump's little-endian microsecond
/// format (`ping4.pcap`), the big-endian one (`bigendian.pcap`) and nanoseconds
/// (`nanosecond.pcap`), see captures/README.md.
#[cfg(test)]
mod real_bytes {
    use super::*;

    /// ping4.pcap: the global header and the first record's header (98 bytes kept of 98).
    const PING4: [u8; 40] = [
        0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x16, 0x73, 0x07, 0x6b, 0xfc, 0x37,
        0x0b, 0x00, 0x62, 0x00, 0x00, 0x00, 0x62, 0x00, 0x00, 0x00,
    ];
    /// bigendian.pcap: the global header and the first record's header.
    const BIG: [u8; 40] = [
        0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x6b, 0x07, 0x73, 0x0f, 0x00, 0x0d,
        0xbe, 0xca, 0x00, 0x00, 0x00, 0x4a, 0x00, 0x00, 0x00, 0x4a,
    ];
    /// nanosecond.pcap: the magic a1b23c4d, little-endian.
    const NANO: [u8; 24] = [
        0x4d, 0x3c, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn tcpdumps_own_header_and_first_record() {
        let g = GlobalHeader::parse(&PING4).unwrap();
        assert_eq!((g.endian.big, g.nanos, g.version), (false, false, (2, 4)));
        assert_eq!((g.snaplen, g.linktype), (262_144, 1));
        let r = RecordHeader::parse(g.endian, &PING4[GLOBAL_HEADER_LEN..]).unwrap();
        assert_eq!(
            (r.ts_sec, r.ts_frac, r.caplen, r.len),
            (0x6b07_7316, 735_228, 98, 98)
        );
        // netlab writes the same layout (capture::Writer): the record header round-trips.
        assert_eq!(r.emit(), PING4[GLOBAL_HEADER_LEN..]);
        assert!(GlobalHeader::parse(&PING4[..23]).is_err());
        assert!(RecordHeader::parse(g.endian, &PING4[24..39]).is_err());
    }

    #[test]
    fn big_endian_and_nanoseconds() {
        let g = GlobalHeader::parse(&BIG).unwrap();
        assert_eq!(
            (g.endian.big, g.nanos, g.version, g.linktype),
            (true, false, (2, 4), 1)
        );
        let r = RecordHeader::parse(g.endian, &BIG[GLOBAL_HEADER_LEN..]).unwrap();
        assert_eq!((r.caplen, r.len), (74, 74));
        assert_eq!(r.ts_frac, 0x000d_beca);
        let n = GlobalHeader::parse(&NANO).unwrap();
        assert_eq!((n.endian.big, n.nanos, n.linktype), (false, true, 1));
        assert_eq!(
            sniff([NANO[0], NANO[1], NANO[2], NANO[3]]),
            Some(Kind::Pcap {
                big_endian: false,
                nanos: true
            })
        );
    }
}
