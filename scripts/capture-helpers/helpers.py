#!/usr/bin/env python3
"""Traffic helpers for scripts/make-captures.sh (stdlib only).

Every helper is meant to run *inside* one of the network namespaces that
make-captures.sh creates (nlcap-a / nlcap-b).  Nothing here picks addresses
by itself: all destinations come from the command line, and the script only
ever passes addresses that exist inside those namespaces.

Subcommands:
  http-server ADDR PORT           tiny HTTP/1.1 server (keep-alive, fixed bodies)
  dns-server ADDR PORT            tiny authoritative DNS server for netlab.test
  dns-query SERVER PORT QNAME QTYPE [ID]
                                  send one DNS query, wait for the answer
  udp-echo ADDR PORT              UDP echo server (dual stack when ADDR is ::)
  udp-send ADDR PORT SIZE         send one SIZE-byte datagram, wait for the echo
  tcp-refused ADDR PORT           connect() to a closed port (SYN -> RST/ACK)
  tcp-abort ADDR PORT             connect, send a line, abort with RST (SO_LINGER 0)
  send-vlan IFACE SRCMAC DSTMAC   AF_PACKET: send 802.1Q / 802.1ad tagged frames
  send-rs IFACE SRCMAC            raw ICMPv6 router solicitation to ff02::2
  send-ra IFACE SRCMAC            raw ICMPv6 router advertisement to ff02::1
  tun-responder TUNNAME           attach to a TUN device, answer ICMP/ICMPv6 echo
"""

import fcntl
import os
import socket
import struct
import sys
import time


# --------------------------------------------------------------------------
# checksums / packet builders
# --------------------------------------------------------------------------

def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4_header(src, dst, proto, payload_len, ident, ttl=64):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000,
                      ttl, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]


def ipv6_header(src, dst, nxt, payload_len, hlim=64):
    return struct.pack("!IHBB16s16s", 0x60000000, payload_len, nxt, hlim,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst))


def l4_csum_v4(src, dst, proto, seg):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, len(seg))
    c = csum(pseudo + seg)
    return c or 0xFFFF


def l4_csum_v6(src, dst, nxt, seg):
    pseudo = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
              + struct.pack("!IxxxB", len(seg), nxt))
    c = csum(pseudo + seg)
    return c or 0xFFFF


def icmp4_echo(src, dst, ident, seq, payload, ipid):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    return ipv4_header(src, dst, 1, len(icmp), ipid) + icmp


def udp4(src, dst, sport, dport, payload, ipid):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    seg = seg[:6] + struct.pack("!H", l4_csum_v4(src, dst, 17, seg)) + seg[8:]
    return ipv4_header(src, dst, 17, len(seg), ipid) + seg


def udp6(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    seg = seg[:6] + struct.pack("!H", l4_csum_v6(src, dst, 17, seg)) + seg[8:]
    return ipv6_header(src, dst, 17, len(seg)) + seg


def mac(s: str) -> bytes:
    return bytes(int(x, 16) for x in s.split(":"))


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

def http_server(addr, port):
    from http.server import BaseHTTPRequestHandler, HTTPServer

    bodies = {
        "/": b"<html><body><h1>netlab</h1><p>hello from nlcap-b</p></body></html>\n",
        "/hello.txt": b"Hello from netlab!\n",
        # ~3 KB so that a response spans several TCP segments
        "/data.txt": b"".join(b"line %04d: the quick brown fox jumps over the lazy dog\n" % i
                              for i in range(56)),
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "netlab-test/1.0"
        sys_version = ""

        def do_GET(self):
            body = bodies.get(self.path)
            status = 200
            ctype = "text/html" if self.path == "/" else "text/plain"
            if body is None:
                status, body, ctype = 404, b"not found\n", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Server(HTTPServer):
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        allow_reuse_address = True

        def handle_error(self, request, client_address):
            pass  # tcp-abort deliberately resets a connection

    Server((addr, int(port)), Handler).serve_forever()


# --------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "TXT": 16, "AAAA": 28}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_qname(msg, off):
    labels = []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1: off + 1 + n].decode())
        off += 1 + n
    return ".".join(labels).lower(), off + 1


