//! `-f` filters: the subset of the Falco/sinsp filter language that selects processes and containers.
//!
//! Grammar: `expr := or; or := and ("or" and)*; and := not ("and" not)*; not := "not" not | "(" expr ")" | cmp;
//! cmp := FIELD OP VALUE | FIELD "in" "(" VALUE ("," VALUE)* ")" | FIELD "exists"`, with `OP` one of `= == != <> contains
//! startswith endswith`. Values are bare words or quoted strings. Fields: `container.id`, `container.name`,
//! `container.image`, `container.type` (`host`, `docker`, `containerd`, `cri-o`, ...), `proc.name`, `proc.exe`,
//! `proc.pid`, `proc.ppid`, `proc.args`, `user.name`, `user.uid`. Anything else is rejected when the filter is
//! parsed, naming the offending token and its position.

use anyhow::{bail, Result};
use sysflow_format::{Container, ContainerType};

/// What a filter is evaluated against.
pub struct Subject<'a> {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Executable path.
    pub exe: &'a str,
    /// argv.
    pub args: &'a [String],
    /// Effective uid.
    pub uid: u32,
    /// User name.
    pub user: &'a str,
    /// Container, if any.
    pub container: Option<&'a Container>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ContainerId,
    ContainerName,
    ContainerImage,
    ContainerType,
    ProcName,
    ProcExe,
    ProcPid,
    ProcPpid,
    ProcArgs,
    UserName,
    UserUid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Field, Op, String),
    In(Field, Vec<String>),
    Exists(Field),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    expr: Expr,
}

fn field(name: &str) -> Option<Field> {
    Some(match name {
        "container.id" => Field::ContainerId,
        "container.name" => Field::ContainerName,
        "container.image" => Field::ContainerImage,
        "container.type" => Field::ContainerType,
        "proc.name" => Field::ProcName,
        "proc.exe" => Field::ProcExe,
        "proc.pid" => Field::ProcPid,
        "proc.ppid" => Field::ProcPpid,
        "proc.args" | "proc.cmdline" => Field::ProcArgs,
        "user.name" => Field::UserName,
        "user.uid" => Field::UserUid,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            b'(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            b',' => {
                out.push((start, Tok::Comma));
                i += 1;
            }
            b'=' => {
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
                out.push((start, Tok::Op("=")));
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                out.push((start, Tok::Op("!=")));
            }
            b'<' if b.get(i + 1) == Some(&b'>') => {
                i += 2;
                out.push((start, Tok::Op("!=")));
            }
            b'"' | b'\'' => {
                let q = c;
                i += 1;
                let mut v = String::new();
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    v.push(b[i] as char);
                    i += 1;
                }
                if i >= b.len() {
                    bail!(
                        "filter: unterminated string starting at column {}",
                        start + 1
                    );
                }
                i += 1;
                out.push((start, Tok::Str(v)));
            }
            _ => {
                while i < b.len() && !b[i].is_ascii_whitespace() && !b"(),=!<\"'".contains(&b[i]) {
                    i += 1;
                }
                if i == start {
                    bail!(
                        "filter: unexpected character {:?} at column {}",
                        c as char,
                        start + 1
                    );
                }
                out.push((start, Tok::Word(s[start..i].to_string())));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.0 + 1).unwrap_or(0)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.1.clone());
        self.pos += 1;
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn or(&mut self) -> Result<Expr> {
        let mut e = self.and()?;
        while self.is_word("or") {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr> {
        let mut e = self.not()?;
        while self.is_word("and") {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> Result<Expr> {
        if self.is_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                bail!("filter: expected ')' at column {}", self.col());
            }
            return Ok(e);
        }
        self.cmp()
    }
    fn value(&mut self) -> Result<String> {
        let col = self.col();
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => Ok(w),
            _ => bail!("filter: expected a value at column {col}"),
        }
    }
    fn cmp(&mut self) -> Result<Expr> {
        let col = self.col();
        let name = match self.next() {
            Some(Tok::Word(w)) => w,
            _ => bail!("filter: expected a field at column {col}"),
        };
        let Some(f) = field(&name) else {
            bail!("filter: unsupported field `{name}` at column {col}");
        };
        let col = self.col();
        match self.next() {
            Some(Tok::Op("=")) => Ok(Expr::Cmp(f, Op::Eq, self.value()?)),
            Some(Tok::Op("!=")) => Ok(Expr::Cmp(f, Op::Ne, self.value()?)),
            Some(Tok::Word(w)) if w == "contains" => Ok(Expr::Cmp(f, Op::Contains, self.value()?)),
            Some(Tok::Word(w)) if w == "startswith" => {
                Ok(Expr::Cmp(f, Op::StartsWith, self.value()?))
            }
            Some(Tok::Word(w)) if w == "endswith" => Ok(Expr::Cmp(f, Op::EndsWith, self.value()?)),
            Some(Tok::Word(w)) if w == "exists" => Ok(Expr::Exists(f)),
            Some(Tok::Word(w)) if w == "in" => {
                if self.next() != Some(Tok::LParen) {
                    bail!("filter: expected '(' after `in` at column {}", self.col());
                }
                let mut vals = vec![self.value()?];
                loop {
                    match self.next() {
                        Some(Tok::Comma) => vals.push(self.value()?),
                        Some(Tok::RParen) => break,
                        _ => bail!("filter: expected ',' or ')' at column {}", self.col()),
                    }
                }
                Ok(Expr::In(f, vals))
            }
            _ => bail!("filter: expected an operator after `{name}` at column {col}"),
        }
    }
}

