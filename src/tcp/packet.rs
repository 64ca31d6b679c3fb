//! IP packets around TCP segments: built by netlab (checksums included) for the wire,
//! and read back from it. Used wherever netlab's own TCP meets a real network
//! (`tcp-handshake`) or rebuilds one from a byte stream (`ws-upgrade -w`). I/O-free.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::wire::tcp::{self, TcpOption};
use crate::wire::{checksum, ipv4, ipv6};

/// Builds an IP packet around a TCP segment, checksums computed by netlab.
pub fn build_packet(src: SocketAddr, dst: SocketAddr, repr: &tcp::Repr, payload: &[u8]) -> Vec<u8> {
    let seg_len = repr.header_len() + payload.len();
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut buf = vec![0u8; ipv4::HEADER_LEN + seg_len];
            ipv4::Repr {
                src_addr: s.octets(),
                dst_addr: d.octets(),
                protocol: tcp::PROTOCOL,
                payload_len: seg_len,
                ttl: 64,
                ident: 0,
                dont_frag: true,
            }
            .emit(&mut buf);
            let ps =
                checksum::pseudo_header(&s.octets(), &d.octets(), tcp::PROTOCOL, seg_len as u32);
            repr.emit(&mut buf[ipv4::HEADER_LEN..], payload, ps);
            buf
        }
        (s, d) => {
            let to6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            let (s, d) = (to6(s), to6(d));
            let mut buf = vec![0u8; ipv6::HEADER_LEN + seg_len];
            ipv6::Repr {
                src_addr: s,
                dst_addr: d,
                next_header: tcp::PROTOCOL,
                payload_len: seg_len,
                hop_limit: 64,
            }
            .emit(&mut buf);
            let ps = checksum::pseudo_header(&s, &d, tcp::PROTOCOL, seg_len as u32);
            repr.emit(&mut buf[ipv6::HEADER_LEN..], payload, ps);
            buf
        }
    }
}

/// A TCP segment read from an IP packet: addresses and the parsed header.
pub struct Parsed<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub repr: tcp::Repr<'a>,
    pub payload: &'a [u8],
}

/// Parses an IPv4/IPv6 packet carrying TCP (no extension headers); `None` for anything
/// else (the kernel's other chatter).
pub fn parse_packet(p: &[u8]) -> Option<Parsed<'_>> {
    let (src, dst, seg) = match p.first()? >> 4 {
        4 => {
            let ip = ipv4::Packet::new_checked(p).ok()?;
            if ip.protocol() != tcp::PROTOCOL || ip.more_frags() || ip.frag_offset() != 0 {
                return None;
            }
            let end = (ip.total_len() as usize).min(p.len());
            let s = IpAddr::V4(Ipv4Addr::from(ip.src_addr()));
            let d = IpAddr::V4(Ipv4Addr::from(ip.dst_addr()));
            (s, d, p.get(ip.header_len() as usize..end)?)
        }
        6 => {
            let ip = ipv6::Packet::new_checked(p).ok()?;
            if ip.next_header() != tcp::PROTOCOL {
                return None;
            }
            let end = (ipv6::HEADER_LEN + ip.payload_len() as usize).min(p.len());
            let s = IpAddr::V6(Ipv6Addr::from(ip.src_addr()));
            let d = IpAddr::V6(Ipv6Addr::from(ip.dst_addr()));
            (s, d, p.get(ipv6::HEADER_LEN..end)?)
        }
        _ => return None,
    };
    let t = tcp::Packet::new_checked(seg).ok()?;
    let mut options = Vec::new();
    let mut rest = &seg[tcp::HEADER_LEN..t.header_len() as usize];
    while !rest.is_empty() {
        let (r, o) = tcp::parse_option(rest).ok()?;
        if matches!(o, TcpOption::EndOfList) {
            break;
        }
        options.push(o);
        rest = r;
    }
    Some(Parsed {
        src: SocketAddr::new(src, t.src_port()),
        dst: SocketAddr::new(dst, t.dst_port()),
        repr: tcp::Repr {
            src_port: t.src_port(),
            dst_port: t.dst_port(),
            seq_number: t.seq_number(),
            ack_number: t.ack_number(),
            flags: t.flags(),
            window_len: t.window_len(),
            options,
        },
        payload: &seg[t.header_len() as usize..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tcp::flags;

    fn syn() -> tcp::Repr<'static> {
        tcp::Repr {
            src_port: 40000,
            dst_port: 8080,
            seq_number: 0xfffffff0,
            ack_number: 0,
            flags: flags::SYN,
            window_len: 64128,
            options: vec![TcpOption::MaxSegmentSize(1460), TcpOption::WindowScale(7)],
        }
    }

    #[test]
    fn built_packets_parse_back_with_valid_checksums() {
        for (a, b) in [
            ("10.0.0.2:40000", "10.0.0.1:8080"),
            ("[fd00:6e6c::2]:40000", "[fd00:6e6c::1]:8080"),
        ] {
            let (src, dst): (SocketAddr, SocketAddr) = (a.parse().unwrap(), b.parse().unwrap());
            let bytes = build_packet(src, dst, &syn(), b"hi");
            let p = parse_packet(&bytes).expect("parses");
            assert_eq!((p.src, p.dst), (src, dst));
            assert_eq!(p.repr, syn());
            assert_eq!(p.payload, b"hi");
            // The transport checksum verifies over the pseudo-header.
            let ip_len = if src.is_ipv4() {
                ipv4::HEADER_LEN
            } else {
                ipv6::HEADER_LEN
            };
            let seg = &bytes[ip_len..];
            let to_bytes = |a: IpAddr| match a {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            let ps = checksum::pseudo_header(
                &to_bytes(src.ip()),
                &to_bytes(dst.ip()),
                tcp::PROTOCOL,
                seg.len() as u32,
            );
            assert_eq!(checksum::finish(checksum::sum(ps, seg)), 0);
        }
        assert!(parse_packet(&[0x45, 0, 0]).is_none());
        assert!(parse_packet(&[]).is_none());
    }
}
