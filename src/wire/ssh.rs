//! SSH, the Secure Shell transport (RFC 4253, data types RFC 4251): what an observer of
//! an SSH connection sees before the encryption starts.
//!
//! Each side first sends a version line, `SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n` (§ 4.2).
//! Then everything is a *binary packet* (§ 6):
//!
//! ```text
//! +------------------+---------+------------------------+---------+-----+
//! | packet_length    | padding | payload                | random  | MAC |
//! | uint32           | length  | (packet_length −       | padding |     |
//! |                  | byte    |  padding_length − 1)   |         |     |
//! +------------------+---------+------------------------+---------+-----+
//! ```
//!
//! The first payloads are readable: KEXINIT (§ 7.1) lists, in order of preference, the
//! key exchange, host key, cipher, MAC and compression algorithms each side supports;
//! both then pick the first of the client's that the server also lists
//! ([`negotiate`]). The key exchange messages carry public keys and the server's host key
//! and signature; after NEWKEYS (§ 7.3) each direction switches to the negotiated cipher
//! and nothing more can be read — with most ciphers not even the packet lengths.
//!
//! A packet length is a 32-bit number: one above [`MAX_PACKET_LEN`] (2^32 − 1, say) is
//! malformed, not a reason to wait for 4 GiB. [`Packet`] is a zero-copy view of one
//! binary packet; the `parse_*` functions read payloads into values carrying their byte
//! ranges; [`KexInitRepr`] builds a KEXINIT.

use core::fmt;
use core::ops::Range;

use super::{Result, be32, need};

pub mod field {
    use crate::wire::Field;
    pub const PACKET_LENGTH: Field = 0..4;
    pub const PADDING_LENGTH: Field = 4..5;
    pub const PAYLOAD: usize = 5;
}

/// SSH's well-known port.
pub const PORT: u16 = 22;
/// The longest packet netlab reads as one: RFC 4253 § 6.1 requires 35000 bytes to be
/// handled and allows more; OpenSSH refuses above 256 KiB.
pub const MAX_PACKET_LEN: usize = 256 * 1024;
/// The longest version line, CR LF included (RFC 4253 § 4.2).
pub const MAX_BANNER_LEN: usize = 255;

/// Message numbers. RFC 4250 § 4.1, RFC 4253 § 12, RFC 5656 § 7, RFC 4419 § 5.
pub mod msg {
    pub const DISCONNECT: u8 = 1;
    pub const IGNORE: u8 = 2;
    pub const UNIMPLEMENTED: u8 = 3;
    pub const DEBUG: u8 = 4;
    pub const SERVICE_REQUEST: u8 = 5;
    pub const SERVICE_ACCEPT: u8 = 6;
    pub const EXT_INFO: u8 = 7;
    pub const KEXINIT: u8 = 20;
    pub const NEWKEYS: u8 = 21;
    /// KEXDH_INIT / KEX_ECDH_INIT / KEX_DH_GEX_REQUEST_OLD (by key exchange method).
    pub const KEX_30: u8 = 30;
    /// KEXDH_REPLY / KEX_ECDH_REPLY / KEX_DH_GEX_GROUP.
    pub const KEX_31: u8 = 31;
    pub const KEX_DH_GEX_INIT: u8 = 32;
    pub const KEX_DH_GEX_REPLY: u8 = 33;
    pub const KEX_DH_GEX_REQUEST: u8 = 34;
}

