//! Where netlab's random numbers come from.
//!
//! Two sources, never mixed up:
//! - [`Rng::os`], the operating system's CSPRNG (`getrandom(2)` through the
//!   `getrandom` crate), for every number an attacker must not predict: WebSocket
//!   masking keys (RFC 6455 § 10.3: "the masking key [must] be derived from a strong
//!   source of entropy", so that a hostile page cannot choose the bytes on the wire),
//!   `Sec-WebSocket-Key` nonces, Engine.IO session ids (a guessable `sid` lets another
//!   client take over a long-polling session) and TCP initial sequence numbers
//!   (RFC 9293 § 3.4.1, RFC 6528: a predictable ISN lets an off-path attacker inject
//!   segments);
//! - [`XorShift`], a small seeded generator, only where a run must be reproducible: a
//!   `--seed` (race's wire), the in-process mutation tests, unit tests. Give an engine
//!   [`Rng::seeded`] in a test and it draws the same numbers every run.
//!
//! Imports: `std` and `getrandom` only; every module may use it.

/// A source of random numbers for an engine: the OS's, or a seeded one.
#[derive(Debug, Clone)]
pub enum Rng {
    /// The operating system's CSPRNG: unpredictable.
    Os,
    /// Reproducible from its seed (tests, `--seed`): predictable by design.
    Seeded(XorShift),
}

impl Rng {
    /// The operating system's CSPRNG.
    pub fn os() -> Rng {
        Rng::Os
    }

    /// A reproducible generator (see [`XorShift::new`]).
    pub fn seeded(seed: u64) -> Rng {
        Rng::Seeded(XorShift::new(seed))
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        match self {
            Rng::Os => os_fill(buf),
            Rng::Seeded(x) => {
                for chunk in buf.chunks_mut(8) {
                    let r = x.next_u64().to_be_bytes();
                    chunk.copy_from_slice(&r[..chunk.len()]);
                }
            }
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_be_bytes(b)
    }

    pub fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_be_bytes(b)
    }

    /// A WebSocket masking key for one frame (RFC 6455 § 5.3).
    pub fn masking_key(&mut self) -> [u8; 4] {
        let mut k = [0u8; 4];
        self.fill(&mut k);
        k
    }

    /// A `Sec-WebSocket-Key` nonce: 16 random bytes (RFC 6455 § 4.1).
    pub fn nonce(&mut self) -> [u8; 16] {
        let mut n = [0u8; 16];
        self.fill(&mut n);
        n
    }
}

/// `buf` from the OS's CSPRNG. On Linux `getrandom(2)` blocks only until the kernel's
/// pool is first seeded, early at boot, and cannot fail afterwards; a failure here
/// means the system has no usable random source at all, and nothing netlab could
/// fall back on would be unpredictable, so it stops.
fn os_fill(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {e}");
    }
}

/// A random number from the OS's CSPRNG.
pub fn os_u64() -> u64 {
    Rng::os().next_u64()
}

/// A small xorshift64* generator: fast and reproducible from its seed, and for that
/// reason never used where unpredictability matters (see the module docs).
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (zero is replaced: xorshift stays at zero).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_runs_repeat_and_os_runs_do_not() {
        let (mut a, mut b) = (Rng::seeded(42), Rng::seeded(42));
        let draws = |r: &mut Rng| (r.next_u64(), r.masking_key(), r.nonce());
        assert_eq!(draws(&mut a), draws(&mut b));
        assert_ne!(Rng::seeded(43).next_u64(), Rng::seeded(42).next_u64());
        // 128 bits from the OS twice: equal only if the generator is broken.
        let (mut x, mut y) = (Rng::os(), Rng::os());
        assert_ne!(x.nonce(), y.nonce());
        assert_ne!(os_u64(), os_u64());
    }

    #[test]
    fn fill_covers_odd_lengths() {
        for len in [0, 1, 7, 8, 9, 15] {
            let mut b = vec![0u8; len];
            Rng::seeded(9).fill(&mut b);
            assert_eq!(b.len(), len);
            if len >= 8 {
                assert!(b.iter().any(|&x| x != 0));
            }
        }
    }

    #[test]
    fn zero_is_not_a_stuck_seed() {
        let mut x = XorShift::new(0);
        assert_ne!(x.next_u64(), x.next_u64());
    }
}
