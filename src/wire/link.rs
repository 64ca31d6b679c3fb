//! Link-layer headers other than Ethernet that captures use, and the pcap link types.
//!
//! - Linux cooked capture (SLL, link type 113) and its v2 (SLL2, 276): what `tcpdump -i
//!   any` writes, since "any" has no single real link header.
//! - BSD loopback / NULL (0): a 4-byte address family in the *capturing host's* byte order.
//! - Raw IP (101, 228, 229): no link header at all; the first nibble says IPv4 or IPv6.

use super::{Result, be16, be32, need};

/// pcap/pcapng link types (tcpdump.org "LINK-LAYER HEADER TYPES").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Null,
    Ethernet,
    Raw,
    Ipv4,
    Ipv6,
    LinuxSll,
    LinuxSll2,
    Unknown(u32),
}

impl From<u32> for LinkType {
    fn from(v: u32) -> Self {
        match v {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            n => LinkType::Unknown(n),
        }
    }
}

impl LinkType {
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Null => "BSD loopback",
            LinkType::Ethernet => "Ethernet",
            LinkType::Raw => "Raw IP",
            LinkType::Ipv4 => "Raw IPv4",
            LinkType::Ipv6 => "Raw IPv6",
            LinkType::LinuxSll => "Linux cooked (SLL)",
            LinkType::LinuxSll2 => "Linux cooked v2 (SLL2)",
            LinkType::Unknown(_) => "unknown",
        }
    }
}

pub mod sll {
    //! Linux "cooked" header v1 (16 bytes).
    use super::*;
    pub mod field {
        use crate::wire::Field;
        pub const PKTTYPE: Field = 0..2;
        pub const HATYPE: Field = 2..4;
        pub const HALEN: Field = 4..6;
        pub const ADDR: Field = 6..14;
        pub const PROTOCOL: Field = 14..16;
    }
    pub const HEADER_LEN: usize = 16;

    pub fn check_len(b: &[u8]) -> Result<()> {
        need(b, HEADER_LEN)
    }
    pub fn pkttype(b: &[u8]) -> u16 {
        be16(b, field::PKTTYPE.start)
    }
    pub fn hatype(b: &[u8]) -> u16 {
        be16(b, field::HATYPE.start)
    }
    pub fn halen(b: &[u8]) -> u16 {
        be16(b, field::HALEN.start)
    }
    pub fn protocol(b: &[u8]) -> u16 {
        be16(b, field::PROTOCOL.start)
    }
}

pub mod sll2 {
    //! Linux "cooked" header v2 (20 bytes), which adds the interface index.
    use super::*;
    pub mod field {
        use crate::wire::Field;
        pub const PROTOCOL: Field = 0..2;
        pub const RESERVED: Field = 2..4;
        pub const IFINDEX: Field = 4..8;
        pub const HATYPE: Field = 8..10;
        pub const PKTTYPE: usize = 10;
        pub const HALEN: usize = 11;
        pub const ADDR: Field = 12..20;
    }
    pub const HEADER_LEN: usize = 20;

    pub fn check_len(b: &[u8]) -> Result<()> {
        need(b, HEADER_LEN)
    }
    pub fn protocol(b: &[u8]) -> u16 {
        be16(b, field::PROTOCOL.start)
    }
    pub fn ifindex(b: &[u8]) -> u32 {
        be32(b, field::IFINDEX.start)
    }
    pub fn hatype(b: &[u8]) -> u16 {
        be16(b, field::HATYPE.start)
    }
    pub fn pkttype(b: &[u8]) -> u8 {
        b[field::PKTTYPE]
    }
    pub fn halen(b: &[u8]) -> u8 {
        b[field::HALEN]
    }
}

fields! {
    SLL_PKTTYPE: Num(
        "Packet type",
        "sll.pkttype",
        "how the capturing host saw it: 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us",
    );
    SLL_HATYPE: Num(
        "Link-layer address type",
        "sll.hatype",
        "the ARPHRD type of the interface (1 Ethernet, 772 loopback)",
    );
    SLL_HALEN: Num(
        "Link-layer address length",
        "sll.halen",
        "how many of the 8 address bytes are used",
    );
    SLL_SRC: Mac(
        "Source",
        "sll.src.eth",
        "the link-layer source address (the sender's MAC)",
    );
    SLL_ADDR: Bytes(
        "Link-layer address",
        "sll.unused",
        "the link-layer address bytes",
    );
    SLL_PROTOCOL: Num(
        "Protocol",
        "sll.etype",
        "the EtherType of the payload",
    );
    SLL_RESERVED: Bytes(
        "Reserved",
        "",
        "zero",
    );
    SLL_IFINDEX: Num(
        "Interface index",
        "sll.ifindex",
        "which interface of the capturing host (as `ip link` numbers them)",
    );
    NULL_FAMILY: Num(
        "Family",
        "null.family",
        "the address family of the payload (2 IPv4; 24, 28 or 30 IPv6 depending on the OS)",
    );
}

