#!/usr/bin/env python3
"""Generate a stream-heavy benchmark pcap for `netlab dissect` (reassembly).

Thousands of TCP conversations on port 80, many open at the same time, each
one either

  * HTTP/1.1 keep-alive: 1-5 requests on one connection; responses with
    Content-Length bodies (0 B .. 40 KB, 2% of them 120 KB; most span
    several segments) or
    chunked bodies (chunks across segment boundaries, several chunks in one
    segment); some POSTs whose body spans segments; heads that are split
    across two segments now and then; or
  * WebSocket: an HTTP Upgrade (real Sec-WebSocket-Key/Accept pair), then
    10-80 messages each way: masked client frames, unmasked server frames,
    text (Socket.IO-like JSON) and binary, 7-bit / 16-bit / some 64-bit
    lengths; small frames are packed several to a segment, large ones span
    segments; a ping/pong now and then; a close handshake (1000) at the end.

Every conversation has the handshake, in-order data in MSS-sized segments
(1448 bytes of payload, timestamps option as Linux sends it), delayed ACKs,
and a FIN teardown.  IPv4 header and TCP checksums are correct.  Only
documentation addresses (192.0.2.0/24 clients, 198.51.100.0/24 servers) and
locally administered MACs are used.  This script only writes a file.

Output is deterministic for a given --seed and --conversations.

  scripts/gen-bench-streams.py [--conversations N] [--seed S] [--gap-us US] OUT.pcap
"""

import argparse
import base64
import hashlib
import heapq
import json
import random
import struct
import sys

MSS = 1448
ETH_CLIENT = bytes.fromhex("020000000001")
ETH_SERVER = bytes.fromhex("0200000000fe")
FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def checksum(data):
    if len(data) & 1:
        data += b"\0"
    s = int.from_bytes(data, "big") % 0xFFFF
    ck = 0xFFFF - s
    return 0 if ck == 0xFFFF else ck


