//! Exact unit conversions for the weather stations.
//!
//! Values arrive as decimal text (`"56.2"`, `"29.75"`). They are parsed exactly into an integer
//! mantissa and a number of decimals ([`Dec`]), converted with integer arithmetic on exact
//! factors, and rounded **once**, to 0.01 of the target unit, half away from zero. A value that
//! needs no conversion is kept as written (no rounding). The JSON number is then the `f64`
//! nearest to that decimal (`mantissa / 10^decimals`, both exact in `f64`, one correctly
//! rounded division), which serialises back to the same short decimal text.
//!
//! Factors (exact by definition):
//! - °F → °C: `(F − 32) × 5 / 9`;
//! - mph → km/h: `× 1.609344` (international mile, 1609.344 m);
//! - inHg → hPa: `× 33.86388640341` (conventional inch of mercury: 25.4 × the conventional mmHg
//!   of 133.322387415 Pa);
//! - in → mm: `× 25.4`; m/s → km/h: `× 3.6`.

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitError {
    /// Not a plain decimal (`12`, `-3.5`, `+0.25`).
    NotANumber,
    /// More than 15 significant digits or 15 decimals: not representable exactly.
    TooPrecise,
    /// A unit this measurement cannot be in.
    UnexpectedUnit(String),
    /// A number without the unit this measurement needs (°F or °C?).
    MissingUnit,
    /// Not a compass point nor degrees.
    NotADirection,
}

impl std::fmt::Display for UnitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnitError::NotANumber => f.write_str("not a decimal number"),
            UnitError::TooPrecise => f.write_str("more than 15 digits"),
            UnitError::UnexpectedUnit(u) => write!(f, "unexpected unit {u:?}"),
            UnitError::MissingUnit => f.write_str("number without its unit"),
            UnitError::NotADirection => f.write_str("not a compass direction"),
        }
    }
}

/// An exact decimal: `mant / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec {
    pub mant: i64,
    pub scale: u32,
}

const MAX_MANT: u64 = 1 << 53;

impl Dec {
    /// Parses `[+-]digits[.digits]` (surrounding spaces allowed), exactly.
    pub fn parse(s: &str) -> Result<Dec, UnitError> {
        let s = s.trim();
        let (neg, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(UnitError::NotANumber);
        }
        if frac.len() > 15 {
            return Err(UnitError::TooPrecise);
        }
        let mut mant: u64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mant = mant
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(b - b'0')))
                .filter(|m| *m < MAX_MANT)
                .ok_or(UnitError::TooPrecise)?;
        }
        let mant = mant as i64;
        Ok(Dec {
            mant: if neg { -mant } else { mant },
            scale: frac.len() as u32,
        })
    }

    /// The `f64` nearest to the decimal (both operands exact, one rounding).
    pub fn to_f64(self) -> f64 {
        let v = self.mant as f64 / 10f64.powi(self.scale as i32);
        if v == 0.0 {
            0.0
        } else {
            v
        }
    }

    /// The integer value when there are no decimals (or only zeros), e.g. a weather code.
    pub fn to_integer(self) -> Option<i64> {
        let p = 10i64.checked_pow(self.scale)?;
        (self.mant % p == 0).then_some(self.mant / p)
    }
}

/// `num / den` rounded half away from zero (`den > 0`).
fn round_div(num: i128, den: i128) -> i128 {
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// `value × factor_num / factor_den`, rounded to hundredths: the result as a [`Dec`]
/// with two decimals.
fn hundredths(d: Dec, factor_num: i128, factor_den: i128) -> Dec {
    let num = i128::from(d.mant) * factor_num * 100;
    let den = pow10(d.scale) * factor_den;
    Dec {
        mant: round_div(num, den) as i64,
        scale: 2,
    }
}

pub fn fahrenheit_to_celsius(d: Dec) -> Dec {
    // (m/10^s − 32) × 5/9 = (m − 32·10^s) × 5 / (9·10^s)
    let shifted = Dec {
        mant: d.mant - 32 * 10i64.pow(d.scale),
        scale: d.scale,
    };
    hundredths(shifted, 5, 9)
}

pub fn mph_to_kmh(d: Dec) -> Dec {
    hundredths(d, 1_609_344, 1_000_000)
}

pub fn ms_to_kmh(d: Dec) -> Dec {
    hundredths(d, 36, 10)
}

pub fn inhg_to_hpa(d: Dec) -> Dec {
    hundredths(d, 3_386_388_640_341, 100_000_000_000)
}

pub fn inches_to_mm(d: Dec) -> Dec {
    hundredths(d, 254, 10)
}

/// What a measurement is, for reading a value with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// → °C
    Temperature,
    /// → km/h
    Speed,
    /// → hPa
    Pressure,
    /// Rain depth or rate → mm (or mm/h: `in` in a rate column is in/h).
    Rain,
    /// % (the unit may be missing).
    Percent,
    /// W/m² (the unit may be missing).
    Irradiance,
    /// A plain number (UV index).
    Plain,
}

