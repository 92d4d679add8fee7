//! The sfql lexer: the token rules of the reference grammar (`sfql.g4`, ANTLR 4.9.2), reproduced rule for rule.
//!
//! ANTLR picks, at each position, the longest match of any token rule and breaks ties by rule order (keywords before
//! `ID`, `ID` before `NUMBER` and `PATH`). That yields several quirks that change what a query means, all kept here:
//!
//! * digits lex as `ID` (`12`, `1.5`, `127.0.0.1`), never as `NUMBER`;
//! * keywords are reserved even where a value is expected: `none`, `low`, `medium`, `high` (severities), `list`,
//!   `tags`, `items`, `desc`, `rule`, ... cannot be unquoted values;
//! * `-` is always the `DECL` token (so `-1` is not a number) and `.` cannot start a value;
//! * `#` starts a comment up to the end of the line, also inside a one-line query;
//! * strings nest: `"" or ""` is one string token, while `"a" "b"` is two (see [`string_end`]).
//!
//! Where the reference lexer emits an `ANY` token for a stray character (and its parser then silently recovers), we
//! report an error.

use crate::error::{Pos, SfqlError};

/// Token kinds, in the rule order of the reference grammar (which is also the tie-break order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Query,
    Rule,
    Macro,
    List,
    Items,
    Cond,
    Desc,
    Action,
    Priority,
    Tags,
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
    Tag,
    Str,
    /// A character no other rule accepts (`ANY` in the grammar).
    Any,
    /// A quote starting a string this lexer will not resolve (see [`string_end`]).
    TooComplex,
    /// End of input.
    Eof,
}

impl Tok {
    /// The name the reference grammar gives the token (`ID`, `STRING`, ...), used in error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tok::Query => "'sfql'",
            Tok::Rule => "'rule'",
            Tok::Macro => "'macro'",
            Tok::List => "'list'",
            Tok::Items => "'items'",
            Tok::Cond => "'condition'",
            Tok::Desc => "'desc'",
            Tok::Action => "'action'",
            Tok::Priority => "'priority'",
            Tok::Tags => "'tags'",
            Tok::And => "'and'",
            Tok::Or => "'or'",
            Tok::Not => "'not'",
            Tok::Lt => "'<'",
            Tok::Le => "'<='",
            Tok::Gt => "'>'",
            Tok::Ge => "'>='",
            Tok::Eq => "'='",
            Tok::Neq => "'!='",
            Tok::In => "'in'",
            Tok::Contains => "'contains'",
            Tok::IContains => "'icontains'",
            Tok::StartsWith => "'startswith'",
            Tok::PMatch => "'pmatch'",
            Tok::Exists => "'exists'",
            Tok::LBrack => "'['",
            Tok::RBrack => "']'",
            Tok::LParen => "'('",
            Tok::RParen => "')'",
            Tok::Comma => "','",
            Tok::Decl => "'-'",
            Tok::Def => "':'",
            Tok::Severity => "severity",
            Tok::Id => "ID",
            Tok::Number => "NUMBER",
            Tok::Path => "PATH",
            Tok::Tag => "TAG",
            Tok::Str => "STRING",
            Tok::Any => "character",
            Tok::TooComplex => "string",
            Tok::Eof => "end of input",
        }
    }

    /// The symbolic name of the reference lexer (`ID`, `STRING`, `AND`, ...), for conformance tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn antlr_name(self) -> &'static str {
        match self {
            Tok::Query => "QUERY",
            Tok::Rule => "RULE",
            Tok::Macro => "MACRO",
            Tok::List => "LIST",
            Tok::Items => "ITEMS",
            Tok::Cond => "COND",
            Tok::Desc => "DESC",
            Tok::Action => "ACTION",
            Tok::Priority => "PRIORITY",
            Tok::Tags => "TAGS",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Not => "NOT",
            Tok::Lt => "LT",
            Tok::Le => "LE",
            Tok::Gt => "GT",
            Tok::Ge => "GE",
            Tok::Eq => "EQ",
            Tok::Neq => "NEQ",
            Tok::In => "IN",
            Tok::Contains => "CONTAINS",
            Tok::IContains => "ICONTAINS",
            Tok::StartsWith => "STARTSWITH",
            Tok::PMatch => "PMATCH",
            Tok::Exists => "EXISTS",
            Tok::LBrack => "LBRACK",
            Tok::RBrack => "RBRACK",
            Tok::LParen => "LPAREN",
            Tok::RParen => "RPAREN",
            Tok::Comma => "LISTSEP",
            Tok::Decl => "DECL",
            Tok::Def => "DEF",
            Tok::Severity => "SEVERITY",
            Tok::Id => "ID",
            Tok::Number => "NUMBER",
            Tok::Path => "PATH",
            Tok::Tag => "TAG",
            Tok::Str => "STRING",
            Tok::Any => "ANY",
            Tok::TooComplex => "TOO_COMPLEX",
            Tok::Eof => "EOF",
        }
    }

    /// Whether the token can be an operand (`atom` in the grammar).
    pub(crate) fn is_atom(self) -> bool {
        matches!(
            self,
            Tok::Id | Tok::Path | Tok::Number | Tok::Tag | Tok::Str | Tok::Lt | Tok::Gt
        )
    }

    /// Whether the token is a keyword (a word the lexer reserves).
    pub(crate) fn is_keyword(self) -> bool {
        KEYWORDS.iter().any(|(_, k)| *k == self)
    }
}

