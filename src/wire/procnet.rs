//! The kernel's socket tables as text: `/proc/net/tcp`, `tcp6`, `udp` and `udp6`
//! (what `ss` and `netstat` read). Pure parsing, no I/O: a line in, a [`SocketLine`] out.
//!
//! One line per socket, written by `tcp4_seq_show()` / `udp4_format_sock()` and their
//! IPv6 twins in the Linux kernel:
//!
//! ```text
//!   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//!    0: 0100007F:1B58 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 636 …
//! ```
//!
//! Addresses are the kernel's 32-bit words printed with `%08X` in the *host's* byte
//! order: on a little-endian machine 127.0.0.1 (bytes 7F 00 00 01) reads `0100007F`.
//! An IPv6 address is four such words. Ports are plain hexadecimal (`1B58` = 7000).
//! `st` is the kernel's TCP state number (`include/net/tcp_states.h`); UDP reuses it:
//! `07` (CLOSE) for an unconnected socket, `01` (ESTABLISHED) after `connect()`.
//! `inode` names the socket: `/proc/PID/fd/N` links to `socket:[inode]` for the
//! process holding it (0 for a connection still waiting in a listener's accept queue).
//!
//! Also the kernel's other report on a socket, `TCP_INFO`, as plain figures
//! ([`TcpInfo`]; `net::tcp_info` reads it), and what each TCP state means.
//!
//! May import: `std` only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The kernel's TCP state numbers (`include/net/tcp_states.h`) with RFC 9293 names.
pub fn tcp_state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTABLISHED",
        2 => "SYN-SENT",
        3 => "SYN-RECEIVED",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "CLOSED",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW-SYN-RECV",
        _ => "UNKNOWN",
    }
}

/// `TCP_LISTEN` in `include/net/tcp_states.h`.
pub const TCP_LISTEN: u8 = 10;
/// `TCP_CLOSE`: for UDP, a socket that is bound but not connected (`ss` says UNCONN).
pub const TCP_CLOSE: u8 = 7;
/// `TCP_ESTABLISHED`: for UDP, a socket that called `connect()`.
pub const TCP_ESTABLISHED: u8 = 1;

/// What a TCP state means for the socket that reports it, for a learner.
pub fn tcp_state_meaning(state: &str) -> &'static str {
    match state {
        "ESTABLISHED" => "the handshake is done, data may flow both ways",
        "FIN-WAIT-1" => "we sent FIN, it is not acknowledged yet",
        "FIN-WAIT-2" => "our FIN is acknowledged; the peer may still send until its own FIN",
        "CLOSE-WAIT" => "the peer sent FIN; we may still send until we close",
        "LAST-ACK" => "both sides sent FIN; waiting for the ACK of ours",
        "TIME-WAIT" => "both FINs exchanged; the 4-tuple is held for 2×MSL",
        "CLOSED" => {
            "this socket is finished (had it sent the first FIN, a small TIME-WAIT record now holds the 4-tuple: netlab ports --tcp shows it)"
        }
        "LISTEN" => "waiting for SYNs",
        "SYN-SENT" | "SYN-RECEIVED" => "the handshake is under way",
        _ => "",
    }
}

/// What `TCP_INFO` (`getsockopt(fd, IPPROTO_TCP, TCP_INFO)`, read by `net::tcp_info`)
/// says about one connection: the kernel's `struct tcp_info` (linux/include/uapi/linux/tcp.h)
/// as plain figures. Times are microseconds, sizes bytes,
/// the congestion window is in segments (as the kernel counts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpInfo {
    /// The RFC 9293 state the kernel's connection is in (`ESTABLISHED`, `TIME-WAIT` …).
    pub state: &'static str,
    /// Smoothed round-trip time (SRTT, RFC 6298), µs.
    pub rtt_us: u32,
    /// Round-trip time variation (RTTVAR), µs.
    pub rttvar_us: u32,
    /// Current retransmission timeout, µs.
    pub rto_us: u32,
    /// Congestion window, in segments of `snd_mss` bytes.
    pub snd_cwnd: u32,
    /// Slow-start threshold, segments (a huge value means "still in slow start").
    pub snd_ssthresh: u32,
    /// Maximum segment size this side sends.
    pub snd_mss: u32,
    /// Largest segment seen from the peer (the kernel's estimate of its MSS).
    pub rcv_mss: u32,
    /// Segments sent but not yet acknowledged.
    pub unacked: u32,
    /// Retransmitted segments over the connection's life.
    pub total_retrans: u32,
    /// Sequence space the peer acknowledged (RFC 4898 `HCThruOctetsAcked`; Linux
    /// 4.1+): the data bytes plus one for the SYN.
    pub bytes_acked: Option<u64>,
    /// Bytes received in order (Linux 4.1+).
    pub bytes_received: Option<u64>,
    /// Segments sent / received, retransmissions included (Linux 4.2+).
    pub segs_out: Option<u32>,
    pub segs_in: Option<u32>,
    /// Bytes sent, retransmissions included (Linux 4.19+).
    pub bytes_sent: Option<u64>,
    /// Bytes retransmitted (Linux 4.19+).
    pub bytes_retrans: Option<u64>,
    /// The congestion-control state machine's state (`tcpi_ca_state`, see
    /// [`ca_state_name`]).
    pub ca_state: &'static str,
    /// The smallest RTT seen, µs (Linux 4.6+): the path's round trip without queueing.
    pub min_rtt_us: Option<u32>,
    /// The rate the connection recently delivered data at, bytes per second (Linux 4.9+).
    pub delivery_rate: Option<u64>,
}

