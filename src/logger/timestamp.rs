//! Log-line timestamps: RFC 3339 in UTC with milliseconds (`2026-12-06T15:41:37.123Z`).
//!
//! Owns: `format_utc_millis`, a pure function of the time since the Unix epoch.
//! Must not: read the clock (the caller passes the time in) or know about time zones.

use std::fmt::Write;
use std::time::Duration;

/// `since_epoch` as `YYYY-MM-DDTHH:MM:SS.mmmZ`, in UTC (leap seconds do not exist in Unix time).
pub fn format_utc_millis(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let secs_per_day = 86_400;
    let (year, month, day) = civil_from_days(secs / secs_per_day);
    let of_day = secs % secs_per_day;
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_millis()
    );
    out
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that a leap day ends each 4-year cycle.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(secs: u64, millis: u32, want: &str) {
        let since = Duration::new(secs, millis * 1_000_000);
        assert_eq!(format_utc_millis(since), want, "{secs}.{millis:03}");
    }

    #[test]
    fn formats_known_instants() {
        check(0, 0, "1970-01-01T00:00:00.000Z");
        check(1_796_556_416, 353, "2026-12-06T11:26:56.353Z");
        check(951_782_400, 7, "2000-02-29T00:00:00.007Z");
        check(951_868_799, 999, "2000-02-29T23:59:59.999Z");
        check(1_709_251_199, 0, "2024-02-29T23:59:59.000Z");
        check(4_102_444_800, 0, "2100-01-01T00:00:00.000Z");
        check(4_107_542_400, 0, "2100-03-01T00:00:00.000Z");
        check(253_402_300_799, 123, "9999-12-31T23:59:59.123Z");
    }

    #[test]
    fn every_day_for_three_centuries_follows_the_one_before() {
        let mut previous = civil_from_days(0);
        for days in 1..(300 * 366) {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let next_day = y == py && m == pm && d == pd + 1;
            let next_month = y == py && m == pm + 1 && d == 1 && pd >= 28;
            let next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
            assert!(
                next_day || next_month || next_year,
                "{previous:?} -> {:?}",
                (y, m, d)
            );
            previous = (y, m, d);
        }
    }
}
