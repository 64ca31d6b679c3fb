//! The I/O layer: network namespaces, TUN devices, and (later) sockets and raw sockets.
//! Everything that touches the operating system lives here, so protocol engines
//! (`src/tcp/`) stay testable without privileges.
//!
//! Imports: `std`, `libc`.

pub mod raw;
pub mod sandbox;