fields! {
    PROTOCOL: Text(
        "Protocol",
        "ssh.protocol",
        "the version line each side sends first: SSH-protoversion-softwareversion, in the clear",
    );
    DIRECTION: Bool(
        "Direction",
        "ssh.direction",
        "0 client to server, 1 server to client",
    );
    PACKET_LENGTH: Num(
        "Packet Length",
        "ssh.packet_length",
        "bytes of the packet after this field, MAC not counted (RFC 4253 § 6)",
    );
    PACKET_LENGTH_ENCRYPTED: Bytes(
        "Packet Length (encrypted)",
        "ssh.packet_length_encrypted",
        "the packet length, encrypted too by this cipher: an observer cannot even see where packets end",
    );
    PADDING_LENGTH: Num(
        "Padding Length",
        "ssh.padding_length",
        "random bytes at the end (at least 4) that round the packet to the cipher's block size and hide the payload's exact length",
    );
    MESSAGE_CODE: Num(
        "Message Code",
        "ssh.message_code",
        "the payload's first byte: which message (20 KEXINIT, 21 NEWKEYS, 30/31 key exchange…)",
    );
    PAYLOAD: Bytes(
        "Payload",
        "ssh.payload",
        "the message's bytes after its code",
    );
    PADDING_STRING: Bytes(
        "Padding String",
        "ssh.padding_string",
        "the random padding",
    );
    SEQ_NUM: Num(
        "Sequence number",
        "ssh.seq_num",
        "the packet's number in its direction, from 0; never sent, but mixed into the MAC so packets cannot be replayed or reordered",
    );
    ENCRYPTED_PACKET: Bytes(
        "Encrypted Packet",
        "ssh.encrypted_packet",
        "encrypted: nobody on the path can read this — after NEWKEYS everything, your password and commands included, is sealed",
    );
    MAC: Bytes(
        "MAC",
        "ssh.mac",
        "the message authentication code: proof the packet was not changed on the way",
    );
    COOKIE: Bytes(
        "Cookie",
        "ssh.cookie",
        "16 random bytes, so no two key exchanges are alike",
    );
    KEX_ALGORITHMS_LENGTH: Num(
        "kex_algorithms length",
        "ssh.kex_algorithms_length",
        "the list's length",
    );
    KEX_ALGORITHMS: Text(
        "kex_algorithms string",
        "ssh.kex_algorithms",
        "key exchange methods this side supports, most preferred first: how the two agree on a secret nobody on the path learns",
    );
    SERVER_HOST_KEY_ALGORITHMS_LENGTH: Num(
        "server_host_key_algorithms length",
        "ssh.server_host_key_algorithms_length",
        "the list's length",
    );
    SERVER_HOST_KEY_ALGORITHMS: Text(
        "server_host_key_algorithms string",
        "ssh.server_host_key_algorithms",
        "the kinds of host key the server may prove its identity with (the key ~/.ssh/known_hosts remembers)",
    );
    ENCRYPTION_C2S_LENGTH: Num(
        "encryption_algorithms_client_to_server length",
        "ssh.encryption_algorithms_client_to_server_length",
        "the list's length",
    );
    ENCRYPTION_C2S: Text(
        "encryption_algorithms_client_to_server string",
        "ssh.encryption_algorithms_client_to_server",
        "ciphers for what the client sends",
    );
    ENCRYPTION_S2C_LENGTH: Num(
        "encryption_algorithms_server_to_client length",
        "ssh.encryption_algorithms_server_to_client_length",
        "the list's length",
    );
    ENCRYPTION_S2C: Text(
        "encryption_algorithms_server_to_client string",
        "ssh.encryption_algorithms_server_to_client",
        "ciphers for what the server sends",
    );
    MAC_C2S_LENGTH: Num(
        "mac_algorithms_client_to_server length",
        "ssh.mac_algorithms_client_to_server_length",
        "the list's length",
    );
    MAC_C2S: Text(
        "mac_algorithms_client_to_server string",
        "ssh.mac_algorithms_client_to_server",
        "integrity checks for the client's packets (unused with an AEAD cipher such as chacha20-poly1305)",
    );
    MAC_S2C_LENGTH: Num(
        "mac_algorithms_server_to_client length",
        "ssh.mac_algorithms_server_to_client_length",
        "the list's length",
    );
    MAC_S2C: Text(
        "mac_algorithms_server_to_client string",
        "ssh.mac_algorithms_server_to_client",
        "integrity checks for the server's packets",
    );
    COMPRESSION_C2S_LENGTH: Num(
        "compression_algorithms_client_to_server length",
        "ssh.compression_algorithms_client_to_server_length",
        "the list's length",
    );
    COMPRESSION_C2S: Text(
        "compression_algorithms_client_to_server string",
        "ssh.compression_algorithms_client_to_server",
        "compression for the client's data (zlib@openssh.com starts only after login)",
    );
    COMPRESSION_S2C_LENGTH: Num(
        "compression_algorithms_server_to_client length",
        "ssh.compression_algorithms_server_to_client_length",
        "the list's length",
    );
    COMPRESSION_S2C: Text(
        "compression_algorithms_server_to_client string",
        "ssh.compression_algorithms_server_to_client",
        "compression for the server's data",
    );
    LANGUAGES_C2S_LENGTH: Num(
        "languages_client_to_server length",
        "ssh.languages_client_to_server_length",
        "the list's length",
    );
    LANGUAGES_C2S: Text(
        "languages_client_to_server string",
        "ssh.languages_client_to_server",
        "language tags for messages (almost always empty)",
    );
    LANGUAGES_S2C_LENGTH: Num(
        "languages_server_to_client length",
        "ssh.languages_server_to_client_length",
        "the list's length",
    );
    LANGUAGES_S2C: Text(
        "languages_server_to_client string",
        "ssh.languages_server_to_client",
        "language tags for messages (almost always empty)",
    );
    FIRST_KEX_PACKET_FOLLOWS: Num(
        "First KEX Packet Follows",
        "ssh.first_kex_packet_follows",
        "1 if the sender already sent a guessed key exchange packet after this one",
    );
    KEX_RESERVED: Bytes(
        "Reserved",
        "ssh.kex.reserved",
        "4 bytes reserved for future extension, 0",
    );
    HASSH_ALGORITHMS: Text(
        "hasshAlgorithms",
        "ssh.kex.hassh_algorithms",
        "the client's key exchange, cipher, MAC and compression lists in one line: they tell SSH client programs apart",
    );
    HASSH: Text(
        "hassh",
        "ssh.kex.hassh",
        "the MD5 of the hassh line: a fingerprint of the client program",
    );
    HASSH_SERVER_ALGORITHMS: Text(
        "hasshServerAlgorithms",
        "ssh.kex.hasshserver_algorithms",
        "the server's lists in one line",
    );
    HASSH_SERVER: Text(
        "hasshServer",
        "ssh.kex.hasshserver",
        "the MD5 of the server's line: a fingerprint of the server program",
    );
    MPINT_LENGTH: Num(
        "Multi Precision Integer Length",
        "ssh.mpint_length",
        "the length of a big integer (RFC 4251 § 5 mpint)",
    );
    DH_E: Bytes(
        "DH client e",
        "ssh.dh.e",
        "the client's Diffie-Hellman public value",
    );
    DH_F: Bytes(
        "DH server f",
        "ssh.dh.f",
        "the server's Diffie-Hellman public value",
    );
    ECDH_Q_C_LENGTH: Num(
        "ECDH client's ephemeral public key length",
        "ssh.ecdh.q_c_length",
        "the key's length",
    );
    ECDH_Q_C: Bytes(
        "ECDH client's ephemeral public key (Q_C)",
        "ssh.ecdh.q_c",
        "the client's one-time public key; with the server's it yields the shared secret",
    );
    ECDH_Q_S_LENGTH: Num(
        "ECDH server's ephemeral public key length",
        "ssh.ecdh.q_s_length",
        "the key's length",
    );
    ECDH_Q_S: Bytes(
        "ECDH server's ephemeral public key (Q_S)",
        "ssh.ecdh.q_s",
        "the server's one-time public key",
    );
    HOST_KEY_LENGTH: Num(
        "Host key length",
        "ssh.host_key.length",
        "the host key blob's length",
    );
    HOST_KEY_TYPE_LENGTH: Num(
        "Host key type length",
        "ssh.host_key.type_length",
        "the key type's length",
    );
    HOST_KEY_TYPE: Text(
        "Host key type",
        "ssh.host_key.type",
        "the kind of host key: what `ssh` checks against known_hosts to know it talks to the right server",
    );
    HOST_KEY_EDDSA_KEY_LENGTH: Num(
        "EdDSA public key length",
        "ssh.host_key.eddsa.key_length",
        "the key's length",
    );
    HOST_KEY_EDDSA_KEY: Bytes(
        "EdDSA public key",
        "ssh.host_key.eddsa.key",
        "the server's Ed25519 public key",
    );
    HOST_KEY_ECDSA_ID_LENGTH: Num(
        "ECDSA elliptic curve identifier length",
        "ssh.host_key.ecdsa.id_length",
        "the curve name's length",
    );
    HOST_KEY_ECDSA_ID: Text(
        "ECDSA elliptic curve identifier",
        "ssh.host_key.ecdsa.id",
        "the curve (nistp256…)",
    );
    HOST_KEY_ECDSA_Q_LENGTH: Num(
        "ECDSA public key length",
        "ssh.host_key.ecdsa.q_length",
        "the key's length",
    );
    HOST_KEY_ECDSA_Q: Bytes(
        "ECDSA public key (Q)",
        "ssh.host_key.ecdsa.q",
        "the server's ECDSA public key",
    );
    HOST_KEY_RSA_E: Bytes(
        "RSA public exponent (e)",
        "ssh.host_key.rsa.e",
        "the RSA key's public exponent",
    );
    HOST_KEY_RSA_N: Bytes(
        "RSA modulus (N)",
        "ssh.host_key.rsa.n",
        "the RSA key's modulus",
    );
    HOST_KEY_DATA: Bytes(
        "Host key data",
        "ssh.host_key.data",
        "the key's data, of a type netlab does not take apart",
    );
    HOST_SIG_LENGTH: Num(
        "Host signature length",
        "ssh.host_sig.length",
        "the signature blob's length",
    );
    HOST_SIG_TYPE_LENGTH: Num(
        "Host signature type length",
        "ssh.host_sig.type_length",
        "the signature type's length",
    );
    HOST_SIG_TYPE: Text(
        "Host signature type",
        "ssh.host_sig.type",
        "how the server signed the exchange",
    );
    HOST_SIG_DATA: Bytes(
        "Host signature data",
        "ssh.host_sig.data",
        "the server's signature over the key exchange: proof it holds the host key's private half",
    );
    DH_GEX_MIN: Num(
        "DH GEX Min",
        "ssh.dh_gex.min",
        "the smallest group size (bits) the client accepts",
    );
    DH_GEX_NBITS: Num(
        "DH GEX Number of Bits",
        "ssh.dh_gex.nbits",
        "the group size the client prefers",
    );
    DH_GEX_MAX: Num(
        "DH GEX Max",
        "ssh.dh_gex.max",
        "the largest group size the client accepts",
    );
    DH_GEX_P: Bytes(
        "DH GEX modulus (P)",
        "ssh.dh_gex.p",
        "the prime the server chose",
    );
    DH_GEX_G: Bytes(
        "DH GEX base (G)",
        "ssh.dh_gex.g",
        "the generator",
    );
    DISCONNECT_REASON: Num(
        "Disconnect reason",
        "ssh.disconnect_reason",
        "why the sender closes the connection (RFC 4253 § 11.1)",
    );
    DISCONNECT_DESCRIPTION_LENGTH: Num(
        "Disconnect description length",
        "ssh.disconnect_description_length",
        "the text's length",
    );
    DISCONNECT_DESCRIPTION: Text(
        "Disconnect description",
        "ssh.disconnect_description",
        "the reason, for people",
    );
    LANG_TAG_LENGTH: Num(
        "Language tag length",
        "ssh.lang_tag_length",
        "the tag's length",
    );
    LANG_TAG: Text(
        "Language tag",
        "ssh.lang_tag",
        "the language of the text (usually empty)",
    );
    IGNORE_DATA_LENGTH: Num(
        "Debug message length",
        "ssh.ignore_data_length",
        "the data's length",
    );
    IGNORE_DATA: Bytes(
        "Ignore data",
        "ssh.ignore_data",
        "bytes to be ignored: sent to make traffic analysis harder",
    );
}

