//! The reference's JSON export (`format: json`, export schema version 5).
//!
//! Key order and sections follow the reference encoder: `"version":5`, then the exported fields sorted by number of
//! dot-separated sections and byte order (the policy crate's [`Field::exported`]), grouped in sections:
//! the top-level fields (`endts`, `opflags`, `ret`, `ts`, `type`), then `container` (only when the record has a
//! container id), `file` (FF/FE), `flow` (FF/NF), `meta`, `net` (NF), `node`, `pod` (when there is a pod id),
//! `pproc` (when the parent pid is not 0), `proc`. K8s events carry the top-level fields, `k8s`, `meta` and `node`.
//! Matched rules follow as `"policies":[{"id","desc","priority"}]` and `"tags":[...]`.
//!
//! Strings are escaped like Go's easyjson: `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX`/`\u20XX`, control characters
//! as `\u00XX` (except `\n`, `\r`, `\t`), and one pair of bounding quotes is trimmed (`TrimBoundingQuotes`). Unlike
//! the reference, arrays always have their commas (the reference writes `["a""b"]` for several pod IPs).

use std::fmt::Write as _;

use sysflow_format::{FlatRecord, RecordKind};
use sysflow_policy::fields::{Compat, Field, Value};

use crate::event::Event;

/// Export schema version written in every record.
pub const JSON_SCHEMA_VERSION: u32 = 5;

/// When a section is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    NotKe,
    KeOnly,
    Container,
    File,
    Flow,
    Net,
    Pod,
    PProc,
}

#[derive(Debug, Clone)]
struct Section {
    name: &'static str,
    when: When,
    fields: Vec<(Field, &'static str)>,
}

/// Encodes events as the reference's JSON lines.
#[derive(Debug, Clone)]
pub struct JsonEncoder {
    top: Vec<(Field, &'static str)>,
    sections: Vec<Section>,
    compat: Compat,
}

impl Default for JsonEncoder {
    fn default() -> Self {
        Self::new(Compat::default())
    }
}

fn section_rule(name: &str) -> Option<When> {
    Some(match name {
        "container" => When::Container,
        "file" => When::File,
        "flow" => When::Flow,
        "k8s" | "ke" => When::KeOnly,
        "meta" | "node" => When::Always,
        "net" => When::Net,
        "pod" => When::Pod,
        "pproc" => When::PProc,
        "proc" => When::NotKe,
        _ => return None,
    })
}

impl JsonEncoder {
    /// An encoder using the field values of `compat`.
    pub fn new(compat: Compat) -> Self {
        let mut top = Vec::new();
        let mut sections: Vec<Section> = Vec::new();
        for f in Field::exported() {
            let Some(rest) = f.name().strip_prefix("sf.") else {
                continue;
            };
            match rest.split_once('.') {
                None => top.push((f, rest)),
                Some((section, key)) => {
                    // Export-only array forms carry a `+` suffix (`sf.pod.hostip+`).
                    let key = key.trim_end_matches('+');
                    // The reference exports `sf.ke.*` under "k8s".
                    let section = if section == "ke" { "k8s" } else { section };
                    let Some(when) = section_rule(section) else {
                        continue;
                    };
                    match sections.last_mut() {
                        Some(s) if s.name == section => s.fields.push((f, key)),
                        _ => sections.push(Section {
                            name: section,
                            when,
                            fields: vec![(f, key)],
                        }),
                    }
                }
            }
        }
        // Sections in byte order of their names (the reference sorts the full field names).
        sections.sort_by(|a, b| a.name.cmp(b.name));
        JsonEncoder {
            top,
            sections,
            compat,
        }
    }

    /// Appends the JSON of `ev` (one line, no newline) to `out`.
    pub fn encode(&self, ev: &Event<'_>, out: &mut Vec<u8>) {
        if out.is_empty() {
            // Encode in place: the message buffer becomes the string's buffer (no copy).
            let mut s = String::from_utf8(std::mem::take(out)).unwrap_or_default();
            self.encode_str(ev, &mut s);
            *out = s.into_bytes();
        } else {
            let mut s = String::with_capacity(1536);
            self.encode_str(ev, &mut s);
            out.extend_from_slice(s.as_bytes());
        }
    }

