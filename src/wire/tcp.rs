//! TCP, the Transmission Control Protocol (RFC 9293): a reliable, ordered byte stream
//! between two ports, built from segments that each carry a sequence number (where their
//! bytes go in the stream) and an acknowledgement number (the next byte expected from the
//! other side).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! |                        Sequence Number                        |
//! |                    Acknowledgment Number                      |
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |           Checksum            |         Urgent Pointer        |
//! |                           [Options]                           |
//! ```

use super::{Result, be16, be32, checksum, need, set_be16, set_be32};

pub mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    /// Data offset (4 bits), reserved (3 bits), then the 9 flag bits (AE/NS…FIN).
    pub const FLAGS: Field = 12..14;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
    pub const OPTIONS: usize = 20;
}
/// Header length without options. RFC 9293 § 3.1.
pub const HEADER_LEN: usize = 20;
/// TCP's IP protocol number.
pub const PROTOCOL: u8 = 6;

pub mod flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;
}

fields! {
    SRC_PORT: Num(
        "Source port",
        "tcp.srcport",
        "the sending socket's port",
    );
    DST_PORT: Num(
        "Destination port",
        "tcp.dstport",
        "the receiving socket's port (80 HTTP, 443 HTTPS, 22 SSH…)",
    );
    STREAM: Num(
        "Stream index",
        "tcp.stream",
        "netlab's number for this connection (the 4-tuple), counted from 0 in the capture",
    );
    SEGMENT_LEN: Num(
        "Segment length",
        "tcp.len",
        "bytes of data in this segment (header not counted)",
    );
    SEQ: Num(
        "Sequence number",
        "tcp.seq",
        "relative: the stream position of this segment's first byte, counted from 0 at the SYN",
    );
    SEQ_RAW: Num(
        "Sequence number (raw)",
        "tcp.seq_raw",
        "the 32-bit number on the wire; each side starts from a random initial number (ISN)",
    );
    NXTSEQ: Num(
        "Next sequence number",
        "tcp.nxtseq",
        "relative sequence number the sender will use next: seq + data length (+1 for SYN or FIN)",
    );
    ACK: Num(
        "Acknowledgment number",
        "tcp.ack",
        "relative: the next byte expected from the other side (everything before it arrived)",
    );
    ACK_RAW: Num(
        "Acknowledgment number (raw)",
        "tcp.ack_raw",
        "the 32-bit number on the wire, in the other side's sequence space",
    );
    HDR_LEN: Num(
        "Header length",
        "tcp.hdr_len",
        "the data offset: header size (the 4-bit field counts 32-bit words: 5 = 20 bytes)",
    );
    FLAGS: Num(
        "Flags",
        "tcp.flags",
        "control bits: what this segment does",
    );
    FLAG_RES: Num(
        "Reserved",
        "tcp.flags.res",
        "must be zero",
    );
    FLAG_AE: Bool(
        "Accurate ECN",
        "tcp.flags.ae",
        "AE (formerly the ECN nonce): accurate ECN feedback",
    );
    FLAG_CWR: Bool(
        "Congestion window reduced",
        "tcp.flags.cwr",
        "CWR: the sender has slowed down after an ECN echo",
    );
    FLAG_ECE: Bool(
        "ECN-Echo",
        "tcp.flags.ece",
        "ECE: a router marked congestion on the way (or ECN offered, on a SYN)",
    );
    FLAG_URG: Bool(
        "Urgent",
        "tcp.flags.urg",
        "URG: the urgent pointer is meaningful",
    );
    FLAG_ACK: Bool(
        "Acknowledgment",
        "tcp.flags.ack",
        "ACK: the acknowledgment number is valid (set on every segment after the first SYN)",
    );
    FLAG_PSH: Bool(
        "Push",
        "tcp.flags.push",
        "PSH: hand the data to the application now instead of waiting for more",
    );
    FLAG_RST: Bool(
        "Reset",
        "tcp.flags.reset",
        "RST: abort the connection at once (or: nobody listens on this port)",
    );
    FLAG_SYN: Bool(
        "Syn",
        "tcp.flags.syn",
        "SYN: synchronise sequence numbers; opens a connection and uses one sequence number",
    );
    FLAG_FIN: Bool(
        "Fin",
        "tcp.flags.fin",
        "FIN: the sender has no more data; closes its direction and uses one sequence number",
    );
    WINDOW: Num(
        "Window",
        "tcp.window_size_value",
        "how many more bytes the sender of this segment can receive (before window scaling)",
    );
    WINDOW_CALC: Num(
        "Calculated window size",
        "tcp.window_size",
        "the window multiplied by 2^shift from the SYN's window-scale option",
    );
    CHECKSUM: Num(
        "Checksum",
        "tcp.checksum",
        "covers a pseudo-header (addresses, protocol, length), the header and the data",
    );
    URGENT: Num(
        "Urgent pointer",
        "tcp.urgent_pointer",
        "with URG: where urgent data ends (almost never used)",
    );
    OPTIONS: Bytes(
        "Options",
        "tcp.options",
        "extras negotiated or carried beyond the fixed 20 bytes",
    );
    OPT_EOL: Num(
        "End of option list",
        "tcp.option_kind",
        "kind 0: nothing follows",
    );
    OPT_NOP: Num(
        "No-Operation (NOP)",
        "tcp.option_kind",
        "kind 1: padding so the next option starts on a 4-byte boundary",
    );
    OPT_MSS: Num(
        "Maximum segment size",
        "tcp.options.mss_val",
        "kind 2: the largest segment data this side wants to receive (MTU - IP and TCP headers)",
    );
    OPT_WSCALE: Num(
        "Window scale",
        "tcp.options.wscale.shift",
        "kind 3: the window field is multiplied by 2^shift, so windows can exceed 64 KiB (RFC 7323)",
    );
    OPT_WSCALE_MULT: Num(
        "Multiplier",
        "tcp.options.wscale.multiplier",
        "2^shift",
    );
    OPT_SACK_PERM: Bool(
        "SACK permitted",
        "tcp.options.sack_perm",
        "kind 4: this side understands selective acknowledgments (RFC 2018)",
    );
    OPT_SACK: Group(
        "SACK",
        "tcp.options.sack",
        "kind 5: blocks of data received beyond a hole, so only the hole is resent",
    );
    OPT_SACK_LE: Num(
        "Left edge",
        "tcp.options.sack_le",
        "first sequence number of a block received (relative)",
    );
    OPT_SACK_RE: Num(
        "Right edge",
        "tcp.options.sack_re",
        "sequence number just after the block (relative)",
    );
    OPT_TSVAL: Num(
        "Timestamp value",
        "tcp.options.timestamp.tsval",
        "kind 8: the sender's clock, used to measure round-trip time (RFC 7323)",
    );
    OPT_TSECR: Num(
        "Timestamp echo reply",
        "tcp.options.timestamp.tsecr",
        "the peer's latest timestamp value, echoed back",
    );
    OPT_UNKNOWN: Num(
        "Unknown option",
        "tcp.option_kind",
        "an option netlab does not decode: kind, length and data shown raw",
    );
    CHECKSUM_STATUS: Text(
        "Checksum status",
        "",
        "whether the checksum netlab computed matches",
    );
    PAYLOAD: Bytes(
        "TCP payload",
        "tcp.payload",
        "the application's bytes carried by this segment",
    );
}