def dns_server(addr, port):
    zone = {
        ("netlab.test", 1): [socket.inet_aton("10.99.0.2")],
        ("netlab.test", 28): [socket.inet_pton(socket.AF_INET6, "fd00:99::2")],
        ("www.netlab.test", 1): [socket.inet_aton("10.99.0.2"), socket.inet_aton("10.99.0.3")],
    }
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((addr, int(port)))
    soa = (encode_name("ns.netlab.test") + encode_name("hostmaster.netlab.test")
           + struct.pack("!IIIII", 2024010101, 3600, 600, 86400, 300))
    while True:
        msg, peer = s.recvfrom(4096)
        if len(msg) < 12:
            continue
        qid, flags, qd = struct.unpack("!HHH", msg[:6])
        name, off = decode_qname(msg, 12)
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        question = msg[12:off + 4]
        answers = zone.get((name, qtype), [])
        in_zone = name == "netlab.test" or name.endswith(".netlab.test")
        known = any(n == name for n, _ in zone)
        # NOERROR with data / NODATA, NXDOMAIN for unknown names in the zone,
        # REFUSED (not authoritative) for anything outside netlab.test
        rcode = (0 if known else 3) if in_zone else 5
        rflags = 0x8000 | (0x0400 if in_zone else 0) | (flags & 0x0100) | rcode  # QR AA RD
        an = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(r)) + r for r in answers)
        ns = b""
        nscount = 0
        if in_zone and not answers:  # negative answer: zone SOA in the authority section
            zname_off = 12 + len(encode_name(name)) - len(encode_name("netlab.test"))
            ns = struct.pack("!HHHIH", 0xC000 | zname_off, 6, 1, 300, len(soa)) + soa
            nscount = 1
        hdr = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), nscount, 0)
        s.sendto(hdr + question + an + ns, peer)


def dns_query(server, port, qname, qtype, qid=0x1234):
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    q = struct.pack("!HHHHHH", int(qid, 0) if isinstance(qid, str) else qid, 0x0100, 1, 0, 0, 0)
    q += encode_name(qname) + struct.pack("!HH", QTYPES[qtype], 1)
    s.sendto(q, (server, int(port)))
    resp, _ = s.recvfrom(4096)
    print("dns %s %s: %d-byte answer, rcode %d" % (qname, qtype, len(resp), resp[3] & 0xF))


# --------------------------------------------------------------------------
# UDP / TCP odds and ends
# --------------------------------------------------------------------------

