//! TLS, Transport Layer Security (RFC 8446 for 1.3, RFC 5246 for 1.2): the record layer
//! and the handshake messages that travel in the clear — what an observer of an HTTPS
//! connection can read, and where the encryption starts.
//!
//! Everything TLS sends is cut into *records* (RFC 8446 § 5.1):
//!
//! ```text
//! +--------------+---------------+---------------+----------------------------+
//! | content type | legacy version|    length     | fragment (length bytes)    |
//! |   1 byte     |   2 bytes     |   2 bytes     | handshake / alert / data…  |
//! +--------------+---------------+---------------+----------------------------+
//! ```
//!
//! Handshake records carry handshake messages (type, 3-byte length, body; § 4). The
//! ClientHello and ServerHello are always readable: versions, the client's random, the
//! cipher suites offered and the one chosen, and extensions such as the server name
//! (SNI, RFC 6066 § 3), ALPN (RFC 7301), supported_versions, supported_groups, key_share
//! and signature_algorithms. In TLS 1.2 the certificate and the key exchange follow in
//! the clear; in TLS 1.3 everything after the ServerHello is encrypted, and records of
//! content type 23 (application data) hide what they carry.
//!
//! Two levels: [`Record`] is a zero-copy view of one record; the `parse_*` functions read
//! handshake messages into values that carry their byte ranges (offsets are those of the
//! buffer given), failing with [`TlsError`] saying what length runs past what. Code points
//! (cipher suites, groups, extensions, alerts) have names for people and an unknown value
//! is shown, never an error. [`ClientHelloRepr`] builds a ClientHello, for tests and tools.

use core::fmt;
use core::ops::Range;

use super::{Result, be16, need};

pub mod field {
    use crate::wire::Field;
    pub const CONTENT_TYPE: Field = 0..1;
    pub const VERSION: Field = 1..3;
    pub const LENGTH: Field = 3..5;
    pub const FRAGMENT: usize = 5;
}

/// The record header's length. RFC 8446 § 5.1.
pub const HEADER_LEN: usize = field::FRAGMENT;
/// The longest fragment a record may carry: 2^14 bytes of plaintext plus 2048 of
/// expansion (RFC 5246 § 6.2.3; TLS 1.3 allows only 256, RFC 8446 § 5.2).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// A handshake message's header: type and 3-byte length. RFC 8446 § 4.
pub const HANDSHAKE_HEADER_LEN: usize = 4;
/// The random of a ServerHello that is really a HelloRetryRequest: SHA-256 of
/// "HelloRetryRequest" (RFC 8446 § 4.1.3).
pub const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Record content types. RFC 8446 § 5.1, RFC 6520 (heartbeat).
pub mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

/// Protocol versions. RFC 8446 § 4.2.1 (and its predecessors).
pub mod version {
    pub const SSL_3_0: u16 = 0x0300;
    pub const TLS_1_0: u16 = 0x0301;
    pub const TLS_1_1: u16 = 0x0302;
    pub const TLS_1_2: u16 = 0x0303;
    pub const TLS_1_3: u16 = 0x0304;
}

/// Handshake message types. RFC 8446 § 4, RFC 5246 § 7.4.
pub mod handshake {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const KEY_UPDATE: u8 = 24;
}

/// Extension types. RFC 8446 § 4.2, RFC 6066, RFC 7301 and IANA's registry.
pub mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const STATUS_REQUEST: u16 = 5;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const EC_POINT_FORMATS: u16 = 11;
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    pub const ALPN: u16 = 16;
    pub const PADDING: u16 = 21;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const RECORD_SIZE_LIMIT: u16 = 28;
    pub const SESSION_TICKET: u16 = 35;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const COOKIE: u16 = 44;
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    pub const POST_HANDSHAKE_AUTH: u16 = 49;
    pub const KEY_SHARE: u16 = 51;
    pub const RENEGOTIATION_INFO: u16 = 65281;
}