/// `tcpi_ca_state`'s names (`enum tcp_ca_state` in linux/include/uapi/linux/tcp.h):
/// "open", "disorder" (duplicate ACKs seen), "cwr" (cut after an ECN mark or a local
/// congestion), "recovery" (fast recovery) or "loss" (after a retransmission timeout).
pub fn ca_state_name(v: u8) -> &'static str {
    match v {
        0 => "open",
        1 => "disorder",
        2 => "cwr",
        3 => "recovery",
        4 => "loss",
        _ => "unknown",
    }
}

/// Which table a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// One socket of the kernel's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketLine {
    pub transport: Transport,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The raw state number (`st`).
    pub state: u8,
    /// Bytes waiting in the send queue (TCP: not yet acknowledged) and the receive
    /// queue (not yet read by the program).
    pub tx_queue: u32,
    pub rx_queue: u32,
    /// Owner's user id.
    pub uid: u32,
    /// The socket's inode: the link from a socket to the process holding it.
    pub inode: u64,
}

impl SocketLine {
    /// The state as a learner reads it: TCP's RFC 9293 names; for UDP `UNCONN` (bound,
    /// takes datagrams from anyone) or `ESTABLISHED` (connected to one peer).
    pub fn state_name(&self) -> &'static str {
        match (self.transport, self.state) {
            (Transport::Udp, TCP_CLOSE) => "UNCONN",
            (Transport::Udp, TCP_ESTABLISHED) => "ESTABLISHED",
            (_, s) => tcp_state_name(s),
        }
    }

    /// Waiting for peers: a TCP socket in LISTEN, or an unconnected UDP socket (what
    /// `ss -l` counts as listening).
    pub fn is_listening(&self) -> bool {
        match self.transport {
            Transport::Tcp => self.state == TCP_LISTEN,
            Transport::Udp => self.state == TCP_CLOSE,
        }
    }
}

/// What was wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn err(what: impl Into<String>) -> ParseError {
    ParseError(what.into())
}

/// One 32-bit word as the kernel printed it (`%08X` of a value in host byte order):
/// its bytes in memory order, i.e. network order for an address.
fn word(hex: &str) -> Result<[u8; 4], ParseError> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(format!("address word {hex:?} is not 8 hex digits")));
    }
    let v = u32::from_str_radix(hex, 16).map_err(|_| err(format!("{hex:?} is not hex")))?;
    Ok(v.to_ne_bytes())
}

