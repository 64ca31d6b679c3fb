#!/usr/bin/env python3
"""Generate a synthetic benchmark pcap for netlab.

Writes a classic pcap file (little-endian, microsecond timestamps, Ethernet
link type) with N packets (default 1,000,000) of a realistic traffic mix:

  * ~70% TCP: a few hundred connections per "epoch" (HTTP on port 80 and a
    binary bulk protocol on port 9000), each with SYN / SYN-ACK / ACK, request
    and response data segments (payload 0..1400 bytes), delayed ACKs and a
    FIN teardown.  SYNs carry MSS, SACK_PERM, timestamps and window scale;
    every other segment carries timestamps.  Sequence/ack numbers and
    timestamps are consistent within each connection.
  * ~20% UDP: DNS queries/answers (port 53), NTP (123), syslog (514) and
    some opaque datagrams between high ports.
  * ~10% ICMP echo request/reply (ICMPv4 and ICMPv6).
  * ~10% of all flows are IPv6, the rest IPv4.

All IPv4 header checksums and TCP/UDP/ICMP(v6) checksums are correct.
Only documentation address ranges are used (192.0.2.0/24, 198.51.100.0/24,
2001:db8::/32) and locally administered MAC addresses.  Nothing is sent
anywhere: this script only writes a file.

Speed: one "epoch" of ~10,000 packets (several hundred flows) is built once.
The output is that epoch repeated with increasing timestamps; for every
repetition the client port / DNS transaction id / ICMP identifier are changed
(with an incremental checksum fix-up, RFC 1624 style) so that every
repetition is a set of new, distinct flows.  1M packets take a few seconds.
Output is deterministic for a given --seed and --count.
"""

import argparse
import ipaddress
import os
import random
import struct
import sys
import time

EPOCH_TARGET = 10_000  # packets per epoch (template pool size)
EPOCH_US = 1_000_000  # epoch length: flows start within it, ~10k packets/s
MAX_PAYLOAD = 1400

TCP_SHARE, UDP_SHARE, ICMP_SHARE = 0.70, 0.20, 0.10
IPV6_SHARE = 0.10

# Client ephemeral port range used for the per-repetition variants.
PORT_LO, PORT_SPAN = 32_768, 28_232  # Linux ip_local_port_range

ETH_CLIENT = bytes.fromhex("020000000001")  # locally administered MACs
ETH_GW = bytes.fromhex("0200000000fe")

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


# --------------------------------------------------------------------------
# checksum helpers
# --------------------------------------------------------------------------
def ones_sum_mod(data):
    """Ones-complement 16-bit word sum of data, as a value mod 0xFFFF.

    Because 2**16 == 1 (mod 0xFFFF), the big-endian integer value of the byte
    string is congruent to the sum of its 16-bit words; the C bigint code does
    the heavy lifting, so this is fast even in pure Python.
    """
    if len(data) & 1:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def finish_checksum(s, udp=False):
    """Turn a word-sum (mod 0xFFFF) into the transmitted checksum value."""
    ck = 0xFFFF - s  # 1..0xFFFF
    if ck == 0xFFFF and not udp:
        ck = 0  # ones-complement sum was 0xFFFF -> checksum 0x0000
    return ck  # for UDP 0xFFFF is the mandated encoding of a zero checksum


def inet_checksum(data, udp=False):
    return finish_checksum(ones_sum_mod(data), udp)


# --------------------------------------------------------------------------
# packet builders
# --------------------------------------------------------------------------
class Endpoints:
    """Addresses and link-layer info of one flow."""

    def __init__(self, v6, client, server, flow_label=0):
        self.v6 = v6
        self.client = client  # packed bytes
        self.server = server
        self.flow_label = flow_label
        self.ip_id = {True: random.randrange(65536), False: random.randrange(65536)}
        self.ttl = {True: 64, False: random.choice((48, 52, 56, 57, 60, 116, 243))}


def build_frame(ep, from_client, proto, l4):
    """Wrap an L4 segment (with checksum already filled) in IP + Ethernet."""
    src, dst = (ep.client, ep.server) if from_client else (ep.server, ep.client)
    if from_client:
        eth = ETH_GW + ETH_CLIENT
    else:
        eth = ETH_CLIENT + ETH_GW
    if ep.v6:
        ip = struct.pack(
            "!IHBB", 0x60000000 | ep.flow_label, len(l4), proto, ep.ttl[from_client]
        ) + src + dst
        return eth + b"\x86\xdd" + ip + l4
    ip_id = ep.ip_id[from_client]
    ep.ip_id[from_client] = (ip_id + 1) & 0xFFFF
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ip_id, 0x4000,
        ep.ttl[from_client], proto, 0, src, dst,
    )
    ck = inet_checksum(hdr)
    hdr = hdr[:10] + struct.pack("!H", ck) + hdr[12:]
    return eth + b"\x08\x00" + hdr + l4


