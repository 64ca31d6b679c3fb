//! A private network sandbox: this process moves into a brand-new, *anonymous* network
//! namespace (`unshare(CLONE_NEWNET)`), with a TUN device in it ([`Sandbox::create`]) or
//! with only `lo` ([`private_lo`]).
//!
//! Two ways in, one sandbox: as root, the namespace is made directly; as anyone else,
//! netlab first makes a user namespace of its own ([`crate::net::userns`]), in which it
//! holds CAP_NET_ADMIN over the network namespaces it then creates — and nothing else.
//! No sudo, no setcap, no setuid helper.
//!
//! Why anonymous: the namespace has no name in `/run/netns` and lives exactly as long as
//! the process. Whatever happens — success, an error, Ctrl-C, even a crash — the kernel
//! removes the namespace, its TUN device, its addresses and routes when netlab exits.
//! Nothing is left behind, and the host's own interfaces, addresses and routes are never
//! touched: from inside the namespace they are not even visible.
//!
//! The kernel owns one address on the TUN device (e.g. 10.0.0.1); the other (10.0.0.2)
//! is routed *into* the TUN device, where netlab reads every packet the kernel sends and
//! writes the packets its own TCP endpoint crafts. netlab is the wire.
//!
//! Addresses are given with `ip` (iproute2), run as a child: it inherits the namespaces,
//! and inside the user namespace it is root of that namespace (uid 0 mapped to the
//! caller), so it may configure that network namespace and no other.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::userns::{self, Need};
pub use super::userns::{Closed, Identity, Way};

/// Addresses inside the sandbox (they exist only in netlab's private namespace).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The kernel's address on the TUN device.
    pub kernel: IpAddr,
    /// The address netlab's own endpoint answers for (routed into the TUN device).
    pub netlab: IpAddr,
    pub prefix: u8,
}

/// Why the sandbox could not be made.
#[derive(Debug)]
pub enum SandboxError {
    /// The way without root is closed on this system (or root itself was refused).
    Closed(Closed),
    Io(&'static str, io::Error),
    Command(String),
}

/// The last remedy, where a file capability helps at all: it is offered last because
/// it leaves a privileged binary behind.
const SETCAP: &str = "as a last resort, `sudo setcap cap_sys_admin+ep \"$(command -v netlab)\"` \
     lets netlab past that check, but then anyone who can run that file holds \
     CAP_SYS_ADMIN, which is nearly root (undo it with `sudo setcap -r`)";

impl SandboxError {
    /// The one-line error for `netlab COMMAND`: the reason, naming the knob, then the
    /// remedies in order: sudo, `--simulate` if the command has it (`simulate`), the
    /// system's setting, and setcap last where it helps.
    pub fn explain(&self, command: &str, simulate: bool) -> String {
        let c = match self {
            SandboxError::Closed(c) => c,
            other => return other.to_string(),
        };
        if let Closed::RootRefused { .. } = c {
            return format!("cannot make a private network namespace: {c}");
        }
        let mut s = format!(
            "no private network namespace without root: {c}; \
             run `sudo netlab {command} …`"
        );
        if simulate {
            s.push_str(&format!(
                ", or `netlab {command} --simulate …` (no kernel, no privileges)"
            ));
        }
        if let Some(knob) = c.knob() {
            s.push_str(&format!(", or have the usual setting restored: {knob}"));
        }
        if c.setcap_helps() {
            s.push_str("; ");
            s.push_str(SETCAP);
        }
        s
    }
}

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SandboxError::Closed(_) => f.write_str(&self.explain("…", false)),
            SandboxError::Io(what, e) => write!(f, "{what}: {e}"),
            SandboxError::Command(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for SandboxError {}

impl From<Closed> for SandboxError {
    fn from(c: Closed) -> Self {
        SandboxError::Closed(c)
    }
}

/// The TUN device inside the private namespace.
pub struct Sandbox {
    tun: File,
    pub name: String,
    pub plan: Plan,
}

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// iproute2's `ip`: from `PATH`, or where distributions put it (an ordinary user's
/// `PATH` often lacks `/usr/sbin`).
fn ip_program() -> &'static Path {
    static IP: OnceLock<PathBuf> = OnceLock::new();
    IP.get_or_init(|| {
        let in_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join("ip"));
        let usual = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].map(PathBuf::from);
        in_path
            .chain(usual)
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("ip"))
    })
}

