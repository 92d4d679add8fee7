//! Compiled condition trees and their evaluation against one record.
//!
//! Comparisons follow the reference's string semantics: both sides are rendered as strings, split at `,`, and the
//! comparison holds if *any* pair of pieces satisfies it. Literal right-hand sides are split and compiled once
//! (hash sets for `in`/`=`, Aho-Corasick automata for `pmatch`/`contains`); operation flags and record types compile
//! to bit masks; integer comparisons use integers. Field values that need work (command lines, ancestors, op flag
//! names, hashes) are computed at most once per record.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use sysflow_format::{FlatRecord, RecordKind};

use crate::fields::{Compat, Field, Value};
use crate::jsonpath;
use crate::parser::trim_bounding_quotes;
use crate::procctx::{Cache, FileKey};

/// FxHash-style hasher for short strings (list membership).
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
}

type FxSet = HashSet<Box<str>, BuildHasherDefault<FxHasher>>;

/// An operand of a comparison.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    /// A field value.
    Field(Field),
    /// A jsonpath query on a field's (JSON text) value.
    Json(Field, Box<str>),
    /// Element `n` of an ancestor field (`proc.aname[2]`; fixed mode only).
    Ancestor(Field, usize),
    /// A literal (bounding quotes already trimmed).
    Lit(Box<str>),
}

/// String comparison operators (`!=` compiles to `not =`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Eq,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    /// Case-insensitive equality (Sigma's default comparison).
    IEq,
    /// Case-insensitive prefix (Sigma `startswith`).
    IStartsWith,
    /// Case-insensitive suffix (Sigma `endswith`).
    IEndsWith,
    /// A regular expression matches somewhere in the value (Sigma `re`, wildcards).
    Regex,
    /// As `Regex`, with the reference's quirk: the leftmost match must be non-empty.
    RegexRef,
    /// The value is an IP address inside a network (Sigma `cidr`).
    Cidr,
}

/// Integer comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntOp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// An integer operand: a field or a constant (what the reference's `MapInt` yields for non-fields).
#[derive(Debug, Clone, Copy)]
pub(crate) enum IntOperand {
    Field(Field),
    Const(i64),
}

/// A precompiled matcher for a literal right-hand side (already split into comma pieces).
#[derive(Debug)]
pub(crate) enum Matcher {
    /// Any left piece equals one of these.
    EqSmall(Vec<Box<str>>),
    /// Any left piece is in the set.
    EqSet(FxSet),
    /// The left value contains one of the patterns (the patterns contain no comma, so matching the whole value is
    /// the same as matching each piece).
    Contains(AhoCorasick),
    /// As `Contains`, case-insensitively (patterns lowered).
    IContains(AhoCorasick, Vec<Box<str>>),
    /// Any left piece starts with one of these.
    StartsWith(Vec<Box<str>>),
    /// Any left piece ends with one of these.
    EndsWith(Vec<Box<str>>),
    /// The left value contains one of a few patterns (substring search per pattern).
    ContainsFew(Vec<memchr::memmem::Finder<'static>>),
    /// Naive any-piece `contains` (used only if an automaton cannot be built).
    ContainsNaive(Vec<Box<str>>, bool),
    /// Any lowered left piece equals one of these (lowered).
    IEq(Vec<Box<str>>),
    /// Any lowered left piece starts with one of these (lowered).
    IStartsWith(Vec<Box<str>>),
    /// Any lowered left piece ends with one of these (lowered).
    IEndsWith(Vec<Box<str>>),
    /// One of the regular expressions matches the whole left value; `true`: the reference's non-empty-match quirk.
    Regex(Vec<regex::Regex>, bool),
    /// Any left piece is an IP address in one of these networks.
    Cidr(Vec<(std::net::IpAddr, u8)>),
    /// Always true (an empty pattern is contained in everything).
    Always,
    /// Never true (e.g. a regular expression that does not compile).
    Never,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Const(bool),
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Not(Box<Expr>),
    Exists(Field),
    /// Comparison of two runtime operands.
    Str {
        lhs: Operand,
        op: StrOp,
        rhs: Operand,
    },
    /// Comparison against a literal (or list of literals).
    Match {
        lhs: Operand,
        m: Arc<Matcher>,
    },
    Int {
        lhs: IntOperand,
        op: IntOp,
        rhs: IntOperand,
    },
    /// `sf.opflags` equal to / in a set of names: bit masks for non-network and network records.
    OpFlags {
        mask: i32,
        net_mask: i32,
    },
    /// `sf.type` equal to / in a set of type codes: a mask over [`RecordKind`].
    Kind(u16),
    /// `sf.file.openflags` equal to / in a set of flag names: no flag is set and `NONE` is listed, or all bits of
    /// one of the listed flags are set.
    OpenFlags {
        none: bool,
        all_of: Box<[i64]>,
    },
    /// An always-integer field rendered in decimal equals one of these (the canonical decimal pieces of a literal).
    IntIn(Field, Box<[i64]>),
    /// A subexpression shared by several rules: its result is computed once per record (slot index).
    Memo(u32, Box<Expr>),
    /// A condition on the process context only ([`Scope::Process`]) or on the record type and files only
    /// ([`Scope::File`]): index into the engine's fact table of that scope; its result is cached per context across
    /// records.
    Fact(Scope, u32),
}

/// What a cached condition ([`Expr::Fact`]) depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// The process context (process, parent, ancestors, container, pod, header).
    Process,
    /// The record type and the file entities.
    File,
}