/// Why a binary packet or payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshError {
    /// A length announces more than what contains it holds.
    PastEnd {
        what: &'static str,
        at: usize,
        announced: usize,
        left: usize,
    },
    /// A packet length too large to be one.
    PacketTooLong(u32),
    /// The padding is longer than the packet.
    Padding { padding: u8, packet: u32 },
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshError::PastEnd {
                what,
                at,
                announced,
                left,
            } => write!(
                f,
                "{what} at offset {at} needs {announced} bytes, only {left} are left"
            ),
            SshError::PacketTooLong(n) => write!(
                f,
                "a packet length of {n} bytes is no packet (netlab reads up to {MAX_PACKET_LEN}; RFC 4253 § 6.1 requires only 35000)"
            ),
            SshError::Padding { padding, packet } => write!(
                f,
                "padding length {padding} does not fit in a packet of {packet} bytes (it must leave room for the message code)"
            ),
        }
    }
}

impl std::error::Error for SshError {}

type Parsed<T> = core::result::Result<T, SshError>;

/// The length of the version line at the start of `buf`, CR LF included, once its LF is
/// there; `Err` when no line of at most [`MAX_BANNER_LEN`] bytes ends there.
pub fn line_len(buf: &[u8]) -> Option<core::result::Result<usize, ()>> {
    match buf.iter().take(MAX_BANNER_LEN).position(|&b| b == b'\n') {
        Some(i) => Some(Ok(i + 1)),
        None if buf.len() >= MAX_BANNER_LEN => Some(Err(())),
        None => None,
    }
}

