//! ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861). In IPv6, ICMP does more than
//! report errors: neighbour solicitation/advertisement replace ARP, and router
//! solicitation/advertisement let hosts find routers and configure their addresses.
//! Its checksum covers an IPv6 pseudo-header, unlike ICMPv4's.

use super::{Result, be16, be32, checksum, need};

pub mod field {
    use crate::wire::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    /// NS/NA: flags (NA) or reserved, then the target address.
    pub const ND_FLAGS: Field = 4..8;
    pub const ND_TARGET: Field = 8..24;
    /// RA fields.
    pub const RA_HOP_LIMIT: usize = 4;
    pub const RA_FLAGS: usize = 5;
    pub const RA_LIFETIME: Field = 6..8;
    pub const RA_REACHABLE: Field = 8..12;
    pub const RA_RETRANS: Field = 12..16;
    pub const DATA: usize = 8;
}
pub const HEADER_LEN: usize = 8;
pub const PROTOCOL: u8 = 58;

fields! {
    TYPE: Num(
        "Type",
        "icmpv6.type",
        "the kind of message (128 echo request, 129 reply, 133-136 neighbour discovery, 1-4 errors)",
    );
    CODE: Num(
        "Code",
        "icmpv6.code",
        "the detail within the type",
    );
    CHECKSUM: Num(
        "Checksum",
        "icmpv6.checksum",
        "covers an IPv6 pseudo-header (addresses, length, next header 58) and the message",
    );
    IDENT: Num(
        "Identifier",
        "icmpv6.echo.identifier",
        "chosen by the pinger to match replies to requests",
    );
    SEQ: Num(
        "Sequence number",
        "icmpv6.echo.sequence_number",
        "counts the requests; the reply repeats it",
    );
    RESERVED: Bytes(
        "Reserved",
        "",
        "zero; ignored by receivers",
    );
    NS_TARGET: Ipv6(
        "Target address",
        "icmpv6.nd.ns.target_address",
        "the address whose link-layer (MAC) address is asked for — ARP's question in IPv6",
    );
    NA_TARGET: Ipv6(
        "Target address",
        "icmpv6.nd.na.target_address",
        "the address the advertised MAC belongs to",
    );
    NA_FLAGS: Num(
        "Flags",
        "icmpv6.nd.na.flag",
        "R: sender is a router; S: answer to a solicitation; O: override cached entries",
    );
    NA_ROUTER: Bool(
        "Router",
        "icmpv6.nd.na.flag.r",
        "the sender is a router",
    );
    NA_SOLICITED: Bool(
        "Solicited",
        "icmpv6.nd.na.flag.s",
        "sent in answer to a neighbour solicitation",
    );
    NA_OVERRIDE: Bool(
        "Override",
        "icmpv6.nd.na.flag.o",
        "replace any cached link-layer address",
    );
    RA_HOP_LIMIT: Num(
        "Cur hop limit",
        "icmpv6.nd.ra.cur_hop_limit",
        "the hop limit hosts should put in their packets (0: unspecified)",
    );
    RA_FLAGS: Num(
        "Flags",
        "icmpv6.nd.ra.flag",
        "M: get addresses from DHCPv6; O: other configuration from DHCPv6",
    );
    RA_LIFETIME: Num(
        "Router lifetime",
        "icmpv6.nd.ra.router_lifetime",
        "seconds this router may be used as default router (0: not a default router)",
    );
    RA_REACHABLE: Num(
        "Reachable time",
        "icmpv6.nd.ra.reachable_time",
        "ms a neighbour is assumed reachable after a confirmation",
    );
    RA_RETRANS: Num(
        "Retrans timer",
        "icmpv6.nd.ra.retrans_timer",
        "ms between neighbour solicitations",
    );
    OPT_TYPE: Num(
        "Option",
        "icmpv6.opt.type",
        "ND option type (1 source MAC, 2 target MAC, 3 prefix, 5 MTU)",
    );
    OPT_LEN: Num(
        "Length",
        "icmpv6.opt.length",
        "option length in 8-byte units",
    );
    OPT_LINKADDR: Mac(
        "Link-layer address",
        "icmpv6.opt.linkaddr",
        "a MAC address: the answer neighbour discovery is after",
    );
    OPT_MTU: Num(
        "MTU",
        "icmpv6.opt.mtu",
        "the link's MTU",
    );
    OPT_PREFIX: Ipv6(
        "Prefix",
        "icmpv6.opt.prefix",
        "an on-link prefix hosts may build addresses from (SLAAC)",
    );
    OPT_PREFIX_LEN: Num(
        "Prefix length",
        "icmpv6.opt.prefix.length",
        "bits of the prefix (usually 64)",
    );
    OPT_DATA: Bytes(
        "Option data",
        "",
        "an option netlab shows raw",
    );
    DATA: Bytes(
        "Data",
        "data.data",
        "echo payload, or the start of the packet an error is about",
    );
}

