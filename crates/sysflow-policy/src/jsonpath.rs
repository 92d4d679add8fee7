//! A subset of gjson path syntax, as used by SFPL on JSON-valued fields (`sf.ke.message[items.0.namespace]`).
//!
//! Supported: dot-separated keys, numeric array indices, `#` (array length), `#.key` (collect `key` from every
//! element), `*`/`?` wildcards in keys, and `\.` escapes. The result is rendered like gjson's `Result.String()`:
//! strings raw, numbers/booleans as text, objects/arrays as compact JSON, missing as `""`.

use serde_json::Value;

fn split_path(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

/// `*` (any run) and `?` (one character) glob matching of a whole string.
pub(crate) fn wildcard_match(pat: &str, s: &str) -> bool {
    fn rec(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| rec(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && rec(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && rec(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    rec(&p, &s)
}

fn get(v: &Value, parts: &[String]) -> Option<Value> {
    let Some((head, rest)) = parts.split_first() else {
        return Some(v.clone());
    };
    match v {
        Value::Array(a) => {
            if head == "#" {
                if rest.is_empty() {
                    return Some(Value::from(a.len()));
                }
                let collected: Vec<Value> = a.iter().filter_map(|e| get(e, rest)).collect();
                return Some(Value::Array(collected));
            }
            let idx: usize = head.parse().ok()?;
            get(a.get(idx)?, rest)
        }
        Value::Object(o) => {
            if head.contains(['*', '?']) {
                let (_, child) = o.iter().find(|(k, _)| wildcard_match(head, k))?;
                return get(child, rest);
            }
            get(o.get(head.as_str())?, rest)
        }
        _ => None,
    }
}

/// Evaluates `path` on the JSON text `json`, rendering the result as gjson's `String()` does.
pub(crate) fn query(json: &str, path: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(json) else {
        return String::new();
    };
    match get(&v, &split_path(path)) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::query;

    #[test]
    fn paths() {
        let j = r#"{"items":[{"namespace":"robot-shop","n":3}],"a.b":true}"#;
        assert_eq!(query(j, "items.0.namespace"), "robot-shop");
        assert_eq!(query(j, "items.0.n"), "3");
        assert_eq!(query(j, "items.#"), "1");
        assert_eq!(query(j, "items.#.namespace"), r#"["robot-shop"]"#);
        assert_eq!(query(j, r"a\.b"), "true");
        assert_eq!(query(j, "it*.0.namespace"), "robot-shop");
        assert_eq!(query(j, "missing"), "");
        assert_eq!(query("bash,python", "2"), "");
    }
}
