//! Verdict: whether a proxy "holds" a sustained publish rate (`run --rate R`).
//!
//! Owns: the rule and the reasons it gives.
//! Must not: measure anything (the report hands in the figures).
//! The rule: a rate holds when (1) no delivery was lost and none came twice, and the run did
//! not time out; (2) the proxy accepted (2xx) at least [`ACCEPTED_SHARE_MIN`] of R items per
//! second over the publish span; and (3) latency did not grow: the mean delivery lag of the
//! last quarter of rounds (round m's lag is its last delivery minus its first send) is at
//! most [`LAG_GROWTH_FACTOR_MAX`] times the first quarter's plus [`LAG_GROWTH_SLACK_MS`].
//! A proxy that queues what it cannot deliver shows (3) before it loses anything; the
//! slack keeps a few milliseconds of noise on an idle first quarter from failing a run.

/// Accepted items/s must be at least this share of the offered rate.
pub const ACCEPTED_SHARE_MIN: f64 = 0.95;
/// The last quarter's mean round lag may be at most this many times the first quarter's…
pub const LAG_GROWTH_FACTOR_MAX: f64 = 2.0;
/// …plus this much.
pub const LAG_GROWTH_SLACK_MS: f64 = 50.0;

/// The figures the rule reads.
#[derive(Debug, Clone, PartialEq)]
pub struct RateFigures {
    pub offered_per_s: f64,
    pub accepted_per_s: f64,
    pub lost: u64,
    pub duplicated: u64,
    pub timed_out: bool,
    /// Per round (seq order): last delivery minus first send, ms; `None` if nothing of it
    /// arrived.
    pub round_lag_ms: Vec<Option<f64>>,
}

/// The outcome, with every reason a rate did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub held: bool,
    pub reasons: Vec<String>,
    /// Mean round lag of the first and the last quarter of rounds, ms.
    pub first_quarter_lag_ms: Option<f64>,
    pub last_quarter_lag_ms: Option<f64>,
}

/// Applies the rule.
pub fn judge(f: &RateFigures) -> Verdict {
    let mut reasons = Vec::new();
    if f.lost > 0 || f.duplicated > 0 {
        reasons.push(format!("{} lost, {} duplicated", f.lost, f.duplicated));
    }
    if f.timed_out {
        reasons.push("the run timed out".into());
    }
    let needed = ACCEPTED_SHARE_MIN * f.offered_per_s;
    if f.accepted_per_s < needed {
        reasons.push(format!(
            "accepted {:.0} items/s, below {:.0}% of {:.0}",
            f.accepted_per_s,
            ACCEPTED_SHARE_MIN * 100.0,
            f.offered_per_s
        ));
    }
    let (first, last) = quarter_means(&f.round_lag_ms);
    if let (Some(a), Some(b)) = (first, last) {
        let bound = LAG_GROWTH_FACTOR_MAX * a + LAG_GROWTH_SLACK_MS;
        if b > bound {
            reasons.push(format!(
                "latency grew: last quarter's round lag {b:.1} ms > {LAG_GROWTH_FACTOR_MAX}x first quarter's {a:.1} ms + {LAG_GROWTH_SLACK_MS} ms"
            ));
        }
    }
    if f.round_lag_ms.iter().any(Option::is_none) && f.lost == 0 {
        reasons.push("some rounds had no delivery".into());
    }
    Verdict {
        held: reasons.is_empty(),
        reasons,
        first_quarter_lag_ms: first,
        last_quarter_lag_ms: last,
    }
}

/// Means of the first and last quarter (at least one round each) of the delivered rounds'
/// lags.
fn quarter_means(lags: &[Option<f64>]) -> (Option<f64>, Option<f64>) {
    let n = lags.len();
    if n == 0 {
        return (None, None);
    }
    let q = (n / 4).max(1);
    let mean = |xs: &[Option<f64>]| {
        let got: Vec<f64> = xs.iter().flatten().copied().collect();
        (!got.is_empty()).then(|| got.iter().sum::<f64>() / got.len() as f64)
    };
    (mean(&lags[..q]), mean(&lags[n - q..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(lags: &[f64]) -> RateFigures {
        RateFigures {
            offered_per_s: 1000.0,
            accepted_per_s: 1000.0,
            lost: 0,
            duplicated: 0,
            timed_out: false,
            round_lag_ms: lags.iter().copied().map(Some).collect(),
        }
    }

    #[test]
    fn a_clean_flat_run_holds() {
        let v = judge(&figures(&[3.0, 4.0, 3.0, 5.0, 4.0, 3.0, 4.0, 5.0]));
        assert!(v.held, "{:?}", v.reasons);
        assert_eq!(v.first_quarter_lag_ms, Some(3.5));
        assert_eq!(v.last_quarter_lag_ms, Some(4.5));
    }

    #[test]
    fn growth_within_twice_plus_slack_holds_and_beyond_it_does_not() {
        // First quarter 10 ms: the bound is 2·10 + 50 = 70 ms.
        assert!(judge(&figures(&[10.0, 10.0, 40.0, 70.0])).held);
        let v = judge(&figures(&[10.0, 10.0, 40.0, 71.0]));
        assert!(!v.held);
        assert!(v.reasons[0].contains("latency grew"), "{:?}", v.reasons);
    }

    #[test]
    fn a_loss_a_duplicate_a_timeout_or_a_short_accept_rate_fails_with_its_reason() {
        let mut f = figures(&[1.0; 8]);
        f.lost = 1;
        assert!(judge(&f).reasons[0].contains("1 lost"));
        let mut f = figures(&[1.0; 8]);
        f.duplicated = 2;
        assert!(!judge(&f).held);
        let mut f = figures(&[1.0; 8]);
        f.timed_out = true;
        assert!(judge(&f).reasons[0].contains("timed out"));
        let mut f = figures(&[1.0; 8]);
        f.accepted_per_s = 949.0;
        assert!(judge(&f).reasons[0].contains("below 95%"));
        f.accepted_per_s = 950.0;
        assert!(judge(&f).held);
        let mut f = figures(&[1.0; 4]);
        f.round_lag_ms[3] = None;
        assert!(!judge(&f).held);
    }
}
