//! ICMP for IPv4 (RFC 792): the network's error and diagnostic messages. `ping` is an
//! echo request answered by an echo reply; a router that drops a datagram may say why
//! (destination unreachable, time exceeded) and quotes the start of the datagram it
//! dropped so the sender can tell which one.
//!
//! ```text
//! +--------+--------+-----------------+
//! |  type  |  code  |    checksum     |
//! +--------+--------+-----------------+
//! | rest of header (echo: identifier, sequence number; errors: unused/MTU) |
//! | data (echo: anything; errors: the original IP header + 8 bytes)        |
//! ```

use super::{Result, be16, checksum, need};

pub mod field {
    use crate::wire::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    pub const UNUSED: Field = 4..8;
    pub const DATA: usize = 8;
}
pub const HEADER_LEN: usize = field::DATA;

fields! {
    TYPE: Num(
        "Type",
        "icmp.type",
        "the kind of message (8 echo request, 0 echo reply, 3 unreachable, 11 time exceeded)",
    );
    CODE: Num(
        "Code",
        "icmp.code",
        "the detail within the type (for unreachable: 0 net, 1 host, 3 port, 4 fragmentation needed)",
    );
    CHECKSUM: Num(
        "Checksum",
        "icmp.checksum",
        "Internet checksum over the whole ICMP message",
    );
    IDENT: Num(
        "Identifier",
        "icmp.ident",
        "chosen by the pinger to match replies to its requests (Linux: the socket's id)",
    );
    SEQ: Num(
        "Sequence number",
        "icmp.seq",
        "counts the requests: 1, 2, 3…; the reply repeats it",
    );
    UNUSED: Num(
        "Unused / next-hop MTU",
        "",
        "zero, except for \"fragmentation needed\" where the low 16 bits give the next link's MTU",
    );
    MTU: Num(
        "Next-hop MTU",
        "icmp.mtu",
        "the largest datagram the next link accepts (path MTU discovery)",
    );
    DATA: Bytes(
        "Data",
        "data.data",
        "echo payload: whatever the pinger put in, returned unchanged",
    );
    QUOTED: Bytes(
        "Original datagram",
        "",
        "the start of the datagram this error is about: its IP header and first 8 payload bytes",
    );
}

/// ICMPv4 message types (IANA "ICMP Type Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    EchoReply,
    DstUnreachable,
    Redirect,
    EchoRequest,
    TimeExceeded,
    ParamProblem,
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(v: u8) -> Self {
        match v {
            0 => Message::EchoReply,
            3 => Message::DstUnreachable,
            5 => Message::Redirect,
            8 => Message::EchoRequest,
            11 => Message::TimeExceeded,
            12 => Message::ParamProblem,
            n => Message::Unknown(n),
        }
    }
}

impl Message {
    pub fn name(self) -> &'static str {
        match self {
            Message::EchoReply => "Echo (ping) reply",
            Message::DstUnreachable => "Destination unreachable",
            Message::Redirect => "Redirect",
            Message::EchoRequest => "Echo (ping) request",
            Message::TimeExceeded => "Time-to-live exceeded",
            Message::ParamProblem => "Parameter problem",
            Message::Unknown(_) => "Unknown type",
        }
    }

    /// Error messages quote the offending datagram.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Message::DstUnreachable
                | Message::Redirect
                | Message::TimeExceeded
                | Message::ParamProblem
        )
    }
}

/// Names of the destination-unreachable codes (RFC 792, RFC 1812).
pub fn unreachable_code(code: u8) -> &'static str {
    match code {
        0 => "Network unreachable",
        1 => "Host unreachable",
        2 => "Protocol unreachable",
        3 => "Port unreachable",
        4 => "Fragmentation needed",
        5 => "Source route failed",
        9 | 10 => "Administratively prohibited",
        13 => "Communication administratively filtered",
        _ => "Unknown code",
    }
}

pub fn time_exceeded_code(code: u8) -> &'static str {
    match code {
        0 => "Time to live exceeded in transit",
        1 => "Fragment reassembly time exceeded",
        _ => "Unknown code",
    }
}

/// A view of an ICMP message.
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
    pub fn msg_type(&self) -> Message {
        self.buffer.as_ref()[field::TYPE].into()
    }
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQNO.start)
    }
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }
    /// The checksum the whole message should carry.
    pub fn expected_checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        let before = b.get(..field::CHECKSUM.start).unwrap_or(b);
        let after = b.get(field::CHECKSUM.end..).unwrap_or(&[]);
        checksum::finish(checksum::sum(checksum::sum(0, before), after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request() {
        // Echo request id 0x1234 seq 1 with 4 data bytes, checksum filled in below.
        let mut m = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g'];
        let c = Packet::new_unchecked(&m[..]).expected_checksum();
        m[2..4].copy_from_slice(&c.to_be_bytes());
        let p = Packet::new_checked(&m[..]).unwrap();
        assert_eq!(p.msg_type(), Message::EchoRequest);
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq_no(), 1);
        assert_eq!(checksum::compute(&m), 0);
        assert!(Packet::new_checked(&m[..7]).is_err());
    }
}

/// Real bytes from a capture (see `PING` below).
#[cfg(test)]
mod real_bytes {
    use super::*;
    use crate::wire::examples::PING;

    /// `captures/icmp-errors.pcap`, frame 2 (from byte 34): "port unreachable" quoting
    /// the UDP datagram it answers (IPv4 header + the first 20 bytes).
    const UNREACHABLE: [u8; 48] = [
        0x03, 0x03, 0x11, 0xeb, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x28, 0x2e, 0x36, 0x40,
        0x00, 0x40, 0x11, 0xf7, 0xc6, 0x0a, 0x63, 0x00, 0x01, 0x0a, 0x63, 0x00, 0x02, 0xa2, 0x12,
        0x00, 0x09, 0x00, 0x14, 0xfd, 0x78, 0x6e, 0x65, 0x74, 0x6c, 0x61, 0x62, 0x2d, 0x66, 0x72,
        0x61, 0x67, 0x6d,
    ];

    #[test]
    fn an_echo_request_from_ping() {
        let p = Packet::new_checked(&PING[34..]).unwrap();
        assert_eq!((p.msg_type(), p.msg_code()), (Message::EchoRequest, 0));
        assert_eq!((p.echo_ident(), p.echo_seq_no()), (0x760d, 1));
        assert_eq!(p.checksum(), 0xaf08, "icmp.checksum as tshark shows it");
        assert_eq!(p.expected_checksum(), p.checksum());
        // Linux's ping: an 8-byte timestamp, then the bytes 0x08 onwards from offset 16.
        assert_eq!(p.data().len(), 56);
        assert_eq!(&p.data()[16..20], &[0x10, 0x11, 0x12, 0x13]);
    }

    #[test]
    fn port_unreachable_quotes_the_datagram() {
        let p = Packet::new_checked(&UNREACHABLE[..]).unwrap();
        assert_eq!(p.msg_type(), Message::DstUnreachable);
        assert!(p.msg_type().is_error());
        assert_eq!(unreachable_code(p.msg_code()), "Port unreachable");
        assert_eq!(p.expected_checksum(), p.checksum());
        // Bytes 4..8 are unused; the data is the offending datagram's start.
        assert_eq!(&p.data()[..2], &[0x45, 0x00]);
        assert_eq!(
            &p.data()[20..24],
            &[0xa2, 0x12, 0x00, 0x09],
            "its ports: 41490 → 9"
        );
        for n in 0..HEADER_LEN {
            assert!(Packet::new_checked(&UNREACHABLE[..n]).is_err(), "{n} bytes");
        }
    }
}
