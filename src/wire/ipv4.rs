//! IPv4 (RFC 791): the header that gets a datagram across networks, hop by hop.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |    DSCP   |ECN|          Total Length         |
//! |         Identification        |Flags|      Fragment Offset    |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options (IHL > 5)                          |
//! ```

use super::{Result, be16, checksum, need, set_be16};

pub mod field {
    use crate::wire::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
    pub const OPTIONS: usize = 20;
}
/// Header length without options. RFC 791 § 3.1.
pub const HEADER_LEN: usize = 20;

fields! {
    VERSION: Num(
        "Version",
        "ip.version",
        "4 for IPv4",
    );
    IHL: Num(
        "Header length",
        "ip.hdr_len",
        "the header's size (the 4-bit field counts 32-bit words: 5 = 20 bytes, no options)",
    );
    DSCP: Num(
        "DSCP",
        "ip.dsfield.dscp",
        "differentiated services: a traffic class routers may prioritise",
    );
    ECN: Num(
        "ECN",
        "ip.dsfield.ecn",
        "explicit congestion notification: routers can mark instead of dropping",
    );
    LENGTH: Num(
        "Total length",
        "ip.len",
        "header plus data of this datagram (or fragment), in bytes",
    );
    IDENT: Num(
        "Identification",
        "ip.id",
        "a number shared by all fragments of one datagram, so they can be put back together",
    );
    FLAGS: Num(
        "Flags",
        "ip.flags",
        "three bits about fragmentation",
    );
    FLAG_RB: Bool(
        "Reserved bit",
        "ip.flags.rb",
        "must be 0",
    );
    FLAG_DF: Bool(
        "Don't fragment",
        "ip.flags.df",
        "routers must drop (and report) rather than split this datagram; used for path MTU discovery",
    );
    FLAG_MF: Bool(
        "More fragments",
        "ip.flags.mf",
        "more fragments of this datagram follow this one",
    );
    FRAG_OFFSET: Num(
        "Fragment offset",
        "ip.frag_offset",
        "where this fragment's data goes in the original datagram (in 8-byte units on the wire; shown here in bytes)",
    );
    TTL: Num(
        "Time to live",
        "ip.ttl",
        "routers it may still cross before it is dropped (each router subtracts 1)",
    );
    PROTOCOL: Num(
        "Protocol",
        "ip.proto",
        "which transport protocol the data is for (1 ICMP, 6 TCP, 17 UDP)",
    );
    CHECKSUM: Num(
        "Header checksum",
        "ip.checksum",
        "ones' complement sum over the header only; recomputed by every router since the TTL changes",
    );
    SRC: Ipv4(
        "Source address",
        "ip.src",
        "the IPv4 address of the host that sent the datagram",
    );
    DST: Ipv4(
        "Destination address",
        "ip.dst",
        "the IPv4 address of the host it is going to",
    );
    OPTIONS: Group(
        "Options",
        "",
        "rarely used extras (record route, timestamps, router alert…) between the fixed header and the data",
    );
    OPTION: Num(
        "Option",
        "ip.opt.type",
        "one option: a type byte, and for most types a length byte and data",
    );
    REASSEMBLED: Bytes(
        "Reassembled datagram",
        "",
        "this fragment completed a datagram; the layers above are read from the reassembled bytes",
    );
}

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    HopByHop,
    Icmp,
    Tcp,
    Udp,
    Ipv6Route,
    Ipv6Frag,
    Icmpv6,
    Ipv6NoNxt,
    Ipv6Opts,
    Unknown(u8),
}

impl From<u8> for Protocol {
    fn from(v: u8) -> Self {
        match v {
            0 => Protocol::HopByHop,
            1 => Protocol::Icmp,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            43 => Protocol::Ipv6Route,
            44 => Protocol::Ipv6Frag,
            58 => Protocol::Icmpv6,
            59 => Protocol::Ipv6NoNxt,
            60 => Protocol::Ipv6Opts,
            n => Protocol::Unknown(n),
        }
    }
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::HopByHop => "IPv6 hop-by-hop options",
            Protocol::Icmp => "ICMP",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Ipv6Route => "IPv6 routing header",
            Protocol::Ipv6Frag => "IPv6 fragment header",
            Protocol::Icmpv6 => "ICMPv6",
            Protocol::Ipv6NoNxt => "no next header",
            Protocol::Ipv6Opts => "IPv6 destination options",
            Protocol::Unknown(_) => "unknown",
        }
    }
}

