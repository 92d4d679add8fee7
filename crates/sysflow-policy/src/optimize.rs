//! Compile-time specialisation of conditions per record type.
//!
//! Many fields have a fixed value on some record types (file fields on process events and network flows, network
//! fields on file flows, `sf.type` everywhere, ...). For each record type the engine keeps a copy of every condition
//! with those comparisons folded to constants, so a rule about files costs nothing on a process event. Conjunctions
//! and disjunctions are then reordered cheapest-first (evaluation has no side effects, so the result is unchanged).

use sysflow_format::{
    FileEvent, FileFlow, FlatRecord, K8sEvent, Layout, NetworkEvent, NetworkFlow, ProcessEvent,
    ProcessFlow, Record, RecordKind,
};

use crate::eval::{Ctx, Expr, IntOperand, Operand, Scope};
use crate::fields::{Compat, Field};

/// A record of `kind` with default contents and no entities (only used for fields that do not depend on them).
pub(crate) fn dummy(kind: RecordKind) -> Option<FlatRecord> {
    let record = match kind {
        RecordKind::ProcessEvent => Record::ProcessEvent(ProcessEvent::default()),
        RecordKind::FileFlow => Record::FileFlow(FileFlow::default()),
        RecordKind::FileEvent => Record::FileEvent(FileEvent::default()),
        RecordKind::NetworkFlow => Record::NetworkFlow(NetworkFlow::default()),
        RecordKind::NetworkEvent => Record::NetworkEvent(NetworkEvent::default()),
        RecordKind::ProcessFlow => Record::ProcessFlow(ProcessFlow::default()),
        RecordKind::K8sEvent => Record::K8sEvent(K8sEvent::default()),
        _ => return None,
    };
    Some(FlatRecord::new(record, Layout::V5))
}

/// Whether `f` has the same value on every record of `kind` (given how [`Field::value`] reads the slots).
fn constant_for(f: Field, kind: RecordKind, compat: Compat) -> bool {
    use Field::*;
    use RecordKind as K;
    let fixed = compat == Compat::Fixed;
    let no_file = matches!(
        kind,
        K::ProcessEvent | K::NetworkFlow | K::NetworkEvent | K::ProcessFlow | K::K8sEvent
    );
    match f {
        Type | FalcoEvtDir => true,
        FileName | FilePath | FileSymlink | FileOid | FileDirectory | FileType => no_file,
        FileNewName | FileNewPath | FileNewSymlink | FileNewOid | FileNewDirectory => {
            kind != K::FileEvent
        }
        FileIsOpenRead | FileIsOpenWrite | FileOpenFlags => match kind {
            K::FileFlow => false,
            K::NetworkFlow => fixed,
            _ => true,
        },
        FileFd => match kind {
            K::FileFlow | K::NetworkFlow => false,
            K::FileEvent => fixed,
            _ => true,
        },
        NetProto | NetSport | NetDport | NetPort | NetDip => {
            !matches!(kind, K::NetworkFlow | K::NetworkEvent)
        }
        NetSip | NetIp => match kind {
            K::NetworkFlow | K::NetworkEvent => false,
            K::FileFlow => fixed,
            _ => true,
        },
        FlowRBytes | FlowROps | FlowWBytes | FlowWOps => match kind {
            K::FileFlow | K::NetworkFlow => false,
            K::FileEvent => fixed,
            _ => true,
        },
        Ret => !matches!(kind, K::ProcessEvent | K::FileEvent | K::NetworkEvent),
        EndTs => matches!(kind, K::ProcessEvent | K::FileEvent),
        KeAction | KeKind | KeMessage => kind != K::K8sEvent,
        _ => false,
    }
}

/// Estimated evaluation cost, used to order conjunctions and disjunctions.
pub(crate) fn cost(e: &Expr) -> u32 {
    fn field_cost(f: Field) -> u32 {
        if f.is_expensive() {
            25
        } else {
            4
        }
    }
    fn operand_cost(o: &Operand) -> u32 {
        match o {
            Operand::Field(f) => field_cost(*f),
            Operand::Lit(_) => 0,
            Operand::Ancestor(..) => 60,
            Operand::Json(..) => 400,
        }
    }
    match e {
        Expr::Const(_) => 0,
        Expr::Kind(_) | Expr::OpFlags { .. } => 1,
        Expr::OpenFlags { .. } => 2,
        Expr::Int { lhs, rhs, .. } => {
            2 + [lhs, rhs]
                .iter()
                .map(|o| matches!(o, IntOperand::Field(_)) as u32 * 2)
                .sum::<u32>()
        }
        Expr::Exists(f) => field_cost(*f) + 2,
        Expr::IntIn(..) => 3,
        Expr::Match { lhs, .. } => operand_cost(lhs) + 4,
        Expr::Str { lhs, rhs, .. } => operand_cost(lhs) + operand_cost(rhs) + 10,
        Expr::Not(e) | Expr::Memo(_, e) => cost(e),
        Expr::Fact(Scope::Process, _) => 1,
        // Looked up in a cache that misses more often (a miss evaluates the condition).
        Expr::Fact(Scope::File, _) => 8,
        // A conjunction usually stops at its first (cheapest) false operand; a disjunction that is false (the common
        // case inside a rule) evaluates every operand.
        Expr::And(v) => {
            let mut c: Vec<u32> = v.iter().map(cost).collect();
            c.sort_unstable();
            1 + c.first().copied().unwrap_or(0) + c.iter().skip(1).sum::<u32>() / 4
        }
        Expr::Or(v) => v.iter().map(cost).sum::<u32>() + 1,
    }
}