fields! {
    RECORD: Group(
        "Record Layer",
        "tls.record",
        "one TLS record: everything TLS sends is cut into records of up to 16 KiB, each with a type and a length",
    );
    RECORD_CONTENT_TYPE: Num(
        "Content Type",
        "tls.record.content_type",
        "what the record carries: 22 handshake, 23 application data, 21 alert, 20 change cipher spec",
    );
    RECORD_OPAQUE_TYPE: Num(
        "Opaque Type",
        "tls.record.opaque_type",
        "TLS 1.3 labels every encrypted record \"application data\" (23): the real type is inside the encryption",
    );
    RECORD_VERSION: Num(
        "Version",
        "tls.record.version",
        "the record layer's version: frozen at TLS 1.2 (0x0303) or 1.0 for compatibility; the real version is negotiated in the hellos",
    );
    RECORD_LENGTH: Num(
        "Length",
        "tls.record.length",
        "the length of the record's fragment in bytes (at most 2^14 plus the encryption's overhead)",
    );
    HANDSHAKE: Group(
        "Handshake Protocol",
        "tls.handshake",
        "a handshake message: how client and server agree on a version, keys and who the server is",
    );
    HANDSHAKE_TYPE: Num(
        "Handshake Type",
        "tls.handshake.type",
        "which handshake message: 1 ClientHello, 2 ServerHello, 11 Certificate…",
    );
    HANDSHAKE_LENGTH: Num(
        "Length",
        "tls.handshake.length",
        "the message body's length (3 bytes)",
    );
    HANDSHAKE_VERSION: Num(
        "Version",
        "tls.handshake.version",
        "the hello's legacy version; TLS 1.3 keeps 0x0303 here and names the real versions in the supported_versions extension",
    );
    RANDOM: Bytes(
        "Random",
        "tls.handshake.random",
        "32 random bytes from each side, mixed into the keys so that no two sessions share them",
    );
    RANDOM_TIME: Text(
        "GMT Unix Time",
        "tls.handshake.random_time",
        "the random's first 4 bytes read as a time, as TLS 1.0 suggested; today they are random too",
    );
    RANDOM_BYTES: Bytes(
        "Random Bytes",
        "tls.handshake.random_bytes",
        "the random's other 28 bytes",
    );
    SESSION_ID_LENGTH: Num(
        "Session ID Length",
        "tls.handshake.session_id_length",
        "length of the session ID (0 to 32); TLS 1.3 clients send 32 random bytes here for compatibility with middleboxes",
    );
    SESSION_ID: Bytes(
        "Session ID",
        "tls.handshake.session_id",
        "a session to resume (TLS 1.2), or the echo of the client's (TLS 1.3)",
    );
    CIPHER_SUITES_LENGTH: Num(
        "Cipher Suites Length",
        "tls.handshake.cipher_suites_length",
        "bytes of cipher suites the client offers (2 per suite)",
    );
    CIPHER_SUITES: Group(
        "Cipher Suites",
        "tls.handshake.ciphersuites",
        "the combinations of key exchange, encryption and hash the client can use, most preferred first",
    );
    CIPHER_SUITE: Num(
        "Cipher Suite",
        "tls.handshake.ciphersuite",
        "a cipher suite: offered by the client, or the one the server chose",
    );
    COMP_METHODS_LENGTH: Num(
        "Compression Methods Length",
        "tls.handshake.comp_methods_length",
        "how many compression methods follow",
    );
    COMP_METHODS: Group(
        "Compression Methods",
        "tls.handshake.comp_methods",
        "compression the client offers; only null remains (compression leaked secrets: CRIME)",
    );
    COMP_METHOD: Num(
        "Compression Method",
        "tls.handshake.comp_method",
        "0 is null, no compression",
    );
    EXTENSIONS_LENGTH: Num(
        "Extensions Length",
        "tls.handshake.extensions_length",
        "bytes of extensions that follow: most of the negotiation happens in them",
    );
    EXTENSION: Group(
        "Extension",
        "",
        "one extension: a type, a length and data",
    );
    EXTENSION_TYPE: Num(
        "Type",
        "tls.handshake.extension.type",
        "which extension",
    );
    EXTENSION_LEN: Num(
        "Length",
        "tls.handshake.extension.len",
        "the extension data's length",
    );
    EXTENSION_DATA: Bytes(
        "Data",
        "tls.handshake.extension.data",
        "the extension's data",
    );
    SERVER_NAME_LIST_LEN: Num(
        "Server Name list length",
        "tls.handshake.extensions_server_name_list_len",
        "bytes of server names that follow",
    );
    SERVER_NAME_TYPE: Num(
        "Server Name Type",
        "tls.handshake.extensions_server_name_type",
        "0: a host name",
    );
    SERVER_NAME_LEN: Num(
        "Server Name length",
        "tls.handshake.extensions_server_name_len",
        "the name's length",
    );
    SERVER_NAME: Text(
        "Server Name",
        "tls.handshake.extensions_server_name",
        "SNI: the host name the client wants, sent in the clear so one address can serve many sites — anyone on the path can read it",
    );
    SUPPORTED_GROUPS_LENGTH: Num(
        "Supported Groups List Length",
        "tls.handshake.extensions_supported_groups_length",
        "bytes of groups that follow",
    );
    SUPPORTED_GROUPS: Group(
        "Supported Groups",
        "tls.handshake.extensions_supported_groups",
        "the elliptic curves and finite-field groups the client can do key exchange with",
    );
    SUPPORTED_GROUP: Num(
        "Supported Group",
        "tls.handshake.extensions_supported_group",
        "one group (x25519, secp256r1…)",
    );
    EC_POINT_FORMATS_LENGTH: Num(
        "EC point formats Length",
        "tls.handshake.extensions_ec_point_formats_length",
        "how many point formats follow",
    );
    EC_POINT_FORMATS: Group(
        "EC point formats",
        "tls.handshake.extensions_ec_point_formats",
        "how elliptic-curve points may be encoded",
    );
    EC_POINT_FORMAT: Num(
        "EC point format",
        "tls.handshake.extensions_ec_point_format",
        "0 uncompressed (the only one in use)",
    );
    SIG_HASH_ALG_LEN: Num(
        "Signature Hash Algorithms Length",
        "tls.handshake.sig_hash_alg_len",
        "bytes of signature algorithms that follow",
    );
    SIG_HASH_ALGS: Group(
        "Signature Algorithms",
        "tls.handshake.sig_hash_algs",
        "the signatures the client can check, for the server's certificate and handshake",
    );
    SIG_HASH_ALG: Num(
        "Signature Algorithm",
        "tls.handshake.sig_hash_alg",
        "a signature scheme (RFC 8446 § 4.2.3)",
    );
    SIG_HASH_HASH: Num(
        "Signature Hash Algorithm Hash",
        "tls.handshake.sig_hash_hash",
        "the scheme's first byte, read as TLS 1.2's hash",
    );
    SIG_HASH_SIG: Num(
        "Signature Hash Algorithm Signature",
        "tls.handshake.sig_hash_sig",
        "the scheme's second byte, read as TLS 1.2's signature algorithm",
    );
    ALPN_LEN: Num(
        "ALPN Extension Length",
        "tls.handshake.extensions_alpn_len",
        "bytes of protocol names that follow",
    );
    ALPN_LIST: Group(
        "ALPN Protocol",
        "tls.handshake.extensions_alpn_list",
        "ALPN (RFC 7301): the application protocols the client speaks over this connection; the server picks one",
    );
    ALPN_STR_LEN: Num(
        "ALPN string length",
        "tls.handshake.extensions_alpn_str_len",
        "the name's length",
    );
    ALPN_STR: Text(
        "ALPN Next Protocol",
        "tls.handshake.extensions_alpn_str",
        "an application protocol: h2 is HTTP/2, http/1.1 HTTP/1.1",
    );
    SUPPORTED_VERSIONS_LEN: Num(
        "Supported Versions length",
        "tls.handshake.extensions.supported_versions_len",
        "bytes of versions that follow",
    );
    SUPPORTED_VERSION: Num(
        "Supported Version",
        "tls.handshake.extensions.supported_version",
        "a version the client offers, or (from the server) the one chosen: where TLS 1.3 is really negotiated",
    );
    PSK_KE_MODES_LENGTH: Num(
        "PSK Key Exchange Modes Length",
        "tls.extension.psk_ke_modes_length",
        "how many modes follow",
    );
    PSK_KE_MODE: Num(
        "PSK Key Exchange Mode",
        "tls.extension.psk_ke_mode",
        "how a resumed session may get its keys: 1 with a fresh (EC)DHE exchange, for forward secrecy",
    );
    KEY_SHARE_CLIENT_LENGTH: Num(
        "Client Key Share Length",
        "tls.handshake.extensions_key_share_client_length",
        "bytes of key shares that follow",
    );
    KEY_SHARE_GROUP: Num(
        "Group",
        "tls.handshake.extensions_key_share_group",
        "the group of this public key",
    );
    KEY_SHARE_KEY_EXCHANGE_LENGTH: Num(
        "Key Exchange Length",
        "tls.handshake.extensions_key_share_key_exchange_length",
        "the public key's length",
    );
    KEY_SHARE_KEY_EXCHANGE: Bytes(
        "Key Exchange",
        "tls.handshake.extensions_key_share_key_exchange",
        "a Diffie-Hellman public key: TLS 1.3 sends it in the first message, so the keys exist after one round trip",
    );
    KEY_SHARE_SELECTED_GROUP: Num(
        "Selected Group",
        "tls.handshake.extensions_key_share_selected_group",
        "in a HelloRetryRequest: the group the server wants a key share for",
    );
    RENEG_INFO_LEN: Num(
        "Renegotiation info extension length",
        "tls.handshake.extensions_reneg_info_len",
        "0 on a first handshake (RFC 5746)",
    );
    RENEG_INFO: Bytes(
        "Renegotiation info",
        "tls.handshake.extensions_reneg_info",
        "binds a renegotiation to the handshake before it",
    );
    PADDING_DATA: Bytes(
        "Padding Data",
        "tls.handshake.extensions_padding_data",
        "zeros that make the ClientHello a size some old servers handle (RFC 7685)",
    );
    RECORD_SIZE_LIMIT: Num(
        "Record Size Limit",
        "tls.record_size_limit",
        "the largest record the sender wants to receive (RFC 8449)",
    );
    STATUS_REQUEST_TYPE: Num(
        "Certificate Status Type",
        "tls.handshake.extensions_status_request_type",
        "1: OCSP, asking the server to staple proof that its certificate is not revoked",
    );
    STATUS_REQUEST_RESPONDER_IDS_LEN: Num(
        "Responder ID list Length",
        "tls.handshake.extensions_status_request_responder_ids_len",
        "bytes of trusted OCSP responders that follow",
    );
    STATUS_REQUEST_EXTS_LEN: Num(
        "Request Extensions Length",
        "tls.handshake.extensions_status_request_exts_len",
        "bytes of OCSP request extensions that follow",
    );
    CERTIFICATES_LENGTH: Num(
        "Certificates Length",
        "tls.handshake.certificates_length",
        "bytes of certificates that follow",
    );
    CERTIFICATES: Group(
        "Certificates",
        "tls.handshake.certificates",
        "the server's certificate chain: its own certificate first, then the ones that vouch for it",
    );
    CERTIFICATE_LENGTH: Num(
        "Certificate Length",
        "tls.handshake.certificate_length",
        "one certificate's length",
    );
    CERTIFICATE: Bytes(
        "Certificate",
        "tls.handshake.certificate",
        "an X.509 certificate (DER): a public key, a name, and a signature by whoever vouches for them",
    );
    SERVER_CURVE_TYPE: Num(
        "Curve Type",
        "tls.handshake.server_curve_type",
        "3: a named curve follows",
    );
    SERVER_NAMED_CURVE: Num(
        "Named Curve",
        "tls.handshake.server_named_curve",
        "the curve of the server's ephemeral key",
    );
    SERVER_POINT_LEN: Num(
        "Pubkey Length",
        "tls.handshake.server_point_len",
        "the server's public key's length",
    );
    SERVER_POINT: Bytes(
        "Pubkey",
        "tls.handshake.server_point",
        "the server's ephemeral Diffie-Hellman public key; with the client's it makes a secret nobody on the path can compute",
    );
    CLIENT_POINT_LEN: Num(
        "Pubkey Length",
        "tls.handshake.client_point_len",
        "the client's public key's length",
    );
    CLIENT_POINT: Bytes(
        "Pubkey",
        "tls.handshake.client_point",
        "the client's ephemeral Diffie-Hellman public key",
    );
    SIG_LEN: Num(
        "Signature Length",
        "tls.handshake.sig_len",
        "the signature's length",
    );
    SIG: Bytes(
        "Signature",
        "tls.handshake.sig",
        "the server signs its key with its certificate's key: proof the key comes from the certificate's owner",
    );
    SESSION_TICKET_LIFETIME_HINT: Num(
        "Session Ticket Lifetime Hint",
        "tls.handshake.session_ticket_lifetime_hint",
        "seconds the client may keep the ticket",
    );
    SESSION_TICKET_LENGTH: Num(
        "Session Ticket Length",
        "tls.handshake.session_ticket_length",
        "the ticket's length",
    );
    SESSION_TICKET: Bytes(
        "Session Ticket",
        "tls.handshake.session_ticket",
        "the session's state, encrypted with a key only the server has: the client shows it to resume without a full handshake",
    );
    CHANGE_CIPHER_SPEC: Group(
        "Change Cipher Spec Message",
        "tls.change_cipher_spec",
        "from here on, this side's records are encrypted with the new keys (in TLS 1.3 a leftover kept for middleboxes)",
    );
    ALERT_MESSAGE: Group(
        "Alert Message",
        "tls.alert_message",
        "a warning or an error, such as close_notify at the end of a connection",
    );
    ALERT_LEVEL: Num(
        "Level",
        "tls.alert_message.level",
        "1 warning, 2 fatal (the connection ends)",
    );
    ALERT_DESCRIPTION: Num(
        "Description",
        "tls.alert_message.desc",
        "what happened: 0 close_notify, 40 handshake_failure, 42 bad_certificate…",
    );
    APP_DATA: Bytes(
        "Encrypted Application Data",
        "tls.app_data",
        "encrypted: nobody on the path can read this — that is TLS's point",
    );
    JA3_FULL: Text(
        "JA3 Fullstring",
        "tls.handshake.ja3_full",
        "the ClientHello's version, cipher suites, extensions, groups and point formats in one line: it tells client programs apart, even when everything after is encrypted",
    );
    JA3: Text(
        "JA3",
        "tls.handshake.ja3",
        "the MD5 of the JA3 line: a short fingerprint of the client's TLS library",
    );
    JA3S_FULL: Text(
        "JA3S Fullstring",
        "tls.handshake.ja3s_full",
        "the ServerHello's version, chosen suite and extensions in one line",
    );
    JA3S: Text(
        "JA3S",
        "tls.handshake.ja3s",
        "the MD5 of the JA3S line: a fingerprint of the server's answer",
    );
    APP_DATA_PROTO: Text(
        "Application Data Protocol",
        "tls.app_data_proto",
        "the protocol inside, as ALPN negotiated it in the clear",
    );
}