/// A token: kind and byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

/// Keywords in rule order (the severities come after the operators in the grammar, but being words they never tie
/// with the symbols, so only their relative order with `ID` matters: they all win over `ID`).
const KEYWORDS: &[(&str, Tok)] = &[
    ("sfql", Tok::Query),
    ("rule", Tok::Rule),
    ("macro", Tok::Macro),
    ("list", Tok::List),
    ("items", Tok::Items),
    ("condition", Tok::Cond),
    ("desc", Tok::Desc),
    ("action", Tok::Action),
    ("priority", Tok::Priority),
    ("tags", Tok::Tags),
    ("and", Tok::And),
    ("or", Tok::Or),
    ("not", Tok::Not),
    ("in", Tok::In),
    ("contains", Tok::Contains),
    ("icontains", Tok::IContains),
    ("startswith", Tok::StartsWith),
    ("pmatch", Tok::PMatch),
    ("exists", Tok::Exists),
    ("high", Tok::Severity),
    ("medium", Tok::Severity),
    ("low", Tok::Severity),
    ("none", Tok::Severity),
];

/// How deeply string tokens may nest (`""x""` is a string inside a string). The reference has no limit; deeper
/// nesting (or more than [`MAX_STRING_CONFIGS`] live alternatives) is reported as an error rather than lexed
/// differently.
const MAX_STRING_NESTING: usize = 64;

/// Longest `STRING` token considered, in bytes (the reference has no limit; strings never span lines anyway).
const MAX_STRING_LEN: usize = 4096;

fn is_id_start(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'*')
}

fn is_path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'*')
}

/// Longest `NUMBER` at `p`: `[0-9]+ ('.' [0-9]+)?`.
fn number_end(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == p {
        return None;
    }
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    Some(i)
}

/// Longest `PATH` at `p`: `[A-Za-z/] [A-Za-z0-9_\-./*]*`.
fn path_end(b: &[u8], p: usize) -> Option<usize> {
    if p >= b.len() || !(b[p].is_ascii_alphabetic() || b[p] == b'/') {
        return None;
    }
    let mut i = p + 1;
    while i < b.len() && is_path_char(b[i]) {
        i += 1;
    }
    Some(i)
}

/// A subscript of an `ID` at `p`: `':'? '[' (NUMBER|PATH) (':' PATH)* ']'`.
fn subscript_end(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p;
    if b.get(i) == Some(&b':') {
        i += 1;
    }
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    i = number_end(b, i).or_else(|| path_end(b, i))?;
    while b.get(i) == Some(&b':') {
        match path_end(b, i + 1) {
            Some(e) => i = e,
            None => break,
        }
    }
    (b.get(i) == Some(&b']')).then_some(i + 1)
}

