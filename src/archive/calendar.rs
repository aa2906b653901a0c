//! Calendar arithmetic for metadata values: days since 1970-01-01 <->
//! year/month/day in the proleptic Gregorian calendar, with astronomical
//! year numbering (year 0 is 1 BC, year -1 is 2 BC).
//!
//! Every function is total over its inputs: the whole `i64` range of days
//! converts to a date and back (intermediate arithmetic is done in `i128`),
//! and conversions that would not fit report `None` instead of wrapping.

/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_SHIFT: i128 = 719_468;
/// Days in a 400-year Gregorian cycle.
const DAYS_PER_ERA: i128 = 146_097;

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;
/// Seconds in a day.
pub const SECS_PER_DAY: i64 = 86_400;

/// A date in the proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Astronomical year: 0 is 1 BC.
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// Days in `month` (1..=12) of `year`; 0 for an invalid month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a calendar date. `None` when month or day is
/// not valid for that year, or the result does not fit an `i64`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // Shift the year to start on March 1st, so the leap day ends it.
    let y = i128::from(year) - i128::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i128::from(month);
    let mp = if month > 2 { m - 3 } else { m + 9 }; // [0, 11], March = 0
    let doy = (153 * mp + 2) / 5 + i128::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    i64::try_from(era * DAYS_PER_ERA + doe - EPOCH_SHIFT).ok()
}

/// The calendar date `days` days after 1970-01-01 (before it when negative).
pub fn civil_from_days(days: i64) -> Civil {
    let z = i128::from(days) + EPOCH_SHIFT;
    let era = z.div_euclid(DAYS_PER_ERA);
    let doe = z.rem_euclid(DAYS_PER_ERA); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i128::from(month <= 2);
    // |days| <= 2^63 gives |year| < 2^55: always fits.
    Civil {
        year: year as i64,
        month,
        day,
    }
}

/// Milliseconds since the epoch -> (days since the epoch, milliseconds
/// into that day, 0..86_399_999).
pub fn split_millis(ms: i64) -> (i64, i64) {
    (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY))
}

/// (days since the epoch, milliseconds into the day) -> milliseconds since
/// the epoch; `None` when it does not fit an `i64`.
pub fn join_millis(days: i64, ms_of_day: i64) -> Option<i64> {
    i64::try_from(i128::from(days) * i128::from(MS_PER_DAY) + i128::from(ms_of_day)).ok()
}

/// A year as the canonical strings write it: four digits at least, a
/// leading '-' before year 0 (`-0001` is 2 BC), more digits after 9999.
pub fn format_year(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", year.unsigned_abs())
    } else {
        format!("{year:04}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i64, month: u32, day: u32) -> Civil {
        Civil { year, month, day }
    }

    #[test]
    fn epoch_and_neighbours() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(civil_from_days(0), civil(1970, 1, 1));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        assert_eq!(civil_from_days(-1), civil(1969, 12, 31));
        assert_eq!(days_from_civil(1970, 1, 2), Some(1));
        assert_eq!(days_from_civil(1971, 1, 1), Some(365));
    }

    #[test]
    fn known_dates() {
        // 2000 is a leap year (divisible by 400).
        assert_eq!(days_from_civil(2000, 2, 29), Some(11_016));
        assert_eq!(civil_from_days(11_016), civil(2000, 2, 29));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(9999, 12, 31), Some(2_932_896));
        assert_eq!(civil_from_days(2_932_896), civil(9999, 12, 31));
        assert_eq!(days_from_civil(10000, 1, 1), Some(2_932_897));
        assert_eq!(days_from_civil(2038, 1, 19), Some(24_855));
        assert_eq!(days_from_civil(1600, 1, 1), Some(-135_140));
        // 0001-01-01 (proleptic Gregorian) and year 0 (1 BC, a leap year).
        assert_eq!(days_from_civil(1, 1, 1), Some(-719_162));
        assert_eq!(days_from_civil(0, 12, 31), Some(-719_163));
        assert_eq!(days_from_civil(0, 2, 29), Some(-719_469));
        assert_eq!(days_from_civil(0, 3, 1), Some(-719_468));
        assert_eq!(civil_from_days(-719_468), civil(0, 3, 1));
        assert_eq!(days_from_civil(-1, 12, 31), Some(-719_529));
        assert_eq!(civil_from_days(-719_529), civil(-1, 12, 31));
    }

    #[test]
    fn invalid_dates_are_refused() {
        assert_eq!(days_from_civil(1900, 2, 29), None); // 1900 is not a leap year
        assert_eq!(days_from_civil(2001, 2, 29), None);
        assert_eq!(days_from_civil(2001, 13, 1), None);
        assert_eq!(days_from_civil(2001, 0, 1), None);
        assert_eq!(days_from_civil(2001, 4, 31), None);
        assert_eq!(days_from_civil(2001, 4, 0), None);
        assert_eq!(days_from_civil(i64::MAX, 12, 31), None);
        assert_eq!(days_from_civil(i64::MIN, 1, 1), None);
    }

    #[test]
    fn leap_years() {
        assert!(is_leap(2000) && is_leap(2004) && is_leap(0) && is_leap(-4) && is_leap(-400));
        assert!(!is_leap(1900) && !is_leap(2001) && !is_leap(-1) && !is_leap(-100));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
        assert_eq!(days_in_month(2023, 13), 0);
    }

    #[test]
    fn whole_range_round_trips() {
        for days in [
            i64::MIN,
            i64::MIN + 1,
            -1_000_000_000_000,
            -719_529,
            0,
            1 << 40,
            i64::MAX - 1,
            i64::MAX,
        ] {
            let c = civil_from_days(days);
            assert_eq!(
                days_from_civil(c.year, c.month, c.day),
                Some(days),
                "{days} -> {c:?}"
            );
        }
        // Every day of a few 400-year cycles around the epoch and year 0.
        for start in [-800_000i64, -150_000, 10_000] {
            let mut prev = civil_from_days(start - 1);
            for days in start..start + 150_000 {
                let c = civil_from_days(days);
                assert_eq!(days_from_civil(c.year, c.month, c.day), Some(days));
                // Consecutive days are consecutive dates.
                if c.day == 1 {
                    assert_eq!(prev.day, days_in_month(prev.year, prev.month));
                } else {
                    assert_eq!((prev.year, prev.month, prev.day + 1), (c.year, c.month, c.day));
                }
                prev = c;
            }
        }
    }

    #[test]
    fn millis_split_and_join() {
        assert_eq!(split_millis(0), (0, 0));
        assert_eq!(split_millis(-1), (-1, MS_PER_DAY - 1));
        assert_eq!(split_millis(MS_PER_DAY), (1, 0));
        for ms in [i64::MIN, -1, 0, 1, 1_161_864_000_000, i64::MAX] {
            let (d, r) = split_millis(ms);
            assert_eq!(join_millis(d, r), Some(ms));
        }
        assert_eq!(join_millis(i64::MAX / MS_PER_DAY + 1, 0), None);
    }

    #[test]
    fn years_format() {
        assert_eq!(format_year(1970), "1970");
        assert_eq!(format_year(7), "0007");
        assert_eq!(format_year(0), "0000");
        assert_eq!(format_year(-1), "-0001");
        assert_eq!(format_year(12345), "12345");
        assert_eq!(format_year(i64::MIN), "-9223372036854775808");
    }
}
