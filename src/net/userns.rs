//! The ordinary user's way into a private network: a **user namespace**.
//!
//! Making a network namespace needs CAP_SYS_ADMIN, and configuring it (a TUN device,
//! addresses, routes, `lo` up, a packet socket) CAP_NET_ADMIN or CAP_NET_RAW — but the
//! kernel checks those capabilities *in the user namespace that owns the network
//! namespace*. Any user may create a user namespace (`unshare(CLONE_NEWUSER)`, as
//! `unshare -Ur` does) and holds every capability inside it; a network namespace created
//! from there is owned by it, so that user may configure *that* network namespace, and
//! nothing else. Outside, the process keeps exactly the rights it had: the host's
//! interfaces, files and processes are as out of reach as before. Nothing is setuid,
//! nothing is written outside `/proc/self`, and the namespaces vanish with the process.
//!
//! [`enter`] takes that way once per process (a second call returns the first answer,
//! so `netlab race`'s two network namespaces are owned by one user namespace). As root
//! it does nothing: root may make namespaces as it is. When the system closes the way,
//! [`Closed`] says which of its knobs did, checked in this order: `/dev/net/tun`'s mode,
//! unprivileged user namespaces turned off by sysctl, Ubuntu's AppArmor restriction, a
//! seccomp or container policy.
//!
//! Threads: the kernel refuses `unshare(CLONE_NEWUSER)` to a process with more than one
//! thread (`EINVAL`), and a process that left its user namespace cannot `setns` back.
//! Call [`enter`] first thing, before spawning any thread; every thread spawned later
//! inherits the namespaces.
//!
//! Imports: `std`, `libc`.

use std::ffi::CString;
use std::fmt;
use std::io::{self, Write};
use std::sync::OnceLock;

/// How this process came to hold CAP_NET_ADMIN over the namespaces it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// It runs as root (sudo): namespaces are made as they are.
    Root,
    /// It created a user namespace of its own first (no privileges needed).
    UserNamespace,
}

/// Who the process is inside its user namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// uid and gid 0, mapped to the caller's (`unshare -Ur`): programs it starts, such
    /// as `ip`, are root *of this namespace* and keep its capabilities.
    Root,
    /// The caller's own uid and gid: the process keeps the namespace's capabilities
    /// until it runs another program, which then runs as the caller with none.
    Caller,
}

/// What the sandbox will need besides a network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A network namespace with `lo` only.
    Netns,
    /// A TUN device too: `/dev/net/tun` must be openable.
    Tun,
}

pub const TUN_PATH: &str = "/dev/net/tun";

