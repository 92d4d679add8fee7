//! Errors of the sfql compiler: where (source, line, column, offending text) and what.

use std::fmt;
use std::path::PathBuf;

/// A byte offset into a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos(pub usize);

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not valid sfql (stray character, unexpected token, missing operand...).
    Syntax,
    /// A bare name is neither a macro nor usable as a predicate.
    UnknownMacro,
    /// Macros or lists refer to each other in a cycle.
    Cycle,
    /// An ordering operator (`<`, `<=`, `>`, `>=`) was given a literal that is not an integer.
    NotAnInteger,
    /// A definitions file could not be read.
    Io,
    /// The query is empty.
    Empty,
}

/// An error compiling an sfql query or definitions file.
///
/// Its `Display` form is `SOURCE:LINE:COL: MESSAGE` followed by the offending line and a caret, e.g.
///
/// ```text
/// query:1:13: unexpected end of input, expected an operand after '='
///   type = PE and
///               ^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfqlError {
    kind: ErrorKind,
    origin: String,
    line: usize,
    column: usize,
    offset: usize,
    snippet: String,
    message: String,
}

impl SfqlError {
    /// Builds an error located at byte `pos` of `src`.
    pub(crate) fn at(
        kind: ErrorKind,
        origin: &str,
        src: &str,
        pos: Pos,
        message: String,
    ) -> SfqlError {
        let off = pos.0.min(src.len());
        let before = &src[..floor_char_boundary(src, off)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let line_end = src[line_start..]
            .find('\n')
            .map_or(src.len(), |i| line_start + i);
        let text = src[line_start..line_end].trim_end_matches('\r');
        let snippet = format!("  {text}\n  {}^", " ".repeat(column - 1));
        SfqlError {
            kind,
            origin: origin.to_string(),
            line,
            column,
            offset: off,
            snippet,
            message,
        }
    }

    /// A syntax error at byte `pos` of `src`.
    pub(crate) fn syntax(origin: &str, src: &str, pos: Pos, message: String) -> SfqlError {
        SfqlError::at(ErrorKind::Syntax, origin, src, pos, message)
    }

    /// An error reading a definitions file.
    pub(crate) fn io(path: &std::path::Path, err: &std::io::Error) -> SfqlError {
        SfqlError {
            kind: ErrorKind::Io,
            origin: PathBuf::from(path).display().to_string(),
            line: 0,
            column: 0,
            offset: 0,
            snippet: String::new(),
            message: format!("cannot read definitions file: {err}"),
        }
    }

    /// The error's kind.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The source: `query` for the query text, else the definitions file path.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// 1-based line (0 for I/O errors).
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column in characters (0 for I/O errors).
    pub fn column(&self) -> usize {
        self.column
    }

    /// Byte offset in the source.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The message without location.
    pub fn message(&self) -> &str {
        &self.message
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for SfqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ErrorKind::Io {
            return write!(f, "{}: {}", self.origin, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )?;
        if !self.snippet.is_empty() {
            write!(f, "\n{}", self.snippet)?;
        }
        Ok(())
    }
}

impl std::error::Error for SfqlError {}
