//! IPv6 (RFC 8200): a fixed 40-byte header, then a chain of extension headers, each
//! naming the next, until the transport header.
//!
//! ```text
//! +-------+---------------+---------------------------------------+
//! |Version| Traffic Class |              Flow Label               |
//! |       Payload Length          |  Next Header  |   Hop Limit   |
//! |                 Source Address (128 bits)                     |
//! |              Destination Address (128 bits)                   |
//! ```

use super::{Result, be16, be32, need};

pub mod field {
    use crate::wire::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
    pub const PAYLOAD: usize = 40;
}
pub const HEADER_LEN: usize = field::PAYLOAD;

fields! {
    VERSION: Num(
        "Version",
        "ipv6.version",
        "6 for IPv6",
    ).alias("ip.version");
    TCLASS: Num(
        "Traffic class",
        "ipv6.tclass",
        "priority and congestion bits (DSCP and ECN, as in IPv4)",
    );
    FLOW: Num(
        "Flow label",
        "ipv6.flow",
        "a tag the sender puts on all packets of one flow so routers can keep them on one path",
    );
    PLEN: Num(
        "Payload length",
        "ipv6.plen",
        "bytes after this 40-byte header (extension headers included)",
    );
    NXT: Num(
        "Next header",
        "ipv6.nxt",
        "what follows: an extension header or the transport (6 TCP, 17 UDP, 58 ICMPv6)",
    );
    HLIM: Num(
        "Hop limit",
        "ipv6.hlim",
        "routers it may still cross before it is dropped (IPv4's TTL, renamed honestly)",
    );
    SRC: Ipv6(
        "Source address",
        "ipv6.src",
        "the 128-bit address of the sender",
    );
    DST: Ipv6(
        "Destination address",
        "ipv6.dst",
        "the 128-bit address of the receiver",
    );
    EXT_NXT: Num(
        "Next header",
        "",
        "what follows this extension header",
    );
    EXT_LEN: Num(
        "Length",
        "",
        "this extension header's length in bytes (the field counts 8-byte units after the first 8)",
    );
    EXT_DATA: Bytes(
        "Options / data",
        "",
        "the header's options (TLV-encoded) or routing data",
    );
    HOPOPTS: Group(
        "Hop-by-hop options",
        "ipv6.hopopts",
        "options every router on the path must examine (e.g. router alert for MLD)",
    );
    DSTOPTS: Group(
        "Destination options",
        "ipv6.dstopts",
        "options only the destination examines",
    );
    ROUTING: Group(
        "Routing header",
        "ipv6.routing",
        "a list of nodes the packet must visit on its way",
    );
    ROUTING_TYPE: Num(
        "Routing type",
        "ipv6.routing.type",
        "which routing header variant (3 RPL, 4 segment routing)",
    );
    ROUTING_SEGLEFT: Num(
        "Segments left",
        "ipv6.routing.segleft",
        "how many listed nodes are still to be visited",
    );
    FRAGMENT: Group(
        "Fragment header",
        "ipv6.fraghdr",
        "this packet is one piece of a larger one; only the source fragments in IPv6",
    );
    FRAG_OFFSET: Num(
        "Offset",
        "ipv6.fraghdr.offset",
        "where this piece goes in the original packet, in bytes (8-byte units on the wire)",
    );
    FRAG_MORE: Bool(
        "More fragments",
        "ipv6.fraghdr.more",
        "more pieces follow",
    );
    FRAG_ID: Num(
        "Identification",
        "ipv6.fraghdr.ident",
        "shared by all pieces of one packet",
    );
}

/// A view of an IPv6 fixed header.
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
        need(self.buffer.as_ref(), HEADER_LEN)
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    pub fn traffic_class(&self) -> u8 {
        (be16(self.buffer.as_ref(), 0) >> 4) as u8
    }
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0) & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    pub fn src_addr(&self) -> [u8; 16] {
        self.buffer.as_ref()[field::SRC_ADDR].try_into().unwrap()
    }
    pub fn dst_addr(&self) -> [u8; 16] {
        self.buffer.as_ref()[field::DST_ADDR].try_into().unwrap()
    }
}

/// Is this next-header value an extension header netlab walks through?
pub fn is_extension(nh: u8) -> bool {
    matches!(nh, 0 | 43 | 44 | 60)
}

/// The generic shape of an extension header (RFC 8200 § 4): next header, a length in
/// 8-byte units not counting the first 8 bytes (the fragment header has a fixed 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader {
    pub kind: u8,
    pub next_header: u8,
    /// Total length in bytes.
    pub len: usize,
}

/// Reads the extension header of type `kind` at the front of `buf`.
pub fn parse_ext(kind: u8, buf: &[u8]) -> Result<ExtHeader> {
    need(buf, 2)?;
    let len = if kind == 44 {
        8
    } else {
        (buf[1] as usize + 1) * 8
    };
    need(buf, len)?;
    Ok(ExtHeader {
        kind,
        next_header: buf[0],
        len,
    })
}

/// The fragment header's fields (RFC 8200 § 4.5): (offset in bytes, more, id).
pub fn fragment_fields(buf: &[u8]) -> (u16, bool, u32) {
    let w = be16(buf, 2);
    (w & 0xfff8, w & 1 != 0, be32(buf, 4))
}