/// A version line's parts (RFC 4253 § 4.2): `SSH-protoversion-softwareversion SP
/// comments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// The line without CR LF.
    pub line: Range<usize>,
    pub proto_version: Range<usize>,
    pub software: Range<usize>,
    pub comments: Option<Range<usize>>,
}

/// Reads the version line `buf[..n]` (with its CR LF); `None` when it is no `SSH-` line.
pub fn parse_banner(buf: &[u8]) -> Option<Banner> {
    let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let line_end = if end > 0 && buf[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    let line = &buf[..line_end];
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    let proto_version = 4..4 + dash;
    let sw_start = proto_version.end + 1;
    let (software, comments) = match line[sw_start..].iter().position(|&b| b == b' ') {
        Some(sp) => (sw_start..sw_start + sp, Some(sw_start + sp + 1..line_end)),
        None => (sw_start..line_end, None),
    };
    Some(Banner {
        line: 0..line_end,
        proto_version,
        software,
        comments,
    })
}

/// A view of one binary packet (without its MAC).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }
    /// A view once the whole packet is there and its lengths are consistent.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, field::PAYLOAD)?;
        let n = self.packet_length() as usize;
        if n > MAX_PACKET_LEN {
            return Err(super::Error::Malformed("packet length beyond any packet"));
        }
        need(b, 4 + n)?;
        if self.padding_length() as usize + 1 > n {
            return Err(super::Error::Malformed("padding longer than the packet"));
        }
        Ok(())
    }
    pub fn packet_length(&self) -> u32 {
        be32(self.buffer.as_ref(), field::PACKET_LENGTH.start)
    }
    pub fn padding_length(&self) -> u8 {
        self.buffer.as_ref()[field::PADDING_LENGTH.start]
    }
    /// The payload's range: after the padding length, before the padding.
    pub fn payload(&self) -> Range<usize> {
        let n = self.packet_length() as usize;
        field::PAYLOAD..4 + n - self.padding_length() as usize
    }
    pub fn padding(&self) -> Range<usize> {
        let n = self.packet_length() as usize;
        4 + n - self.padding_length() as usize..4 + n
    }
}