/// A view of a TCP segment.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        let hl = self.header_len() as usize;
        if hl < HEADER_LEN {
            return Err(super::Error::Malformed("data offset below 5 (20 bytes)"));
        }
        need(b, hl)
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT.start)
    }
    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ_NUM.start)
    }
    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK_NUM.start)
    }
    /// Header length in bytes (the data offset times 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }
    /// The 12 bits after the data offset: 3 reserved bits and 9 flags.
    pub fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS.start) & 0x0fff
    }
    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WIN_SIZE.start)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT.start)
    }
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len() as usize]
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len() as usize..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_checksum(&mut self, v: u16) {
        set_be16(self.buffer.as_mut(), field::CHECKSUM.start, v)
    }
}

/// The checksum a segment (header + data as on the wire) should carry, given the sum of
/// its pseudo-header.
/// A segment too short to hold the checksum field is summed as it is.
pub fn expected_checksum(pseudo: u32, segment: &[u8]) -> u16 {
    let before = segment.get(..field::CHECKSUM.start).unwrap_or(segment);
    let after = segment.get(field::CHECKSUM.end..).unwrap_or(&[]);
    checksum::finish(checksum::sum(checksum::sum(pseudo, before), after))
}

/// One TCP option. RFC 9293 § 3.2 (MSS, NOP, EOL), RFC 7323 (window scale, timestamps),
/// RFC 2018 (SACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOperation,
    MaxSegmentSize(u16),
    WindowScale(u8),
    SackPermitted,
    /// Up to four (left, right) edges.
    SackRange([Option<(u32, u32)>; 4]),
    Timestamp {
        tsval: u32,
        tsecr: u32,
    },
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

