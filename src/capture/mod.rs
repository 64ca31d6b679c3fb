//! Streaming pcap/pcapng reading (and pcap writing) over `std::io`.
//!
//! Memory stays flat whatever the file size: one record buffer is reused for every
//! packet. Imports: `wire::pcap` for the formats.

pub mod reader;
pub mod writer;

pub use reader::{ReadError, Reader, Record};
pub use writer::Writer;