/// A view of an IPv4 header (and its payload).
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
    /// The fixed header and the options the IHL announces must be present, the IHL at
    /// least 5 and the total length at least the header.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        let hl = self.header_len() as usize;
        if hl < HEADER_LEN {
            return Err(super::Error::Malformed("header length below 20 bytes"));
        }
        need(b, hl)?;
        if (self.total_len() as usize) < hl {
            return Err(super::Error::Malformed(
                "total length smaller than the header",
            ));
        }
        Ok(())
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes (the IHL field times 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT.start)
    }
    /// The three flag bits, as the top 3 bits of the 16-bit word shifted down.
    pub fn flags(&self) -> u8 {
        (be16(self.buffer.as_ref(), field::FLG_OFF.start) >> 13) as u8
    }
    pub fn dont_frag(&self) -> bool {
        self.flags() & 0b010 != 0
    }
    pub fn more_frags(&self) -> bool {
        self.flags() & 0b001 != 0
    }
    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLG_OFF.start) & 0x1fff) << 3
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
    pub fn src_addr(&self) -> [u8; 4] {
        self.buffer.as_ref()[field::SRC_ADDR].try_into().unwrap()
    }
    pub fn dst_addr(&self) -> [u8; 4] {
        self.buffer.as_ref()[field::DST_ADDR].try_into().unwrap()
    }
    /// The checksum this header should carry (computed with the field taken as zero).
    pub fn expected_checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[..self.header_len() as usize];
        let acc = checksum::sum(0, &b[..field::CHECKSUM.start]);
        checksum::finish(checksum::sum(acc, &b[field::CHECKSUM.end..]))
    }
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn fill_checksum(&mut self) {
        set_be16(self.buffer.as_mut(), field::CHECKSUM.start, 0);
        let c = self.expected_checksum();
        set_be16(self.buffer.as_mut(), field::CHECKSUM.start, c);
    }
}

/// Formats an address in dotted decimal (`192.0.2.1`) without going through
/// `core::fmt`, which matters when a million packets are printed.
pub fn fmt_addr(a: &[u8; 4], out: &mut String) {
    for (i, &b) in a.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if b >= 100 {
            out.push((b'0' + b / 100) as char);
        }
        if b >= 10 {
            out.push((b'0' + (b / 10) % 10) as char);
        }
        out.push((b'0' + b % 10) as char);
    }
}

/// An IPv4 option kind (IANA "IP Option Numbers").
pub fn option_name(kind: u8) -> &'static str {
    match kind {
        0 => "End of option list",
        1 => "No operation",
        7 => "Record route",
        68 => "Timestamp",
        130 => "Security",
        131 => "Loose source route",
        137 => "Strict source route",
        148 => "Router alert",
        _ => "Unknown option",
    }
}

/// A simple IPv4 header without options, for building packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: [u8; 4],
    pub dst_addr: [u8; 4],
    pub protocol: u8,
    pub payload_len: usize,
    pub ttl: u8,
    pub ident: u16,
    pub dont_frag: bool,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.version() != 4 {
            return Err(super::Error::Malformed("version is not 4"));
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: p.total_len() as usize - p.header_len() as usize,
            ttl: p.ttl(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 20-byte header with a correct checksum.
    pub fn emit(&self, buf: &mut [u8]) {
        let b = &mut buf[..HEADER_LEN];
        b[field::VER_IHL] = 0x45;
        b[field::DSCP_ECN] = 0;
        set_be16(
            b,
            field::LENGTH.start,
            (HEADER_LEN + self.payload_len) as u16,
        );
        set_be16(b, field::IDENT.start, self.ident);
        set_be16(
            b,
            field::FLG_OFF.start,
            if self.dont_frag { 0x4000 } else { 0 },
        );
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = self.protocol;
        b[field::SRC_ADDR].copy_from_slice(&self.src_addr);
        b[field::DST_ADDR].copy_from_slice(&self.dst_addr);
        Packet::new_unchecked(b).fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // IPv4 header of an ICMP echo request (ping 127.0.0.1 on Linux, DF set, TTL 64).
    const HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54, 0x8f, 0x4e, 0x40, 0x00, 0x40, 0x01, 0xad, 0x58, 0x7f, 0x00, 0x00,
        0x01, 0x7f, 0x00, 0x00, 0x01,
    ];

    #[test]
    fn fields() {
        let p = Packet::new_unchecked(&HEADER[..]);
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 84);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 1);
        assert_eq!(p.checksum(), p.expected_checksum());
        assert_eq!(p.checksum(), 0xad58);
    }

    #[test]
    fn dotted_decimal() {
        let mut s = String::new();
        fmt_addr(&[192, 0, 2, 10], &mut s);
        s.push(' ');
        fmt_addr(&[0, 9, 100, 255], &mut s);
        assert_eq!(s, "192.0.2.10 0.9.100.255");
    }

    #[test]
    fn repr_roundtrip() {
        let p = Packet::new_unchecked(&HEADER[..]);
        let r = Repr::parse(&p).unwrap();
        let mut out = [0u8; 20];
        r.emit(&mut out);
        assert_eq!(out, HEADER);
    }

    #[test]
    fn bad_ihl_is_malformed() {
        let mut h = HEADER;
        h[0] = 0x44;
        assert!(matches!(
            Packet::new_checked(&h[..]),
            Err(crate::wire::Error::Malformed(_))
        ));
        assert!(Packet::new_checked(&HEADER[..19]).is_err());
    }
}

