//! Close codes and UTF-8: the payload rules a receiver checks that are not about a
//! frame's shape. Which status codes a close frame may carry and what they mean
//! (RFC 6455 § 7.4, the IANA registry), and an incremental UTF-8 check for text
//! messages and close reasons, which fails on the first impossible byte even across
//! fragments (§ 8.1, RFC 3629 § 4).
//!
//! Imports: nothing but `core`.

/// Close status codes: RFC 6455 § 7.4.1 and the IANA "WebSocket Close Code Number
/// Registry" (1012–1014 were registered after the RFC).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Reserved; never sent.
    pub const RESERVED: u16 = 1004;
    /// "No status received": what an API reports for a close frame without a code;
    /// never sent.
    pub const NO_STATUS: u16 = 1005;
    /// "Abnormal closure": what an API reports when the connection dropped without a
    /// close frame; never sent.
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const MANDATORY_EXTENSION: u16 = 1010;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const SERVICE_RESTART: u16 = 1012;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const BAD_GATEWAY: u16 = 1014;
    /// "TLS handshake failed": what an API reports; never sent.
    pub const TLS_HANDSHAKE: u16 = 1015;
}

/// Whether a close frame may carry `code` (RFC 6455 § 7.4): the defined codes 1000–1003
/// and 1007–1011, the IANA-registered 1012–1014, and 3000–4999 (libraries, frameworks
/// and applications). 1004 is reserved, and 1005, 1006 and 1015 only ever name a
/// closure inside an API: they "MUST NOT be set as a status code in a Close control
/// frame". Everything below 1000, the unassigned rest of 1000–2999, and 5000 and up are
/// invalid. A receiver fails the connection with 1002 on an invalid code.
pub fn close_code_is_valid_to_receive(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close code's name, for showing.
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "Normal Closure",
        1001 => "Going Away",
        1002 => "Protocol error",
        1003 => "Unsupported Data",
        1004 => "Reserved",
        1005 => "No Status Rcvd",
        1006 => "Abnormal Closure",
        1007 => "Invalid frame payload data",
        1008 => "Policy Violation",
        1009 => "Message Too Big",
        1010 => "Mandatory Ext.",
        1011 => "Internal Error",
        1012 => "Service Restart",
        1013 => "Try Again Later",
        1014 => "Bad Gateway",
        1015 => "TLS handshake",
        1016..=2999 => "Unassigned (reserved for this protocol)",
        3000..=3999 => "Registered for libraries and frameworks",
        4000..=4999 => "Private use",
        _ => "Invalid",
    }
}

// ---------------------------------------------------------------------------------------
// UTF-8, checked as it arrives. RFC 6455 § 8.1, RFC 3629 § 4.
// ---------------------------------------------------------------------------------------

/// Why text is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf8Error {
    /// The byte at `at` in the chunk just fed cannot occur there in any UTF-8 text.
    InvalidByte { at: usize },
    /// The text ended inside a multi-byte sequence.
    Truncated,
}

/// Checks UTF-8 that arrives in pieces — a text message's fragments, or a frame's
/// payload as TCP delivers it — and fails on the first byte that no valid text could
/// continue with (RFC 6455 § 8.1: an endpoint "MUST _Fail the WebSocket Connection_" on
/// invalid UTF-8, and may do so as soon as it is seen). A sequence split between two
/// pieces is fine; call [`Utf8Validator::finish`] at the end of the message.
///
/// The rules are RFC 3629's table of well-formed sequences: no overlong forms (C0, C1,
/// E0 80–9F, F0 80–8F), no UTF-16 surrogates (ED A0–BF), nothing above U+10FFFF
/// (F4 90–BF, F5–FF).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// Continuation bytes still expected in the current sequence.
    need: u8,
    /// The range the next byte must fall in while `need > 0`.
    lo: u8,
    hi: u8,
    failed: bool,
}

impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece. After an error every later call fails too.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        if self.failed {
            return Err(Utf8Error::InvalidByte { at: 0 });
        }
        let mut i = 0;
        // Finish a sequence split across pieces byte by byte…
        while self.need > 0 {
            let Some(&b) = bytes.get(i) else {
                return Ok(());
            };
            self.step(b, i)?;
            i += 1;
        }
        // …then let the standard library check the rest at full speed, and go byte by
        // byte only from where it stopped.
        match core::str::from_utf8(&bytes[i..]) {
            Ok(_) => Ok(()),
            Err(e) => {
                let from = i + e.valid_up_to();
                for (j, &b) in bytes[from..].iter().enumerate() {
                    self.step(b, from + j)?;
                }
                Ok(())
            }
        }
    }

    fn step(&mut self, b: u8, at: usize) -> Result<(), Utf8Error> {
        if self.need > 0 {
            if (self.lo..=self.hi).contains(&b) {
                self.need -= 1;
                (self.lo, self.hi) = (0x80, 0xbf);
                return Ok(());
            }
        } else {
            let (need, lo, hi) = match b {
                0x00..=0x7f => return Ok(()),
                0xc2..=0xdf => (1, 0x80, 0xbf),
                0xe0 => (2, 0xa0, 0xbf),
                0xed => (2, 0x80, 0x9f),
                0xe1..=0xef => (2, 0x80, 0xbf),
                0xf0 => (3, 0x90, 0xbf),
                0xf1..=0xf3 => (3, 0x80, 0xbf),
                0xf4 => (3, 0x80, 0x8f),
                // 80–BF without a lead byte, C0/C1 (overlong), F5–FF (too large).
                _ => {
                    self.failed = true;
                    return Err(Utf8Error::InvalidByte { at });
                }
            };
            (self.need, self.lo, self.hi) = (need, lo, hi);
            return Ok(());
        }
        self.failed = true;
        Err(Utf8Error::InvalidByte { at })
    }

    /// Whether the text so far ends on a character boundary.
    pub fn is_boundary(&self) -> bool {
        self.need == 0 && !self.failed
    }

    /// Checks that the text ended on a character boundary.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        match (self.failed, self.need) {
            (true, _) => Err(Utf8Error::InvalidByte { at: 0 }),
            (false, 0) => Ok(()),
            _ => Err(Utf8Error::Truncated),
        }
    }

    /// Starts over, for the next message.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// "κόσμε", Autobahn 6.x's sample text.
    pub(crate) const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

    /// Feeds `pieces` and returns the first error with the index of its piece.
    fn feed_all(pieces: &[&[u8]]) -> Result<(), (usize, Utf8Error)> {
        let mut v = Utf8Validator::new();
        for (i, p) in pieces.iter().enumerate() {
            v.feed(p).map_err(|e| (i, e))?;
        }
        v.finish().map_err(|e| (pieces.len(), e))
    }

    #[test]
    fn utf8_valid_split_anywhere() {
        let texts: [&[u8]; 5] = [
            KOSME,
            b"",
            b"plain ASCII",
            "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}".as_bytes(),
            "\u{d7ff}\u{e000}\u{fffd}".as_bytes(),
        ];
        for t in texts {
            for i in 0..=t.len() {
                for j in i..=t.len() {
                    assert_eq!(feed_all(&[&t[..i], &t[i..j], &t[j..]]), Ok(()));
                }
            }
            // One byte at a time.
            let bytes: Vec<&[u8]> = t.chunks(1).collect();
            assert_eq!(feed_all(&bytes), Ok(()));
        }
    }

    #[test]
    fn utf8_invalid_fails_on_the_first_bad_byte() {
        // (bytes, index of the first byte no valid text could continue with)
        let cases: [(&[u8], usize); 20] = [
            (b"\x80", 0), // continuation without a lead byte
            (b"\xbf", 0),
            (b"\xc0\x80", 0), // overlong NUL: C0 never appears
            (b"\xc1\xbf", 0),
            (b"\xe0\x80\x80", 1), // overlong 3-byte
            (b"\xe0\x9f\xbf", 1),
            (b"\xf0\x80\x80\x80", 1), // overlong 4-byte
            (b"\xf0\x8f\xbf\xbf", 1),
            (b"\xed\xa0\x80", 1),     // U+D800, a surrogate
            (b"\xed\xbf\xbf", 1),     // U+DFFF
            (b"\xf4\x90\x80\x80", 1), // U+110000, beyond Unicode
            (b"\xf5\x80\x80\x80", 0),
            (b"\xff", 0),
            (b"\xfe", 0),
            (b"\xc2\x41", 1), // lead byte, then ASCII
            (b"\xe1\x80\x41", 2),
            (b"a\xce\xba\x80", 3),
            (
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
                12,
            ),
            (b"\xf8\x88\x80\x80\x80", 0), // 5-byte forms are gone
            (b"\xfc\x84\x80\x80\x80\x80", 0),
        ];
        for (bytes, bad) in cases {
            let mut v = Utf8Validator::new();
            assert_eq!(
                v.feed(bytes),
                Err(Utf8Error::InvalidByte { at: bad }),
                "{bytes:x?}"
            );
            // Byte by byte: nothing before `bad` fails, `bad` does.
            let mut v = Utf8Validator::new();
            for (i, b) in bytes.iter().enumerate() {
                let r = v.feed(&[*b]);
                if i < bad {
                    assert_eq!(r, Ok(()), "{bytes:x?} byte {i}");
                } else {
                    assert_eq!(r, Err(Utf8Error::InvalidByte { at: 0 }), "{bytes:x?}");
                    break;
                }
            }
            // And it stays failed.
            assert!(v.feed(b"a").is_err());
            assert!(v.finish().is_err());
        }
    }

    #[test]
    fn utf8_truncated_at_the_end() {
        for t in [&b"\xce"[..], b"\xe1\xbd", b"\xf0\x90\x80", b"abc\xc2"] {
            assert_eq!(feed_all(&[KOSME, t]), Err((2, Utf8Error::Truncated)));
        }
        assert!(!{
            let mut v = Utf8Validator::new();
            v.feed(b"\xce").unwrap();
            v.is_boundary()
        });
    }

    #[test]
    fn utf8_autobahn_6_4_fail_fast_across_fragments() {
        // Autobahn 6.4.1: κόσμε | F4 90 80 80 | "edited" in three fragments; the error
        // is at the second fragment's second byte, before the third arrives.
        assert_eq!(
            feed_all(&[KOSME, b"\xf4\x90\x80\x80", b"edited"]),
            Err((1, Utf8Error::InvalidByte { at: 1 }))
        );
        // 6.4.2: the split falls inside the bad sequence.
        assert_eq!(
            feed_all(&[
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4",
                b"\x90\x80\x80edited"
            ]),
            Err((1, Utf8Error::InvalidByte { at: 0 }))
        );
    }

    pub(crate) fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn utf8_agrees_with_std_on_random_input() {
        let mut s = 0x7574_662d_3821_2121;
        let alphabet: &[u8] =
            b"a\x7f\x80\x8f\x90\x9f\xa0\xbf\xc0\xc1\xc2\xdf\xe0\xe1\xed\xef\xf0\xf3\xf4\xf5\xff";
        for _ in 0..50_000 {
            let len = (xorshift(&mut s) % 12) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(xorshift(&mut s) % alphabet.len() as u64) as usize])
                .collect();
            let split = (xorshift(&mut s) as usize) % (len + 1);
            let mut v = Utf8Validator::new();
            let got = v
                .feed(&bytes[..split])
                .map_err(|e| (0, e))
                .and_then(|()| v.feed(&bytes[split..]).map_err(|e| (split, e)))
                .and_then(|()| v.finish().map_err(|e| (len, e)));
            match core::str::from_utf8(&bytes) {
                Ok(_) => assert_eq!(got, Ok(()), "{bytes:x?}"),
                Err(e) => {
                    // Where no continuation could make the text valid: std's maximal
                    // invalid subpart ends there, or it is one impossible byte.
                    let bad = match e.error_len() {
                        None => None,
                        Some(n) => {
                            let first = bytes[e.valid_up_to()];
                            let impossible = matches!(first, 0x80..=0xc1 | 0xf5..=0xff);
                            Some(e.valid_up_to() + if impossible { 0 } else { n })
                        }
                    };
                    match (got, bad) {
                        (Err((_, Utf8Error::Truncated)), None) => {}
                        (Err((base, Utf8Error::InvalidByte { at })), Some(bad)) => {
                            assert_eq!(base + at, bad, "{bytes:x?} split {split}")
                        }
                        other => panic!("{bytes:x?} split {split}: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn close_code_names() {
        assert_eq!(close_code_name(1009), "Message Too Big");
        assert_eq!(
            close_code_name(1016),
            "Unassigned (reserved for this protocol)"
        );
        assert!(close_code_is_valid_to_receive(4999));
        assert!(!close_code_is_valid_to_receive(1005));
    }
}