fn is_const_operand(o: &Operand, kind: RecordKind, compat: Compat) -> bool {
    match o {
        Operand::Lit(_) => true,
        Operand::Field(f) | Operand::Json(f, _) | Operand::Ancestor(f, _) => {
            constant_for(*f, kind, compat)
        }
    }
}

/// Specialises `e` for records of `kind`: folds what is constant on that type, then orders `and`/`or` operands
/// cheapest first.
pub(crate) fn specialize(
    e: &Expr,
    kind: RecordKind,
    compat: Compat,
    dummy: Option<&FlatRecord>,
) -> Expr {
    let fold_with = |e: &Expr| -> Option<Expr> {
        let d = dummy?;
        Some(Expr::Const(e.eval(&Ctx::new(d, compat))))
    };
    match e {
        Expr::Kind(mask) => Expr::Const(mask & (1u16 << kind as u16) != 0),
        Expr::OpenFlags { .. } if constant_for(Field::FileOpenFlags, kind, compat) => {
            fold_with(e).unwrap_or_else(|| e.clone())
        }
        Expr::Exists(f) if constant_for(*f, kind, compat) => {
            fold_with(e).unwrap_or_else(|| e.clone())
        }
        Expr::Match { lhs, .. } if is_const_operand(lhs, kind, compat) => {
            fold_with(e).unwrap_or_else(|| e.clone())
        }
        Expr::Str { lhs, rhs, .. }
            if is_const_operand(lhs, kind, compat) && is_const_operand(rhs, kind, compat) =>
        {
            fold_with(e).unwrap_or_else(|| e.clone())
        }
        Expr::Int { lhs, rhs, .. }
            if [lhs, rhs].iter().all(|o| match o {
                IntOperand::Const(_) => true,
                IntOperand::Field(f) => constant_for(*f, kind, compat),
            }) =>
        {
            fold_with(e).unwrap_or_else(|| e.clone())
        }
        Expr::Not(inner) => match specialize(inner, kind, compat, dummy) {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Not(x) => *x,
            x => Expr::Not(Box::new(x)),
        },
        Expr::And(v) => {
            let mut out = Vec::with_capacity(v.len());
            for c in v.iter() {
                match specialize(c, kind, compat, dummy) {
                    Expr::Const(true) => {}
                    Expr::Const(false) => return Expr::Const(false),
                    Expr::And(inner) => out.extend(inner.into_vec()),
                    x => out.push(x),
                }
            }
            out.sort_by_key(cost);
            match out.len() {
                0 => Expr::Const(true),
                1 => out.pop().unwrap_or(Expr::Const(true)),
                _ => Expr::And(out.into_boxed_slice()),
            }
        }
        Expr::Or(v) => {
            let mut out = Vec::with_capacity(v.len());
            for c in v.iter() {
                match specialize(c, kind, compat, dummy) {
                    Expr::Const(false) => {}
                    Expr::Const(true) => return Expr::Const(true),
                    Expr::Or(inner) => out.extend(inner.into_vec()),
                    x => out.push(x),
                }
            }
            out.sort_by_key(cost);
            match out.len() {
                0 => Expr::Const(false),
                1 => out.pop().unwrap_or(Expr::Const(false)),
                _ => Expr::Or(out.into_boxed_slice()),
            }
        }
        other => other.clone(),
    }
}

