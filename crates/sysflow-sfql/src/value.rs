//! Attribute values and the Python conversions the reference applies to them (`str()`, `int()`, truthiness).

use std::borrow::Cow;

use crate::attr::{op_names, open_names};

/// A value read from a record. Variants mirror the Python types the reference mapper returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    /// Python `None`: the record has no such thing (`str()` → `"None"`).
    None,
    /// An int.
    Int(i64),
    /// A bool (`str()` → `"True"`/`"False"`).
    Bool(bool),
    /// A one-character string (`chr(restype)`).
    Char(char),
    /// A borrowed string.
    Str(&'a str),
    /// A computed string.
    String(String),
    /// Op flags: the names of the set bits joined by `,`.
    OpFlags(i32),
    /// Open flags: the names of the set flags joined by `,`.
    OpenFlags(i32),
    /// A list of strings (`str()` → Python list repr).
    StrList(&'a [String]),
    /// A list of ints (`str()` → Python list repr).
    IntList(&'a [i64]),
}

/// Python `repr()` of a str.
fn push_repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

impl Value<'_> {
    /// Python `str(value)`.
    pub(crate) fn to_str(&self) -> Cow<'_, str> {
        match self {
            Value::None => Cow::Borrowed("None"),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Bool(true) => Cow::Borrowed("True"),
            Value::Bool(false) => Cow::Borrowed("False"),
            Value::Char(c) => Cow::Owned(c.to_string()),
            Value::Str(s) => Cow::Borrowed(s),
            Value::String(s) => Cow::Borrowed(s.as_str()),
            Value::OpFlags(f) => Cow::Owned(op_names(*f).join(",")),
            Value::OpenFlags(f) => Cow::Owned(open_names(*f).join(",")),
            Value::StrList(v) => {
                let mut s = String::from("[");
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    push_repr_str(&mut s, e);
                }
                s.push(']');
                Cow::Owned(s)
            }
            Value::IntList(v) => {
                let items: Vec<String> = v.iter().map(i64::to_string).collect();
                Cow::Owned(format!("[{}]", items.join(", ")))
            }
        }
    }

    /// Python truthiness (`not not value`), used by `exists`.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Int(i) => *i != 0,
            Value::Bool(b) => *b,
            Value::Char(_) => true,
            Value::Str(s) => !s.is_empty(),
            Value::String(s) => !s.is_empty(),
            Value::OpFlags(f) => !op_names(*f).is_empty(),
            Value::OpenFlags(f) => !open_names(*f).is_empty(),
            Value::StrList(v) => !v.is_empty(),
            Value::IntList(v) => !v.is_empty(),
        }
    }

    /// Whether any comma-separated piece of `str(value)` satisfies `pred` (the reference's `_evalPred`).
    #[inline]
    pub(crate) fn any_piece(&self, mut pred: impl FnMut(&str) -> bool) -> bool {
        match self {
            Value::Int(i) => {
                let mut buf = IntBuf::new();
                pred(buf.format(*i))
            }
            Value::Str(s) => s.split(',').any(pred),
            Value::String(s) => s.split(',').any(pred),
            Value::Bool(true) => pred("True"),
            Value::Bool(false) => pred("False"),
            Value::None => pred("None"),
            Value::OpFlags(f) => any_op_name(*f, pred),
            Value::OpenFlags(f) => {
                let names = open_names(*f);
                if names.is_empty() {
                    pred("")
                } else {
                    names.into_iter().any(pred)
                }
            }
            other => other.to_str().split(',').any(pred),
        }
    }

    /// Python `int(value)` for the right operand of an ordering comparison; `None` where Python raises.
    pub(crate) fn to_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(i128::from(*i)),
            Value::Bool(b) => Some(i128::from(*b)),
            Value::Str(s) => py_int(s),
            Value::String(s) => py_int(s),
            Value::Char(c) => py_int(c.encode_utf8(&mut [0; 4])),
            _ => None,
        }
    }
}

/// Whether any name of `op_flag_names(flags)` satisfies `pred` (`pred("")` when there is none, as `"".split(',')`
/// gives one empty piece), without allocating.
#[inline]
fn any_op_name(flags: i32, mut pred: impl FnMut(&str) -> bool) -> bool {
    use sysflow_format::flags::op;
    if flags & op::NAMES.iter().fold(0, |m, (b, _)| m | b) == 0 {
        return pred("");
    }
    for &(bit, name) in op::NAMES {
        if flags & bit == 0 {
            continue;
        }
        let hit = match bit {
            op::READ_RECV => pred("READ") || pred("RECV"),
            op::WRITE_SEND => pred("WRITE") || pred("SEND"),
            _ => pred(name),
        };
        if hit {
            return true;
        }
    }
    false
}

