//! `netlab udp serve` and `netlab udp send`: datagrams between real kernel sockets, each
//! system call printed. No handshake, no connection, no retransmission — and each
//! `recvfrom()` returns exactly one datagram, as one `sendto()` sent it.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;
use socket2::{Domain, Protocol, Socket, Type};

use crate::cli::{UdpCommand, UdpSendArgs, UdpServeArgs};
use crate::net::explain::{explain, shell_addr};
use crate::net::ports::ephemeral_range;
use crate::net::sockio;
use crate::render::Output;
use crate::render::syscall::{Trace, bytes, ephemeral_note, family, show_bytes};
use crate::wire::procnet::Transport;

pub fn run(cmd: &UdpCommand, out: &Output) -> Result<()> {
    match cmd {
        UdpCommand::Serve(a) => serve(a, out),
        UdpCommand::Send(a) => send(a, out),
    }
}

/// The largest UDP payload over IPv4: 65,535 − 20 (IP header) − 8 (UDP header).
const BUF_LEN: usize = 65_507;

/// `socket()`, printed.
fn new_socket(t: &Trace, addr: SocketAddr) -> Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .context("socket()")?;
    let fd = sock.as_raw_fd();
    t.call(
        "socket",
        &format!("{}, SOCK_DGRAM, IPPROTO_UDP", family(&addr)),
        &fd.to_string(),
        "a new UDP endpoint: no connection, no handshake, just a mailbox",
        json!({"fd": fd}),
    )?;
    Ok(sock)
}

const UDP_FIONREAD: &str =
    "for UDP: {n} is the size of the next datagram only, however many wait behind it";