    /// Appends the JSON of `ev` to a string.
    pub fn encode_str(&self, ev: &Event<'_>, out: &mut String) {
        let rec = ev.record;
        let kind = rec.kind();
        let is_ke = kind == RecordKind::K8sEvent;
        let _ = write!(out, "{{\"version\":{JSON_SCHEMA_VERSION}");
        for (f, key) in &self.top {
            out.push(',');
            write_key(out, key);
            write_value(out, &f.value(rec, self.compat));
        }
        for section in &self.sections {
            if !self.wanted(section.when, rec, kind, is_ke) {
                continue;
            }
            out.push(',');
            write_key(out, section.name);
            out.push('{');
            for (i, (f, key)) in section.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_key(out, key);
                write_value(out, &f.value(rec, self.compat));
            }
            out.push('}');
        }
        if !ev.rules.is_empty() {
            out.push_str(",\"policies\":[");
            for (i, r) in ev.rules.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"id\":");
                write_str(out, &r.name);
                out.push_str(",\"desc\":");
                write_str(out, &r.desc);
                let _ = write!(out, ",\"priority\":{}}}", r.priority.as_int());
            }
            out.push(']');
        }
        let mut tags = ev.tags.iter().map(String::as_str).chain(
            ev.rules
                .iter()
                .flat_map(|r| r.tags.iter().map(String::as_str)),
        );
        if let Some(first) = tags.next() {
            out.push_str(",\"tags\":[");
            write_str(out, first);
            for t in tags {
                out.push(',');
                write_str(out, t);
            }
            out.push(']');
        }
        out.push('}');
    }

    fn wanted(&self, when: When, rec: &FlatRecord, kind: RecordKind, is_ke: bool) -> bool {
        match when {
            When::Always => true,
            When::KeOnly => is_ke,
            _ if is_ke => false,
            When::NotKe => true,
            When::Container => !Field::ContainerId.value(rec, self.compat).is_zero(),
            When::File => matches!(kind, RecordKind::FileFlow | RecordKind::FileEvent),
            When::Flow => matches!(kind, RecordKind::FileFlow | RecordKind::NetworkFlow),
            When::Net => kind == RecordKind::NetworkFlow,
            When::Pod => !Field::PodId.value(rec, self.compat).is_zero(),
            When::PProc => !Field::PProcPid.value(rec, self.compat).is_zero(),
        }
    }
}

fn write_key(out: &mut String, key: &str) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

fn write_value(out: &mut String, v: &Value<'_>) {
    match v {
        Value::Str(s) => write_str(out, s),
        Value::Int(i) => write_int(out, *i),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Strs(items) => {
            out.push('[');
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, s);
            }
            out.push(']');
        }
        Value::Ints(items) => {
            out.push('[');
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_int(out, *n);
            }
            out.push(']');
        }
        // Already JSON text.
        Value::Services(_) => v.render_into(out),
    }
}

/// Go's `TrimBoundingQuotes`: drops one leading and one trailing quote (`"` or `'`).
pub fn trim_bounding_quotes(s: &str) -> &str {
    let s = s.strip_prefix(['"', '\'']).unwrap_or(s);
    s.strip_suffix(['"', '\'']).unwrap_or(s)
}

/// Bytes that need escaping in a JSON string (easyjson's HTML-safe set); `0xE2` starts U+2028/U+2029.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