/// Why the way through a user namespace is closed on this system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// `/dev/net/tun` cannot be opened by this user: its mode, owner, and the error.
    Tun { mode: u32, uid: u32, errno: i32 },
    /// No `/dev/net/tun` (or no TUN driver).
    TunMissing { errno: i32 },
    /// Debian's and older Ubuntu's switch: `kernel.unprivileged_userns_clone = 0`.
    UsernsCloneOff,
    /// `user.max_user_namespaces`: 0 turns user namespaces off; otherwise the limit was
    /// reached.
    MaxUserNamespaces(u64),
    /// Ubuntu 23.10+: `kernel.apparmor_restrict_unprivileged_userns = 1`.
    AppArmor,
    /// Refused although no sysctl says so: a seccomp filter or a container's policy.
    Policy {
        step: &'static str,
        errno: i32,
        seccomp: bool,
    },
    /// Root, and still refused: a container without CAP_SYS_ADMIN.
    RootRefused { step: &'static str, errno: i32 },
    /// Anything else (the step and the error say what).
    Failed { step: &'static str, errno: i32 },
}

fn strerror(errno: i32) -> String {
    io::Error::from_raw_os_error(errno).to_string()
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ENOSPC => "ENOSPC",
        libc::EUSERS => "EUSERS",
        libc::EINVAL => "EINVAL",
        libc::ENOENT => "ENOENT",
        _ => "error",
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Tun { mode, uid, .. } if mode & 0o006 != 0o006 => write!(
                f,
                "{TUN_PATH} is {mode:04o} (owner {}) on this system, so this user cannot \
                 open it (most distributions ship 0666, which is safe: only CAP_NET_ADMIN \
                 in a network namespace can make a TUN device there)",
                user_name(*uid)
            ),
            Closed::Tun { mode, errno, .. } => write!(
                f,
                "{TUN_PATH} is {mode:04o} and still cannot be opened ({}): a container's \
                 device rules?",
                strerror(*errno)
            ),
            Closed::TunMissing { errno } => write!(
                f,
                "{TUN_PATH} cannot be opened ({}): is the tun driver loaded (`modprobe tun`)?",
                strerror(*errno)
            ),
            Closed::UsernsCloneOff => f.write_str(
                "unprivileged user namespaces are turned off on this system \
                 (kernel.unprivileged_userns_clone = 0)",
            ),
            Closed::MaxUserNamespaces(0) => f.write_str(
                "user namespaces are turned off on this system (user.max_user_namespaces = 0)",
            ),
            Closed::MaxUserNamespaces(n) => write!(
                f,
                "the limit on user namespaces is reached (user.max_user_namespaces = {n})"
            ),
            Closed::AppArmor => f.write_str(
                "AppArmor forbids unprivileged user namespaces the capabilities netlab needs \
                 (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10 and later)",
            ),
            Closed::Policy {
                step,
                errno,
                seccomp,
            } => write!(
                f,
                "{step} was refused ({}) although no sysctl forbids user namespaces: a \
                 {} policy does (Docker's default profile, for one)",
                errno_name(*errno),
                if *seccomp {
                    "seccomp filter on this process, or a container"
                } else {
                    "container or seccomp"
                }
            ),
            Closed::RootRefused { step, errno } => write!(
                f,
                "even as root, {step} was refused ({}): a container without CAP_SYS_ADMIN?",
                errno_name(*errno)
            ),
            Closed::Failed { step, errno } => write!(f, "{step}: {}", strerror(*errno)),
        }
    }
}

impl std::error::Error for Closed {}

impl Closed {
    /// The system setting that would open the way, as a command for its administrator.
    pub fn knob(&self) -> Option<&'static str> {
        match self {
            Closed::Tun { mode, .. } if mode & 0o006 != 0o006 => {
                Some("sudo chmod 0666 /dev/net/tun")
            }
            Closed::UsernsCloneOff => Some("sudo sysctl kernel.unprivileged_userns_clone=1"),
            Closed::MaxUserNamespaces(0) => Some("sudo sysctl user.max_user_namespaces=15000"),
            Closed::AppArmor => Some(
                "an AppArmor profile for netlab that allows `userns,` (or, for the whole \
                 system, sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0)",
            ),
            _ => None,
        }
    }

    /// A file capability gets a process past this check (a capable process may create
    /// user namespaces where unprivileged ones are forbidden); not past a device's mode,
    /// a hard limit or a seccomp filter.
    pub fn setcap_helps(&self) -> bool {
        matches!(self, Closed::UsernsCloneOff | Closed::AppArmor)
    }
}

fn user_name(uid: u32) -> String {
    if uid == 0 {
        "root".to_string()
    } else {
        format!("uid {uid}")
    }
}

/// What the system says about user namespaces (each `None` when the file is absent:
/// the knob does not exist on this kernel).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub unprivileged_userns_clone: Option<u64>,
    pub max_user_namespaces: Option<u64>,
    pub apparmor_restrict: Option<u64>,
    /// This process runs under a seccomp filter (`Seccomp: 2` in /proc/self/status).
    pub seccomp_filter: bool,
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Facts {
    pub fn read() -> Facts {
        let seccomp_filter = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Seccomp:").map(|v| v.trim() == "2"))
            })
            .unwrap_or(false);
        Facts {
            unprivileged_userns_clone: read_number("/proc/sys/kernel/unprivileged_userns_clone"),
            max_user_namespaces: read_number("/proc/sys/user/max_user_namespaces"),
            apparmor_restrict: read_number(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            ),
            seccomp_filter,
        }
    }
}

