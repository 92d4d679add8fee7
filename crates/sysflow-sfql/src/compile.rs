//! Definitions (macros, lists, rules) and the compilation of parsed expressions into evaluation trees.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use aho_corasick::AhoCorasick;

use crate::attr::Attr;
use crate::error::{ErrorKind, Pos, SfqlError};
use crate::parser::{parse_definitions, parse_query, Atom, BinOp, Def, Expr, ListElem, RuleDef};
use crate::value::py_int;

/// Where a parsed expression came from (for error messages).
#[derive(Debug, Clone)]
struct Source {
    origin: String,
    text: Arc<str>,
}

#[derive(Debug, Clone)]
struct MacroDef {
    expr: Expr,
    source: usize,
}

#[derive(Debug, Clone)]
struct RuleEntry {
    def: RuleDef,
    source: usize,
}

/// A set of sfql definitions: macros, lists and rules, loaded from definitions ("defs") files or strings.
///
/// Later definitions of a name replace earlier ones, across files, as in the reference (whose tables are shared by
/// the whole process). Macros are expanded and lists flattened when a query or rule is compiled, so a definition
/// may refer to names defined after it.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    sources: Vec<Source>,
    macros: HashMap<String, MacroDef>,
    lists: HashMap<String, Vec<String>>,
    rules: Vec<RuleEntry>,
    query: Option<(Expr, usize)>,
}

impl Definitions {
    /// No definitions.
    pub fn new() -> Definitions {
        Definitions::default()
    }

    /// Loads a definitions file (`- macro:`, `- list:`, `- rule:` entries, optionally ending with `- sfql:`).
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<(), SfqlError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SfqlError::io(path, &e))?;
        self.load_str(&text, &path.display().to_string())
    }

    /// Loads definitions from a string; `origin` names it in error messages.
    pub fn load_str(&mut self, text: &str, origin: &str) -> Result<(), SfqlError> {
        let defs = parse_definitions(text, origin)?;
        let source = self.sources.len();
        self.sources.push(Source {
            origin: origin.to_string(),
            text: Arc::from(text),
        });
        for d in defs {
            match d {
                Def::Macro(name, expr) => {
                    self.macros.insert(name, MacroDef { expr, source });
                }
                Def::List(name, items) => {
                    self.lists.insert(name, items);
                }
                Def::Rule(def) => {
                    // Like a Python dict: redefining a rule keeps its original position.
                    match self.rules.iter_mut().find(|r| r.def.name == def.name) {
                        Some(r) => *r = RuleEntry { def, source },
                        None => self.rules.push(RuleEntry { def, source }),
                    }
                }
                Def::Query(e) => self.query = Some((e, source)),
            }
        }
        Ok(())
    }

    /// The items of a list, as defined (not flattened).
    pub fn list(&self, name: &str) -> Option<&[String]> {
        self.lists.get(name).map(Vec::as_slice)
    }

    /// Names of the defined macros (unordered).
    pub fn macro_names(&self) -> impl Iterator<Item = &str> {
        self.macros.keys().map(String::as_str)
    }

    /// Names of the defined rules, in definition order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.def.name.as_str())
    }

    /// Whether a definitions file ended with a `- sfql:` query.
    pub fn has_query(&self) -> bool {
        self.query.is_some()
    }

    /// Compiles `query` against these definitions. An empty `query` (only whitespace) compiles the `- sfql:` query
    /// of the definitions files, if there is one.
    pub fn compile(&self, query: &str) -> Result<crate::Query, SfqlError> {
        let mut c = Compiler {
            defs: self,
            query,
            macro_stack: Vec::new(),
            uses_tree: false,
            depth: 0,
        };
        let node = if query.trim().is_empty() {
            match &self.query {
                Some((e, src)) => c.expr(e, *src)?,
                None => {
                    return Err(SfqlError::at(
                        ErrorKind::Empty,
                        "query",
                        query,
                        Pos(0),
                        "empty query".to_string(),
                    ))
                }
            }
        } else {
            let e = parse_query(query)?;
            c.expr(&e, QUERY_SOURCE)?
        };
        Ok(crate::Query::from_program(
            Program {
                root: node,
                uses_tree: c.uses_tree,
            },
            query,
        ))
    }

    /// Compiles every rule (name, description, condition, actions, priority, tags).
    pub fn compile_rules(&self) -> Result<crate::RuleSet, SfqlError> {
        let mut rules = Vec::new();
        let mut uses_tree = false;
        for r in &self.rules {
            let mut c = Compiler {
                defs: self,
                query: "",
                macro_stack: Vec::new(),
                uses_tree: false,
                depth: 0,
            };
            let node = c.expr(&r.def.condition, r.source)?;
            uses_tree |= c.uses_tree;
            rules.push(crate::Rule {
                name: r.def.name.clone(),
                desc: r.def.desc.clone(),
                actions: split_items(&r.def.actions),
                priority: crate::Priority::from_word(&r.def.priority),
                tags: split_items(&r.def.tags),
                node,
            });
        }
        Ok(crate::RuleSet::new(rules, uses_tree))
    }
}

