//! SFPL compilation: parse trees → compiled rules and filters, with the reference's scoping of lists and macros.
//!
//! Each file is processed in two passes like the reference (a definitions pass collecting lists and macros, then a
//! policy pass that redefines them in order and compiles rules and filters), sharing one list/macro table across
//! files in load order. Macros are inlined at each reference, so they see the lists as they are when the rule is
//! compiled; an unknown macro reference is a warning and evaluates to false.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sysflow_format::RecordKind;

use crate::engine::{CompiledFilter, CompiledRule, Filter, Priority, Rule};
use crate::error::{ErrorKind, Location, PolicyError, Warning};
use crate::eval::{build_matcher, Expr, IntOp, IntOperand, Matcher, Operand, StrOp};
use crate::fields::{op_bit, type_code, Compat, Field};
use crate::parser::{parse, trim_bounding_quotes, Ast, Atom, BinOp, Item, Pos, RuleDecl};
use crate::sigma::{LogSource, SigmaConfig, SigmaExpr, SigmaOp, SigmaRule};

/// Shared state of a compilation (all files of one engine).
pub(crate) struct Compiler {
    compat: Compat,
    lists: HashMap<String, Vec<String>>,
    macros: HashMap<String, Arc<Ast>>,
    matchers: HashMap<(u8, Vec<String>), Arc<Matcher>>,
    rules: Vec<CompiledRule>,
    filters: Vec<CompiledFilter>,
    warnings: Vec<Warning>,
    file: PathBuf,
    item: Option<String>,
    /// Macro and list declarations seen (redefinitions counted).
    pub declared: (usize, usize),
}

/// Go `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go `strconv.ParseInt(s, 10, 64)`.
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn fold_and(v: Vec<Expr>) -> Expr {
    let mut out = Vec::with_capacity(v.len());
    for e in v {
        match e {
            Expr::Const(true) => {}
            Expr::Const(false) => return Expr::Const(false),
            Expr::And(inner) => out.extend(inner.into_vec()),
            e => out.push(e),
        }
    }
    match out.len() {
        0 => Expr::Const(true),
        1 => out.pop().unwrap_or(Expr::Const(true)),
        _ => Expr::And(out.into_boxed_slice()),
    }
}

fn fold_or(v: Vec<Expr>) -> Expr {
    let mut out = Vec::with_capacity(v.len());
    for e in v {
        match e {
            Expr::Const(false) => {}
            Expr::Const(true) => return Expr::Const(true),
            Expr::Or(inner) => out.extend(inner.into_vec()),
            e => out.push(e),
        }
    }
    match out.len() {
        0 => Expr::Const(false),
        1 => out.pop().unwrap_or(Expr::Const(false)),
        _ => Expr::Or(out.into_boxed_slice()),
    }
}

fn fold_not(e: Expr) -> Expr {
    match e {
        Expr::Const(b) => Expr::Const(!b),
        Expr::Not(inner) => *inner,
        e => Expr::Not(Box::new(e)),
    }
}

const ANCESTOR_FIELDS: &[Field] = &[
    Field::ProcAName,
    Field::ProcAExe,
    Field::ProcACmdline,
    Field::ProcAPid,
];

impl Compiler {
    pub fn new(compat: Compat) -> Self {
        Compiler {
            compat,
            lists: HashMap::new(),
            macros: HashMap::new(),
            matchers: HashMap::new(),
            rules: Vec::new(),
            filters: Vec::new(),
            warnings: Vec::new(),
            file: PathBuf::new(),
            item: None,
            declared: (0, 0),
        }
    }

    pub fn finish(
        self,
    ) -> (
        Vec<CompiledRule>,
        Vec<CompiledFilter>,
        Vec<Warning>,
        (usize, usize),
    ) {
        (self.rules, self.filters, self.warnings, self.declared)
    }

    fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.clone(),
            line: pos.line,
            column: pos.col,
            item: self.item.clone(),
        }
    }

    fn warn(&mut self, pos: Pos, message: String) {
        let location = self.loc(pos);
        self.warnings.push(Warning { location, message });
    }

    /// Compiles one SFPL source (two passes, like the reference).
    pub fn compile_sfpl(&mut self, file: &Path, text: &str) -> Result<(), PolicyError> {
        self.file = file.to_path_buf();
        self.item = None;
        let items = parse(text, file)?;
        for item in &items {
            match item {
                Item::List { name, items, .. } => {
                    self.declared.1 += 1;
                    self.lists.insert(name.clone(), items.clone());
                }
                Item::Macro { name, cond, .. } => {
                    self.declared.0 += 1;
                    self.macros.insert(name.clone(), Arc::new(cond.clone()));
                }
                _ => {}
            }
        }
        for item in items {
            match item {
                Item::List { name, items, .. } => {
                    self.lists.insert(name, items);
                }
                Item::Macro { name, cond, .. } => {
                    self.macros.insert(name, Arc::new(cond));
                }
                Item::Rule(r) => self.compile_rule(r)?,
                Item::Filter {
                    name,
                    cond,
                    enabled,
                    pos,
                } => {
                    self.item = Some(format!("filter '{name}'"));
                    let cond = self.expr(&cond, &mut Vec::new())?;
                    let enabled = self.enabled_flag(enabled.as_ref());
                    let location = self.loc(pos);
                    self.filters.push(CompiledFilter {
                        meta: Filter {
                            name,
                            enabled,
                            location,
                        },
                        cond,
                    });
                }
            }
        }
        self.item = None;
        Ok(())
    }

    /// Compiles one Sigma rule file. A file that cannot be used is skipped with a warning naming it (as the
    /// reference skips it with a log line), so one bad rule does not stop the others.
    pub fn compile_sigma(&mut self, file: &Path, text: &str, cfg: &SigmaConfig) {
        self.file = file.to_path_buf();
        self.item = None;
        let mut notes = Vec::new();
        let parsed =
            crate::sigma::parse_rules(text, file, cfg, self.compat, &mut |w| notes.push(w));
        for n in notes {
            self.warn(Pos::default(), n);
        }
        match parsed {
            Ok(rules) => {
                for r in rules {
                    self.compile_sigma_rule(r);
                }
            }
            Err(e) => {
                let message = match &e.kind {
                    ErrorKind::Sigma(m) | ErrorKind::Syntax(m) | ErrorKind::Io(m) => m.clone(),
                    other => format!("{other:?}"),
                };
                self.warnings.push(Warning {
                    location: e.location,
                    message: format!("Sigma rule file skipped: {message}"),
                });
            }
        }
        self.item = None;
    }

    fn compile_sigma_rule(&mut self, r: SigmaRule) {
        self.item = Some(format!("sigma rule '{}'", r.name));
        let mut cond = self.sigma_expr(&r.cond);
        let (codes, mask): (&[&str], u16) = match r.logsource {
            LogSource::Any => (&[], 0),
            LogSource::ProcessCreation => (&["PE"], 1 << RecordKind::ProcessEvent as u16),
            LogSource::File => (
                &["FF", "FE"],
                1 << RecordKind::FileFlow as u16 | 1 << RecordKind::FileEvent as u16,
            ),
            LogSource::Network => (&["NF"], 1 << RecordKind::NetworkFlow as u16),
        };
        // The record types are the rule's prefilter; process creation also needs the exec flag.
        if r.logsource == LogSource::ProcessCreation {
            let exec = vec!["EXEC".to_owned()];
            let is_exec = self.literal_cmp(Operand::Field(Field::OpFlags), StrOp::Eq, exec);
            cond = fold_and(vec![is_exec, cond]);
        }
        let location = self.loc(Pos::default());
        let meta = Arc::new(Rule {
            name: r.name,
            desc: r.desc,
            priority: r.priority,
            tags: r.tags,
            actions: Vec::new(),
            prefilter: codes.iter().map(|c| (*c).to_owned()).collect(),
            enabled: true,
            location,
        });
        self.rules.push(CompiledRule {
            meta,
            prefilter: (mask != 0).then_some(mask),
            cond,
        });
    }

    fn sigma_expr(&mut self, e: &SigmaExpr) -> Expr {
        match e {
            SigmaExpr::Const(b) => Expr::Const(*b),
            SigmaExpr::And(v) => {
                let parts = v.iter().map(|x| self.sigma_expr(x)).collect();
                fold_and(parts)
            }
            SigmaExpr::Or(v) => {
                let parts = v.iter().map(|x| self.sigma_expr(x)).collect();
                fold_or(parts)
            }
            SigmaExpr::Not(x) => fold_not(self.sigma_expr(x)),
            SigmaExpr::Exists(f) => match Field::lookup(f, self.compat) {
                Some(f) => Expr::Exists(f),
                None => Expr::Const(true),
            },
            SigmaExpr::Cmp { field, op, value } => {
                let int_op = match op {
                    SigmaOp::Lt => Some(IntOp::Lt),
                    SigmaOp::Le => Some(IntOp::Le),
                    SigmaOp::Gt => Some(IntOp::Gt),
                    SigmaOp::Ge => Some(IntOp::Ge),
                    _ => None,
                };
                if let Some(op) = int_op {
                    let rhs = IntOperand::Const(parse_int(value).unwrap_or(0));
                    return match self.int_operand(field) {
                        IntOperand::Const(_) => Expr::Const(false),
                        lhs => Expr::Int { lhs, op, rhs },
                    };
                }
                let lhs = self.operand(field);
                // The reference's comma-split ("any piece") semantics apply to plain string values, not to patterns.
                let split = || value.split(',').map(str::to_owned).collect::<Vec<_>>();
                let (sop, pieces) = match op {
                    SigmaOp::Eq => (StrOp::IEq, split()),
                    SigmaOp::Contains => (StrOp::IContains, split()),
                    SigmaOp::StartsWith => (StrOp::IStartsWith, split()),
                    SigmaOp::EndsWith => (StrOp::IEndsWith, split()),
                    SigmaOp::Regex if self.compat == Compat::Reference => {
                        (StrOp::RegexRef, vec![value.clone()])
                    }
                    SigmaOp::Regex => (StrOp::Regex, vec![value.clone()]),
                    _ => (StrOp::Cidr, vec![value.clone()]),
                };
                self.literal_cmp(lhs, sop, pieces)
            }
        }
    }

    fn enabled_flag(&mut self, atom: Option<&Atom>) -> bool {
        let Some(a) = atom else { return true };
        let flag = trim_bounding_quotes(&a.text);
        match parse_bool(flag) {
            Some(b) => b,
            None => {
                self.warn(
                    a.pos,
                    format!("unrecognized enabled flag '{flag}', rule stays enabled"),
                );
                true
            }
        }
    }

    fn priority(&mut self, p: Option<&(String, Pos)>) -> Priority {
        let Some((text, pos)) = p else {
            return Priority::Low;
        };
        match text.to_ascii_lowercase().as_str() {
            "low" | "debug" | "info" | "informational" | "notice" => Priority::Low,
            "medium" | "warning" => Priority::Medium,
            "high" | "error" | "critical" | "emergency" => Priority::High,
            "alert" if self.compat == Compat::Fixed => Priority::High,
            other => {
                let msg = format!("unrecognized priority value '{other}', deferring to low");
                self.warn(*pos, msg);
                Priority::Low
            }
        }
    }

    fn compile_rule(&mut self, r: RuleDecl) -> Result<(), PolicyError> {
        self.item = Some(format!("rule '{}'", r.name));
        let cond = self.expr(&r.cond, &mut Vec::new())?;
        let priority = self.priority(r.priority.as_ref());
        let enabled = self.enabled_flag(r.enabled.as_ref());
        let prefilter = (!r.prefilter.is_empty()).then(|| {
            r.prefilter.iter().fold(0u16, |m, code| {
                m | RecordKind::ALL
                    .iter()
                    .filter(|k| type_code(**k) == code)
                    .fold(0, |a, k| a | (1u16 << *k as u16))
            })
        });
        let location = self.loc(r.pos);
        let meta = Arc::new(Rule {
            name: r.name,
            desc: r.desc,
            priority,
            tags: r.tags,
            actions: r.actions,
            prefilter: r.prefilter,
            enabled,
            location,
        });
        self.rules.push(CompiledRule {
            meta,
            prefilter,
            cond,
        });
        Ok(())
    }

    /// Resolves an operand as the reference's `MapStr` does.
    fn operand(&self, text: &str) -> Operand {
        if let Some((base, rest)) = text.split_once('[') {
            if let Some(f) = Field::lookup(base, self.compat) {
                // The reference drops the last character (assumed to be ']').
                let path = rest.char_indices().last().map_or("", |(i, _)| &rest[..i]);
                if self.compat == Compat::Fixed && ANCESTOR_FIELDS.contains(&f) {
                    if let Ok(n) = path.parse::<usize>() {
                        return Operand::Ancestor(f, n);
                    }
                }
                return Operand::Json(f, path.into());
            }
        }
        match Field::lookup(text, self.compat) {
            Some(f) => Operand::Field(f),
            None => Operand::Lit(trim_bounding_quotes(text).into()),
        }
    }

    fn int_operand(&self, text: &str) -> IntOperand {
        match Field::lookup(text, self.compat) {
            Some(f) => IntOperand::Field(f),
            None => IntOperand::Const(parse_int(text).unwrap_or(0)),
        }
    }

    /// Expands list references recursively (`reduceList`).
    fn reduce_list(
        &self,
        s: &str,
        out: &mut Vec<String>,
        stack: &mut Vec<String>,
        pos: Pos,
    ) -> Result<(), PolicyError> {
        match self.lists.get(s) {
            Some(items) => {
                if stack.iter().any(|x| x == s) {
                    return Err(PolicyError::new(
                        self.loc(pos),
                        ErrorKind::Recursion(format!("list '{s}' contains itself")),
                    ));
                }
                stack.push(s.to_owned());
                for v in items {
                    self.reduce_list(v, out, stack, pos)?;
                }
                stack.pop();
            }
            None => out.push(trim_bounding_quotes(s).to_owned()),
        }
        Ok(())
    }

    fn matcher(&mut self, op: StrOp, pieces: Vec<String>) -> Arc<Matcher> {
        let key = (op as u8, pieces);
        if let Some(m) = self.matchers.get(&key) {
            return m.clone();
        }
        let m = Arc::new(build_matcher(op, key.1.clone()));
        self.matchers.insert(key, m.clone());
        m
    }

    /// A comparison of `lhs` against literal pieces (the union over `any` semantics).
    fn literal_cmp(&mut self, lhs: Operand, op: StrOp, pieces: Vec<String>) -> Expr {
        if op == StrOp::Eq && !pieces.iter().any(String::is_empty) {
            match lhs {
                Operand::Field(Field::OpFlags) => {
                    let mask = pieces.iter().fold(0, |m, p| m | op_bit(p, false));
                    let net_mask = pieces.iter().fold(0, |m, p| m | op_bit(p, true));
                    // No listed name is an operation flag: never true (the reference compares strings).
                    if mask == 0 && net_mask == 0 {
                        return Expr::Const(false);
                    }
                    return Expr::OpFlags { mask, net_mask };
                }
                Operand::Field(Field::Type) => {
                    let mask = RecordKind::ALL
                        .iter()
                        .filter(|k| pieces.iter().any(|p| p == type_code(**k)))
                        .fold(0u16, |m, k| m | (1u16 << *k as u16));
                    return Expr::Kind(mask);
                }
                Operand::Field(f) if f.is_always_int() => {
                    // Equal to the decimal rendering: only canonical decimal pieces can match.
                    let vals: Vec<i64> = pieces
                        .iter()
                        .filter_map(|p| p.parse::<i64>().ok().filter(|v| v.to_string() == *p))
                        .collect();
                    return if vals.is_empty() {
                        Expr::Const(false)
                    } else {
                        Expr::IntIn(f, vals.into())
                    };
                }
                Operand::Field(f @ (Field::FileIsOpenRead | Field::FileIsOpenWrite)) => {
                    // A boolean rendered `true`/`false`: whether the open flags have the read (write) bit.
                    let bit = if f == Field::FileIsOpenRead {
                        sysflow_format::flags::open::RDONLY
                    } else {
                        sysflow_format::flags::open::WRONLY
                    } as i64;
                    let set = Expr::OpenFlags {
                        none: false,
                        all_of: Box::new([bit]),
                    };
                    let (t, f) = (
                        pieces.iter().any(|p| p == "true"),
                        pieces.iter().any(|p| p == "false"),
                    );
                    return match (t, f) {
                        (true, true) => Expr::Const(true),
                        (false, false) => Expr::Const(false),
                        (true, false) => set,
                        (false, true) => Expr::Not(Box::new(set)),
                    };
                }
                Operand::Field(Field::FileOpenFlags) => {
                    // Equal to one of the flag names: a test of the flag bits.
                    let none = pieces.iter().any(|p| p == "NONE");
                    let mut all_of: Vec<i64> = pieces
                        .iter()
                        .filter_map(|p| crate::fields::open_bit(p))
                        .collect();
                    all_of.sort_unstable();
                    all_of.dedup();
                    if !none && all_of.is_empty() {
                        return Expr::Const(false);
                    }
                    return Expr::OpenFlags {
                        none,
                        all_of: all_of.into(),
                    };
                }
                Operand::Field(f) => {
                    // Fields with a closed vocabulary: if no listed piece is a possible value, never equal.
                    let vocab: Option<Vec<&str>> = match f {
                        Field::FalcoEvtType => Some(
                            crate::fields::evt_type_names(-1, RecordKind::ProcessEvent)
                                .chain(crate::fields::evt_type_names(-1, RecordKind::NetworkFlow))
                                .collect(),
                        ),
                        _ => None,
                    };
                    if vocab.is_some_and(|v| !pieces.iter().any(|p| v.contains(&p.as_str()))) {
                        return Expr::Const(false);
                    }
                }
                _ => {}
            }
        }
        if let Operand::Lit(l) = &lhs {
            let m = build_matcher(op, pieces);
            return Expr::Const(m.is_match(l, l.contains(',')));
        }
        let m = self.matcher(op, pieces);
        Expr::Match { lhs, m }
    }

    fn expr(&mut self, ast: &Ast, stack: &mut Vec<String>) -> Result<Expr, PolicyError> {
        Ok(match ast {
            Ast::Or(v) => {
                let mut out = Vec::with_capacity(v.len());
                for a in v {
                    out.push(self.expr(a, stack)?);
                }
                fold_or(out)
            }
            Ast::And(v) => {
                let mut out = Vec::with_capacity(v.len());
                for a in v {
                    out.push(self.expr(a, stack)?);
                }
                fold_and(out)
            }
            Ast::Not(a) => fold_not(self.expr(a, stack)?),
            Ast::Ref(name, pos) => match self.macros.get(name).cloned() {
                Some(m) => {
                    if stack.iter().any(|x| x == name) {
                        return Err(PolicyError::new(
                            self.loc(*pos),
                            ErrorKind::Recursion(format!(
                                "macro '{name}' refers to itself ({})",
                                stack.join(" -> ")
                            )),
                        ));
                    }
                    stack.push(name.clone());
                    let e = self.expr(&m, stack)?;
                    stack.pop();
                    e
                }
                None => {
                    self.warn(
                        *pos,
                        format!(
                            "unrecognized reference '{name}' (not a macro): evaluates to false"
                        ),
                    );
                    Expr::Const(false)
                }
            },
            Ast::Exists(a) => match Field::lookup(&a.text, self.compat) {
                Some(f) => Expr::Exists(f),
                // An unknown name (or a jsonpath) is a non-empty literal: always "exists".
                None => Expr::Const(true),
            },
            Ast::Bin(l, op, r) => {
                let int_op = match op {
                    BinOp::Lt => Some(IntOp::Lt),
                    BinOp::Le => Some(IntOp::Le),
                    BinOp::Gt => Some(IntOp::Gt),
                    BinOp::Ge => Some(IntOp::Ge),
                    _ => None,
                };
                if let Some(iop) = int_op {
                    let (lhs, rhs) = (self.int_operand(&l.text), self.int_operand(&r.text));
                    if let (IntOperand::Const(a), IntOperand::Const(b)) = (lhs, rhs) {
                        return Ok(Expr::Const(match iop {
                            IntOp::Lt => a < b,
                            IntOp::Le => a <= b,
                            IntOp::Gt => a > b,
                            IntOp::Ge => a >= b,
                        }));
                    }
                    return Ok(Expr::Int { lhs, op: iop, rhs });
                }
                let sop = match op {
                    BinOp::Eq | BinOp::Neq => StrOp::Eq,
                    BinOp::Contains => StrOp::Contains,
                    BinOp::IContains => StrOp::IContains,
                    BinOp::StartsWith => StrOp::StartsWith,
                    _ => StrOp::EndsWith,
                };
                let (mut lhs, mut rhs) = (self.operand(&l.text), self.operand(&r.text));
                // Equality is symmetric under any-piece semantics: put the literal on the right.
                if sop == StrOp::Eq
                    && matches!(lhs, Operand::Lit(_))
                    && !matches!(rhs, Operand::Lit(_))
                {
                    std::mem::swap(&mut lhs, &mut rhs);
                }
                let e = match rhs {
                    Operand::Lit(lit) => {
                        let pieces = lit.split(',').map(str::to_owned).collect();
                        self.literal_cmp(lhs, sop, pieces)
                    }
                    rhs => Expr::Str { lhs, op: sop, rhs },
                };
                if *op == BinOp::Neq {
                    fold_not(e)
                } else {
                    e
                }
            }
            Ast::In { lhs, pmatch, items } => {
                let mut list = Vec::new();
                for a in items {
                    self.reduce_list(&a.text, &mut list, &mut Vec::new(), a.pos)?;
                }
                // The reference splits every list value at commas too (compareStr).
                let pieces: Vec<String> = list
                    .iter()
                    .flat_map(|v| v.split(',').map(str::to_owned))
                    .collect();
                let op = if *pmatch { StrOp::Contains } else { StrOp::Eq };
                if pieces.is_empty() {
                    return Ok(Expr::Const(false));
                }
                let lhs = self.operand(&lhs.text);
                self.literal_cmp(lhs, op, pieces)
            }
        })
    }
}