/// Real bytes from a capture (see `PING` below).
#[cfg(test)]
mod real_bytes {
    use super::*;
    use crate::wire::examples::PING;

    /// `captures/icmp-errors.pcap`, frame 2 (from byte 14): 10.99.0.2's ICMP "port
    /// unreachable" for a UDP datagram to port 9; TOS 0xc0 (DSCP CS6, as Linux sends
    /// ICMP errors), no DF, and the quoted datagram's IPv4 header inside.
    const UNREACHABLE: [u8; 68] = [
        0x45, 0xc0, 0x00, 0x44, 0x12, 0x1e, 0x00, 0x00, 0x40, 0x01, 0x53, 0x13, 0x0a, 0x63, 0x00,
        0x02, 0x0a, 0x63, 0x00, 0x01, 0x03, 0x03, 0x11, 0xeb, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00,
        0x00, 0x28, 0x2e, 0x36, 0x40, 0x00, 0x40, 0x11, 0xf7, 0xc6, 0x0a, 0x63, 0x00, 0x01, 0x0a,
        0x63, 0x00, 0x02, 0xa2, 0x12, 0x00, 0x09, 0x00, 0x14, 0xfd, 0x78, 0x6e, 0x65, 0x74, 0x6c,
        0x61, 0x62, 0x2d, 0x66, 0x72, 0x61, 0x67, 0x6d,
    ];

    #[test]
    fn an_echo_requests_ipv4_header() {
        let ip = &PING[14..];
        let p = Packet::new_checked(ip).unwrap();
        assert_eq!((p.version(), p.header_len(), p.total_len()), (4, 20, 84));
        assert_eq!((p.dscp(), p.ecn()), (0, 0));
        assert_eq!(p.ident(), 0xe7d0, "ip.id as tshark shows it");
        assert!(p.dont_frag() && !p.more_frags());
        assert_eq!((p.frag_offset(), p.ttl(), p.protocol()), (0, 64, 1));
        assert_eq!(
            (p.src_addr(), p.dst_addr()),
            ([10, 99, 0, 1], [10, 99, 0, 2])
        );
        assert_eq!(p.checksum(), 0x3e10);
        assert_eq!(p.expected_checksum(), p.checksum());
        assert!(p.options().is_empty());
        // Parse and emit give the same 20 bytes back, checksum included.
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 64);
        let mut out = [0u8; HEADER_LEN];
        r.emit(&mut out);
        assert_eq!(out, ip[..HEADER_LEN]);
    }

    #[test]
    fn an_icmp_error_and_the_header_it_quotes() {
        let p = Packet::new_checked(&UNREACHABLE[..]).unwrap();
        assert_eq!((p.dscp(), p.ecn()), (48, 0), "TOS 0xc0: CS6");
        assert!(!p.dont_frag());
        assert_eq!(p.checksum(), 0x5313);
        assert_eq!(p.expected_checksum(), p.checksum());
        // The quoted datagram (after the 8-byte ICMP header) is itself an IPv4 header,
        // cut to what ICMP carries: its total length (40) says more than is there.
        let quoted = Packet::new_unchecked(&UNREACHABLE[28..]);
        assert_eq!((quoted.protocol(), quoted.total_len()), (17, 40));
        assert_eq!(quoted.checksum(), 0xf7c6);
        assert_eq!(quoted.expected_checksum(), quoted.checksum());
        assert_eq!(quoted.dst_addr(), [10, 99, 0, 2]);
    }
}
