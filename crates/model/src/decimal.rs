//! Exact conversion between decimal strings and scaled integers.
//!
//! `parse_units("101.25", 2) == Ok(10125)`. More fractional digits than the scale are an
//! error unless they are zeros; signs, exponents, spaces and empty parts are errors. There
//! is no rounding anywhere.

/// Why a decimal string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("not a decimal number")]
    Syntax,
    #[error("more than {0} decimal places")]
    TooPrecise(u8),
    #[error("number too large")]
    Overflow,
}

/// Parses a non-negative decimal string into an integer count of `10^-scale` units.
pub fn parse_units(s: &str, scale: u8) -> Result<u64, DecimalError> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::Syntax);
    }
    if s.contains('.') && frac.is_empty() {
        return Err(DecimalError::Syntax);
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::Syntax);
    }
    let scale_us = usize::from(scale);
    let (kept, dropped) = frac.split_at(frac.len().min(scale_us));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(DecimalError::TooPrecise(scale));
    }
    let mut value: u64 = 0;
    for b in int.bytes().chain(kept.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(DecimalError::Overflow)?;
    }
    for _ in kept.len()..scale_us {
        value = value.checked_mul(10).ok_or(DecimalError::Overflow)?;
    }
    Ok(value)
}

/// Formats `units * 10^-scale` as a decimal string with exactly `scale` fractional digits
/// (`format_units(10125, 2) == "101.25"`, `format_units(5, 0) == "5"`).
pub fn format_units(units: u64, scale: u8) -> String {
    if scale == 0 {
        return units.to_string();
    }
    let digits = format!("{:0>width$}", units, width = usize::from(scale) + 1);
    let (int, frac) = digits.split_at(digits.len() - usize::from(scale));
    format!("{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_units("101.25", 2), Ok(10125));
        assert_eq!(parse_units("101.2", 2), Ok(10120));
        assert_eq!(parse_units("101", 2), Ok(10100));
        assert_eq!(parse_units("0.00000001", 8), Ok(1));
        assert_eq!(parse_units("1.500", 1), Ok(15));
        assert_eq!(parse_units("1.25", 1), Err(DecimalError::TooPrecise(1)));
        for bad in [
            "", ".5", "5.", "-1", "+1", "1e3", " 1", "1,5", "0x10", "1.2.3", "NaN",
        ] {
            assert_eq!(parse_units(bad, 2), Err(DecimalError::Syntax), "{bad:?}");
        }
        assert_eq!(
            parse_units("18446744073709551616", 0),
            Err(DecimalError::Overflow)
        );
        assert_eq!(
            parse_units("184467440737095516.16", 2),
            Err(DecimalError::Overflow)
        );
    }

    #[test]
    fn formats_with_fixed_scale() {
        assert_eq!(format_units(10125, 2), "101.25");
        assert_eq!(format_units(5, 3), "0.005");
        assert_eq!(format_units(0, 2), "0.00");
        assert_eq!(format_units(7, 0), "7");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(units in any::<u64>(), scale in 0u8..=18) {
            prop_assert_eq!(parse_units(&format_units(units, scale), scale), Ok(units));
        }
    }
}
