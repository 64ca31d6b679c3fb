//! A thin, safe wrapper over Linux `epoll(7)`: one thread watches many sockets and is
//! woken only for those that can make progress — how event-driven servers (nginx,
//! tokio, Node.js's libuv) serve thousands of connections without a thread each — and
//! an `eventfd(2)` [`Waker`], so that another thread can wake a waiting loop.
//!
//! [`crate::net::event_loop`] builds the servers' event loop on it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// What to be woken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Bytes (or end of stream) to read.
    Read,
    /// Room in the send buffer (the peer is reading slower than we write).
    Write,
    /// Both.
    ReadWrite,
}

impl Interest {
    fn bits(self) -> u32 {
        match self {
            Interest::Read => libc::EPOLLIN as u32,
            Interest::Write => libc::EPOLLOUT as u32,
            Interest::ReadWrite => (libc::EPOLLIN | libc::EPOLLOUT) as u32,
        }
    }
}

/// One readiness report: the token given at registration and what is ready.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub token: u64,
    /// Readable, or the peer closed / the socket failed (a read then says which).
    pub readable: bool,
    pub writable: bool,
}

/// An epoll instance (level-triggered).
pub struct Poller {
    fd: OwnedFd,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        // SAFETY: plain system call; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller {
            // SAFETY: a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: interest.bits(),
            u64: token,
        };
        // SAFETY: `ev` lives across the call; the kernel copies it.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Starts watching `sock` (safe to call from another thread than the waiter).
    pub fn add(&self, sock: &impl AsRawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, sock.as_raw_fd(), token, interest)
    }

    /// Starts watching `sock` for reading with `EPOLLEXCLUSIVE`: when several epoll
    /// instances watch the same socket (one listening socket shared by every event
    /// loop), an event wakes one of the waiting threads, not all of them — no
    /// "thundering herd" on each new connection (epoll(7), Linux 4.5).
    pub fn add_exclusive(&self, sock: &impl AsRawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32,
            u64: token,
        };
        // SAFETY: `ev` lives across the call; the kernel copies it.
        let rc = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                sock.as_raw_fd(),
                &mut ev,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Changes what `sock` is watched for.
    pub fn modify(&self, sock: &impl AsRawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, sock.as_raw_fd(), token, interest)
    }

    /// Stops watching `sock` (closing it also does).
    pub fn delete(&self, sock: &impl AsRawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, sock.as_raw_fd(), 0, Interest::Read)
    }

    /// Waits up to `timeout` (`None`: for ever; rounded up to whole milliseconds, so
    /// that a deadline 0.3 ms away is not a busy loop of zero-timeout waits) and appends
    /// what is ready (at most 256 reports; the rest stay ready for the next call) to
    /// `out`.
    pub fn wait(&self, out: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let ms = timeout.map_or(-1, |t| {
            t.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
        });
        let mut buf = [libc::epoll_event { events: 0, u64: 0 }; 256];
        // SAFETY: `buf` has room for `buf.len()` events; the kernel fills at most that.
        let n = unsafe {
            libc::epoll_wait(self.fd.as_raw_fd(), buf.as_mut_ptr(), buf.len() as i32, ms)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        let hangup = (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32;
        out.extend(buf[..n as usize].iter().map(|e| {
            let bits = e.events;
            Event {
                token: e.u64,
                readable: bits & (libc::EPOLLIN as u32 | hangup) != 0,
                writable: bits & libc::EPOLLOUT as u32 != 0,
            }
        }));
        Ok(())
    }
}

/// An `eventfd(2)` counter that a thread waiting in [`Poller::wait`] watches: another
/// thread calls [`Waker::wake`] to interrupt the wait (a message was queued for it).
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: plain system call; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Waker {
            // SAFETY: a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Makes the descriptor readable (adds 1 to the counter).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64. A full counter (EAGAIN) is still
        // readable, which is all a wake-up needs.
        let _ = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Resets the counter (the waiter does, once woken).
    pub fn reset(&self) {
        let mut n: u64 = 0;
        // SAFETY: reads at most 8 bytes into a valid u64; EAGAIN (already reset) is fine.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut n as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

impl AsRawFd for Waker {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn reports_readable_and_writable_sockets_by_token() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let p = Poller::new().unwrap();
        p.add(&server, 7, Interest::Read).unwrap();
        let mut evs = Vec::new();
        p.wait(&mut evs, Some(Duration::from_millis(20))).unwrap();
        assert!(evs.is_empty(), "nothing sent yet: {evs:?}");

        client.write_all(b"x").unwrap();
        p.wait(&mut evs, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token, 7);
        assert!(evs[0].readable && !evs[0].writable);

        evs.clear();
        p.modify(&server, 8, Interest::Write).unwrap();
        p.wait(&mut evs, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(evs.len(), 1);
        assert!(evs[0].token == 8 && evs[0].writable);

        evs.clear();
        p.delete(&server).unwrap();
        p.wait(&mut evs, Some(Duration::from_millis(20))).unwrap();
        assert!(evs.is_empty());
    }

    #[test]
    fn a_waker_interrupts_a_wait_from_another_thread() {
        let p = Poller::new().unwrap();
        let w = std::sync::Arc::new(Waker::new().unwrap());
        p.add(&*w, 1, Interest::Read).unwrap();
        let w2 = std::sync::Arc::clone(&w);
        let t = std::thread::spawn(move || w2.wake());
        let mut evs = Vec::new();
        p.wait(&mut evs, Some(Duration::from_secs(5))).unwrap();
        t.join().unwrap();
        assert_eq!(evs.len(), 1);
        assert!(evs[0].token == 1 && evs[0].readable);
        w.reset();
        evs.clear();
        p.wait(&mut evs, Some(Duration::from_millis(10))).unwrap();
        assert!(evs.is_empty(), "reset: no longer readable");
    }
}
