//! Small socket calls that `std` and `socket2` do not expose as such, so a command can
//! show them one by one: `ioctl(FIONREAD)` and an explicit `close()`; what a timed-out
//! read looks like; and a bounded wait for a socket to become readable, so that a
//! server's accept loop can look up now and then (has its output been closed?).

use std::io;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};
use std::time::Duration;

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

/// Waits up to `timeout` until `sock` is readable (a listener: a connection waits to be
/// accepted; a socket: data or end of stream); false when the time ran out.
pub fn wait_readable(sock: &impl AsFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: sock.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, for a descriptor `sock` keeps open during the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    match rc {
        -1 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_readable_once_a_client_connects() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(!wait_readable(&l, Duration::from_millis(10)).unwrap());
        let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        assert!(wait_readable(&l, Duration::from_secs(5)).unwrap());
    }
}
