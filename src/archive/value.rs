//! Typed metadata values and their canonical strings.
//!
//! The canonical strings are the 5800 server's encoding of each type
//! (HC-API-FACTS §4 "Canonical strings"): what query-with-select returns,
//! what typed literals and string-valued NVR entries decode from.
//!
//! | type      | canonical                              | decoded leniently from             |
//! |-----------|----------------------------------------|------------------------------------|
//! | long      | decimal, `-42`                         | optional sign, digits (`+007`)     |
//! | double    | Java `Double.toString`: `1.45`, `1.0E-5` | any decimal float, `NaN`, `Infinity` |
//! | string    | itself                                 | itself                             |
//! | char      | itself                                 | itself                             |
//! | binary    | lowercase hex, 2 digits a byte         | hex of either case; odd count left-justified (`b0a` = b0 a0) |
//! | date      | `yyyy-MM-dd`                           | `Y-M-D`                            |
//! | time      | `HH:mm:ss`                             | `H:M:S`                            |
//! | timestamp | `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC)       | `Y-M-DTh:m:s.ms`, optional `Z`     |
//! | objectid  | 60 lowercase hex digits                | exactly 60 hex digits of either case |
//!
//! Only `decode(encode(v))` re-encoding to `encode(v)` is guaranteed; a
//! non-canonical input may come back written differently.
//!
//! Dates use the proleptic Gregorian calendar with astronomical years
//! (see [`super::calendar`]); years outside 0..=9999 are written with a
//! sign or more digits (`-0001-01-01`, `12345-01-01`).

use std::fmt;

use super::calendar::{self, Civil};
use super::{FieldDef, FieldType, SqlValue};

/// The length a string, char or binary field has when its definition
/// carries none (the schema file's default).
pub const DEFAULT_LENGTH: u32 = 512;
/// Bytes in an object id.
pub const OID_BYTES: usize = 30;

/// A metadata value of one of the schema's types.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Long(i64),
    Double(f64),
    String(String),
    Char(String),
    Binary(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i64),
    /// Seconds since midnight.
    Time(i64),
    /// Milliseconds since the epoch, UTC.
    Timestamp(i64),
    /// The 30 bytes of an OID.
    ObjectId(Vec<u8>),
}

/// Why a value could not be decoded, or does not fit a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueError {
    /// Text that does not decode as `ty`. For binary and objectid this is
    /// bad hex (the C API reports it differently from other malformed
    /// values).
    Malformed {
        ty: FieldType,
        input: String,
        reason: String,
    },
    /// A value of type `found` for a field of type `expected`.
    WrongType {
        field: String,
        expected: FieldType,
        found: FieldType,
    },
    /// Longer than the field's declared length: `len` is in characters
    /// (UTF-16 units) for string, in bytes for char and binary.
    TooLong {
        field: String,
        ty: FieldType,
        len: usize,
        max: u32,
    },
    /// A character the field's type cannot hold (NUL, outside the BMP for
    /// string, outside Latin-1 for char); `at` counts characters from 0.
    BadCharacter {
        field: String,
        ty: FieldType,
        ch: char,
        at: usize,
    },
    /// A value outside its type's domain (time of day, objectid size).
    OutOfRange {
        field: String,
        ty: FieldType,
        reason: String,
    },
}

impl ValueError {
    fn malformed(ty: FieldType, input: &str, reason: impl Into<String>) -> ValueError {
        ValueError::Malformed {
            ty,
            input: clip(input),
            reason: reason.into(),
        }
    }
}

