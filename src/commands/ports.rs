//! `netlab ports`: this machine's TCP and UDP sockets with the processes holding them
//! (like `ss -tulpn`), and the port ranges explained.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;

use anyhow::Result;
use serde_json::json;

use crate::cli::PortsArgs;
use crate::net::ports::{self, Socket};
use crate::render::{Output, Paint};
use crate::wire::procnet::{PORTS_PER_TRANSPORT, PortClass, Transport};

pub fn run(a: &PortsArgs, out: &Output) -> Result<()> {
    let mut all = ports::sockets()?;
    all.retain(|s| {
        let l = &s.line;
        (!a.listening || l.is_listening())
            && (a.tcp == a.udp
                || (a.tcp && l.transport == Transport::Tcp)
                || (a.udp && l.transport == Transport::Udp))
            && a.port
                .is_none_or(|p| l.local.port() == p || l.remote.port() == p)
    });
    all.sort_by_key(|s| {
        let l = &s.line;
        (
            l.transport == Transport::Udp,
            !l.is_listening(),
            l.local.port(),
            l.local,
            l.remote,
        )
    });
    let range = ports::ephemeral_range();
    if a.json {
        let mut text = String::new();
        for s in &all {
            let _ = writeln!(text, "{}", to_json(s, range));
        }
        out.print(text)?;
        return Ok(());
    }
    explain_ranges(out, range)?;
    out.line(format_args!(
        "\n{:<5} {:<12} {:<40} {:<40} {:<28} process",
        "proto", "state", "local address", "peer address", "local port is"
    ))?;
    let mut hidden = 0;
    for s in &all {
        let l = &s.line;
        let procs = if s.owners.is_empty() {
            if l.inode != 0 {
                hidden += 1;
            }
            "-".to_string()
        } else {
            s.owners
                .iter()
                .map(|o| format!("{}/{}", o.pid, o.name))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut line = String::new();
        let state_color = if l.is_listening() {
            Paint::OK
        } else {
            Paint::PEER
        };
        let _ = write!(line, "{:<5} ", l.transport.name());
        out.style
            .paint(&mut line, state_color, &format!("{:<12}", l.state_name()));
        let _ = writeln!(
            line,
            " {:<40} {:<40} {:<28} {procs}",
            l.local.to_string(),
            peer(l.remote),
            class_text(l.local.port(), range)
        );
        out.print(line)?;
    }
    let count = |t: Transport, listening: bool| {
        all.iter()
            .filter(|s| s.line.transport == t && s.line.is_listening() == listening)
            .count()
    };
    out.line(format_args!(
        "\n{} sockets: TCP {} listening, {} in other states; UDP {} unconnected, {} connected.",
        all.len(),
        count(Transport::Tcp, true),
        count(Transport::Tcp, false),
        count(Transport::Udp, true),
        count(Transport::Udp, false),
    ))?;
    if hidden > 0 {
        out.line(format_args!(
            "{hidden} socket(s) without a process: held by another user's process (sudo netlab ports shows those) or by one in another PID namespace (a container)."
        ))?;
    }
    Ok(())
}

/// `*:*` for "no peer" (a listener, an unconnected UDP socket), as ss prints it.
fn peer(a: SocketAddr) -> String {
    if a.port() == 0 && a.ip().is_unspecified() {
        "*:*".to_string()
    } else {
        a.to_string()
    }
}

fn in_range(port: u16, range: Option<(u16, u16)>) -> bool {
    range.is_some_and(|(lo, hi)| (lo..=hi).contains(&port))
}

fn class_text(port: u16, range: Option<(u16, u16)>) -> String {
    let class = PortClass::of(port).name();
    if in_range(port, range) {
        format!("{class}, ephemeral range")
    } else {
        class.to_string()
    }
}

fn to_json(s: &Socket, range: Option<(u16, u16)>) -> serde_json::Value {
    let l = &s.line;
    json!({
        "proto": l.transport.name(),
        "ip_version": if l.local.is_ipv4() { 4 } else { 6 },
        "state": l.state_name(),
        "listening": l.is_listening(),
        "local": l.local.to_string(),
        "local_port": l.local.port(),
        "peer": l.remote.to_string(),
        "peer_port": l.remote.port(),
        "class": PortClass::of(l.local.port()).name(),
        "ephemeral_range": in_range(l.local.port(), range),
        "rx_queue": l.rx_queue,
        "tx_queue": l.tx_queue,
        "uid": l.uid,
        "inode": l.inode,
        "processes": s.owners.iter().map(|o| json!({"pid": o.pid, "name": o.name})).collect::<Vec<_>>(),
    })
}

fn explain_ranges(out: &Output, range: Option<(u16, u16)>) -> io::Result<()> {
    let title = out.paint(
        Paint::HEADING,
        &format!(
            "Ports: a 16-bit number, so {} per transport; TCP and UDP count separately (TCP 53 and UDP 53 are different ports).",
            group(PORTS_PER_TRANSPORT)
        ),
    );
    let unpriv = ports::unprivileged_port_start().unwrap_or(1024);
    let mut text = format!("{title}\n");
    let _ = writeln!(
        text,
        "  0–1023       well-known (IANA system ports: 22 ssh, 53 dns, 80 http, 443 https); here binding below {unpriv} needs CAP_NET_BIND_SERVICE (net.ipv4.ip_unprivileged_port_start)"
    );
    let _ = writeln!(
        text,
        "  1024–49151   registered (IANA user ports: assigned to services, free to bind)"
    );
    let _ = writeln!(
        text,
        "  49152–65535  dynamic/private (never assigned; RFC 6335 suggests them for ephemeral ports)"
    );
    let _ = match range {
        Some((lo, hi)) => writeln!(
            text,
            "  ephemeral    this kernel gives clients ports from {lo}–{hi} (net.ipv4.ip_local_port_range): {} ports, so at most that many connections to one server address and port at a time",
            group(u32::from(hi - lo) + 1)
        ),
        None => writeln!(
            text,
            "  ephemeral    (net.ipv4.ip_local_port_range unreadable)"
        ),
    };
    out.print(text)
}

/// 65536 → "65,536".
fn group(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::group(65_536), "65,536");
        assert_eq!(super::group(28_232), "28,232");
        assert_eq!(super::group(999), "999");
        assert_eq!(super::group(1_000_000), "1,000,000");
    }
}
