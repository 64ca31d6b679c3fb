//! The Internet checksum (RFC 1071) used by IPv4, ICMP, TCP and UDP.
//!
//! It is the ones' complement of the ones' complement sum of the data taken as 16-bit
//! big-endian words. A receiver sums the header *including* the checksum field; a
//! correct header sums to 0xffff, so its complement is zero.

/// Adds `data` to a running 32-bit sum of 16-bit words (an odd last byte is padded with
/// zero, RFC 1071 § 4.1).
pub fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u16::from_be_bytes([c[0], c[1]]) as u32);
        // Fold now and then so very long buffers cannot overflow 32 bits.
        if acc > 0xffff_0000 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add((*last as u32) << 8);
    }
    acc
}

/// Folds the carries and complements: the value that goes on the wire.
pub fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Checksum of one buffer.
pub fn compute(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// Sum of the pseudo-header TCP and UDP put in front of their checksum: the addresses,
/// the protocol number and the transport length (RFC 9293 § 3.1, RFC 768; RFC 8200 § 8.1
/// for IPv6). The transport checksum thus also guards against misdelivered segments.
pub fn pseudo_header(src: &[u8], dst: &[u8], proto: u8, len: u32) -> u32 {
    let mut acc = sum(0, src);
    acc = sum(acc, dst);
    acc = acc.wrapping_add(proto as u32);
    acc = acc.wrapping_add(len >> 16).wrapping_add(len & 0xffff);
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 § 3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2 (before complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(compute(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(compute(&[0x12]), !0x1200);
    }
}

/// Real bytes: the headers of `captures/ping4.pcap`'s frame 1 (see `PING` below) sum to
/// zero with their checksum in, as a receiver checks them.
#[cfg(test)]
mod real_bytes {
    use super::*;
    use crate::wire::examples::PING;

    #[test]
    fn received_headers_sum_to_zero() {
        let (ip, icmp) = (&PING[14..34], &PING[34..]);
        assert_eq!(compute(ip), 0, "the IPv4 header, checksum 0x3e10 included");
        assert_eq!(
            compute(icmp),
            0,
            "the ICMP message, checksum 0xaf08 included"
        );
        // With its checksum field zeroed, the header sums to what was sent.
        let mut zeroed = ip.to_vec();
        zeroed[10..12].fill(0);
        assert_eq!(compute(&zeroed), 0x3e10);
    }
}