/// At most 80 characters of an input, for messages.
fn clip(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Malformed { ty, input, reason } => {
                write!(f, "invalid {} value {:?}: {}", ty.name(), input, reason)
            }
            ValueError::WrongType {
                field,
                expected,
                found,
            } => write!(
                f,
                "field {:?}: a {} value cannot be stored in a {} field",
                field,
                found.name(),
                expected.name()
            ),
            ValueError::TooLong { field, ty, len, max } => {
                let unit = if *ty == FieldType::String {
                    "characters"
                } else {
                    "bytes"
                };
                write!(
                    f,
                    "field {field:?}: {} value of {len} {unit} exceeds the field length {max}",
                    ty.name()
                )
            }
            ValueError::BadCharacter { field, ty, ch, at } => {
                let why = if *ch == '\0' {
                    "NUL is not allowed"
                } else if *ty == FieldType::Char {
                    "char values must be Latin-1 (U+0001..U+00FF)"
                } else {
                    "string values must be within the Basic Multilingual Plane"
                };
                write!(
                    f,
                    "field {field:?}: U+{:04X} at character {at}: {why}",
                    u32::from(*ch)
                )
            }
            ValueError::OutOfRange { field, ty, reason } => {
                write!(f, "field {field:?}: {} value {reason}", ty.name())
            }
        }
    }
}

impl std::error::Error for ValueError {}

impl Value {
    /// The value's type.
    pub fn ty(&self) -> FieldType {
        match self {
            Value::Long(_) => FieldType::Long,
            Value::Double(_) => FieldType::Double,
            Value::String(_) => FieldType::String,
            Value::Char(_) => FieldType::Char,
            Value::Binary(_) => FieldType::Binary,
            Value::Date(_) => FieldType::Date,
            Value::Time(_) => FieldType::Time,
            Value::Timestamp(_) => FieldType::Timestamp,
            Value::ObjectId(_) => FieldType::ObjectId,
        }
    }

    /// The value as stored in its `object_fields` column (and as a bound
    /// SQL parameter).
    pub fn to_sql(&self) -> SqlValue {
        use SqlValue as V;
        match self {
            Value::Long(v) | Value::Date(v) | Value::Time(v) | Value::Timestamp(v) => V::Integer(*v),
            Value::Double(v) => V::Real(*v),
            Value::String(s) | Value::Char(s) => V::Text(s.clone()),
            Value::Binary(b) | Value::ObjectId(b) => V::Blob(b.clone()),
        }
    }

    /// The inverse of [`Value::to_sql`]: a column value read back as a
    /// value of type `ty`. An integer is accepted for a double column
    /// (SQLite may hand a REAL back as an integer), and so is an 8-byte
    /// blob: the IEEE bits (little-endian) of a double that SQLite's REAL
    /// cannot hold (NaN, -0.0; the `v_bits` column, see the module docs of
    /// `archive`). Anything else that is not the type's storage class is an
    /// error.
    pub fn from_sql(ty: FieldType, v: SqlValue) -> Result<Value, ValueError> {
        use SqlValue as V;
        let value = match (ty, v) {
            (FieldType::Long, V::Integer(i)) => Value::Long(i),
            (FieldType::Date, V::Integer(i)) => Value::Date(i),
            (FieldType::Time, V::Integer(i)) => Value::Time(i),
            (FieldType::Timestamp, V::Integer(i)) => Value::Timestamp(i),
            (FieldType::Double, V::Real(r)) => Value::Double(r),
            (FieldType::Double, V::Integer(i)) => Value::Double(i as f64),
            (FieldType::Double, V::Blob(b)) if b.len() == 8 => {
                Value::Double(f64::from_le_bytes(b.try_into().unwrap_or_default()))
            }
            (FieldType::String, V::Text(s)) => Value::String(s),
            (FieldType::Char, V::Text(s)) => Value::Char(s),
            (FieldType::Binary, V::Blob(b)) => Value::Binary(b),
            (FieldType::ObjectId, V::Blob(b)) => Value::ObjectId(b),
            (ty, other) => {
                return Err(ValueError::malformed(
                    ty,
                    &format!("{other:?}"),
                    format!(
                        "the catalog holds a {} where a {} belongs",
                        other.type_name(),
                        ty.name()
                    ),
                ));
            }
        };
        Ok(value)
    }

