//! Money as integer minor units with a validated ISO 4217 currency, and an exact decimal for
//! quantities. No floating point anywhere.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a currency code, an amount or a decimal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Not an active ISO 4217 code with minor units.
    #[error("expected an ISO 4217 currency code such as \"AUD\", found {found:?}")]
    UnknownCurrency {
        /// The text found (at most 16 characters kept).
        found: String,
    },
    /// Not a decimal number.
    #[error("expected a decimal number such as \"1.5\", found {found:?}")]
    InvalidDecimal {
        /// The text found (at most 64 characters kept).
        found: String,
    },
    /// More digits than a [`Decimal`] holds.
    #[error("expected at most {max} significant digits and {max} decimal places, found {found:?}")]
    DecimalOutOfRange {
        /// The limit.
        max: u32,
        /// The text found (at most 64 characters kept).
        found: String,
    },
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Active ISO 4217 codes with their number of minor-unit digits. Codes without minor units
/// (precious metals, XDR, XXX, …) are left out: they cannot be billed in cents.
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SLL", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
    ("ZWL", 2),
];

/// An ISO 4217 currency code with minor units, such as `AUD` or `JPY`. Only active codes are
/// accepted, in upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    /// Checks `code` against the ISO 4217 list.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        ISO_4217
            .binary_search_by(|(c, _)| c.cmp(&code))
            .ok()
            .map(|i| {
                let (c, exponent) = ISO_4217[i];
                let b = c.as_bytes();
                Self {
                    code: [b[0], b[1], b[2]],
                    exponent,
                }
            })
            .ok_or_else(|| MoneyError::UnknownCurrency {
                found: clip(code, 16),
            })
    }

    /// The code, such as `"AUD"`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("codes come from the ASCII table")
    }

    /// How many digits the minor unit has (2 for cents, 0 for `JPY`, 3 for `KWD`).
    pub fn minor_unit_digits(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Self::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&s).map_err(D::Error::custom)
    }
}

/// An amount of money: integer minor units (cents) and a currency. `price_cents: 2000,
/// currency: "AUD"` is `Money::new(2000, aud)`, 20.00 AUD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor_units: i64,
    currency: Currency,
}

impl Money {
    /// `minor_units` of `currency`'s minor unit (cents for `AUD`, yen for `JPY`).
    pub fn new(minor_units: i64, currency: Currency) -> Self {
        Self {
            minor_units,
            currency,
        }
    }

    /// The amount in minor units.
    pub fn minor_units(&self) -> i64 {
        self.minor_units
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in major units as an exact decimal (2000 AUD cents is 20.00).
    pub fn to_decimal(&self) -> Decimal {
        Decimal {
            mantissa: i128::from(self.minor_units),
            scale: self.currency.exponent,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency)
    }
}

/// The most significant digits and decimal places a [`Decimal`] holds.
pub const DECIMAL_MAX_DIGITS: u32 = 28;

/// An exact decimal number, such as the `units` of a bill (`1.5`). It is read from and written
/// to JSON as a number without passing through a float.
///
/// It keeps its scale (`2.50` has two decimal places and prints as `2.50`); equality compares
/// values, so `2.5 == 2.50`.
#[derive(Clone, Copy)]
pub struct Decimal {
    mantissa: i128,
    scale: u8,
}

impl Decimal {
    /// `mantissa × 10^-scale`: `Decimal::new(15, 1)` is 1.5.
    pub fn new(mantissa: i64, scale: u8) -> Result<Self, MoneyError> {
        let d = Self {
            mantissa: i128::from(mantissa),
            scale,
        };
        if u32::from(scale) > DECIMAL_MAX_DIGITS {
            return Err(MoneyError::DecimalOutOfRange {
                max: DECIMAL_MAX_DIGITS,
                found: d.to_string(),
            });
        }
        Ok(d)
    }

    /// An integer.
    pub fn from_integer(value: i64) -> Self {
        Self {
            mantissa: i128::from(value),
            scale: 0,
        }
    }

    /// The digits without the decimal point (15 for 1.5).
    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// The number of decimal places (1 for 1.5).
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// Whether the value is greater than zero.
    pub fn is_positive(&self) -> bool {
        self.mantissa > 0
    }

    /// The value without trailing fractional zeros (`2.50` → `2.5`, `3.0` → `3`).
    pub fn normalized(&self) -> Self {
        let mut d = *self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        a.mantissa == b.mantissa && a.scale == b.scale
    }
}

impl Eq for Decimal {}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

impl FromStr for Decimal {
    type Err = MoneyError;

