//! Link layers: Ethernet II, 802.1Q/802.1ad tags, Linux cooked (SLL, SLL2), BSD NULL,
//! raw IP; and ARP, which lives directly on the link.

use std::fmt::Write;

use super::model::Host;
use super::{Next, Out, Proto, Value, headline, note, padded};
use crate::wire::arp;
use crate::wire::ethernet::{self, EtherType, vlan};
use crate::wire::link::{self, LinkType, sll, sll2};

/// How many VLAN tags may be stacked before netlab calls it malformed (real networks
/// use one, QinQ two).
const MAX_VLAN_TAGS: usize = 8;

pub(crate) fn dissect_link(out: &mut Out, data: &[u8], linktype: u32) -> Next {
    match LinkType::from(linktype) {
        LinkType::Ethernet => ethernet(out, data),
        LinkType::LinuxSll => cooked_v1(out, data),
        LinkType::LinuxSll2 => cooked_v2(out, data),
        LinkType::Null => null(out, data),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => {
            out.begin(Proto::Raw, 0);
            out.headline()
                .push_str("Raw IP: the capture has no link-layer header");
            out.end(0);
            Next::Ip(0)
        }
        LinkType::Unknown(n) => {
            out.pkt.warnings.push(format!(
                "link type {n} is unknown to netlab: the frame is shown as bytes"
            ));
            out.pkt.info = format!("Link type {n} (not decoded)");
            Next::Payload(0, data.len())
        }
    }
}

fn ethertype_note(t: u16) -> &'static str {
    EtherType::from(t).name()
}

fn ethernet(out: &mut Out, data: &[u8]) -> Next {
    out.begin(Proto::Eth, 0);
    let h = padded::<14>(data, 0);
    let f = ethernet::Frame::new_unchecked(&h[..]);
    use ethernet::field as F;
    let (dst, src, t) = (f.dst_addr(), f.src_addr(), f.ethertype());
    out.push(0, &ethernet::DST, F::DESTINATION, Value::Mac(dst));
    if dst == [0xff; 6] {
        out.note("(broadcast)");
    } else if dst[0] & 1 == 1 {
        out.note("(multicast)");
    }
    out.push(0, &ethernet::SRC, F::SOURCE, Value::Mac(src));
    let t = u16::from(t);
    let ok = out.push(0, &ethernet::TYPE, F::ETHERTYPE, Value::Hex(t as u64, 4));
    note!(out, "({})", ethertype_note(t));
    out.end(ethernet::HEADER_LEN);
    if out.detail {
        let hl = out.headline();
        hl.push_str("Src: ");
        ethernet::fmt_mac(&src, hl);
        hl.push_str(", Dst: ");
        ethernet::fmt_mac(&dst, hl);
    }
    out.pkt.src = Host::Mac(src);
    out.pkt.dst = if dst == [0xff; 6] {
        Host::Broadcast
    } else {
        Host::Mac(dst)
    };
    if !ok || out.is_truncated() {
        return Next::Stop;
    }
    Next::Ether(t, ethernet::HEADER_LEN)
}

pub(crate) fn dissect_ethertype(out: &mut Out, data: &[u8], t: u16, at: usize) -> Next {
    match EtherType::from(t) {
        EtherType::Ipv4 | EtherType::Ipv6 => Next::Ip(at),
        EtherType::Arp => arp(out, data, at),
        EtherType::Vlan => vlan_tag(out, data, at, false),
        EtherType::QinQ => vlan_tag(out, data, at, true),
        EtherType::Unknown(_) => {
            let _ = write!(out.pkt.info, "EtherType 0x{t:04x} (not decoded)");
            Next::Payload(at, data.len())
        }
    }
}

