//! Errors and warnings of policy loading, each naming the file, line, column and rule or macro.

use std::fmt;
use std::path::PathBuf;

/// Where in a policy source something happened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The policy file (or the name given to an in-memory source).
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column in characters (0 when unknown).
    pub column: u32,
    /// The rule, filter, macro or list being compiled, when there is one (`rule 'Foo'`, `macro 'bar'`).
    pub item: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(item) = &self.item {
            write!(f, " ({item})")?;
        }
        Ok(())
    }
}

/// What went wrong while loading policies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file or directory could not be read.
    Io(String),
    /// A token the SFPL lexer does not accept where it was found, or a structural error.
    Syntax(String),
    /// A macro or list refers to itself (the reference recurses forever).
    Recursion(String),
    /// `alert` mode was requested without any policy file.
    NoPolicies,
    /// A Sigma rule or configuration could not be used.
    Sigma(String),
}

/// A policy loading error: the location and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Where the error happened.
    pub location: Location,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl PolicyError {
    pub(crate) fn new(location: Location, kind: ErrorKind) -> Self {
        PolicyError { location, kind }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Io(m) => write!(f, "{}: cannot read policy: {m}", self.location),
            ErrorKind::Syntax(m) => write!(f, "{}: syntax error: {m}", self.location),
            ErrorKind::Recursion(m) => write!(f, "{}: recursive definition: {m}", self.location),
            ErrorKind::NoPolicies => write!(
                f,
                "{}: alert mode needs at least one policy file",
                self.location
            ),
            ErrorKind::Sigma(m) => write!(f, "{}: sigma: {m}", self.location),
        }
    }
}

impl std::error::Error for PolicyError {}

/// A non-fatal problem found while compiling (the reference logs these and goes on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where it happened.
    pub location: Location,
    /// Human-readable description.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}