/// Why `step` failed with `errno` on the way through a user namespace, from the
/// system's knobs, in the order: turned off, AppArmor, then a policy.
pub fn diagnose(step: &'static str, errno: i32, facts: &Facts) -> Closed {
    if !matches!(
        errno,
        libc::EPERM | libc::EACCES | libc::ENOSPC | libc::EUSERS
    ) {
        return Closed::Failed { step, errno };
    }
    if facts.unprivileged_userns_clone == Some(0) {
        return Closed::UsernsCloneOff;
    }
    if facts.max_user_namespaces == Some(0) {
        return Closed::MaxUserNamespaces(0);
    }
    if matches!(errno, libc::ENOSPC | libc::EUSERS) {
        return Closed::MaxUserNamespaces(facts.max_user_namespaces.unwrap_or(0).max(1));
    }
    if facts.apparmor_restrict == Some(1) {
        return Closed::AppArmor;
    }
    Closed::Policy {
        step,
        errno,
        seccomp: facts.seccomp_filter,
    }
}

/// Can this user open `/dev/net/tun`? (Opening it makes nothing: a device exists only
/// after TUNSETIFF, which is not called here.)
pub fn check_tun() -> Result<(), Closed> {
    let path = CString::new(TUN_PATH).expect("no NUL");
    // SAFETY: open(2) of a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd >= 0 {
        // SAFETY: a descriptor we own.
        unsafe { libc::close(fd) };
        return Ok(());
    }
    let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match errno {
        libc::EACCES | libc::EPERM => {
            // SAFETY: stat(2) into a zeroed struct we own.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let (mode, uid) = if unsafe { libc::stat(path.as_ptr(), &mut st) } == 0 {
                (st.st_mode & 0o7777, st.st_uid)
            } else {
                (0, 0)
            };
            Err(Closed::Tun { mode, uid, errno })
        }
        _ => Err(Closed::TunMissing { errno }),
    }
}

/// The answer of the first [`enter`] that succeeded.
static ENTERED: OnceLock<Way> = OnceLock::new();

/// How this process entered, if it did.
pub fn entered() -> Option<Way> {
    ENTERED.get().copied()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Writes `text` to a `/proc/self` file in one `write` (the kernel parses each write
/// of a uid map whole).
fn write_proc(path: &'static str, text: &str) -> Result<(), (&'static str, i32)> {
    let errno = |e: io::Error| (path, e.raw_os_error().unwrap_or(libc::EIO));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(errno)?;
    match f.write(text.as_bytes()) {
        Ok(n) if n == text.len() => Ok(()),
        Ok(_) => Err((path, libc::EIO)),
        Err(e) => Err(errno(e)),
    }
}

/// Makes sure this process may create network namespaces: as root, nothing to do; as
/// anyone else, moves the process into a new user namespace where it is `identity`
/// and holds every capability (see the module docs). Once per process; call it before
/// any thread exists.
pub fn enter(need: Need, identity: Identity) -> Result<Way, Closed> {
    if let Some(way) = entered() {
        return Ok(way);
    }
    if is_root() {
        return Ok(*ENTERED.get_or_init(|| Way::Root));
    }
    if need == Need::Tun {
        check_tun()?;
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare changes only this (single-threaded) process's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if errno == libc::EINVAL {
            // A second thread exists: a bug in netlab's order of things.
            return Err(Closed::Failed {
                step: "unshare(CLONE_NEWUSER) (netlab must call it before starting threads)",
                errno,
            });
        }
        return Err(diagnose("unshare(CLONE_NEWUSER)", errno, &Facts::read()));
    }
    // A file capability (setcap) makes the process non-dumpable, and /proc/self's files
    // then belong to root: the maps below could not be written. The process holds no
    // capability outside its new namespace any more, so this gives nothing away.
    // SAFETY: prctl with integer arguments.
    unsafe {
        if libc::prctl(libc::PR_GET_DUMPABLE) != 1 {
            libc::prctl(libc::PR_SET_DUMPABLE, 1);
        }
    }
    let (inner_uid, inner_gid) = match identity {
        Identity::Root => (0, 0),
        Identity::Caller => (uid, gid),
    };
    // setgroups(2) must be denied before an unprivileged process may write gid_map
    // (user_namespaces(7)): otherwise it could drop a group that denies it access.
    let maps = [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("{inner_uid} {uid} 1")),
        ("/proc/self/gid_map", format!("{inner_gid} {gid} 1")),
    ];
    for (path, text) in maps {
        match write_proc(path, &text) {
            Ok(()) => {}
            // Kernels before 3.19 have no setgroups file (and need no "deny").
            Err((_, libc::ENOENT)) if path.ends_with("setgroups") => {}
            Err((path, errno)) => return Err(diagnose(step_name(path), errno, &Facts::read())),
        }
    }
    Ok(*ENTERED.get_or_init(|| Way::UserNamespace))
}