/// The fact results of a record's contexts and the fact conditions, per [`Scope`].
#[derive(Clone, Copy, Default)]
pub(crate) struct FactCtx<'a> {
    /// Results (0 = not computed, 1 = false, 2 = true) and conditions of process facts.
    pub process: (&'a [Cell<u8>], &'a [Expr]),
    /// The file-context cache (the record's entry is looked up on the first file fact) and the file fact conditions.
    pub file: (Option<&'a Cache<FileKey>>, &'a [Expr]),
}

/// A string being compared: borrowed from the record, the per-record cache, or owned.
enum Rendered<'a> {
    B(&'a str, bool),
    O(String),
}

impl Rendered<'_> {
    fn as_str(&self) -> &str {
        match self {
            Rendered::B(s, _) => s,
            Rendered::O(s) => s,
        }
    }
    fn has_comma(&self) -> bool {
        match self {
            Rendered::B(_, c) => *c,
            Rendered::O(s) => s.contains(','),
        }
    }
}

/// A field's final comparison string (bounding quotes trimmed) and whether it has a comma to split at.
struct Cached<'a> {
    s: Cow<'a, str>,
    comma: bool,
}

/// Number of per-record string cache slots; fields are mapped to slots by a [`SlotMap`].
pub(crate) const SLOTS: usize = 16;

/// Which string cache slot each field uses (`NO_SLOT`: rendered at each use).
pub(crate) type SlotMap = [u8; Field::ALL.len()];

/// The slot of a field that is not cached.
pub(crate) const NO_SLOT: u8 = u8::MAX;

/// A slot map caching nothing.
pub(crate) static NO_SLOTS: SlotMap = [NO_SLOT; Field::ALL.len()];

/// Per-record evaluation context: the record and the lazily computed string of the fields used most.
pub(crate) struct Ctx<'a> {
    pub rec: &'a FlatRecord,
    pub compat: Compat,
    pub kind: RecordKind,
    cache: [OnceCell<Cached<'a>>; SLOTS],
    slots: &'a SlotMap,
    /// Results of shared subexpressions: 0 = not computed, 1 = false, 2 = true.
    memo: &'a [Cell<u8>],
    /// Cached results of the record's contexts.
    facts: FactCtx<'a>,
    /// The file fact results of the record's file context (looked up on first use).
    file_facts: OnceCell<&'a [Cell<u8>]>,
}

impl<'a> Ctx<'a> {
    pub fn new(rec: &'a FlatRecord, compat: Compat) -> Self {
        Ctx::with_memo(rec, compat, &NO_SLOTS, &[], FactCtx::default())
    }