/// ICMPv6 message types (IANA "ICMPv6 Parameters").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    DstUnreachable,
    PacketTooBig,
    TimeExceeded,
    ParamProblem,
    EchoRequest,
    EchoReply,
    RouterSolicit,
    RouterAdvert,
    NeighborSolicit,
    NeighborAdvert,
    Redirect,
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(v: u8) -> Self {
        match v {
            1 => Message::DstUnreachable,
            2 => Message::PacketTooBig,
            3 => Message::TimeExceeded,
            4 => Message::ParamProblem,
            128 => Message::EchoRequest,
            129 => Message::EchoReply,
            133 => Message::RouterSolicit,
            134 => Message::RouterAdvert,
            135 => Message::NeighborSolicit,
            136 => Message::NeighborAdvert,
            137 => Message::Redirect,
            n => Message::Unknown(n),
        }
    }
}

impl Message {
    pub fn name(self) -> &'static str {
        match self {
            Message::DstUnreachable => "Destination unreachable",
            Message::PacketTooBig => "Packet too big",
            Message::TimeExceeded => "Time exceeded",
            Message::ParamProblem => "Parameter problem",
            Message::EchoRequest => "Echo (ping) request",
            Message::EchoReply => "Echo (ping) reply",
            Message::RouterSolicit => "Router Solicitation",
            Message::RouterAdvert => "Router Advertisement",
            Message::NeighborSolicit => "Neighbor Solicitation",
            Message::NeighborAdvert => "Neighbor Advertisement",
            Message::Redirect => "Redirect",
            Message::Unknown(_) => "Unknown type",
        }
    }

    pub fn is_error(self) -> bool {
        matches!(
            self,
            Message::DstUnreachable
                | Message::PacketTooBig
                | Message::TimeExceeded
                | Message::ParamProblem
        )
    }
}

/// Names of the codes of the error messages (RFC 4443 § 3).
pub fn code_name(t: Message, code: u8) -> &'static str {
    match (t, code) {
        (Message::DstUnreachable, 0) => "No route to destination",
        (Message::DstUnreachable, 1) => "Administratively prohibited",
        (Message::DstUnreachable, 3) => "Address unreachable",
        (Message::DstUnreachable, 4) => "Port unreachable",
        (Message::DstUnreachable, 5) => "Source address failed policy",
        (Message::DstUnreachable, 6) => "Reject route",
        (Message::TimeExceeded, 0) => "Hop limit exceeded in transit",
        (Message::TimeExceeded, 1) => "Fragment reassembly time exceeded",
        (Message::ParamProblem, 0) => "Erroneous header field",
        (Message::ParamProblem, 1) => "Unrecognized Next Header type",
        (Message::ParamProblem, 2) => "Unrecognized IPv6 option",
        _ => "",
    }
}

