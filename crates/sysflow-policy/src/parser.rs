//! Token-level SFPL parser, equivalent to the reference ANTLR grammar (`Sfpl.g4`).
//!
//! The policy file is *not* read as YAML: it is split into tokens (whitespace, newlines and `#` comments are
//! skipped), so tabs and loose indentation are accepted exactly as the reference accepts them. Tokenisation follows
//! ANTLR's rules: the longest match wins, and on a tie the rule declared first (keywords before identifiers).

use crate::error::{ErrorKind, Location, PolicyError};
use std::path::Path;

/// Token types of the SFPL lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Rule,
    Filter,
    Drop,
    Macro,
    List,
    Name,
    Items,
    Cond,
    Desc,
    Actions,
    Output,
    Priority,
    Tags,
    Prefilter,
    Enabled,
    WarnEvtTypes,
    SkipUnknown,
    Append,
    Req,
    And,
    Or,
    Not,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Neq,
    In,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    PMatch,
    Exists,
    LBrack,
    RBrack,
    LParen,
    RParen,
    Comma,
    Decl,
    Def,
    Severity,
    Id,
    Number,
    Path,
    Str,
    Tag,
    Any,
    Eof,
}

/// Literal-text token rules, in grammar declaration order (the order breaks ties between equal-length matches).
const LITERALS: &[(&str, Tok)] = &[
    ("rule", Tok::Rule),
    ("filter", Tok::Filter),
    ("drop", Tok::Drop),
    ("macro", Tok::Macro),
    ("list", Tok::List),
    ("name", Tok::Name),
    ("items", Tok::Items),
    ("condition", Tok::Cond),
    ("desc", Tok::Desc),
    ("actions", Tok::Actions),
    ("output", Tok::Output),
    ("priority", Tok::Priority),
    ("tags", Tok::Tags),
    ("prefilter", Tok::Prefilter),
    ("enabled", Tok::Enabled),
    ("warn_evttypes", Tok::WarnEvtTypes),
    ("skip-if-unknown-filter", Tok::SkipUnknown),
    ("append", Tok::Append),
    ("required_engine_version", Tok::Req),
    ("and", Tok::And),
    ("or", Tok::Or),
    ("not", Tok::Not),
    ("<", Tok::Lt),
    ("<=", Tok::Le),
    (">", Tok::Gt),
    (">=", Tok::Ge),
    ("=", Tok::Eq),
    ("!=", Tok::Neq),
    ("in", Tok::In),
    ("contains", Tok::Contains),
    ("icontains", Tok::IContains),
    ("startswith", Tok::StartsWith),
    ("endswith", Tok::EndsWith),
    ("pmatch", Tok::PMatch),
    ("exists", Tok::Exists),
    ("[", Tok::LBrack),
    ("]", Tok::RBrack),
    ("(", Tok::LParen),
    (")", Tok::RParen),
    (",", Tok::Comma),
    ("-", Tok::Decl),
];

const SEVERITIES: &[&str] = &[
    "high",
    "medium",
    "low",
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "info",
    "informational",
    "debug",
];

/// Words that end a free-text value (rule name, desc, output).
const TEXT_STOP: &[&str] = &[
    "desc",
    "condition",
    "actions",
    "output",
    "priority",
    "tags",
    "prefilter",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "append",
];

/// One token: type and byte span, with the 1-based line and column of its start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
    pub line: u32,
    pub col: u32,
}

fn is_id_start(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_id_cont(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'*')
}

fn is_path_start(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.')
}

fn is_path_cont(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'*')
}