fn run(args: &[&str]) -> Result<(), SandboxError> {
    let out = Command::new(ip_program())
        .args(args)
        .output()
        .map_err(|e| SandboxError::Command(format!("cannot run `ip` (iproute2): {e}")))?;
    if !out.status.success() {
        return Err(SandboxError::Command(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn sysctl(path: &str, value: &str) {
    // Best effort: these only quieten the namespace (no router solicitations, no DAD).
    let _ = std::fs::write(format!("/proc/sys/{path}"), value);
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Moves the calling thread into a new, empty network namespace (after
/// [`userns::enter`]).
fn unshare_net() -> Result<(), SandboxError> {
    // SAFETY: unshare only changes this thread's namespace membership.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(match errno_of(&e) {
            libc::EPERM | libc::EACCES => {
                SandboxError::Closed(userns::refused("unshare(CLONE_NEWNET)", errno_of(&e)))
            }
            _ => SandboxError::Io("unshare(CLONE_NEWNET)", e),
        });
    }
    Ok(())
}

/// Brings `lo` up in the current network namespace (SIOCSIFFLAGS, as `ip link set lo
/// up` does): a new namespace's loopback starts down, and without it even 127.0.0.1 is
/// unreachable.
fn lo_up() -> Result<(), SandboxError> {
    // SAFETY: plain socket(2); the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(SandboxError::Io(
            "socket for SIOCSIFFLAGS",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: a fresh descriptor we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS / SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(SandboxError::Io(
                "SIOCGIFFLAGS lo",
                io::Error::last_os_error(),
            ));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            let e = io::Error::last_os_error();
            return Err(match errno_of(&e) {
                libc::EPERM => SandboxError::Closed(userns::refused("bringing lo up", libc::EPERM)),
                _ => SandboxError::Io("SIOCSIFFLAGS lo", e),
            });
        }
    }
    Ok(())
}

/// Moves this process into a new network namespace whose only interface is `lo`, up —
/// through a user namespace where it is `identity` unless it runs as root. Call it
/// before spawning any thread: every thread spawned afterwards lives there too.
pub fn private_lo(identity: Identity) -> Result<Way, SandboxError> {
    let way = userns::enter(Need::Netns, identity)?;
    unshare_net()?;
    lo_up()?;
    Ok(way)
}

impl Sandbox {
    /// Moves the calling thread — call it from `main` before spawning threads, so every
    /// thread lives in the sandbox — into a new network namespace (through a user
    /// namespace unless it runs as root), and makes the TUN device `name` with `plan`'s
    /// addresses. A second call makes a second namespace, owned by the same user
    /// namespace.
    pub fn create(name: &str, plan: Plan) -> Result<Sandbox, SandboxError> {
        userns::enter(Need::Tun, Identity::Root)?;
        unshare_net()?;
        let path = CString::new(userns::TUN_PATH).expect("no NUL");
        // SAFETY: plain open(2) of a NUL-terminated path. Opened *inside* the new
        // namespace: a TUN device is made in the namespace its file was opened in.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(match userns::check_tun() {
                Err(closed) => SandboxError::Closed(closed),
                Ok(()) => SandboxError::Io("open /dev/net/tun", e),
            });
        }
        // SAFETY: fd is a freshly opened descriptor we own.
        let tun = unsafe { File::from_raw_fd(fd) };
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TUN | IFF_NO_PI,
            _pad: [0; 22],
        };
        for (d, s) in req
            .name
            .iter_mut()
            .zip(name.bytes().take(libc::IFNAMSIZ - 1))
        {
            *d = s as libc::c_char;
        }
        // SAFETY: TUNSETIFF reads an ifreq we own for the duration of the call.
        if unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
            let e = io::Error::last_os_error();
            return Err(match errno_of(&e) {
                libc::EPERM => SandboxError::Closed(userns::refused("TUNSETIFF", libc::EPERM)),
                _ => SandboxError::Io("TUNSETIFF", e),
            });
        }
        for k in ["all", "default", name] {
            sysctl(&format!("net/ipv6/conf/{k}/accept_dad"), "0");
            sysctl(&format!("net/ipv6/conf/{k}/router_solicitations"), "0");
            sysctl(&format!("net/ipv6/conf/{k}/accept_ra"), "0");
        }
        lo_up()?;
        let cidr = format!("{}/{}", plan.kernel, plan.prefix);
        match plan.kernel {
            IpAddr::V4(_) => run(&["addr", "add", &cidr, "dev", name])?,
            IpAddr::V6(_) => run(&["-6", "addr", "add", &cidr, "dev", name, "nodad"])?,
        }
        run(&["link", "set", name, "up"])?;
        // IPv6 installs the prefix route when the link comes up, a moment after `ip`
        // returns; a SYN sent before it would be lost. Wait until the kernel routes
        // netlab's address into the TUN device (at most 2 s).
        let netlab = plan.netlab.to_string();
        for _ in 0..100 {
            let routed = Command::new(ip_program())
                .args(["route", "get", &netlab])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("dev {name}")));
            if routed {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Sandbox {
            tun,
            name: name.to_string(),
            plan,
        })
    }

    /// Waits up to `timeout` for a packet from the kernel; `Ok(None)` on timeout.
    pub fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let mut pfd = libc::pollfd {
            fd: self.tun.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd we own.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(None);
        }
        self.tun.read(buf).map(Some)
    }

    /// Hands one IP packet to the kernel, as if it arrived on the wire.
    pub fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.tun.write_all(packet)
    }
}

impl AsRawFd for Sandbox {
    /// The TUN device's descriptor (to poll several devices at once).
    fn as_raw_fd(&self) -> RawFd {
        self.tun.as_raw_fd()
    }
}