class Conn:
    """One TCP connection seen from a capture point next to the client."""

    def __init__(self, rng, idx, t0):
        self.rng = rng
        self.t = t0
        self.cip = bytes((192, 0, 2, 1 + idx % 250))
        self.sip = bytes((198, 51, 100, 1 + (idx // 250) % 60))
        self.cport = 20000 + idx % 40000
        self.sport = 80
        self.seq = {True: rng.randrange(1 << 32), False: rng.randrange(1 << 32)}
        self.ipid = {True: rng.randrange(65536), False: rng.randrange(65536)}
        self.ts = {True: rng.randrange(1 << 30), False: rng.randrange(1 << 30)}
        self.last_ts = {True: 0, False: 0}
        self.unacked = {True: 0, False: 0}   # segments not yet acked, per sender
        self.rtt = rng.choice((100, 300, 1000, 4000, 15000))  # us
        self.out = []   # (t_us, frame)

    # -- packets -----------------------------------------------------------
    def _seg(self, from_client, flags, payload=b"", syn=False):
        me, peer = from_client, not from_client
        tsval = (self.ts[me] + self.t // 1000) & 0xFFFFFFFF
        tsecr = self.last_ts[peer]
        self.last_ts[me] = tsval
        if syn:
            opts = (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02"
                    + struct.pack("!BBII", 8, 10, tsval, tsecr) + b"\x01\x03\x03\x07")
            win = 64240 if from_client else 65160
        else:
            opts = b"\x01\x01" + struct.pack("!BBII", 8, 10, tsval, tsecr)
            win = 502 if from_client else 509
        ack = self.seq[peer] if flags & ACK else 0
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        src, dst = (self.cip, self.sip) if from_client else (self.sip, self.cip)
        hlen = 20 + len(opts)
        tcp = struct.pack("!HHIIBBHHH", sp, dp, self.seq[me], ack, (hlen // 4) << 4,
                          flags, win, 0, 0) + opts + payload
        pseudo = src + dst + struct.pack("!xBH", 6, len(tcp))
        ck = checksum(pseudo + tcp)
        tcp = tcp[:16] + struct.pack("!H", ck) + tcp[18:]
        ipid = self.ipid[me]
        self.ipid[me] = (ipid + 1) & 0xFFFF
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ipid, 0x4000,
                         64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        eth = (ETH_SERVER + ETH_CLIENT) if from_client else (ETH_CLIENT + ETH_SERVER)
        self.out.append((self.t, eth + b"\x08\x00" + ip + tcp))
        adv = len(payload) + (1 if flags & (SYN | FIN) else 0)
        self.seq[me] = (self.seq[me] + adv) & 0xFFFFFFFF

    def step(self, lo, hi):
        self.t += self.rng.randint(lo, hi)

    def handshake(self):
        self._seg(True, SYN, syn=True)
        self.step(self.rtt, self.rtt)
        self._seg(False, SYN | ACK, syn=True)
        self.step(5, 40)
        self._seg(True, ACK)

    def send(self, from_client, data, cut=None):
        """Send a byte stream as MSS-sized segments (or cut at the given
        offsets first); the peer ACKs every second segment."""
        pieces = []
        if cut:
            prev = 0
            for c in sorted(cut) + [len(data)]:
                if c > prev:
                    pieces.append(data[prev:c])
                prev = max(prev, c)
        else:
            pieces = [data]
        chunks = []
        for p in pieces:
            chunks.extend(p[i:i + MSS] for i in range(0, len(p), MSS))
        for i, c in enumerate(chunks):
            last = i == len(chunks) - 1
            self.step(2, 30)
            self._seg(from_client, (PSH | ACK) if last else ACK, c)
            self.unacked[from_client] += 1
            if self.unacked[from_client] >= 2 or last:
                self.step(3, 60)
                self._seg(not from_client, ACK)
                self.unacked[from_client] = 0

    def teardown(self):
        self.step(50, 5000)
        self._seg(True, FIN | ACK)
        self.step(self.rtt, self.rtt)
        self._seg(False, FIN | ACK)
        self.step(5, 40)
        self._seg(True, ACK)


# --------------------------------------------------------------------------
WORDS = ("packet", "frame", "segment", "layer", "socket", "stream", "window", "ack",
         "retransmit", "header", "payload", "checksum", "latency", "route", "onion")


def text(rng, n):
    out = []
    size = 0
    while size < n:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return (" ".join(out)[:n]).encode()


def http_conv(c, stats):
    rng = c.rng
    c.handshake()
    for r in range(rng.randint(1, 5)):
        post = rng.random() < 0.15
        path = "/%s/%d" % (rng.choice(("static", "api/v1/items", "img", "docs")), rng.randrange(10**6))
        body = b""
        head = "%s %s HTTP/1.1\r\nHost: www.netlab.test\r\nUser-Agent: netlab-bench/1.0\r\nAccept: */*\r\n" % (
            "POST" if post else "GET", path)
        if post:
            body = json.dumps({"items": [text(rng, 40).decode() for _ in range(rng.randint(5, 80))]}).encode()
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        req = (head + "\r\n").encode() + body
        cut = [rng.randrange(10, len(head))] if rng.random() < 0.1 else None  # head split
        c.step(50, 3000)
        c.send(True, req, cut)
        stats["http_requests"] += 1
        c.step(c.rtt, c.rtt + 2000)
        kind = rng.random()
        if kind < 0.25:   # chunked
            chunks = [text(rng, rng.choice((30, 200, 1000, 3000, 6000))) for _ in range(rng.randint(2, 8))]
            resp = (b"HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n")
            resp += b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in chunks) + b"0\r\n\r\n"
            stats["chunked"] += 1
        else:
            n = rng.choice((0, 120, 400, 900, 2500, 2500, 6000, 15000, 40000))
            if rng.random() < 0.02:
                n = 120000
            if rng.random() < 0.5:
                b = text(rng, n)
                ctype = "text/html; charset=utf-8"
            else:
                b = rng.randbytes(n)
                ctype = "application/octet-stream"
            code = "404 Not Found" if rng.random() < 0.05 else "200 OK"
            resp = ("HTTP/1.1 %s\r\nServer: bench\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
                code, ctype, len(b))).encode() + b
        stats["http_bytes"] += len(resp)
        c.send(False, resp)
    c.teardown()


def ws_frame(rng, opcode, payload, masked):
    b0 = 0x80 | opcode
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        hdr = bytes((b0, m | n))
    elif n < 65536:
        hdr = bytes((b0, m | 126)) + struct.pack("!H", n)
    else:
        hdr = bytes((b0, m | 127)) + struct.pack("!Q", n)
    if masked:
        key = rng.randbytes(4)
        k = (key * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big") if n else b""
        hdr += key
    return hdr + payload


def ws_conv(c, stats):
    rng = c.rng
    c.handshake()
    key = base64.b64encode(rng.randbytes(16))
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    req = (b"GET /chat?room=%d HTTP/1.1\r\nHost: www.netlab.test\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           b"User-Agent: netlab-bench/1.0\r\n\r\n" % (rng.randrange(1000), key))
    c.step(50, 2000)
    c.send(True, req)
    c.step(c.rtt, c.rtt + 500)
    c.send(False, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: %s\r\n\r\n" % accept)
    stats["ws_conversations"] += 1
    for burst in range(rng.randint(3, 10)):
        from_client = rng.random() < 0.5
        frames = []
        for _ in range(rng.randint(1, 6)):   # several frames written together
            r = rng.random()
            if r < 0.6:
                p = ('42["chat",{"from":"u%d","text":"%s"}]' % (
                    rng.randrange(100), text(rng, rng.choice((5, 20, 60, 200))).decode())).encode()
                op = 1
            elif r < 0.85:
                p = ('42["state",%s]' % json.dumps([text(rng, 30).decode() for _ in range(rng.randint(10, 120))])).encode()
                op = 1
            elif r < 0.995:
                p = rng.randbytes(rng.choice((16, 300, 2000, 5000)))
                op = 2
            else:
                p = rng.randbytes(rng.choice((70000, 90000)))   # 64-bit length
                op = 2
            frames.append(ws_frame(rng, op, p, from_client))
            stats["ws_frames"] += 1
        if rng.random() < 0.1:
            frames.append(ws_frame(rng, 9, b"ping", from_client))
            stats["ws_frames"] += 1
        data = b"".join(frames)
        stats["ws_bytes"] += len(data)
        c.step(200, 20000)
        c.send(from_client, data)
    close = struct.pack("!H", 1000) + b"bye"
    c.step(100, 5000)
    c.send(True, ws_frame(rng, 8, close, True))
    c.step(c.rtt, c.rtt)
    c.send(False, ws_frame(rng, 8, close, False))
    stats["ws_frames"] += 2
    c.teardown()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--conversations", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--gap-us", type=int, default=2000,
                    help="time between conversation starts (smaller: more open at once)")
    ap.add_argument("--ws-share", type=float, default=0.4)
    a = ap.parse_args()

    stats = {k: 0 for k in ("packets", "bytes", "http_conversations", "http_requests", "chunked",
                            "http_bytes", "ws_conversations", "ws_frames", "ws_bytes")}
    rng = random.Random(a.seed)
    # a conversation starts every `gap` us (jittered); each lasts ~10-300 ms,
    # so with the default about a hundred are open at any time
    gap = a.gap_us
    heap = []   # (t, seq, frame)
    seq = 0
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

        def flush(until):
            while heap and heap[0][0] < until:
                t, _, frame = heapq.heappop(heap)
                f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)))
                f.write(frame)
                stats["packets"] += 1
                stats["bytes"] += len(frame)

        for i in range(a.conversations):
            t0 = 1_700_000_000_000_000 + i * gap + rng.randrange(gap)
            flush(t0)
            # each conversation has its own generator, seeded from the main one
            c = Conn(random.Random(rng.randrange(1 << 62)), i, t0)
            if c.rng.random() < a.ws_share:
                ws_conv(c, stats)
            else:
                stats["http_conversations"] += 1
                http_conv(c, stats)
            for t, frame in c.out:
                seq += 1
                heapq.heappush(heap, (t, seq, frame))
        flush(1 << 62)
    print(" ".join("%s=%d" % kv for kv in stats.items()))


if __name__ == "__main__":
    sys.exit(main())
