//! The retransmission timeout (RTO): how long to wait for an acknowledgment before sending
//! a segment again. RFC 6298.
//!
//! Wait too little and TCP resends data that was merely slow, wasting the network; wait too
//! long and a lost segment stalls the connection. So TCP measures round-trip times (RTT)
//! and keeps two running averages (RFC 6298 § 2):
//!
//! - SRTT, the smoothed RTT: `SRTT = (1 - α)·SRTT + α·R`, with α = 1/8;
//! - RTTVAR, how much the RTT varies: `RTTVAR = (1 - β)·RTTVAR + β·|SRTT - R|`, with β = 1/4
//!   (computed *before* SRTT is updated, with the old SRTT);
//!
//! and sets `RTO = SRTT + max(G, K·RTTVAR)` with K = 4: a comfortable margin above the
//! average, wider when the RTT jumps around. The first sample R sets `SRTT = R` and
//! `RTTVAR = R/2`. Before any sample the RTO is 1 s (§ 2.1).
//!
//! Two more rules:
//! - **Karn's algorithm** (§ 3): never take a sample from a retransmitted segment. When
//!   its ACK comes back you cannot tell whether it answers the first or the second copy.
//!   (The endpoint enforces this; the estimator only takes the samples it is given.)
//! - **Exponential back-off** (§ 5.5): every time the timer expires, double the RTO (up to a
//!   maximum of at least 60 s), so a dead or congested path is probed ever more gently.
//!
//! netlab's departures, both configurable: RFC 6298 § 2.4 asks for a minimum RTO of 1 s;
//! netlab defaults to 200 ms, as Linux does, so demos over a fast link stay short. The clock
//! granularity G is taken as 1 ms (netlab's timestamps count milliseconds).
//!
//! Contract: pure arithmetic on `Duration`s, no clock of its own.

use std::time::Duration;

/// α = 1/8, written as a fraction: `SRTT·7/8 + R/8`.
const ALPHA_DEN: u32 = 8;
/// β = 1/4: `RTTVAR·3/4 + |SRTT - R|/4`.
const BETA_DEN: u32 = 4;
/// K = 4.
const K: u32 = 4;
/// G, the clock granularity.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// RFC 6298's round-trip estimator and retransmission timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min_rto: Duration,
    max_rto: Duration,
}

impl RttEstimator {
    /// A fresh estimator: no samples yet, RTO = `initial` (RFC 6298 § 2.1: 1 s).
    pub fn new(initial: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        let max_rto = max_rto.max(min_rto);
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min_rto, max_rto),
            min_rto,
            max_rto,
        }
    }

    /// The current retransmission timeout (backed off if the timer expired).
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// The smoothed RTT, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The RTT variation (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Whether any sample has been taken.
    pub fn has_sample(&self) -> bool {
        self.srtt.is_some()
    }

    /// Feeds one measured round-trip time `r`; returns the new RTO. RFC 6298 § 2.2-2.5.
    pub fn sample(&mut self, r: Duration) -> Duration {
        let srtt = match self.srtt {
            None => {
                // (2.2) the first measurement.
                self.rttvar = r / 2;
                r
            }
            Some(srtt) => {
                // (2.3) RTTVAR first, with the old SRTT.
                let err = srtt.abs_diff(r);
                self.rttvar = self.rttvar * (BETA_DEN - 1) / BETA_DEN + err / BETA_DEN;
                srtt * (ALPHA_DEN - 1) / ALPHA_DEN + r / ALPHA_DEN
            }
        };
        self.srtt = Some(srtt);
        let margin = GRANULARITY.max(self.rttvar.saturating_mul(K));
        self.rto = srtt
            .saturating_add(margin)
            .clamp(self.min_rto, self.max_rto);
        self.rto
    }

    /// The timer expired: double the RTO, up to the maximum. RFC 6298 § 5.5. Returns it.
    pub fn back_off(&mut self) -> Duration {
        self.rto = self.rto.saturating_mul(2).min(self.max_rto);
        self.rto
    }

    /// Raises the RTO to at least `floor` (RFC 6298 § 5.7: 3 s after a retransmitted SYN).
    pub fn raise_to(&mut self, floor: Duration) {
        self.rto = self.rto.max(floor.min(self.max_rto));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn before_any_sample_the_rto_is_the_initial_one() {
        let e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(e.rto(), ms(1000));
        assert_eq!(e.srtt(), None);
    }

    /// Samples 100 ms, 120 ms, 80 ms worked by hand with RFC 6298 § 2:
    ///
    /// 1. R = 100: SRTT = 100, RTTVAR = 50, RTO = 100 + max(1, 4·50) = 300 ms.
    /// 2. R = 120: RTTVAR = ¾·50 + ¼·|100 - 120| = 37.5 + 5 = 42.5;
    ///    SRTT = ⅞·100 + ⅛·120 = 87.5 + 15 = 102.5; RTO = 102.5 + 170 = 272.5 ms.
    /// 3. R = 80: RTTVAR = ¾·42.5 + ¼·|102.5 - 80| = 31.875 + 5.625 = 37.5;
    ///    SRTT = ⅞·102.5 + ⅛·80 = 89.6875 + 10 = 99.6875; RTO = 99.6875 + 150 = 249.6875 ms.
    #[test]
    fn rfc6298_hand_computation() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(e.sample(ms(100)), ms(300));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), ms(50));

        assert_eq!(e.sample(ms(120)), Duration::from_micros(272_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(102_500)));
        assert_eq!(e.rttvar(), Duration::from_micros(42_500));

        assert_eq!(e.sample(ms(80)), Duration::from_nanos(249_687_500));
        assert_eq!(e.srtt(), Some(Duration::from_nanos(99_687_500)));
        assert_eq!(e.rttvar(), Duration::from_micros(37_500));
    }

    #[test]
    fn minimum_rto_applies() {
        // 10 ms RTT: 10 + 4·5 = 30 ms, raised to the 200 ms floor (RFC: 1 s).
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(e.sample(ms(10)), ms(200));
        let mut strict = RttEstimator::new(ms(1000), ms(1000), ms(60_000));
        assert_eq!(strict.sample(ms(10)), ms(1000));
    }

    #[test]
    fn back_off_doubles_up_to_the_maximum() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(e.back_off(), ms(2000));
        assert_eq!(e.back_off(), ms(4000));
        for _ in 0..10 {
            e.back_off();
        }
        assert_eq!(e.rto(), ms(60_000));
        // A new sample computes the RTO afresh: the back-off is forgotten.
        assert_eq!(e.sample(ms(100)), ms(300));
    }

    #[test]
    fn raise_to_three_seconds() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        e.raise_to(ms(3000));
        assert_eq!(e.rto(), ms(3000));
        e.raise_to(ms(1000));
        assert_eq!(e.rto(), ms(3000));
    }
}
