//! FIX UTCTimestamp (`YYYYMMDD-HH:MM:SS[.sss]`) to and from milliseconds since the epoch.
//! Written out (civil-from-days, H. Hinnant) rather than pulling a calendar crate for two
//! functions.

/// Milliseconds since the epoch as `YYYYMMDD-HH:MM:SS.sss`.
pub fn format(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Parses `YYYYMMDD-HH:MM:SS` with optional `.sss` (the FIX 4.4 forms); `None` if malformed.
pub fn parse(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if !(b.len() == 17 || b.len() == 21) || b[8] != b'-' || b[11] != b':' || b[14] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(12..14)?, num(15..17)?);
    let millis = if b.len() == 21 {
        if b[17] != b'.' {
            return None;
        }
        num(18..21)?
    } else {
        0
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    if days < 0 {
        return None;
    }
    Some(((days as u64 * 86_400) + h * 3600 + mi * 60 + se) * 1000 + millis)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            era * 400 + yoe + 1
        } else {
            era * 400 + yoe
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed() {
        for ms in [0, 951_782_400_123, 1_796_215_355_999, 4_102_444_800_000] {
            assert_eq!(parse(&format(ms)), Some(ms), "{}", format(ms));
        }
        assert_eq!(format(951_782_400_123), "20000229-00:00:00.123");
        assert_eq!(parse("20010101-00:00:00"), Some(978_307_200_000));
        for bad in [
            "",
            "20010101 00:00:00",
            "20011301-00:00:00",
            "2001010-00:00:00.1",
            "20010101-00:00:00,123",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
