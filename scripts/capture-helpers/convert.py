#!/usr/bin/env python3
"""Rewrite real pcap captures into variants Linux cannot capture natively.

  convert.py bigendian IN.pcap OUT.pcap
      Same packets, but the pcap global header and every record header are
      written big-endian (magic bytes a1 b2 c3 d4, or a1 b2 3c 4d for a
      nanosecond file), as a big-endian host (e.g. SPARC, PowerPC) would.
      Packet bytes are untouched.

  convert.py null OUT.pcap IN.pcap [IN.pcap ...]
      Link type 0 (LINKTYPE_NULL, BSD loopback).  Every IPv4/IPv6 packet of
      the Ethernet inputs gets its 14-byte Ethernet header replaced by a
      4-byte address-family value in the byte order of the (little-endian)
      file: 2 for IPv4; for IPv6 the value cycles through 24 (NetBSD/OpenBSD),
      28 (FreeBSD) and 30 (macOS) so that all three real-world values occur.
      Non-IP frames (ARP, ...) are dropped.  Packets of all inputs are merged
      in timestamp order.

Only classic pcap input with Ethernet link type is supported (that is what
make-captures.sh produces).  Stdlib only.
"""

import struct
import sys

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic_le = struct.unpack("<I", data[:4])[0]
    magic_be = struct.unpack(">I", data[:4])[0]
    if magic_le in (MAGIC_USEC, MAGIC_NSEC):
        e, magic = "<", magic_le
    elif magic_be in (MAGIC_USEC, MAGIC_NSEC):
        e, magic = ">", magic_be
    else:
        raise SystemExit("%s: not a classic pcap file" % path)
    vmaj, vmin, thiszone, sigfigs, snaplen, linktype = struct.unpack(e + "HHiIII", data[4:24])
    recs = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, origlen = struct.unpack(e + "IIII", data[off:off + 16])
        recs.append((sec, frac, origlen, data[off + 16: off + 16 + caplen]))
        off += 16 + caplen
    hdr = dict(magic=magic, vmaj=vmaj, vmin=vmin, thiszone=thiszone, sigfigs=sigfigs,
               snaplen=snaplen, linktype=linktype)
    return hdr, recs


def write_pcap(path, hdr, recs, e="<"):
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", hdr["magic"], hdr["vmaj"], hdr["vmin"],
                            hdr["thiszone"], hdr["sigfigs"], hdr["snaplen"], hdr["linktype"]))
        for sec, frac, origlen, pkt in recs:
            f.write(struct.pack(e + "IIII", sec, frac, len(pkt), origlen))
            f.write(pkt)


def bigendian(src, dst):
    hdr, recs = read_pcap(src)
    write_pcap(dst, hdr, recs, ">")
    print("%s: %d packets, big-endian headers" % (dst, len(recs)))


def null(dst, *srcs):
    out = []
    magic = None
    snaplen = 0
    af6 = [24, 28, 30]
    n6 = 0
    for src in srcs:
        hdr, recs = read_pcap(src)
        if hdr["linktype"] != 1:
            raise SystemExit("%s: link type %d, need Ethernet (1)" % (src, hdr["linktype"]))
        if magic is None:
            magic = hdr["magic"]
        elif magic != hdr["magic"]:
            raise SystemExit("inputs mix microsecond and nanosecond files")
        snaplen = max(snaplen, hdr["snaplen"])
        for sec, frac, origlen, pkt in recs:
            if len(pkt) < 14:
                continue
            ethertype = struct.unpack("!H", pkt[12:14])[0]
            if ethertype == 0x0800:
                af = 2
            elif ethertype == 0x86DD:
                af = af6[n6 % 3]
                n6 += 1
            else:
                continue
            out.append((sec, frac, origlen - 14 + 4, struct.pack("<I", af) + pkt[14:]))
    out.sort(key=lambda r: (r[0], r[1]))
    hdr = dict(magic=magic, vmaj=2, vmin=4, thiszone=0, sigfigs=0, snaplen=snaplen, linktype=0)
    write_pcap(dst, hdr, out, "<")
    print("%s: %d packets, link type NULL" % (dst, len(out)))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "bigendian":
        bigendian(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "null":
        null(sys.argv[2], *sys.argv[3:])
    else:
        print(__doc__)
        sys.exit(2)