    /// A context caching field strings in the slots of `slots`, using `memo` (all zero) for shared subexpression
    /// results and `facts` for [`Expr::Fact`] nodes.
    pub fn with_memo(
        rec: &'a FlatRecord,
        compat: Compat,
        slots: &'a SlotMap,
        memo: &'a [Cell<u8>],
        facts: FactCtx<'a>,
    ) -> Self {
        Ctx {
            rec,
            compat,
            kind: rec.kind(),
            cache: [const { OnceCell::new() }; SLOTS],
            slots,
            memo,
            facts,
            file_facts: OnceCell::new(),
        }
    }

    fn render(&self, f: Field) -> Cached<'a> {
        let s: Cow<'a, str> = match f.render(self.rec, self.compat) {
            Cow::Borrowed(s) => Cow::Borrowed(trim_bounding_quotes(s)),
            Cow::Owned(s) => {
                let t = trim_bounding_quotes(&s);
                if t.len() == s.len() {
                    Cow::Owned(s)
                } else {
                    Cow::Owned(t.to_owned())
                }
            }
        };
        let comma = memchr::memchr(b',', s.as_bytes()).is_some();
        Cached { s, comma }
    }

    fn field_str(&self, f: Field) -> Rendered<'_> {
        match self.cache.get(self.slots[f as usize] as usize) {
            Some(cell) => {
                let c = cell.get_or_init(|| self.render(f));
                Rendered::B(&c.s, c.comma)
            }
            None => match self.render(f) {
                Cached {
                    s: Cow::Borrowed(s),
                    comma,
                } => Rendered::B(s, comma),
                Cached {
                    s: Cow::Owned(s), ..
                } => Rendered::O(s),
            },
        }
    }

    fn operand_str<'s>(&'s self, o: &'s Operand) -> Rendered<'s> {
        match o {
            Operand::Field(f) => self.field_str(*f),
            Operand::Lit(s) => Rendered::B(s, s.contains(',')),
            Operand::Json(f, path) => {
                let v = f.value(self.rec, self.compat).render();
                if v.is_empty() || path.is_empty() {
                    Rendered::O(trim_bounding_quotes(&v).to_owned())
                } else {
                    Rendered::O(jsonpath::query(&v, path))
                }
            }
            Operand::Ancestor(f, n) => Rendered::O(match f.value(self.rec, self.compat) {
                Value::Strs(v) => v.get(*n).map(|s| s.to_string()).unwrap_or_default(),
                Value::Ints(v) => v.get(*n).map(|i| i.to_string()).unwrap_or_default(),
                _ => String::new(),
            }),
        }
    }

    fn int(&self, o: IntOperand) -> i64 {
        match o {
            IntOperand::Const(c) => c,
            IntOperand::Field(f) => f.int_value(self.rec, self.compat).unwrap_or(0),
        }
    }
}

/// Splits on `,` like Go's `strings.Split` (an empty string gives one empty piece).
#[inline]
fn pieces(s: &str) -> std::str::Split<'_, char> {
    s.split(',')
}

fn str_op(op: StrOp, l: &str, r: &str) -> bool {
    match op {
        StrOp::Eq => l == r,
        StrOp::Contains => l.contains(r),
        StrOp::IContains => l.to_lowercase().contains(&r.to_lowercase()),
        StrOp::StartsWith => l.starts_with(r),
        StrOp::EndsWith => l.ends_with(r),
        StrOp::IEq => l.to_lowercase() == r.to_lowercase(),
        StrOp::IStartsWith => l.to_lowercase().starts_with(&r.to_lowercase()),
        StrOp::IEndsWith => l.to_lowercase().ends_with(&r.to_lowercase()),
        StrOp::Regex | StrOp::RegexRef | StrOp::Cidr => {
            build_matcher(op, vec![r.to_owned()]).is_match(l, l.contains(','))
        }
    }
}

/// `l` in lower case, borrowed when it has no upper-case letter.
fn lowered(l: &str) -> Cow<'_, str> {
    if l.bytes().any(|b| b.is_ascii_uppercase()) || !l.is_ascii() {
        Cow::Owned(l.to_lowercase())
    } else {
        Cow::Borrowed(l)
    }
}