/// The length of the binary packet at the start of `buf` (without MAC) once its length
/// field is there; an error for a length no packet has.
pub fn packet_len(buf: &[u8]) -> Option<Parsed<usize>> {
    if buf.len() < 4 {
        return None;
    }
    let n = be32(buf, 0);
    Some(if n as usize > MAX_PACKET_LEN {
        Err(SshError::PacketTooLong(n))
    } else {
        Ok(4 + n as usize)
    })
}

/// A cursor over `buf[pos..end]` reading RFC 4251's data types.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub end: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], r: Range<usize>) -> Reader<'a> {
        let end = r.end.min(buf.len());
        Reader {
            buf,
            pos: r.start.min(end),
            end,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.end
    }
    pub fn take(&mut self, n: usize, what: &'static str) -> Parsed<Range<usize>> {
        let left = self.end - self.pos;
        if n > left {
            return Err(SshError::PastEnd {
                what,
                at: self.pos,
                announced: n,
                left,
            });
        }
        let r = self.pos..self.pos + n;
        self.pos += n;
        Ok(r)
    }
    pub fn byte(&mut self, what: &'static str) -> Parsed<(u8, Range<usize>)> {
        let r = self.take(1, what)?;
        Ok((self.buf[r.start], r))
    }
    pub fn uint32(&mut self, what: &'static str) -> Parsed<(u32, Range<usize>)> {
        let r = self.take(4, what)?;
        Ok((be32(self.buf, r.start), r))
    }
    /// A `string` (also `mpint` and `name-list`): the length field's range and the
    /// bytes' range.
    pub fn string(&mut self, what: &'static str) -> Parsed<(Range<usize>, Range<usize>)> {
        let (n, l) = self.uint32(what)?;
        let s = self.take(n as usize, what)?;
        Ok((l, s))
    }
}

/// The ten name-lists of a KEXINIT, in order (RFC 4253 § 7.1).
pub const KEXINIT_LISTS: [&str; 10] = [
    "kex_algorithms",
    "server_host_key_algorithms",
    "encryption_algorithms_client_to_server",
    "encryption_algorithms_server_to_client",
    "mac_algorithms_client_to_server",
    "mac_algorithms_server_to_client",
    "compression_algorithms_client_to_server",
    "compression_algorithms_server_to_client",
    "languages_client_to_server",
    "languages_server_to_client",
];

/// A KEXINIT payload (after its message code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexInit {
    pub cookie: Range<usize>,
    /// Each list's length field and text, in [`KEXINIT_LISTS`] order.
    pub lists: Vec<(Range<usize>, Range<usize>)>,
    pub first_kex_packet_follows: (u8, Range<usize>),
    pub reserved: Range<usize>,
}

impl KexInit {
    /// The text of list `i`.
    pub fn list<'a>(&self, buf: &'a [u8], i: usize) -> &'a str {
        self.lists
            .get(i)
            .and_then(|(_, r)| std::str::from_utf8(&buf[r.clone()]).ok())
            .unwrap_or("")
    }
}

/// Reads a KEXINIT from `r` (the payload after the message code).
pub fn parse_kexinit(buf: &[u8], r: Range<usize>) -> Parsed<KexInit> {
    let mut rd = Reader::new(buf, r);
    let cookie = rd.take(16, "the cookie")?;
    let mut lists = Vec::with_capacity(10);
    for name in KEXINIT_LISTS {
        lists.push(rd.string(name)?);
    }
    let first_kex_packet_follows = rd.byte("first_kex_packet_follows")?;
    let reserved = rd.take(4, "the reserved field")?;
    Ok(KexInit {
        cookie,
        lists,
        first_kex_packet_follows,
        reserved,
    })
}

/// The algorithm both sides use: the first of the client's list the server also supports
/// (RFC 4253 § 7.1).
pub fn negotiate<'a>(client: &'a str, server: &str) -> Option<&'a str> {
    client
        .split(',')
        .find(|c| !c.is_empty() && server.split(',').any(|s| s == *c))
}

