//! `netlab tcp serve` and `netlab tcp connect`: TCP between real kernel sockets, built on
//! `socket2` so each system call is one line — socket(), setsockopt(), bind(), listen(),
//! accept(), connect(), send(), recv(), shutdown(), close() — with its arguments, its
//! result and what it means, and the kernel's own view (TCP_INFO) after each exchange.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use socket2::{Domain, Protocol, Socket, Type};

use crate::cli::{TcpCommand, TcpConnectArgs, TcpServeArgs};
use crate::net::explain::{explain, shell_addr};
use crate::net::ports::ephemeral_range;
use crate::net::sockio;
use crate::net::tcp_info::tcp_info;
use crate::render::Output;
use crate::render::syscall::{Trace, bytes, ephemeral_note, family, show_bytes};
use crate::wire::procnet::Transport;

pub fn run(cmd: &TcpCommand, out: &Output) -> Result<()> {
    match cmd {
        TcpCommand::Serve(a) => serve(a, out),
        TcpCommand::Connect(a) => connect(a, out),
    }
}

const BUF_LEN: usize = 64 * 1024;

/// How often the accept loop looks up from waiting: has standard output been closed?
const LOOK_UP: Duration = Duration::from_millis(200);

/// With `--own-server`, the server reads only once the client's bytes are all queued,
/// up to this many (well below the smallest default receive buffer).
const GATE_LIMIT: usize = 16 * 1024;

fn local_of(sock: &Socket) -> Result<SocketAddr> {
    sock.local_addr()?
        .as_socket()
        .context("getsockname() gave no IP address")
}

/// `socket()`, printed.
fn new_socket(t: &Trace, addr: SocketAddr) -> Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("socket()")?;
    let fd = sock.as_raw_fd();
    t.call(
        "socket",
        &format!("{}, SOCK_STREAM, IPPROTO_TCP", family(&addr)),
        &fd.to_string(),
        "a new TCP endpoint, known to this process by its file descriptor; no address yet",
        json!({"fd": fd}),
    )?;
    Ok(sock)
}

/// socket(), setsockopt(SO_REUSEADDR), bind(), listen(), each printed.
fn listen(t: &Trace, addr: SocketAddr, backlog: i32) -> Result<(Socket, SocketAddr)> {
    let sock = new_socket(t, addr)?;
    let fd = sock.as_raw_fd();
    sock.set_reuse_address(true)
        .context("setsockopt(SO_REUSEADDR)")?;
    t.call(
        "setsockopt",
        &format!("{fd}, SOL_SOCKET, SO_REUSEADDR, 1"),
        "0",
        "a restarted server may bind this port again while its old connections sit in TIME-WAIT",
        json!({"fd": fd, "option": "SO_REUSEADDR", "value": 1}),
    )?;
    sock.bind(&addr.into())
        .map_err(|e| explain("bind", addr, Transport::Tcp, e))?;
    let local = local_of(&sock)?;
    let note = if addr.port() == 0 {
        format!(
            "port 0 asks the kernel to choose one: it gave {}",
            local.port()
        )
    } else {
        format!(
            "this socket now owns TCP port {} on {}",
            local.port(),
            local.ip()
        )
    };
    t.call(
        "bind",
        &format!("{fd}, {addr}"),
        "0",
        &note,
        json!({"fd": fd, "addr": addr.to_string(), "local": local.to_string()}),
    )?;
    sock.listen(backlog)
        .map_err(|e| explain("listen", local, Transport::Tcp, e))?;
    t.call(
        "listen",
        &format!("{fd}, {backlog}"),
        "0",
        &format!(
            "LISTEN: the kernel now answers SYNs by itself and queues up to {backlog} finished handshakes for accept()"
        ),
        json!({"fd": fd, "backlog": backlog, "local": local.to_string()}),
    )?;
    Ok((sock, local))
}

/// `accept()`, printed: a new socket for one connection.
fn accept(t: &Trace, listener: &Socket, id: u64) -> io::Result<(Socket, SocketAddr)> {
    let fd = listener.as_raw_fd();
    let (conn, peer) = match listener.accept() {
        Ok(c) => c,
        Err(e) => {
            t.call(
                "accept",
                &fd.to_string(),
                &format!("-1 ({e})"),
                "",
                json!({"fd": fd, "error": e.to_string()}),
            )?;
            return Err(e);
        }
    };
    let peer = peer
        .as_socket()
        .ok_or_else(|| io::Error::other("accept() gave no IP address"))?;
    let cfd = conn.as_raw_fd();
    t.call(
        "accept",
        &fd.to_string(),
        &cfd.to_string(),
        &format!(
            "connection {id} from {peer}: a new socket (fd {cfd}) for it alone; fd {fd} goes on listening"
        ),
        json!({"fd": fd, "conn_fd": cfd, "peer": peer.to_string(), "id": id}),
    )?;
    Ok((conn, peer))
}