/// Reads `"56.2 °F"` (number, a space or no-break space, unit) into the target unit.
pub fn read_with_unit(s: &str, q: Quantity) -> Result<Dec, UnitError> {
    let s = s.trim_matches(|c: char| c.is_whitespace());
    let split = s.find(|c: char| c.is_whitespace() || c == '°' || c == '%');
    let (num, unit) = match split {
        Some(i) => (&s[..i], s[i..].trim_matches(|c: char| c.is_whitespace())),
        None => (s, ""),
    };
    let d = Dec::parse(num)?;
    let unit_lc = unit.to_lowercase();
    let unexpected = || Err(UnitError::UnexpectedUnit(unit.to_string()));
    match q {
        Quantity::Temperature => match unit_lc.as_str() {
            "°f" | "f" => Ok(fahrenheit_to_celsius(d)),
            "°c" | "c" => Ok(d),
            "" => Err(UnitError::MissingUnit),
            _ => unexpected(),
        },
        Quantity::Speed => match unit_lc.as_str() {
            "mph" => Ok(mph_to_kmh(d)),
            "km/h" | "kmh" | "kph" => Ok(d),
            "m/s" => Ok(ms_to_kmh(d)),
            "" => Err(UnitError::MissingUnit),
            _ => unexpected(),
        },
        Quantity::Pressure => match unit_lc.as_str() {
            "in" | "inhg" => Ok(inhg_to_hpa(d)),
            "hpa" | "mb" | "mbar" => Ok(d),
            "" => Err(UnitError::MissingUnit),
            _ => unexpected(),
        },
        Quantity::Rain => match unit_lc.as_str() {
            "in" | "in/h" | "in/hr" => Ok(inches_to_mm(d)),
            "mm" | "mm/h" | "mm/hr" => Ok(d),
            "" => Err(UnitError::MissingUnit),
            _ => unexpected(),
        },
        Quantity::Percent => match unit_lc.as_str() {
            "%" | "" => Ok(d),
            _ => unexpected(),
        },
        Quantity::Irradiance => match unit_lc.as_str() {
            "w/m²" | "w/m2" | "" => Ok(d),
            _ => unexpected(),
        },
        Quantity::Plain => match unit_lc.as_str() {
            "" => Ok(d),
            _ => unexpected(),
        },
    }
}

/// The 16 compass points, clockwise from north, as Weather Underground writes them.
const POINTS: [&str; 16] = [
    "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW",
    "NNW",
];