impl Matcher {
    /// Whether the left value `l` matches; `comma` says whether `l` has a comma (pieces to split).
    pub(crate) fn is_match(&self, l: &str, comma: bool) -> bool {
        match self {
            Matcher::Always => true,
            Matcher::EqSmall(v) if !comma => v.iter().any(|x| &**x == l),
            Matcher::EqSet(set) if !comma => set.contains(l),
            Matcher::StartsWith(v) if !comma => v.iter().any(|x| l.starts_with(&**x)),
            Matcher::EndsWith(v) if !comma => v.iter().any(|x| l.ends_with(&**x)),
            Matcher::EqSmall(v) => pieces(l).any(|p| v.iter().any(|x| &**x == p)),
            Matcher::EqSet(set) => pieces(l).any(|p| set.contains(p)),
            Matcher::Contains(ac) => ac.is_match(l),
            Matcher::ContainsFew(v) => v.iter().any(|f| f.find(l.as_bytes()).is_some()),
            Matcher::IContains(ac, pats) => {
                if l.is_ascii() {
                    ac.is_match(l)
                } else {
                    let lower = l.to_lowercase();
                    pats.iter().any(|p| lower.contains(&**p))
                }
            }
            Matcher::ContainsNaive(v, ci) => v.iter().any(|x| {
                str_op(
                    if *ci {
                        StrOp::IContains
                    } else {
                        StrOp::Contains
                    },
                    l,
                    x,
                )
            }),
            Matcher::StartsWith(v) => pieces(l).any(|p| v.iter().any(|x| p.starts_with(&**x))),
            Matcher::EndsWith(v) => pieces(l).any(|p| v.iter().any(|x| p.ends_with(&**x))),
            Matcher::IEq(v) => pieces(&lowered(l)).any(|p| v.iter().any(|x| &**x == p)),
            Matcher::IStartsWith(v) => {
                pieces(&lowered(l)).any(|p| v.iter().any(|x| p.starts_with(&**x)))
            }
            Matcher::IEndsWith(v) => {
                pieces(&lowered(l)).any(|p| v.iter().any(|x| p.ends_with(&**x)))
            }
            Matcher::Regex(v, false) => v.iter().any(|r| r.is_match(l)),
            Matcher::Regex(v, true) => v
                .iter()
                .any(|r| r.find(l).is_some_and(|m| !m.as_str().is_empty())),
            Matcher::Cidr(nets) => pieces(l).any(|p| {
                p.trim().parse::<std::net::IpAddr>().is_ok_and(|ip| {
                    nets.iter()
                        .any(|(n, len)| crate::sigma::in_cidr(ip, *n, *len))
                })
            }),
            Matcher::Never => false,
        }
    }
}

impl Ctx<'_> {
    /// The value of fact `i` of `scope`, computed on first use for the record's context.
    pub(crate) fn fact(&self, scope: Scope, i: u32) -> bool {
        let (cells, exprs) = match scope {
            Scope::Process => self.facts.process,
            Scope::File => {
                let (cache, exprs) = self.facts.file;
                let cells = self.file_facts.get_or_init(|| {
                    cache
                        .and_then(|c| c.entry(self.rec))
                        .map_or(&[][..], |e| &e.facts[..])
                });
                (*cells, exprs)
            }
        };
        match cells.get(i as usize).map(Cell::get) {
            Some(1) => false,
            Some(2) => true,
            _ => {
                let v = exprs.get(i as usize).is_some_and(|e| e.eval(self));
                if let Some(cell) = cells.get(i as usize) {
                    cell.set(1 + v as u8);
                }
                v
            }
        }
    }
}