/// The 4-tuple that names a connection.
fn four_tuple(t: &Trace, local: SocketAddr, peer: SocketAddr) -> io::Result<()> {
    t.event(
        "connection",
        &format!(
            "4-tuple (TCP, {local}, {peer}): these four numbers name the connection; the kernel hands each arriving segment to the socket they match"
        ),
        json!({"proto": "tcp", "local": local.to_string(), "peer": peer.to_string()}),
    )
}

/// `send()` until every byte is gone, each call printed. Returns the number of calls.
fn send_all(t: &Trace, sock: &Socket, data: &[u8]) -> io::Result<usize> {
    let fd = sock.as_raw_fd();
    let mut off = 0;
    let mut calls = 0;
    while off < data.len() {
        let n = match sock.send(&data[off..]) {
            Ok(n) => n,
            Err(e) => {
                t.call(
                    "send",
                    &format!("{fd}, {}", show_bytes(&data[off..])),
                    &format!("-1 ({e})"),
                    "",
                    json!({"fd": fd, "error": e.to_string()}),
                )?;
                return Err(e);
            }
        };
        calls += 1;
        t.call(
            "send",
            &format!("{fd}, {}, {}", show_bytes(&data[off..]), data.len() - off),
            &n.to_string(),
            "copied into the kernel's send buffer; TCP decides when it leaves",
            json!({"fd": fd, "bytes": n, "text": String::from_utf8_lossy(&data[off..off + n])}),
        )?;
        off += n;
    }
    Ok(calls)
}

/// `recv()` once, printed; `None` on a timeout.
fn recv(t: &Trace, sock: &Socket, buf: &mut [u8], eof_note: &str) -> io::Result<Option<usize>> {
    let fd = sock.as_raw_fd();
    let args = format!("{fd}, buf, {}", buf.len());
    match (&mut &*sock).read(buf) {
        Ok(0) => {
            t.call("recv", &args, "0", eof_note, json!({"fd": fd, "bytes": 0}))?;
            Ok(Some(0))
        }
        Ok(n) => {
            t.call(
                "recv",
                &args,
                &n.to_string(),
                &format!("{} in one read: {}", bytes(n), show_bytes(&buf[..n])),
                json!({"fd": fd, "bytes": n, "text": String::from_utf8_lossy(&buf[..n])}),
            )?;
            Ok(Some(n))
        }
        Err(e) if crate::net::sockio::is_timeout(&e) => Ok(None),
        Err(e) => {
            t.call(
                "recv",
                &args,
                &format!("-1 ({e})"),
                "",
                json!({"fd": fd, "error": e.to_string()}),
            )?;
            Err(e)
        }
    }
}

/// `shutdown(SHUT_WR)`, printed.
fn shutdown_write(t: &Trace, sock: &Socket, note: &str) -> io::Result<()> {
    let fd = sock.as_raw_fd();
    match sock.shutdown(Shutdown::Write) {
        Ok(()) => t.call(
            "shutdown",
            &format!("{fd}, SHUT_WR"),
            "0",
            note,
            json!({"fd": fd}),
        ),
        Err(e) => t.call(
            "shutdown",
            &format!("{fd}, SHUT_WR"),
            &format!("-1 ({e})"),
            "",
            json!({"fd": fd, "error": e.to_string()}),
        ),
    }
}

/// When the server reads its first bytes.
enum FirstRead {
    /// As soon as they arrive.
    Now,
    /// After sleeping this long (`--read-delay`).
    After(Duration),
    /// When the in-process client says how many bytes it sent and they are all in the
    /// receive buffer (`--own-server`): one read then returns all of them.
    Gate(mpsc::Receiver<usize>),
}