/// Python `int(s)` for a str: surrounding whitespace, an optional sign, decimal digits with single `_` between
/// digits. `None` where Python raises (or the value does not fit 128 bits).
pub(crate) fn py_int(s: &str) -> Option<i128> {
    let t = s.trim_matches(|c: char| c.is_whitespace());
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => v = v.checked_mul(10)?.checked_add(i128::from(b - b'0'))?,
            b'_' => {}
            _ => return None,
        }
    }
    Some(if neg { -v } else { v })
}

/// A stack buffer to format an i64 without allocating.
pub(crate) struct IntBuf {
    buf: [u8; 20],
}

impl IntBuf {
    pub(crate) fn new() -> IntBuf {
        IntBuf { buf: [0; 20] }
    }

    /// Formats `v` in decimal.
    pub(crate) fn format(&mut self, v: i64) -> &str {
        let mut n = v.unsigned_abs();
        let mut i = self.buf.len();
        loop {
            i -= 1;
            self.buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            i -= 1;
            self.buf[i] = b'-';
        }
        // Only ASCII digits and '-' were written.
        std::str::from_utf8(&self.buf[i..]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_like_python() {
        assert_eq!(Value::None.to_str(), "None");
        assert_eq!(Value::Bool(true).to_str(), "True");
        assert_eq!(Value::Int(-42).to_str(), "-42");
        let env = vec![
            "A=1".to_string(),
            "B='x'".to_string(),
            "C=\"y'".to_string(),
            "D=\u{7f}\\".to_string(),
        ];
        assert_eq!(
            Value::StrList(&env).to_str(),
            r#"['A=1', "B='x'", 'C="y\'', 'D=\x7f\\']"#
        );
        assert_eq!(Value::StrList(&[]).to_str(), "[]");
        assert_eq!(Value::IntList(&[1, -2]).to_str(), "[1, -2]");
        assert_eq!(Value::OpenFlags(0).to_str(), "NONE");
        assert_eq!(Value::OpFlags(0).to_str(), "");
        assert_eq!(Value::OpFlags(1 << 8).to_str(), "READ,RECV");
    }

    #[test]
    fn op_names_without_allocation_match_op_flag_names() {
        let mut flags: Vec<i32> = (0..24).map(|b| 1 << b).collect();
        flags.extend([0, 1856, 9344, 5, 0x7fff_ffff, -1, 1 << 30]);
        for f in flags {
            let mut seen = Vec::new();
            any_op_name(f, |p| {
                seen.push(p.to_string());
                false
            });
            let mut want: Vec<String> = op_names(f).into_iter().map(str::to_string).collect();
            if want.is_empty() {
                want.push(String::new());
            }
            assert_eq!(seen, want, "{f}");
        }
    }

    #[test]
    fn int_buf_formats_extremes() {
        let mut b = IntBuf::new();
        assert_eq!(b.format(i64::MIN), i64::MIN.to_string());
        assert_eq!(b.format(0), "0");
        assert_eq!(b.format(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn int_parses_like_python() {
        assert_eq!(py_int(" 12 "), Some(12));
        assert_eq!(py_int("-3"), Some(-3));
        assert_eq!(py_int("+3"), Some(3));
        assert_eq!(py_int("1_000"), Some(1000));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("_1"), None);
        assert_eq!(py_int("1.5"), None);
        assert_eq!(py_int("None"), None);
        assert_eq!(py_int(""), None);
        assert_eq!(py_int("0x10"), None);
    }

    #[test]
    fn truthiness_like_python() {
        assert!(!Value::Int(0).truthy());
        assert!(!Value::Str("").truthy());
        assert!(!Value::Bool(false).truthy());
        assert!(!Value::StrList(&[]).truthy());
        assert!(!Value::OpFlags(0).truthy());
        assert!(Value::Str("x").truthy());
    }

    #[test]
    fn pieces_split_on_commas() {
        let v = Value::Str("a,b, c");
        let mut seen = Vec::new();
        v.any_piece(|p| {
            seen.push(p.to_string());
            false
        });
        assert_eq!(seen, ["a", "b", " c"]);
        assert!(Value::OpFlags(0).any_piece(|p| p.is_empty()));
    }
}