/// Reads one option from the front of `buf`; returns the rest and the option.
/// An option whose length byte is missing, below 2, or runs past the header is an error.
pub fn parse_option(buf: &[u8]) -> Result<(&[u8], TcpOption<'_>)> {
    use super::Error::Malformed;
    let kind = *buf.first().ok_or(Malformed("empty option"))?;
    match kind {
        0 => return Ok((&[], TcpOption::EndOfList)),
        1 => return Ok((&buf[1..], TcpOption::NoOperation)),
        _ => {}
    }
    let len = *buf.get(1).ok_or(Malformed("option length byte missing"))? as usize;
    if len < 2 {
        return Err(Malformed("option length below 2"));
    }
    if len > buf.len() {
        return Err(Malformed("option runs past the end of the header"));
    }
    let data = &buf[2..len];
    let opt = match (kind, len) {
        (2, 4) => TcpOption::MaxSegmentSize(be16(data, 0)),
        (3, 3) => TcpOption::WindowScale(data[0]),
        (4, 2) => TcpOption::SackPermitted,
        (5, n) if n >= 10 && (n - 2) % 8 == 0 => {
            let mut edges = [None; 4];
            for (i, e) in data.chunks_exact(8).take(4).enumerate() {
                edges[i] = Some((be32(e, 0), be32(e, 4)));
            }
            TcpOption::SackRange(edges)
        }
        (8, 10) => TcpOption::Timestamp {
            tsval: be32(data, 0),
            tsecr: be32(data, 4),
        },
        (2..=5 | 8, _) => return Err(Malformed("option has the wrong length for its kind")),
        _ => TcpOption::Unknown { kind, data },
    };
    Ok((&buf[len..], opt))
}

impl TcpOption<'_> {
    /// Bytes this option takes in a header.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackRange(e) => 2 + 8 * e.iter().flatten().count(),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option to the front of `buf`, returning the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let n = self.buffer_len();
        match *self {
            TcpOption::EndOfList => buf[0] = 0,
            TcpOption::NoOperation => buf[0] = 1,
            TcpOption::MaxSegmentSize(m) => {
                buf[..2].copy_from_slice(&[2, 4]);
                set_be16(buf, 2, m);
            }
            TcpOption::WindowScale(s) => buf[..3].copy_from_slice(&[3, 3, s]),
            TcpOption::SackPermitted => buf[..2].copy_from_slice(&[4, 2]),
            TcpOption::SackRange(edges) => {
                buf[..2].copy_from_slice(&[5, n as u8]);
                for (i, (l, r)) in edges.iter().flatten().enumerate() {
                    set_be32(buf, 2 + i * 8, *l);
                    set_be32(buf, 6 + i * 8, *r);
                }
            }
            TcpOption::Timestamp { tsval, tsecr } => {
                buf[..2].copy_from_slice(&[8, 10]);
                set_be32(buf, 2, tsval);
                set_be32(buf, 6, tsecr);
            }
            TcpOption::Unknown { kind, data } => {
                buf[..2].copy_from_slice(&[kind, n as u8]);
                buf[2..n].copy_from_slice(data);
            }
        }
        n
    }
}

