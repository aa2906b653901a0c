//! Tests of `value`: canonical strings, lenient decoding, field checks.

use super::*;

/// A small deterministic generator (xorshift64*), enough for
/// property-style tests without extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn string(&mut self, max: u64) -> String {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| match self.below(4) {
                0 => char::from(b' ' + self.below(95) as u8),
                1 => char::from_u32(self.below(0x100) as u32).unwrap_or('x'),
                2 => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{FFFD}'),
                _ => ['-', ':', 'T', 'Z', '.', '0', '9', 'e', 'E', '+', 'a', 'f'][self.below(12) as usize],
            })
            .collect()
    }
}

fn def(name: &str, ty: FieldType, length: Option<u32>) -> FieldDef {
    FieldDef {
        name: name.into(),
        ty,
        length,
        queryable: true,
        writable: true,
    }
}

fn dec(ty: FieldType, s: &str) -> Value {
    match Value::decode(ty, s) {
        Ok(v) => v,
        Err(e) => panic!("decode {} {s:?}: {e}", ty.name()),
    }
}

fn enc_dec_enc(v: &Value) {
    let once = v.canonical();
    let back = Value::decode(v.ty(), &once).unwrap_or_else(|e| panic!("{v:?} -> {once:?}: {e}"));
    assert_eq!(back.canonical(), once, "{v:?}");
}

// ---- doubles: Java Double.toString ----