/// The reference reads rule actions/tags as the items' text without whitespace, minus the brackets, split on `,`.
fn split_items(atoms: &[String]) -> Vec<String> {
    if atoms.is_empty() {
        return Vec::new();
    }
    atoms.join(",").split(',').map(str::to_string).collect()
}

/// An operand after resolution.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Attr(Attr),
    /// A literal: its text with surrounding `"` removed, and its Python `int()` value if it has one.
    Lit(String, Option<i128>),
}

/// The compiled evaluation tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Exists(Operand),
    Str {
        lhs: Operand,
        op: StrOp,
        rhs: Operand,
    },
    Ord {
        lhs: Operand,
        op: OrdOp,
        rhs: Operand,
    },
    In {
        lhs: Operand,
        set: HashSet<String>,
    },
    PMatch {
        lhs: Operand,
        patterns: Option<AhoCorasick>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Eq,
    Neq,
    Contains,
    IContains,
    StartsWith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrdOp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A compiled query.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub root: Node,
    pub uses_tree: bool,
}

/// The source index standing for the query text.
const QUERY_SOURCE: usize = usize::MAX;

/// Deepest compiled tree accepted (macro expansion multiplies the parser's nesting; evaluation recurses).
const MAX_TREE_DEPTH: usize = 100;

struct Compiler<'d> {
    defs: &'d Definitions,
    query: &'d str,
    macro_stack: Vec<String>,
    uses_tree: bool,
    depth: usize,
}