/// Why a record or handshake message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// A length field announces more than what contains it holds.
    PastEnd {
        what: &'static str,
        at: usize,
        announced: usize,
        left: usize,
    },
    /// A list's length is not a multiple of its items' size.
    Uneven {
        what: &'static str,
        at: usize,
        len: usize,
        item: usize,
    },
    /// Bytes left over after the last item the lengths describe.
    Trailing {
        what: &'static str,
        at: usize,
        extra: usize,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::PastEnd {
                what,
                at,
                announced,
                left,
            } => write!(
                f,
                "{what} at offset {at} needs {announced} bytes, only {left} are left"
            ),
            TlsError::Uneven {
                what,
                at,
                len,
                item,
            } => write!(
                f,
                "{what} at offset {at} is {len} bytes, not a multiple of {item}"
            ),
            TlsError::Trailing { what, at, extra } => {
                write!(f, "{extra} bytes after the end of {what} at offset {at}")
            }
        }
    }
}

impl std::error::Error for TlsError {}

type Parsed<T> = core::result::Result<T, TlsError>;

/// A view of one record.
#[derive(Debug, Clone)]
pub struct Record<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Record<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Record { buffer }
    }
    /// A view once the header and the whole fragment are there.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let r = Self::new_unchecked(buffer);
        r.check_len()?;
        Ok(r)
    }
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        need(b, HEADER_LEN + self.length() as usize)
    }
    pub fn content_type(&self) -> u8 {
        self.buffer.as_ref()[field::CONTENT_TYPE.start]
    }
    pub fn version(&self) -> u16 {
        be16(self.buffer.as_ref(), field::VERSION.start)
    }
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }
    pub fn fragment(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.length() as usize]
    }
}

