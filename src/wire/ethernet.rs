//! Ethernet II frames (IEEE 802.3 with an EtherType) and 802.1Q / 802.1ad VLAN tags.
//!
//! ```text
//!  0                   6                  12      14
//! +-------------------+-------------------+-------+---------------
//! | destination MAC   | source MAC        | type  | payload …
//! +-------------------+-------------------+-------+---------------
//! ```
//! The frame check sequence at the end is stripped by the capturing NIC and never seen
//! in a capture.

use super::{Result, be16, need, set_be16};

pub mod field {
    use crate::wire::Field;
    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: usize = 14;
}

pub const HEADER_LEN: usize = field::PAYLOAD;

fields! {
    DST: Mac(
        "Destination",
        "eth.dst",
        "the MAC address of the next hop on this link (ff:ff:ff:ff:ff:ff = everyone)",
    );
    SRC: Mac(
        "Source",
        "eth.src",
        "the MAC address of the network card that put the frame on the link",
    );
    TYPE: Num(
        "Type",
        "eth.type",
        "the EtherType: which protocol the payload carries",
    );
}

/// EtherType code points (IEEE registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtherType {
    Ipv4,
    Arp,
    Vlan,
    QinQ,
    Ipv6,
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            0x88a8 => EtherType::QinQ,
            0x86dd => EtherType::Ipv6,
            n => EtherType::Unknown(n),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::QinQ => 0x88a8,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(n) => n,
        }
    }
}

impl EtherType {
    pub fn name(self) -> &'static str {
        match self {
            EtherType::Ipv4 => "IPv4",
            EtherType::Arp => "ARP",
            EtherType::Vlan => "802.1Q VLAN",
            EtherType::QinQ => "802.1ad QinQ",
            EtherType::Ipv6 => "IPv6",
            EtherType::Unknown(n) if n <= 1500 => "an 802.3 length, not a type",
            EtherType::Unknown(_) => "unknown",
        }
    }
}

/// A read-only or writable view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    pub fn check_len(&self) -> Result<()> {
        need(self.buffer.as_ref(), HEADER_LEN)
    }

    pub fn dst_addr(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::DESTINATION].try_into().unwrap()
    }

    pub fn src_addr(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::SOURCE].try_into().unwrap()
    }

    pub fn ethertype(&self) -> EtherType {
        be16(self.buffer.as_ref(), field::ETHERTYPE.start).into()
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a);
    }
    pub fn set_src_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a);
    }
    pub fn set_ethertype(&mut self, t: EtherType) {
        set_be16(self.buffer.as_mut(), field::ETHERTYPE.start, t.into());
    }
}

/// The header of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: [u8; 6],
    pub dst_addr: [u8; 6],
    pub ethertype: EtherType,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(f: &Frame<T>) -> Result<Repr> {
        f.check_len()?;
        Ok(Repr {
            src_addr: f.src_addr(),
            dst_addr: f.dst_addr(),
            ethertype: f.ethertype(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, f: &mut Frame<T>) {
        f.set_dst_addr(self.dst_addr);
        f.set_src_addr(self.src_addr);
        f.set_ethertype(self.ethertype);
    }
}

/// Formats a MAC address the way Wireshark does: `02:00:5e:10:00:01`.
pub fn fmt_mac(a: &[u8; 6], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, &b) in a.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// 802.1Q tag: 2 bytes of tag control information then the inner EtherType.
/// (The 0x8100 / 0x88a8 before it belongs to the enclosing header.) IEEE 802.1Q § 9.6.
pub mod vlan {
    use crate::wire::be16;

    pub mod field {
        use crate::wire::Field;
        /// Priority (3 bits), drop eligible (1 bit), VLAN id (12 bits).
        pub const TCI: Field = 0..2;
        pub const ETHERTYPE: Field = 2..4;
    }
    pub const HEADER_LEN: usize = 4;

    fields! {
        PRIORITY: Num(
            "Priority",
            "vlan.priority",
            "the 802.1p class of service, 0 (best effort) to 7 (network control)",
        );
        DEI: Bool(
            "Drop eligible",
            "vlan.dei",
            "may a congested switch drop this frame first?",
        );
        ID: Num(
            "VLAN id",
            "vlan.id",
            "which virtual LAN the frame belongs to (1-4094); switches keep VLANs apart",
        );
        TYPE: Num(
            "Type",
            "vlan.etype",
            "the EtherType of what follows the tag",
        );
        /// The same fields in an 802.1ad service tag (the outer tag of QinQ), which
        /// Wireshark files under its own protocol.
        S_PRIORITY: Num(
            "Priority",
            "ieee8021ad.priority",
            "the service provider's class of service, 0 to 7",
        );
        S_DEI: Bool(
            "Drop eligible",
            "ieee8021ad.dei",
            "may a congested switch drop this frame first?",
        );
        S_ID: Num(
            "Service VLAN id",
            "ieee8021ad.id",
            "the provider's VLAN that carries the customer's tagged frames (QinQ)",
        );
        S_TYPE: Num(
            "Type",
            "",
            "the EtherType of what follows: usually the customer's 802.1Q tag (0x8100)",
        );
    }

    pub fn tci(b: &[u8]) -> u16 {
        be16(b, field::TCI.start)
    }
    pub fn ethertype(b: &[u8]) -> u16 {
        be16(b, field::ETHERTYPE.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // First 14 bytes of an ARP request (captures/arp.pcap, frame 1 style): broadcast.
    const FRAME: [u8; 14] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
    ];

    #[test]
    fn parse_and_emit_roundtrip() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        let r = Repr::parse(&f).unwrap();
        assert_eq!(r.dst_addr, [0xff; 6]);
        assert_eq!(r.ethertype, EtherType::Arp);
        let mut buf = [0u8; 14];
        r.emit(&mut Frame::new_unchecked(&mut buf[..]));
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn too_short() {
        assert_eq!(
            Frame::new_checked(&FRAME[..13]).unwrap_err(),
            crate::wire::Error::Truncated {
                needed: 14,
                had: 13
            }
        );
    }

    #[test]
    fn mac_format() {
        let mut s = String::new();
        fmt_mac(&[0x02, 0, 0x5e, 0x10, 0, 1], &mut s);
        assert_eq!(s, "02:00:5e:10:00:01");
    }
}

/// Real bytes from a capture (see `PING` below).
#[cfg(test)]
mod real_bytes {
    use super::*;
    use crate::wire::examples::PING;

    #[test]
    fn an_ethernet_ii_header_from_the_wire() {
        let f = Frame::new_checked(&PING[..]).unwrap();
        assert_eq!(f.dst_addr(), [0x02, 0x00, 0x00, 0x99, 0x00, 0x02]);
        assert_eq!(f.src_addr(), [0x02, 0x00, 0x00, 0x99, 0x00, 0x01]);
        assert_eq!(f.ethertype(), EtherType::Ipv4);
        assert_eq!(f.payload(), &PING[HEADER_LEN..]);
        let mut mac = String::new();
        fmt_mac(&f.src_addr(), &mut mac);
        assert_eq!(mac, "02:00:00:99:00:01", "eth.src as tshark shows it");
        // Parse and emit give the same 14 bytes back.
        let r = Repr::parse(&f).unwrap();
        let mut out = [0u8; HEADER_LEN];
        r.emit(&mut Frame::new_unchecked(&mut out[..]));
        assert_eq!(out, PING[..HEADER_LEN]);
        for n in 0..HEADER_LEN {
            assert!(Frame::new_checked(&PING[..n]).is_err(), "{n} bytes");
        }
    }
}