def pseudo_header(ep, from_client, proto, length):
    src, dst = (ep.client, ep.server) if from_client else (ep.server, ep.client)
    if ep.v6:
        return src + dst + struct.pack("!IxxxB", length, proto)
    return src + dst + struct.pack("!xBH", proto, length)


def l4_with_checksum(ep, from_client, proto, seg, ck_off, udp=False):
    ph = pseudo_header(ep, from_client, proto, len(seg))
    ck = inet_checksum(ph + seg, udp)
    return seg[:ck_off] + struct.pack("!H", ck) + seg[ck_off + 2:]


# A packet in the pool: (time_us, frame_bytes, l4_offset, ck_rel_offset, udp,
#                        fields) where fields is a tuple of
# (rel_offset, base_value, lo, span, step) 16-bit fields that change per
# repetition: new = lo + (base - lo + rep * step) % span
class Pool:
    def __init__(self):
        self.pkts = []
        self.counts = {"tcp": 0, "udp": 0, "icmp": 0, "v6": 0}

    def add(self, t, ep, from_client, proto, seg, ck_off, fields, kind, udp=False):
        l4 = l4_with_checksum(ep, from_client, proto, seg, ck_off, udp)
        frame = build_frame(ep, from_client, proto, l4)
        l4_off = 14 + (40 if ep.v6 else 20)
        self.pkts.append((t, frame, l4_off, ck_off, udp, fields))
        self.counts[kind] += 1
        if ep.v6:
            self.counts["v6"] += 1


def rand_client(v6):
    if v6:
        return ipaddress.IPv6Address(
            "2001:db8:1::%x" % random.randrange(1, 0x1000)
        ).packed
    return ipaddress.IPv4Address("192.0.2.%d" % random.randrange(1, 255)).packed


def rand_server(v6):
    if v6:
        return ipaddress.IPv6Address(
            "2001:db8:2::%x" % random.randrange(1, 0x40)
        ).packed
    return ipaddress.IPv4Address("198.51.100.%d" % random.randrange(1, 64)).packed


# --------------------------------------------------------------------------
# TCP connections
# --------------------------------------------------------------------------
def tcp_opts_syn(tsval, tsecr):
    # MSS 1460, SACK_PERM, TS, NOP, WS 7  (Linux order) = 20 bytes
    return (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02"
            + struct.pack("!BBII", 8, 10, tsval, tsecr) + b"\x01" + b"\x03\x03\x07")


def tcp_opts_ts(tsval, tsecr):
    return b"\x01\x01" + struct.pack("!BBII", 8, 10, tsval, tsecr)  # 12 bytes