/// Whether these five bytes can start a TLS record: a known content type and a version
/// of the SSL 3.0 / TLS family.
pub fn looks_like_record_header(b: &[u8]) -> bool {
    b.len() >= HEADER_LEN
        && (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(&b[0])
        && b[1] == 3
        && b[2] <= 4
}

/// The length of the record that starts `buf` (header included), once its header is
/// there.
pub fn record_len(buf: &[u8]) -> Option<usize> {
    (buf.len() >= HEADER_LEN).then(|| HEADER_LEN + be16(buf, field::LENGTH.start) as usize)
}

/// A cursor over `buf[pos..end]` that reads big-endian numbers and length-prefixed
/// vectors, failing (never panicking) when a length runs past `end`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub end: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], range: Range<usize>) -> Reader<'a> {
        let end = range.end.min(buf.len());
        Reader {
            buf,
            pos: range.start.min(end),
            end,
        }
    }
    pub fn left(&self) -> usize {
        self.end - self.pos
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.end
    }
    /// The next `n` bytes' range.
    pub fn take(&mut self, n: usize, what: &'static str) -> Parsed<Range<usize>> {
        if n > self.left() {
            return Err(TlsError::PastEnd {
                what,
                at: self.pos,
                announced: n,
                left: self.left(),
            });
        }
        let r = self.pos..self.pos + n;
        self.pos += n;
        Ok(r)
    }
    pub fn u8(&mut self, what: &'static str) -> Parsed<u8> {
        let r = self.take(1, what)?;
        Ok(self.buf[r.start])
    }
    pub fn u16(&mut self, what: &'static str) -> Parsed<u16> {
        let r = self.take(2, what)?;
        Ok(be16(self.buf, r.start))
    }
    pub fn u24(&mut self, what: &'static str) -> Parsed<u32> {
        let r = self.take(3, what)?;
        let b = &self.buf[r];
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
    pub fn u32(&mut self, what: &'static str) -> Parsed<u32> {
        let r = self.take(4, what)?;
        Ok(super::be32(self.buf, r.start))
    }
    /// A vector with a `len_bytes`-byte length prefix: returns the length field's range
    /// and the contents' range.
    pub fn vec(
        &mut self,
        len_bytes: usize,
        what: &'static str,
    ) -> Parsed<(Range<usize>, Range<usize>)> {
        let at = self.pos;
        let n = match len_bytes {
            1 => self.u8(what)? as usize,
            2 => self.u16(what)? as usize,
            _ => self.u24(what)? as usize,
        };
        let body = self.take(n, what)?;
        Ok((at..at + len_bytes, body))
    }
    /// A reader over `r` (a range this one returned).
    pub fn sub(&self, r: Range<usize>) -> Reader<'a> {
        Reader::new(self.buf, r)
    }
}

/// A list of `item`-byte values in `r`.
fn items(r: Range<usize>, item: usize, what: &'static str) -> Parsed<Vec<Range<usize>>> {
    if !r.len().is_multiple_of(item) {
        return Err(TlsError::Uneven {
            what,
            at: r.start,
            len: r.len(),
            item,
        });
    }
    Ok((r.start..r.end)
        .step_by(item)
        .map(|i| i..i + item)
        .collect())
}

/// One handshake message's header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMsg {
    pub msg_type: u8,
    /// The 3-byte length.
    pub length: u32,
    /// The whole message (header and body).
    pub span: Range<usize>,
    /// The body.
    pub body: Range<usize>,
}

/// Reads the handshake message at `at`: `Ok(None)` when its header or body continues
/// past `end` (a message split over records).
pub fn read_handshake(buf: &[u8], at: usize, end: usize) -> Option<HandshakeMsg> {
    let end = end.min(buf.len());
    if at + HANDSHAKE_HEADER_LEN > end {
        return None;
    }
    let length = u32::from_be_bytes([0, buf[at + 1], buf[at + 2], buf[at + 3]]);
    let body = at + HANDSHAKE_HEADER_LEN..at + HANDSHAKE_HEADER_LEN + length as usize;
    (body.end <= end).then(|| HandshakeMsg {
        msg_type: buf[at],
        length,
        span: at..body.end,
        body,
    })
}

/// One extension, with its contents decoded where netlab knows the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub ext_type: u16,
    /// The whole extension (type, length, data).
    pub span: Range<usize>,
    pub data: Range<usize>,
}

/// A ClientHello or ServerHello. RFC 8446 § 4.1.2-3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub version: u16,
    pub version_range: Range<usize>,
    pub random: Range<usize>,
    /// The session ID's length byte and the ID.
    pub session_id_len: Range<usize>,
    pub session_id: Range<usize>,
    /// ClientHello: the length field and the suites' bytes; ServerHello: no length, the
    /// chosen suite.
    pub cipher_suites_len: Option<Range<usize>>,
    pub cipher_suites: Vec<(u16, Range<usize>)>,
    pub compression_len: Option<Range<usize>>,
    pub compression: Vec<(u8, Range<usize>)>,
    /// The extensions' length field, when there are extensions.
    pub extensions_len: Option<Range<usize>>,
    pub extensions: Vec<Extension>,
}

impl Hello {
    pub fn extension(&self, t: u16) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.ext_type == t)
    }
    /// Whether this ServerHello is a HelloRetryRequest (RFC 8446 § 4.1.3).
    pub fn is_retry(&self, buf: &[u8]) -> bool {
        buf.get(self.random.clone()) == Some(&HELLO_RETRY_RANDOM[..])
    }
}

/// Reads a ClientHello (`client`) or ServerHello body in `r`.
pub fn parse_hello(buf: &[u8], body: Range<usize>, client: bool) -> Parsed<Hello> {
    let mut rd = Reader::new(buf, body);
    let vat = rd.pos;
    let version = rd.u16("the hello's version")?;
    let random = rd.take(32, "the random")?;
    let (session_id_len, session_id) = rd.vec(1, "the session ID")?;
    let (cipher_suites_len, cipher_suites) = if client {
        let (l, r) = rd.vec(2, "the cipher suites")?;
        let suites = items(r, 2, "the cipher suites")?
            .into_iter()
            .map(|i| (be16(buf, i.start), i))
            .collect();
        (Some(l), suites)
    } else {
        let r = rd.take(2, "the cipher suite")?;
        (None, vec![(be16(buf, r.start), r)])
    };
    let (compression_len, compression) = if client {
        let (l, r) = rd.vec(1, "the compression methods")?;
        (Some(l), r.map(|i| (buf[i], i..i + 1)).collect())
    } else {
        let r = rd.take(1, "the compression method")?;
        (None, vec![(buf[r.start], r)])
    };
    let mut hello = Hello {
        version,
        version_range: vat..vat + 2,
        random,
        session_id_len,
        session_id,
        cipher_suites_len,
        cipher_suites,
        compression_len,
        compression,
        extensions_len: None,
        extensions: Vec::new(),
    };
    // Extensions are optional before TLS 1.3 (RFC 5246 § 7.4.1.2).
    if rd.is_empty() {
        return Ok(hello);
    }
    let (l, r) = rd.vec(2, "the extensions")?;
    hello.extensions_len = Some(l);
    let mut er = rd.sub(r);
    while !er.is_empty() {
        let at = er.pos;
        let ext_type = er.u16("an extension's type")?;
        let (_, data) = er.vec(2, "an extension")?;
        hello.extensions.push(Extension {
            ext_type,
            span: at..data.end,
            data,
        });
    }
    if !rd.is_empty() {
        return Err(TlsError::Trailing {
            what: "the hello",
            at: rd.pos,
            extra: rd.left(),
        });
    }
    Ok(hello)
}