/// One connection of the echo server: read, echo, TCP_INFO, until the client's FIN.
/// Ends with the output's error when standard output was closed.
fn serve_conn(t: &Trace, conn: Socket, first: FirstRead) -> io::Result<()> {
    let Ok(local) = local_of(&conn) else {
        return Ok(());
    };
    let Ok(peer) = conn.peer_addr().map(|p| p.as_socket()) else {
        return Ok(());
    };
    if let Some(peer) = peer {
        four_tuple(t, local, peer)?;
    }
    match first {
        FirstRead::Now => {}
        FirstRead::After(d) => {
            t.event(
                "delay",
                &format!(
                    "waiting {} ms before the first recv() (--read-delay)",
                    d.as_millis()
                ),
                json!({"ms": d.as_millis() as u64}),
            )?;
            thread::sleep(d);
            t.queued(
                conn.as_raw_fd(),
                sockio::bytes_queued(&conn),
                "{n} bytes wait in the receive buffer, not yet read",
            )?;
        }
        FirstRead::Gate(rx) => {
            let expected = rx.recv_timeout(Duration::from_secs(10)).unwrap_or(0);
            if expected > 0 {
                t.event(
                    "delay",
                    &format!(
                        "waiting until the client's {} are all in the receive buffer before reading",
                        bytes(expected)
                    ),
                    json!({"expected": expected}),
                )?;
                let deadline = Instant::now() + Duration::from_secs(5);
                while sockio::bytes_queued(&conn).is_ok_and(|n| n < expected)
                    && Instant::now() < deadline
                {
                    thread::sleep(Duration::from_millis(1));
                }
                t.queued(
                    conn.as_raw_fd(),
                    sockio::bytes_queued(&conn),
                    "{n} bytes wait in the receive buffer, not yet read",
                )?;
            }
        }
    }
    let mut buf = vec![0u8; BUF_LEN];
    let (mut reads, mut total) = (0usize, 0usize);
    loop {
        match recv(
            t,
            &conn,
            &mut buf,
            "end of stream: the client sent FIN, it will send no more",
        ) {
            Ok(Some(0)) | Ok(None) => break,
            Ok(Some(n)) => {
                reads += 1;
                total += n;
                if send_all(t, &conn, &buf[..n]).is_err() {
                    t.output().check()?;
                    break;
                }
                t.tcp_info(conn.as_raw_fd(), tcp_info(&conn), "after this exchange")?;
            }
            Err(_) => {
                t.output().check()?;
                break;
            }
        }
    }
    t.event(
        "summary",
        &format!(
            "{} arrived in {reads} recv() call(s): TCP delivers a stream of bytes, the sender's write boundaries are not kept",
            bytes(total)
        ),
        json!({"bytes": total, "reads": reads}),
    )?;
    shutdown_write(t, &conn, "our FIN: the server is done too")?;
    t.tcp_info(conn.as_raw_fd(), tcp_info(&conn), "after both FINs")?;
    t.close(
        conn.as_raw_fd(),
        sockio::close(conn),
        "the descriptor is freed; the kernel finishes the connection",
    )
}

