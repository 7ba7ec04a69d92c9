//! How ToCloud9's loader turns an environment variable's text into a value: Go's `strconv`
//! (`ParseInt`/`ParseUint` with base 0, `ParseBool`) and zerolog's level names, rewritten
//! from their documented behaviour so a value accepted (or refused) by ToCloud9 is accepted
//! (or refused) here.

/// Why a text is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number in Go's syntax (empty, a stray character, a misplaced underscore).
    Syntax,
    /// A number, but outside the type's range.
    Range,
}

impl std::fmt::Display for NumberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Syntax => "not a whole number",
            Self::Range => "out of range",
        })
    }
}

/// Go's `strconv.ParseUint(s, 0, bits)`: an optional `0x`/`0o`/`0b` prefix (or a leading
/// `0`: octal), underscores only between digits, no sign.
pub fn parse_uint(s: &str, bits: u32) -> Result<u64, NumberError> {
    if s.is_empty() {
        return Err(NumberError::Syntax);
    }
    let whole = s;
    let bytes = s.as_bytes();
    let lower = |b: u8| b | 0x20;
    let (base, digits): (u64, &[u8]) = if bytes[0] == b'0' {
        match bytes.get(1).map(|&b| lower(b)) {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            _ if lower(c).is_ascii_lowercase() => u64::from(lower(c) - b'a') + 10,
            _ => return Err(NumberError::Syntax),
        };
        if d >= base {
            return Err(NumberError::Syntax);
        }
        n = n
            .checked_mul(base)
            .and_then(|n| n.checked_add(d))
            .filter(|&n| n <= max)
            .ok_or(NumberError::Range)?;
    }
    if underscores && !underscore_ok(whole) {
        return Err(NumberError::Syntax);
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, 0, bits)`: an optional sign, then as [`parse_uint`].
pub fn parse_int(s: &str, bits: u32) -> Result<i64, NumberError> {
    if s.is_empty() {
        return Err(NumberError::Syntax);
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint(rest, 64)?;
    let cutoff = 1u64 << (bits.clamp(1, 64) - 1);
    if !negative && magnitude >= cutoff {
        return Err(NumberError::Range);
    }
    if negative && magnitude > cutoff {
        return Err(NumberError::Range);
    }
    Ok(if negative {
        // `magnitude` <= 2^63 here, so the wrapping negation is exact.
        (magnitude as i64).wrapping_neg()
    } else {
        magnitude as i64
    })
}

/// Go's rule for underscores in a base-0 literal: only between digits, or between the base
/// prefix and a digit.
fn underscore_ok(s: &str) -> bool {
    let mut bytes = s.as_bytes();
    if let Some(b'+' | b'-') = bytes.first() {
        bytes = &bytes[1..];
    }
    // b'^': start, b'0': a digit or the base prefix, b'_': an underscore, b'!': other.
    let mut saw = b'^';
    let mut hex = false;
    let mut i = 0;
    if bytes.len() >= 2 && bytes[0] == b'0' && matches!(bytes[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = bytes[1] | 0x20 == b'x';
    }
    for &c in &bytes[i..] {
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The YAML 1.1 words yaml.v3 still accepts for a Go `bool` field.
pub fn parse_yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// zerolog's "no level" (`""`): nothing is logged but level-less lines.
pub const ZEROLOG_NO_LEVEL: i8 = 6;
/// zerolog's `disabled`.
pub const ZEROLOG_DISABLED: i8 = 7;

/// zerolog's `ParseLevel`: a level name in any case (`trace` .. `panic`, `disabled`, and the
/// empty text for "no level"), or a decimal number from -128 to 127.
pub fn parse_zerolog_level(s: &str) -> Option<i8> {
    const NAMES: [(&str, i8); 9] = [
        ("trace", -1),
        ("debug", 0),
        ("info", 1),
        ("warn", 2),
        ("error", 3),
        ("fatal", 4),
        ("panic", 5),
        ("disabled", ZEROLOG_DISABLED),
        ("", ZEROLOG_NO_LEVEL),
    ];
    if let Some((_, level)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(*level);
    }
    // strconv.Atoi: base 10, optional sign, no underscores.
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i128 = s.parse().ok()?;
    i8::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_follow_go_base_zero() {
        assert_eq!(parse_int("42", 64), Ok(42));
        assert_eq!(parse_int("+42", 64), Ok(42));
        assert_eq!(parse_int("-42", 64), Ok(-42));
        assert_eq!(parse_int("0x1F", 64), Ok(31));
        assert_eq!(parse_int("0X1f", 64), Ok(31));
        assert_eq!(parse_int("0o17", 64), Ok(15));
        assert_eq!(
            parse_int("017", 64),
            Ok(15),
            "a leading zero is octal in Go"
        );
        assert_eq!(parse_int("0b101", 64), Ok(5));
        assert_eq!(parse_int("0", 64), Ok(0));
        assert_eq!(parse_int("1_000", 64), Ok(1000));
        assert_eq!(parse_int("0x_1F", 64), Ok(31));
        assert_eq!(parse_int("-9223372036854775808", 64), Ok(i64::MIN));
        assert_eq!(
            parse_int("9223372036854775808", 64),
            Err(NumberError::Range)
        );
        assert_eq!(parse_int("128", 8), Err(NumberError::Range));
        assert_eq!(parse_int("-128", 8), Ok(-128));
        for bad in [
            "", "+", "-", "08", "0x", "0b", "1__0", "_1", "1_", "1.0", " 1", "1 ", "abc", "0xg",
        ] {
            assert_eq!(
                parse_int(bad, 64),
                Err(NumberError::Syntax),
                "{bad:?} is no Go integer"
            );
        }
    }

    #[test]
    fn uints_refuse_signs_and_check_the_width() {
        assert_eq!(parse_uint("4294967295", 32), Ok(u64::from(u32::MAX)));
        assert_eq!(parse_uint("4294967296", 32), Err(NumberError::Range));
        assert_eq!(parse_uint("+1", 32), Err(NumberError::Syntax));
        assert_eq!(parse_uint("-1", 32), Err(NumberError::Syntax));
        assert_eq!(
            parse_uint("18446744073709551616", 64),
            Err(NumberError::Range)
        );
    }

    #[test]
    fn bools_are_go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        for bad in ["", "yes", "on", "tRUE", "2"] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
        assert_eq!(parse_yaml11_bool("yes"), Some(true));
        assert_eq!(parse_yaml11_bool("OFF"), Some(false));
        assert_eq!(parse_yaml11_bool("true"), None);
    }

    #[test]
    fn zerolog_levels() {
        assert_eq!(parse_zerolog_level("INFO"), Some(1));
        assert_eq!(parse_zerolog_level("trace"), Some(-1));
        assert_eq!(parse_zerolog_level("Disabled"), Some(ZEROLOG_DISABLED));
        assert_eq!(parse_zerolog_level(""), Some(ZEROLOG_NO_LEVEL));
        assert_eq!(parse_zerolog_level("3"), Some(3));
        assert_eq!(parse_zerolog_level("-1"), Some(-1));
        assert_eq!(parse_zerolog_level("+2"), Some(2));
        assert_eq!(parse_zerolog_level("127"), Some(127));
        assert_eq!(parse_zerolog_level("128"), None);
        assert_eq!(parse_zerolog_level("0x1"), None);
        assert_eq!(parse_zerolog_level("verbose"), None);
    }
}