impl Expr {
    /// Evaluates the condition on the record of `ctx`.
    pub(crate) fn eval(&self, ctx: &Ctx<'_>) -> bool {
        // The recursive part stays small (leaf work lives in non-inlined helpers), so recursion is cheap.
        match self {
            Expr::Const(b) => *b,
            Expr::And(v) => v.iter().all(|e| e.eval(ctx)),
            Expr::Or(v) => v.iter().any(|e| e.eval(ctx)),
            Expr::Not(e) => !e.eval(ctx),
            Expr::OpFlags { mask, net_mask } => {
                let flags = ctx.rec.record.op_flags().unwrap_or(0);
                let net = matches!(ctx.kind, RecordKind::NetworkFlow | RecordKind::NetworkEvent);
                flags & if net { *net_mask } else { *mask } != 0
            }
            Expr::Kind(mask) => mask & (1u16 << ctx.kind as u16) != 0,
            Expr::OpenFlags { none, all_of } => {
                let flags = crate::fields::open_flags_raw(ctx.rec, ctx.compat);
                (flags == 0 && *none) || all_of.iter().any(|b| flags & b == *b)
            }
            Expr::Memo(slot, e) => match ctx.memo.get(*slot as usize).map(Cell::get) {
                Some(1) => false,
                Some(2) => true,
                _ => {
                    let v = e.eval(ctx);
                    if let Some(cell) = ctx.memo.get(*slot as usize) {
                        cell.set(1 + v as u8);
                    }
                    v
                }
            },
            Expr::Fact(scope, i) => ctx.fact(*scope, *i),
            leaf => leaf.eval_leaf(ctx),
        }
    }

    #[inline(never)]
    fn eval_leaf(&self, ctx: &Ctx<'_>) -> bool {
        match self {
            Expr::Exists(f) => !f.value(ctx.rec, ctx.compat).is_zero(),
            Expr::Match { lhs, m } => {
                let l = ctx.operand_str(lhs);
                m.is_match(l.as_str(), l.has_comma())
            }
            Expr::Str { lhs, op, rhs } => {
                let l = ctx.operand_str(lhs);
                let r = ctx.operand_str(rhs);
                pieces(l.as_str()).any(|lp| pieces(r.as_str()).any(|rp| str_op(*op, lp, rp)))
            }
            Expr::Int { lhs, op, rhs } => {
                let (l, r) = (ctx.int(*lhs), ctx.int(*rhs));
                match op {
                    IntOp::Lt => l < r,
                    IntOp::Le => l <= r,
                    IntOp::Gt => l > r,
                    IntOp::Ge => l >= r,
                }
            }
            Expr::IntIn(f, vals) => match f.value(ctx.rec, ctx.compat) {
                Value::Int(i) => vals.contains(&i),
                _ => false,
            },
            other => other.eval(ctx),
        }
    }
}

/// Builds a matcher for `op` over literal pieces (already split at commas and quote-trimmed).
pub(crate) fn build_matcher(op: StrOp, pats: Vec<String>) -> Matcher {
    let boxed = |v: Vec<String>| {
        v.into_iter()
            .map(String::into_boxed_str)
            .collect::<Vec<_>>()
    };
    match op {
        StrOp::Eq => {
            if pats.len() <= 4 {
                Matcher::EqSmall(boxed(pats))
            } else {
                Matcher::EqSet(pats.into_iter().map(String::into_boxed_str).collect())
            }
        }
        StrOp::Contains | StrOp::IContains => {
            if pats.iter().any(String::is_empty) {
                return Matcher::Always;
            }
            let ci = op == StrOp::IContains;
            if !ci && pats.len() <= 4 {
                return Matcher::ContainsFew(
                    pats.iter()
                        .map(|p| memchr::memmem::Finder::new(p.as_bytes()).into_owned())
                        .collect(),
                );
            }
            let lowered: Vec<String> = if ci {
                pats.iter().map(|p| p.to_lowercase()).collect()
            } else {
                pats
            };
            let ac = AhoCorasick::builder()
                .ascii_case_insensitive(ci)
                .build(&lowered);
            match ac {
                Ok(ac) if ci => Matcher::IContains(ac, boxed(lowered)),
                Ok(ac) => Matcher::Contains(ac),
                // Building only fails for pattern sets beyond the automaton's size limits.
                Err(_) => Matcher::ContainsNaive(boxed(lowered), ci),
            }
        }
        StrOp::StartsWith => Matcher::StartsWith(boxed(pats)),
        StrOp::EndsWith => Matcher::EndsWith(boxed(pats)),
        StrOp::IEq | StrOp::IStartsWith | StrOp::IEndsWith => {
            let low = boxed(pats.iter().map(|p| p.to_lowercase()).collect());
            match op {
                StrOp::IEq => Matcher::IEq(low),
                StrOp::IStartsWith => Matcher::IStartsWith(low),
                _ => Matcher::IEndsWith(low),
            }
        }
        StrOp::Regex | StrOp::RegexRef => {
            // Patterns are validated when the rule is read; one that still fails never matches.
            let res: Vec<regex::Regex> = pats
                .iter()
                .filter_map(|p| regex::Regex::new(p).ok())
                .collect();
            if res.is_empty() {
                Matcher::Never
            } else {
                Matcher::Regex(res, op == StrOp::RegexRef)
            }
        }
        StrOp::Cidr => {
            let nets: Vec<_> = pats
                .iter()
                .filter_map(|p| crate::sigma::parse_cidr(p))
                .collect();
            if nets.is_empty() {
                Matcher::Never
            } else {
                Matcher::Cidr(nets)
            }
        }
    }
}