    /// Reads `-?digits(.digits)?([eE][+-]?digits)?`, as in JSON.
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        let invalid = || MoneyError::InvalidDecimal { found: clip(s, 64) };
        let out_of_range = || MoneyError::DecimalOutOfRange {
            max: DECIMAL_MAX_DIGITS,
            found: clip(s, 64),
        };
        let (negative, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (number, exponent) = match rest.find(['e', 'E']) {
            Some(i) => {
                let e = &rest[i + 1..];
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty()
                    || digits.len() > 4
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(invalid());
                }
                (&rest[..i], e.parse::<i32>().map_err(|_| invalid())?)
            }
            None => (rest, 0),
        };
        let (int, frac) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (number.contains('.') && frac.is_empty())
        {
            return Err(invalid());
        }
        let digits = format!("{int}{frac}");
        let significant = digits.trim_start_matches('0');
        if significant.len() > DECIMAL_MAX_DIGITS as usize {
            return Err(out_of_range());
        }
        let mut scale = frac.len() as i32 - exponent;
        let mut mantissa: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| invalid())?
        };
        while scale < 0 {
            mantissa = mantissa.checked_mul(10).ok_or_else(out_of_range)?;
            scale += 1;
        }
        if scale > DECIMAL_MAX_DIGITS as i32
            || mantissa.unsigned_abs() >= 10u128.pow(DECIMAL_MAX_DIGITS)
        {
            return Err(out_of_range());
        }
        Ok(Self {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: scale as u8,
        })
    }
}

impl Serialize for Decimal {
    /// As a JSON number (exactly these digits) with serde_json; other formats get a string.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.to_string();
        match serde_json::value::RawValue::from_string(text.clone()) {
            Ok(raw) if s.is_human_readable() => raw.serialize(s),
            _ => s.serialize_str(&text),
        }
    }
}

impl<'de> Deserialize<'de> for Decimal {
    /// From a JSON number (read from its text, not through a float) or a string holding one.
    /// Works with serde_json's deserializers, which can hand out a number's text.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        let text = raw.get().trim();
        let text = if text.starts_with('"') {
            serde_json::from_str::<String>(text).map_err(D::Error::custom)?
        } else {
            text.to_owned()
        };
        text.parse().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_table_is_sorted_so_binary_search_works() {
        assert!(ISO_4217.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            ISO_4217
                .iter()
                .all(|(c, _)| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn currencies_are_validated() {
        for code in ["AUD", "USD", "EUR", "GBP", "NZD", "JPY", "KWD"] {
            assert_eq!(Currency::new(code).unwrap().code(), code);
        }
        assert_eq!(Currency::new("JPY").unwrap().minor_unit_digits(), 0);
        assert_eq!(Currency::new("KWD").unwrap().minor_unit_digits(), 3);
        for bad in ["aud", "AU", "AUDD", "XXX", "XAU", "ZZZ", "", "€"] {
            assert!(
                matches!(Currency::new(bad), Err(MoneyError::UnknownCurrency { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn money_displays_in_major_units() {
        let aud = Currency::new("AUD").unwrap();
        assert_eq!(Money::new(2000, aud).to_string(), "20.00 AUD");
        assert_eq!(Money::new(5, aud).to_string(), "0.05 AUD");
        assert_eq!(Money::new(-1999, aud).to_string(), "-19.99 AUD");
        assert_eq!(
            Money::new(500, Currency::new("JPY").unwrap()).to_string(),
            "500 JPY"
        );
    }

    #[test]
    fn decimals_parse_exactly() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(d("1.5"), Decimal::new(15, 1).unwrap());
        assert_eq!(d("1.50").to_string(), "1.50");
        assert_eq!(d("2"), Decimal::from_integer(2));
        assert_eq!(d("0.1").to_string(), "0.1");
        assert_eq!(d("1e2").to_string(), "100");
        assert_eq!(d("15E-1"), d("1.5"));
        assert_eq!(d("-0.05").to_string(), "-0.05");
        assert_eq!(d("0.000").to_string(), "0.000");
        assert!(d("0.5").is_positive() && !d("0").is_positive() && !d("-1").is_positive());
        for bad in [
            "", "-", ".5", "1.", "1..2", "1,5", "0x10", "1e", "1e99999", "NaN", " 1",
        ] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad:?}");
        }
        assert!(matches!(
            "1e40".parse::<Decimal>(),
            Err(MoneyError::DecimalOutOfRange { .. })
        ));
        assert!("1".repeat(29).parse::<Decimal>().is_err());
    }

    #[test]
    fn decimals_round_trip_through_json_as_numbers() {
        #[derive(Serialize, Deserialize)]
        struct W {
            units: Decimal,
        }
        let w: W = serde_json::from_str(r#"{"units": 0.30000000000000004}"#).unwrap();
        assert_eq!(w.units.to_string(), "0.30000000000000004");
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"units":0.30000000000000004}"#
        );
        let w: W = serde_json::from_str(r#"{"units": "2.25"}"#).unwrap();
        assert_eq!(w.units, "2.25".parse().unwrap());
        assert!(serde_json::from_str::<W>(r#"{"units": true}"#).is_err());
    }
}