/// Decodes `ADDR:PORT` as found in the tables: 8 hex digits for IPv4, 32 for IPv6.
pub fn parse_addr(field: &str) -> Result<SocketAddr, ParseError> {
    let (addr, port) = field
        .split_once(':')
        .ok_or_else(|| err(format!("{field:?} has no ':' between address and port")))?;
    let port = u16::from_str_radix(port, 16).map_err(|_| err(format!("bad port {port:?}")))?;
    if !addr.is_ascii() {
        // The IPv6 words are cut by byte offset: text only.
        return Err(err(format!("address {addr:?} is not hex digits")));
    }
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(&addr[i * 8..i * 8 + 8])?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        n => {
            return Err(err(format!(
                "address {addr:?} has {n} hex digits, not 8 or 32"
            )));
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// Parses one line of a table; `None` for the header line.
pub fn parse_line(transport: Transport, line: &str) -> Option<Result<SocketLine, ParseError>> {
    let mut f = line.split_whitespace();
    let sl = f.next()?;
    if !sl.ends_with(':') {
        return None; // the "sl local_address …" header
    }
    Some(parse_fields(transport, f))
}

fn parse_fields<'a>(
    transport: Transport,
    mut f: impl Iterator<Item = &'a str>,
) -> Result<SocketLine, ParseError> {
    let mut next = |name: &str| f.next().ok_or_else(|| err(format!("no {name} column")));
    let local = parse_addr(next("local_address")?)?;
    let remote = parse_addr(next("rem_address")?)?;
    let st = next("st")?;
    let state = u8::from_str_radix(st, 16).map_err(|_| err(format!("bad state {st:?}")))?;
    let queues = next("tx_queue:rx_queue")?;
    let (tx, rx) = queues
        .split_once(':')
        .ok_or_else(|| err(format!("bad queues {queues:?}")))?;
    let hex32 = |s: &str| u32::from_str_radix(s, 16).map_err(|_| err(format!("bad queue {s:?}")));
    let (tx_queue, rx_queue) = (hex32(tx)?, hex32(rx)?);
    next("tr:tm->when")?;
    next("retrnsmt")?;
    let uid = next("uid")?;
    let uid = uid.parse().map_err(|_| err(format!("bad uid {uid:?}")))?;
    next("timeout")?;
    let inode = next("inode")?;
    let inode = inode
        .parse()
        .map_err(|_| err(format!("bad inode {inode:?}")))?;
    Ok(SocketLine {
        transport,
        local,
        remote,
        state,
        tx_queue,
        rx_queue,
        uid,
        inode,
    })
}

/// Every socket of one table's text (header skipped; a malformed line is an error).
pub fn parse_table(transport: Transport, text: &str) -> Result<Vec<SocketLine>, ParseError> {
    text.lines()
        .filter_map(|l| parse_line(transport, l))
        .collect()
}

/// `/proc/sys/net/ipv4/ip_local_port_range`: two numbers, e.g. `32768\t60999`.
pub fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(|s| s.parse::<u16>());
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi)), None) if lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

/// `/proc/PID/fd/N`'s link target for a socket: `socket:[12345]` → 12345.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// IANA's three port ranges (RFC 6335 § 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortClass {
    /// 0–1023, "System Ports": assigned by IETF review; on Linux binding one needs
    /// CAP_NET_BIND_SERVICE (below `net.ipv4.ip_unprivileged_port_start`).
    WellKnown,
    /// 1024–49151, "User Ports": assigned by IANA to services, free to bind.
    Registered,
    /// 49152–65535, "Dynamic/Private Ports": never assigned, for ephemeral use.
    Dynamic,
}

impl PortClass {
    pub fn of(port: u16) -> PortClass {
        match port {
            0..=1023 => PortClass::WellKnown,
            1024..=49151 => PortClass::Registered,
            _ => PortClass::Dynamic,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            PortClass::WellKnown => "well-known",
            PortClass::Registered => "registered",
            PortClass::Dynamic => "dynamic",
        }
    }
}

/// How many ports a transport has: the port fields of TCP and UDP are 16 bits.
pub const PORTS_PER_TRANSPORT: u32 = 1 << 16;