/// Longest `ID` at `p`.
fn id_end(b: &[u8], p: usize) -> Option<usize> {
    if p >= b.len() || !is_id_start(b[p]) {
        return None;
    }
    let mut i = p + 1;
    loop {
        if i < b.len() && is_id_char(b[i]) {
            i += 1;
        } else if let Some(e) = subscript_end(b, i) {
            i = e;
        } else {
            return Some(i);
        }
    }
}

/// Longest `TAG` at `p`: `ID ':' ID`.
fn tag_end(b: &[u8], p: usize) -> Option<usize> {
    let e = id_end(b, p)?;
    if b.get(e) != Some(&b':') {
        return None;
    }
    id_end(b, e + 1)
}

/// `DEF` at `p`: `':' (' '* '>')?`.
fn def_end(b: &[u8], p: usize) -> Option<usize> {
    if b.get(p) != Some(&b':') {
        return None;
    }
    let mut i = p + 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    Some(if b.get(i) == Some(&b'>') {
        i + 1
    } else {
        p + 1
    })
}

const STRING_DELIMS: [&[u8]; 4] = [b"\"", b"'", b"\\\"", b"''"];

/// Most configurations the `STRING` simulation may track per character (only runs of quote characters come close).
const MAX_STRING_CONFIGS: usize = 256;

/// A state of the `STRING`/`STRLIT` sub-automaton of the reference lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pc {
    /// Start of a `STRING`: epsilon to the four alternatives, in order.
    Start,
    /// About to match byte `i` of the opening delimiter of alternative `alt`.
    Open(u8, u8),
    /// After the opening delimiter: a nested `STRING` first, then `STRLIT`.
    Inner(u8),
    /// The non-greedy loop decision of `STRLIT` (`~[\r\n]*?`): exit first, then one more character.
    LitEntry,
    /// Inside `STRLIT`, about to match one character other than CR/LF.
    LitBody,
    /// About to match byte `i` of the closing delimiter of alternative `alt`.
    Close(u8, u8),
    /// End of a `STRING` (accept when the call stack is empty).
    StrStop,
    /// End of `STRLIT`.
    LitStop,
}

/// A configuration: state, return stack (alternatives of the enclosing strings), and whether it went through the
/// non-greedy decision (ANTLR's `passedThroughNonGreedyDecision`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    pc: Pc,
    stack: Vec<u8>,
    non_greedy: bool,
}

fn add_config(out: &mut Vec<Config>, c: Config) {
    if out.len() <= MAX_STRING_CONFIGS && !out.contains(&c) {
        out.push(c);
    }
}

/// ANTLR's `LexerATNSimulator.closure` over the string automaton: follows epsilon moves in priority order, adds
/// the configurations that wait for a character, and reports whether the token's accept state was reached.
fn closure(c: Config, out: &mut Vec<Config>, mut reached: bool) -> bool {
    match c.pc {
        Pc::StrStop | Pc::LitStop => {
            let mut c = c;
            match c.stack.pop() {
                None => {
                    add_config(out, c);
                    true
                }
                Some(alt) => {
                    c.pc = Pc::Close(alt, 0);
                    closure(c, out, reached)
                }
            }
        }
        Pc::Open(..) | Pc::LitBody | Pc::Close(..) => {
            if !reached || !c.non_greedy {
                add_config(out, c);
            }
            reached
        }
        Pc::Start => {
            for alt in 0..4u8 {
                reached = closure(
                    Config {
                        pc: Pc::Open(alt, 0),
                        ..c.clone()
                    },
                    out,
                    reached,
                );
            }
            reached
        }
        Pc::Inner(alt) => {
            let mut stack = c.stack.clone();
            stack.push(alt);
            if stack.len() > MAX_STRING_NESTING {
                // Marks the simulation as too complex (checked by the caller).
                out.resize(
                    MAX_STRING_CONFIGS + 1,
                    Config {
                        pc: Pc::Start,
                        stack: Vec::new(),
                        non_greedy: true,
                    },
                );
                return reached;
            }
            reached = closure(
                Config {
                    pc: Pc::Start,
                    stack: stack.clone(),
                    non_greedy: c.non_greedy,
                },
                out,
                reached,
            );
            // Entering STRLIT passes through its non-greedy loop decision.
            closure(
                Config {
                    pc: Pc::LitEntry,
                    stack,
                    non_greedy: true,
                },
                out,
                reached,
            )
        }
        Pc::LitEntry => {
            reached = closure(
                Config {
                    pc: Pc::LitStop,
                    ..c.clone()
                },
                out,
                reached,
            );
            closure(
                Config {
                    pc: Pc::LitBody,
                    ..c
                },
                out,
                reached,
            )
        }
    }
}