impl std::fmt::Display for Operand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operand::Field(x) => write!(f, "{}", x.name()),
            Operand::Json(x, p) => write!(f, "{}[{p}]", x.name()),
            Operand::Ancestor(x, n) => write!(f, "{}[{n}]", x.name()),
            Operand::Lit(l) => write!(f, "{l:?}"),
        }
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expr::Const(b) => write!(f, "{b}"),
            Expr::And(v) | Expr::Or(v) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                write!(f, "(")?;
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, "{sep}")?;
                    }
                    write!(f, "{e}")?;
                }
                write!(f, ")")
            }
            Expr::Not(e) => write!(f, "not {e}"),
            Expr::Exists(x) => write!(f, "{} exists", x.name()),
            Expr::Str { lhs, op, rhs } => write!(f, "{lhs} {op:?} {rhs}"),
            Expr::Match { lhs, m } => write!(f, "{lhs} ~ {}", m.describe()),
            Expr::Int { lhs, op, rhs } => write!(f, "{lhs:?} {op:?} {rhs:?}"),
            Expr::OpFlags { mask, net_mask } => write!(f, "opflags&{mask:#x}/{net_mask:#x}"),
            Expr::Kind(m) => write!(f, "kind&{m:#x}"),
            Expr::OpenFlags { none, all_of } => write!(f, "openflags(none={none}, {all_of:?})"),
            Expr::IntIn(x, v) => write!(f, "{} in {v:?}", x.name()),
            Expr::Memo(i, e) => write!(f, "#{i}{e}"),
            Expr::Fact(Scope::Process, i) => write!(f, "@p{i}"),
            Expr::Fact(Scope::File, i) => write!(f, "@f{i}"),
        }
    }
}

impl Matcher {
    fn describe(&self) -> String {
        match self {
            Matcher::EqSmall(v) => format!("eq{v:?}"),
            Matcher::EqSet(s) => format!("eqset[{}]", s.len()),
            Matcher::Contains(_) => "contains[ac]".into(),
            Matcher::IContains(_, v) => format!("icontains{v:?}"),
            Matcher::StartsWith(v) => format!("startswith{v:?}"),
            Matcher::EndsWith(v) => format!("endswith{v:?}"),
            Matcher::ContainsFew(v) => format!("contains[{}]", v.len()),
            Matcher::ContainsNaive(v, _) => format!("containsnaive{v:?}"),
            Matcher::IEq(v) => format!("ieq{v:?}"),
            Matcher::IStartsWith(v) => format!("istartswith{v:?}"),
            Matcher::IEndsWith(v) => format!("iendswith{v:?}"),
            Matcher::Regex(v, _) => format!(
                "regex{:?}",
                v.iter().map(|r| r.as_str()).collect::<Vec<_>>()
            ),
            Matcher::Cidr(v) => format!("cidr{v:?}"),
            Matcher::Always => "always".into(),
            Matcher::Never => "never".into(),
        }
    }
}