/// socket() and bind(), printed; the socket as std's `UdpSocket` (the same descriptor).
fn bind(t: &Trace, addr: SocketAddr) -> Result<(UdpSocket, SocketAddr)> {
    let sock = new_socket(t, addr)?;
    let fd = sock.as_raw_fd();
    sock.bind(&addr.into())
        .map_err(|e| explain("bind", addr, Transport::Udp, e))?;
    let local = sock
        .local_addr()?
        .as_socket()
        .context("getsockname() gave no IP address")?;
    let note = if addr.port() == 0 {
        format!(
            "port 0 asks the kernel to choose one: it gave {}",
            local.port()
        )
    } else {
        format!(
            "datagrams to UDP port {} on {} now land here",
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
    Ok((sock.into(), local))
}

/// One `recvfrom()`, printed. `None` on a timeout.
fn recv_from(
    t: &Trace,
    sock: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<Option<(usize, SocketAddr)>> {
    let fd = sock.as_raw_fd();
    match sock.recv_from(buf) {
        Ok((n, from)) => {
            t.call(
                "recvfrom",
                &format!("{fd}, buf, {}", buf.len()),
                &n.to_string(),
                &format!(
                    "one datagram of {} from {from}: {} — exactly what one send() put in it",
                    bytes(n),
                    show_bytes(&buf[..n])
                ),
                json!({"fd": fd, "bytes": n, "from": from.to_string(), "text": String::from_utf8_lossy(&buf[..n])}),
            )?;
            Ok(Some((n, from)))
        }
        Err(e) if crate::net::sockio::is_timeout(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Receive (and echo) datagrams; at most `limit` of them when given.
fn serve_loop(t: &Trace, sock: &UdpSocket, echo: bool, limit: Option<usize>) -> Result<()> {
    let fd = sock.as_raw_fd();
    let mut buf = vec![0u8; BUF_LEN];
    let mut count = 0;
    while limit.is_none_or(|l| count < l) {
        let Some((n, from)) = recv_from(t, sock, &mut buf).context("recvfrom()")? else {
            break;
        };
        count += 1;
        if echo {
            match sock.send_to(&buf[..n], from) {
                Ok(m) => t.call(
                    "sendto",
                    &format!("{fd}, {}, {n}, {from}", show_bytes(&buf[..n])),
                    &m.to_string(),
                    "the echo: one datagram back to its sender",
                    json!({"fd": fd, "bytes": m, "to": from.to_string()}),
                ),
                Err(e) => t.call(
                    "sendto",
                    &format!("{fd}, {}, {n}, {from}", show_bytes(&buf[..n])),
                    &format!("-1 ({e})"),
                    "",
                    json!({"fd": fd, "error": e.to_string()}),
                ),
            }?;
        }
    }
    Ok(())
}

fn serve(a: &UdpServeArgs, out: &Output) -> Result<()> {
    let t = Trace::new(a.json, out, "server");
    let (sock, local) = bind(&t, a.addr)?;
    t.event(
        "listening",
        &format!(
            "waiting for datagrams on {local}; try: netlab udp send {} a b c   (Ctrl-C stops)",
            shell_addr(local)
        ),
        json!({"local": local.to_string()}),
    )?;
    if let Some(ms) = a.read_delay {
        t.event(
            "delay",
            &format!("waiting {ms} ms before the first recvfrom() (--read-delay)"),
            json!({"ms": ms}),
        )?;
        thread::sleep(Duration::from_millis(ms));
        t.queued(sock.as_raw_fd(), sockio::bytes_queued(&sock), UDP_FIONREAD)?;
    }
    serve_loop(&t, &sock, !a.no_echo, None)
}

fn send(a: &UdpSendArgs, out: &Output) -> Result<()> {
    let t = Trace::new(a.json, out, "client");
    let (addr, texts, own) = if a.own_server {
        let st = t.with_who("server");
        let (sock, local) = bind(&st, SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let (gate, rx) = mpsc::channel::<usize>();
        let handle = thread::spawn(move || {
            // Read only once every datagram was sent: they queue up, and still come
            // out one per recvfrom().
            let n = rx.recv_timeout(Duration::from_secs(10)).unwrap_or(0);
            let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
            // An output error reaches the client's own next line.
            if st
                .queued(sock.as_raw_fd(), sockio::bytes_queued(&sock), UDP_FIONREAD)
                .is_ok()
            {
                let _ = serve_loop(&st, &sock, true, Some(n));
            }
        });
        (local, &a.args[..], Some((handle, gate)))
    } else {
        let Some((first, rest)) = a.args.split_first() else {
            bail!(
                "give the server's address and at least one TEXT, e.g. netlab udp send 127.0.0.1:7001 hello"
            );
        };
        let addr: SocketAddr = first.parse().map_err(|_| {
            anyhow::anyhow!(
                "{first:?} is not an address: give IP:PORT or [IPv6]:PORT first, e.g. 127.0.0.1:7001 (or use --own-server)"
            )
        })?;
        (addr, rest, None)
    };
    if texts.is_empty() {
        bail!("nothing to send: give at least one TEXT after the address");
    }

    let sock = new_socket(&t, addr)?;
    let fd = sock.as_raw_fd();
    sock.connect(&addr.into())
        .map_err(|e| explain("connect", addr, Transport::Udp, e))?;
    t.call(
        "connect",
        &format!("{fd}, {addr}"),
        "0",
        "no packet leaves: for UDP, connect() only records the peer (so replies from others are dropped and ICMP errors get reported)",
        json!({"fd": fd, "peer": addr.to_string()}),
    )?;
    let local = sock
        .local_addr()?
        .as_socket()
        .context("getsockname() gave no IP address")?;
    let (note, range) = ephemeral_note(local.port(), ephemeral_range());
    t.call(
        "getsockname",
        &fd.to_string(),
        &local.to_string(),
        &format!("we never called bind(): {note}"),
        json!({"fd": fd, "local": local.to_string(), "ephemeral_port": local.port(), "ephemeral_range": range}),
    )?;
    let sock: UdpSocket = sock.into();
    for text in texts {
        let n = sock
            .send(text.as_bytes())
            .map_err(|e| explain("send", addr, Transport::Udp, e))?;
        t.call(
            "send",
            &format!("{fd}, {}, {}", show_bytes(text.as_bytes()), text.len()),
            &n.to_string(),
            &format!(
                "one datagram: an 8-byte UDP header + {}, {} bytes in its IP packet",
                bytes(n),
                n + 8 + if addr.is_ipv4() { 20 } else { 40 }
            ),
            json!({"fd": fd, "bytes": n, "text": text}),
        )?;
    }
    if let Some((_, gate)) = &own {
        let _ = gate.send(texts.len());
    }

    let mut replies = 0;
    if a.wait > 0 {
        sock.set_read_timeout(Some(Duration::from_millis(a.wait)))?;
        let mut buf = vec![0u8; BUF_LEN];
        while replies < texts.len() {
            match recv_from(&t, &sock, &mut buf) {
                Ok(Some(_)) => replies += 1,
                Ok(None) => {
                    t.event(
                        "timeout",
                        &format!(
                            "no more replies within {} ms — UDP does not say why: no echo, or a datagram lost",
                            a.wait
                        ),
                        json!({"ms": a.wait}),
                    )?;
                    break;
                }
                Err(e) => return Err(explain("recv", addr, Transport::Udp, e).into()),
            }
        }
    }
    t.event(
        "summary",
        &format!(
            "{} datagrams sent, {replies} received: each recv() returned one whole datagram — UDP keeps message boundaries",
            texts.len()
        ),
        json!({"sent": texts.len(), "received": replies}),
    )?;
    t.close(
        fd,
        sockio::close(sock),
        "nothing is sent: UDP has no connection to tear down",
    )?;
    if let Some((handle, gate)) = own {
        drop(gate);
        let _ = handle.join();
    }
    Ok(())
}
