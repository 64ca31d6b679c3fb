#!/usr/bin/env python3
"""Build the seed corpora of the fuzz targets from ../captures (stdlib only).

    python3 fuzz/seed-corpus.py        # writes fuzz/corpus/<target>/ (gitignored)

- capture_reader:  every capture file as it is.
- frame_dissector: every frame of every capture, prefixed with the two selector bytes
                   (little-endian u16) that choose its own link type.
- display_filter:  a list of display filters.
- dns, tls, ftp, smtp, ssh: each direction of each connection on the protocol's port
                   (the payloads in capture order), and each DNS datagram.
- procnet:         this machine's /proc/net/{tcp,tcp6,udp,udp6} and local port range.
"""

import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "..", "captures")
CORPUS = os.path.join(HERE, "corpus")

# Must match netlab_fuzz::LINK_TYPES.
LINK_TYPES = [0, 1, 101, 113, 276, 228, 229, 12, 14, 9999]

FILTERS = [
    "tcp", "udp", "arp", "icmp", "ipv6", "vlan", "!tcp", "tcp or udp",
    "ip.src == 10.99.0.1", "ip.addr == 10.99.0.0/24", "ipv6.dst == fd00:99::2",
    "eth.src == 02:00:00:99:00:01", "tcp.port == 80 && tcp.flags.syn == 1",
    "tcp.flags & 0x12 == 0x12", "frame.len > 100 and not icmp", "udp.length < 20",
    "ip.ttl >= 64 || ipv6.hlim <= 1", "(tcp.srcport == 80) and !(ip.dst == 10.0.0.1)",
    "ip.flags.mf == 1 || ip.frag_offset > 0", "tcp.stream eq 0", "tcp.len != 0",
    'frame.protocols contains "tcp"', "vlan.id in {1 2 100}", "tcp.window_size_value <= 1024",
]


