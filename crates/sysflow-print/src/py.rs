//! Python text conventions the reference output depends on: `json.dumps` string escaping (`ensure_ascii=True`),
//! `repr()` of strings, `str.isspace`, the `int()`/`float()` parsers tabulate uses to detect numeric columns, and
//! `format(x, "g")`.

/// Bytes that `json.dumps` cannot copy as they are: controls, `"`, `\`, DEL and every non-ASCII byte.
const JSON_ESCAPE: [bool; 256] = {
    let mut t = [true; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = false;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any of the 8 bytes of `x` needs escaping in JSON (a control byte, DEL or above, `"` or `\`). May
/// report false positives only when a byte really needs escaping.
#[inline]
fn chunk_needs_escape(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let below_20 = x.wrapping_sub(LO * 0x20) & !x & HI;
    let from_7f = (x.wrapping_add(LO) | x) & HI;
    let q = x ^ (LO * 0x22);
    let quote = q.wrapping_sub(LO) & !q & HI;
    let b = x ^ (LO * 0x5c);
    let backslash = b.wrapping_sub(LO) & !b & HI;
    (below_20 | from_7f | quote | backslash) != 0
}

/// Appends `s` as a JSON string literal (with the quotes) the way Python's `json.dumps(ensure_ascii=True)` writes
/// it: `\"`, `\\`, `\n \r \t \b \f`, every other character outside 0x20..0x7E as `\uXXXX` (lower-case hex, surrogate
/// pairs above the BMP); `/` is not escaped.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if !chunk_needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        if !JSON_ESCAPE[bytes[i] as usize] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => push_u16_escape(out, b as u32),
            }
            i += 1;
        } else {
            // A multi-byte UTF-8 sequence: decode the one character starting here.
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            let cp = ch as u32;
            if cp >= 0x10000 {
                let v = cp - 0x10000;
                push_u16_escape(out, 0xd800 + (v >> 10));
                push_u16_escape(out, 0xdc00 + (v & 0x3ff));
            } else {
                push_u16_escape(out, cp);
            }
            i += ch.len_utf8();
        }
        start = i;
    }
    crate::value::fast::put(out, &bytes[start..]);
    out.push(b'"');
}

fn push_u16_escape(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(v >> 12 & 0xf) as usize],
        HEX[(v >> 8 & 0xf) as usize],
        HEX[(v >> 4 & 0xf) as usize],
        HEX[(v & 0xf) as usize],
    ]);
}

/// Python `str.isspace()` for one character (Unicode whitespace plus the ASCII separators 0x1C..0x1F).
pub fn is_space(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Python `str.strip()` with no argument.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Whether the ASCII digit run `s` follows Python's numeric-literal underscore rule: at least one digit, and
/// underscores only single and between digits.
fn digits_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b[0] == b'_' || b[b.len() - 1] == b'_' {
        return false;
    }
    let mut prev_us = false;
    for &c in b {
        match c {
            b'0'..=b'9' => prev_us = false,
            b'_' if !prev_us => prev_us = true,
            _ => return false,
        }
    }
    true
}

/// Whether Python's `int(s)` (base 10) accepts `s`. Non-ASCII decimal digits, which Python also accepts, are not
/// recognised.
pub fn is_py_int(s: &str) -> bool {
    let t = strip(s);
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    digits_ok(t)
}

/// Python's `float(s)`, or `None` when it raises `ValueError`. Non-ASCII digits are not recognised.
pub fn py_float(s: &str) -> Option<f64> {
    let t = strip(s);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            let (mant, exp) = match lower.find('e') {
                Some(p) => (&lower[..p], Some(&lower[p + 1..])),
                None => (lower.as_str(), None),
            };
            let (int_part, frac_part) = match mant.find('.') {
                Some(p) => (&mant[..p], Some(&mant[p + 1..])),
                None => (mant, None),
            };
            let int_ok = int_part.is_empty() || digits_ok(int_part);
            let frac_ok = frac_part.is_none_or(|f| f.is_empty() || digits_ok(f));
            let has_digits = !int_part.is_empty() || frac_part.is_some_and(|f| !f.is_empty());
            let exp_ok = exp.is_none_or(|e| digits_ok(e.strip_prefix(['+', '-']).unwrap_or(e)));
            if !(int_ok && frac_ok && has_digits && exp_ok) {
                return None;
            }
            lower.replace('_', "").parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// tabulate's `_isnumber`: `float(s)` works, and if it gives inf or nan, `s.lower()` is exactly `inf`, `-inf` or
/// `nan`.
pub fn is_number(s: &str) -> bool {
    match py_float(s) {
        None => false,
        Some(v) if v.is_finite() => true,
        Some(_) => matches!(s.to_lowercase().as_str(), "inf" | "-inf" | "nan"),
    }
}

/// Python `format(x, "g")`: 6 significant digits, trailing zeros removed, exponent form when the exponent is below
/// -4 or at least 6.
pub fn format_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{x:.5e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = (5 - exp).max(0) as usize;
        let fixed = format!("{x:.decimals$}");
        trim_zeros(&fixed).to_string()
    } else {
        let m = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.unsigned_abs())
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Whether Python's `str.isprintable()` holds for a non-ASCII character. Approximation: the separators, format
/// characters and private-use ranges are known; unassigned code points are treated as printable.
fn is_printable_non_ascii(c: char) -> bool {
    !matches!(c,
        '\u{80}'..='\u{a0}' | '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{890}'
        | '\u{891}' | '\u{8e2}' | '\u{1680}' | '\u{180e}' | '\u{2000}'..='\u{200f}' | '\u{2028}'..='\u{202f}'
        | '\u{205f}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{3000}' | '\u{e000}'..='\u{f8ff}' | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}' | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}' | '\u{f0000}'..)
}

