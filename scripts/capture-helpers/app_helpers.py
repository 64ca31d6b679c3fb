#!/usr/bin/env python3
"""Peers and tools for scripts/make-app-captures.sh (stdlib only, except
`smtp-server`, which needs Debian's python3-aiosmtpd).

Every subcommand runs *inside* a network namespace that make-app-captures.sh
created.  Nothing here chooses an address: all of them come from the command
line, and the script only passes addresses of its own namespaces.

Subcommands:
  http-server ADDR PORT        HTTP/1.1 keep-alive server (http.server, own handler)
  ftp-client HOST USER PASS    ftplib session: FEAT, SYST, PWD, PASV LIST, EPSV RETR,
                               PASV RETR, QUIT
  smtp-server ADDR PORT HOST   aiosmtpd server named HOST; prints each message
  bulk-recv ADDR PORT MODE     TCP receiver; MODE fast (reads at once) or slow
                               (4 KB SO_RCVBUF, sleeps before reading, reads slowly)
  bulk-send HOST PORT BYTES    TCP sender of BYTES deterministic bytes
  keepalive HOST PORT IDLE     connect with SO_KEEPALIVE, TCP_KEEPIDLE=1 s, send a
                               line, stay idle IDLE seconds, close
  relay IF1 IF2 SEED PCT DELAY_MS
                               AF_PACKET bridge between IF1 and IF2 that holds PCT %
                               of the IPv4 TCP data frames from IF1 for DELAY_MS (so
                               that later frames overtake them): a user-space
                               reorderer, since this kernel has no sch_netem
"""

import heapq
import random
import select
import socket
import struct
import sys
import time


# --------------------------------------------------------------------------
# HTTP/1.1
# --------------------------------------------------------------------------