/// The JA3 line of a ClientHello (or, for a ServerHello, JA3S): decimal values joined
/// by `-`, fields by `,`; GREASE values left out (Salesforce's JA3 definition).
pub fn ja3_line(buf: &[u8], h: &Hello, client: bool) -> String {
    fn join(v: impl Iterator<Item = u16>) -> String {
        v.filter(|x| !is_grease(*x))
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
    let suites = join(h.cipher_suites.iter().map(|s| s.0));
    let exts = join(h.extensions.iter().map(|e| e.ext_type));
    if !client {
        return format!("{},{suites},{exts}", h.version);
    }
    let groups = h
        .extension(ext::SUPPORTED_GROUPS)
        .and_then(|e| Reader::new(buf, e.data.clone()).vec(2, "").ok())
        .map(|(_, l)| {
            join(
                (l.start..l.end.saturating_sub(1))
                    .step_by(2)
                    .map(|i| be16(buf, i)),
            )
        })
        .unwrap_or_default();
    let formats = h
        .extension(ext::EC_POINT_FORMATS)
        .and_then(|e| Reader::new(buf, e.data.clone()).vec(1, "").ok())
        .map(|(_, l)| {
            buf[l]
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("-")
        })
        .unwrap_or_default();
    format!("{},{suites},{exts},{groups},{formats}", h.version)
}

/// The certificates of a TLS 1.2 Certificate message (RFC 5246 § 7.4.2): the list's
/// length field, and each certificate's length field and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificates {
    pub list_len: Range<usize>,
    pub list: Range<usize>,
    pub certs: Vec<(Range<usize>, Range<usize>)>,
}

pub fn parse_certificates(buf: &[u8], body: Range<usize>) -> Parsed<Certificates> {
    let mut rd = Reader::new(buf, body);
    let (list_len, list) = rd.vec(3, "the certificate list")?;
    let mut lr = rd.sub(list.clone());
    let mut certs = Vec::new();
    while !lr.is_empty() {
        certs.push(lr.vec(3, "a certificate")?);
    }
    Ok(Certificates {
        list_len,
        list,
        certs,
    })
}

/// An ECDHE ServerKeyExchange (RFC 8422 § 5.4; TLS 1.2 adds the signature algorithm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdheServerParams {
    pub curve_type: (u8, Range<usize>),
    pub named_curve: (u16, Range<usize>),
    pub point_len: Range<usize>,
    pub point: Range<usize>,
    pub sig_alg: Option<(u16, Range<usize>)>,
    pub sig_len: Range<usize>,
    pub sig: Range<usize>,
}

pub fn parse_ecdhe_server_params(
    buf: &[u8],
    body: Range<usize>,
    with_sig_alg: bool,
) -> Parsed<EcdheServerParams> {
    let mut rd = Reader::new(buf, body);
    let c = rd.pos;
    let curve_type = rd.u8("the curve type")?;
    let n = rd.pos;
    let named_curve = rd.u16("the named curve")?;
    let (point_len, point) = rd.vec(1, "the public key")?;
    let sig_alg = if with_sig_alg {
        let a = rd.pos;
        Some((rd.u16("the signature algorithm")?, a..a + 2))
    } else {
        None
    };
    let (sig_len, sig) = rd.vec(2, "the signature")?;
    Ok(EcdheServerParams {
        curve_type: (curve_type, c..c + 1),
        named_curve: (named_curve, n..n + 2),
        point_len,
        point,
        sig_alg,
        sig_len,
        sig,
    })
}

/// A TLS 1.2 NewSessionTicket (RFC 5077 § 3.3): lifetime hint, ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTicket {
    pub lifetime_hint: (u32, Range<usize>),
    pub ticket_len: Range<usize>,
    pub ticket: Range<usize>,
}

pub fn parse_session_ticket(buf: &[u8], body: Range<usize>) -> Parsed<SessionTicket> {
    let mut rd = Reader::new(buf, body);
    let a = rd.pos;
    let hint = rd.u32("the ticket lifetime hint")?;
    let (ticket_len, ticket) = rd.vec(2, "the ticket")?;
    Ok(SessionTicket {
        lifetime_hint: (hint, a..a + 4),
        ticket_len,
        ticket,
    })
}

/// The key exchange a cipher suite uses, for reading the key exchange messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchange {
    Ecdhe,
    Dhe,
    Rsa,
    /// TLS 1.3 suites: the key exchange is in the key_share extension.
    Tls13,
    Other,
}

/// A cipher suite's IANA name (RFC 8446 § B.4, RFC 5246 § A.5, RFC 5289, RFC 7905…).
pub fn cipher_suite_name(s: u16) -> &'static str {
    match s {
        0x0000 => "TLS_NULL_WITH_NULL_NULL",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x0067 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        0x006b => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0x1304 => "TLS_AES_128_CCM_SHA256",
        0x1305 => "TLS_AES_128_CCM_8_SHA256",
        0x5600 => "TLS_FALLBACK_SCSV",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xc09c => "TLS_RSA_WITH_AES_128_CCM",
        0xc09d => "TLS_RSA_WITH_AES_256_CCM",
        0xc09e => "TLS_DHE_RSA_WITH_AES_128_CCM",
        0xc09f => "TLS_DHE_RSA_WITH_AES_256_CCM",
        0xc0a0 => "TLS_RSA_WITH_AES_128_CCM_8",
        0xc0a1 => "TLS_RSA_WITH_AES_256_CCM_8",
        0xc0a2 => "TLS_DHE_RSA_WITH_AES_128_CCM_8",
        0xc0a3 => "TLS_DHE_RSA_WITH_AES_256_CCM_8",
        0xc0ac => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        0xc0ad => "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
        0xc0ae => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        0xc0af => "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccaa => "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        s if is_grease(s) => "Reserved (GREASE)",
        _ => "Unknown",
    }
}

/// The key exchange of a suite, from its name.
pub fn key_exchange(s: u16) -> KeyExchange {
    let n = cipher_suite_name(s);
    if (0x1301..=0x1305).contains(&s) {
        KeyExchange::Tls13
    } else if n.starts_with("TLS_ECDHE_") {
        KeyExchange::Ecdhe
    } else if n.starts_with("TLS_DHE_") {
        KeyExchange::Dhe
    } else if n.starts_with("TLS_RSA_") {
        KeyExchange::Rsa
    } else {
        KeyExchange::Other
    }
}