/// A TCP segment header, for building segments (netlab's own TCP endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq_number: u32,
    pub ack_number: u32,
    pub flags: u16,
    pub window_len: u16,
    pub options: Vec<TcpOption<'a>>,
}

impl Repr<'_> {
    /// Header length with options, padded to a multiple of 4 bytes.
    pub fn header_len(&self) -> usize {
        let opts: usize = self.options.iter().map(|o| o.buffer_len()).sum();
        HEADER_LEN + opts.div_ceil(4) * 4
    }

    /// Writes header and `payload` into `buf` and fills the checksum from `pseudo`, the
    /// pseudo-header sum. Returns the segment length.
    pub fn emit(&self, buf: &mut [u8], payload: &[u8], pseudo: u32) -> usize {
        let hl = self.header_len();
        let total = hl + payload.len();
        let b = &mut buf[..total];
        b.fill(0);
        set_be16(b, field::SRC_PORT.start, self.src_port);
        set_be16(b, field::DST_PORT.start, self.dst_port);
        set_be32(b, field::SEQ_NUM.start, self.seq_number);
        set_be32(b, field::ACK_NUM.start, self.ack_number);
        set_be16(
            b,
            field::FLAGS.start,
            ((hl as u16 / 4) << 12) | (self.flags & 0x1ff),
        );
        set_be16(b, field::WIN_SIZE.start, self.window_len);
        let mut at = HEADER_LEN;
        for o in &self.options {
            at += o.emit(&mut b[at..]);
        }
        b[hl..].copy_from_slice(payload);
        let c = expected_checksum(pseudo, b);
        set_be16(b, field::CHECKSUM.start, c);
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A Linux SYN (127.0.0.1:51234 -> 127.0.0.1:80), options MSS 65495, SACK_PERM,
    // timestamps, NOP, window scale 7, as written by Linux 6.x on loopback.
    const SYN: [u8; 40] = [
        0xc8, 0x22, 0x00, 0x50, 0x1d, 0x9a, 0x3e, 0x7f, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xff,
        0xd7, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x9c, 0x3a,
        0x6b, 0x25, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    #[test]
    fn header_fields() {
        let p = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!(p.src_port(), 51234);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.flags(), flags::SYN);
        assert_eq!(p.window_len(), 65495);
    }

    #[test]
    fn options_in_order() {
        let p = Packet::new_checked(&SYN[..]).unwrap();
        let mut rest = p.options();
        let mut got = vec![];
        while !rest.is_empty() {
            let (r, o) = parse_option(rest).unwrap();
            got.push(o);
            rest = r;
        }
        assert_eq!(
            got,
            vec![
                TcpOption::MaxSegmentSize(65495),
                TcpOption::SackPermitted,
                TcpOption::Timestamp {
                    tsval: 0x9c3a6b25,
                    tsecr: 0
                },
                TcpOption::NoOperation,
                TcpOption::WindowScale(7),
            ]
        );
    }

    #[test]
    fn emit_parses_back_with_valid_checksum() {
        let p = Packet::new_checked(&SYN[..]).unwrap();
        let mut rest = p.options();
        let mut options = vec![];
        while !rest.is_empty() {
            let (r, o) = parse_option(rest).unwrap();
            options.push(o);
            rest = r;
        }
        let repr = Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq_number: p.seq_number(),
            ack_number: 0,
            flags: flags::SYN,
            window_len: p.window_len(),
            options,
        };
        let pseudo = checksum::pseudo_header(&[127, 0, 0, 1], &[127, 0, 0, 1], PROTOCOL, 40);
        let mut out = [0u8; 40];
        assert_eq!(repr.emit(&mut out, &[], pseudo), 40);
        assert_eq!(out[..16], SYN[..16]);
        assert_eq!(checksum::finish(checksum::sum(pseudo, &out)), 0);
    }

    #[test]
    fn malformed_options() {
        assert!(parse_option(&[2, 4, 5]).is_err()); // MSS cut short
        assert!(parse_option(&[2, 1]).is_err()); // length below 2
        assert!(parse_option(&[2]).is_err()); // no length byte
        assert!(parse_option(&[8, 9, 0, 0, 0, 0, 0, 0, 0]).is_err()); // wrong TS length
    }

    #[test]
    fn data_offset_below_five() {
        let mut s = SYN;
        s[12] = 0x40;
        assert!(matches!(
            Packet::new_checked(&s[..]),
            Err(crate::wire::Error::Malformed(_))
        ));
    }
}

