//! Small socket calls that `std` and `socket2` do not expose as such, so a command can
//! show them one by one: `ioctl(FIONREAD)` and an explicit `close()`; and what a timed-out
//! read looks like.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};

/// `ioctl(fd, FIONREAD)`: for TCP the bytes waiting in the receive buffer (not yet
/// read by the program); for UDP the size of the *next* datagram only.
pub fn bytes_queued(sock: &impl AsRawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::FIONREAD, &mut n as *mut libc::c_int) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.max(0) as usize)
}

/// `close(fd)`, returning the kernel's answer instead of ignoring it as `Drop` does.
pub fn close(sock: impl IntoRawFd) -> io::Result<()> {
    let fd = sock.into_raw_fd();
    // SAFETY: we own `fd` (taken from its owner above) and close it exactly once.
    if unsafe { libc::close(fd) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A read timed out (`set_read_timeout` gives WouldBlock or TimedOut).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