/// A view of an ICMPv6 message.
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
    /// The 4 common bytes plus what the type needs before its options.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 4)?;
        need(b, self.fixed_len())
    }
    /// Length of the type-specific fixed part (options start there).
    pub fn fixed_len(&self) -> usize {
        match self.msg_type() {
            Message::RouterSolicit => 8,
            Message::RouterAdvert => 16,
            Message::NeighborSolicit | Message::NeighborAdvert => 24,
            Message::Redirect => 40,
            _ => 8,
        }
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
    pub fn nd_flags(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ND_FLAGS.start)
    }
    pub fn target_addr(&self) -> [u8; 16] {
        self.buffer.as_ref()[field::ND_TARGET].try_into().unwrap()
    }
    /// The checksum the message should carry given the IPv6 pseudo-header sum.
    pub fn expected_checksum(&self, pseudo: u32) -> u16 {
        let b = self.buffer.as_ref();
        let before = b.get(..field::CHECKSUM.start).unwrap_or(b);
        let after = b.get(field::CHECKSUM.end..).unwrap_or(&[]);
        checksum::finish(checksum::sum(checksum::sum(pseudo, before), after))
    }
}

/// One neighbour-discovery option (RFC 4861 § 4.6): (type, total length in bytes).
/// A zero length is malformed (it would loop forever).
pub fn parse_nd_option(buf: &[u8]) -> Result<(u8, usize)> {
    need(buf, 2)?;
    let len = buf[1] as usize * 8;
    if len == 0 {
        return Err(super::Error::Malformed("ND option length 0"));
    }
    need(buf, len)?;
    Ok((buf[0], len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_solicitation() {
        // NS for fe80::1 with a source link-layer address option.
        let mut m = [0u8; 32];
        m[0] = 135;
        m[8] = 0xfe;
        m[9] = 0x80;
        m[23] = 1;
        m[24..32].copy_from_slice(&[1, 1, 2, 0, 0, 0, 0, 1]);
        let p = Packet::new_checked(&m[..]).unwrap();
        assert_eq!(p.msg_type(), Message::NeighborSolicit);
        assert_eq!(p.fixed_len(), 24);
        assert_eq!(parse_nd_option(&m[24..]).unwrap(), (1, 8));
        assert!(Packet::new_checked(&m[..23]).is_err());
        assert!(parse_nd_option(&[1, 0]).is_err());
    }
}

/// Real bytes from `captures/ping6.pcap` (see captures/README.md).
#[cfg(test)]
mod real_bytes {
    use super::*;
    use crate::wire::checksum;

    /// Frame 3: the neighbour solicitation for fd00:99::2 from fd00:99::1 (the ICMPv6
    /// message, after 14 bytes of Ethernet and 40 of IPv6), with a source link-layer
    /// address option (02:00:00:99:00:01).
    const NS: [u8; 32] = [
        0x87, 0x00, 0x7b, 0xcc, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00, 0x00, 0x99,
        0x00, 0x01,
    ];
    const SRC: [u8; 16] = [0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    /// ff02::1:ff00:2, the solicited-node group of fd00:99::2.
    const DST: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2];

    #[test]
    fn a_neighbour_solicitation_from_the_wire() {
        let p = Packet::new_checked(&NS[..]).unwrap();
        assert_eq!((p.msg_type(), p.msg_code()), (Message::NeighborSolicit, 0));
        assert_eq!(p.nd_flags(), 0);
        assert_eq!(
            p.target_addr(),
            [0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
        );
        // ICMPv6's checksum covers the IPv6 pseudo-header (RFC 4443 § 2.3).
        let pseudo = checksum::pseudo_header(&SRC, &DST, 58, NS.len() as u32);
        assert_eq!(p.checksum(), 0x7bcc, "icmpv6.checksum as tshark shows it");
        assert_eq!(p.expected_checksum(pseudo), p.checksum());
        let (kind, len) = parse_nd_option(&NS[p.fixed_len()..]).unwrap();
        assert_eq!((kind, len), (1, 8), "source link-layer address");
        assert_eq!(&NS[26..32], &[0x02, 0x00, 0x00, 0x99, 0x00, 0x01]);
        for n in 0..24 {
            assert!(Packet::new_checked(&NS[..n]).is_err(), "{n} bytes");
        }
    }
}