/// A wind direction in degrees (0 = from the north, 90 = east) from a compass point (`NNW`,
/// `North`, `West`...) or a number of degrees.
pub fn direction_degrees(s: &str) -> Result<Dec, UnitError> {
    let t = s.trim();
    let up = t.to_uppercase();
    let abbr = match up.as_str() {
        "NORTH" => "N",
        "EAST" => "E",
        "SOUTH" => "S",
        "WEST" => "W",
        other => other,
    };
    if let Some(i) = POINTS.iter().position(|p| *p == abbr) {
        // i × 22.5°, exactly: i × 225 / 10
        return Ok(Dec {
            mant: i as i64 * 225,
            scale: 1,
        });
    }
    match Dec::parse(t.trim_end_matches('°')) {
        Ok(d) if d.mant >= 0 && d.to_f64() <= 360.0 => Ok(d),
        _ => Err(UnitError::NotADirection),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn parses_exactly() {
        assert_eq!(
            d("56.2"),
            Dec {
                mant: 562,
                scale: 1
            }
        );
        assert_eq!(
            d("-0.25"),
            Dec {
                mant: -25,
                scale: 2
            }
        );
        assert_eq!(d("+3"), Dec { mant: 3, scale: 0 });
        assert_eq!(d(".5"), Dec { mant: 5, scale: 1 });
        assert_eq!(d("7."), Dec { mant: 7, scale: 0 });
        for bad in ["", ".", "-", "1e3", "1,5", "abc", "1.2.3", "NaN", " - 1"] {
            assert_eq!(Dec::parse(bad), Err(UnitError::NotANumber), "{bad:?}");
        }
        assert_eq!(
            Dec::parse("12345678901234567890"),
            Err(UnitError::TooPrecise)
        );
        assert_eq!(d("1020.7").to_f64().to_string(), "1020.7");
        assert_eq!(d("-0.0").to_f64().to_string(), "0");
        assert_eq!(d("3.00").to_integer(), Some(3));
        assert_eq!(d("3.5").to_integer(), None);
    }

    #[test]
    fn conversions_match_hand_calculations() {
        // (56.2 − 32) × 5/9 = 24.2 × 5/9 = 121/9 = 13.444… → 13.44
        assert_eq!(fahrenheit_to_celsius(d("56.2")).to_f64(), 13.44);
        // (32 − 32) = 0; (−40 − 32) × 5/9 = −40
        assert_eq!(fahrenheit_to_celsius(d("32")).to_f64(), 0.0);
        assert_eq!(fahrenheit_to_celsius(d("-40")).to_f64(), -40.0);
        // (31.1 − 32) × 5/9 = −0.9 × 5/9 = −0.5 exactly
        assert_eq!(fahrenheit_to_celsius(d("31.1")).to_f64(), -0.5);
        // (32.009 − 32) × 5/9 = 0.005 exactly → half away from zero: 0.01; negative: −0.01
        assert_eq!(fahrenheit_to_celsius(d("32.009")).to_f64(), 0.01);
        assert_eq!(fahrenheit_to_celsius(d("31.991")).to_f64(), -0.01);
        // 4.4 × 1.609344 = 7.0811136 → 7.08; 10.9 × 1.609344 = 17.5418496 → 17.54
        assert_eq!(mph_to_kmh(d("4.4")).to_f64(), 7.08);
        assert_eq!(mph_to_kmh(d("10.9")).to_f64(), 17.54);
        // 29.75 × 33.86388640341 = 1007.4506205014… → 1007.45
        assert_eq!(inhg_to_hpa(d("29.75")).to_f64(), 1007.45);
        // 30.18 × 33.86388640341 = 1022.0120916549… → 1022.01
        assert_eq!(inhg_to_hpa(d("30.18")).to_f64(), 1022.01);
        // 0.19 × 25.4 = 4.826 → 4.83; 0.01 × 25.4 = 0.254 → 0.25
        assert_eq!(inches_to_mm(d("0.19")).to_f64(), 4.83);
        assert_eq!(inches_to_mm(d("0.01")).to_f64(), 0.25);
        // 5 m/s × 3.6 = 18
        assert_eq!(ms_to_kmh(d("5")).to_f64(), 18.0);
    }

    #[test]
    fn values_with_units() {
        let nb = '\u{a0}';
        let r = |s: &str, q| read_with_unit(s, q);
        assert_eq!(
            r(&format!("56.2{nb}°F"), Quantity::Temperature)
                .unwrap()
                .to_f64(),
            13.44
        );
        assert_eq!(
            r("13.4 °C", Quantity::Temperature).unwrap(),
            d("13.4"),
            "metric kept as written"
        );
        assert_eq!(r(&format!("84{nb}%"), Quantity::Percent).unwrap(), d("84"));
        assert_eq!(r("84", Quantity::Percent).unwrap(), d("84"));
        assert_eq!(
            r(&format!("29.75{nb}in"), Quantity::Pressure)
                .unwrap()
                .to_f64(),
            1007.45
        );
        assert_eq!(
            r(&format!("257.7{nb}w/m²"), Quantity::Irradiance).unwrap(),
            d("257.7")
        );
        assert_eq!(
            r("56.2", Quantity::Temperature),
            Err(UnitError::MissingUnit)
        );
        assert_eq!(
            r("56.2 K", Quantity::Temperature),
            Err(UnitError::UnexpectedUnit("K".into()))
        );
        assert_eq!(
            r("-- °F", Quantity::Temperature),
            Err(UnitError::NotANumber)
        );
        assert!(r("2 mph", Quantity::Plain).is_err());
    }

    #[test]
    fn compass_points() {
        assert_eq!(direction_degrees("North").unwrap().to_f64(), 0.0);
        assert_eq!(direction_degrees("NNE").unwrap().to_f64(), 22.5);
        assert_eq!(direction_degrees("East").unwrap().to_f64(), 90.0);
        assert_eq!(direction_degrees("WSW").unwrap().to_f64(), 247.5);
        assert_eq!(direction_degrees("NNW").unwrap().to_f64(), 337.5);
        assert_eq!(direction_degrees("nw").unwrap().to_f64(), 315.0);
        assert_eq!(direction_degrees("134").unwrap().to_f64(), 134.0);
        assert_eq!(direction_degrees("Calm"), Err(UnitError::NotADirection));
        assert_eq!(direction_degrees("400"), Err(UnitError::NotADirection));
    }
}