/// How a key exchange method carries its public values in messages 30 and 31.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KexKind {
    /// diffie-hellman-group*: `mpint e`, `mpint f` (RFC 4253 § 8).
    Dh,
    /// diffie-hellman-group-exchange-*: 34 request, 31 group, 32 init, 33 reply
    /// (RFC 4419).
    DhGex,
    /// ecdh-sha2-*, curve25519-*, sntrup761x25519-*, mlkem768x25519-*: `string Q_C`,
    /// `string Q_S` (RFC 5656 § 4, RFC 8731).
    Ecdh,
    Unknown,
}

pub fn kex_kind(method: &str) -> KexKind {
    if method.starts_with("diffie-hellman-group-exchange-") {
        KexKind::DhGex
    } else if method.starts_with("diffie-hellman-group") {
        KexKind::Dh
    } else if method.starts_with("ecdh-sha2-")
        || method.starts_with("curve25519-sha256")
        || method.starts_with("curve448-sha512")
        || method.starts_with("sntrup761x25519-sha512")
        || method.starts_with("mlkem768x25519-sha256")
    {
        KexKind::Ecdh
    } else {
        KexKind::Unknown
    }
}

/// A message's name, as Wireshark's packet list writes it (30-34 depend on the key
/// exchange method).
pub fn message_name(code: u8, kex: KexKind) -> &'static str {
    match (code, kex) {
        (msg::DISCONNECT, _) => "Disconnect",
        (msg::IGNORE, _) => "Ignore",
        (msg::UNIMPLEMENTED, _) => "Unimplemented",
        (msg::DEBUG, _) => "Debug",
        (msg::SERVICE_REQUEST, _) => "Service Request",
        (msg::SERVICE_ACCEPT, _) => "Service Accept",
        (msg::EXT_INFO, _) => "Extension Information",
        (msg::KEXINIT, _) => "Key Exchange Init",
        (msg::NEWKEYS, _) => "New Keys",
        (msg::KEX_30, KexKind::Ecdh) => "Elliptic Curve Diffie-Hellman Key Exchange Init",
        (msg::KEX_31, KexKind::Ecdh) => "Elliptic Curve Diffie-Hellman Key Exchange Reply",
        (msg::KEX_30, KexKind::DhGex) => "Diffie-Hellman Group Exchange Request (Old)",
        (msg::KEX_31, KexKind::DhGex) => "Diffie-Hellman Group Exchange Group",
        (msg::KEX_30, _) => "Diffie-Hellman Key Exchange Init",
        (msg::KEX_31, _) => "Diffie-Hellman Key Exchange Reply",
        (msg::KEX_DH_GEX_INIT, _) => "Diffie-Hellman Group Exchange Init",
        (msg::KEX_DH_GEX_REPLY, _) => "Diffie-Hellman Group Exchange Reply",
        (msg::KEX_DH_GEX_REQUEST, _) => "Diffie-Hellman Group Exchange Request",
        (50, _) => "User Authentication Request",
        (51, _) => "User Authentication Failure",
        (52, _) => "User Authentication Success",
        (53, _) => "User Authentication Banner",
        (80, _) => "Global Request",
        (81, _) => "Request Success",
        (82, _) => "Request Failure",
        (90, _) => "Channel Open",
        (91, _) => "Channel Open Confirmation",
        (92, _) => "Channel Open Failure",
        (93, _) => "Channel Window Adjust",
        (94, _) => "Channel Data",
        (95, _) => "Channel Extended Data",
        (96, _) => "Channel EOF",
        (97, _) => "Channel Close",
        (98, _) => "Channel Request",
        (99, _) => "Channel Success",
        (100, _) => "Channel Failure",
        _ => "Unknown",
    }
}

/// Whether a cipher leaves the packet length readable (so packets can still be told
/// apart after NEWKEYS), and how long its MAC or tag is when it is AEAD.
pub fn clear_length(cipher: &str, mac: &str) -> Option<usize> {
    if cipher.starts_with("aes128-gcm@") || cipher.starts_with("aes256-gcm@") {
        // RFC 5647 / OpenSSH: the length is authenticated, not encrypted; 16-byte tag.
        return Some(16);
    }
    if cipher == "chacha20-poly1305@openssh.com" {
        return None;
    }
    // Encrypt-then-MAC: the length stays in the clear.
    if mac.ends_with("-etm@openssh.com") {
        return mac_len(mac);
    }
    None
}

/// A MAC algorithm's output length.
pub fn mac_len(mac: &str) -> Option<usize> {
    let base = mac
        .trim_end_matches("-etm@openssh.com")
        .trim_end_matches("@openssh.com");
    Some(match base {
        "hmac-sha1" => 20,
        "hmac-sha1-96" | "hmac-md5-96" => 12,
        "hmac-md5" => 16,
        "hmac-sha2-256" => 32,
        "hmac-sha2-512" => 64,
        "umac-64" => 8,
        "umac-128" => 16,
        "none" => 0,
        _ => return None,
    })
}