def tcp_flow(pool, conn_idx, start_us):
    v6 = random.random() < IPV6_SHARE
    ep = Endpoints(v6, rand_client(v6), rand_server(v6), random.randrange(1 << 20))
    http = random.random() < 0.6
    sport = PORT_LO + conn_idx % PORT_SPAN
    dport = 80 if http else 9000
    rtt = random.choice((200, 500, 1_000, 5_000, 20_000, 60_000))  # us
    rtt = int(rtt * random.uniform(0.8, 1.2))
    cseq = random.randrange(1 << 32)
    sseq = random.randrange(1 << 32)
    cts0 = random.randrange(1 << 31)
    sts0 = random.randrange(1 << 31)
    last_ts = {True: 0, False: 0}  # last TSval sent by client/server
    # port field of the client: offset 0 when client->server, 2 otherwise
    n_tcp = [None]  # step filled in later (number of TCP flows per epoch)
    t = start_us
    state = {"c": cseq, "s": sseq}

    def send(from_client, flags, payload=b"", syn_opts=False, at=None):
        nonlocal t
        if at is not None:
            t = at
        me, peer = ("c", "s") if from_client else ("s", "c")
        tsval = (cts0 if from_client else sts0) + t // 1000
        tsecr = last_ts[not from_client]
        last_ts[from_client] = tsval
        opts = tcp_opts_syn(tsval, tsecr) if syn_opts else tcp_opts_ts(tsval, tsecr)
        ack = 0 if (flags & ACK) == 0 else state[peer]
        win = 64240 if syn_opts else random.choice((501, 502, 509, 512, 1024, 2048))
        if syn_opts and from_client:
            win = 64240
        elif syn_opts:
            win = 65160
        src, dst = (sport, dport) if from_client else (dport, sport)
        hlen = 20 + len(opts)
        seg = struct.pack("!HHIIBBHHH", src, dst, state[me], ack,
                          (hlen // 4) << 4, flags, win, 0, 0) + opts + payload
        fields = ((0 if from_client else 2, sport, PORT_LO, PORT_SPAN, n_tcp),)
        pool.add(t, ep, from_client, 6, seg, 16, fields, "tcp")
        adv = len(payload) + (1 if flags & (SYN | FIN) else 0)
        state[me] = (state[me] + adv) & 0xFFFFFFFF

    # handshake (captured at the client side)
    send(True, SYN, syn_opts=True)
    send(False, SYN | ACK, syn_opts=True, at=t + rtt)
    send(True, ACK, at=t + random.randint(5, 60))

    rounds = random.choice((1, 1, 1, 2, 3)) if http else random.choice((1, 2))
    for r in range(rounds):
        # request
        if http:
            path = "/%s/%d" % (random.choice(("static", "api/v1", "img", "docs")),
                               random.randrange(100000))
            body_len = random.choice((0, 0, 150, 512, 1500, 2500, 4096, 8000, 16000, 40000))
            body_len = int(body_len * random.uniform(0.5, 1.5))
            req = ("GET %s HTTP/1.1\r\nHost: www.netlab.test\r\n"
                   "User-Agent: netlab-bench/1.0\r\nAccept: */*\r\n"
                   "Connection: keep-alive\r\n\r\n" % path).encode()
            resp = ("HTTP/1.1 200 OK\r\nServer: bench\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    "Content-Length: %d\r\n\r\n" % body_len).encode()
            resp += random.randbytes(body_len)
        else:
            req = random.randbytes(random.randint(16, 600))
            resp = random.randbytes(random.choice((0, 64, 200, 1000, 3000, 8000, 30000)))
        send(True, PSH | ACK, req, at=t + random.randint(20, 2000))
        t_srv = t + rtt // 2 * 2 + random.randint(50, 3000)
        if len(resp) == 0:
            send(False, ACK, at=t + rtt)
            continue
        if random.random() < 0.3:
            send(False, ACK, at=t + rtt)  # bare ACK of the request
        t = max(t, t_srv)
        off, nseg = 0, 0
        while off < len(resp):
            chunk = resp[off:off + MAX_PAYLOAD]
            off += len(chunk)
            nseg += 1
            last = off >= len(resp)
            send(False, (PSH | ACK) if last else ACK, chunk,
                 at=t + 12 + len(chunk) // 120)
            if nseg % 2 == 0 or last:
                send(True, ACK, at=t + random.randint(3, 40))
    # teardown: client closes
    send(True, FIN | ACK, at=t + random.randint(100, 50_000))
    send(False, FIN | ACK, at=t + rtt)
    send(True, ACK, at=t + random.randint(5, 60))
    return n_tcp


# --------------------------------------------------------------------------
# UDP flows
# --------------------------------------------------------------------------
DNS_NAMES = [
    "www.netlab.test", "netlab.test", "api.netlab.test", "mail.netlab.test",
    "cdn%d.netlab.test", "host%d.test", "svc%d.corp.test", "static.netlab.test",
    "img%d.netlab.test", "login.netlab.test", "updates.netlab.test",
]


def dns_name(name):
    out = b""
    for label in name.split("."):
        out += bytes((len(label),)) + label.encode()
    return out + b"\0"


def udp_seg(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def udp_flow(pool, flow_idx, start_us):
    v6 = random.random() < IPV6_SHARE
    ep = Endpoints(v6, rand_client(v6), rand_server(v6), random.randrange(1 << 20))
    step = [None]
    sport = PORT_LO + flow_idx % PORT_SPAN
    kind = random.random()
    t = start_us
    if kind < 0.65:  # DNS query + answer
        name = random.choice(DNS_NAMES)
        if "%d" in name:
            name = name % random.randrange(1, 50)
        qtype = 28 if (v6 or random.random() < 0.3) else 1
        txid = random.randrange(65536)
        q = struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 1 if random.random() < 0.5 else 0)
        q += dns_name(name) + struct.pack("!HH", qtype, 1)
        if q[11] == 1:  # EDNS0 OPT record
            q += b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
        fields_q = ((0, sport, PORT_LO, PORT_SPAN, step), (8, txid, 0, 65536, [40503]))
        pool.add(t, ep, True, 17, udp_seg(sport, 53, q), 6, fields_q, "udp", udp=True)
        rcode = 3 if random.random() < 0.05 else 0
        nans = 0 if rcode else random.randint(1, 4)
        a = struct.pack("!HHHHHH", txid, 0x8180 | rcode, 1, nans, 0, 0)
        a += dns_name(name) + struct.pack("!HH", qtype, 1)
        for _ in range(nans):
            if qtype == 1:
                rdata = bytes((198, 51, 100, random.randrange(1, 255)))
            else:
                rdata = ipaddress.IPv6Address(
                    "2001:db8:%x::%x" % (random.randrange(1, 0xffff), random.randrange(1, 0xffff))).packed
            a += struct.pack("!HHHIH", 0xC00C, qtype, 1, random.choice((60, 300, 3600)),
                             len(rdata)) + rdata
        fields_a = ((2, sport, PORT_LO, PORT_SPAN, step), (8, txid, 0, 65536, [40503]))
        t += random.randint(300, 40_000)
        pool.add(t, ep, False, 17, udp_seg(53, sport, a), 6, fields_a, "udp", udp=True)
    elif kind < 0.75:  # NTP client/server exchange
        req = bytes((0x23,)) + bytes(39) + struct.pack("!II", 0xE9000000 + flow_idx, random.randrange(1 << 32))
        pool.add(t, ep, True, 17, udp_seg(sport, 123, req), 6,
                 ((0, sport, PORT_LO, PORT_SPAN, step),), "udp", udp=True)
        resp = bytes((0x24, 2, 0, 0xE9)) + random.randbytes(44)
        t += random.randint(500, 30_000)
        pool.add(t, ep, False, 17, udp_seg(123, sport, resp), 6,
                 ((2, sport, PORT_LO, PORT_SPAN, step),), "udp", udp=True)
    elif kind < 0.85:  # syslog, one-way, a few messages
        for i in range(random.randint(1, 4)):
            msg = ("<%d>Nov 25 12:00:%02d host%d app[%d]: event %d status=ok\n" % (
                random.choice((13, 30, 86, 134)), i, flow_idx % 100, flow_idx, i)).encode()
            pool.add(t, ep, True, 17, udp_seg(sport, 514, msg), 6,
                     ((0, sport, PORT_LO, PORT_SPAN, step),), "udp", udp=True)
            t += random.randint(1000, 200_000)
    else:  # opaque datagrams between high ports (games, VoIP-ish)
        dport = random.choice((20000, 27015, 40000, 50000))
        for i in range(random.randint(2, 8)):
            fc = i % 2 == 0
            pl = bytearray(random.randbytes(random.randint(20, 1200)))
            pl[0] &= 0x3F  # not RTP/RTCP version 2: avoid heuristic misdecodes
            pl = bytes(pl)
            seg = udp_seg(sport, dport, pl) if fc else udp_seg(dport, sport, pl)
            pool.add(t, ep, fc, 17, seg, 6,
                     ((0 if fc else 2, sport, PORT_LO, PORT_SPAN, step),), "udp", udp=True)
            t += random.randint(5_000, 30_000)
    return step


# --------------------------------------------------------------------------
# ICMP echo
# --------------------------------------------------------------------------
def icmp_flow(pool, flow_idx, start_us):
    v6 = random.random() < IPV6_SHARE
    ep = Endpoints(v6, rand_client(v6), rand_server(v6), random.randrange(1 << 20))
    step = [None]
    ident = flow_idx & 0xFFFF
    rtt = random.randint(200, 60_000)
    t = start_us
    data = struct.pack("!Q", start_us) + bytes(range(0x10, 0x38))  # 56 bytes like ping
    proto, req_t, rep_t = (58, 128, 129) if v6 else (1, 8, 0)
    for seq in range(1, random.randint(1, 5) + 1):
        for fc, typ in ((True, req_t), (False, rep_t)):
            seg = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
            if v6:
                pool.add(t, ep, fc, proto, seg, 2, ((4, ident, 0, 65536, step),), "icmp")
            else:
                # ICMPv4 checksum has no pseudo header
                seg = seg[:2] + struct.pack("!H", inet_checksum(seg)) + seg[4:]
                frame = build_frame(ep, fc, proto, seg)
                pool.pkts.append((t, frame, 34, 2, False, ((4, ident, 0, 65536, step),)))
                pool.counts["icmp"] += 1
            t += rtt if fc else 1_000_000 - rtt  # one ping per second
    return step


# --------------------------------------------------------------------------
def build_epoch(seed):
    random.seed(seed)
    pool = Pool()
    span_us = EPOCH_US  # flows start uniformly within the epoch
    steps = {"tcp": [], "udp": [], "icmp": []}
    n = {"tcp": 0, "udp": 0, "icmp": 0}
    target = {"tcp": EPOCH_TARGET * TCP_SHARE, "udp": EPOCH_TARGET * UDP_SHARE,
              "icmp": EPOCH_TARGET * ICMP_SHARE}
    gens = {"tcp": tcp_flow, "udp": udp_flow, "icmp": icmp_flow}
    # interleave generation so that all kinds are spread over the epoch
    while any(pool.counts[k] < target[k] for k in target):
        for k in ("tcp", "udp", "icmp"):
            if pool.counts[k] < target[k]:
                steps[k].append(gens[k](pool, n[k], random.randrange(span_us)))
                n[k] += 1
    # each repetition moves flows by the number of flows of their kind, so
    # (kind, flow, rep) -> distinct port / identifier
    for k in steps:
        for s in steps[k]:
            s[0] = n[k]
    return pool, n


def write_pcap(path, count, seed, quiet=False, label=None):
    t0 = time.time()
    pool, nflows = build_epoch(seed)
    # The epoch is laid out on a circular time line of EPOCH_US.  A packet at
    # relative time t is emitted in output window w = rep + t // EPOCH_US at
    # offset t % EPOCH_US, with the field values of repetition `rep`.  So the
    # tail of a long flow spills into the next window (keeping its own ports),
    # packet density stays uniform, and timestamps are strictly ordered.
    prep = []
    for (t, frame, l4_off, ck_off, udp, fields) in pool.pkts:
        flds = tuple((l4_off + off, base, lo, span, step[0])
                     for (off, base, lo, span, step) in fields)
        prep.append((t % EPOCH_US, t // EPOCH_US, frame, l4_off + ck_off, udp, flds))
    prep.sort(key=lambda p: p[0])
    t_build = time.time() - t0

    base_us = 1_700_000_000 * 1_000_000  # 2023-11-14, arbitrary
    pack_rec = struct.Struct("<IIII").pack
    pack_h = struct.Struct("!H").pack_into
    unpack_h = struct.Struct("!H").unpack_from
    written = 0
    window = 0
    total_bytes = 0
    with open(path, "wb", buffering=1 << 22) as f:
        # global header: magic, v2.4, thiszone, sigfigs, snaplen, LINKTYPE_ETHERNET
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while written < count:
            out = []
            w_off = base_us + window * EPOCH_US
            for (t, lag, frame, ck_abs, udp, flds) in prep:
                rep = window - lag
                if rep < 0:
                    continue  # would belong to a repetition before the first
                if written >= count:
                    break
                if rep:
                    buf = bytearray(frame)
                    delta = 0
                    for (off, base, lo, span, step) in flds:
                        nv = lo + (base - lo + rep * step) % span
                        pack_h(buf, off, nv)
                        delta += nv - base
                    s = ((0xFFFF - unpack_h(buf, ck_abs)[0]) + delta) % 0xFFFF
                    ck = 0xFFFF - s
                    if ck == 0xFFFF and not udp:
                        ck = 0
                    pack_h(buf, ck_abs, ck)
                else:
                    buf = frame
                ts = w_off + t
                n = len(buf)
                out.append(pack_rec(ts // 1_000_000, ts % 1_000_000, n, n))
                out.append(buf)
                total_bytes += n
                written += 1
            f.write(b"".join(out))
            window += 1
    el = time.time() - t0
    if not quiet:
        c = pool.counts
        tot = len(pool.pkts)
        print("%s: %d packets, %.1f MB, %d window(s) of %d packets/s "
              "(%d TCP conns, %d UDP flows, %d ICMP flows per epoch; "
              "TCP %.0f%% UDP %.0f%% ICMP %.0f%% IPv6 %.0f%%); "
              "pool built in %.2fs, total %.2fs" % (
                  label or path, written, (total_bytes + 16 * written + 24) / 1e6, window, tot,
                  nflows["tcp"], nflows["udp"], nflows["icmp"],
                  100 * c["tcp"] / tot, 100 * c["udp"] / tot, 100 * c["icmp"] / tot,
                  100 * c["v6"] / tot, t_build, el), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", help="pcap file to write")
    ap.add_argument("--count", "-c", type=int, default=1_000_000,
                    help="number of packets (default 1000000)")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    ap.add_argument("--quiet", "-q", action="store_true")
    a = ap.parse_args()
    if a.count < 1:
        ap.error("--count must be >= 1")
    tmp = a.output + ".tmp%d" % os.getpid()
    try:
        write_pcap(tmp, a.count, a.seed, a.quiet, a.output)
        os.replace(tmp, a.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


if __name__ == "__main__":
    main()