impl Compiler<'_> {
    /// An error at byte `pos` of source `src` ([`QUERY_SOURCE`] is the query text).
    fn err(&self, kind: ErrorKind, src: usize, pos: usize, msg: String) -> SfqlError {
        match self.defs.sources.get(src) {
            Some(s) => SfqlError::at(kind, &s.origin, &s.text, Pos(pos), msg),
            None => SfqlError::at(kind, "query", self.query, Pos(pos), msg),
        }
    }

    fn operand(&mut self, a: &Atom) -> Operand {
        match Attr::lookup(&a.text) {
            Some(attr) => {
                self.uses_tree |= attr.needs_tree();
                Operand::Attr(attr)
            }
            None => {
                let s = a.text.trim_matches('"').to_string();
                let i = py_int(&s);
                Operand::Lit(s, i)
            }
        }
    }

    fn expr(&mut self, e: &Expr, src: usize) -> Result<Node, SfqlError> {
        if self.depth >= MAX_TREE_DEPTH {
            let pos = match e {
                Expr::Var(a)
                | Expr::Exists(a)
                | Expr::Binary(a, _, _)
                | Expr::Set { lhs: a, .. } => a.pos,
                _ => 0,
            };
            return Err(self.err(
                ErrorKind::Syntax,
                src,
                pos,
                format!(
                    "expression too deep after macro expansion (more than {MAX_TREE_DEPTH} levels)"
                ),
            ));
        }
        self.depth += 1;
        let r = self.expr_inner(e, src);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, e: &Expr, src: usize) -> Result<Node, SfqlError> {
        Ok(match e {
            Expr::Or(v) => Node::Or(
                v.iter()
                    .map(|x| self.expr(x, src))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::And(v) => Node::And(
                v.iter()
                    .map(|x| self.expr(x, src))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(x) => Node::Not(Box::new(self.expr(x, src)?)),
            Expr::Var(a) => {
                let Some(m) = self.defs.macros.get(&a.text) else {
                    return Err(self.macro_error(a, src));
                };
                if self.macro_stack.contains(&a.text) {
                    return Err(self.macro_error(a, src));
                }
                self.macro_stack.push(a.text.clone());
                let n = self.expr(&m.expr, m.source)?;
                self.macro_stack.pop();
                n
            }
            leaf => self.leaf(leaf, src)?,
        })
    }

    /// The error for macro reference `a`: unknown, or part of a cycle. Kept out of the recursive path so that its
    /// locals do not enlarge every recursion frame.
    #[inline(never)]
    fn macro_error(&self, a: &Atom, src: usize) -> SfqlError {
        if self.defs.macros.contains_key(&a.text) {
            let mut chain = self.macro_stack.clone();
            chain.push(a.text.clone());
            return self.err(
                ErrorKind::Cycle,
                src,
                a.pos,
                format!(
                    "macro `{}` refers to itself: {}",
                    a.text,
                    chain.join(" -> ")
                ),
            );
        }
        let hint = if Attr::lookup(&a.text).is_some() {
            format!(
                " (`{}` is an attribute: use `{} exists` to test it)",
                a.text, a.text
            )
        } else {
            " (a bare name refers to a macro of a definitions file)".to_string()
        };
        self.err(
            ErrorKind::UnknownMacro,
            src,
            a.pos,
            format!("unknown macro `{}`{hint}", a.text),
        )
    }

    /// Compiles a predicate (no sub-expressions).
    #[inline(never)]
    fn leaf(&mut self, e: &Expr, src: usize) -> Result<Node, SfqlError> {
        Ok(match e {
            Expr::Exists(a) => Node::Exists(self.operand(a)),
            Expr::Binary(l, op, r) => {
                let lhs = self.operand(l);
                let rhs = self.operand(r);
                let ord = match op {
                    BinOp::Lt => Some(OrdOp::Lt),
                    BinOp::Le => Some(OrdOp::Le),
                    BinOp::Gt => Some(OrdOp::Gt),
                    BinOp::Ge => Some(OrdOp::Ge),
                    _ => None,
                };
                if let Some(op) = ord {
                    // Python: `int(piece) OP int(rhs)` raises ValueError on a non-integer literal.
                    let bad_lhs = matches!(&lhs, Operand::Lit(s, _) if s.split(',').any(|p| py_int(p).is_none()));
                    let bad_rhs = matches!(&rhs, Operand::Lit(_, None));
                    for (bad, operand, atom) in [(bad_lhs, &lhs, l), (bad_rhs, &rhs, r)] {
                        if let (true, Operand::Lit(s, _)) = (bad, operand) {
                            return Err(self.err(
                                ErrorKind::NotAnInteger,
                                src,
                                atom.pos,
                                format!("`{s}` is not an integer (ordering comparisons compare integers)"),
                            ));
                        }
                    }
                    Node::Ord { lhs, op, rhs }
                } else {
                    let op = match op {
                        BinOp::Eq => StrOp::Eq,
                        BinOp::Neq => StrOp::Neq,
                        BinOp::Contains => StrOp::Contains,
                        BinOp::IContains => StrOp::IContains,
                        _ => StrOp::StartsWith,
                    };
                    let rhs = match (op, rhs) {
                        (StrOp::IContains, Operand::Lit(s, i)) => Operand::Lit(s.to_lowercase(), i),
                        (_, r) => r,
                    };
                    Node::Str { lhs, op, rhs }
                }
            }
            Expr::Set { lhs, pmatch, elems } => {
                let lhs = self.operand(lhs);
                let mut items = Vec::new();
                for el in elems {
                    match el {
                        ListElem::Atom(a) => self.reduce_list(
                            a.text.trim_matches('"'),
                            a.pos,
                            src,
                            &mut Vec::new(),
                            &mut items,
                        )?,
                        ListElem::Items(v) => {
                            for a in v {
                                self.reduce_list(
                                    a.text.trim_matches('"'),
                                    a.pos,
                                    src,
                                    &mut Vec::new(),
                                    &mut items,
                                )?;
                            }
                        }
                    }
                }
                if *pmatch {
                    let patterns = if items.is_empty() {
                        None
                    } else {
                        Some(AhoCorasick::new(&items).map_err(|e| {
                            self.err(
                                ErrorKind::Syntax,
                                src,
                                0,
                                format!("cannot build the pmatch automaton: {e}"),
                            )
                        })?)
                    };
                    Node::PMatch { lhs, patterns }
                } else {
                    Node::In {
                        lhs,
                        set: items.into_iter().collect(),
                    }
                }
            }
            Expr::Or(_) | Expr::And(_) | Expr::Not(_) | Expr::Var(_) => {
                return Err(self.err(
                    ErrorKind::Syntax,
                    src,
                    0,
                    "internal: not a predicate".to_string(),
                ))
            }
        })
    }

    /// The reference's `_reduceList`: a name of a list expands (recursively) to its items, anything else is itself.
    fn reduce_list(
        &self,
        item: &str,
        pos: usize,
        src: usize,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), SfqlError> {
        match self.defs.lists.get(item) {
            Some(items) => {
                if stack.iter().any(|s| s == item) {
                    stack.push(item.to_string());
                    return Err(self.err(
                        ErrorKind::Cycle,
                        src,
                        pos,
                        format!("list `{item}` contains itself: {}", stack.join(" -> ")),
                    ));
                }
                stack.push(item.to_string());
                for i in items {
                    self.reduce_list(i, pos, src, stack, out)?;
                }
                stack.pop();
            }
            None => out.push(item.to_string()),
        }
        Ok(())
    }
}