/// Real bytes: frame 1 of `captures/http.pcap`, the client's SYN from 10.99.0.1:57950
/// to 10.99.0.2:80 (after 14 bytes of Ethernet and 20 of IPv4), as Linux writes it:
/// MSS 1460, SACK permitted, timestamps, NOP, window scale 10.
#[cfg(test)]
mod real_bytes {
    use super::*;

    const SRC: [u8; 4] = [10, 99, 0, 1];
    const DST: [u8; 4] = [10, 99, 0, 2];
    const SYN: [u8; 40] = [
        0xe2, 0x5e, 0x00, 0x50, 0x0b, 0x93, 0xb6, 0x3d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x02, 0xae, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x70, 0x6f,
        0x20, 0xa7, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    #[test]
    fn a_syn_from_linux() {
        let p = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (57950, 80));
        assert_eq!(
            p.seq_number(),
            194_229_821,
            "tcp.seq_raw as tshark shows it"
        );
        assert_eq!((p.ack_number(), p.flags()), (0, flags::SYN));
        assert_eq!((p.header_len(), p.window_len()), (40, 64240));
        assert_eq!((p.checksum(), p.urgent_at()), (0x02ae, 0));
        assert!(p.payload().is_empty());
        let pseudo = checksum::pseudo_header(&SRC, &DST, PROTOCOL, SYN.len() as u32);
        assert_eq!(expected_checksum(pseudo, &SYN), p.checksum());
        let mut opts = Vec::new();
        let mut rest = p.options();
        while !rest.is_empty() {
            let (r, o) = parse_option(rest).unwrap();
            opts.push(o);
            rest = r;
        }
        assert_eq!(
            opts,
            [
                TcpOption::MaxSegmentSize(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamp {
                    tsval: 1_886_331_047,
                    tsecr: 0
                },
                TcpOption::NoOperation,
                TcpOption::WindowScale(10),
            ]
        );
        // Emit rebuilds the segment byte for byte, checksum included.
        let repr = Repr {
            src_port: 57950,
            dst_port: 80,
            seq_number: p.seq_number(),
            ack_number: 0,
            flags: flags::SYN,
            window_len: 64240,
            options: opts,
        };
        let mut out = [0u8; 40];
        assert_eq!(repr.emit(&mut out, &[], pseudo), 40);
        assert_eq!(out, SYN);
    }

    #[test]
    fn every_cut_header_is_refused() {
        for n in 0..40 {
            assert!(Packet::new_checked(&SYN[..n]).is_err(), "{n} bytes");
        }
        // An option cut in the middle: the timestamps option without its last byte.
        assert!(parse_option(&SYN[26..35]).is_err());
    }
}