    /// The server's canonical string for the value (see the module docs).
    ///
    /// Total: values outside a type's domain still encode (a time of day
    /// is taken modulo 24 hours, an objectid of the wrong size is written
    /// as the hex of its bytes); [`Value::check`] is what rejects them.
    pub fn canonical(&self) -> String {
        match self {
            Value::Long(v) => v.to_string(),
            Value::Double(v) => java_double(*v),
            Value::String(s) | Value::Char(s) => s.clone(),
            Value::Binary(b) | Value::ObjectId(b) => to_hex(b),
            Value::Date(days) => format_date(*days),
            Value::Time(secs) => format_time(secs.rem_euclid(calendar::SECS_PER_DAY) * 1000),
            Value::Timestamp(ms) => {
                let (days, ms_of_day) = calendar::split_millis(*ms);
                format!(
                    "{}T{}.{:03}Z",
                    format_date(days),
                    format_time(ms_of_day),
                    ms_of_day % 1000
                )
            }
        }
    }

    /// Decodes a value of type `ty` from its string form, leniently (see
    /// the module docs). This is also how the caller turns a STRING value
    /// given for a field of another type (which the NVR accepts for any
    /// field) into that field's type before [`Value::check`].
    pub fn decode(ty: FieldType, s: &str) -> Result<Value, ValueError> {
        match ty {
            FieldType::Long => s.parse::<i64>().map(Value::Long).map_err(|_| {
                let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
                let reason = if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
                    "out of the range of a 64-bit integer"
                } else {
                    "expected decimal digits with an optional sign"
                };
                ValueError::malformed(ty, s, reason)
            }),
            FieldType::Double => parse_double(s).map(Value::Double),
            FieldType::String => Ok(Value::String(s.to_string())),
            FieldType::Char => Ok(Value::Char(s.to_string())),
            FieldType::Binary => from_hex(ty, s).map(Value::Binary),
            FieldType::ObjectId => {
                if s.len() != OID_BYTES * 2 {
                    return Err(ValueError::malformed(
                        ty,
                        s,
                        format!(
                            "an object id is {} hex digits, not {}",
                            OID_BYTES * 2,
                            s.chars().count()
                        ),
                    ));
                }
                from_hex(ty, s).map(Value::ObjectId)
            }
            FieldType::Date => parse_date(ty, s).map(Value::Date),
            FieldType::Time => parse_time(ty, s, false).map(|ms| Value::Time(ms / 1000)),
            FieldType::Timestamp => parse_timestamp(s).map(Value::Timestamp),
        }
    }

    /// Whether the value may be stored in the field `def`:
    /// - its type must be the field's type. The NVR also accepts a STRING
    ///   value for a field of any type; that conversion is the caller's,
    ///   through [`Value::decode`] with the field's type, before this check;
    /// - string: within the Basic Multilingual Plane (Rust strings are UTF-8
    ///   and hold no surrogates), no NUL, at most `length` characters
    ///   counted as UTF-16 units (Java chars);
    /// - char: Latin-1 (every character U+0001..U+00FF), at most `length`
    ///   characters, i.e. Latin-1 bytes;
    /// - binary: at most `length` bytes; objectid: exactly 30 bytes;
    /// - time: 0..86399 seconds since midnight.
    ///
    /// A string, char or binary definition without a length uses the
    /// schema default, 512. Whether the field's namespace is writable is
    /// not checked here: system fields are written by the engine itself,
    /// so that rule is the caller's (`def.writable`).
    pub fn check(&self, def: &FieldDef) -> Result<(), ValueError> {
        let field = || def.name.clone();
        if self.ty() != def.ty {
            return Err(ValueError::WrongType {
                field: field(),
                expected: def.ty,
                found: self.ty(),
            });
        }
        let max = def.length.unwrap_or(DEFAULT_LENGTH);
        let too_long = |len: usize| {
            if len > max as usize {
                Err(ValueError::TooLong {
                    field: field(),
                    ty: def.ty,
                    len,
                    max,
                })
            } else {
                Ok(())
            }
        };
        match self {
            Value::String(s) => {
                if let Some((at, ch)) = s
                    .chars()
                    .enumerate()
                    .find(|&(_, c)| c == '\0' || u32::from(c) > 0xFFFF)
                {
                    return Err(ValueError::BadCharacter {
                        field: field(),
                        ty: def.ty,
                        ch,
                        at,
                    });
                }
                too_long(s.encode_utf16().count())
            }
            Value::Char(s) => {
                if let Some((at, ch)) = s
                    .chars()
                    .enumerate()
                    .find(|&(_, c)| c == '\0' || u32::from(c) > 0xFF)
                {
                    return Err(ValueError::BadCharacter {
                        field: field(),
                        ty: def.ty,
                        ch,
                        at,
                    });
                }
                too_long(s.chars().count())
            }
            Value::Binary(b) => too_long(b.len()),
            Value::ObjectId(b) if b.len() != OID_BYTES => Err(ValueError::OutOfRange {
                field: field(),
                ty: def.ty,
                reason: format!("has {} bytes; an object id has {OID_BYTES}", b.len()),
            }),
            Value::Time(secs) if !(0..calendar::SECS_PER_DAY).contains(secs) => Err(ValueError::OutOfRange {
                field: field(),
                ty: def.ty,
                reason: format!("{secs} is not a time of day (0..86399 seconds since midnight)"),
            }),
            _ => Ok(()),
        }
    }
}