def udp_echo(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((addr, int(port)))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def udp_send(addr, port, size):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    pattern = b"netlab-fragment-test "
    data = (pattern * (int(size) // len(pattern) + 1))[:int(size)]
    s.sendto(data, (addr, int(port)))
    back, _ = s.recvfrom(65535)
    print("udp echo: sent %d, got %d bytes" % (len(data), len(back)))


def tcp_refused(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((addr, int(port)))
        print("unexpected: connected")
        sys.exit(1)
    except ConnectionRefusedError:
        print("connection refused (RST) as expected")


def tcp_abort(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect((addr, int(port)))
    s.sendall(b"GET / HTTP/1.1\r\n")  # incomplete request, then abort
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("connection aborted with RST")


# --------------------------------------------------------------------------
# 802.1Q / 802.1ad frames over AF_PACKET
# --------------------------------------------------------------------------

def vlan_tag(tpid, pcp, dei, vid):
    return struct.pack("!HH", tpid, (pcp << 13) | (dei << 12) | vid)


def send_vlan(iface, srcmac, dstmac):
    src, dst = mac(srcmac), mac(dstmac)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))

    def frame(tags, ethertype, payload):
        f = dst + src + b"".join(tags) + struct.pack("!H", ethertype) + payload
        return f + b"\0" * max(0, 60 - len(f))  # pad to the Ethernet minimum

    ping = b"netlab vlan ping"
    frames = [
        # 1. 802.1Q VID 100, PCP 0: ICMP echo request
        frame([vlan_tag(0x8100, 0, 0, 100)], 0x0800,
              icmp4_echo("10.99.100.1", "10.99.100.2", 0x4E4C, 1, ping, 0x1001)),
        # 2. 802.1Q VID 200, PCP 5: UDP datagram
        frame([vlan_tag(0x8100, 5, 0, 200)], 0x0800,
              udp4("10.99.200.1", "10.99.200.2", 40000, 9999, b"netlab vlan 200 udp", 0x1002)),
        # 3. 802.1Q VID 100: ARP request (who-has 10.99.100.2 tell 10.99.100.1)
        frame([vlan_tag(0x8100, 0, 0, 100)], 0x0806,
              struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src,
                          socket.inet_aton("10.99.100.1"), b"\0" * 6,
                          socket.inet_aton("10.99.100.2"))),
        # 4. 802.1Q VID 100, PCP 3, DEI 1: IPv6 UDP
        frame([vlan_tag(0x8100, 3, 1, 100)], 0x86DD,
              udp6("fd00:99:100::1", "fd00:99:100::2", 40001, 9999, b"netlab vlan v6 udp")),
        # 5. 802.1ad QinQ: outer S-tag 0x88a8 VID 300, inner C-tag 0x8100 VID 100: ICMP echo
        frame([vlan_tag(0x88A8, 0, 0, 300), vlan_tag(0x8100, 0, 0, 100)], 0x0800,
              icmp4_echo("10.99.100.1", "10.99.100.2", 0x4E4C, 2, ping, 0x1003)),
        # 6. 802.1ad QinQ: S-tag VID 300 PCP 7, C-tag VID 200 PCP 5: UDP
        frame([vlan_tag(0x88A8, 7, 0, 300), vlan_tag(0x8100, 5, 0, 200)], 0x0800,
              udp4("10.99.200.1", "10.99.200.2", 40000, 9999, b"netlab qinq udp", 0x1004)),
        # 7. legacy double tag 0x8100/0x8100 (VID 10 then VID 20): ICMP echo
        frame([vlan_tag(0x8100, 0, 0, 10), vlan_tag(0x8100, 0, 0, 20)], 0x0800,
              icmp4_echo("10.99.100.1", "10.99.100.2", 0x4E4C, 3, ping, 0x1005)),
    ]
    for f in frames:
        s.send(f)
        time.sleep(0.05)
    print("sent %d tagged frames on %s" % (len(frames), iface))


# --------------------------------------------------------------------------
# IPv6 router solicitation / advertisement (raw ICMPv6 socket; the kernel
# fills in the ICMPv6 checksum and picks the link-local source address)
# --------------------------------------------------------------------------

def _icmp6_mcast_socket(iface):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    idx = socket.if_nametoindex(iface)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    return s, idx


def send_rs(iface, srcmac):
    s, idx = _icmp6_mcast_socket(iface)
    rs = struct.pack("!BBHI", 133, 0, 0, 0) + struct.pack("!BB6s", 1, 1, mac(srcmac))
    s.sendto(rs, ("ff02::2", 0, 0, idx))
    print("sent router solicitation on", iface)


def send_ra(iface, srcmac):
    s, idx = _icmp6_mcast_socket(iface)
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    ra += struct.pack("!BB6s", 1, 1, mac(srcmac))                       # source link-layer addr
    ra += struct.pack("!BBHI", 5, 1, 0, 1500)                           # MTU
    ra += struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 86400, 14400, 0,   # prefix info, L+A
                      socket.inet_pton(socket.AF_INET6, "fd00:99::"))
    ra += struct.pack("!BBHI16s", 25, 3, 0, 600,                        # RDNSS (RFC 8106)
                      socket.inet_pton(socket.AF_INET6, "fd00:99::2"))
    s.sendto(ra, ("ff02::1", 0, 0, idx))
    print("sent router advertisement on", iface)


# --------------------------------------------------------------------------
# TUN peer: answers pings routed into a TUN device (raw IP, no link header)
# --------------------------------------------------------------------------

def tun_responder(name):
    TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    print("attached to", name, flush=True)
    while True:
        pkt = os.read(fd, 65535)
        if not pkt:
            continue
        ver = pkt[0] >> 4
        if ver == 4 and pkt[9] == 1:
            ihl = (pkt[0] & 0xF) * 4
            icmp = pkt[ihl:]
            if icmp[0] != 8:
                continue
            src, dst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
            reply = struct.pack("!BBH", 0, 0, 0) + icmp[4:]
            reply = reply[:2] + struct.pack("!H", csum(reply)) + reply[4:]
            ipid = struct.unpack("!H", pkt[4:6])[0]
            os.write(fd, ipv4_header(dst, src, 1, len(reply), ipid) + reply)
        elif ver == 6 and pkt[6] == 58 and len(pkt) > 40 and pkt[40] == 128:
            src = socket.inet_ntop(socket.AF_INET6, pkt[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40])
            reply = struct.pack("!BBH", 129, 0, 0) + pkt[44:]
            reply = reply[:2] + struct.pack("!H", l4_csum_v6(dst, src, 58, reply)) + reply[4:]
            os.write(fd, ipv6_header(dst, src, 58, len(reply)) + reply)


COMMANDS = {
    "http-server": http_server,
    "dns-server": dns_server,
    "dns-query": dns_query,
    "udp-echo": udp_echo,
    "udp-send": udp_send,
    "tcp-refused": tcp_refused,
    "tcp-abort": tcp_abort,
    "send-vlan": send_vlan,
    "send-rs": send_rs,
    "send-ra": send_ra,
    "tun-responder": tun_responder,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