fn serve(a: &TcpServeArgs, out: &Output) -> Result<()> {
    let t = Trace::new(a.json, out, "server");
    let (listener, local) = listen(&t, a.addr, a.backlog)?;
    t.event(
        "listening",
        &format!(
            "listening on {local}; try: netlab tcp connect {} --send hello   (Ctrl-C stops)",
            shell_addr(local)
        ),
        json!({"local": local.to_string()}),
    )?;
    let mut id = 0;
    loop {
        // A connection's thread may have found standard output closed: stop then.
        out.check()?;
        if !sockio::wait_readable(&listener, LOOK_UP)? {
            continue;
        }
        let (conn, _peer) = match accept(&t, &listener, id + 1) {
            Ok(c) => c,
            Err(e) => {
                out.check()?;
                // Out of descriptors or a connection reset before accept(): go on.
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
        };
        id += 1;
        let ct = t.with_who(format!("conn {id}"));
        let first = a.read_delay.map_or(FirstRead::Now, |ms| {
            FirstRead::After(Duration::from_millis(ms))
        });
        // Its error, if standard output closed, stops this loop through `out.check`.
        thread::spawn(move || serve_conn(&ct, conn, first));
    }
}

fn connect(a: &TcpConnectArgs, out: &Output) -> Result<()> {
    let t = Trace::new(a.json, out, "client");
    // With --own-server: a listener on a free loopback port and a thread serving one
    // connection, released by the gate once the client's writes are sent.
    let mut own = None;
    let addr = match a.addr {
        Some(addr) => addr,
        None => {
            let st = t.with_who("server");
            let (listener, local) = listen(&st, SocketAddr::from(([127, 0, 0, 1], 0)), 16)?;
            let (gate, rx) = mpsc::channel();
            let handle = thread::spawn(move || {
                if let Ok((conn, _)) = accept(&st, &listener, 1) {
                    // Its output error reaches the client's own next line.
                    let _ = serve_conn(&st.with_who("conn 1"), conn, FirstRead::Gate(rx));
                }
            });
            own = Some((handle, gate));
            local
        }
    };

    let sock = new_socket(&t, addr)?;
    let fd = sock.as_raw_fd();
    if a.nodelay {
        sock.set_tcp_nodelay(true)
            .context("setsockopt(TCP_NODELAY)")?;
        let readback = sock.tcp_nodelay().context("getsockopt(TCP_NODELAY)")?;
        t.call(
            "setsockopt",
            &format!("{fd}, IPPROTO_TCP, TCP_NODELAY, 1"),
            "0",
            &format!(
                "Nagle's algorithm off (getsockopt reads back {}): each send() leaves at once as its own segment",
                u8::from(readback)
            ),
            json!({"fd": fd, "option": "TCP_NODELAY", "value": 1, "readback": readback}),
        )?;
    } else {
        t.event(
            "nagle",
            "TCP_NODELAY not set: Nagle's algorithm is on — while data is unacknowledged, small writes wait and leave together",
            json!({"nodelay": false}),
        )?;
    }
    sock.connect(&addr.into())
        .map_err(|e| explain("connect", addr, Transport::Tcp, e))?;
    t.call(
        "connect",
        &format!("{fd}, {addr}"),
        "0",
        "SYN, SYN-ACK, ACK: the three-way handshake happened inside this call",
        json!({"fd": fd, "peer": addr.to_string()}),
    )?;
    let local = local_of(&sock)?;
    let (note, range) = ephemeral_note(local.port(), ephemeral_range());
    t.call(
        "getsockname",
        &fd.to_string(),
        &local.to_string(),
        &format!("we never called bind(): {note}"),
        json!({"fd": fd, "local": local.to_string(), "ephemeral_port": local.port(), "ephemeral_range": range}),
    )?;
    four_tuple(&t, local, addr)?;
    t.tcp_info(sock.as_raw_fd(), tcp_info(&sock), "after the handshake")?;

    let mut sends = 0;
    let mut total = 0;
    // More than the receive buffer surely holds: the own server must read while we
    // write, or both would wait for each other. Open the gate now.
    let planned: usize = a.send.iter().map(String::len).sum();
    if let Some((_, gate)) = &own
        && planned > GATE_LIMIT
    {
        let _ = gate.send(0);
    }
    for text in &a.send {
        sends += send_all(&t, &sock, text.as_bytes())
            .map_err(|e| explain("send", addr, Transport::Tcp, e))?;
        total += text.len();
    }
    if let Some((_, gate)) = &own
        && total <= GATE_LIMIT
    {
        let _ = gate.send(total);
    }

    let wait = Duration::from_millis(a.wait.max(1));
    sock.set_read_timeout(Some(wait))?;
    let mut buf = vec![0u8; BUF_LEN];
    let (mut got, mut reads) = (0, 0);
    while got < total {
        match recv(&t, &sock, &mut buf, "the server closed the connection")
            .map_err(|e| explain("recv", addr, Transport::Tcp, e))?
        {
            Some(0) => break,
            Some(n) => {
                got += n;
                reads += 1;
            }
            None => {
                t.event(
                    "timeout",
                    &format!(
                        "no more bytes within {} ms ({got} of {total} echoed)",
                        a.wait
                    ),
                    json!({"ms": a.wait, "received": got, "sent": total}),
                )?;
                break;
            }
        }
    }
    if total > 0 {
        t.tcp_info(sock.as_raw_fd(), tcp_info(&sock), "after the exchange")?;
        t.event(
            "summary",
            &format!(
                "{} sent in {sends} send() call(s); {} came back in {reads} recv() call(s)",
                bytes(total),
                bytes(got)
            ),
            json!({"sent": total, "sends": sends, "received": got, "reads": reads}),
        )?;
    }

    shutdown_write(
        &t,
        &sock,
        "FIN: we will send no more; the server's recv() returns 0",
    )?;
    loop {
        match recv(
            &t,
            &sock,
            &mut buf,
            "end of stream: the server's FIN, it has closed its side too",
        ) {
            Ok(Some(0)) => break,
            Err(_) => {
                out.check()?;
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                t.event(
                    "timeout",
                    &format!("no FIN from the server within {} ms", a.wait),
                    json!({"ms": a.wait}),
                )?;
                break;
            }
        }
    }
    t.tcp_info(sock.as_raw_fd(), tcp_info(&sock), "after both FINs")?;
    t.close(
        fd,
        sockio::close(sock),
        "we sent the first FIN, so our side of the 4-tuple waits in TIME-WAIT for 60 s: no late segment can be mistaken for a new connection's",
    )?;
    if let Some((handle, gate)) = own {
        drop(gate);
        let _ = handle.join();
    }
    Ok(())
}
