//! Sigma rules (`language: sigma`): YAML rule files read into a small condition tree over SysFlow fields, which the
//! compiler lowers onto the same evaluator as SFPL.
//!
//! Field names are mapped by the Sigma configuration's `fieldmappings` (e.g. `Image: sf.proc.exe`); unmapped names
//! stay as written (and, like unknown SFPL fields, compare as literals). Semantics follow the Sigma specification,
//! with the reference's bugs reproduced only under [`Compat::Reference`] (see the crate README): a list of maps is an
//! OR (the reference ANDs it), `*`/`?` in values are wildcards (literal in the reference), `them` leaves out
//! `_`-prefixed searches, `logsource` restricts the record types (`process_creation` = exec events; the reference
//! ignores it, so a process rule also fires on the process's file and network flows), and `base64offset`/`cidr` work
//! (the reference panics).

use std::collections::HashMap;
use std::path::Path;

use yaml_serde::Value as Yaml;

use crate::engine::Priority;
use crate::error::{ErrorKind, Location, PolicyError};
use crate::fields::Compat;
use crate::jsonpath::wildcard_match as glob_match;
use sysflow_format::flags::base64;

/// Field mappings of a Sigma configuration file (`fieldmappings`; the first target when a list is given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SigmaConfig {
    map: HashMap<String, String>,
}

impl SigmaConfig {
    /// Reads a configuration file (only `fieldmappings` is used, as in the reference).
    pub fn load(path: &Path) -> Result<SigmaConfig, PolicyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::new(location(path, 0, 0), ErrorKind::Io(e.to_string())))?;
        Self::parse(&text, path)
    }

    /// Parses a configuration's text (`path` is named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<SigmaConfig, PolicyError> {
        let doc: Yaml = yaml_serde::from_str(text).map_err(|e| yaml_error(path, &e))?;
        let mut map = HashMap::new();
        if let Some(Yaml::Mapping(m)) = doc.get("fieldmappings") {
            for (k, v) in m {
                let target = match v {
                    Yaml::Sequence(s) => s.first().and_then(scalar),
                    v => scalar(v),
                };
                if let (Some(k), Some(t)) = (scalar(k), target) {
                    map.insert(k, t);
                }
            }
        }
        Ok(SigmaConfig { map })
    }

    fn field<'a>(&'a self, name: &'a str) -> &'a str {
        self.map.get(name).map_or(name, String::as_str)
    }
}

/// Comparison of a field with the values of one detection entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigmaOp {
    /// Case-insensitive equality (no modifier).
    Eq,
    /// Case-insensitive substring.
    Contains,
    /// Case-insensitive prefix.
    StartsWith,
    /// Case-insensitive suffix.
    EndsWith,
    /// Regular expression (values are patterns; also used for wildcard values).
    Regex,
    /// IP address inside a CIDR network.
    Cidr,
    /// Integer comparisons.
    Lt,
    Le,
    Gt,
    Ge,
}

/// A Sigma condition over SysFlow fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SigmaExpr {
    Const(bool),
    And(Vec<SigmaExpr>),
    Or(Vec<SigmaExpr>),
    Not(Box<SigmaExpr>),
    /// `field|exists: true` (non-empty value).
    Exists(String),
    /// The field compared with one value.
    Cmp {
        field: String,
        op: SigmaOp,
        value: String,
    },
}

/// Record types a rule's `logsource` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogSource {
    /// Every record.
    Any,
    /// Process creation: exec events.
    ProcessCreation,
    /// File activity: file flows and file events.
    File,
    /// Network connections: network flows.
    Network,
}

/// One compiled rule (one per entry of `detection.condition`).
#[derive(Debug, Clone)]
pub(crate) struct SigmaRule {
    /// The rule id (the reference's rule name), or the title when there is no id.
    pub name: String,
    pub desc: String,
    pub tags: Vec<String>,
    pub priority: Priority,
    pub logsource: LogSource,
    pub cond: SigmaExpr,
}