/// GREASE values (RFC 8701): `0x?a?a`, sent to keep servers tolerant of unknown values.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A version's name: `TLS 1.2`.
pub fn version_name(v: u16) -> &'static str {
    match v {
        version::SSL_3_0 => "SSL 3.0",
        version::TLS_1_0 => "TLS 1.0",
        version::TLS_1_1 => "TLS 1.1",
        version::TLS_1_2 => "TLS 1.2",
        version::TLS_1_3 => "TLS 1.3",
        v if is_grease(v) => "Reserved (GREASE)",
        _ => "Unknown",
    }
}

/// The packet list's Protocol column for a version: `TLSv1.2`.
pub fn version_column(v: u16) -> &'static str {
    match v {
        version::SSL_3_0 => "SSLv3",
        version::TLS_1_0 => "TLSv1",
        version::TLS_1_1 => "TLSv1.1",
        version::TLS_1_2 => "TLSv1.2",
        version::TLS_1_3 => "TLSv1.3",
        _ => "TLS",
    }
}

pub fn content_type_name(t: u8) -> &'static str {
    match t {
        content::CHANGE_CIPHER_SPEC => "Change Cipher Spec",
        content::ALERT => "Alert",
        content::HANDSHAKE => "Handshake",
        content::APPLICATION_DATA => "Application Data",
        content::HEARTBEAT => "Heartbeat",
        _ => "Unknown",
    }
}

pub fn handshake_name(t: u8) -> &'static str {
    match t {
        handshake::HELLO_REQUEST => "Hello Request",
        handshake::CLIENT_HELLO => "Client Hello",
        handshake::SERVER_HELLO => "Server Hello",
        3 => "Hello Verify Request",
        handshake::NEW_SESSION_TICKET => "New Session Ticket",
        handshake::END_OF_EARLY_DATA => "End of Early Data",
        6 => "Hello Retry Request",
        handshake::ENCRYPTED_EXTENSIONS => "Encrypted Extensions",
        handshake::CERTIFICATE => "Certificate",
        handshake::SERVER_KEY_EXCHANGE => "Server Key Exchange",
        handshake::CERTIFICATE_REQUEST => "Certificate Request",
        handshake::SERVER_HELLO_DONE => "Server Hello Done",
        handshake::CERTIFICATE_VERIFY => "Certificate Verify",
        handshake::CLIENT_KEY_EXCHANGE => "Client Key Exchange",
        handshake::FINISHED => "Finished",
        22 => "Certificate Status",
        handshake::KEY_UPDATE => "Key Update",
        254 => "Message Hash",
        _ => "Unknown",
    }
}

/// An extension's name, as IANA's registry writes it.
pub fn extension_name(t: u16) -> &'static str {
    match t {
        0 => "server_name",
        1 => "max_fragment_length",
        5 => "status_request",
        10 => "supported_groups",
        11 => "ec_point_formats",
        13 => "signature_algorithms",
        14 => "use_srtp",
        15 => "heartbeat",
        16 => "application_layer_protocol_negotiation",
        18 => "signed_certificate_timestamp",
        21 => "padding",
        22 => "encrypt_then_mac",
        23 => "extended_master_secret",
        27 => "compress_certificate",
        28 => "record_size_limit",
        34 => "delegated_credentials",
        35 => "session_ticket",
        41 => "pre_shared_key",
        42 => "early_data",
        43 => "supported_versions",
        44 => "cookie",
        45 => "psk_key_exchange_modes",
        47 => "certificate_authorities",
        49 => "post_handshake_auth",
        50 => "signature_algorithms_cert",
        51 => "key_share",
        57 => "quic_transport_parameters",
        65281 => "renegotiation_info",
        t if is_grease(t) => "Reserved (GREASE)",
        _ => "Unknown",
    }
}

/// A named group (RFC 8446 § 4.2.7, RFC 7919).
pub fn group_name(g: u16) -> &'static str {
    match g {
        0x0017 => "secp256r1",
        0x0018 => "secp384r1",
        0x0019 => "secp521r1",
        0x001d => "x25519",
        0x001e => "x448",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0103 => "ffdhe6144",
        0x0104 => "ffdhe8192",
        0x6399 => "X25519Kyber768Draft00",
        0x11ec => "X25519MLKEM768",
        g if is_grease(g) => "Reserved (GREASE)",
        _ => "Unknown",
    }
}

/// A signature scheme (RFC 8446 § 4.2.3).
pub fn signature_scheme_name(s: u16) -> &'static str {
    match s {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        0x081a => "ecdsa_brainpoolP256r1tls13_sha256",
        0x081b => "ecdsa_brainpoolP384r1tls13_sha384",
        0x081c => "ecdsa_brainpoolP512r1tls13_sha512",
        0x0303 => "SHA224 ECDSA",
        0x0301 => "SHA224 RSA",
        0x0302 => "SHA224 DSA",
        0x0402 => "SHA256 DSA",
        0x0502 => "SHA384 DSA",
        0x0602 => "SHA512 DSA",
        0x0202 => "SHA1 DSA",
        _ => "Unknown",
    }
}

/// TLS 1.2's reading of a scheme's first byte (RFC 5246 § 7.4.1.4.1).
pub fn sig_hash_name(h: u8) -> &'static str {
    match h {
        0 => "None",
        1 => "MD5",
        2 => "SHA1",
        3 => "SHA224",
        4 => "SHA256",
        5 => "SHA384",
        6 => "SHA512",
        _ => "Unknown",
    }
}

/// … and of its second byte.
pub fn sig_sig_name(s: u8) -> &'static str {
    match s {
        0 => "Anonymous",
        1 => "RSA",
        2 => "DSA",
        3 => "ECDSA",
        4 => "SM2",
        _ => "Unknown",
    }
}

pub fn alert_level_name(l: u8) -> &'static str {
    match l {
        1 => "Warning",
        2 => "Fatal",
        _ => "Unknown",
    }
}

/// An alert's description (RFC 8446 § 6).
pub fn alert_name(d: u8) -> &'static str {
    match d {
        0 => "Close Notify",
        10 => "Unexpected Message",
        20 => "Bad Record MAC",
        21 => "Decryption Failed",
        22 => "Record Overflow",
        30 => "Decompression Failure",
        40 => "Handshake Failure",
        41 => "No Certificate",
        42 => "Bad Certificate",
        43 => "Unsupported Certificate",
        44 => "Certificate Revoked",
        45 => "Certificate Expired",
        46 => "Certificate Unknown",
        47 => "Illegal Parameter",
        48 => "Unknown CA",
        49 => "Access Denied",
        50 => "Decode Error",
        51 => "Decrypt Error",
        60 => "Export Restriction",
        70 => "Protocol Version",
        71 => "Insufficient Security",
        80 => "Internal Error",
        86 => "Inappropriate Fallback",
        90 => "User Canceled",
        100 => "No Renegotiation",
        109 => "Missing Extension",
        110 => "Unsupported Extension",
        111 => "Certificate Unobtainable",
        112 => "Unrecognized Name",
        113 => "Bad Certificate Status Response",
        114 => "Bad Certificate Hash Value",
        115 => "Unknown PSK Identity",
        116 => "Certificate Required",
        120 => "No application Protocol",
        _ => "Unknown",
    }
}