#[test]
fn java_double_known_outputs() {
    let cases: &[(f64, &str)] = &[
        (1.45, "1.45"),
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (100.0, "100.0"),
        (0.1, "0.1"),
        (0.5, "0.5"),
        (123.456, "123.456"),
        (4.35, "4.35"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0 / 3.0, "0.3333333333333333"),
        (2.0 / 3.0, "0.6666666666666666"),
        (100.0 / 3.0, "33.333333333333336"),
        (std::f64::consts::PI, "3.141592653589793"),
        (std::f64::consts::E, "2.718281828459045"),
        (-1.56e200, "-1.56E200"),
        (1.0e-5, "1.0E-5"),
        (1.0e-7, "1.0E-7"),
        // The plain/scientific boundaries: 1e-3 <= |x| < 1e7 is plain.
        (0.001, "0.001"),
        (0.00123, "0.00123"),
        (0.0009999, "9.999E-4"),
        (1.0e-4, "1.0E-4"),
        (9_999_999.0, "9999999.0"),
        (1_234_567.0, "1234567.0"),
        (9_999_999.999, "9999999.999"),
        (1.0e7, "1.0E7"),
        (-1.0e7, "-1.0E7"),
        (12_345_678.0, "1.2345678E7"),
        (12_345_678.9, "1.23456789E7"),
        (1.2345e7, "1.2345E7"),
        (1.0e21, "1.0E21"),
        (1.0e22, "1.0E22"),
        (1.0e23, "1.0E23"),
        (2.0e23, "2.0E23"),
        (9.223_372_036_854_776e18, "9.223372036854776E18"),
        (f64::MAX, "1.7976931348623157E308"),
        (-f64::MAX, "-1.7976931348623157E308"),
        (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
        // Subnormals: Java picks the closer 2-digit decimal over 1 digit.
        (f64::from_bits(1), "4.9E-324"),
        (f64::from_bits(2), "9.9E-324"),
        (f64::from_bits(3), "1.5E-323"),
        (f64::from(0.1f32), "0.10000000149011612"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
    ];
    for &(x, want) in cases {
        assert_eq!(Value::Double(x).canonical(), want, "bits {:#x}", x.to_bits());
    }
}

#[test]
fn java_double_reads_back_exactly() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..200_000 {
        let x = f64::from_bits(rng.next());
        let s = java_double(x);
        let back = match dec(FieldType::Double, &s) {
            Value::Double(b) => b,
            other => panic!("{other:?}"),
        };
        if x.is_nan() {
            assert!(back.is_nan());
        } else {
            assert_eq!(back.to_bits(), x.to_bits(), "{s}");
        }
        // The form is Java's: one digit before the point in scientific
        // notation, at least one after it, no '+' in exponents.
        assert!(s.contains('.') || s == "NaN" || s.ends_with("Infinity"), "{s}");
        assert!(!s.contains('+') && !s.contains('e'), "{s}");
        if let Some((mantissa, _)) = s.split_once('E') {
            assert_eq!(mantissa.trim_start_matches('-').find('.'), Some(1), "{s}");
        }
    }
}

#[test]
fn doubles_decode_leniently() {
    let cases: &[(&str, f64)] = &[
        ("1.45", 1.45),
        ("1", 1.0),
        ("007", 7.0),
        ("-1.56E200", -1.56e200),
        ("1e-5", 1.0e-5),
        ("+2.5", 2.5),
        (".5", 0.5),
        ("5.", 5.0),
        (" 3.25 ", 3.25),
        ("1.5d", 1.5),
        ("2D", 2.0),
        ("1.2299999999999999", 1.23),
        ("Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("inf", f64::INFINITY),
    ];
    for &(s, want) in cases {
        assert_eq!(dec(FieldType::Double, s), Value::Double(want), "{s}");
    }
    assert!(matches!(dec(FieldType::Double, "NaN"), Value::Double(x) if x.is_nan()));
    for bad in [
        "", " ", "abc", "1.5.5", "1e", "0x10", "1,5", "nand", "1.5dd", "--1",
    ] {
        let err = Value::decode(FieldType::Double, bad).unwrap_err();
        assert!(
            matches!(
                err,
                ValueError::Malformed {
                    ty: FieldType::Double,
                    ..
                }
            ),
            "{bad}"
        );
    }
}

// ---- longs ----

#[test]
fn longs() {
    assert_eq!(Value::Long(-42).canonical(), "-42");
    assert_eq!(Value::Long(i64::MIN).canonical(), "-9223372036854775808");
    assert_eq!(dec(FieldType::Long, "007"), Value::Long(7));
    assert_eq!(dec(FieldType::Long, "+7"), Value::Long(7));
    assert_eq!(
        dec(FieldType::Long, "-9223372036854775808"),
        Value::Long(i64::MIN)
    );
    let err = Value::decode(FieldType::Long, "9223372036854775808").unwrap_err();
    assert!(err.to_string().contains("out of the range"), "{err}");
    for bad in ["", "-", "+", "1.0", " 1", "1 ", "0x10", "1e3", "--1", "١"] {
        let err = Value::decode(FieldType::Long, bad).unwrap_err();
        assert!(
            err.to_string().contains("expected decimal digits"),
            "{bad}: {err}"
        );
    }
}

// ---- binary and objectid ----

#[test]
fn hex_values() {
    assert_eq!(Value::Binary(vec![0xB0, 0x0A, 0xFF]).canonical(), "b00aff");
    assert_eq!(Value::Binary(vec![]).canonical(), "");
    assert_eq!(
        dec(FieldType::Binary, "B00aFF"),
        Value::Binary(vec![0xB0, 0x0A, 0xFF])
    );
    // An odd digit count is left-justified.
    assert_eq!(dec(FieldType::Binary, "b0a"), Value::Binary(vec![0xB0, 0xA0]));
    assert_eq!(dec(FieldType::Binary, "f"), Value::Binary(vec![0xF0]));
    assert_eq!(dec(FieldType::Binary, ""), Value::Binary(vec![]));
    let err = Value::decode(FieldType::Binary, "b0g1").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid binary value "b0g1": 'g' at position 2 is not a hex digit"#
    );

    let oid = "0200004f75ee01094cc13e11dbbad000e08159832d000024d40200000000";
    let v = dec(FieldType::ObjectId, &oid.to_ascii_uppercase());
    match &v {
        Value::ObjectId(b) => assert_eq!((b.len(), b[0], b[29]), (30, 2, 0)),
        other => panic!("{other:?}"),
    }
    assert_eq!(v.canonical(), oid);
    for bad in [
        &oid[..59],
        &format!("{oid}0"),
        &format!("{}x", &oid[..59]),
        "",
        "é",
    ] {
        let err = Value::decode(FieldType::ObjectId, bad).unwrap_err();
        assert!(
            matches!(
                err,
                ValueError::Malformed {
                    ty: FieldType::ObjectId,
                    ..
                }
            ),
            "{bad}"
        );
    }
}

// ---- dates and times ----

#[test]
fn dates() {
    let cases: &[(i64, &str)] = &[
        (0, "1970-01-01"),
        (-1, "1969-12-31"),
        (11_016, "2000-02-29"),
        (2_932_896, "9999-12-31"),
        (2_932_897, "10000-01-01"),
        (-719_162, "0001-01-01"),
        (-719_163, "0000-12-31"),
        (-719_529, "-0001-12-31"),
        (14_907, "2010-10-25"),
    ];
    for &(days, s) in cases {
        assert_eq!(Value::Date(days).canonical(), s);
        assert_eq!(dec(FieldType::Date, s), Value::Date(days), "{s}");
    }
    assert_eq!(dec(FieldType::Date, "2000-2-29"), Value::Date(11_016));
    assert_eq!(dec(FieldType::Date, "+2000-02-29"), Value::Date(11_016));
    assert_eq!(dec(FieldType::Date, "02000-002-029"), Value::Date(11_016));
    for (bad, why) in [
        ("2001-02-29", "day 29 is not in 1..28"),
        ("1900-02-29", "day 29 is not in 1..28"),
        ("2001-13-01", "month 13 is not in 1..12"),
        ("2001-00-01", "month 0 is not in 1..12"),
        ("2001-04-31", "day 31 is not in 1..30"),
        ("2001-04-00", "day 0 is not in 1..30"),
        ("2001-04", "expected year-month-day"),
        ("2001-04-01-", "expected year-month-day"),
        ("2001/04/01", "expected year-month-day"),
        ("", "expected year-month-day"),
        ("2001-04-1a", "expected decimal digits"),
        ("2001-04-", "expected decimal digits"),
        ("2001--04-01", "expected year-month-day"),
        ("2001-04-01T00:00:00", "expected decimal digits"),
        ("99999999999999999999-01-01", "too large"),
        ("999999999999999999-01-01", "outside the representable range"),
    ] {
        let err = Value::decode(FieldType::Date, bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
        assert!(err.starts_with("invalid date value"), "{err}");
    }
}

#[test]
fn times() {
    assert_eq!(Value::Time(0).canonical(), "00:00:00");
    assert_eq!(Value::Time(80_229).canonical(), "22:17:09");
    assert_eq!(Value::Time(86_399).canonical(), "23:59:59");
    // Out of the domain (check() rejects these) still encodes, modulo a day.
    assert_eq!(Value::Time(86_400 + 61).canonical(), "00:01:01");
    assert_eq!(Value::Time(-1).canonical(), "23:59:59");
    assert_eq!(dec(FieldType::Time, "22:10:29"), Value::Time(79_829));
    assert_eq!(dec(FieldType::Time, "1:2:3"), Value::Time(3723));
    assert_eq!(dec(FieldType::Time, "23:59:59"), Value::Time(86_399));
    for (bad, why) in [
        ("24:00:00", "hour 24"),
        ("12:60:00", "minute 60"),
        ("12:00:60", "second 60"),
        ("12:00", "expected hours:minutes:seconds"),
        ("12:00:00.000", "expected decimal digits"),
        ("-1:00:00", "expected decimal digits"),
        ("", "expected hours:minutes:seconds"),
    ] {
        let err = Value::decode(FieldType::Time, bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn timestamps() {
    let cases: &[(i64, &str)] = &[
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (1_161_864_000_000, "2006-10-26T12:00:00.000Z"),
        (951_782_400_123, "2000-02-29T00:00:00.123Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ];
    for &(ms, s) in cases {
        assert_eq!(Value::Timestamp(ms).canonical(), s);
        assert_eq!(dec(FieldType::Timestamp, s), Value::Timestamp(ms), "{s}");
    }
    // Lenient forms: no Z (still UTC), short fields, a space for the T.
    assert_eq!(
        dec(FieldType::Timestamp, "2006-10-26T12:00:00.000"),
        Value::Timestamp(1_161_864_000_000)
    );
    assert_eq!(
        dec(FieldType::Timestamp, "2006-10-26 12:0:0.0"),
        Value::Timestamp(1_161_864_000_000)
    );
    // Milliseconds are a count, as in the C client: ".5" is 5 ms.
    assert_eq!(
        dec(FieldType::Timestamp, "1970-1-1T0:0:0.5Z"),
        Value::Timestamp(5)
    );
    assert_eq!(
        Value::Timestamp(i64::MIN).canonical(),
        "-292275055-05-16T16:47:04.192Z"
    );
    assert_eq!(
        Value::Timestamp(i64::MAX).canonical(),
        "292278994-08-17T07:12:55.807Z"
    );
    for (bad, why) in [
        (
            "2006-10-26T12:00:00Z",
            "expected hours:minutes:seconds.milliseconds",
        ),
        ("2006-10-26T12:00:00.1234Z", "1 to 3 decimal digits"),
        ("2006-10-26T12:00:00.Z", "1 to 3 decimal digits"),
        ("2006-10-26", "expected year-month-dayT"),
        ("2006-10-32T12:00:00.000Z", "day 32"),
        ("2006-10-26T25:00:00.000Z", "hour 25"),
        ("2006-10-26T12:00:00.000+01:00", "1 to 3 decimal digits"),
        ("2006-10-26T12:00:00.000ZZ", "1 to 3 decimal digits"),
        ("292278994-08-17T07:12:55.808Z", "outside the representable range"),
    ] {
        let err = Value::decode(FieldType::Timestamp, bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
        assert!(
            err.starts_with(&format!("invalid timestamp value {bad:?}")),
            "{err}"
        );
    }
}

#[test]
fn strings_are_themselves() {
    for s in ["", "hello", "  trailing  ", "мне не вредит", "a\u{0}b", "😀"] {
        assert_eq!(Value::String(s.into()).canonical(), s);
        assert_eq!(Value::Char(s.into()).canonical(), s);
        assert_eq!(dec(FieldType::String, s), Value::String(s.into()));
        assert_eq!(dec(FieldType::Char, s), Value::Char(s.into()));
    }
}

// ---- the round-trip guarantee ----

#[test]
fn encode_decode_encode_is_stable() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    let mut values = Vec::new();
    for &x in &extremes {
        values.extend([
            Value::Long(x),
            Value::Date(x),
            Value::Time(x),
            Value::Timestamp(x),
        ]);
    }
    for _ in 0..50_000 {
        let wide = rng.next() as i64;
        let narrow = (rng.next() % 1_000_000_000_000) as i64 - 500_000_000_000;
        values.push(match rng.below(12) {
            0 => Value::Long(wide),
            1 => Value::Double(f64::from_bits(rng.next())),
            2 => Value::Double((narrow as f64) / 1000.0),
            3 => Value::String(rng.string(40)),
            4 => Value::Char(rng.string(40)),
            5 => Value::Binary(rng.bytes(40)),
            6 => Value::ObjectId((0..30).map(|_| rng.next() as u8).collect()),
            7 => Value::Date(if rng.below(2) == 0 { wide } else { narrow / 1000 }),
            8 => Value::Time(if rng.below(4) == 0 {
                wide
            } else {
                rng.below(86_400) as i64
            }),
            9 => Value::Timestamp(wide),
            10 => Value::Timestamp(narrow * 10),
            _ => Value::Date(rng.below(3_000_000) as i64 - 800_000),
        });
    }
    for v in &values {
        enc_dec_enc(v);
        // Exact round trips where the canonical form is lossless.
        match v {
            Value::Time(t) if !(0..86_400).contains(t) => {}
            Value::Double(x) if x.is_nan() => {}
            _ => assert_eq!(&Value::decode(v.ty(), &v.canonical()).unwrap(), v),
        }
    }
}

#[test]
fn decode_never_panics_on_garbage() {
    let types = [
        FieldType::Long,
        FieldType::Double,
        FieldType::String,
        FieldType::Char,
        FieldType::Binary,
        FieldType::Date,
        FieldType::Time,
        FieldType::Timestamp,
        FieldType::ObjectId,
    ];
    let mut rng = Rng(42);
    let seeds = [
        "2006-10-26T12:00:00.000Z",
        "-0001-12-31",
        "23:59:59",
        "1.0E-5",
        "b0a",
        "-9223372036854775808",
    ];
    for i in 0..100_000u32 {
        let s = if i % 3 == 0 {
            // Truncations and mutations of valid inputs.
            let seed = seeds[rng.below(seeds.len() as u64) as usize];
            let mut chars: Vec<char> = seed.chars().collect();
            chars.truncate(rng.below(chars.len() as u64 + 1) as usize);
            if !chars.is_empty() && rng.below(2) == 0 {
                let at = rng.below(chars.len() as u64) as usize;
                chars[at] = rng.string(1).chars().next().unwrap_or('-');
            }
            chars.into_iter().collect()
        } else {
            rng.string(30)
        };
        for ty in types {
            match Value::decode(ty, &s) {
                Ok(v) => {
                    assert_eq!(v.ty(), ty);
                    enc_dec_enc(&v);
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
}

// ---- check ----

#[test]
fn check_types() {
    let d = def("demo.year", FieldType::Long, None);
    assert_eq!(Value::Long(2010).check(&d), Ok(()));
    let err = Value::String("2010".into()).check(&d).unwrap_err();
    assert_eq!(
        err,
        ValueError::WrongType {
            field: "demo.year".into(),
            expected: FieldType::Long,
            found: FieldType::String
        }
    );
    assert_eq!(
        err.to_string(),
        r#"field "demo.year": a string value cannot be stored in a long field"#
    );
    // The caller converts a string through decode first.
    assert_eq!(Value::decode(d.ty, "2010").unwrap().check(&d), Ok(()));
    assert!(
        Value::Char("x".into())
            .check(&def("s", FieldType::String, Some(4)))
            .is_err()
    );
    assert!(
        Value::Binary(vec![0; 30])
            .check(&def("o", FieldType::ObjectId, None))
            .is_err()
    );
}

#[test]
fn check_string_lengths_count_utf16_units() {
    let d = def("demo.title", FieldType::String, Some(64));
    // 24 CJK characters are 72 UTF-8 bytes but 24 Java chars.
    let cjk: String = std::iter::repeat_n('漢', 24).collect();
    assert_eq!(cjk.len(), 72);
    assert_eq!(Value::String(cjk).check(&d), Ok(()));
    assert_eq!(Value::String("a".repeat(64)).check(&d), Ok(()));
    let err = Value::String("a".repeat(65)).check(&d).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"field "demo.title": string value of 65 characters exceeds the field length 64"#
    );
    // No length: the schema default 512.
    let d = def("x", FieldType::String, None);
    assert_eq!(Value::String("a".repeat(512)).check(&d), Ok(()));
    assert!(Value::String("a".repeat(513)).check(&d).is_err());
}

#[test]
fn check_string_encoding() {
    let d = def("s", FieldType::String, Some(100));
    assert_eq!(Value::String("é\u{FFFF}\u{E000}".into()).check(&d), Ok(()));
    let err = Value::String("ab\u{0}".into()).check(&d).unwrap_err();
    assert_eq!(
        err,
        ValueError::BadCharacter {
            field: "s".into(),
            ty: FieldType::String,
            ch: '\0',
            at: 2
        }
    );
    assert_eq!(
        err.to_string(),
        r#"field "s": U+0000 at character 2: NUL is not allowed"#
    );
    let err = Value::String("a😀".into()).check(&d).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"field "s": U+1F600 at character 1: string values must be within the Basic Multilingual Plane"#
    );
}

#[test]
fn check_char_is_latin1() {
    let d = def("c", FieldType::Char, Some(4));
    assert_eq!(Value::Char("ÿé a".into()).check(&d), Ok(()));
    let err = Value::Char("aĀ".into()).check(&d).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"field "c": U+0100 at character 1: char values must be Latin-1 (U+0001..U+00FF)"#
    );
    assert!(Value::Char("\0".into()).check(&d).is_err());
    // Length in Latin-1 bytes: "éééé" is 8 UTF-8 bytes but 4 Latin-1 bytes.
    assert_eq!(Value::Char("éééé".into()).check(&d), Ok(()));
    let err = Value::Char("ééééé".into()).check(&d).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"field "c": char value of 5 bytes exceeds the field length 4"#
    );
}

#[test]
fn check_binary_objectid_time() {
    let d = def("system.object_hash", FieldType::Binary, Some(20));
    assert_eq!(Value::Binary(vec![7; 20]).check(&d), Ok(()));
    assert_eq!(Value::Binary(vec![]).check(&d), Ok(()));
    let err = Value::Binary(vec![7; 21]).check(&d).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"field "system.object_hash": binary value of 21 bytes exceeds the field length 20"#
    );

    let d = def("system.object_id", FieldType::ObjectId, None);
    assert_eq!(Value::ObjectId(vec![1; 30]).check(&d), Ok(()));
    let err = Value::ObjectId(vec![1; 29]).check(&d).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"field "system.object_id": objectid value has 29 bytes; an object id has 30"#
    );

    let d = def("t", FieldType::Time, None);
    assert_eq!(Value::Time(0).check(&d), Ok(()));
    assert_eq!(Value::Time(86_399).check(&d), Ok(()));
    assert!(Value::Time(86_400).check(&d).is_err());
    let err = Value::Time(-5).check(&d).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"field "t": time value -5 is not a time of day (0..86399 seconds since midnight)"#
    );
    // Other types have no domain limits.
    for v in [
        Value::Double(f64::NAN),
        Value::Date(i64::MIN),
        Value::Timestamp(i64::MAX),
        Value::Long(0),
    ] {
        assert_eq!(v.check(&def("f", v.ty(), None)), Ok(()));
    }
}

#[test]
fn errors_are_std_errors_with_clipped_inputs() {
    let long_input = "x".repeat(500);
    let err: Box<dyn std::error::Error> = Box::new(Value::decode(FieldType::Long, &long_input).unwrap_err());
    let msg = err.to_string();
    assert!(msg.len() < 200, "{msg}");
    assert!(msg.contains("..."), "{msg}");
}

#[test]
fn sql_values_round_trip() {
    let values = [
        Value::Long(-3),
        Value::Double(2.5),
        Value::String("s".into()),
        Value::Char("c".into()),
        Value::Binary(vec![1, 2]),
        Value::Date(-1),
        Value::Time(5),
        Value::Timestamp(7),
        Value::ObjectId(vec![9; 30]),
    ];
    for v in values {
        assert_eq!(Value::from_sql(v.ty(), v.to_sql()), Ok(v.clone()));
    }
    assert_eq!(
        Value::from_sql(FieldType::Double, SqlValue::Integer(3)),
        Ok(Value::Double(3.0))
    );
    let err = Value::from_sql(FieldType::Long, SqlValue::Text("x".into())).unwrap_err();
    assert!(err.to_string().contains("where a long belongs"), "{err}");
}