fn match_number(s: &[u8]) -> usize {
    let mut i = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if i == 0 {
        return 0;
    }
    if s.get(i) == Some(&b'.') {
        let frac = s[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac > 0 {
            i += 1 + frac;
        }
    }
    i
}

fn match_path(s: &[u8]) -> usize {
    if s.is_empty() || !is_path_start(s[0]) {
        return 0;
    }
    1 + s[1..].iter().take_while(|c| is_path_cont(**c)).count()
}

/// The optional jsonpath suffix of an identifier: `':'? '[' (NUMBER|PATH) (':' PATH)* ']'`.
fn match_bracket(s: &[u8]) -> usize {
    let mut i = 0;
    if s.first() == Some(&b':') {
        i += 1;
    }
    if s.get(i) != Some(&b'[') {
        return 0;
    }
    i += 1;
    let n = match_number(&s[i..]).max(match_path(&s[i..]));
    if n == 0 {
        return 0;
    }
    i += n;
    while s.get(i) == Some(&b':') {
        let p = match_path(&s[i + 1..]);
        if p == 0 {
            break;
        }
        i += 1 + p;
    }
    if s.get(i) == Some(&b']') {
        i + 1
    } else {
        0
    }
}

fn match_id(s: &[u8]) -> usize {
    if s.is_empty() || !is_id_start(s[0]) {
        return 0;
    }
    let mut i = 1;
    loop {
        if i < s.len() && is_id_cont(s[i]) {
            i += 1;
            continue;
        }
        let b = match_bracket(&s[i..]);
        if b > 0 {
            i += b;
            continue;
        }
        return i;
    }
}

fn match_tag(s: &[u8]) -> usize {
    let a = match_id(s);
    if a == 0 || s.get(a) != Some(&b':') {
        return 0;
    }
    let b = match_id(&s[a + 1..]);
    if b == 0 {
        0
    } else {
        a + 1 + b
    }
}

/// Quoted strings: `"…"`, `'…'`, `\"…\"`, `''…''` on one line.
///
/// The reference rule is `Q (STRING | STRLIT) Q` with a non-greedy `STRLIT`: a string ends at the first closing
/// quote, unless its content starts with another quote form whose closing quote is directly followed by the outer
/// closing quote later on the line (`'"sh -c node -e \"require(''nan'')\""'` is one token); the longest such
/// match wins, as in ANTLR's lexer.
fn match_string(s: &[u8]) -> usize {
    const FORMS: [&[u8]; 4] = [b"\"", b"'", b"\\\"", b"''"];
    let line_end = s
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .unwrap_or(s.len());
    let line = &s[..line_end];
    let find = |from: usize, pat: &[u8]| -> Option<usize> {
        line.get(from..)?
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| from + p)
    };
    let mut best = 0;
    for q in FORMS {
        if !line.starts_with(q) {
            continue;
        }
        let cs = q.len();
        if let Some(p) = find(cs, q) {
            best = best.max(p + q.len());
        }
        for q2 in FORMS {
            if !line[cs..].starts_with(q2) {
                continue;
            }
            let mut close = [q2, q].concat();
            close.truncate(q2.len() + q.len());
            if let Some(p) = find(cs + q2.len(), &close) {
                best = best.max(p + close.len());
            }
        }
    }
    best
}

fn match_def(s: &[u8]) -> usize {
    if s.first() != Some(&b':') {
        return 0;
    }
    let spaces = s[1..].iter().take_while(|&&c| c == b' ').count();
    if s.get(1 + spaces) == Some(&b'>') {
        2 + spaces
    } else {
        1
    }
}

fn match_severity(s: &[u8]) -> usize {
    SEVERITIES
        .iter()
        .filter(|w| s.len() >= w.len() && s[..w.len()].eq_ignore_ascii_case(w.as_bytes()))
        .map(|w| w.len())
        .max()
        .unwrap_or(0)
}

