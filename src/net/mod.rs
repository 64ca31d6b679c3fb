//! The I/O layer: network namespaces, TUN devices, raw sockets, and the kernel's view of sockets (TCP_INFO).
//! Everything that touches the operating system lives here, so protocol engines
//! (`src/tcp/`) stay testable without privileges.
//!
//! Imports: `std`, `libc`.

pub mod conn_watch;
pub mod http;
pub mod raw;
pub mod sandbox;
pub mod tcp_info;
