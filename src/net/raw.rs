//! Raw sockets for `tcp-handshake --target`: netlab sends whole IP packets it built
//! itself (`IPPROTO_RAW`, the header included), and watches the interface with a packet
//! socket (`AF_PACKET`), which sees both directions — including the local kernel's own
//! reaction to segments it did not expect.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Why raw sockets could not be opened.
#[derive(Debug)]
pub enum RawError {
    NotPermitted,
    Io(&'static str, io::Error),
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawError::NotPermitted => write!(
                f,
                "raw sockets need CAP_NET_RAW; run `sudo netlab …`, or once: \
                 sudo setcap cap_net_admin,cap_net_raw+ep \"$(command -v netlab)\""
            ),
            RawError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for RawError {}

fn check(fd: i32, what: &'static str) -> Result<OwnedFd, RawError> {
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => RawError::NotPermitted,
            _ => RawError::Io(what, e),
        });
    }
    // SAFETY: a freshly created descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The local address the kernel would use to reach `dst` (no packet is sent: a UDP
/// socket's `connect` only chooses a route).
pub fn local_addr_for(dst: SocketAddr) -> io::Result<IpAddr> {
    let any: SocketAddr = match dst {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("valid"),
        SocketAddr::V6(_) => "[::]:0".parse().expect("valid"),
    };
    let s = UdpSocket::bind(any)?;
    s.connect(dst)?;
    Ok(s.local_addr()?.ip())
}

/// A packet seen on the interface.
pub struct Seen {
    pub len: usize,
    /// Sent by this host (by netlab or by the kernel), not received.
    pub outgoing: bool,
}

pub struct RawWire {
    send: OwnedFd,
    sniff: OwnedFd,
}

const ETH_P_ALL: u16 = 0x0003;