/// Splits `src` into tokens, skipping whitespace and comments.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            i += 1;
            line += 1;
            line_start = i;
            continue;
        }
        if matches!(c, b' ' | b'\t' | b'\r' | 0x0c) {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                i += 1;
            }
            continue;
        }
        let s = &bytes[i..];
        // Candidates in declaration order; the longest wins, ties go to the earliest.
        let mut best = (0usize, Tok::Any);
        let mut consider = |len: usize, tok: Tok| {
            if len > best.0 {
                best = (len, tok);
            }
        };
        for (lit, tok) in LITERALS {
            if s.starts_with(lit.as_bytes()) {
                consider(lit.len(), *tok);
            }
        }
        consider(match_def(s), Tok::Def);
        consider(match_severity(s), Tok::Severity);
        consider(match_id(s), Tok::Id);
        consider(match_number(s), Tok::Number);
        consider(match_path(s), Tok::Path);
        consider(match_string(s), Tok::Str);
        consider(match_tag(s), Tok::Tag);
        if best.0 == 0 {
            // ANY: one character.
            let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
            best = (ch_len, Tok::Any);
        }
        let col = src[line_start..i].chars().count() as u32 + 1;
        out.push(Token {
            tok: best.1,
            start: i,
            end: i + best.0,
            line,
            col,
        });
        i += best.0;
    }
    let col = src[line_start..].chars().count() as u32 + 1;
    out.push(Token {
        tok: Tok::Eof,
        start: bytes.len(),
        end: bytes.len(),
        line,
        col,
    });
    out
}

/// A source position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}

/// An operand as written (token text, quotes kept).
#[derive(Debug, Clone)]
pub(crate) struct Atom {
    pub text: String,
    pub pos: Pos,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Neq,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
}

/// Parsed condition expression.
#[derive(Debug, Clone)]
pub(crate) enum Ast {
    Or(Vec<Ast>),
    And(Vec<Ast>),
    Not(Box<Ast>),
    /// A bare identifier: a macro reference.
    Ref(String, Pos),
    Exists(Atom),
    Bin(Atom, BinOp, Atom),
    /// `in` (`pmatch = false`) or `pmatch`: the atoms inside the parentheses (`[...]` groups are ignored, as in the
    /// reference).
    In {
        lhs: Atom,
        pmatch: bool,
        items: Vec<Atom>,
    },
}

/// A top-level declaration.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    List {
        name: String,
        items: Vec<String>,
    },
    Macro {
        name: String,
        cond: Ast,
    },
    Rule(RuleDecl),
    Filter {
        name: String,
        cond: Ast,
        enabled: Option<Atom>,
        pos: Pos,
    },
}

/// A parsed rule.
#[derive(Debug, Clone)]
pub(crate) struct RuleDecl {
    pub name: String,
    pub desc: String,
    pub cond: Ast,
    pub pos: Pos,
    pub actions: Vec<String>,
    pub tags: Vec<String>,
    pub prefilter: Vec<String>,
    pub priority: Option<(String, Pos)>,
    pub enabled: Option<Atom>,
}

/// Go `TrimBoundingQuotes`: drops one leading and one trailing `"`/`'` independently.
pub(crate) fn trim_bounding_quotes(s: &str) -> &str {
    let s = s.strip_prefix(['"', '\'']).unwrap_or(s);
    s.strip_suffix(['"', '\'']).unwrap_or(s)
}

/// The reference's list extraction: token texts concatenated, the bracket pair removed, split at `,`, bounding
/// quotes trimmed (so a comma inside a quoted item splits it, and `[]` gives one empty item).
fn extract_list(text: &str) -> Vec<String> {
    let inner = text.strip_prefix('[').map_or(text, |t| match t.rfind(']') {
        Some(p) => &t[..p],
        None => t,
    });
    inner
        .split(',')
        .map(|s| trim_bounding_quotes(s).to_owned())
        .collect()
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    file: &'a Path,
    /// The declaration being parsed, for error messages.
    item: Option<String>,
}