pub fn pkttype_name(t: u16) -> &'static str {
    match t {
        0 => "Unicast to us",
        1 => "Broadcast",
        2 => "Multicast",
        3 => "Unicast to another host",
        4 => "Sent by us",
        _ => "Unknown",
    }
}

/// Reads the NULL header's family; the byte order is the capturing host's, so a value
/// that only makes sense byte-swapped is swapped (as Wireshark does).
pub fn null_family(b: &[u8]) -> Result<u32> {
    need(b, 4)?;
    let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    Ok(if le > 0xffff { le.swap_bytes() } else { le })
}

/// What the NULL family says the payload is: `Some(4)`, `Some(6)` or `None`.
pub fn null_ip_version(family: u32) -> Option<u8> {
    match family {
        2 => Some(4),
        10 | 24 | 28 | 30 => Some(6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_family_either_order() {
        assert_eq!(null_family(&[2, 0, 0, 0]).unwrap(), 2);
        assert_eq!(null_family(&[0, 0, 0, 30]).unwrap(), 30);
        assert!(null_family(&[2, 0, 0]).is_err());
        assert_eq!(null_ip_version(30), Some(6));
    }

    #[test]
    fn sll2_fields() {
        let h = [
            0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        assert_eq!(sll2::protocol(&h), 0x0800);
        assert_eq!(sll2::ifindex(&h), 3);
        assert_eq!(sll2::pkttype(&h), 4);
        assert_eq!(sll2::halen(&h), 6);
        assert!(sll2::check_len(&h[..19]).is_err());
    }
}

/// Real bytes: the link headers of the first frames of `captures/sll.pcap`,
/// `captures/sll2.pcap` (tcpdump -i any, Linux cooked captures v1 and v2) and
/// `captures/null-loopback.pcap` (BSD loopback), see captures/README.md.
#[cfg(test)]
mod real_bytes {
    use super::*;

    /// sll.pcap frame 1: an echo request sent by us (4) on an Ethernet device (1), from
    /// 02:00:00:99:00:01, carrying IPv4 (0x0800).
    const SLL: [u8; 16] = [
        0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x02, 0x00, 0x00, 0x99, 0x00, 0x01, 0x00, 0x00, 0x08,
        0x00,
    ];
    /// sll2.pcap frame 1: the same packet in SLL2: protocol first, interface index 2.
    const SLL2: [u8; 20] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x04, 0x06, 0x02, 0x00, 0x00,
        0x99, 0x00, 0x01, 0x00, 0x00,
    ];
    /// null-loopback.pcap frame 1: family 24 in the capturing host's byte order
    /// (little-endian), then an IPv6 header (0x60…).
    const NULL: [u8; 8] = [0x18, 0x00, 0x00, 0x00, 0x60, 0x0f, 0xa2, 0xd7];

    #[test]
    fn linux_cooked_v1() {
        assert!(sll::check_len(&SLL).is_ok());
        assert_eq!(sll::pkttype(&SLL), 4);
        assert_eq!(pkttype_name(sll::pkttype(&SLL)), "Sent by us");
        assert_eq!((sll::hatype(&SLL), sll::halen(&SLL)), (1, 6));
        assert_eq!(
            &SLL[sll::field::ADDR][..6],
            &[0x02, 0x00, 0x00, 0x99, 0x00, 0x01]
        );
        assert_eq!(sll::protocol(&SLL), 0x0800);
        assert!(sll::check_len(&SLL[..15]).is_err());
    }

    #[test]
    fn linux_cooked_v2() {
        assert!(sll2::check_len(&SLL2).is_ok());
        assert_eq!((sll2::protocol(&SLL2), sll2::ifindex(&SLL2)), (0x0800, 2));
        assert_eq!(
            (
                sll2::hatype(&SLL2),
                sll2::pkttype(&SLL2),
                sll2::halen(&SLL2)
            ),
            (1, 4, 6)
        );
        assert_eq!(
            SLL2[sll2::field::ADDR][..6],
            SLL[sll::field::ADDR][..6],
            "the same sender"
        );
        assert!(sll2::check_len(&SLL2[..19]).is_err());
    }

    #[test]
    fn bsd_loopback_family() {
        let family = null_family(&NULL).unwrap();
        assert_eq!((family, null_ip_version(family)), (24, Some(6)));
        assert_eq!(NULL[4] >> 4, 6, "and an IPv6 header follows");
    }
}