fn type_name(t: ContainerType) -> &'static str {
    match t {
        ContainerType::Docker => "docker",
        ContainerType::Lxc => "lxc",
        ContainerType::LibvirtLxc => "libvirt-lxc",
        ContainerType::Mesos => "mesos",
        ContainerType::Rkt => "rkt",
        ContainerType::Custom => "custom",
        ContainerType::Cri => "cri",
        ContainerType::Containerd => "containerd",
        ContainerType::Crio => "cri-o",
        ContainerType::Bpm => "bpm",
    }
}

fn value_of(f: Field, s: &Subject<'_>) -> Option<String> {
    let c = s.container;
    Some(match f {
        Field::ContainerId => c
            .map(|c| c.id.clone())
            .unwrap_or_else(|| "host".to_string()),
        Field::ContainerName => c
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "host".to_string()),
        Field::ContainerImage => c.map(|c| c.image.clone())?,
        Field::ContainerType => c
            .map(|c| type_name(c.container_type).to_string())
            .unwrap_or_else(|| "host".into()),
        Field::ProcName => s.exe.rsplit('/').next().unwrap_or(s.exe).to_string(),
        Field::ProcExe => s.exe.to_string(),
        Field::ProcPid => s.pid.to_string(),
        Field::ProcPpid => s.ppid.to_string(),
        Field::ProcArgs => s.args.get(1..).map(|a| a.join(" ")).unwrap_or_default(),
        Field::UserName => s.user.to_string(),
        Field::UserUid => s.uid.to_string(),
    })
}

fn eval(e: &Expr, s: &Subject<'_>) -> bool {
    match e {
        Expr::And(a, b) => eval(a, s) && eval(b, s),
        Expr::Or(a, b) => eval(a, s) || eval(b, s),
        Expr::Not(a) => !eval(a, s),
        Expr::Exists(f) => value_of(*f, s).is_some(),
        Expr::In(f, vals) => value_of(*f, s).is_some_and(|v| vals.contains(&v)),
        Expr::Cmp(f, op, want) => {
            let Some(v) = value_of(*f, s) else {
                return *op == Op::Ne;
            };
            match op {
                Op::Eq => &v == want,
                Op::Ne => &v != want,
                Op::Contains => v.contains(want.as_str()),
                Op::StartsWith => v.starts_with(want.as_str()),
                Op::EndsWith => v.ends_with(want.as_str()),
            }
        }
    }
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(s: &str) -> Result<Filter> {
        let toks = lex(s)?;
        if toks.is_empty() {
            bail!("filter: empty expression");
        }
        let mut p = Parser { toks, pos: 0 };
        let expr = p.or()?;
        if p.pos < p.toks.len() {
            bail!("filter: unexpected token at column {}", p.col());
        }
        Ok(Filter { expr })
    }

    /// Whether `s` passes the filter.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        eval(&self.expr, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(exe: &'a str, args: &'a [String], c: Option<&'a Container>) -> Subject<'a> {
        Subject {
            pid: 10,
            ppid: 1,
            exe,
            args,
            uid: 0,
            user: "root",
            container: c,
        }
    }

    #[test]
    fn reference_default_filter() {
        let f =
            Filter::parse("container.type!=host and container.name!=sfprocessor").expect("parses");
        let args = vec!["x".to_string()];
        assert!(!f.matches(&subject("/bin/x", &args, None)));
        let c = Container {
            id: "abc".into(),
            name: "web".into(),
            ..Container::default()
        };
        assert!(f.matches(&subject("/bin/x", &args, Some(&c))));
        let p = Container {
            id: "abd".into(),
            name: "sfprocessor".into(),
            ..Container::default()
        };
        assert!(!f.matches(&subject("/bin/x", &args, Some(&p))));
    }

    #[test]
    fn operators_and_errors() {
        let args = vec!["curl".to_string(), "-s".to_string()];
        let s = subject("/usr/bin/curl", &args, None);
        assert!(Filter::parse("proc.name in (wget, curl)")
            .expect("in")
            .matches(&s));
        assert!(Filter::parse("not proc.exe startswith /bin")
            .expect("not")
            .matches(&s));
        assert!(
            Filter::parse("(proc.args contains \"-s\" or user.uid=5) and proc.pid=10")
                .expect("and")
                .matches(&s)
        );
        let e = Filter::parse("fd.name=/etc/passwd").expect_err("unsupported field");
        assert!(e.to_string().contains("fd.name"), "{e}");
        assert!(Filter::parse("proc.name = ").is_err());
        assert!(Filter::parse("(proc.name = a").is_err());
    }
}