impl RawWire {
    pub fn open(v6: bool) -> Result<RawWire, RawError> {
        let fam = if v6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: plain socket(2) calls.
        let send = check(
            unsafe { libc::socket(fam, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) },
            "raw IP socket",
        )?;
        let sniff = check(
            unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                    ETH_P_ALL.to_be() as i32,
                )
            },
            "packet socket",
        )?;
        Ok(RawWire { send, sniff })
    }

    /// Sends one IP packet (header included) towards `dst`.
    pub fn send(&self, packet: &[u8], dst: IpAddr) -> io::Result<()> {
        let n = match dst {
            IpAddr::V4(a) => {
                let sa = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: valid buffer and sockaddr for the duration of the call.
                unsafe {
                    libc::sendto(
                        self.send.as_raw_fd(),
                        packet.as_ptr().cast(),
                        packet.len(),
                        0,
                        (&sa as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            IpAddr::V6(a) => {
                let sa = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: 0,
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    sin6_scope_id: 0,
                };
                // SAFETY: as above.
                unsafe {
                    libc::sendto(
                        self.send.as_raw_fd(),
                        packet.as_ptr().cast(),
                        packet.len(),
                        0,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` for a packet on any interface; the IP packet lands in `buf`.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<Seen>> {
        Ok(recv_packet(&self.sniff, buf, timeout, 0)?
            .map(|(n, outgoing)| Seen { len: n, outgoing }))
    }
}

/// Waits up to `timeout` for a packet on packet socket `fd` and reads it into `buf`:
/// its length (with `MSG_TRUNC` in `flags`, the length before any cut) and whether this
/// host sent it. `None` when nothing came in time.
fn recv_packet(
    fd: &OwnedFd,
    buf: &mut [u8],
    timeout: Duration,
    flags: libc::c_int,
) -> io::Result<Option<(usize, bool)>> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one pollfd we own.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n <= 0 {
        let e = io::Error::last_os_error();
        if n < 0 && e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        return Ok(None);
    }
    // SAFETY: sockaddr_ll is plain data; zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut sl = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: valid buffer and address storage.
    let n = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            (&mut sll as *mut libc::sockaddr_ll).cast(),
            &mut sl,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Some((n as usize, sll.sll_pkttype == libc::PACKET_OUTGOING)))
}

/// A temporary nftables rule that drops the local kernel's outgoing RSTs for exactly one
/// 4-tuple. Removed when dropped — on success, on error, and after Ctrl-C (the command
/// turns SIGINT into an orderly exit while the rule exists).
pub struct RstFilter {
    table: String,
}

fn nft(script: &str) -> io::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

impl RstFilter {
    pub fn install(local: SocketAddr, remote: SocketAddr) -> io::Result<RstFilter> {
        let table = format!("netlab_rst_{}", std::process::id());
        let fam = if local.is_ipv4() { "ip" } else { "ip6" };
        let script = format!(
            "table inet {table} {{\n  chain out {{\n    type filter hook output priority 0; policy accept;\n    \
             {fam} saddr {} {fam} daddr {} tcp sport {} tcp dport {} tcp flags & rst == rst drop\n  }}\n}}\n",
            local.ip(),
            remote.ip(),
            local.port(),
            remote.port()
        );
        nft(&script)?;
        Ok(RstFilter { table })
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

impl Drop for RstFilter {
    fn drop(&mut self) {
        let _ = nft(&format!("delete table inet {}\n", self.table));
    }
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Turns SIGINT and SIGTERM into a flag the event loop polls, so that cleanup (the
/// nftables rule) runs before exit.
pub fn catch_interrupts() {
    // SAFETY: installing an async-signal-safe handler (it only stores an atomic).
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// A packet socket bound to one interface that keeps the link header (`SOCK_RAW`), with
/// a kernel filter (classic BPF) so only the TCP segments of one port are copied to
/// user space, and the kernel's receive timestamp of each frame.
pub struct LinkSniffer {
    fd: OwnedFd,
}

/// A frame seen by a [`LinkSniffer`].
pub struct LinkFrame {
    /// Bytes written into the caller's buffer (the whole frame up to the buffer size).
    pub len: usize,
    /// The frame's length on the link (may exceed `len` if the buffer was short).
    pub wire_len: usize,
    /// The kernel's timestamp: seconds and nanoseconds since the Unix epoch.
    pub ts: (i64, u32),
    /// `PACKET_OUTGOING`: sent by this host. On `lo` every frame is seen twice, once
    /// leaving and once arriving; keeping the outgoing copy sees each exactly once.
    pub outgoing: bool,
}

/// Attaches a classic BPF program to socket `fd` (`SO_ATTACH_FILTER`): the kernel then
/// queues only the packets the program keeps.
pub fn attach_filter(fd: RawFd, prog: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `prog`, alive for the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `tcpdump -dd 'tcp port 3000'` (Ethernet link type), with the port patched in: IPv4
/// (non-first fragments excluded) or IPv6 without extension headers, either port.
fn tcp_port_filter(port: u16) -> Vec<libc::sock_filter> {
    const PROG: [(u16, u8, u8, u32); 20] = [
        (0x28, 0, 0, 0x0000000c),
        (0x15, 0, 6, 0x000086dd),
        (0x30, 0, 0, 0x00000014),
        (0x15, 0, 15, 0x00000006),
        (0x28, 0, 0, 0x00000036),
        (0x15, 12, 0, 0xffff_ffff),
        (0x28, 0, 0, 0x00000038),
        (0x15, 10, 11, 0xffff_ffff),
        (0x15, 0, 10, 0x00000800),
        (0x30, 0, 0, 0x00000017),
        (0x15, 0, 8, 0x00000006),
        (0x28, 0, 0, 0x00000014),
        (0x45, 6, 0, 0x00001fff),
        (0xb1, 0, 0, 0x0000000e),
        (0x48, 0, 0, 0x0000000e),
        (0x15, 2, 0, 0xffff_ffff),
        (0x48, 0, 0, 0x00000010),
        (0x15, 0, 1, 0xffff_ffff),
        (0x6, 0, 0, 0x00040000),
        (0x6, 0, 0, 0x00000000),
    ];
    PROG.iter()
        .map(|&(code, jt, jf, k)| libc::sock_filter {
            code,
            jt,
            jf,
            k: if k == 0xffff_ffff { u32::from(port) } else { k },
        })
        .collect()
}

impl LinkSniffer {
    /// Opens a packet socket on interface `ifname` that sees TCP segments to or from
    /// `port`. Needs CAP_NET_RAW.
    pub fn open(ifname: &str, port: u16) -> Result<LinkSniffer, RawError> {
        // Protocol 0: nothing is queued until the filter is attached and `bind` names
        // the protocol, so no unfiltered frame slips in.
        // SAFETY: plain socket(2) call.
        let fd = check(
            unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) },
            "packet socket",
        )?;
        let name = std::ffi::CString::new(ifname)
            .map_err(|_| RawError::Io("interface name", io::ErrorKind::InvalidInput.into()))?;
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(RawError::Io("interface", io::Error::last_os_error()));
        }
        attach_filter(fd.as_raw_fd(), &tcp_port_filter(port))
            .map_err(|e| RawError::Io("attaching the packet filter", e))?;
        // SAFETY: sockaddr_ll is plain data; zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: a valid sockaddr_ll for the duration of the call.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(RawError::Io(
                "binding the packet socket",
                io::Error::last_os_error(),
            ));
        }
        Ok(LinkSniffer { fd })
    }

    /// Waits up to `timeout` for a frame; the frame (link header included) lands in `buf`.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<LinkFrame>> {
        // MSG_TRUNC: the length returned is the frame's real length even when cut.
        let Some((n, outgoing)) = recv_packet(&self.fd, buf, timeout, libc::MSG_TRUNC)? else {
            return Ok(None);
        };
        // The kernel's timestamp of the frame just read (SIOCGSTAMPNS).
        const SIOCGSTAMPNS: libc::c_ulong = 0x8907;
        let mut tsp = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: the ioctl writes one timespec.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), SIOCGSTAMPNS as _, &mut tsp) };
        let ts = if rc == 0 {
            (tsp.tv_sec, tsp.tv_nsec as u32)
        } else {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (now.as_secs() as i64, now.subsec_nanos())
        };
        let wire_len = n;
        Ok(Some(LinkFrame {
            len: wire_len.min(buf.len()),
            wire_len,
            ts,
            outgoing,
        }))
    }
}