fn key(e: &Expr, out: &mut String) {
    use std::fmt::Write as _;
    fn operand(o: &Operand, out: &mut String) {
        let _ = match o {
            Operand::Field(f) => write!(out, "f{}", *f as u32),
            Operand::Lit(l) => write!(out, "l{}:{l}", l.len()),
            Operand::Json(f, p) => write!(out, "j{}:{}:{p}", *f as u32, p.len()),
            Operand::Ancestor(f, n) => write!(out, "a{}:{n}", *f as u32),
        };
    }
    match e {
        Expr::Const(b) => out.push(if *b { 'T' } else { 'F' }),
        Expr::Kind(m) => {
            let _ = write!(out, "K{m}");
        }
        Expr::OpFlags { mask, net_mask } => {
            let _ = write!(out, "O{mask}/{net_mask}");
        }
        Expr::OpenFlags { none, all_of } => {
            let _ = write!(out, "F{none}{all_of:?}");
        }
        Expr::Exists(f) => {
            let _ = write!(out, "E{}", *f as u32);
        }
        Expr::IntIn(f, v) => {
            let _ = write!(out, "N{}{v:?}", *f as u32);
        }
        Expr::Int { lhs, op, rhs } => {
            let _ = write!(out, "I{lhs:?}{op:?}{rhs:?}");
        }
        Expr::Match { lhs, m } => {
            out.push_str("M(");
            operand(lhs, out);
            let _ = write!(out, "@{:p})", std::sync::Arc::as_ptr(m));
        }
        Expr::Str { lhs, op, rhs } => {
            let _ = write!(out, "S{op:?}(");
            operand(lhs, out);
            out.push(',');
            operand(rhs, out);
            out.push(')');
        }
        Expr::Not(e) => {
            out.push('!');
            key(e, out);
        }
        Expr::Memo(_, e) => key(e, out),
        Expr::Fact(scope, i) => {
            let _ = write!(out, "P{scope:?}{i}");
        }
        Expr::And(v) | Expr::Or(v) => {
            out.push(if matches!(e, Expr::And(_)) { '&' } else { '|' });
            out.push('(');
            for c in v.iter() {
                key(c, out);
                out.push(',');
            }
            out.push(')');
        }
    }
}

fn key_of(e: &Expr) -> String {
    let mut s = String::new();
    key(e, &mut s);
    s
}

fn count(e: &Expr, counts: &mut std::collections::HashMap<String, u32>) {
    match e {
        Expr::And(v) | Expr::Or(v) => {
            *counts.entry(key_of(e)).or_default() += 1;
            v.iter().for_each(|c| count(c, counts));
        }
        Expr::Not(x) | Expr::Memo(_, x) => count(x, counts),
        Expr::Match { .. } | Expr::Str { .. } => {
            *counts.entry(key_of(e)).or_default() += 1;
        }
        _ => {}
    }
}

fn wrap(
    e: Expr,
    counts: &std::collections::HashMap<String, u32>,
    ids: &mut std::collections::HashMap<String, u32>,
) -> Expr {
    let e = match e {
        Expr::And(v) => Expr::And(
            v.into_vec()
                .into_iter()
                .map(|c| wrap(c, counts, ids))
                .collect(),
        ),
        Expr::Or(v) => Expr::Or(
            v.into_vec()
                .into_iter()
                .map(|c| wrap(c, counts, ids))
                .collect(),
        ),
        Expr::Not(x) => return Expr::Not(Box::new(wrap(*x, counts, ids))),
        other => other,
    };
    if !matches!(
        e,
        Expr::And(_) | Expr::Or(_) | Expr::Match { .. } | Expr::Str { .. }
    ) {
        return e;
    }
    let k = key_of(&e);
    if counts.get(&k).copied().unwrap_or(0) < 2 {
        return e;
    }
    let next = ids.len() as u32;
    let id = *ids.entry(k).or_insert(next);
    Expr::Memo(id, Box::new(e))
}

/// Wraps subexpressions that occur more than once among `exprs` in memo nodes (one slot per distinct
/// subexpression); returns the number of slots.
pub(crate) fn memoize(exprs: Vec<Expr>) -> (Vec<Expr>, usize) {
    let mut counts = std::collections::HashMap::new();
    exprs.iter().for_each(|e| count(e, &mut counts));
    let mut ids = std::collections::HashMap::new();
    let out = exprs
        .into_iter()
        .map(|e| wrap(e, &counts, &mut ids))
        .collect();
    (out, ids.len())
}