/// A KEXINIT to write (RFC 4253 § 7.1): the ten name-lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexInitRepr {
    pub cookie: [u8; 16],
    pub lists: [String; 10],
    pub first_kex_packet_follows: bool,
}

impl KexInitRepr {
    /// The payload: message code, cookie, lists, flag, reserved.
    pub fn payload(&self) -> Vec<u8> {
        let mut p = vec![msg::KEXINIT];
        p.extend_from_slice(&self.cookie);
        for l in &self.lists {
            p.extend_from_slice(&(l.len() as u32).to_be_bytes());
            p.extend_from_slice(l.as_bytes());
        }
        p.push(u8::from(self.first_kex_packet_follows));
        p.extend_from_slice(&[0; 4]);
        p
    }
}

/// A binary packet around `payload`, unencrypted, padded to a multiple of 8 with at
/// least 4 bytes of (zero) padding (RFC 4253 § 6).
pub fn packet(payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (4 + 1 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let n = 1 + payload.len() + pad;
    let mut out = (n as u32).to_be_bytes().to_vec();
    out.push(pad as u8);
    out.extend_from_slice(payload);
    out.resize(4 + n, 0);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// OpenSSH 9.2's client KEXINIT lists (Debian 12), shortened.
    pub(crate) fn kexinit() -> KexInitRepr {
        KexInitRepr {
            cookie: [0x11; 16],
            lists: [
                "curve25519-sha256,ecdh-sha2-nistp256,ext-info-c".into(),
                "ssh-ed25519,rsa-sha2-512".into(),
                "chacha20-poly1305@openssh.com,aes128-ctr".into(),
                "chacha20-poly1305@openssh.com,aes128-ctr".into(),
                "umac-64-etm@openssh.com,hmac-sha2-256".into(),
                "umac-64-etm@openssh.com,hmac-sha2-256".into(),
                "none,zlib@openssh.com".into(),
                "none,zlib@openssh.com".into(),
                String::new(),
                String::new(),
            ],
            first_kex_packet_follows: false,
        }
    }

    /// captures/ssh.pcap, frame 11: OpenSSH 9.2's server KEXINIT packet (the TCP payload).
    const SERVER_KEXINIT: &str = concat!(
        "0000043c09147d4ce774e6d940cec3dd4a05d2a281460000013d736e747275703736317832353531392d736861353132",
        "2c736e747275703736317832353531392d736861353132406f70656e7373682e636f6d2c637572766532353531392d73",
        "68613235362c637572766532353531392d736861323536406c69627373682e6f72672c656364682d736861322d6e6973",
        "74703235362c656364682d736861322d6e697374703338342c656364682d736861322d6e697374703532312c64696666",
        "69652d68656c6c6d616e2d67726f75702d65786368616e67652d7368613235362c6469666669652d68656c6c6d616e2d",
        "67726f757031362d7368613531322c6469666669652d68656c6c6d616e2d67726f757031382d7368613531322c646966",
        "6669652d68656c6c6d616e2d67726f757031342d7368613235362c6b65782d7374726963742d732d763030406f70656e",
        "7373682e636f6d0000000b7373682d656432353531390000006c63686163686132302d706f6c7931333035406f70656e",
        "7373682e636f6d2c6165733132382d6374722c6165733139322d6374722c6165733235362d6374722c6165733132382d",
        "67636d406f70656e7373682e636f6d2c6165733235362d67636d406f70656e7373682e636f6d0000006c636861636861",
        "32302d706f6c7931333035406f70656e7373682e636f6d2c6165733132382d6374722c6165733139322d6374722c6165",
        "733235362d6374722c6165733132382d67636d406f70656e7373682e636f6d2c6165733235362d67636d406f70656e73",
        "73682e636f6d000000d5756d61632d36342d65746d406f70656e7373682e636f6d2c756d61632d3132382d65746d406f",
        "70656e7373682e636f6d2c686d61632d736861322d3235362d65746d406f70656e7373682e636f6d2c686d61632d7368",
        "61322d3531322d65746d406f70656e7373682e636f6d2c686d61632d736861312d65746d406f70656e7373682e636f6d",
        "2c756d61632d3634406f70656e7373682e636f6d2c756d61632d313238406f70656e7373682e636f6d2c686d61632d73",
        "6861322d3235362c686d61632d736861322d3531322c686d61632d73686131000000d5756d61632d36342d65746d406f",
        "70656e7373682e636f6d2c756d61632d3132382d65746d406f70656e7373682e636f6d2c686d61632d736861322d3235",
        "362d65746d406f70656e7373682e636f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e636f6d2c",
        "686d61632d736861312d65746d406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e636f6d2c756d",
        "61632d313238406f70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861322d3531322c68",
        "6d61632d73686131000000156e6f6e652c7a6c6962406f70656e7373682e636f6d000000156e6f6e652c7a6c6962406f",
        "70656e7373682e636f6d00000000000000000000000000000000000000000000",
    );

    /// The client's kex_algorithms in the same capture (frame 9).
    const CLIENT_KEX: &str = "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com";

    #[test]
    fn openssh_server_kexinit_from_the_capture() {
        let pkt = crate::wire::unhex(SERVER_KEXINIT);
        let p = Packet::new_checked(&pkt[..]).unwrap();
        assert_eq!(p.packet_length() as usize + 4, pkt.len());
        let pl = p.payload();
        assert_eq!(pkt[pl.start], msg::KEXINIT);
        let k = parse_kexinit(&pkt, pl.start + 1..pl.end).unwrap();
        assert_eq!(k.list(&pkt, 1), "ssh-ed25519");
        assert!(
            k.list(&pkt, 2)
                .starts_with("chacha20-poly1305@openssh.com,")
        );
        let kex = negotiate(CLIENT_KEX, k.list(&pkt, 0)).unwrap();
        assert_eq!(kex, "sntrup761x25519-sha512");
        assert_eq!(kex_kind(kex), KexKind::Ecdh);
        assert_eq!(k.first_kex_packet_follows.0, 0);
    }

    #[test]
    fn a_banner_has_its_parts() {
        let line = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n";
        assert_eq!(line_len(line), Some(Ok(line.len())));
        assert_eq!(line_len(&line[..10]), None);
        assert_eq!(line_len(&[b'x'; 300]), Some(Err(())));
        let b = parse_banner(line).unwrap();
        assert_eq!(&line[b.proto_version], b"2.0");
        assert_eq!(&line[b.software], b"OpenSSH_9.2p1");
        assert_eq!(&line[b.comments.unwrap()], b"Debian-2+deb12u10");
        assert_eq!(b.line, 0..line.len() - 2);
        assert!(parse_banner(b"HTTP/1.1 200 OK\r\n").is_none());
    }

    #[test]
    fn a_kexinit_reads_back_and_negotiates() {
        let k = kexinit();
        let pkt = packet(&k.payload());
        assert_eq!(pkt.len() % 8, 0);
        let p = Packet::new_checked(&pkt[..]).unwrap();
        assert!(p.padding_length() >= 4);
        let payload = p.payload();
        assert_eq!(pkt[payload.start], msg::KEXINIT);
        let ki = parse_kexinit(&pkt, payload.start + 1..payload.end).unwrap();
        assert_eq!(ki.list(&pkt, 1), "ssh-ed25519,rsa-sha2-512");
        assert_eq!(ki.list(&pkt, 8), "");
        assert_eq!(
            negotiate(ki.list(&pkt, 0), "sntrup761x25519-sha512,curve25519-sha256"),
            Some("curve25519-sha256")
        );
        assert_eq!(negotiate("a,b", "c"), None);
        assert_eq!(kex_kind("curve25519-sha256"), KexKind::Ecdh);
        assert_eq!(kex_kind("diffie-hellman-group14-sha256"), KexKind::Dh);
    }

    #[test]
    fn every_cut_packet_and_kexinit_is_an_error() {
        let pkt = packet(&kexinit().payload());
        for n in 0..pkt.len() {
            assert!(Packet::new_checked(&pkt[..n]).is_err(), "{n}");
        }
        let end = pkt.len() - pkt[4] as usize;
        for n in 6..end - 1 {
            assert!(parse_kexinit(&pkt, 6..n).is_err(), "{n}");
        }
    }

    #[test]
    fn a_length_of_two_to_the_32_minus_one_is_malformed_not_a_wait() {
        let buf = [0xff, 0xff, 0xff, 0xff, 4, 20];
        assert_eq!(
            packet_len(&buf),
            Some(Err(SshError::PacketTooLong(u32::MAX)))
        );
        assert!(Packet::new_checked(&buf[..]).is_err());
        assert_eq!(packet_len(&buf[..3]), None);
        // Padding longer than the packet.
        let bad = [0, 0, 0, 4, 9, 20, 0, 0];
        assert!(Packet::new_checked(&bad[..]).is_err());
    }

    #[test]
    fn clear_lengths_by_cipher() {
        assert_eq!(
            clear_length("chacha20-poly1305@openssh.com", "umac-64-etm@openssh.com"),
            None
        );
        assert_eq!(clear_length("aes256-gcm@openssh.com", ""), Some(16));
        assert_eq!(
            clear_length("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
            Some(32)
        );
        assert_eq!(clear_length("aes128-ctr", "hmac-sha2-256"), None);
    }
}