/// Writes a JSON string the way the reference does (bounding quotes trimmed, easyjson's HTML-safe escaping).
pub fn write_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let s = trim_bounding_quotes(s);
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push('"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !NEEDS_ESCAPE[b as usize] {
            i += 1;
            continue;
        }
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            b'<' => Some("\\u003c"),
            b'>' => Some("\\u003e"),
            b'&' => Some("\\u0026"),
            0xE2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                Some(if bytes[i + 2] == 0xA8 {
                    "\\u2028"
                } else {
                    "\\u2029"
                })
            }
            0xE2 => None,
            _ => {
                // Other control characters: \u00XX.
                out.push_str(&s[start..i]);
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
                i += 1;
                start = i;
                continue;
            }
        };
        match esc {
            Some(e) => {
                out.push_str(&s[start..i]);
                out.push_str(e);
                i += if b == 0xE2 { 3 } else { 1 };
                start = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends the decimal form of `n` (faster than `write!`).
pub fn write_int(out: &mut String, n: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    for &d in &buf[pos..] {
        out.push(d as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut s = String::new();
        write_str(&mut s, "\"a<b>&c\n\u{1}\\\"");
        assert_eq!(s, r#""a\u003cb\u003e\u0026c\n\u0001\\""#);
        s.clear();
        write_str(&mut s, "é\u{2028}x\u{2029}€\u{7f}");
        assert_eq!(s, "\"é\\u2028x\\u2029€\u{7f}\"");
        for n in [0i64, 7, -7, 1234567890123, i64::MIN, i64::MAX] {
            let mut s = String::new();
            write_int(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        assert_eq!(trim_bounding_quotes("'x'"), "x");
        assert_eq!(trim_bounding_quotes("x"), "x");
    }

    fn keys(v: &str) -> Vec<String> {
        // Top-level keys in document order.
        let mut out = Vec::new();
        let (mut depth, mut in_str, mut esc, mut start) = (0i32, false, false, None);
        for (i, c) in v.char_indices() {
            if in_str {
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '"' {
                    in_str = false;
                    if depth == 1 {
                        if let Some(s) = start.take() {
                            let rest = &v[i + 1..];
                            if rest.starts_with(':') {
                                out.push(v[s..i].to_string());
                            }
                        }
                    }
                }
                continue;
            }
            match c {
                '"' => {
                    in_str = true;
                    start = Some(i + 1);
                }
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn process_event_shape() {
        use std::sync::Arc;
        use sysflow_format::flags::op;
        use sysflow_format::{Container, Header, Layout, Oid, Process, ProcessEvent, Record};
        let parent = Process {
            oid: Oid {
                hpid: 1,
                create_ts: 5,
            },
            exe: "/bin/bash".into(),
            ..Default::default()
        };
        let proc = Process {
            oid: Oid {
                hpid: 2,
                create_ts: 6,
            },
            poid: Some(parent.oid),
            exe: "/usr/bin/python".into(),
            exe_args: "x.py <a>".into(),
            ..Default::default()
        };
        let rec = FlatRecord {
            record: Record::ProcessEvent(ProcessEvent {
                op_flags: op::EXEC,
                ts: 7,
                tid: 2,
                ..Default::default()
            }),
            header: Some(Arc::new(Header {
                version: 5,
                exporter: "node".into(),
                ..Default::default()
            })),
            pod: None,
            container: Some(Arc::new(Container {
                id: "c1".into(),
                ..Default::default()
            })),
            parent: Some(Arc::new(parent)),
            process: Some(Arc::new(proc)),
            file: None,
            new_file: None,
            ancestors: Default::default(),
            layout: Layout::V5,
        };
        let policy =
            "- rule: r\n  desc: d\n  condition: sf.type = PE\n  priority: high\n  tags: [t1]\n";
        let engine =
            sysflow_policy::PolicyEngine::from_sources(&[("p.yaml", policy)], &Default::default())
                .unwrap();
        let rule = engine.rules()[0].clone();
        let ev = Event {
            record: &rec,
            rules: &[rule],
            tags: &[],
        };
        let mut out = String::new();
        JsonEncoder::default().encode_str(&ev, &mut out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            keys(&out),
            [
                "version",
                "endts",
                "opflags",
                "ret",
                "ts",
                "type",
                "container",
                "meta",
                "node",
                "pproc",
                "proc",
                "policies",
                "tags"
            ],
            "{out}"
        );
        assert_eq!(v["opflags"], serde_json::json!(["EXEC"]));
        assert_eq!(v["proc"]["args"], "x.py <a>");
        assert!(out.contains(r#""args":"x.py \u003ca\u003e""#), "{out}");
        assert_eq!(v["pproc"]["exe"], "/bin/bash");
        assert_eq!(
            v["policies"],
            serde_json::json!([{"id": "r", "desc": "d", "priority": 3}])
        );
        assert_eq!(v["tags"], serde_json::json!(["t1"]));
    }

    #[test]
    fn every_exported_field_has_a_place() {
        let enc = JsonEncoder::default();
        let placed = enc.top.len() + enc.sections.iter().map(|s| s.fields.len()).sum::<usize>();
        assert_eq!(
            placed,
            Field::exported().len(),
            "sections: {:?}",
            enc.sections.iter().map(|s| s.name).collect::<Vec<_>>()
        );
        let names: Vec<&str> = enc.top.iter().map(|(_, k)| *k).collect();
        assert_eq!(names, ["endts", "opflags", "ret", "ts", "type"]);
    }
}