/// Why a `STRING` could not be lexed exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StringTooComplex;

/// The end of the longest `STRING` token at `p`, if any.
///
/// `STRING : '"' (STRING|STRLIT) '"' | '\'' (STRING|STRLIT) '\'' | '\\"' (STRING|STRLIT) '\\"' | '\'\'' (STRING|STRLIT) '\'\''`
/// with `fragment STRLIT : ~[\r\n]*?`. The non-greedy loop makes the result depend on ANTLR's exact simulation
/// (a configuration that went through the non-greedy decision is dropped once a higher-priority one accepts), so
/// this runs the same algorithm (`LexerATNSimulator.getReachableConfigSet`/`closure`) over this small automaton.
///
/// Errs when the simulation outgrows its limits ([`MAX_STRING_NESTING`], [`MAX_STRING_CONFIGS`],
/// [`MAX_STRING_LEN`]); only long runs of quote characters do that.
pub(crate) fn string_end(b: &[u8], p: usize) -> Result<Option<usize>, StringTooComplex> {
    if p >= b.len() || !matches!(b[p], b'"' | b'\'' | b'\\') {
        return Ok(None);
    }
    let mut configs = Vec::new();
    closure(
        Config {
            pc: Pc::Start,
            stack: Vec::new(),
            non_greedy: false,
        },
        &mut configs,
        false,
    );
    if configs.len() > MAX_STRING_CONFIGS {
        return Err(StringTooComplex);
    }
    let mut pos = p;
    let mut accept = None;
    let end = b.len().min(p + MAX_STRING_LEN);
    while pos < end && !configs.is_empty() {
        let ch = b[pos];
        let mut reach = Vec::new();
        let mut skip = false;
        for c in &configs {
            if skip && c.non_greedy {
                continue;
            }
            let next = match c.pc {
                Pc::Open(alt, i) if STRING_DELIMS[alt as usize][i as usize] == ch => {
                    if usize::from(i) + 1 < STRING_DELIMS[alt as usize].len() {
                        Pc::Open(alt, i + 1)
                    } else {
                        Pc::Inner(alt)
                    }
                }
                Pc::LitBody if ch != b'\r' && ch != b'\n' => Pc::LitEntry,
                Pc::Close(alt, i) if STRING_DELIMS[alt as usize][i as usize] == ch => {
                    if usize::from(i) + 1 < STRING_DELIMS[alt as usize].len() {
                        Pc::Close(alt, i + 1)
                    } else {
                        Pc::StrStop
                    }
                }
                _ => continue,
            };
            if closure(
                Config {
                    pc: next,
                    stack: c.stack.clone(),
                    non_greedy: c.non_greedy,
                },
                &mut reach,
                skip,
            ) {
                skip = true;
            }
        }
        if reach.len() > MAX_STRING_CONFIGS {
            return Err(StringTooComplex);
        }
        pos += 1;
        if reach
            .iter()
            .any(|c| c.pc == Pc::StrStop && c.stack.is_empty())
        {
            accept = Some(pos);
        }
        configs = reach;
    }
    if !configs.is_empty() && pos == end && end < b.len() {
        return Err(StringTooComplex);
    }
    Ok(accept)
}