fn vlan_tag(out: &mut Out, data: &[u8], at: usize, service: bool) -> Next {
    let tags = out
        .pkt
        .layers
        .iter()
        .filter(|l| matches!(l.proto, Proto::Vlan | Proto::QinQ))
        .count();
    let (proto, defs) = if service {
        (
            Proto::QinQ,
            [&vlan::S_PRIORITY, &vlan::S_DEI, &vlan::S_ID, &vlan::S_TYPE],
        )
    } else {
        (
            Proto::Vlan,
            [&vlan::PRIORITY, &vlan::DEI, &vlan::ID, &vlan::TYPE],
        )
    };
    out.begin(proto, at);
    if tags >= MAX_VLAN_TAGS {
        out.malformed(format!("more than {MAX_VLAN_TAGS} stacked VLAN tags"));
        out.end(at);
        return Next::Payload(at, data.len());
    }
    let h = padded::<4>(data, at);
    let tci = vlan::tci(&h);
    let t = vlan::ethertype(&h);
    let r = at..at + 2;
    out.push_bits(
        0,
        defs[0],
        r.clone(),
        0xe000,
        Value::Uint((tci >> 13) as u64),
    );
    out.push_bits(
        0,
        defs[1],
        r.clone(),
        0x1000,
        Value::Bool(tci & 0x1000 != 0),
    );
    out.push_bits(0, defs[2], r, 0x0fff, Value::Uint((tci & 0x0fff) as u64));
    let ok = out.push(0, defs[3], at + 2..at + 4, Value::Hex(t as u64, 4));
    note!(out, "({})", ethertype_note(t));
    headline!(
        out,
        "PRI: {}, DEI: {}, ID: {}",
        tci >> 13,
        (tci >> 12) & 1,
        tci & 0xfff
    );
    out.end(at + vlan::HEADER_LEN);
    if !ok || out.is_truncated() {
        return Next::Stop;
    }
    Next::Ether(t, at + vlan::HEADER_LEN)
}

fn cooked_addr(out: &mut Out, range: std::ops::Range<usize>, h: &[u8], halen: usize) {
    if halen == 6 {
        let mac: [u8; 6] = h[..6].try_into().expect("6 bytes");
        out.push(
            0,
            &link::SLL_SRC,
            range.start..range.start + 6,
            Value::Mac(mac),
        );
        out.pkt.src = Host::Mac(mac);
    } else {
        out.push(0, &link::SLL_ADDR, range.clone(), Value::Bytes(range));
    }
}

fn cooked_v1(out: &mut Out, data: &[u8]) -> Next {
    out.begin(Proto::Sll, 0);
    let h = padded::<16>(data, 0);
    use sll::field as F;
    let (pt, ha, hl, proto) = (
        sll::pkttype(&h),
        sll::hatype(&h),
        sll::halen(&h),
        sll::protocol(&h),
    );
    out.push(0, &link::SLL_PKTTYPE, F::PKTTYPE, Value::Uint(pt as u64));
    note!(out, "({})", link::pkttype_name(pt));
    out.push(0, &link::SLL_HATYPE, F::HATYPE, Value::Uint(ha as u64));
    out.push(0, &link::SLL_HALEN, F::HALEN, Value::Uint(hl as u64));
    cooked_addr(out, F::ADDR, &h[F::ADDR], hl as usize);
    let ok = out.push(
        0,
        &link::SLL_PROTOCOL,
        F::PROTOCOL,
        Value::Hex(proto as u64, 4),
    );
    note!(out, "({})", ethertype_note(proto));
    headline!(out, "{}", link::pkttype_name(pt));
    out.end(sll::HEADER_LEN);
    if !ok || out.is_truncated() {
        return Next::Stop;
    }
    Next::Ether(proto, sll::HEADER_LEN)
}

fn cooked_v2(out: &mut Out, data: &[u8]) -> Next {
    out.begin(Proto::Sll2, 0);
    let h = padded::<20>(data, 0);
    use sll2::field as F;
    let proto = sll2::protocol(&h);
    let ok = out.push(
        0,
        &link::SLL_PROTOCOL,
        F::PROTOCOL,
        Value::Hex(proto as u64, 4),
    );
    note!(out, "({})", ethertype_note(proto));
    out.push(
        0,
        &link::SLL_RESERVED,
        F::RESERVED,
        Value::Hex(crate::wire::be16(&h, 2) as u64, 4),
    );
    out.push(
        0,
        &link::SLL_IFINDEX,
        F::IFINDEX,
        Value::Uint(sll2::ifindex(&h) as u64),
    );
    out.push(
        0,
        &link::SLL_HATYPE,
        F::HATYPE,
        Value::Uint(sll2::hatype(&h) as u64),
    );
    let pt = sll2::pkttype(&h) as u16;
    out.push(
        0,
        &link::SLL_PKTTYPE,
        F::PKTTYPE..F::PKTTYPE + 1,
        Value::Uint(pt as u64),
    );
    note!(out, "({})", link::pkttype_name(pt));
    let hl = sll2::halen(&h);
    out.push(
        0,
        &link::SLL_HALEN,
        F::HALEN..F::HALEN + 1,
        Value::Uint(hl as u64),
    );
    cooked_addr(out, F::ADDR, &h[F::ADDR], hl as usize);
    headline!(
        out,
        "{}, interface {}",
        link::pkttype_name(pt),
        sll2::ifindex(&h)
    );
    out.end(sll2::HEADER_LEN);
    if !ok || out.is_truncated() {
        return Next::Stop;
    }
    Next::Ether(proto, sll2::HEADER_LEN)
}

