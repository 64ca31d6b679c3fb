//! ARP, the Address Resolution Protocol (RFC 826): "who has 10.0.0.2? tell 10.0.0.1".
//! It maps an IPv4 address to the MAC address that reaches it on the local link.
//!
//! ```text
//!  0       2       4   5   6       8
//! +-------+-------+---+---+-------+------------+----------+------------+----------+
//! | htype | ptype |hln|pln| oper  | sender MAC | sender IP| target MAC | target IP|
//! +-------+-------+---+---+-------+------------+----------+------------+----------+
//! ```

use super::{Result, be16, need};

pub mod field {
    use crate::wire::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    /// For Ethernet/IPv4 (hlen 6, plen 4), the only pairing netlab decodes.
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}
pub const HEADER_LEN: usize = 28;

fields! {
    HTYPE: Num(
        "Hardware type",
        "arp.hw.type",
        "the kind of link (1 = Ethernet)",
    );
    PTYPE: Num(
        "Protocol type",
        "arp.proto.type",
        "the kind of address being resolved (0x0800 = IPv4)",
    );
    HLEN: Num(
        "Hardware size",
        "arp.hw.size",
        "length of a hardware address in bytes",
    );
    PLEN: Num(
        "Protocol size",
        "arp.proto.size",
        "length of a protocol address in bytes",
    );
    OPER: Num(
        "Opcode",
        "arp.opcode",
        "1 = request (who has?), 2 = reply (is at)",
    );
    SHA: Mac(
        "Sender MAC address",
        "arp.src.hw_mac",
        "the asker's (or answerer's) own MAC",
    );
    SPA: Ipv4(
        "Sender IP address",
        "arp.src.proto_ipv4",
        "the sender's IPv4 address",
    );
    THA: Mac(
        "Target MAC address",
        "arp.dst.hw_mac",
        "the MAC being asked for (zeros in a request: that is the question)",
    );
    TPA: Ipv4(
        "Target IP address",
        "arp.dst.proto_ipv4",
        "the IPv4 address whose MAC is wanted",
    );
}

/// ARP operation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            n => Operation::Unknown(n),
        }
    }
}

/// A view of an ARP packet.
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
    /// Checks the fixed part and, for Ethernet/IPv4, the addresses.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 8)?;
        need(
            b,
            8 + 2 * (b[field::HLEN] as usize + b[field::PLEN] as usize),
        )
    }
    pub fn htype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE.start)
    }
    pub fn ptype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PTYPE.start)
    }
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    pub fn operation(&self) -> Operation {
        be16(self.buffer.as_ref(), field::OPER.start).into()
    }
    /// True for the Ethernet/IPv4 pairing whose address fields netlab decodes.
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.htype() == 1 && self.ptype() == 0x0800 && self.hlen() == 6 && self.plen() == 4
    }
}

/// Real bytes: the two ARP packets of `captures/arp.pcap` (frames 1 and 2, after their
/// 14-byte Ethernet header), made by `ping` between two namespaces (captures/README.md).
#[cfg(test)]
mod real_bytes {
    use super::*;

    /// Frame 1: "Who has 10.99.0.2? Tell 10.99.0.1", broadcast.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x99, 0x00, 0x01, 0x0a,
        0x63, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x63, 0x00, 0x02,
    ];
    /// Frame 2: "10.99.0.2 is at 02:00:00:99:00:02".
    const REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x99, 0x00, 0x02, 0x0a,
        0x63, 0x00, 0x02, 0x02, 0x00, 0x00, 0x99, 0x00, 0x01, 0x0a, 0x63, 0x00, 0x01,
    ];

    #[test]
    fn request_asks_with_a_zero_target_mac() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(
            (p.htype(), p.ptype(), p.hlen(), p.plen()),
            (1, 0x0800, 6, 4)
        );
        assert!(p.is_ethernet_ipv4());
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(REQUEST[field::SHA], [0x02, 0x00, 0x00, 0x99, 0x00, 0x01]);
        assert_eq!(REQUEST[field::SPA], [10, 99, 0, 1]);
        assert_eq!(REQUEST[field::THA], [0; 6], "the question: whose MAC?");
        assert_eq!(REQUEST[field::TPA], [10, 99, 0, 2]);
    }

    #[test]
    fn reply_answers_with_the_mac() {
        let p = Packet::new_checked(&REPLY[..]).unwrap();
        assert_eq!(p.operation(), Operation::Reply);
        assert_eq!(REPLY[field::SHA], [0x02, 0x00, 0x00, 0x99, 0x00, 0x02]);
        assert_eq!(REPLY[field::SPA], [10, 99, 0, 2]);
        assert_eq!(REPLY[field::THA], REQUEST[field::SHA], "to the asker");
        assert_eq!(REPLY[field::TPA], [10, 99, 0, 1]);
    }

    #[test]
    fn every_shorter_buffer_is_refused() {
        for n in 0..HEADER_LEN {
            assert!(Packet::new_checked(&REQUEST[..n]).is_err(), "{n} bytes");
        }
        assert_eq!(Operation::from(9), Operation::Unknown(9));
    }
}
