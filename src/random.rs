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
//! - [`SplitMix64`], the one seeded generator, only where a run must be reproducible: a
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
    Seeded(SplitMix64),
}

impl Rng {
    /// The operating system's CSPRNG.
    pub fn os() -> Rng {
        Rng::Os
    }

    /// A reproducible generator (see [`SplitMix64::new`]).
    pub fn seeded(seed: u64) -> Rng {
        Rng::Seeded(SplitMix64::new(seed))
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

/// The one seeded generator, SplitMix64 (Steele, Lea & Flood, "Fast splittable
/// pseudorandom number generators", 2014): tiny, fast, passes BigCrush, and every seed
/// (0 too) starts a good sequence. Reproducible from its seed — and for that reason never
/// used where unpredictability matters (see the module docs). The wire model's dice
/// (`--seed` of race and congestion), the mutation tests and seeded engines all use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits: the state advances by the golden-ratio constant and is
    /// mixed.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p` (0.0 never, 1.0 always): the top 53 bits as a fraction
    /// in [0, 1), compared with `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        self.next_u64() % n
    }
}

/// One to four random edits of `b` (overwrite with one of `special`, insert, remove,
/// truncate, flip a bit, duplicate a run): the mutation step of the in-process
/// mutation tests.
pub fn mutate(b: &mut Vec<u8>, rng: &mut SplitMix64, special: &[u8]) {
    for _ in 0..=(rng.next_u64() % 4) {
        let r = rng.next_u64();
        let at = if b.is_empty() {
            0
        } else {
            (r >> 8) as usize % b.len()
        };
        let byte = special[(r >> 24) as usize % special.len()];
        match r % 6 {
            0 if !b.is_empty() => b[at] = byte,
            1 => b.insert(at, byte),
            2 if !b.is_empty() => {
                b.remove(at);
            }
            3 => b.truncate(at),
            4 if !b.is_empty() => b[at] ^= 1 << ((r >> 32) % 8),
            _ => {
                let end = (at + 1 + (r >> 40) as usize % 8).min(b.len());
                let dup = b[at..end].to_vec();
                b.splice(at..at, dup);
            }
        }
    }
}

/// The seed of the in-process mutation tests: `NETLAB_MUTATION_SEED`, else a fixed one.
pub fn mutation_seed() -> SplitMix64 {
    SplitMix64::new(
        std::env::var("NETLAB_MUTATION_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x6e65_746c_6162_2121_u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs for seed 1234567, as the reference implementation (Vigna's
        // splitmix64.c) gives them.
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
        let mut r = SplitMix64::new(7);
        assert!((0..1000).all(|_| !r.chance(0.0) && r.chance(1.0)));
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2200..2800).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| r.below(6) < 6));
    }

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
        let mut x = SplitMix64::new(0);
        assert_ne!(x.next_u64(), x.next_u64());
    }
}
