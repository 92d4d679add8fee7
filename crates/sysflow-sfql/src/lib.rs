//! sfql, the query language of the SysFlow Python API (`sysflow.sfql` of sysflow-tools 0.6.1), over
//! [`FlatRecord`]s.
//!
//! A query such as `type = FF and proc.name in (nginx, node) and not file.path startswith /proc` is compiled once
//! into an evaluation tree ([`Query::compile`]); [`Query::matches`] then tests records without re-parsing.
//! Definitions files (`- list:`, `- macro:`, `- rule:` entries) are loaded with [`Query::compile_with_defs`] or
//! [`Definitions`]; rules are evaluated with [`RuleSet::enrich`].
//!
//! The semantics are those of the reference interpreter (operand resolution, comma-split "any piece" comparisons,
//! Python `str()`/`int()`/truthiness, the process tree behind `proc.aname`/`proc.apid`, the lexer's quirks), except
//! where the reference is broken; each deviation is listed in the crate README and pinned by a test.
//!
//! ```
//! use sysflow_sfql::Query;
//!
//! let mut q = Query::compile("type = PE and proc.exe startswith /usr/bin").unwrap();
//! assert!(!q.uses_process_tree());
//! assert!(Query::compile("type = PE and").is_err());
//! # let _ = &mut q;
//! ```
#![warn(missing_docs)]

mod attr;
mod compile;
mod error;
mod eval;
mod lexer;
mod parser;
mod value;

use std::collections::BTreeSet;
use std::path::Path;

use sysflow_format::{FlatRecord, Linked};

pub use compile::Definitions;
pub use error::{ErrorKind, SfqlError};

use compile::{Node, Program};

/// Every attribute sfql knows, in the order of the reference `SfqlMapper` (what `getAttributes()` lists).
pub fn attributes() -> &'static [&'static str] {
    attr::NAMES
}

/// The process tree behind `proc.aname` and `proc.apid`.
///
/// The reference fills it as records are evaluated: each evaluated record links its process to the parent it was
/// flattened with. Ancestry therefore depends on the records seen so far, in order. A [`Query`] owns one; use
/// [`Query::evaluate`] with your own tree to share a compiled query between threads.
#[derive(Debug, Default, Clone)]
pub struct ProcessTree(attr::ProcessTree);

impl ProcessTree {
    /// An empty tree.
    pub fn new() -> ProcessTree {
        ProcessTree::default()
    }

    /// Number of processes with a recorded parent link.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no link was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// Forgets every link.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A compiled sfql query.
///
/// `Query` is `Send + Sync`; [`matches`](Query::matches) takes `&mut self` only to update the process tree it owns
/// (needed by `proc.aname`/`proc.apid`). [`evaluate`](Query::evaluate) takes `&self` and an external tree.
#[derive(Debug, Clone)]
pub struct Query {
    program: Program,
    tree: ProcessTree,
    text: String,
}

impl Query {
    pub(crate) fn from_program(program: Program, text: &str) -> Query {
        Query {
            program,
            tree: ProcessTree::default(),
            text: text.to_string(),
        }
    }

    /// Compiles a query expression (what `sysprint -f` takes).
    pub fn compile(expr: &str) -> Result<Query, SfqlError> {
        Definitions::new().compile(expr)
    }

    /// Compiles a query expression after loading the definitions files `paths` in order (macros, lists and rules
    /// there can be used by the query). With an empty `expr`, the `- sfql:` entry of the files is compiled.
    pub fn compile_with_defs<P: AsRef<Path>>(expr: &str, paths: &[P]) -> Result<Query, SfqlError> {
        let mut defs = Definitions::new();
        for p in paths {
            defs.load_file(p)?;
        }
        defs.compile(expr)
    }

    /// Whether `rec` matches. Records must be given in file order when the query uses `proc.aname` or `proc.apid`
    /// (see [`ProcessTree`]).
    #[inline]
    pub fn matches(&mut self, rec: &FlatRecord) -> bool {
        self.matches_linked(&rec.linked())
    }

    /// [`matches`](Query::matches) for a record linked by reference (`FlatReader::next_linked`).
    #[inline]
    pub fn matches_linked(&mut self, rec: &Linked<'_>) -> bool {
        if self.program.uses_tree {
            self.tree.0.observe(rec);
        }
        self.program.root.eval(rec, &self.tree.0)
    }

    /// Like [`matches`](Query::matches), with a caller-owned process tree.
    pub fn evaluate(&self, rec: &FlatRecord, tree: &mut ProcessTree) -> bool {
        let rec = rec.linked();
        if self.program.uses_tree {
            tree.0.observe(&rec);
        }
        self.program.root.eval(&rec, &tree.0)
    }

    /// Whether the query reads `proc.aname` or `proc.apid` (and so depends on the records seen before).
    pub fn uses_process_tree(&self) -> bool {
        self.program.uses_tree
    }

    /// Clears the process tree (e.g. between independent traces).
    pub fn reset(&mut self) {
        self.tree.clear();
    }

    /// The query text as given.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Rule priority (`priority:` of a rule): `none` < `low` < `medium` < `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// `none` (0).
    #[default]
    None = 0,
    /// `low` (1).
    Low = 1,
    /// `medium` (2).
    Medium = 2,
    /// `high` (3).
    High = 3,
}

impl Priority {
    pub(crate) fn from_word(w: &str) -> Priority {
        match w {
            "low" => Priority::Low,
            "medium" => Priority::Medium,
            "high" => Priority::High,
            _ => Priority::None,
        }
    }

    /// The numeric value the reference uses (0..3).
    pub fn value(self) -> u8 {
        self as u8
    }
}

/// A compiled `- rule:` definition.
#[derive(Debug, Clone)]
pub struct Rule {
    name: String,
    desc: String,
    actions: Vec<String>,
    priority: Priority,
    tags: Vec<String>,
    node: Node,
}

impl Rule {
    /// The rule name (its tokens concatenated without whitespace, as the reference reads it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description (same reading as the name).
    pub fn desc(&self) -> &str {
        &self.desc
    }

    /// The `action:` items.
    pub fn actions(&self) -> &[String] {
        &self.actions
    }

    /// The priority.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The `tags:` items.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
}

/// What [`RuleSet::enrich`] reports for a record matched by at least one rule (the reference's `tags` tuple).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrichment {
    /// Names of the matching rules, in definition order.
    pub rules: Vec<String>,
    /// Union of their tags.
    pub tags: BTreeSet<String>,
    /// Highest priority among them.
    pub priority: Priority,
}

/// The compiled rules of a set of definitions (see [`Definitions::compile_rules`]).
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    uses_tree: bool,
    tree: ProcessTree,
}

impl RuleSet {
    pub(crate) fn new(rules: Vec<Rule>, uses_tree: bool) -> RuleSet {
        RuleSet {
            rules,
            uses_tree,
            tree: ProcessTree::default(),
        }
    }

    /// The rules, in definition order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Evaluates every rule on `rec`; `None` when no rule matches.
    pub fn enrich(&mut self, rec: &FlatRecord) -> Option<Enrichment> {
        let rec = &rec.linked();
        if self.uses_tree {
            self.tree.0.observe(rec);
        }
        let mut out: Option<Enrichment> = None;
        for r in &self.rules {
            if r.node.eval(rec, &self.tree.0) {
                let e = out.get_or_insert_with(|| Enrichment {
                    rules: Vec::new(),
                    tags: BTreeSet::new(),
                    priority: Priority::None,
                });
                e.rules.push(r.name.clone());
                e.tags.extend(r.tags.iter().cloned());
                e.priority = e.priority.max(r.priority);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