/// Splits `src` into tokens (hidden whitespace and comments dropped), ending with an [`Tok::Eof`] token.
///
/// Never fails: stray characters become [`Tok::Any`] tokens, which the parser reports; a string the lexer will not
/// resolve becomes a [`Tok::TooComplex`] token, after which lexing stops.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let c = b[p];
        // Hidden channel: whitespace and comments.
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0c) {
            p += 1;
            continue;
        }
        if c == b'#' {
            while p < b.len() && b[p] != b'\r' && b[p] != b'\n' {
                p += 1;
            }
            continue;
        }
        let (kind, end) = longest_at(src, p);
        out.push(Token {
            kind,
            start: p,
            end,
        });
        if kind == Tok::TooComplex {
            // An error anyway: stop here rather than re-simulate at every following quote.
            break;
        }
        p = end;
    }
    out.push(Token {
        kind: Tok::Eof,
        start: b.len(),
        end: b.len(),
    });
    out
}

/// The token at `p` (not whitespace or a comment): the longest match, ties broken by rule order.
fn longest_at(src: &str, p: usize) -> (Tok, usize) {
    let b = src.as_bytes();
    // Candidates in rule order; the first of the longest wins.
    let mut best: (Tok, usize) = (Tok::Any, 0);
    let mut consider = |kind: Tok, end: Option<usize>| {
        if let Some(e) = end {
            if e > p && e - p > best.1 {
                best = (kind, e - p);
            }
        }
    };
    for (word, kind) in KEYWORDS {
        if b[p..].starts_with(word.as_bytes()) {
            consider(*kind, Some(p + word.len()));
        }
    }
    let two = b.get(p + 1).copied();
    match b[p] {
        b'<' => consider(
            if two == Some(b'=') { Tok::Le } else { Tok::Lt },
            Some(p + 1 + usize::from(two == Some(b'='))),
        ),
        b'>' => consider(
            if two == Some(b'=') { Tok::Ge } else { Tok::Gt },
            Some(p + 1 + usize::from(two == Some(b'='))),
        ),
        b'=' => consider(Tok::Eq, Some(p + 1)),
        b'!' if two == Some(b'=') => consider(Tok::Neq, Some(p + 2)),
        b'[' => consider(Tok::LBrack, Some(p + 1)),
        b']' => consider(Tok::RBrack, Some(p + 1)),
        b'(' => consider(Tok::LParen, Some(p + 1)),
        b')' => consider(Tok::RParen, Some(p + 1)),
        b',' => consider(Tok::Comma, Some(p + 1)),
        b'-' => consider(Tok::Decl, Some(p + 1)),
        b':' => consider(Tok::Def, def_end(b, p)),
        _ => {}
    }
    consider(Tok::Id, id_end(b, p));
    consider(Tok::Number, number_end(b, p));
    consider(Tok::Path, path_end(b, p));
    consider(Tok::Tag, tag_end(b, p));
    match string_end(b, p) {
        Ok(e) => consider(Tok::Str, e),
        Err(StringTooComplex) => return (Tok::TooComplex, p + 1),
    }
    if best.1 == 0 {
        // ANY: one character (a whole UTF-8 code point).
        let len = src[p..].chars().next().map_or(1, char::len_utf8);
        return (Tok::Any, p + len);
    }
    (best.0, p + best.1)
}

/// `text` as is when printable, else escaped.
fn printable(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.escape_debug().to_string()
    } else {
        text.to_string()
    }
}

/// The error for a stray character (an `ANY` token) where the grammar expects something else. The reference prints
/// an ANTLR message and evaluates a repaired query instead.
pub(crate) fn stray_char_error(src: &str, origin: &str, t: Token) -> SfqlError {
    let text = &src[t.start..t.end];
    let hint = match text {
        "\"" | "'" => " (unterminated string: strings end on the same line)",
        "." => " (a value cannot start with '.'; quote it)",
        "!" => " (did you mean '!='?)",
        _ => "",
    };
    SfqlError::syntax(
        origin,
        src,
        Pos(t.start),
        format!("unexpected character `{}`{hint}", printable(text)),
    )
}