fn step_name(path: &str) -> &'static str {
    match path {
        "/proc/self/setgroups" => "writing /proc/self/setgroups",
        "/proc/self/uid_map" => "writing /proc/self/uid_map",
        _ => "writing /proc/self/gid_map",
    }
}

/// Why creating a namespace (`step`) failed with `errno` after [`enter`].
pub fn refused(step: &'static str, errno: i32) -> Closed {
    match entered() {
        Some(Way::Root) if matches!(errno, libc::EPERM | libc::EACCES) => {
            Closed::RootRefused { step, errno }
        }
        _ => diagnose(step, errno, &Facts::read()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Facts {
        Facts {
            unprivileged_userns_clone: None,
            max_user_namespaces: Some(63_000),
            apparmor_restrict: None,
            seccomp_filter: false,
        }
    }

    #[test]
    fn each_knob_is_named_in_order() {
        // Debian's switch first, even where AppArmor restricts too.
        let f = Facts {
            unprivileged_userns_clone: Some(0),
            apparmor_restrict: Some(1),
            ..open()
        };
        assert_eq!(
            diagnose("unshare(CLONE_NEWUSER)", libc::EPERM, &f),
            Closed::UsernsCloneOff
        );
        let f = Facts {
            max_user_namespaces: Some(0),
            apparmor_restrict: Some(1),
            ..open()
        };
        assert_eq!(
            diagnose("unshare(CLONE_NEWUSER)", libc::ENOSPC, &f),
            Closed::MaxUserNamespaces(0)
        );
        let f = Facts {
            apparmor_restrict: Some(1),
            unprivileged_userns_clone: Some(1),
            ..open()
        };
        assert_eq!(
            diagnose("unshare(CLONE_NEWNET)", libc::EPERM, &f),
            Closed::AppArmor
        );
        let f = Facts {
            seccomp_filter: true,
            ..open()
        };
        let c = diagnose("unshare(CLONE_NEWUSER)", libc::EPERM, &f);
        assert!(matches!(c, Closed::Policy { seccomp: true, .. }), "{c:?}");
        assert!(c.to_string().contains("seccomp"), "{c}");
    }

    #[test]
    fn a_reached_limit_is_not_a_switch() {
        let c = diagnose("unshare(CLONE_NEWUSER)", libc::ENOSPC, &open());
        assert_eq!(c, Closed::MaxUserNamespaces(63_000));
        assert!(c.to_string().contains("= 63000"), "{c}");
        assert_eq!(c.knob(), None);
    }

    #[test]
    fn other_errors_are_reported_as_they_are() {
        let c = diagnose("unshare(CLONE_NEWNET)", libc::ENOMEM, &open());
        assert!(matches!(c, Closed::Failed { .. }));
        assert!(c.to_string().starts_with("unshare(CLONE_NEWNET): "), "{c}");
    }

    #[test]
    fn the_tun_message_names_the_device_and_its_mode() {
        let c = Closed::Tun {
            mode: 0o600,
            uid: 0,
            errno: libc::EACCES,
        };
        let s = c.to_string();
        assert!(s.starts_with("/dev/net/tun is 0600 (owner root)"), "{s}");
        assert!(s.contains("most distributions ship 0666"), "{s}");
        assert_eq!(c.knob(), Some("sudo chmod 0666 /dev/net/tun"));
        assert!(!c.setcap_helps());
        // Mode 0666 and still refused: not the mode's fault.
        let c = Closed::Tun {
            mode: 0o666,
            uid: 0,
            errno: libc::EPERM,
        };
        assert!(c.to_string().contains("container"), "{c}");
        assert_eq!(c.knob(), None);
    }

    #[test]
    fn setcap_is_offered_only_where_it_helps() {
        assert!(Closed::UsernsCloneOff.setcap_helps());
        assert!(Closed::AppArmor.setcap_helps());
        assert!(!Closed::MaxUserNamespaces(0).setcap_helps());
        assert!(
            !Closed::Policy {
                step: "unshare(CLONE_NEWUSER)",
                errno: libc::EPERM,
                seccomp: true
            }
            .setcap_helps()
        );
    }
}
