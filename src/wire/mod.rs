//! Pure protocol codecs: bytes in, typed views out; `Repr`s in, bytes out.
//!
//! Contract: nothing here does I/O or prints. Each file covers one protocol in the manner
//! of smoltcp's `wire` module: field offsets as named constants in a private-ish
//! `field` module (so the same ranges serve parsing, emitting and colouring a hex dump),
//! a zero-copy `Packet<T: AsRef<[u8]>>` view whose accessors cannot panic once
//! `check_len()` succeeded, and — next to each field — a [`FieldDef`] holding the field's
//! Wireshark display-filter name and a one-line explanation written for a learner.
//!
//! May import: `std`, `sha1`/`base64` for the WebSocket accept key, `serde_json` for
//! Engine.IO / Socket.IO JSON.

/// Declares a protocol's fields: each `NAME: Kind("Name", "wireshark.key", "meaning")`
/// becomes a `pub const NAME: FieldDef`, and the module gets `pub const FIELDS`, the list of
/// all of them. The display filter's table of names and types is built from these lists
/// ([`ALL`]), so a field cannot be dissected without the filter knowing its name and type.
///
/// `.alias("key")` gives the same bytes a second Wireshark name.
macro_rules! fields {
    ($(
        $(#[$attr:meta])*
        $id:ident: $kind:ident($name:expr, $key:expr, $meaning:expr $(,)?) $(.alias($alias:expr))?;
    )*) => {
        $(
            $(#[$attr])*
            pub const $id: $crate::wire::FieldDef = $crate::wire::FieldDef::new(
                $crate::wire::Kind::$kind,
                $name,
                $key,
                $meaning,
            ) $(.with_alias($alias))?;
        )*
        /// Every field this module defines (see `wire::fields!`).
        pub const FIELDS: &[&$crate::wire::FieldDef] = &[$(&$id),*];
    };
}
pub(crate) use fields;

pub mod arp;
pub mod checksum;
pub mod dns;
pub mod engineio;
pub mod ethernet;
#[cfg(test)]
pub(crate) mod examples;
pub mod ftp;
pub mod http;
pub mod icmp;
pub mod icmpv6;
pub mod imf;
pub mod ipv4;
pub mod ipv6;
pub mod link;
pub mod md5;
pub mod pcap;
pub mod procnet;
pub mod smtp;
pub mod socketio;
pub mod ssh;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod websocket;

use core::fmt;
use core::ops::Range;

/// A field's place inside its header, in bytes from the header's start.
pub type Field = Range<usize>;

/// What a header field is called and what it means, for a learner.
///
/// `key` is the Wireshark display-filter name (`ip.ttl`), or `""` when Wireshark has no
/// field of that exact meaning. `meaning` completes the sentence "this field is …", e.g.
/// for the TTL: "routers it may still cross before it is dropped". `kind` is the type of
/// its value, as Wireshark's field types say it (`FT_UINT8` is a number, `FT_BOOLEAN` a
/// flag…): the display filter checks a literal against it when the filter is read.
#[derive(Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub key: &'static str,
    pub meaning: &'static str,
    pub kind: Kind,
    /// A second Wireshark name for the same bytes (IPv6's version is also `ip.version`).
    pub alias: &'static str,
}

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer (Wireshark's `FT_UINT*`, `FT_INT*`, `FT_FRAMENUM`).
    Num,
    /// One bit or yes/no (`FT_BOOLEAN`).
    Bool,
    /// A MAC address (`FT_ETHER`).
    Mac,
    Ipv4,
    Ipv6,
    /// Raw bytes (`FT_BYTES`).
    Bytes,
    /// Text (`FT_STRING`); the filter compares it as bytes, like Wireshark.
    Text,
    /// A heading that groups the fields below it (`FT_NONE`): present or not.
    Group,
    /// A time span in seconds (`FT_RELATIVE_TIME`): a round-trip time.
    Time,
}

impl FieldDef {
    pub const fn new(
        kind: Kind,
        name: &'static str,
        key: &'static str,
        meaning: &'static str,
    ) -> Self {
        FieldDef {
            name,
            key,
            meaning,
            kind,
            alias: "",
        }
    }

    pub const fn with_alias(self, alias: &'static str) -> Self {
        FieldDef { alias, ..self }
    }
}

/// Every protocol's fields, for the display filter's table (the dissector adds its own
/// computed fields: see `dissect::filter`).
pub const ALL: &[&[&FieldDef]] = &[
    arp::FIELDS,
    dns::FIELDS,
    engineio::FIELDS,
    ethernet::FIELDS,
    ethernet::vlan::FIELDS,
    ftp::FIELDS,
    http::FIELDS,
    icmp::FIELDS,
    icmpv6::FIELDS,
    imf::FIELDS,
    ipv4::FIELDS,
    ipv6::FIELDS,
    link::FIELDS,
    smtp::FIELDS,
    socketio::FIELDS,
    ssh::FIELDS,
    tcp::FIELDS,
    tls::FIELDS,
    udp::FIELDS,
    websocket::FIELDS,
];

/// Why a buffer could not be read as a given header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The buffer ends before the header does.
    Truncated { needed: usize, had: usize },
    /// A length or offset field contradicts the header or the buffer.
    Malformed(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { needed, had } => {
                write!(f, "needed {needed} bytes, had {had}")
            }
            Error::Malformed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

/// Checks that `buf` holds at least `needed` bytes.
pub fn need(buf: &[u8], needed: usize) -> Result<()> {
    if buf.len() < needed {
        Err(Error::Truncated {
            needed,
            had: buf.len(),
        })
    } else {
        Ok(())
    }
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub(crate) fn set_be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn set_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Bytes from hex (test constants cut from captures).
#[cfg(test)]
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