def http_server(addr, port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    index = (b"<!doctype html>\n<html><head><title>netlab</title></head>\n"
             b"<body><h1>netlab.test</h1><p>HTTP/1.1, one connection, five requests.</p>"
             b"</body></html>\n")
    # 100 KiB of numbered text lines: readable in a hex dump, and any lost or
    # reordered segment shows as a broken line count.
    lines = []
    n = 0
    while sum(map(len, lines)) < 102400:
        n += 1
        lines.append(b"line %05d of the large body: the quick brown fox jumps over the lazy dog\n" % n)
    large = b"".join(lines)[:102400]
    chunks = [b"This body is sent in chunks.\n", b"Each chunk is preceded by its size in hex,\n",
              b"and the last chunk has size zero.\n" * 3, b"0123456789abcdef" * 4, b"done.\n"]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"      # keep-alive, Content-Length or chunked
        server_version = "netlab-capture/1.0"

        def version_string(self):
            return self.server_version

        def log_message(self, fmt, *args):
            sys.stderr.write("http-server: " + (fmt % args) + "\n")

        def send_body(self, code, ctype, body):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/":
                self.send_body(200, "text/html; charset=utf-8", index)
            elif self.path == "/large.txt":
                self.send_body(200, "text/plain; charset=utf-8", large)
            elif self.path == "/chunked":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                for c in chunks:
                    # one write (and, with the pause, one TCP segment) per chunk
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                    self.wfile.flush()
                    time.sleep(0.05)
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_body(404, "text/html; charset=utf-8",
                               b"<!doctype html>\n<title>404 Not Found</title>\n"
                               b"<p>Nothing at " + self.path.encode() + b"</p>\n")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            body = b'{"received_bytes": %d, "content_type": "%s"}\n' % (
                len(data), self.headers.get("Content-Type", "").encode())
            self.send_body(201, "application/json", body)

    ThreadingHTTPServer.address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer((addr, int(port)), Handler)
    srv.daemon_threads = True
    print("http-server: listening", flush=True)
    srv.serve_forever()


# --------------------------------------------------------------------------
# FTP client (python ftplib), choosing PASV or EPSV per transfer
# --------------------------------------------------------------------------

def ftp_client(host, user, password):
    import ftplib

    class Client(ftplib.FTP):
        mode = "PASV"

        def makepasv(self):
            # ftplib uses PASV on IPv4 and EPSV on IPv6; here the caller chooses.
            if self.mode == "PASV":
                return ftplib.parse227(self.sendcmd("PASV"))
            return ftplib.parse229(self.sendcmd("EPSV"), self.sock.getpeername())

    ftp = Client()
    ftp.set_debuglevel(1)
    print(ftp.connect(host, 21, timeout=10))
    print(ftp.login(user, password))
    print(ftp.sendcmd("FEAT"))               # multi-line 211 reply
    print(ftp.sendcmd("SYST"))
    print(ftp.pwd())
    ftp.mode = "PASV"
    ftp.retrlines("LIST")                    # directory listing on a PASV data connection
    ftp.mode = "EPSV"
    data = []
    ftp.retrbinary("RETR hello.txt", data.append)   # TYPE I, EPSV, RETR
    ftp.mode = "PASV"
    ftp.retrlines("RETR notes.txt")          # TYPE A, PASV, RETR
    print(ftp.quit())
    sys.stdout.write(b"".join(data).decode())


# --------------------------------------------------------------------------
# SMTP server (aiosmtpd)
# --------------------------------------------------------------------------

def smtp_server(addr, port, hostname):
    import asyncio
    from aiosmtpd.smtp import SMTP

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            print("smtp-server: message from %s to %s, %d bytes" % (
                envelope.mail_from, ",".join(envelope.rcpt_tos), len(envelope.content)), flush=True)
            print(envelope.content.decode("utf-8", "replace"), flush=True)
            return "250 OK: message accepted for delivery"

    async def main():
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(
            lambda: SMTP(Handler(), hostname=hostname, ident="netlab-capture aiosmtpd"),
            host=addr, port=int(port))
        print("smtp-server: listening", flush=True)
        await srv.serve_forever()

    asyncio.run(main())


# --------------------------------------------------------------------------
# TCP loss capture peers
# --------------------------------------------------------------------------

def pattern(n):
    block = bytes(range(256)) * 64   # 16 KiB
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def bulk_recv(addr, port, mode):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "slow":
        # Set before listen(): the accepted socket inherits it, and the window
        # it advertises is scaled for this small buffer.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((addr, int(port)))
    s.listen(1)
    print("bulk-recv: listening", flush=True)
    c, peer = s.accept()
    total = 0
    if mode == "slow":
        time.sleep(1.0)          # nobody reads: the window fills, then closes to zero
        while True:
            b = c.recv(1024)
            if not b:
                break
            total += len(b)
            time.sleep(0.01)     # a slow reader: the window opens a little at a time
    else:
        while True:
            b = c.recv(65536)
            if not b:
                break
            total += len(b)
    c.close()
    print("bulk-recv: %s received %d bytes from %s" % (mode, total, peer[0]), flush=True)


def bulk_send(host, port, nbytes):
    data = pattern(int(nbytes))
    s = socket.create_connection((host, int(port)), timeout=60)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()
    print("bulk-send: sent %d bytes" % len(data), flush=True)


def keepalive(host, port, idle):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
    s.connect((host, int(port)))
    s.sendall(b"still there?\n")
    time.sleep(float(idle))      # idle: the kernel sends keep-alive probes every second
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()
    print("keepalive: done", flush=True)


# --------------------------------------------------------------------------
# user-space reordering bridge (AF_PACKET)
# --------------------------------------------------------------------------

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def relay(if1, if2, seed, pct, delay_ms):
    rng = random.Random(int(seed))
    pct = float(pct)
    delay = float(delay_ms) / 1000.0
    socks = {}
    for name in (if1, if2):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setblocking(False)
        socks[name] = s
    other = {if1: socks[if2], if2: socks[if1]}
    by_fd = {s.fileno(): name for name, s in socks.items()}
    held = []   # heap of (release time, seq, out socket, frame)
    seq = 0
    print("relay: running", flush=True)
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 1.0
        r, _, _ = select.select(list(socks.values()), [], [], timeout)
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, out, frame = heapq.heappop(held)
            out.send(frame)
        for s in r:
            name = by_fd[s.fileno()]
            while True:
                try:
                    frame, meta = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if meta[2] == PACKET_OUTGOING:   # our own transmissions
                    continue
                if name == if1 and is_tcp_data(frame) and rng.random() * 100 < pct:
                    seq += 1
                    heapq.heappush(held, (now + delay, seq, other[name], frame))
                else:
                    other[name].send(frame)


def is_tcp_data(frame):
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return False
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack("!H", frame[16:18])[0]
    doff = (frame[14 + ihl + 12] >> 4) * 4
    return total - ihl - doff > 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {
        "http-server": http_server,
        "ftp-client": ftp_client,
        "smtp-server": smtp_server,
        "bulk-recv": bulk_recv,
        "bulk-send": bulk_send,
        "keepalive": keepalive,
        "relay": relay,
    }.get(cmd)
    if fn is None:
        sys.exit("unknown subcommand %r\n%s" % (cmd, __doc__))
    fn(*args)


if __name__ == "__main__":
    main()
