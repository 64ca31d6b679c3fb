//! Sequence-number arithmetic modulo 2^32. RFC 9293 § 3.4.
//!
//! A TCP sequence number is 32 bits long and wraps: after 4 294 967 295 comes 0. A fast
//! connection wraps in seconds, and every connection starts at a random initial sequence
//! number (ISN), so wrap-around is not rare. The RFC therefore compares sequence numbers
//! "modulo 2^32": `a` is before `b` when going forward from `a` reaches `b` in fewer than
//! 2^31 steps. In code: the difference `b - a`, computed with wrapping and read as a
//! signed 32-bit number, is positive. This works as long as the two numbers being compared
//! are less than 2^31 apart, which TCP guarantees by keeping windows below 2^30 bytes
//! (RFC 7323 § 2.3 caps the window-scale shift at 14 for exactly this reason).
//!
//! Contract: pure functions, no imports.

/// `b - a` as a signed distance: positive when `b` comes after `a`.
pub fn seq_diff(b: u32, a: u32) -> i32 {
    b.wrapping_sub(a) as i32
}

/// `a < b` in sequence space.
pub fn seq_lt(a: u32, b: u32) -> bool {
    seq_diff(b, a) > 0
}

/// `a <= b` in sequence space.
pub fn seq_le(a: u32, b: u32) -> bool {
    seq_diff(b, a) >= 0
}

/// `a > b` in sequence space.
pub fn seq_gt(a: u32, b: u32) -> bool {
    seq_lt(b, a)
}

/// `a >= b` in sequence space.
pub fn seq_ge(a: u32, b: u32) -> bool {
    seq_le(b, a)
}

/// `start <= x < start + len`: is `x` inside the window of `len` numbers that begins at
/// `start`? (The RFC's `RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND`.) An empty window holds
/// nothing.
pub fn seq_in_window(x: u32, start: u32, len: u32) -> bool {
    x.wrapping_sub(start) < len
}

/// The later of two sequence numbers.
pub fn seq_max(a: u32, b: u32) -> u32 {
    if seq_lt(a, b) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_numbers() {
        assert!(seq_lt(1, 2));
        assert!(!seq_lt(2, 2));
        assert!(seq_le(2, 2));
        assert!(seq_gt(3, 2));
        assert!(seq_ge(3, 3));
        assert_eq!(seq_diff(10, 4), 6);
        assert_eq!(seq_diff(4, 10), -6);
    }

    #[test]
    fn around_two_to_the_32() {
        // 0xffff_fff0 + 0x20 wraps to 0x10: 0x10 is *after* 0xffff_fff0.
        let before = 0xffff_fff0u32;
        let after = before.wrapping_add(0x20);
        assert_eq!(after, 0x10);
        assert!(seq_lt(before, after));
        assert!(seq_gt(after, before));
        assert!(seq_le(u32::MAX, 0));
        assert!(seq_lt(u32::MAX, 0));
        assert!(!seq_lt(0, u32::MAX));
        assert_eq!(seq_diff(after, before), 0x20);
        assert_eq!(seq_diff(before, after), -0x20);
        assert_eq!(seq_max(before, after), after);
        assert_eq!(seq_max(after, before), after);
    }

    #[test]
    fn half_the_space_is_the_horizon() {
        // Up to 2^31 - 1 ahead counts as "after"; exactly 2^31 apart neither is before the
        // other (the difference is i32::MIN), which is why windows stay far below 2^31.
        assert!(seq_lt(0, 0x7fff_ffff));
        assert!(!seq_lt(0, 0x8000_0000));
        assert!(!seq_lt(0x8000_0000, 0));
        assert!(seq_lt(0x8000_0001, 0));
    }

    #[test]
    fn window_membership_wraps() {
        let start = u32::MAX - 1; // window covers MAX-1, MAX, 0, 1
        assert!(seq_in_window(u32::MAX - 1, start, 4));
        assert!(seq_in_window(u32::MAX, start, 4));
        assert!(seq_in_window(0, start, 4));
        assert!(seq_in_window(1, start, 4));
        assert!(!seq_in_window(2, start, 4));
        assert!(!seq_in_window(u32::MAX - 2, start, 4));
        assert!(!seq_in_window(start, start, 0));
    }
}