/// Lowercase hex, two digits a byte.
pub fn to_hex(bytes: &[u8]) -> String {
    crate::hex::encode(bytes)
}

/// Hex of either case; an odd digit count is left-justified (the last
/// digit is the high nibble of the last byte: `b0a` = b0 a0).
fn from_hex(ty: FieldType, s: &str) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::with_capacity(s.len().div_ceil(2));
    for (i, c) in s.chars().enumerate() {
        let Some(nibble) = c.to_digit(16) else {
            return Err(ValueError::malformed(
                ty,
                s,
                format!("{c:?} at position {i} is not a hex digit"),
            ));
        };
        let nibble = nibble as u8;
        if i % 2 == 0 {
            out.push(nibble << 4);
        } else if let Some(last) = out.last_mut() {
            *last |= nibble;
        }
    }
    Ok(out)
}

fn format_date(days: i64) -> String {
    let Civil { year, month, day } = calendar::civil_from_days(days);
    format!("{}-{month:02}-{day:02}", calendar::format_year(year))
}

/// `HH:mm:ss` of a millisecond of the day (0..86_399_999).
fn format_time(ms_of_day: i64) -> String {
    let secs = ms_of_day / 1000;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Unsigned decimal digits (at least one) as an integer, or why not.
fn number(part: &str) -> Result<i64, &'static str> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected decimal digits");
    }
    part.parse().map_err(|_| "a number is too large")
}

/// `Y-M-D`: an optional sign, then year, month and day as decimal numbers
/// of any width.
fn parse_date(ty: FieldType, s: &str) -> Result<i64, ValueError> {
    let bad = |reason: String| ValueError::malformed(ty, s, reason);
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let parts: Vec<&str> = rest.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad("expected year-month-day".into()));
    };
    let (year, month, day) = match (number(y), number(m), number(d)) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => {
            return Err(bad(format!("year-month-day: {why}")));
        }
    };
    let year = if negative { -year } else { year };
    if !(1..=12).contains(&month) {
        return Err(bad(format!("month {month} is not in 1..12")));
    }
    let month = month as u32;
    let last = i64::from(calendar::days_in_month(year, month));
    if !(1..=last).contains(&day) {
        return Err(bad(format!("day {day} is not in 1..{last} for that month")));
    }
    calendar::days_from_civil(year, month, day as u32)
        .ok_or_else(|| bad("the date is outside the representable range".into()))
}

