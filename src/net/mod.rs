//! The I/O layer: network namespaces (through a user namespace without root), TUN devices, raw sockets, and the kernel's view of sockets (TCP_INFO).
//! Everything that touches the operating system lives here, so protocol engines
//! (`src/tcp/`) stay testable without privileges.
//!
//! Imports: `std`, `libc`, `pnet_datalink` (live capture).

pub mod bulk;
pub mod conn_watch;
pub mod event_loop;
pub mod explain;
pub mod guest;
pub mod http;
pub mod poll;
pub mod ports;
pub mod raw;
pub mod relay;
pub mod rounds;
pub mod sandbox;
pub mod sniff;
pub mod sockio;
pub mod tcp_info;
pub mod userns;
pub mod wire_pair;