pub fn ec_point_format_name(f: u8) -> &'static str {
    match f {
        0 => "uncompressed",
        1 => "ansiX962_compressed_prime",
        2 => "ansiX962_compressed_char2",
        _ => "Unknown",
    }
}

pub fn psk_ke_mode_name(m: u8) -> &'static str {
    match m {
        0 => "PSK-only key establishment (psk_ke)",
        1 => "PSK with (EC)DHE key establishment (psk_dhe_ke)",
        _ => "Unknown",
    }
}

// ---------------------------------------------------------------------------------------
// Building a ClientHello
// ---------------------------------------------------------------------------------------

/// A ClientHello to write: the fields a client chooses. Tests and tools build hellos with
/// it; [`ClientHelloRepr::record`] wraps it in a handshake record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHelloRepr {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub server_name: Option<String>,
    pub alpn: Vec<String>,
    /// Offered in supported_versions; empty: no such extension (TLS 1.2 and before).
    pub versions: Vec<u16>,
    pub groups: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    /// key_share entries: (group, public key).
    pub key_shares: Vec<(u16, Vec<u8>)>,
}

impl ClientHelloRepr {
    fn extensions(&self) -> Vec<u8> {
        fn push(out: &mut Vec<u8>, t: u16, data: &[u8]) {
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        fn u16s(v: &[u16], len_bytes: usize) -> Vec<u8> {
            let mut d = Vec::new();
            let n = v.len() * 2;
            if len_bytes == 1 {
                d.push(n as u8);
            } else {
                d.extend_from_slice(&(n as u16).to_be_bytes());
            }
            for x in v {
                d.extend_from_slice(&x.to_be_bytes());
            }
            d
        }
        let mut out = Vec::new();
        if let Some(name) = &self.server_name {
            let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
            d.push(0);
            d.extend_from_slice(&(name.len() as u16).to_be_bytes());
            d.extend_from_slice(name.as_bytes());
            push(&mut out, ext::SERVER_NAME, &d);
        }
        if !self.groups.is_empty() {
            push(&mut out, ext::SUPPORTED_GROUPS, &u16s(&self.groups, 2));
        }
        if !self.signature_algorithms.is_empty() {
            push(
                &mut out,
                ext::SIGNATURE_ALGORITHMS,
                &u16s(&self.signature_algorithms, 2),
            );
        }
        if !self.alpn.is_empty() {
            let mut list = Vec::new();
            for p in &self.alpn {
                list.push(p.len() as u8);
                list.extend_from_slice(p.as_bytes());
            }
            let mut d = (list.len() as u16).to_be_bytes().to_vec();
            d.extend_from_slice(&list);
            push(&mut out, ext::ALPN, &d);
        }
        if !self.versions.is_empty() {
            push(&mut out, ext::SUPPORTED_VERSIONS, &u16s(&self.versions, 1));
        }
        if !self.key_shares.is_empty() {
            let mut list = Vec::new();
            for (g, k) in &self.key_shares {
                list.extend_from_slice(&g.to_be_bytes());
                list.extend_from_slice(&(k.len() as u16).to_be_bytes());
                list.extend_from_slice(k);
            }
            let mut d = (list.len() as u16).to_be_bytes().to_vec();
            d.extend_from_slice(&list);
            push(&mut out, ext::KEY_SHARE, &d);
        }
        out
    }

    /// The handshake message (type, length, body).
    pub fn message(&self) -> Vec<u8> {
        let mut body = version::TLS_1_2.to_be_bytes().to_vec();
        body.extend_from_slice(&self.random);
        body.push(self.session_id.len() as u8);
        body.extend_from_slice(&self.session_id);
        body.extend_from_slice(&((self.cipher_suites.len() * 2) as u16).to_be_bytes());
        for s in &self.cipher_suites {
            body.extend_from_slice(&s.to_be_bytes());
        }
        body.extend_from_slice(&[1, 0]);
        let exts = self.extensions();
        if !exts.is_empty() {
            body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
            body.extend_from_slice(&exts);
        }
        let mut msg = vec![handshake::CLIENT_HELLO];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    /// The message in one handshake record (legacy record version TLS 1.0, as clients
    /// send their first record).
    pub fn record(&self) -> Vec<u8> {
        let msg = self.message();
        let mut rec = vec![content::HANDSHAKE, 3, 1];
        rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        rec.extend_from_slice(&msg);
        rec
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TLS 1.3 ClientHello like openssl s_client's (`-servername netlab.test -alpn
    /// h2,http/1.1`), built with [`ClientHelloRepr`].
    pub(crate) fn client_hello() -> ClientHelloRepr {
        ClientHelloRepr {
            random: [7; 32],
            session_id: vec![9; 32],
            cipher_suites: vec![0x1302, 0x1303, 0x1301, 0x00ff],
            server_name: Some("netlab.test".into()),
            alpn: vec!["h2".into(), "http/1.1".into()],
            versions: vec![version::TLS_1_3],
            groups: vec![0x001d, 0x0017],
            signature_algorithms: vec![0x0403, 0x0804],
            key_shares: vec![(0x001d, vec![0x42; 32])],
        }
    }

    /// captures/tls13.pcap, frame 4: openssl s_client's ClientHello (the TCP payload).
    const TLS13_CLIENT_HELLO: &str = concat!(
        "1603010106010001020303ef0a4205317f31e0771e97ca194045b1f556ce2d782f4274a7773840e08a4b942087ca6c4e",
        "82ae55b0be03ce000f1a8e99a62f0a2bcf532f320fdc507712861fba000813021303130100ff010000b1000000140012",
        "00000f746c732e6e65746c61622e74657374000b000403000102000a00160014001d0017001e00190018010001010102",
        "01030104002300000010000e000c02683208687474702f312e310016000000170000000d001e001c0403050306030807",
        "08080809080a080b080408050806040105010601002b0003020304002d00020101003300260024001d002005dc669299",
        "210d9dc26772f922bcc9d2d9fc4df9269c782728e7805632dc4e78",
    );
    /// captures/tls12.pcap, frame 6: the first record, openssl s_server's ServerHello.
    const TLS12_SERVER_HELLO: &str = concat!(
        "16030300500200004c03039a4e6649d6b16522fbb40956e619ef93722bcf6536855d59444f574e4752440100c0300000",
        "24ff01000100000b000403000102002300000010000b000908687474702f312e3100170000",
    );

    #[test]
    fn openssl_client_hello_from_the_capture() {
        let rec = crate::wire::unhex(TLS13_CLIENT_HELLO);
        let r = Record::new_checked(&rec[..]).unwrap();
        assert_eq!(r.content_type(), content::HANDSHAKE);
        let m = read_handshake(&rec, HEADER_LEN, rec.len()).unwrap();
        assert_eq!(m.msg_type, handshake::CLIENT_HELLO);
        let h = parse_hello(&rec, m.body, true).unwrap();
        let sni = h.extension(ext::SERVER_NAME).unwrap();
        assert!(rec[sni.data.clone()].ends_with(b"tls.netlab.test"));
        let alpn = h.extension(ext::ALPN).unwrap();
        assert!(rec[alpn.data.clone()].ends_with(b"\x02h2\x08http/1.1"));
        let sv = h.extension(ext::SUPPORTED_VERSIONS).unwrap();
        assert_eq!(&rec[sv.data.clone()], &[2, 3, 4]);
        let ks = h.extension(ext::KEY_SHARE).unwrap();
        assert_eq!(be16(&rec, ks.data.start + 2), 0x001d, "x25519");
        assert_eq!(h.cipher_suites.len(), 4);
        assert!(ja3_line(&rec, &h, true).starts_with("771,4866-4867-4865-255,0-"));
    }

    #[test]
    fn openssl_server_hello_from_the_capture() {
        let rec = crate::wire::unhex(TLS12_SERVER_HELLO);
        let m = read_handshake(&rec, HEADER_LEN, rec.len()).unwrap();
        let h = parse_hello(&rec, m.body, false).unwrap();
        assert_eq!(h.version, version::TLS_1_2);
        assert_eq!(h.cipher_suites[0].0, 0xc030);
        assert_eq!(
            cipher_suite_name(0xc030),
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        );
        assert_eq!(key_exchange(0xc030), KeyExchange::Ecdhe);
        let alpn = h.extension(ext::ALPN).unwrap();
        assert!(rec[alpn.data.clone()].ends_with(b"http/1.1"));
        assert_eq!(ja3_line(&rec, &h, false), "771,49200,65281-11-35-16-23");
    }

    #[test]
    fn a_record_view_checks_its_length() {
        let rec = client_hello().record();
        let r = Record::new_checked(&rec[..]).unwrap();
        assert_eq!(r.content_type(), content::HANDSHAKE);
        assert_eq!(r.version(), version::TLS_1_0);
        assert_eq!(r.length() as usize, rec.len() - HEADER_LEN);
        assert_eq!(record_len(&rec), Some(rec.len()));
        for n in 0..rec.len() {
            assert!(Record::new_checked(&rec[..n]).is_err(), "{n}");
        }
        assert!(looks_like_record_header(&rec));
        assert!(!looks_like_record_header(b"GET / HTTP/1.1"));
    }

    #[test]
    fn a_client_hello_reads_back() {
        let rec = client_hello().record();
        let m = read_handshake(&rec, HEADER_LEN, rec.len()).unwrap();
        assert_eq!(m.msg_type, handshake::CLIENT_HELLO);
        assert_eq!(m.span.end, rec.len());
        let h = parse_hello(&rec, m.body.clone(), true).unwrap();
        assert_eq!(h.version, version::TLS_1_2);
        assert_eq!(&rec[h.random.clone()], &[7; 32]);
        assert_eq!(h.session_id.len(), 32);
        let suites: Vec<u16> = h.cipher_suites.iter().map(|s| s.0).collect();
        assert_eq!(suites, [0x1302, 0x1303, 0x1301, 0x00ff]);
        assert_eq!(h.compression.len(), 1);
        let sni = h.extension(ext::SERVER_NAME).unwrap();
        assert_eq!(&rec[sni.data.end - 11..sni.data.end], b"netlab.test");
        assert!(h.extension(ext::KEY_SHARE).is_some());
        assert_eq!(h.extensions.len(), 6);
    }

    #[test]
    fn every_cut_hello_is_an_error_not_a_panic() {
        let rec = client_hello().record();
        let body = HEADER_LEN + HANDSHAKE_HEADER_LEN;
        for n in body..rec.len() {
            // The message cut: its header announces more than there is.
            assert!(read_handshake(&rec, HEADER_LEN, n).is_none(), "{n}");
            // The body cut at n: the parse says where a length ran past the end —
            // except right after the compression methods, where a hello without
            // extensions ends (RFC 5246 § 7.4.1.2).
            let r = parse_hello(&rec, body..n, true);
            if n == body + 2 + 32 + 1 + 32 + 2 + 8 + 2 {
                assert!(r.unwrap().extensions.is_empty());
                continue;
            }
            assert!(
                matches!(r, Err(TlsError::PastEnd { .. } | TlsError::Uneven { .. })),
                "{n}: {r:?}"
            );
        }
    }

    #[test]
    fn lengths_past_the_message_are_errors() {
        let mut rec = client_hello().record();
        // The cipher suites' length: 2 bytes after version, random and session id.
        let at = HEADER_LEN + HANDSHAKE_HEADER_LEN + 2 + 32 + 1 + 32;
        rec[at..at + 2].copy_from_slice(&0xfff0u16.to_be_bytes());
        let m = read_handshake(&rec, HEADER_LEN, rec.len()).unwrap();
        let e = parse_hello(&rec, m.body, true).unwrap_err();
        assert!(
            matches!(
                e,
                TlsError::PastEnd {
                    what: "the cipher suites",
                    announced: 0xfff0,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("65520"), "{e}");
        // An odd cipher suites length.
        let mut rec = client_hello().record();
        rec[at..at + 2].copy_from_slice(&7u16.to_be_bytes());
        let m = read_handshake(&rec, HEADER_LEN, rec.len()).unwrap();
        assert!(matches!(
            parse_hello(&rec, m.body, true),
            Err(TlsError::Uneven { .. })
        ));
    }

    #[test]
    fn names() {
        assert_eq!(cipher_suite_name(0x1302), "TLS_AES_256_GCM_SHA384");
        assert_eq!(cipher_suite_name(0x3a3a), "Reserved (GREASE)");
        assert_eq!(key_exchange(0xc02c), KeyExchange::Ecdhe);
        assert_eq!(key_exchange(0x1301), KeyExchange::Tls13);
        assert_eq!(version_column(version::TLS_1_3), "TLSv1.3");
        assert_eq!(extension_name(16), "application_layer_protocol_negotiation");
        assert_eq!(group_name(0x001d), "x25519");
        assert_eq!(alert_name(40), "Handshake Failure");
        assert!(is_grease(0xfafa) && !is_grease(0xfa0a));
    }

    #[test]
    fn certificates_and_ticket() {
        // Two certificates of 3 and 1 bytes.
        let body = [0, 0, 10, 0, 0, 3, 1, 2, 3, 0, 0, 1, 9];
        let c = parse_certificates(&body, 0..body.len()).unwrap();
        assert_eq!(c.certs, vec![(3..6, 6..9), (9..12, 12..13)]);
        assert!(parse_certificates(&body, 0..body.len() - 1).is_err());
        let t = [0, 0, 0x1c, 0x20, 0, 2, 0xaa, 0xbb];
        let s = parse_session_ticket(&t, 0..t.len()).unwrap();
        assert_eq!(s.lifetime_hint.0, 7200);
        assert_eq!(s.ticket, 6..8);
        assert!(parse_session_ticket(&t, 0..7).is_err());
    }
}