type PResult<T> = Result<T, PolicyError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> Token {
        self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn peek_at(&self, k: usize) -> Token {
        self.toks[(self.i + k).min(self.toks.len() - 1)]
    }
    fn text(&self, t: Token) -> &'a str {
        &self.src[t.start..t.end]
    }
    fn bump(&mut self) -> Token {
        let t = self.peek();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn pos(t: Token) -> Pos {
        Pos {
            line: t.line,
            col: t.col,
        }
    }
    fn err(&self, t: Token, msg: String) -> PolicyError {
        PolicyError::new(
            Location {
                file: self.file.to_path_buf(),
                line: t.line,
                column: t.col,
                item: self.item.clone(),
            },
            ErrorKind::Syntax(msg),
        )
    }
    fn describe(&self, t: Token) -> String {
        if t.tok == Tok::Eof {
            "end of file".to_owned()
        } else {
            format!("'{}'", self.text(t))
        }
    }
    fn expect(&mut self, tok: Tok, what: &str) -> PResult<Token> {
        let t = self.peek();
        if t.tok == tok {
            Ok(self.bump())
        } else {
            Err(self.err(t, format!("expected {what}, found {}", self.describe(t))))
        }
    }

    fn is_decl_keyword(tok: Tok) -> bool {
        matches!(
            tok,
            Tok::Rule | Tok::Filter | Tok::Drop | Tok::Macro | Tok::List | Tok::Req
        )
    }

    /// Whether the tokens at the cursor start a new declaration (`- rule:` ...).
    fn at_declaration(&self) -> bool {
        self.peek().tok == Tok::Decl
            && Self::is_decl_keyword(self.peek_at(1).tok)
            && self.peek_at(2).tok == Tok::Def
    }

    /// Free text: tokens up to a key word; returns the raw source slice.
    fn text_value(&mut self, what: &str) -> PResult<String> {
        let first = self.peek();
        let mut last = None;
        loop {
            let t = self.peek();
            if t.tok == Tok::Eof
                || TEXT_STOP.contains(&self.text(t))
                || (last.is_some() && self.at_declaration())
            {
                break;
            }
            last = Some(self.bump());
        }
        match last {
            Some(l) => Ok(self.src[first.start..l.end].to_owned()),
            None => Err(self.err(
                first,
                format!("expected {what}, found {}", self.describe(first)),
            )),
        }
    }

    fn is_atom(tok: Tok) -> bool {
        matches!(
            tok,
            Tok::Id | Tok::Path | Tok::Number | Tok::Tag | Tok::Str | Tok::Lt | Tok::Gt
        )
    }

    fn atom(&mut self) -> PResult<Atom> {
        let t = self.peek();
        if Self::is_atom(t.tok) {
            self.bump();
            Ok(Atom {
                text: self.text(t).to_owned(),
                pos: Self::pos(t),
            })
        } else {
            Err(self.err(t, format!("expected a value, found {}", self.describe(t))))
        }
    }

    /// `[ atom (, atom)* ,? ]`, returned as the reference's list items.
    fn list_value(&mut self) -> PResult<Vec<String>> {
        let open = self.expect(Tok::LBrack, "'['")?;
        let mut text = String::from("[");
        let mut need_atom = true;
        loop {
            let t = self.peek();
            match t.tok {
                Tok::RBrack => {
                    self.bump();
                    text.push(']');
                    break;
                }
                Tok::Comma if !need_atom || text.len() == 1 => {
                    // A comma may follow an atom; `[,]` is not valid but a trailing comma is.
                    if text.len() == 1 {
                        return Err(self.err(t, "expected a list item, found ','".to_owned()));
                    }
                    self.bump();
                    text.push(',');
                    need_atom = true;
                }
                tok if Self::is_atom(tok) && need_atom => {
                    self.bump();
                    text.push_str(self.text(t));
                    need_atom = false;
                }
                Tok::Eof => return Err(self.err(open, "unterminated list: missing ']'".to_owned())),
                _ => return Err(self.err(t, format!("unexpected {} in list", self.describe(t)))),
            }
        }
        Ok(extract_list(&text))
    }

    fn expression(&mut self) -> PResult<Ast> {
        let mut ors = vec![self.and_expr()?];
        while self.peek().tok == Tok::Or {
            self.bump();
            ors.push(self.and_expr()?);
        }
        Ok(if ors.len() == 1 {
            ors.pop().unwrap_or(Ast::Or(Vec::new()))
        } else {
            Ast::Or(ors)
        })
    }

    fn and_expr(&mut self) -> PResult<Ast> {
        let mut ands = vec![self.term()?];
        while self.peek().tok == Tok::And {
            self.bump();
            ands.push(self.term()?);
        }
        Ok(if ands.len() == 1 {
            ands.pop().unwrap_or(Ast::And(Vec::new()))
        } else {
            Ast::And(ands)
        })
    }

    fn term(&mut self) -> PResult<Ast> {
        let t = self.peek();
        match t.tok {
            Tok::Not => {
                self.bump();
                Ok(Ast::Not(Box::new(self.term()?)))
            }
            Tok::LParen => {
                self.bump();
                let e = self.expression()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            tok if Self::is_atom(tok) => {
                let next = self.peek_at(1).tok;
                let binop = match next {
                    Tok::Lt => Some(BinOp::Lt),
                    Tok::Le => Some(BinOp::Le),
                    Tok::Gt => Some(BinOp::Gt),
                    Tok::Ge => Some(BinOp::Ge),
                    Tok::Eq => Some(BinOp::Eq),
                    Tok::Neq => Some(BinOp::Neq),
                    Tok::Contains => Some(BinOp::Contains),
                    Tok::IContains => Some(BinOp::IContains),
                    Tok::StartsWith => Some(BinOp::StartsWith),
                    Tok::EndsWith => Some(BinOp::EndsWith),
                    _ => None,
                };
                // `a < b` vs a bare macro reference followed by something else: an operator after the atom wins
                // only if an operand follows it (`evt.dir = <` is a comparison with the atom `<`).
                if let Some(op) = binop {
                    if Self::is_atom(self.peek_at(2).tok) {
                        let lhs = self.atom()?;
                        self.bump();
                        let rhs = self.atom()?;
                        return Ok(Ast::Bin(lhs, op, rhs));
                    }
                    let op_tok = self.peek_at(1);
                    let after = self.peek_at(2);
                    return Err(self.err(
                        after,
                        format!("expected a value after {}", self.describe(op_tok)),
                    ));
                }
                match next {
                    Tok::Exists => {
                        let a = self.atom()?;
                        self.bump();
                        Ok(Ast::Exists(a))
                    }
                    Tok::In | Tok::PMatch => {
                        let lhs = self.atom()?;
                        let pmatch = self.bump().tok == Tok::PMatch;
                        self.expect(Tok::LParen, "'(' after in/pmatch")?;
                        let mut items = Vec::new();
                        loop {
                            let t = self.peek();
                            if Self::is_atom(t.tok) {
                                items.push(self.atom()?);
                            } else if t.tok == Tok::LBrack {
                                // `[...]` groups parse but are ignored by the reference (`AllAtom()` only).
                                self.list_value()?;
                            } else {
                                return Err(self.err(
                                    t,
                                    format!("expected a list item, found {}", self.describe(t)),
                                ));
                            }
                            let t = self.peek();
                            match t.tok {
                                Tok::Comma => {
                                    self.bump();
                                }
                                Tok::RParen => {
                                    self.bump();
                                    break;
                                }
                                _ => {
                                    return Err(self.err(
                                        t,
                                        format!("expected ',' or ')', found {}", self.describe(t)),
                                    ))
                                }
                            }
                        }
                        Ok(Ast::In { lhs, pmatch, items })
                    }
                    _ if tok == Tok::Id => {
                        self.bump();
                        Ok(Ast::Ref(self.text(t).to_owned(), Self::pos(t)))
                    }
                    _ => Err(self.err(
                        self.peek_at(1),
                        format!("expected an operator after {}", self.describe(t)),
                    )),
                }
            }
            _ => Err(self.err(
                t,
                format!("expected a condition term, found {}", self.describe(t)),
            )),
        }
    }

    fn declaration(&mut self) -> PResult<Item> {
        self.item = None;
        let decl = self.expect(Tok::Decl, "'-' starting a rule, macro, list or filter")?;
        let kw = self.peek();
        match kw.tok {
            Tok::Rule => {
                self.bump();
                self.expect(Tok::Def, "':'")?;
                let name = self.text_value("a rule name")?;
                self.item = Some(format!("rule '{name}'"));
                self.expect(Tok::Desc, "'desc'")?;
                self.expect(Tok::Def, "':'")?;
                let desc = self.text_value("a description")?;
                self.expect(Tok::Cond, "'condition'")?;
                self.expect(Tok::Def, "':'")?;
                let cond = self.expression()?;
                let mut r = RuleDecl {
                    name,
                    desc,
                    cond,
                    pos: Self::pos(decl),
                    actions: Vec::new(),
                    tags: Vec::new(),
                    prefilter: Vec::new(),
                    priority: None,
                    enabled: None,
                };
                // The reference keeps the first occurrence of repeated keys (`ctx.Tags(0)` etc.).
                let (mut seen_actions, mut seen_tags, mut seen_prefilter) = (false, false, false);
                loop {
                    let t = self.peek();
                    match t.tok {
                        Tok::Output => {
                            self.bump();
                            self.expect(Tok::Def, "':'")?;
                            self.text_value("output text")?;
                        }
                        Tok::Actions => {
                            self.bump();
                            self.expect(Tok::Def, "':'")?;
                            let l = self.list_value()?;
                            if !seen_actions {
                                r.actions = l;
                                seen_actions = true;
                            }
                        }
                        Tok::Tags => {
                            self.bump();
                            self.expect(Tok::Def, "':'")?;
                            let l = self.list_value()?;
                            if !seen_tags {
                                r.tags = l;
                                seen_tags = true;
                            }
                        }
                        Tok::Prefilter => {
                            self.bump();
                            self.expect(Tok::Def, "':'")?;
                            let l = self.list_value()?;
                            if !seen_prefilter {
                                r.prefilter = l;
                                seen_prefilter = true;
                            }
                        }
                        Tok::Priority => {
                            self.bump();
                            self.expect(Tok::Def, "':'")?;
                            let s = self.expect(
                                Tok::Severity,
                                "a priority (high, medium, low, critical, ...)",
                            )?;
                            if r.priority.is_none() {
                                r.priority = Some((self.text(s).to_owned(), Self::pos(s)));
                            }
                        }
                        Tok::Enabled => {
                            self.bump();
                            self.expect(Tok::Def, "':'")?;
                            let a = self.atom()?;
                            if r.enabled.is_none() {
                                r.enabled = Some(a);
                            }
                        }
                        Tok::WarnEvtTypes | Tok::SkipUnknown => {
                            self.bump();
                            self.expect(Tok::Def, "':'")?;
                            self.atom()?;
                        }
                        _ => break,
                    }
                }
                Ok(Item::Rule(r))
            }
            Tok::Filter | Tok::Drop => {
                self.bump();
                self.expect(Tok::Def, "':'")?;
                let name_t = self.expect(Tok::Id, "a filter name")?;
                let name = self.text(name_t).to_owned();
                self.item = Some(format!("filter '{name}'"));
                self.expect(Tok::Cond, "'condition'")?;
                self.expect(Tok::Def, "':'")?;
                let cond = self.expression()?;
                let mut enabled = None;
                if self.peek().tok == Tok::Enabled {
                    self.bump();
                    self.expect(Tok::Def, "':'")?;
                    enabled = Some(self.atom()?);
                }
                Ok(Item::Filter {
                    name,
                    cond,
                    enabled,
                    pos: Self::pos(decl),
                })
            }
            Tok::Macro => {
                self.bump();
                self.expect(Tok::Def, "':'")?;
                let name_t = self.expect(Tok::Id, "a macro name")?;
                let name = self.text(name_t).to_owned();
                self.item = Some(format!("macro '{name}'"));
                self.expect(Tok::Cond, "'condition'")?;
                self.expect(Tok::Def, "':'")?;
                let cond = self.expression()?;
                if self.peek().tok == Tok::Append {
                    self.bump();
                    self.expect(Tok::Def, "':'")?;
                    self.atom()?;
                }
                Ok(Item::Macro { name, cond })
            }
            Tok::List => {
                self.bump();
                self.expect(Tok::Def, "':'")?;
                let name_t = self.expect(Tok::Id, "a list name")?;
                let name = self.text(name_t).to_owned();
                self.item = Some(format!("list '{name}'"));
                self.expect(Tok::Items, "'items'")?;
                self.expect(Tok::Def, "':'")?;
                let items = self.list_value()?;
                Ok(Item::List { name, items })
            }
            Tok::Req => {
                self.bump();
                self.expect(Tok::Def, "':'")?;
                self.atom()?;
                Ok(Item::List {
                    name: String::new(),
                    items: Vec::new(),
                })
            }
            _ => Err(self.err(
                kw,
                format!(
                    "expected rule, filter, drop, macro or list, found {}",
                    self.describe(kw)
                ),
            )),
        }
    }
}

/// Parses one policy source into its declarations (`required_engine_version` is dropped).
pub(crate) fn parse(src: &str, file: &Path) -> Result<Vec<Item>, PolicyError> {
    let mut p = Parser {
        src,
        toks: lex(src),
        i: 0,
        file,
        item: None,
    };
    let mut items = Vec::new();
    while p.peek().tok != Tok::Eof {
        match p.declaration()? {
            Item::List { name, .. } if name.is_empty() => {}
            item => items.push(item),
        }
    }
    if items.is_empty() {
        // The reference grammar requires at least one declaration (`policy: (...)+ EOF`).
        let t = p.peek();
        return Err(p.err(
            t,
            "policy file has no rule, filter, macro or list".to_owned(),
        ));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, String)> {
        lex(src)
            .into_iter()
            .map(|t| (t.tok, src[t.start..t.end].to_owned()))
            .collect()
    }

    #[test]
    fn lexer_longest_match_and_keywords() {
        let k = kinds("rules rule sf.proc.exe=/usr/bin/python mitre:T1059 info Info information");
        let toks: Vec<Tok> = k.iter().map(|x| x.0).collect();
        assert_eq!(
            toks,
            [
                Tok::Id,
                Tok::Rule,
                Tok::Id,
                Tok::Eq,
                Tok::Path,
                Tok::Tag,
                Tok::Severity,
                Tok::Severity,
                Tok::Id,
                Tok::Eof
            ]
        );
        let k = kinds("sf.ke.message[items.0.namespace] = 'robot-shop' # comment");
        assert_eq!(
            k[0],
            (Tok::Id, "sf.ke.message[items.0.namespace]".to_owned())
        );
        assert_eq!(k[2], (Tok::Str, "'robot-shop'".to_owned()));
        let k = kinds("desc: > folded");
        assert_eq!(k[1], (Tok::Def, ": >".to_owned()));
        let k =
            kinds("'\"(systemd)\"' \"a\" and \"b\" '\"sh -c node -e \\\"require(''nan'')\\\"\"',");
        assert_eq!(k[4].1, "'\"sh -c node -e \\\"require(''nan'')\\\"\"'");
        assert_eq!(k[0].1, "'\"(systemd)\"'");
        assert_eq!(k[1].1, "\"a\"");
    }

    #[test]
    fn lists_follow_reference_splitting() {
        assert_eq!(extract_list("[a,\"b,c\"]"), ["a", "b", "c"]);
        assert_eq!(extract_list("[]"), [""]);
        assert_eq!(extract_list("['\"(systemd)\"']"), ["\"(systemd)\""]);
    }

    #[test]
    fn parses_rule_with_tabs_and_misindent() {
        let src = "- rule: A rule\n  desc: d\n  condition: a = b and\n\t\t\t (c in (x, y) or not m)\n  priority: low\n  tags: [t]\n \n - rule: B\n  desc: e\n  condition: z exists\n  output: out %x\n";
        let items = parse(src, Path::new("t.yaml")).expect("parses");
        assert_eq!(items.len(), 2);
        match &items[0] {
            Item::Rule(r) => {
                assert_eq!(r.name, "A rule");
                assert_eq!(r.tags, ["t"]);
            }
            _ => panic!("not a rule"),
        }
    }

    #[test]
    fn errors_name_line_and_rule() {
        let src = "- rule: R\n  desc: d\n  condition: a = \n  priority: low\n";
        let e = parse(src, Path::new("p.yaml")).expect_err("must fail");
        assert_eq!(e.location.line, 4);
        assert_eq!(e.location.item.as_deref(), Some("rule 'R'"));
        assert!(e.to_string().contains("p.yaml:4"), "{e}");
    }
}
