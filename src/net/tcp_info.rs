//! The kernel's own view of a TCP connection: `getsockopt(fd, IPPROTO_TCP, TCP_INFO)`.
//!
//! `struct tcp_info` (linux/include/uapi/linux/tcp.h) grows with kernel versions; the
//! kernel copies `min(its size, our size)` bytes and reports how many it wrote, so
//! fields past that length are `None` rather than zeros that would look like facts.

use std::io;
use std::os::fd::AsRawFd;

/// The layout of `struct tcp_info` up to `snd_wnd` (Linux 5.4+). Older kernels fill
/// a prefix.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RawTcpInfo {
    state: u8,
    ca_state: u8,
    retransmits: u8,
    probes: u8,
    backoff: u8,
    options: u8,
    wscale: u8,
    flags: u8,
    rto: u32,
    ato: u32,
    snd_mss: u32,
    rcv_mss: u32,
    unacked: u32,
    sacked: u32,
    lost: u32,
    retrans: u32,
    fackets: u32,
    last_data_sent: u32,
    last_ack_sent: u32,
    last_data_recv: u32,
    last_ack_recv: u32,
    pmtu: u32,
    rcv_ssthresh: u32,
    rtt: u32,
    rttvar: u32,
    snd_ssthresh: u32,
    snd_cwnd: u32,
    advmss: u32,
    reordering: u32,
    rcv_rtt: u32,
    rcv_space: u32,
    total_retrans: u32,
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
    bytes_received: u64,
    segs_out: u32,
    segs_in: u32,
    notsent_bytes: u32,
    min_rtt: u32,
    data_segs_in: u32,
    data_segs_out: u32,
    delivery_rate: u64,
    busy_time: u64,
    rwnd_limited: u64,
    sndbuf_limited: u64,
    delivered: u32,
    delivered_ce: u32,
    bytes_sent: u64,
    bytes_retrans: u64,
    dsack_dups: u32,
    reord_seen: u32,
    rcv_ooopack: u32,
    snd_wnd: u32,
}

pub use crate::wire::procnet::TcpInfo;

/// Reads `TCP_INFO` from a connected (or listening) TCP socket.
pub fn tcp_info(sock: &impl AsRawFd) -> io::Result<TcpInfo> {
    let mut raw = RawTcpInfo::default();
    let mut len = std::mem::size_of::<RawTcpInfo>() as libc::socklen_t;
    // SAFETY: `raw` is a plain-old-data struct of `len` bytes; the kernel writes at
    // most `len` bytes and stores the count it wrote in `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut raw as *mut RawTcpInfo).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let len = len as usize;
    let has = |end: usize| len >= end;
    macro_rules! end_of {
        ($field:ident) => {
            std::mem::offset_of!(RawTcpInfo, $field) + std::mem::size_of_val(&raw.$field)
        };
    }
    Ok(TcpInfo {
        state: crate::wire::procnet::tcp_state_name(raw.state),
        rtt_us: raw.rtt,
        rttvar_us: raw.rttvar,
        rto_us: raw.rto,
        snd_cwnd: raw.snd_cwnd,
        snd_ssthresh: raw.snd_ssthresh,
        snd_mss: raw.snd_mss,
        rcv_mss: raw.rcv_mss,
        unacked: raw.unacked,
        total_retrans: raw.total_retrans,
        bytes_acked: has(end_of!(bytes_acked)).then_some(raw.bytes_acked),
        bytes_received: has(end_of!(bytes_received)).then_some(raw.bytes_received),
        segs_out: has(end_of!(segs_out)).then_some(raw.segs_out),
        segs_in: has(end_of!(segs_in)).then_some(raw.segs_in),
        bytes_sent: has(end_of!(bytes_sent)).then_some(raw.bytes_sent),
        bytes_retrans: has(end_of!(bytes_retrans)).then_some(raw.bytes_retrans),
        ca_state: crate::wire::procnet::ca_state_name(raw.ca_state),
        min_rtt_us: has(end_of!(min_rtt)).then_some(raw.min_rtt),
        delivery_rate: has(end_of!(delivery_rate)).then_some(raw.delivery_rate),
    })
}

/// Bytes the application has read from a connected TCP socket so far: what the kernel
/// received in order (`bytes_received`) minus what still waits in the receive queue
/// (`SIOCINQ`). Lets a tracer find where in the stream the next unread byte sits
/// without counting every read itself. Needs Linux 4.1+ (`bytes_received`).
pub fn bytes_read(sock: &impl AsRawFd) -> io::Result<u64> {
    let inq = || crate::net::sockio::bytes_queued(sock).map(|n| n as u64);
    // Data may arrive between the two calls: retry until both agree.
    for _ in 0..100 {
        let before = inq()?;
        let info = tcp_info(sock)?;
        let after = inq()?;
        let Some(received) = info.bytes_received else {
            return Err(io::Error::other(
                "this kernel's TCP_INFO has no bytes_received",
            ));
        };
        if before == after {
            return Ok(received.saturating_sub(after));
        }
    }
    Err(io::Error::other("the receive queue kept changing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn loopback_connection_reports_established_and_counts_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).unwrap();
        server.write_all(b"world").unwrap();
        client.read_exact(&mut buf).unwrap();

        let info = tcp_info(&client).unwrap();
        assert_eq!(info.state, "ESTABLISHED");
        assert!(info.snd_mss > 0 && info.rcv_mss > 0, "{info:?}");
        assert!(info.snd_cwnd >= 1, "{info:?}");
        // The client sent 5 bytes the server read. Linux's `bytes_acked` counts
        // acknowledged sequence space, so the SYN's one sequence number is in it too.
        if let Some(acked) = info.bytes_acked {
            assert!(acked <= 6, "{info:?}");
        }
        if let Some(sent) = info.bytes_sent {
            assert_eq!(sent, 5, "{info:?}");
        }
        if let Some(received) = info.bytes_received {
            assert_eq!(received, 5, "{info:?}");
        }
        assert_eq!(tcp_info(&listener).unwrap().state, "LISTEN");
    }

    #[test]
    fn bytes_read_counts_what_the_application_took() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"hello world").unwrap();
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).unwrap();
        // 11 bytes arrived (wait until the kernel has them all), 5 were read.
        let start = std::time::Instant::now();
        while tcp_info(&server).unwrap().bytes_received.unwrap_or(11) < 11 {
            assert!(start.elapsed().as_secs() < 5);
        }
        assert_eq!(bytes_read(&server).unwrap(), 5);
        let mut rest = [0u8; 6];
        server.read_exact(&mut rest).unwrap();
        assert_eq!(bytes_read(&server).unwrap(), 11);
    }

    #[test]
    fn not_a_tcp_socket_is_an_error() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(tcp_info(&udp).is_err());
    }
}