/// Appends Python's `repr()` of a string: single quotes unless the text contains `'` and no `"`; `\\`, the quote,
/// `\t \n \r` escaped; other non-printable characters as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if (c as u32) >= 0x80 && is_printable_non_ascii(c) => out.push(c),
            c => {
                let v = c as u32;
                if v < 0x100 {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v < 0x10000 {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(s: &str) -> String {
        let mut v = Vec::new();
        json_str(&mut v, s);
        String::from_utf8(v).unwrap_or_default()
    }

    #[test]
    fn json_escapes_like_python() {
        assert_eq!(js("a/b"), r#""a/b""#);
        assert_eq!(js("q\"b\\"), r#""q\"b\\""#);
        assert_eq!(
            js("\n\t\r\u{8}\u{c}\0\u{7f}"),
            r#""\n\t\r\b\f\u0000\u007f""#
        );
        assert_eq!(js("é€"), r#""\u00e9\u20ac""#);
        assert_eq!(js("😀x"), r#""\ud83d\ude00x""#);
        assert_eq!(js("\u{1b}[0m"), r#""\u001b[0m""#);
    }

    #[test]
    fn chunked_scan_finds_every_escape() {
        for b in 0u8..=255 {
            let mut chunk = *b"abcdefgh";
            for pos in 0..8 {
                chunk[pos] = b;
                let needs = chunk_needs_escape(u64::from_le_bytes(chunk));
                assert_eq!(needs, JSON_ESCAPE[b as usize], "byte {b:#x} at {pos}");
                chunk = *b"abcdefgh";
            }
        }
        assert_eq!(
            js("0123456789abcdef\"0123456789"),
            r#""0123456789abcdef\"0123456789""#
        );
        assert_eq!(js("0123456789abcdéf"), r#""0123456789abcd\u00e9f""#);
    }

    #[test]
    fn int_parsing_follows_python() {
        for ok in [
            "1",
            " 12  ",
            "-3",
            "+4",
            "1_000",
            "007",
            "\t5\n",
            "\u{3000}9",
        ] {
            assert!(is_py_int(ok), "{ok:?}");
        }
        for bad in [
            "", " ", "1.0", "1__0", "_1", "1_", "0x10", "1 2", "--1", "e",
        ] {
            assert!(!is_py_int(bad), "{bad:?}");
        }
    }

    #[test]
    fn float_parsing_follows_python() {
        assert_eq!(py_float(" 1.5 "), Some(1.5));
        assert_eq!(py_float("1."), Some(1.0));
        assert_eq!(py_float(".5"), Some(0.5));
        assert_eq!(py_float("1e3"), Some(1000.0));
        assert_eq!(py_float("1_0.2_5"), Some(10.25));
        assert_eq!(py_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(py_float("nan").is_some_and(f64::is_nan));
        for bad in [".", "e5", "1e", "1._5", "1.5.", "inf5", "", "0x1"] {
            assert_eq!(py_float(bad), None, "{bad:?}");
        }
        assert!(is_number("inf"));
        assert!(!is_number("inf  "));
        assert!(!is_number("Infinity"));
        assert!(!is_number("1e999"));
        assert!(is_number(" 2.5 "));
    }

    #[test]
    fn g_format_follows_python() {
        assert_eq!(format_g(1.5), "1.5");
        assert_eq!(format_g(100.0), "100");
        assert_eq!(format_g(1e20), "1e+20");
        assert_eq!(format_g(123456789.0), "1.23457e+08");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.00001), "1e-05");
        assert_eq!(format_g(-0.0), "-0");
        assert_eq!(format_g(999999.5), "1e+06");
        assert_eq!(format_g(f64::NAN), "nan");
    }

    #[test]
    fn repr_follows_python() {
        let r = |s: &str| {
            let mut o = String::new();
            repr_str(&mut o, s);
            o
        };
        assert_eq!(r("192.168.1.10"), "'192.168.1.10'");
        assert_eq!(r("it's"), "\"it's\"");
        assert_eq!(r("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(r("t\tn\n\0\u{7f}"), "'t\\tn\\n\\x00\\x7f'");
        assert_eq!(r("é\u{a0}"), "'é\\xa0'");
    }
}
