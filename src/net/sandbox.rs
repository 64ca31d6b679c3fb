//! A private network sandbox: this process moves into a brand-new, *anonymous* network
//! namespace (`unshare(CLONE_NEWNET)`) with a TUN device in it.
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

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::process::Command;
use std::time::Duration;

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
    /// Creating a namespace or a TUN device needs CAP_NET_ADMIN.
    NotPermitted,
    Io(&'static str, io::Error),
    Command(String),
}

/// What to do about [`SandboxError::NotPermitted`], for every command that needs the
/// sandbox.
pub const REMEDY: &str = "run `sudo netlab …`, or once: \
     sudo setcap cap_net_admin,cap_net_raw+ep \"$(command -v netlab)\"";

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SandboxError::NotPermitted => write!(
                f,
                "creating a private network namespace and a TUN device needs CAP_NET_ADMIN; \
                 {REMEDY} (or try `--simulate`, which needs no privileges)"
            ),
            SandboxError::Io(what, e) => write!(f, "{what}: {e}"),
            SandboxError::Command(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for SandboxError {}

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

fn run(args: &[&str]) -> Result<(), SandboxError> {
    let out = Command::new("ip")
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

impl Sandbox {
    /// Moves the calling thread — call it from `main` before spawning threads, so every
    /// thread lives in the sandbox — into a new network namespace, and makes the TUN
    /// device `name` with `plan`'s addresses.
    pub fn create(name: &str, plan: Plan) -> Result<Sandbox, SandboxError> {
        // SAFETY: unshare only changes this thread's namespace membership.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) => SandboxError::NotPermitted,
                _ => SandboxError::Io("unshare(CLONE_NEWNET)", e),
            });
        }
        let path = CString::new("/dev/net/tun").expect("no NUL");
        // SAFETY: plain open(2) of a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => SandboxError::NotPermitted,
                _ => SandboxError::Io("open /dev/net/tun", e),
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
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) => SandboxError::NotPermitted,
                _ => SandboxError::Io("TUNSETIFF", e),
            });
        }
        for k in ["all", "default", name] {
            sysctl(&format!("net/ipv6/conf/{k}/accept_dad"), "0");
            sysctl(&format!("net/ipv6/conf/{k}/router_solicitations"), "0");
            sysctl(&format!("net/ipv6/conf/{k}/accept_ra"), "0");
        }
        run(&["link", "set", "lo", "up"])?;
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
            let routed = Command::new("ip")
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
