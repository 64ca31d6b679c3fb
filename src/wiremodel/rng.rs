//! The one random-number generator for seeded runs: SplitMix64.
//!
//! Where netlab rolls dice on purpose — which packet the wire loses, which one it holds
//! back — a run must be repeatable: the same `--seed` gives the same losses, so a learner
//! can rerun what they saw and a test can assert on it. SplitMix64 (Steele, Lea & Flood,
//! "Fast splittable pseudorandom number generators", 2014) is tiny, fast, passes BigCrush,
//! and every seed (even 0) starts a good sequence.
//!
//! It is **not** for secrets: anyone who sees a few outputs can predict the rest. Keys,
//! session ids and initial sequence numbers come from the operating system's generator.
//!
//! Contract: pure, no imports.

/// SplitMix64: a 64-bit state that advances by the golden-ratio constant, then is mixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
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

/// A seed for a run the user gave none: the clock and the process id, mixed. It is
/// printed, so the run can be repeated with `--seed`.
pub fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut r = Rng::new(t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32));
    r.next_u64() % 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs for seed 1234567, from the reference implementation
        // (Vigna's splitmix64.c).
        let mut r = Rng::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn same_seed_same_sequence_and_chance_extremes() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut r = Rng::new(7);
        assert!((0..1000).all(|_| !r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2200..2800).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| r.below(6) < 6));
        assert_eq!(r.below(0), 0);
    }
}
