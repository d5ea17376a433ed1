//! Exact decimal numbers for measurements.
//!
//! Flows and occupancies are parsed from their decimal text into scaled integers, so that sums are
//! exact and associative: the result does not depend on the number of threads, on how rows are
//! split across files, or on their order. Floats are produced only when metrics are finalised.

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumError {
    Invalid,
    OutOfRange,
}

/// Parses a decimal (`1034.0`, `22.86333`, `-1.5`, `1e3`, `12,5` with a French decimal comma)
/// into an integer scaled by `10^scale_digits`, rounding half away from zero past that precision.
/// Returns `Ok(None)` for an empty field. NaN, infinities and anything else are `Invalid`.
pub fn parse_scaled(s: &str, scale_digits: u32) -> Result<Option<i64>, NumError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b[0] {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut mant: u128 = 0;
    let mut digits = 0u32;
    let mut frac_digits: i32 = 0;
    let mut seen_point = false;
    let mut any_digit = false;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                any_digit = true;
                if digits < 30 {
                    mant = mant * 10 + u128::from(c - b'0');
                    if mant != 0 {
                        digits += 1;
                    }
                    if seen_point {
                        frac_digits += 1;
                    }
                } else if !seen_point {
                    return Err(NumError::OutOfRange);
                }
            }
            b'.' | b',' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return Err(NumError::Invalid),
        }
        i += 1;
    }
    if !any_digit {
        return Err(NumError::Invalid);
    }
    let mut exp: i32 = 0;
    if i < b.len() {
        // exponent
        let rest = &s[i + 1..];
        exp = rest.parse::<i32>().map_err(|_| NumError::Invalid)?;
        if !(-40..=40).contains(&exp) {
            return Err(if exp > 0 {
                NumError::OutOfRange
            } else {
                NumError::Invalid
            });
        }
    }
    // value = mant * 10^(exp - frac_digits); scaled = value * 10^scale
    let shift = exp - frac_digits + scale_digits as i32;
    let scaled: u128 = if shift >= 0 {
        let p = 10u128
            .checked_pow(shift as u32)
            .ok_or(NumError::OutOfRange)?;
        mant.checked_mul(p).ok_or(NumError::OutOfRange)?
    } else {
        let p = 10u128.checked_pow((-shift) as u32);
        match p {
            None => 0,
            Some(p) => {
                let q = mant / p;
                let r = mant % p;
                if r * 2 >= p {
                    q + 1
                } else {
                    q
                }
            }
        }
    };
    if scaled > i64::MAX as u128 {
        return Err(NumError::OutOfRange);
    }
    let v = scaled as i64;
    Ok(Some(if neg { -v } else { v }))
}

/// A JSON number to the same scaled integer (through its shortest decimal form, so `22.86333`
/// stays exactly `22.86333`).
pub fn scaled_from_f64(x: f64, scale_digits: u32) -> Result<i64, NumError> {
    if !x.is_finite() {
        return Err(NumError::Invalid);
    }
    let text = serde_json::Number::from_f64(x)
        .ok_or(NumError::Invalid)?
        .to_string();
    parse_scaled(&text, scale_digits)?.ok_or(NumError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_scaled("1034.0", 3), Ok(Some(1_034_000)));
        assert_eq!(parse_scaled("22.86333", 5), Ok(Some(2_286_333)));
        assert_eq!(parse_scaled(" 5.25 ", 5), Ok(Some(525_000)));
        assert_eq!(parse_scaled("-1.5", 3), Ok(Some(-1_500)));
        assert_eq!(parse_scaled("12,5", 3), Ok(Some(12_500)));
        assert_eq!(parse_scaled("1e3", 3), Ok(Some(1_000_000)));
        assert_eq!(parse_scaled("2.5E-1", 3), Ok(Some(250)));
        assert_eq!(parse_scaled(".5", 1), Ok(Some(5)));
        assert_eq!(parse_scaled("", 3), Ok(None));
        assert_eq!(parse_scaled("  ", 3), Ok(None));
    }

    #[test]
    fn rounds_half_away_past_the_scale() {
        assert_eq!(parse_scaled("0.123456", 5), Ok(Some(12_346)));
        assert_eq!(parse_scaled("0.123454", 5), Ok(Some(12_345)));
        assert_eq!(parse_scaled("-0.123456", 5), Ok(Some(-12_346)));
    }

    #[test]
    fn refuses_garbage() {
        for s in [
            "abc", "NaN", "inf", "-", "1.2.3", "1,2,3", "12a", "1e", "e5", "0x10", "1e999",
        ] {
            assert!(parse_scaled(s, 3).is_err(), "{s}");
        }
        assert_eq!(
            parse_scaled("99999999999999999999999", 3),
            Err(NumError::OutOfRange)
        );
    }

    #[test]
    fn json_numbers_keep_their_decimal_value() {
        assert_eq!(scaled_from_f64(22.86333, 5), Ok(2_286_333));
        assert_eq!(scaled_from_f64(4859.0, 3), Ok(4_859_000));
        assert_eq!(scaled_from_f64(f64::NAN, 3), Err(NumError::Invalid));
    }
}