/// `H:M:S`, or `H:M:S.ms` when `with_ms` (1 to 3 digits, a count of
/// milliseconds as the C client's and Java's `SSS` parsers read it), as
/// milliseconds since midnight.
fn parse_time(ty: FieldType, s: &str, with_ms: bool) -> Result<i64, ValueError> {
    let bad = |reason: String| ValueError::malformed(ty, s, reason);
    let (hms, ms) = if with_ms {
        let Some((hms, ms)) = s.split_once('.') else {
            return Err(bad("expected hours:minutes:seconds.milliseconds".into()));
        };
        match number(ms) {
            Ok(v) if ms.len() <= 3 => (hms, v),
            _ => return Err(bad(format!("milliseconds {ms:?} are not 1 to 3 decimal digits"))),
        }
    } else {
        (s, 0)
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let [h, m, sec] = parts[..] else {
        return Err(bad("expected hours:minutes:seconds".into()));
    };
    let (h, m, sec) = match (number(h), number(m), number(sec)) {
        (Ok(h), Ok(m), Ok(s)) => (h, m, s),
        (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => {
            return Err(bad(format!("hours:minutes:seconds: {why}")));
        }
    };
    if h > 23 {
        return Err(bad(format!("hour {h} is not in 0..23")));
    }
    if m > 59 {
        return Err(bad(format!("minute {m} is not in 0..59")));
    }
    if sec > 59 {
        return Err(bad(format!("second {sec} is not in 0..59")));
    }
    Ok(((h * 60 + m) * 60 + sec) * 1000 + ms)
}

/// `Y-M-DTh:m:s.ms` with an optional trailing `Z`, read as UTC (a space
/// instead of the `T`, as in JDBC timestamps, is accepted too).
fn parse_timestamp(s: &str) -> Result<i64, ValueError> {
    let ty = FieldType::Timestamp;
    let bad = |reason: String| ValueError::malformed(ty, s, reason);
    let body = s.strip_suffix('Z').unwrap_or(s);
    let Some((date, time)) = body.split_once(['T', ' ']) else {
        return Err(bad(
            "expected year-month-dayThours:minutes:seconds.milliseconds".into()
        ));
    };
    let reword = |e: ValueError| match e {
        ValueError::Malformed { reason, .. } => bad(reason),
        other => other,
    };
    let days = parse_date(ty, date).map_err(reword)?;
    let ms = parse_time(ty, time, true).map_err(reword)?;
    calendar::join_millis(days, ms)
        .ok_or_else(|| bad("the timestamp is outside the representable range".into()))
}

/// A double as Java's `Double.toString` writes it (JDK 19 and later, the
/// specified shortest form): the shortest decimal that reads back as the
/// same double (with 2 significant digits considered when 1 would do, the
/// closer one winning, so `4.9E-324`), in plain notation with at least one
/// fractional digit for 1e-3 <= |x| < 1e7, otherwise as `d.ddddE[-]n`.
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    let (mut digits, mut exp) = sci_parts(&format!("{:e}", x.abs()));
    if digits.len() == 1 {
        // Java also looks at 2-digit decimals when one digit suffices and
        // takes the one closest to x. That can only differ for subnormals
        // with few significant bits, whose rounding interval is symmetric,
        // so the nearest 2-digit decimal (Rust rounds to nearest) is in it
        // whenever it is closer than the 1-digit one.
        let (d2, e2) = sci_parts(&format!("{:.1e}", x.abs()));
        let two: f64 = format!("{}.{}e{}", &d2[..1], &d2[1..], e2)
            .parse()
            .unwrap_or(f64::NAN);
        if two == x.abs() && d2.as_bytes().get(1) != Some(&b'0') {
            (digits, exp) = (d2, e2);
        }
    }
    let mut out = String::from(sign);
    if (-3..7).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        out.push('E');
        out.push_str(&exp.to_string());
    }
    out
}

/// Splits Rust's `{:e}` output ("1.45e-3") into significant digits ("145")
/// and the decimal exponent of the first one (-3).
fn sci_parts(s: &str) -> (String, i32) {
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// A double leniently: surrounding whitespace and a Java `d`/`f` suffix
/// are ignored; `NaN`, `Infinity` (also `inf`, any case, signed) accepted.
fn parse_double(s: &str) -> Result<f64, ValueError> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    let numeric = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    let t = if numeric {
        t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t)
    } else {
        t
    };
    // Rust also reads "inf", "infinity" and "nan" in any case.
    t.parse::<f64>().map_err(|_| {
        ValueError::malformed(FieldType::Double, s, "expected a decimal number, NaN or Infinity")
    })
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