/// A fixed IPv6 header without extension headers, for building packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
    pub next_header: u8,
    pub payload_len: usize,
    pub hop_limit: u8,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(super::Error::Malformed("version is not 6"));
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len() as usize,
            hop_limit: p.hop_limit(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 40-byte header (traffic class and flow label zero).
    pub fn emit(&self, buf: &mut [u8]) {
        let b = &mut buf[..HEADER_LEN];
        b[..4].copy_from_slice(&[0x60, 0, 0, 0]);
        super::set_be16(b, field::LENGTH.start, self.payload_len as u16);
        b[field::NXT_HDR] = self.next_header;
        b[field::HOP_LIMIT] = self.hop_limit;
        b[field::SRC_ADDR].copy_from_slice(&self.src_addr);
        b[field::DST_ADDR].copy_from_slice(&self.dst_addr);
    }
}

/// Formats an IPv6 address in RFC 5952 form (`2001:db8::1`), as Wireshark does.
pub fn fmt_addr(a: &[u8; 16], out: &mut String) {
    use core::fmt::Write;
    let _ = write!(out, "{}", std::net::Ipv6Addr::from(*a));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_header() {
        // ICMPv6 echo request ::1 -> ::1, flow label 0x12345, 64 bytes, hop limit 64.
        let mut h = [0u8; 40];
        h[..8].copy_from_slice(&[0x60, 0x01, 0x23, 0x45, 0x00, 0x40, 58, 64]);
        h[23] = 1;
        h[39] = 1;
        let p = Packet::new_checked(&h[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 64);
        assert_eq!(p.next_header(), 58);
        let mut s = String::new();
        fmt_addr(&p.src_addr(), &mut s);
        assert_eq!(s, "::1");
        assert!(Packet::new_checked(&h[..39]).is_err());
    }

    #[test]
    fn repr_roundtrip() {
        let r = Repr {
            src_addr: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            dst_addr: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            next_header: 6,
            payload_len: 20,
            hop_limit: 64,
        };
        let mut b = [0u8; 40];
        r.emit(&mut b);
        assert_eq!(
            Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap(),
            r
        );
    }

    #[test]
    fn extension_lengths() {
        // Hop-by-hop: next = ICMPv6, hdr ext len 0 -> 8 bytes (router alert + padding).
        let hbh = [58, 0, 5, 2, 0, 0, 1, 0];
        assert_eq!(parse_ext(0, &hbh).unwrap().len, 8);
        assert!(parse_ext(0, &hbh[..7]).is_err());
        // Fragment header: offset 1448, M = 1, id 0xdeadbeef.
        let frag = [17, 0, 0x05, 0xa9, 0xde, 0xad, 0xbe, 0xef];
        assert_eq!(fragment_fields(&frag), (1448, true, 0xdeadbeef));
    }
}

/// Real bytes from captures in `captures/` (see captures/README.md).
#[cfg(test)]
mod real_bytes {
    use super::*;

    /// `captures/ping6.pcap`, frame 3 (from byte 14): the IPv6 header of a neighbour
    /// solicitation from fd00:99::1 to the solicited-node group of fd00:99::2.
    const NS_HEADER: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfd, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02,
    ];
    /// `captures/ip6-fragments.pcap`, frame 1 (from byte 14): the first fragment of a
    /// 4000-byte UDP datagram — the fixed header (flow label 0xeaa5c), then the 8-byte
    /// fragment header (offset 0, more, id 0xecbf0892), then the start of UDP.
    const FRAGMENT: [u8; 56] = [
        0x60, 0x0e, 0xaa, 0x5c, 0x05, 0xb0, 0x2c, 0x40, 0xfd, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x99, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x11, 0x00, 0x00, 0x01, 0xec,
        0xbf, 0x08, 0x92, 0xea, 0xe3, 0x00, 0x07, 0x0f, 0xa8, 0x9e, 0x08,
    ];

    #[test]
    fn a_neighbour_solicitations_header() {
        let p = Packet::new_checked(&NS_HEADER[..]).unwrap();
        assert_eq!((p.version(), p.traffic_class(), p.flow_label()), (6, 0, 0));
        assert_eq!(
            (p.payload_len(), p.next_header(), p.hop_limit()),
            (32, 58, 255)
        );
        let (mut src, mut dst) = (String::new(), String::new());
        fmt_addr(&p.src_addr(), &mut src);
        fmt_addr(&p.dst_addr(), &mut dst);
        assert_eq!(
            (src.as_str(), dst.as_str()),
            ("fd00:99::1", "ff02::1:ff00:2")
        );
        // Parse and emit give the same 40 bytes back (traffic class and flow label 0).
        let mut out = [0u8; HEADER_LEN];
        Repr::parse(&p).unwrap().emit(&mut out);
        assert_eq!(out, NS_HEADER);
        for n in 0..HEADER_LEN {
            assert!(Packet::new_checked(&NS_HEADER[..n]).is_err(), "{n} bytes");
        }
    }

    #[test]
    fn a_fragment_header() {
        let p = Packet::new_checked(&FRAGMENT[..]).unwrap();
        assert_eq!(p.flow_label(), 0xeaa5c, "ipv6.flow as tshark shows it");
        assert_eq!((p.payload_len(), p.next_header()), (1456, 44));
        assert!(is_extension(p.next_header()));
        let ext = parse_ext(44, &FRAGMENT[HEADER_LEN..]).unwrap();
        assert_eq!((ext.next_header, ext.len), (17, 8), "UDP after 8 bytes");
        let (offset, more, id) = fragment_fields(&FRAGMENT[HEADER_LEN..]);
        assert_eq!((offset, more, id), (0, true, 0xecbf_0892));
        assert!(parse_ext(44, &FRAGMENT[HEADER_LEN..HEADER_LEN + 7]).is_err());
    }
}