/// What the `procnet` fuzz target checks on any text: no panic, and a line that parses
/// gives the same socket inside a table.
pub fn fuzz_check(text: &str) {
    for t in [Transport::Tcp, Transport::Udp] {
        let table = parse_table(t, text);
        for line in text.lines() {
            if let Some(Ok(s)) = parse_line(t, line) {
                assert_eq!(s.transport, t);
                let _ = (s.state_name(), s.is_listening());
                if let Ok(all) = &table {
                    assert!(all.contains(&s), "{line:?} parses alone, not in its table");
                }
            }
        }
    }
    for w in text.split_whitespace() {
        let _ = parse_addr(w);
        let _ = socket_inode(w);
    }
    let _ = parse_port_range(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found while writing the `procnet` fuzz target: a 32-byte address with a multi-byte character
    /// was cut inside the character (a panic); `+` passed as a hex digit.
    #[test]
    fn addresses_that_are_not_hex_are_errors() {
        // 32 bytes, the é across the first word's end.
        assert!(parse_addr("0000000é00000000000000000000000:0016").is_err());
        assert!(parse_addr("+100007F:0016").is_err());
        assert_eq!(
            parse_addr("0100007F:0016").unwrap(),
            "127.0.0.1:22".parse().unwrap()
        );
        fuzz_check("  0: 0000000é00000000000000000000000:0016 00000000:0000 0A\n");
    }

    // Real lines, read on an x86-64 (little-endian) Linux 6.x machine while a Python
    // script held: a TCP listener on [::1]:7000 with one connection from [::1]:35630, a
    // UDP socket bound to [::1]:7001, and a UDP socket 127.0.0.1:7001 connected to
    // 127.0.0.1:9.
    const TCP4: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 636 1 000000003c759f41 100 0 0 10 0                       
   1: 020200C0:DBD6 507100CB:01BB 01 00000000:00000000 00:00000000 00000000     0        0 1209200 1 000000009f5ff8d0 20 4 17 22 -1                  
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1B58 00000000000000000000000000000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 1210005 2 0000000021a3e340 100 0 0 10 0
   1: 00000000000000000000000001000000:1B58 00000000000000000000000001000000:8B2E 01 00000000:00000000 00:00000000 00000000     0        0 0 1 00000000c572ff2c 20 0 0 10 -1
   2: 00000000000000000000000001000000:8B2E 00000000000000000000000001000000:1B58 01 00000000:00000000 00:00000000 00000000     0        0 1210006 2 000000003c4be93b 20 0 0 10 -1
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
10697: 00000000000000000000000001000000:1B59 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1210007 2 00000000082fb04e 0
";
    const UDP4: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
10697: 0100007F:1B59 0100007F:0009 01 00000000:00000000 00:00000000 00000000     0        0 1210008 2 000000009a4fd5d5 0       
";

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn ipv4_lines_listener_and_connection() {
        let t = parse_table(Transport::Tcp, TCP4).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].local, sa("0.0.0.0:2024"));
        assert_eq!(t[0].remote, sa("0.0.0.0:0"));
        assert_eq!((t[0].state_name(), t[0].is_listening()), ("LISTEN", true));
        assert_eq!((t[0].uid, t[0].inode), (0, 636));
        // 020200C0 → bytes C0 00 02 02 = 192.0.2.2; DBD6 = 56278; 01BB = 443.
        assert_eq!(t[1].local, sa("192.0.2.2:56278"));
        assert_eq!(t[1].remote.port(), 443);
        assert_eq!(t[1].state_name(), "ESTABLISHED");
        assert!(!t[1].is_listening());
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn ipv6_words_are_in_host_order() {
        let t = parse_table(Transport::Tcp, TCP6).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].local, sa("[::1]:7000"));
        assert_eq!(t[0].rx_queue, 1, "one connection waits in the accept queue");
        // Not yet accept()ed: no process holds it, inode 0.
        assert_eq!((t[1].remote, t[1].inode), (sa("[::1]:35630"), 0));
        assert_eq!(t[2].local, sa("[::1]:35630"));
        assert_eq!(t[2].remote, sa("[::1]:7000"));
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn udp_unconnected_and_connected() {
        let u6 = parse_table(Transport::Udp, UDP6).unwrap();
        assert_eq!(u6[0].local, sa("[::1]:7001"));
        assert_eq!((u6[0].state_name(), u6[0].is_listening()), ("UNCONN", true));
        let u4 = parse_table(Transport::Udp, UDP4).unwrap();
        assert_eq!(u4[0].local, sa("127.0.0.1:7001"));
        assert_eq!(u4[0].remote, sa("127.0.0.1:9"));
        assert_eq!(
            (u4[0].state_name(), u4[0].is_listening()),
            ("ESTABLISHED", false)
        );
        assert_eq!(u4[0].inode, 1210008);
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        for bad in [
            "0: 0100007F 0100007F:0009 01",
            "0: 0100007:1B59 0100007F:0009 01 0:0 0:0 0 0 0 1",
            "0: 0100007F:1B59 0100007F:0009 ZZ 0:0 0:0 0 0 0 1",
            "0: 0100007F:1B59 0100007F:0009 01 00:00",
            "0: 0100007F:1B59",
            "0: 0100007F:1B59 0100007F:0009 01 00000000:00000000 00:00000000 00000000 0 0 x",
        ] {
            assert!(
                matches!(parse_line(Transport::Tcp, bad), Some(Err(_))),
                "{bad}"
            );
        }
        assert!(parse_line(Transport::Tcp, "").is_none());
        assert!(parse_line(Transport::Tcp, "  sl  local_address").is_none());
    }

    #[test]
    fn ranges_and_inodes() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range("60999 32768"), None);
        assert_eq!(parse_port_range("1"), None);
        assert_eq!(socket_inode("socket:[1210008]"), Some(1210008));
        assert_eq!(socket_inode("pipe:[5]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(PortClass::of(80), PortClass::WellKnown);
        assert_eq!(PortClass::of(1024), PortClass::Registered);
        assert_eq!(PortClass::of(49151), PortClass::Registered);
        assert_eq!(PortClass::of(49152), PortClass::Dynamic);
        assert_eq!(PORTS_PER_TRANSPORT, 65_536);
    }
}