/// Whether `e` reads only fields of `scope` (and literals): its value is the same for every record with the same
/// context of that scope. Constants, record-type and operation tests do not count (they are folded per record type or
/// cheap).
fn only(e: &Expr, scope: Scope) -> bool {
    let field = |f: &Field| match scope {
        Scope::Process => f.is_process_scoped(),
        Scope::File => f.is_file_scoped(),
    };
    let operand = |o: &Operand| match o {
        Operand::Lit(_) => true,
        Operand::Field(f) | Operand::Json(f, _) | Operand::Ancestor(f, _) => field(f),
    };
    match e {
        Expr::Const(_)
        | Expr::Kind(_)
        | Expr::OpFlags { .. }
        | Expr::OpenFlags { .. }
        | Expr::Memo(..)
        | Expr::Fact(..) => false,
        Expr::Exists(f) | Expr::IntIn(f, _) => field(f),
        Expr::Match { lhs, .. } => operand(lhs),
        Expr::Str { lhs, rhs, .. } => operand(lhs) && operand(rhs),
        Expr::Int { lhs, rhs, .. } => [lhs, rhs].iter().all(|o| match o {
            IntOperand::Const(_) => true,
            IntOperand::Field(f) => field(f),
        }),
        Expr::Not(x) => only(x, scope),
        Expr::And(v) | Expr::Or(v) => v.iter().all(|c| only(c, scope)),
    }
}

/// The fact tables (process and file scope) shared by all record-type plans of an engine.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Process fact conditions, by index.
    pub process: Vec<Expr>,
    /// File fact conditions, by index.
    pub file: Vec<Expr>,
    ids: std::collections::HashMap<(bool, String), u32>,
}

impl Facts {
    fn intern(&mut self, scope: Scope, e: Expr) -> Expr {
        let table = match scope {
            Scope::Process => &mut self.process,
            Scope::File => &mut self.file,
        };
        let next = table.len() as u32;
        let id = *self
            .ids
            .entry((scope == Scope::File, key_of(&e)))
            .or_insert(next);
        if id == next {
            table.push(e);
        }
        Expr::Fact(scope, id)
    }

    /// Replaces the parts of the specialised condition `e` that read only the process context, or only the files
    /// (when `files` is set), by fact references: a maximal such subexpression becomes one fact, and the operands of
    /// one scope of a conjunction or disjunction that also reads other things are grouped into one fact (evaluation
    /// has no side effects, so grouping and reordering keep the result). Operands are then ordered cheapest first
    /// again.
    pub fn extract(&mut self, e: Expr, files: bool) -> Expr {
        let scopes: &[Scope] = if files {
            &[Scope::Process, Scope::File]
        } else {
            &[Scope::Process]
        };
        if let Some(&scope) = scopes.iter().find(|s| only(&e, **s)) {
            return self.intern(scope, e);
        }
        let is_and = matches!(e, Expr::And(_));
        match e {
            Expr::Not(x) => Expr::Not(Box::new(self.extract(*x, files))),
            Expr::And(v) | Expr::Or(v) => {
                let build = |mut v: Vec<Expr>| {
                    v.sort_by_key(cost);
                    if v.len() == 1 {
                        v.pop().unwrap_or(Expr::Const(is_and))
                    } else if is_and {
                        Expr::And(v.into_boxed_slice())
                    } else {
                        Expr::Or(v.into_boxed_slice())
                    }
                };
                let mut rest = v.into_vec();
                let mut out = Vec::new();
                for &scope in scopes {
                    let (group, others): (Vec<Expr>, Vec<Expr>) =
                        rest.into_iter().partition(|c| only(c, scope));
                    rest = others;
                    if !group.is_empty() {
                        out.push(self.intern(scope, build(group)));
                    }
                }
                out.extend(rest.into_iter().map(|c| self.extract(c, files)));
                build(out)
            }
            other => other,
        }
    }
}

/// Assigns the per-record string cache slots to the fields compared most often: first those of the record-level
/// conditions `exprs` (evaluated for every record), then those of the fact conditions `facts` (evaluated once per
/// context).
pub(crate) fn slot_map<'a>(
    exprs: impl Iterator<Item = &'a Expr>,
    facts: impl Iterator<Item = &'a Expr>,
) -> crate::eval::SlotMap {
    fn uses(e: &Expr, weight: u64, counts: &mut [u64]) {
        let mut operand = |o: &Operand| {
            if let Operand::Field(f) = o {
                counts[*f as usize] += weight;
            }
        };
        match e {
            Expr::Match { lhs, .. } => operand(lhs),
            Expr::Str { lhs, rhs, .. } => {
                operand(lhs);
                operand(rhs);
            }
            Expr::Not(x) | Expr::Memo(_, x) => uses(x, weight, counts),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|c| uses(c, weight, counts)),
            _ => {}
        }
    }
    let mut counts = vec![0u64; Field::ALL.len()];
    exprs.for_each(|e| uses(e, 1 << 20, &mut counts));
    facts.for_each(|e| uses(e, 1, &mut counts));
    let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(counts[i]), i));
    let mut map = crate::eval::NO_SLOTS;
    for (slot, &f) in order.iter().take(crate::eval::SLOTS).enumerate() {
        map[f] = slot as u8;
    }
    map
}