def frames(path):
    """Yields (linktype, frame) for every packet of a pcap or pcapng file."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">" if magic[0] == 0xA1 else "<"
        linktype = struct.unpack(e + "I", data[20:24])[0] & 0x03FFFFFF
        at = 24
        while at + 16 <= len(data):
            caplen = struct.unpack(e + "I", data[at + 8:at + 12])[0]
            yield linktype, data[at + 16:at + 16 + caplen]
            at += 16 + caplen
    elif magic == b"\x0a\x0d\x0d\x0a":
        e, at, ifaces = "<", 0, []
        while at + 12 <= len(data):
            btype = struct.unpack(e + "I", data[at:at + 4])[0]
            if btype == 0x0A0D0D0A:
                e = ">" if data[at + 8:at + 12] == b"\x1a\x2b\x3c\x4d" else "<"
                ifaces = []
            blen = struct.unpack(e + "I", data[at + 4:at + 8])[0]
            if blen < 12:
                break
            body = data[at + 8:at + blen - 4]
            if btype == 1:
                ifaces.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, caplen = struct.unpack(e + "I", body[:4])[0], struct.unpack(e + "I", body[12:16])[0]
                if iface < len(ifaces):
                    yield ifaces[iface], body[20:20 + caplen]
            elif btype == 3 and ifaces:
                yield ifaces[0], body[4:]
            at += blen
    else:
        print("skipping %s: not a capture" % path, file=sys.stderr)


def put(target, blob):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(blob).hexdigest()), "wb") as f:
        f.write(blob)


# Real Engine.IO / Socket.IO messages (protocol docs' examples), 0x00-separated; an odd
# first byte marks a binary message.
SOCKETIO = [
    b"40",
    b"0/admin,{\"token\":\"123\"}",
    b"40{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
    b"44{\"message\":\"Not authorized\"}",
    b"42/admin,456[\"project:delete\",123]",
    b"43/admin,456[]",
    b"451-[\"hello\",{\"_placeholder\":true,\"num\":0}]\x00\x01\x01\x02\x03",
    b"4hello\x1e4\xe2\x82\xac\x1ebAQIDBA==",
    b"2probe\x003probe\x005\x006\x002\x003\x001",
]


def tcp_streams_seed(path):
    """A `tcp_streams` input from a capture's TCP and UDP payloads (see
    src/dissect/fuzz.rs): a server-port selector, then one operation per payload."""
    ops, server = [], None
    for linktype, frame in frames(path):
        ip = {1: frame[14:], 101: frame, 228: frame}.get(linktype)
        if ip is None or len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        hl, proto = (ip[0] & 15) * 4, ip[9]
        seg = ip[hl:]
        if proto not in (6, 17) or len(seg) < 8:
            continue
        sport, dport = struct.unpack("!HH", seg[:4])
        if server is None:
            server = min(sport, dport)
        side = 1 if sport == server else 0
        if proto == 6 and len(seg) >= 20:
            payload, kind = seg[(seg[12] >> 4) * 4:], 0
        else:
            payload, kind = seg[8:], 2
        if payload:
            payload = payload[:65535]
            ops.append(struct.pack("!BBhH", side | kind << 1, 0, 0, len(payload)) + payload)
    if not ops:
        return None
    sel = {80: 0, 8080: 2, 53: 3}.get(server, 1)
    return bytes([sel]) + b"".join(ops)


# The application protocols' fuzz targets, by well-known port (netlab's Protocol::port).
APP_PORTS = {53: "dns", 443: "tls", 21: "ftp", 25: "smtp", 22: "ssh"}


def app_seeds(path):
    """Yields (target, bytes): each direction of each TCP connection on an application
    port (its payloads in capture order), and each DNS datagram."""
    streams = {}
    for linktype, frame in frames(path):
        ip = {1: frame[14:], 101: frame, 228: frame}.get(linktype)
        if ip is None or len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        hl, proto = (ip[0] & 15) * 4, ip[9]
        seg = ip[hl:]
        if proto not in (6, 17) or len(seg) < 8:
            continue
        sport, dport = struct.unpack("!HH", seg[:4])
        port = sport if sport in APP_PORTS else dport if dport in APP_PORTS else None
        if port is None:
            continue
        if proto == 17:
            if seg[8:]:
                yield APP_PORTS[port], seg[8:]
            continue
        if len(seg) < 20:
            continue
        payload = seg[(seg[12] >> 4) * 4:]
        if payload:
            key = (APP_PORTS[port], ip[12:16], sport, ip[16:20], dport)
            streams.setdefault(key, bytearray()).extend(payload)
    for key, data in streams.items():
        yield key[0], bytes(data[:65536])


PROCNET = ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6",
           "/proc/sys/net/ipv4/ip_local_port_range"]


def main():
    n = {"capture_reader": 0, "frame_dissector": 0, "display_filter": 0, "socketio_packets": 0, "tcp_streams": 0}
    for t in APP_PORTS.values():
        n[t] = 0
    for blob in SOCKETIO:
        put("socketio_packets", blob)
        n["socketio_packets"] += 1
    for name in sorted(os.listdir(CAPTURES)):
        if not name.endswith((".pcap", ".pcapng")):
            continue
        path = os.path.join(CAPTURES, name)
        put("capture_reader", open(path, "rb").read())
        n["capture_reader"] += 1
        for target, blob in app_seeds(path):
            put(target, blob)
            n[target] += 1
        seed = tcp_streams_seed(path)
        if seed:
            put("tcp_streams", seed)
            n["tcp_streams"] += 1
        for linktype, frame in frames(path):
            if linktype in LINK_TYPES:
                put("frame_dissector", struct.pack("<H", LINK_TYPES.index(linktype)) + frame)
                n["frame_dissector"] += 1
    for f in FILTERS:
        put("display_filter", f.encode())
        n["display_filter"] += 1
    # procnet: this machine's socket tables and port range, as the kernel writes them.
    n["procnet"] = 0
    for path in PROCNET:
        try:
            put("procnet", open(path, "rb").read())
            n["procnet"] += 1
        except OSError:
            pass
    for target, count in n.items():
        print("%-16s %4d seeds in %s" % (target, count, os.path.join(CORPUS, target)))


if __name__ == "__main__":
    main()