fn null(out: &mut Out, data: &[u8]) -> Next {
    out.begin(Proto::Null, 0);
    let h = padded::<4>(data, 0);
    let fam = link::null_family(&h).expect("4 bytes");
    if !out.push(0, &link::NULL_FAMILY, 0..4, Value::Uint(fam as u64)) {
        return Next::Stop;
    }
    let v = link::null_ip_version(fam);
    out.note(match v {
        Some(4) => "(IPv4)",
        Some(_) => "(IPv6)",
        None => "(unknown family)",
    });
    out.end(4);
    match v {
        Some(_) => Next::Ip(4),
        None => Next::Payload(4, data.len()),
    }
}

fn arp(out: &mut Out, data: &[u8], at: usize) -> Next {
    out.begin(Proto::Arp, at);
    let h = padded::<28>(data, at);
    let p = arp::Packet::new_unchecked(&h[..]);
    use arp::field as F;
    let r = |f: std::ops::Range<usize>| at + f.start..at + f.end;
    out.push(0, &arp::HTYPE, r(F::HTYPE), Value::Uint(p.htype() as u64));
    out.push(0, &arp::PTYPE, r(F::PTYPE), Value::Hex(p.ptype() as u64, 4));
    out.push(
        0,
        &arp::HLEN,
        at + F::HLEN..at + F::HLEN + 1,
        Value::Uint(p.hlen() as u64),
    );
    out.push(
        0,
        &arp::PLEN,
        at + F::PLEN..at + F::PLEN + 1,
        Value::Uint(p.plen() as u64),
    );
    let op = p.operation();
    out.push(
        0,
        &arp::OPER,
        r(F::OPER),
        Value::Uint(crate::wire::be16(&h, 6) as u64),
    );
    out.note(match op {
        arp::Operation::Request => "(request)",
        arp::Operation::Reply => "(reply)",
        arp::Operation::Unknown(_) => "(unknown)",
    });
    out.pkt.protocol = "ARP";
    if !p.is_ethernet_ipv4() {
        if data.len() >= at + 8 {
            out.malformed("only Ethernet/IPv4 ARP is decoded further");
        }
        out.end(at + 8);
        return Next::Stop;
    }
    let sha: [u8; 6] = h[F::SHA].try_into().expect("6");
    let spa: [u8; 4] = h[F::SPA].try_into().expect("4");
    let tha: [u8; 6] = h[F::THA].try_into().expect("6");
    let tpa: [u8; 4] = h[F::TPA].try_into().expect("4");
    out.push(0, &arp::SHA, r(F::SHA), Value::Mac(sha));
    out.push(0, &arp::SPA, r(F::SPA), Value::Ipv4(spa));
    out.push(0, &arp::THA, r(F::THA), Value::Mac(tha));
    out.push(0, &arp::TPA, r(F::TPA), Value::Ipv4(tpa));
    out.end(at + arp::HEADER_LEN);
    let (s, t) = (std::net::Ipv4Addr::from(spa), std::net::Ipv4Addr::from(tpa));
    let info = &mut out.pkt.info;
    info.clear();
    match op {
        arp::Operation::Request if s == t => {
            let _ = write!(info, "Gratuitous ARP for {s} (Request)");
        }
        arp::Operation::Request => {
            let _ = write!(info, "Who has {t}? Tell {s}");
        }
        arp::Operation::Reply => {
            let _ = write!(info, "{s} is at ");
            ethernet::fmt_mac(&sha, info);
        }
        arp::Operation::Unknown(n) => {
            let _ = write!(info, "Unknown ARP opcode {n}");
        }
    }
    let hl = out.headline();
    let _ = write!(
        hl,
        "{}",
        match op {
            arp::Operation::Request => "request",
            arp::Operation::Reply => "reply",
            arp::Operation::Unknown(_) => "unknown opcode",
        }
    );
    // Anything after the 28 bytes is Ethernet padding to the 60-byte minimum frame.
    Next::Stop
}
