//! UDP, the User Datagram Protocol (RFC 768): ports, a length and a checksum — 8 bytes
//! and nothing else. No connection, no retransmission, no ordering: each datagram stands
//! alone, and message boundaries are kept.
//!
//! ```text
//!  0      7 8     15 16    23 24    31
//! +--------+--------+--------+--------+
//! |   source port   |destination port |
//! +--------+--------+--------+--------+
//! |     length      |    checksum     |
//! +--------+--------+--------+--------+
//! ```

use super::{Result, be16, checksum, need, set_be16};

pub mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
    pub const PAYLOAD: usize = 8;
}
pub const HEADER_LEN: usize = field::PAYLOAD;
/// UDP's IP protocol number.
pub const PROTOCOL: u8 = 17;

fields! {
    SRC_PORT: Num(
        "Source port",
        "udp.srcport",
        "the sending socket's port (where a reply should go)",
    );
    DST_PORT: Num(
        "Destination port",
        "udp.dstport",
        "which socket on the receiving host gets the datagram",
    );
    LENGTH: Num(
        "Length",
        "udp.length",
        "header (8 bytes) plus data, in bytes",
    );
    CHECKSUM: Num(
        "Checksum",
        "udp.checksum",
        "covers a pseudo-header (addresses, protocol, length), the header and the data; 0 over IPv4 means \"not computed\"",
    );
    PAYLOAD: Num(
        "Payload length",
        "",
        "bytes of application data",
    );
}

/// A view of a UDP datagram.
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
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT.start)
    }
    /// The length field (header + data). Named after RFC 768's "Length".
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        set_be16(self.buffer.as_mut(), field::SRC_PORT.start, v)
    }
    pub fn set_dst_port(&mut self, v: u16) {
        set_be16(self.buffer.as_mut(), field::DST_PORT.start, v)
    }
    pub fn set_len(&mut self, v: u16) {
        set_be16(self.buffer.as_mut(), field::LENGTH.start, v)
    }
    pub fn set_checksum(&mut self, v: u16) {
        set_be16(self.buffer.as_mut(), field::CHECKSUM.start, v)
    }
}

/// The checksum a UDP datagram (`datagram` = header + data, checksum field included as
/// it is on the wire) should carry, given its pseudo-header sum.
pub fn expected_checksum(pseudo: u32, datagram: &[u8]) -> u16 {
    let before = datagram.get(..field::CHECKSUM.start).unwrap_or(datagram);
    let after = datagram.get(field::PAYLOAD..).unwrap_or(&[]);
    let acc = checksum::sum(checksum::sum(pseudo, before), after);
    match checksum::finish(acc) {
        // RFC 768: a computed 0 is sent as all ones, since 0 means "no checksum".
        0 => 0xffff,
        c => c,
    }
}

/// A UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
}

impl Repr {
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// Writes header and payload; `pseudo` is the pseudo-header sum for the checksum.
    pub fn emit(&self, buf: &mut [u8], payload: &[u8], pseudo: u32) {
        let len = HEADER_LEN + payload.len();
        let mut p = Packet::new_unchecked(&mut buf[..len]);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len as u16);
        p.set_checksum(0);
        buf[HEADER_LEN..len].copy_from_slice(payload);
        let c = expected_checksum(pseudo, &buf[..len]);
        Packet::new_unchecked(&mut buf[..len]).set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_verify_checksum() {
        let src = [192, 0, 2, 1];
        let dst = [192, 0, 2, 2];
        let pseudo = checksum::pseudo_header(&src, &dst, PROTOCOL, 8 + 5);
        let mut buf = [0u8; 13];
        Repr {
            src_port: 5353,
            dst_port: 53,
        }
        .emit(&mut buf, b"hello", pseudo);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.len(), 13);
        // A receiver summing everything, checksum included, gets zero.
        assert_eq!(checksum::finish(checksum::sum(pseudo, &buf)), 0);
    }

    #[test]
    fn too_short() {
        assert!(Packet::new_checked(&[0u8; 7][..]).is_err());
    }
}

/// Real bytes: frame 1 of `captures/dns.pcap`, a DNS query for `netlab.test` from
/// 10.99.0.1:58810 to 10.99.0.2:53 (after its 14-byte Ethernet and 20-byte IPv4 header).
#[cfg(test)]
mod real_bytes {
    use super::*;

    const SRC: [u8; 4] = [10, 99, 0, 1];
    const DST: [u8; 4] = [10, 99, 0, 2];
    /// UDP header and the 29-byte DNS query.
    const QUERY: [u8; 37] = [
        0xe5, 0xba, 0x00, 0x35, 0x00, 0x25, 0xcf, 0xc7, 0x10, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x6e, 0x65, 0x74, 0x6c, 0x61, 0x62, 0x04, 0x74, 0x65,
        0x73, 0x74, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    #[test]
    fn a_dns_query_datagram() {
        let p = Packet::new_checked(&QUERY[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (58810, 53));
        assert_eq!(p.len() as usize, QUERY.len(), "header + data");
        assert_eq!(p.checksum(), 0xcfc7, "as tshark shows it (udp.checksum)");
        let pseudo = checksum::pseudo_header(&SRC, &DST, PROTOCOL, QUERY.len() as u32);
        assert_eq!(expected_checksum(pseudo, &QUERY), p.checksum());
        assert_eq!(checksum::finish(checksum::sum(pseudo, &QUERY)), 0);
    }

    #[test]
    fn emit_rebuilds_the_same_bytes() {
        let mut buf = [0u8; 37];
        let pseudo = checksum::pseudo_header(&SRC, &DST, PROTOCOL, 37);
        Repr {
            src_port: 58810,
            dst_port: 53,
        }
        .emit(&mut buf, &QUERY[HEADER_LEN..], pseudo);
        assert_eq!(buf, QUERY);
    }

    #[test]
    fn every_shorter_header_is_refused() {
        for n in 0..HEADER_LEN {
            assert!(Packet::new_checked(&QUERY[..n]).is_err(), "{n} bytes");
        }
    }
}