fn location(path: &Path, line: u32, col: u32) -> Location {
    Location {
        file: path.to_path_buf(),
        line,
        column: col,
        item: None,
    }
}

fn yaml_error(path: &Path, e: &yaml_serde::Error) -> PolicyError {
    let (line, col) = e
        .location()
        .map_or((0, 0), |l| (l.line() as u32, l.column() as u32));
    PolicyError::new(location(path, line, col), ErrorKind::Sigma(e.to_string()))
}

fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

/// Parses one Sigma rule file into its rules (one per condition). Problems that make a rule unusable are errors
/// naming the file and rule; the caller decides whether to skip the file (the reference does).
pub(crate) fn parse_rules(
    text: &str,
    path: &Path,
    cfg: &SigmaConfig,
    compat: Compat,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<SigmaRule>, PolicyError> {
    let doc: Yaml = yaml_serde::from_str(text).map_err(|e| yaml_error(path, &e))?;
    let title = doc.get("title").and_then(scalar).unwrap_or_default();
    let name = doc
        .get("id")
        .and_then(scalar)
        .unwrap_or_else(|| title.clone());
    let err = |msg: String| {
        PolicyError::new(
            Location {
                item: Some(format!("sigma rule '{name}'")),
                ..location(path, 0, 0)
            },
            ErrorKind::Sigma(msg),
        )
    };
    let Some(Yaml::Mapping(detection)) = doc.get("detection") else {
        return Err(err("no `detection` section".into()));
    };
    let conditions: Vec<String> = match detection.get("condition") {
        Some(Yaml::Sequence(s)) => s.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
        None => return Err(err("no `detection.condition`".into())),
    };
    let mut searches: Vec<(String, SigmaExpr)> = Vec::new();
    for (k, v) in detection {
        let Some(k) = scalar(k) else { continue };
        if k == "condition" || k == "timeframe" {
            continue;
        }
        let e = search(v, cfg, compat, warn).map_err(|m| err(format!("search '{k}': {m}")))?;
        searches.push((k, e));
    }
    let level = doc.get("level").and_then(scalar).unwrap_or_default();
    let priority = match level.to_ascii_lowercase().as_str() {
        "low" => Priority::Low,
        "medium" => Priority::Medium,
        "high" => Priority::High,
        "critical" => Priority::Critical,
        _ => Priority::Informational,
    };
    let tags = match doc.get("tags") {
        Some(Yaml::Sequence(s)) => s.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    };
    let logsource = if compat == Compat::Reference {
        LogSource::Any
    } else {
        let category = doc
            .get("logsource")
            .and_then(|l| l.get("category"))
            .and_then(scalar)
            .unwrap_or_default();
        match category.as_str() {
            "process_creation" => LogSource::ProcessCreation,
            "file_event" | "file_change" | "file_rename" | "file_delete" | "file_access" => {
                LogSource::File
            }
            "network_connection" | "firewall" => LogSource::Network,
            _ => LogSource::Any,
        }
    };
    let desc = doc.get("description").and_then(scalar).unwrap_or_default();
    let mut out = Vec::new();
    for c in conditions {
        let cond = Condition::parse(&c, &searches, compat, warn)
            .map_err(|m| err(format!("condition '{c}': {m}")))?;
        out.push(SigmaRule {
            name: name.clone(),
            desc: desc.clone(),
            tags: tags.clone(),
            priority,
            logsource,
            cond,
        });
    }
    Ok(out)
}

/// A search identifier's value: a map (fields AND'ed), a list of maps (OR'ed), or keywords (unsupported).
fn search(
    v: &Yaml,
    cfg: &SigmaConfig,
    compat: Compat,
    warn: &mut dyn FnMut(String),
) -> Result<SigmaExpr, String> {
    match v {
        Yaml::Mapping(m) => {
            let mut all = Vec::with_capacity(m.len());
            for (k, v) in m {
                let k = scalar(k).ok_or("a field name is not a string")?;
                all.push(field_entry(&k, v, cfg, compat)?);
            }
            Ok(SigmaExpr::And(all))
        }
        Yaml::Sequence(s) if s.iter().all(|x| matches!(x, Yaml::Mapping(_))) && !s.is_empty() => {
            let parts = s
                .iter()
                .map(|x| search(x, cfg, compat, warn))
                .collect::<Result<Vec<_>, _>>()?;
            // Sigma: a list of maps is an OR; the reference ANDs it.
            Ok(if compat == Compat::Reference {
                SigmaExpr::And(parts)
            } else {
                SigmaExpr::Or(parts)
            })
        }
        Yaml::Tagged(t) => search(&t.value, cfg, compat, warn),
        _ => {
            warn(
                "keyword searches (values without a field) are not supported: they never match"
                    .into(),
            );
            Ok(SigmaExpr::Const(false))
        }
    }
}

/// One `Field|modifier...: value(s)` entry.
fn field_entry(
    key: &str,
    v: &Yaml,
    cfg: &SigmaConfig,
    compat: Compat,
) -> Result<SigmaExpr, String> {
    let mut parts = key.split('|');
    let field = cfg.field(parts.next().unwrap_or_default()).to_owned();
    let mut op = SigmaOp::Eq;
    let mut all = false;
    let mut exists = false;
    let mut re_flags = String::new();
    let mut transforms: Vec<&str> = Vec::new();
    for m in parts {
        match m {
            "contains" => op = SigmaOp::Contains,
            "startswith" => op = SigmaOp::StartsWith,
            "endswith" => op = SigmaOp::EndsWith,
            "re" => op = SigmaOp::Regex,
            "i" | "m" | "s" if op == SigmaOp::Regex => re_flags.push_str(m),
            "cidr" => op = SigmaOp::Cidr,
            "lt" => op = SigmaOp::Lt,
            "lte" => op = SigmaOp::Le,
            "gt" => op = SigmaOp::Gt,
            "gte" => op = SigmaOp::Ge,
            "all" => all = true,
            "exists" => exists = true,
            "base64" | "base64offset" | "windash" | "wide" | "utf16" | "utf16le" | "utf16be" => {
                transforms.push(m)
            }
            other => return Err(format!("unsupported modifier '{other}'")),
        }
    }
    let raw: Vec<Option<String>> = match v {
        Yaml::Sequence(s) => s.iter().map(value).collect(),
        v => vec![value(v)],
    };
    if exists {
        let want = raw
            .first()
            .and_then(|x| x.as_deref())
            .is_none_or(|x| x.eq_ignore_ascii_case("true"));
        let e = SigmaExpr::Exists(field);
        return Ok(if want { e } else { SigmaExpr::Not(Box::new(e)) });
    }
    let mut per_value = Vec::with_capacity(raw.len());
    for r in raw {
        let Some(s) = r else {
            // `null`: the field is empty or absent.
            per_value.push(SigmaExpr::Not(Box::new(SigmaExpr::Exists(field.clone()))));
            continue;
        };
        let mut variants = vec![s];
        for t in &transforms {
            variants = variants
                .into_iter()
                .flat_map(|v| transform(t, &v, compat))
                .collect();
        }
        let alts = variants
            .into_iter()
            .map(|v| comparison(&field, op, &v, &re_flags, compat))
            .collect::<Result<Vec<_>, _>>()?;
        per_value.push(SigmaExpr::Or(alts));
    }
    Ok(if all {
        SigmaExpr::And(per_value)
    } else {
        SigmaExpr::Or(per_value)
    })
}

/// A scalar value as text; `None` for `null`.
fn value(v: &Yaml) -> Option<String> {
    match v {
        Yaml::Null => None,
        v => Some(scalar(v).unwrap_or_default()),
    }
}

/// Value transformers; each yields the variants to match (OR'ed).
fn transform(t: &str, v: &str, compat: Compat) -> Vec<String> {
    match t {
        "base64" => vec![base64(v.as_bytes())],
        "base64offset" => (0..3)
            .map(|i| {
                let mut b = vec![b' '; i];
                b.extend_from_slice(v.as_bytes());
                let enc = base64(&b);
                let start = [0, 2, 3][i];
                let end_cut = [0, 3, 2][(v.len() + i) % 3];
                enc.get(start..enc.len().saturating_sub(end_cut))
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect(),
        "windash" => {
            let mut out = vec![v.to_owned(), v.replace('-', "/")];
            if compat == Compat::Fixed {
                for dash in ['\u{2013}', '\u{2014}', '\u{2015}'] {
                    out.push(v.replace('-', &dash.to_string()));
                }
            }
            out.dedup();
            out
        }
        // `wide`/`utf16*` only matter for binary encodings of Windows logs: no-ops here, as in the reference.
        _ => vec![v.to_owned()],
    }
}

/// Whether a value has an unescaped `*` or `?`.
fn has_wildcard(v: &str) -> bool {
    let mut esc = false;
    for c in v.chars() {
        match c {
            '\\' if !esc => esc = true,
            '*' | '?' if !esc => return true,
            _ => esc = false,
        }
    }
    false
}

/// A Sigma wildcard value as a regular expression body (`\*`, `\?` and `\\` are escapes).
fn glob_regex(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                let n = chars.next().unwrap_or('\\');
                out.push_str(&regex::escape(&n.to_string()));
            }
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

fn comparison(
    field: &str,
    op: SigmaOp,
    v: &str,
    re_flags: &str,
    compat: Compat,
) -> Result<SigmaExpr, String> {
    let cmp = |op, value: String| SigmaExpr::Cmp {
        field: field.to_owned(),
        op,
        value,
    };
    let string_op = matches!(
        op,
        SigmaOp::Eq | SigmaOp::Contains | SigmaOp::StartsWith | SigmaOp::EndsWith
    );
    if string_op && compat == Compat::Fixed && has_wildcard(v) {
        let body = glob_regex(v);
        let re = match op {
            SigmaOp::Eq => format!("(?is)^(?:{body})$"),
            SigmaOp::Contains => format!("(?is){body}"),
            SigmaOp::StartsWith => format!("(?is)^(?:{body})"),
            _ => format!("(?is)(?:{body})$"),
        };
        return Ok(cmp(SigmaOp::Regex, re));
    }
    match op {
        SigmaOp::Regex => {
            let re = if re_flags.is_empty() {
                v.to_owned()
            } else {
                format!("(?{re_flags}){v}")
            };
            regex::Regex::new(&re).map_err(|e| format!("bad regular expression '{v}': {e}"))?;
            Ok(cmp(SigmaOp::Regex, re))
        }
        SigmaOp::Cidr => {
            parse_cidr(v).ok_or_else(|| format!("bad CIDR network '{v}'"))?;
            Ok(cmp(op, v.to_owned()))
        }
        SigmaOp::Lt | SigmaOp::Le | SigmaOp::Gt | SigmaOp::Ge => {
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("'{v}' is not an integer"))?;
            Ok(cmp(op, v.trim().to_owned()))
        }
        _ => Ok(cmp(op, v.to_owned())),
    }
}

/// `addr/prefix` (or a bare address: a host network).
pub(crate) fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (a, p) = s.split_once('/').unwrap_or((s, ""));
    let addr: std::net::IpAddr = a.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = if p.is_empty() {
        max
    } else {
        p.trim().parse::<u8>().ok()?
    };
    (prefix <= max).then_some((addr, prefix))
}

/// Whether `ip` lies in the network `(net, prefix)`.
pub(crate) fn in_cidr(ip: std::net::IpAddr, net: std::net::IpAddr, prefix: u8) -> bool {
    use std::net::IpAddr;
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The condition language: `and`, `or`, `not`, parentheses, `1 of`/`any of`/`all of` a name pattern or `them`.
struct Condition<'a> {
    toks: Vec<String>,
    pos: usize,
    searches: &'a [(String, SigmaExpr)],
    compat: Compat,
    warn: &'a mut dyn FnMut(String),
}

impl<'a> Condition<'a> {
    fn parse(
        text: &str,
        searches: &'a [(String, SigmaExpr)],
        compat: Compat,
        warn: &'a mut dyn FnMut(String),
    ) -> Result<SigmaExpr, String> {
        if text.contains('|') {
            return Err("aggregations (`| count() ...`) are not supported".into());
        }
        let mut toks = Vec::new();
        let mut cur = String::new();
        for c in text.chars() {
            if c == '(' || c == ')' || c.is_whitespace() {
                if !cur.is_empty() {
                    toks.push(std::mem::take(&mut cur));
                }
                if !c.is_whitespace() {
                    toks.push(c.to_string());
                }
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            toks.push(cur);
        }
        let mut p = Condition {
            toks,
            pos: 0,
            searches,
            compat,
            warn,
        };
        let e = p.or()?;
        match p.toks.get(p.pos) {
            None => Ok(e),
            Some(t) => Err(format!("unexpected '{t}'")),
        }
    }

    fn peek_is(&self, kw: &str) -> bool {
        self.toks
            .get(self.pos)
            .is_some_and(|t| t.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<SigmaExpr, String> {
        let mut v = vec![self.and()?];
        while self.peek_is("or") {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            SigmaExpr::Or(v)
        })
    }

    fn and(&mut self) -> Result<SigmaExpr, String> {
        let mut v = vec![self.unary()?];
        while self.peek_is("and") {
            self.pos += 1;
            v.push(self.unary()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            SigmaExpr::And(v)
        })
    }

    fn unary(&mut self) -> Result<SigmaExpr, String> {
        if self.peek_is("not") {
            self.pos += 1;
            return Ok(SigmaExpr::Not(Box::new(self.unary()?)));
        }
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Err("unexpected end".into());
        };
        self.pos += 1;
        if t == "(" {
            let e = self.or()?;
            if !self.peek_is(")") {
                return Err("missing ')'".into());
            }
            self.pos += 1;
            return Ok(e);
        }
        let quant = if t == "1" || t.eq_ignore_ascii_case("any") {
            Some(false)
        } else if t.eq_ignore_ascii_case("all") {
            Some(true)
        } else {
            None
        };
        if let Some(all) = quant.filter(|_| self.peek_is("of")) {
            self.pos += 1;
            let Some(pat) = self.toks.get(self.pos).cloned() else {
                return Err(format!("'{t} of' needs a name pattern or 'them'"));
            };
            self.pos += 1;
            let them = pat.eq_ignore_ascii_case("them");
            let picked: Vec<SigmaExpr> = self
                .searches
                .iter()
                .filter(|(n, _)| {
                    if them {
                        // Sigma: `them` leaves out names starting with `_`; the reference includes them.
                        self.compat == Compat::Reference || !n.starts_with('_')
                    } else {
                        // `*`/`?` globs, as Go's `path.Match` for these names.
                        glob_match(&pat, n)
                    }
                })
                .map(|(_, e)| e.clone())
                .collect();
            if picked.is_empty() {
                (self.warn)(format!("'{t} of {pat}' names no search"));
            }
            return Ok(if all {
                SigmaExpr::And(picked)
            } else {
                SigmaExpr::Or(picked)
            });
        }
        match self.searches.iter().find(|(n, _)| *n == t) {
            Some((_, e)) => Ok(e.clone()),
            None => {
                (self.warn)(format!(
                    "unknown search identifier '{t}': evaluates to false"
                ));
                Ok(SigmaExpr::Const(false))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transformers_match_the_reference_vectors() {
        assert_eq!(base64(b"http://"), "aHR0cDovLw==");
        let w = transform("windash", "my-windows-variant", Compat::Reference);
        assert_eq!(w, ["my-windows-variant", "my/windows/variant"]);
        let b: Vec<String> = w.iter().map(|v| base64(v.as_bytes())).collect();
        assert!(b.contains(&"bXkvd2luZG93cy92YXJpYW50".to_owned()));
        // pySigma's base64offset of "/bin/bash".
        assert_eq!(
            transform("base64offset", "/bin/bash", Compat::Fixed),
            ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn wildcards_and_globs() {
        assert!(has_wildcard("a*b") && has_wildcard("?") && !has_wildcard(r"a\*b"));
        let re = regex::Regex::new(&format!("^{}$", glob_regex(r"/usr/*/py?hon\*"))).unwrap();
        assert!(re.is_match("/usr/bin/python*") && !re.is_match("/usr/bin/python3"));
        assert!(glob_match("selection_*", "selection_tomcat") && !glob_match("sel_*", "selection"));
    }

    #[test]
    fn cidr() {
        let (net, p) = parse_cidr("10.0.0.0/8").unwrap();
        assert!(in_cidr("10.1.2.3".parse().unwrap(), net, p));
        assert!(!in_cidr("11.1.2.3".parse().unwrap(), net, p));
        let (net, p) = parse_cidr("fd00::/8").unwrap();
        assert!(in_cidr("fd12::1".parse().unwrap(), net, p));
        assert!(parse_cidr("10.0.0.0/33").is_none() && parse_cidr("x").is_none());
        let (net, p) = parse_cidr("0.0.0.0/0").unwrap();
        assert!(in_cidr("1.2.3.4".parse().unwrap(), net, p));
    }

    #[test]
    fn conditions_and_searches() {
        let cfg = SigmaConfig::parse("fieldmappings:\n  Image: sf.proc.exe\n", Path::new("c.yml"))
            .unwrap();
        let rule = "title: t\nid: x1\nlevel: high\nlogsource: {category: process_creation}\ndetection:\n  sel_a:\n    Image|endswith: /sh\n  sel_b:\n    - Image: /bin/a\n    - Image: /bin/b\n  _skip:\n    Image: /x\n  condition: 1 of sel_* and not all of them\n";
        let mut warnings = Vec::new();
        let rules = parse_rules(rule, Path::new("r.yml"), &cfg, Compat::Fixed, &mut |w| {
            warnings.push(w)
        })
        .unwrap();
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert_eq!(
            (r.name.as_str(), r.priority, r.logsource),
            ("x1", Priority::High, LogSource::ProcessCreation)
        );
        let SigmaExpr::And(parts) = &r.cond else {
            panic!("{:?}", r.cond)
        };
        let SigmaExpr::Not(all) = &parts[1] else {
            panic!()
        };
        // `them` leaves `_skip` out.
        assert!(matches!(&**all, SigmaExpr::And(v) if v.len() == 2));
        assert!(warnings.is_empty(), "{warnings:?}");
        // Errors name the rule.
        let bad = "title: t\nid: x2\ndetection:\n  s:\n    Image|bogus: 1\n  condition: s\n";
        let e = parse_rules(bad, Path::new("r.yml"), &cfg, Compat::Fixed, &mut |_| {}).unwrap_err();
        assert!(
            e.to_string().contains("x2") && e.to_string().contains("bogus"),
            "{e}"
        );
        let agg = "title: t\ndetection:\n  s:\n    Image: a\n  condition: s | count() > 5\n";
        assert!(parse_rules(agg, Path::new("r.yml"), &cfg, Compat::Fixed, &mut |_| {}).is_err());
    }
}