/// Lexes `src`, failing on a string the lexer will not resolve. Stray characters stay in the stream as
/// [`Tok::Any`] (rule names and descriptions may contain them, as in the reference); the parser reports them
/// elsewhere.
pub(crate) fn tokenize_checked(src: &str, origin: &str) -> Result<Vec<Token>, SfqlError> {
    let toks = tokenize(src);
    if let Some(t) = toks.iter().find(|t| t.kind == Tok::TooComplex) {
        return Err(SfqlError::syntax(
            origin,
            src,
            Pos(t.start),
            "string literal too complex to lex (more than 64 nested quotes, or longer than 4096 bytes)".to_string(),
        ));
    }
    Ok(toks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(&'static str, String)> {
        tokenize(src)
            .into_iter()
            .filter(|t| t.kind != Tok::Eof)
            .map(|t| (t.kind.antlr_name(), src[t.start..t.end].to_string()))
            .collect()
    }

    fn one(src: &str) -> (&'static str, String) {
        let v = kinds(src);
        assert_eq!(v.len(), 1, "{src:?} gave {v:?}");
        v[0].clone()
    }

    #[test]
    fn digits_are_ids_and_keywords_are_reserved() {
        assert_eq!(one("12").0, "ID");
        assert_eq!(one("1.5").0, "ID");
        assert_eq!(one("127.0.0.1").0, "ID");
        assert_eq!(one("none").0, "SEVERITY");
        assert_eq!(one("nonex").0, "ID");
        assert_eq!(one("android").0, "ID");
        assert_eq!(one("in").0, "IN");
        assert_eq!(one("usr/bin").0, "PATH");
        assert_eq!(one("a:b").0, "TAG");
        assert_eq!(one("proc.args[1]").0, "ID");
        assert_eq!(one("x[1:/a]").0, "ID");
        assert_eq!(one(":  >").0, "DEF");
        assert_eq!(kinds("-1"), [("DECL", "-".into()), ("ID", "1".into())]);
        assert_eq!(kinds("a#b c\nd"), [("ID", "a".into()), ("ID", "d".into())]);
    }

    #[test]
    fn strings_nest_like_the_reference() {
        assert_eq!(one(r#""" or """#).1, r#""" or """#);
        assert_eq!(kinds(r#""a""b""#).len(), 2);
        assert_eq!(one(r#"""x"""#).0, "STRING");
        assert_eq!(
            kinds(r#"""""#),
            [("STRING", r#""""#.into()), ("ANY", "\"".into())]
        );
        assert_eq!(one(r"'a'").1, "'a'");
        assert_eq!(one(r#"\"x\""#).1, r#"\"x\""#);
        assert_eq!(kinds("\"a\nb\"")[0].0, "ANY");
    }

    #[test]
    fn hostile_nesting_does_not_overflow() {
        for unit in ["\"", "'", "\\\"", "''", "'\""] {
            let s = unit.repeat(3_000);
            let toks = tokenize(&s);
            assert!(toks.len() > 1, "{unit}");
            assert!(tokenize_checked(&s, "q").is_err(), "{unit}");
        }
    }
}

#[cfg(test)]
mod conformance {
    use super::*;

    /// Token streams of the reference lexer for 2000+ inputs (`tests/data/gen_lexer_cases.py`).
    #[test]
    fn tokens_match_the_reference_lexer() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lexer_cases.json");
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => panic!("{path}: {e}"),
        };
        let cases: Vec<serde_json::Value> = match serde_json::from_str(&text) {
            Ok(c) => c,
            Err(e) => panic!("{path}: {e}"),
        };
        assert!(cases.len() > 2000);
        let mut failures = Vec::new();
        for c in &cases {
            let input = c["input"].as_str().unwrap_or_default();
            let want: Vec<(String, String)> = c["tokens"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|t| {
                            (
                                t[0].as_str().unwrap_or("").to_string(),
                                t[1].as_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let got: Vec<(String, String)> = tokenize(input)
                .into_iter()
                .filter(|t| t.kind != Tok::Eof)
                .map(|t| {
                    (
                        t.kind.antlr_name().to_string(),
                        input[t.start..t.end].to_string(),
                    )
                })
                .collect();
            if got != want {
                failures.push(format!(
                    "{input:?}\n  reference: {want:?}\n  ours:      {got:?}"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}
