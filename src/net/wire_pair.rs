//! Two private network namespaces with netlab as the only wire between them.
//!
//! A network namespace belongs to a *thread* on Linux, and a socket stays in the
//! namespace it was created in, whatever its thread does afterwards. So one thread can
//! build two worlds one after the other:
//!
//! 1. `unshare(CLONE_NEWNET)` into namespace A, make TUN device `a` (the kernel owns
//!    `plan_a.kernel` there and routes `plan_a.netlab`, the other side, into the TUN), and
//!    create A's sockets (e.g. the servers);
//! 2. `unshare` again into a fresh namespace B, make TUN device `b` the other way round,
//!    and create B's sockets (e.g. the clients).
//!
//! Every packet A's kernel sends to B then comes out of TUN `a`, where netlab reads it,
//! and reaches B's kernel only if netlab writes it into TUN `b` — and back the same way.
//! Both namespaces are anonymous (see [`crate::net::sandbox`]): they, their devices,
//! addresses and routes vanish with the process on every exit path, Ctrl-C and crashes
//! included; the host's own network is never touched or even seen.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::net::sandbox::{Plan, Sandbox, SandboxError};

/// One of the two namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// The TUN ends of both namespaces.
pub struct WirePair {
    a: Sandbox,
    b: Sandbox,
    /// Which device to read first when both are ready (alternates, so that a burst
    /// one way never starves the other).
    b_first: bool,
}

impl WirePair {
    /// Builds both namespaces. `in_a` runs inside A after its TUN device is up, `in_b`
    /// inside B: the sockets they create live in that namespace for good. The calling
    /// thread is left in B.
    pub fn build<T, U>(
        (name_a, plan_a): (&str, Plan),
        (name_b, plan_b): (&str, Plan),
        in_a: impl FnOnce() -> io::Result<T>,
        in_b: impl FnOnce() -> io::Result<U>,
    ) -> Result<(WirePair, T, U), SandboxError> {
        let a = Sandbox::create(name_a, plan_a)?;
        let t = in_a().map_err(|e| SandboxError::Io("setting up namespace A", e))?;
        let b = Sandbox::create(name_b, plan_b)?;
        let u = in_b().map_err(|e| SandboxError::Io("setting up namespace B", e))?;
        Ok((
            WirePair {
                a,
                b,
                b_first: false,
            },
            t,
            u,
        ))
    }

    /// Waits up to `timeout` for a packet from either kernel; `Ok(None)` on timeout.
    /// The packet lands in `buf`; the side says which kernel sent it.
    pub fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<(Side, usize)>> {
        let mut pfds = [
            libc::pollfd {
                fd: self.a.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.b.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: two pollfds we own, for the duration of the call.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(e);
        }
        let ready_a = pfds[0].revents & libc::POLLIN != 0;
        let ready_b = pfds[1].revents & libc::POLLIN != 0;
        let side = match (ready_a, ready_b) {
            (true, true) if self.b_first => Side::B,
            (true, _) => Side::A,
            (false, true) => Side::B,
            (false, false) => return Ok(None),
        };
        self.b_first = side == Side::A;
        let dev = match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        };
        Ok(dev.recv(buf, Duration::ZERO)?.map(|n| (side, n)))
    }

    /// Hands one IP packet to `to`'s kernel, as if it had arrived on its wire.
    pub fn deliver(&mut self, to: Side, packet: &[u8]) -> io::Result<()> {
        match to {
            Side::A => self.a.send(packet),
            Side::B => self.b.send(packet),
        }
    }
}
