//! The policy engine: compiled rules and filters, evaluation of records, per-rule statistics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sysflow_format::{FlatRecord, RecordKind};

use crate::compile::Compiler;
use crate::error::{ErrorKind, Location, PolicyError, Warning};
use crate::eval::{Ctx, Expr, FactCtx, Scope, SlotMap};
use crate::fields::Compat;
use crate::procctx::{Cache, FileKey, ProcKey};

/// What the engine emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Emit only records that match at least one enabled rule (the reference default).
    #[default]
    Alert,
    /// Emit every record that no filter drops, with the matching rules attached.
    Enrich,
}

impl Mode {
    /// Parses the pipeline.json `mode` value like the reference: `alert` → alert, anything else → enrich.
    pub fn from_config(s: &str) -> Mode {
        if s == "alert" {
            Mode::Alert
        } else {
            Mode::Enrich
        }
    }
}

/// Policy language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// SFPL, the Falco-derived language (`falco`, the default).
    #[default]
    Falco,
    /// Sigma rules (`sigma`).
    Sigma,
}

impl Language {
    /// Parses the pipeline.json `language` value like the reference: `sigma` → Sigma, anything else → Falco.
    pub fn from_config(s: &str) -> Language {
        if s == "sigma" {
            Language::Sigma
        } else {
            Language::Falco
        }
    }
}

/// Engine configuration (the policy-related keys of a `policyengine` pipeline entry).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineConfig {
    /// Alert or enrich.
    pub mode: Mode,
    /// Policy language.
    pub language: Language,
    /// Sigma configuration file (field mappings); Sigma only.
    pub sigma_config: Option<PathBuf>,
    /// Reference-bug compatibility (default: fixed).
    pub compat: Compat,
    /// Keep only the first N rules (the reference's `bench.rulesetsize`).
    pub rule_set_size: Option<usize>,
    /// Keep only rule i, 0-based (the reference's `bench.ruleindex`).
    pub rule_index: Option<usize>,
}

/// Rule priority; the integer value is what the JSON export prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Priority {
    /// 0 (Sigma `informational`; Sigma default).
    Informational = 0,
    /// 1 (SFPL `low|debug|info|informational|notice`; SFPL default).
    #[default]
    Low = 1,
    /// 2 (`medium|warning`).
    Medium = 2,
    /// 3 (`high|error|critical|emergency`; `alert` in fixed mode).
    High = 3,
    /// 4 (Sigma `critical`).
    Critical = 4,
}

impl Priority {
    /// The integer the exporters print.
    pub fn as_int(self) -> u8 {
        self as u8
    }

    /// Lower-case name (`low`, `medium`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Priority::Informational => "informational",
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

/// A rule's metadata (what exporters print for a match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Rule name (raw source text; for Sigma the rule id). The JSON export's `policies[].id`.
    pub name: String,
    /// Description (raw source text).
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Tags, in declaration order (appended to matching records).
    pub tags: Vec<String>,
    /// Action names (user action plugins; none are built in).
    pub actions: Vec<String>,
    /// Record types the rule applies to (`PE`, `FF`, ...); empty = all.
    pub prefilter: Vec<String>,
    /// Whether the rule is evaluated.
    pub enabled: bool,
    /// Where the rule is defined.
    pub location: Location,
}

/// A filter/drop rule's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Filter name.
    pub name: String,
    /// Whether the filter is evaluated.
    pub enabled: bool,
    /// Where the filter is defined.
    pub location: Location,
}

/// A compiled rule: metadata, prefilter mask and condition.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub meta: Arc<Rule>,
    /// Bit per [`sysflow_format::RecordKind`]; `None` = no prefilter.
    pub prefilter: Option<u16>,
    pub cond: Expr,
}

/// A compiled filter.
#[derive(Debug)]
pub(crate) struct CompiledFilter {
    pub meta: Filter,
    pub cond: Expr,
}

/// The outcome of evaluating one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the record goes downstream (alert mode: matched a rule; enrich mode: not dropped).
    pub emit: bool,
    /// Whether a filter/drop rule dropped the record.
    pub dropped: bool,
    /// Matching rules in rule order (empty when none matched). Each is shared with the engine, so it stays valid
    /// after a hot reload swaps engines.
    pub rules: Vec<Arc<Rule>>,
}

impl Verdict {
    /// Whether at least one rule matched.
    pub fn is_alert(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Tags of the matching rules, in rule order (duplicates kept, as in the reference output).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .flat_map(|r| r.tags.iter().map(String::as_str))
    }

    /// The highest priority among the matching rules.
    pub fn max_priority(&self) -> Option<Priority> {
        self.rules.iter().map(|r| r.priority).max()
    }
}

/// Counters of one rule or filter (shared by all evaluators).
#[derive(Debug, Default)]
struct Counters {
    evaluations: AtomicU64,
    matches: AtomicU64,
    sampled_ns: AtomicU64,
}

#[derive(Debug, Default)]
struct EngineCounters {
    records: AtomicU64,
    dropped: AtomicU64,
    emitted: AtomicU64,
    sampled_records: AtomicU64,
    sampled_ns: AtomicU64,
}

/// Cost of one rule or filter in a [`CostReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct RuleCost {
    /// Rule or filter name.
    pub name: String,
    /// `true` for a filter/drop rule.
    pub is_filter: bool,
    /// Records the condition applied to (after the prefilter and the per-type specialisation; for a rule this
    /// includes the records on which the rule index ruled it out without evaluating it).
    pub evaluations: u64,
    /// Times it matched.
    pub matches: u64,
    /// Share of the sampled engine time spent in this condition (0..=1).
    pub time_share: f64,
    /// Estimated nanoseconds per applicable record (from the sampled records).
    pub ns_per_eval: f64,
}

/// Per-rule cost report of an engine (cheap counters; time is sampled on one record in
/// [`PolicyEngine::SAMPLE_EVERY`] per evaluator).
#[derive(Debug, Clone, PartialEq)]
pub struct CostReport {
    /// Records evaluated.
    pub records: u64,
    /// Records dropped by filters.
    pub dropped: u64,
    /// Records emitted.
    pub emitted: u64,
    /// Records whose evaluation was timed.
    pub sampled_records: u64,
    /// Mean engine time per sampled record, in nanoseconds.
    pub ns_per_record: f64,
    /// Filters then rules, in load order.
    pub rules: Vec<RuleCost>,
}

impl CostReport {
    /// A plain-text table, most expensive first.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "policy engine: {} records, {} dropped, {} emitted, {:.0} ns/record (sampled over {})",
            self.records, self.dropped, self.emitted, self.ns_per_record, self.sampled_records
        );
        let _ = writeln!(
            out,
            "{:>7} {:>12} {:>10} {:>9}  rule",
            "time%", "evals", "matches", "ns/eval"
        );
        let mut rows: Vec<&RuleCost> = self.rules.iter().collect();
        rows.sort_by(|a, b| b.time_share.total_cmp(&a.time_share));
        for r in rows {
            let _ = writeln!(
                out,
                "{:>6.2}% {:>12} {:>10} {:>9.0}  {}{}",
                r.time_share * 100.0,
                r.evaluations,
                r.matches,
                r.ns_per_eval,
                if r.is_filter { "[filter] " } else { "" },
                r.name
            );
        }
        out
    }
}

/// A compiled set of policies. `Send + Sync`: evaluate from any number of threads through `&self`.
///
/// Hot reload = load a new engine and swap an `Arc<PolicyEngine>`; matches carry `Arc<Rule>`s, so records
/// evaluated by the old engine keep valid rule metadata.
#[derive(Debug)]
pub struct PolicyEngine {
    config: EngineConfig,
    rules: Vec<CompiledRule>,
    rule_meta: Vec<Arc<Rule>>,
    filters: Vec<CompiledFilter>,
    warnings: Vec<Warning>,
    files: Vec<PathBuf>,
    inventory: Inventory,
    rule_counters: Box<[Counters]>,
    filter_counters: Box<[Counters]>,
    counters: EngineCounters,
    /// Per record kind: the enabled filters and rules that can match it, specialised for that kind.
    plans: Vec<KindPlan>,
    /// Conditions on the process context only / on the files only, referenced by `Expr::Fact` in the plans.
    facts: crate::optimize::Facts,
    /// Live-rule words per record kind in the caches (the most rules of a plan, in 64-bit words).
    live_words: usize,
    /// Field string cache slots.
    slots: SlotMap,
}

/// Filters (index, specialised condition) and rules to evaluate for one record kind.
#[derive(Debug, Default)]
struct KindPlan {
    filters: Vec<(usize, Expr)>,
    rules: Vec<PlanRule>,
    /// Number of memo slots used by the shared subexpressions of this plan.
    memo_slots: usize,
    /// Whether the plan uses file facts (and so the file cache).
    files: bool,
    /// Per rule group (see [`PlanRule::group`]): the bits of its rules.
    groups: Vec<Box<[u64]>>,
}

impl KindPlan {
    /// Every condition of the plan: filters, rule conditions and rule group conditions.
    fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.filters
            .iter()
            .map(|(_, e)| e)
            .chain(self.rules.iter().map(|r| &r.cond))
            .chain(
                self.rules
                    .iter()
                    .filter_map(|r| r.group.as_ref().map(|g| &g.1)),
            )
    }
}

/// A rule in a [`KindPlan`]: its specialised condition is `gate and ops and group and cond`.
///
/// The gate is a process fact, cached per process context together with the set of rules whose gates hold ("live"
/// rules), so a record only evaluates the rules live for its process context. Among those, a rule is skipped when
/// the record has none of the operation flags it requires, or when its group condition (a subexpression that
/// several rules require, like `open_write`) was found false for the record.
#[derive(Debug)]
struct PlanRule {
    /// Index in `PolicyEngine::rules`.
    idx: usize,
    /// Process fact that must hold.
    gate: Option<u32>,
    /// Operation flags of which at least one must be set.
    ops: Option<i32>,
    /// A shared condition that must hold: (group index, condition). When it is false, the whole group is skipped.
    group: Option<(usize, Expr)>,
    /// The rest of the condition.
    cond: Expr,
}

/// The top-level conjuncts of a condition.
fn conjuncts(e: Expr) -> Vec<Expr> {
    match e {
        Expr::And(v) => v.into_vec(),
        Expr::Const(true) => Vec::new(),
        e => vec![e],
    }
}

fn conjunction(mut v: Vec<Expr>) -> Expr {
    match v.len() {
        0 => Expr::Const(true),
        1 => v.pop().unwrap_or(Expr::Const(true)),
        _ => Expr::And(v.into_boxed_slice()),
    }
}

/// Builds the rules of a plan from (rule index, process gate, memoised residual condition): splits off operation
/// flag requirements and group conditions (memoised conjuncts shared by several rules); returns the rules and the
/// group bit masks.
fn plan_rules(
    kind: RecordKind,
    rules: Vec<(usize, Option<u32>, Expr)>,
) -> (Vec<PlanRule>, Vec<Box<[u64]>>) {
    let net = matches!(kind, RecordKind::NetworkFlow | RecordKind::NetworkEvent);
    let split: Vec<(usize, Option<u32>, Vec<Expr>)> = rules
        .into_iter()
        .map(|(i, g, e)| (i, g, conjuncts(e)))
        .collect();
    let mut uses: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (_, _, cs) in &split {
        for c in cs {
            if let Expr::Memo(slot, _) = c {
                *uses.entry(*slot).or_default() += 1;
            }
        }
    }
    let words = split.len().div_ceil(64);
    let mut group_of: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut groups: Vec<Box<[u64]>> = Vec::new();
    let mut out = Vec::with_capacity(split.len());
    for (pos, (idx, gate, mut cs)) in split.into_iter().enumerate() {
        let ops = cs
            .iter()
            .position(|c| matches!(c, Expr::OpFlags { .. }))
            .and_then(|i| match cs.remove(i) {
                Expr::OpFlags { mask, net_mask } => Some(if net { net_mask } else { mask }),
                _ => None,
            });
        // The most shared memoised conjunct (the first one on ties: conjuncts are ordered cheapest first).
        let best = cs
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Expr::Memo(slot, _) => Some((i, *slot, uses.get(slot).copied().unwrap_or(0))),
                _ => None,
            })
            .filter(|(_, _, n)| *n >= 2)
            .fold(None::<(usize, u32, usize)>, |b, x| match b {
                Some(b) if b.2 >= x.2 => Some(b),
                _ => Some(x),
            });
        let group = best.map(|(i, slot, _)| {
            let g = *group_of.entry(slot).or_insert_with(|| {
                groups.push(vec![0u64; words].into_boxed_slice());
                groups.len() - 1
            });
            groups[g][pos / 64] |= 1 << (pos % 64);
            (g, cs.remove(i))
        });
        out.push(PlanRule {
            idx,
            gate,
            ops,
            group,
            cond: conjunction(cs),
        });
    }
    (out, groups)
}

/// Splits the process gate off a rule condition (after fact extraction).
fn split_gate(e: Expr) -> (Option<u32>, Expr) {
    match e {
        Expr::Fact(Scope::Process, i) => (Some(i), Expr::Const(true)),
        Expr::And(v) => {
            let mut gate = None;
            let mut rest = Vec::with_capacity(v.len());
            for c in v.into_vec() {
                match c {
                    Expr::Fact(Scope::Process, i) if gate.is_none() => gate = Some(i),
                    c => rest.push(c),
                }
            }
            let cond = match rest.len() {
                0 => Expr::Const(true),
                1 => rest.pop().unwrap_or(Expr::Const(true)),
                _ => Expr::And(rest.into_boxed_slice()),
            };
            (gate, cond)
        }
        e => (None, e),
    }
}

/// What a load compiled: counts of declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Inventory {
    /// Rules (after `rule_set_size`/`rule_index`).
    pub rules: usize,
    /// Filter/drop rules.
    pub filters: usize,
    /// Macro declarations (a redefinition counts again).
    pub macros: usize,
    /// List declarations (a redefinition counts again).
    pub lists: usize,
}

/// Local statistics of an [`Evaluator`], flushed to the engine periodically.
#[derive(Debug, Default)]
struct LocalStats {
    records: u64,
    dropped: u64,
    emitted: u64,
    sampled_records: u64,
    sampled_ns: u64,
    rules: Vec<(u64, u64, u64)>,
    filters: Vec<(u64, u64, u64)>,
    /// Records per kind that reached the rules (not dropped): the rules of the kind's plan applied to them.
    kind_records: [u64; RecordKind::ALL.len()],
    /// Scratch for shared-subexpression results (reused across records).
    memo: Vec<std::cell::Cell<u8>>,
    /// Fact results and live rules per process context.
    procs: Option<Cache<ProcKey>>,
    /// Fact results per file context.
    files: Option<Cache<FileKey>>,
    /// Scratch: candidate rule bits of the record being evaluated.
    cand: Vec<u64>,
    /// Entries of each cache (allocated on first use).
    cache_size: usize,
}

impl PolicyEngine {
    /// One record in this many is timed per evaluator (rule by rule) for the cost report.
    pub const SAMPLE_EVERY: u64 = 256;

    /// Entries of an evaluator's process-context cache (the file-context cache has four times as many: file
    /// contexts change almost every record).
    const CACHE_SIZE: usize = 1024;

    /// Expands files and directories into the policy files the reference would load: a directory is searched
    /// recursively for `*.yaml` and `*.yml`, in lexical path order; a file is taken as is.
    pub fn policy_files<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<PathBuf>, PolicyError> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
            let io = |e: std::io::Error| {
                PolicyError::new(
                    Location {
                        file: dir.to_path_buf(),
                        ..Location::default()
                    },
                    ErrorKind::Io(e.to_string()),
                )
            };
            let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(io)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(io)?;
            entries.sort();
            for p in entries {
                if p.is_dir() {
                    walk(&p, out)?;
                } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                    out.push(p);
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let meta = std::fs::metadata(p).map_err(|e| {
                PolicyError::new(
                    Location {
                        file: p.to_path_buf(),
                        ..Location::default()
                    },
                    ErrorKind::Io(e.to_string()),
                )
            })?;
            if meta.is_dir() {
                let mut found = Vec::new();
                walk(p, &mut found)?;
                found.sort();
                out.extend(found);
            } else {
                out.push(p.to_path_buf());
            }
        }
        Ok(out)
    }

    /// Loads and compiles the policies in `paths` (files or directories, see [`PolicyEngine::policy_files`]).
    ///
    /// An empty `paths` is allowed in enrich mode (every record passes through); alert mode requires policies.
    pub fn load<P: AsRef<Path>>(
        paths: &[P],
        config: &EngineConfig,
    ) -> Result<PolicyEngine, PolicyError> {
        let files = Self::policy_files(paths)?;
        let mut sources = Vec::with_capacity(files.len());
        for f in &files {
            let text = std::fs::read_to_string(f).map_err(|e| {
                PolicyError::new(
                    Location {
                        file: f.clone(),
                        ..Location::default()
                    },
                    ErrorKind::Io(e.to_string()),
                )
            })?;
            sources.push((f.clone(), text));
        }
        let mut engine = Self::from_sources(&sources, config)?;
        engine.files = files;
        Ok(engine)
    }

    /// Compiles in-memory policy sources `(name, text)`, in the given order (the name is used in errors).
    pub fn from_sources<N: AsRef<Path>, T: AsRef<str>>(
        sources: &[(N, T)],
        config: &EngineConfig,
    ) -> Result<PolicyEngine, PolicyError> {
        if sources.is_empty() && config.mode == Mode::Alert {
            return Err(PolicyError::new(Location::default(), ErrorKind::NoPolicies));
        }
        let mut compiler = Compiler::new(config.compat);
        match config.language {
            Language::Falco => {
                for (name, text) in sources {
                    compiler.compile_sfpl(name.as_ref(), text.as_ref())?;
                }
            }
            Language::Sigma => {
                let cfg = match &config.sigma_config {
                    Some(p) if !p.as_os_str().is_empty() => crate::sigma::SigmaConfig::load(p)?,
                    _ => crate::sigma::SigmaConfig::default(),
                };
                for (name, text) in sources {
                    compiler.compile_sigma(name.as_ref(), text.as_ref(), &cfg);
                }
            }
        }
        let (mut rules, filters, warnings, (macros, lists)) = compiler.finish();
        if let Some(i) = config.rule_index {
            rules = rules.into_iter().skip(i).take(1).collect();
        } else if let Some(n) = config.rule_set_size {
            rules.truncate(n);
        }
        let rule_meta: Vec<Arc<Rule>> = rules.iter().map(|r| r.meta.clone()).collect();
        let filters_len = filters.len();
        let rule_counters = (0..rules.len()).map(|_| Counters::default()).collect();
        let filter_counters = (0..filters.len()).map(|_| Counters::default()).collect();
        let mut facts = crate::optimize::Facts::default();
        let mut plans = Vec::with_capacity(RecordKind::ALL.len());
        for kind in RecordKind::ALL {
            let dummy = crate::optimize::dummy(kind);
            let spec =
                |e: &Expr| crate::optimize::specialize(e, kind, config.compat, dummy.as_ref());
            let bit = 1u16 << kind as u16;
            // File facts only where file fields are not constant.
            let with_files = matches!(kind, RecordKind::FileFlow | RecordKind::FileEvent);
            let filter_exprs: Vec<(usize, Expr)> = filters
                .iter()
                .enumerate()
                .filter(|(_, f)| f.meta.enabled)
                .map(|(i, f)| (i, spec(&f.cond)))
                .filter(|(_, e)| !matches!(e, Expr::Const(false)))
                .collect();
            let rule_exprs: Vec<(usize, Expr)> = rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.meta.enabled && r.prefilter.is_none_or(|m| m & bit != 0))
                .map(|(i, r)| (i, spec(&r.cond)))
                .filter(|(_, e)| !matches!(e, Expr::Const(false)))
                .collect();
            let nf = filter_exprs.len();
            let mut idx = Vec::new();
            let mut gates = Vec::new();
            let mut exprs = Vec::new();
            for (n, (i, e)) in filter_exprs.into_iter().chain(rule_exprs).enumerate() {
                let e = facts.extract(e, with_files);
                let (gate, e) = if n < nf { (None, e) } else { split_gate(e) };
                idx.push(i);
                gates.push(gate);
                exprs.push(e);
            }
            let (exprs, memo_slots) = crate::optimize::memoize(exprs);
            let mut all: Vec<(usize, Expr)> = idx.into_iter().zip(exprs).collect();
            let (rules, groups) = plan_rules(
                kind,
                all.split_off(nf)
                    .into_iter()
                    .zip(gates.into_iter().skip(nf))
                    .map(|((idx, cond), gate)| (idx, gate, cond))
                    .collect(),
            );
            let files = with_files && !facts.file.is_empty();
            plans.push(KindPlan {
                filters: all,
                rules,
                memo_slots,
                files,
                groups,
            });
        }
        let live_words = plans
            .iter()
            .map(|p| p.rules.len().div_ceil(64))
            .max()
            .unwrap_or(0);
        let slots = crate::optimize::slot_map(
            plans.iter().flat_map(KindPlan::exprs),
            facts.process.iter().chain(&facts.file),
        );
        Ok(PolicyEngine {
            plans,
            facts,
            live_words,
            slots,
            config: config.clone(),
            rules,
            rule_meta,
            filters,
            warnings,
            files: Vec::new(),
            inventory: Inventory {
                rules: 0,
                filters: filters_len,
                macros,
                lists,
            },
            rule_counters,
            filter_counters,
            counters: EngineCounters::default(),
        })
    }

    /// Size of the per-kind evaluation plans: (kind, filters, rules, expression nodes). For diagnostics.
    #[doc(hidden)]
    pub fn plan_sizes(&self) -> Vec<(sysflow_format::RecordKind, usize, usize, usize)> {
        fn nodes(e: &Expr) -> usize {
            match e {
                Expr::And(v) | Expr::Or(v) => 1 + v.iter().map(nodes).sum::<usize>(),
                Expr::Not(e) | Expr::Memo(_, e) => 1 + nodes(e),
                _ => 1,
            }
        }
        sysflow_format::RecordKind::ALL
            .iter()
            .zip(&self.plans)
            .map(|(k, p)| {
                let n = p.exprs().map(nodes).sum::<usize>()
                    + p.rules.iter().filter(|r| r.gate.is_some()).count();
                (*k, p.filters.len(), p.rules.len(), n)
            })
            .collect()
    }

    /// A human-readable dump of the evaluation plan of one record kind (filters then rules). For diagnostics.
    #[doc(hidden)]
    pub fn plan_dump(&self, kind: sysflow_format::RecordKind) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if let Some(p) = self.plans.get(kind as usize) {
            for (i, e) in &p.filters {
                let _ = writeln!(out, "[filter] {}: {e}", self.filters[*i].meta.name);
            }
            for r in &p.rules {
                let g = r.gate.map(|g| format!("@p{g} => ")).unwrap_or_default();
                let o = r.ops.map(|m| format!("ops&{m:#x} => ")).unwrap_or_default();
                let gr = r
                    .group
                    .as_ref()
                    .map(|(i, e)| format!("group{i}[{e}] => "))
                    .unwrap_or_default();
                let _ = writeln!(out, "{}: {g}{o}{gr}{}", self.rules[r.idx].meta.name, r.cond);
            }
        }
        for (i, e) in self.facts.process.iter().enumerate() {
            let _ = writeln!(out, "fact @p{i}: {e}");
        }
        for (i, e) in self.facts.file.iter().enumerate() {
            let _ = writeln!(out, "fact @f{i}: {e}");
        }
        out
    }

    /// Counts of what was compiled.
    pub fn inventory(&self) -> Inventory {
        Inventory {
            rules: self.rules.len(),
            ..self.inventory
        }
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's mode.
    pub fn mode(&self) -> Mode {
        self.config.mode
    }

    /// The policy files loaded (empty for [`PolicyEngine::from_sources`]).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// All rules in load order (disabled ones included).
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rule_meta
    }

    /// All filter/drop rules in load order.
    pub fn filters(&self) -> impl Iterator<Item = &Filter> {
        self.filters.iter().map(|f| &f.meta)
    }

    /// Non-fatal problems found while compiling (unknown macro references, unrecognised priorities or enabled
    /// flags, ...); the reference logs these.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Evaluates one record, updating the shared counters directly. For many records per thread prefer an
    /// [`Evaluator`], which batches counter updates.
    pub fn evaluate(&self, rec: &FlatRecord) -> Verdict {
        let mut local = LocalStats::default();
        let v = self.eval_inner(rec, &mut local, false);
        self.flush(&mut local);
        v
    }

    /// A per-thread evaluator that batches statistics and samples rule timings.
    pub fn evaluator(self: &Arc<Self>) -> Evaluator {
        Evaluator {
            engine: self.clone(),
            local: LocalStats {
                cache_size: Self::CACHE_SIZE,
                ..LocalStats::default()
            },
            seen: 0,
        }
    }

    fn eval_inner(&self, rec: &FlatRecord, local: &mut LocalStats, timed: bool) -> Verdict {
        if local.rules.len() != self.rules.len() {
            local.rules.resize(self.rules.len(), (0, 0, 0));
        }
        if local.filters.len() != self.filters.len() {
            local.filters.resize(self.filters.len(), (0, 0, 0));
        }
        local.records += 1;
        let kind = rec.kind();
        let plan = &self.plans[kind as usize];
        if local.memo.len() < plan.memo_slots {
            local.memo.resize(plan.memo_slots, std::cell::Cell::new(0));
        }
        let (nfp, nff, words) = (
            self.facts.process.len(),
            self.facts.file.len(),
            self.live_words,
        );
        // One-shot evaluations (`cache_size` 0) get one-entry caches.
        let (size, fsize) = match local.cache_size {
            0 => (1, 1),
            n => (n, 4 * n),
        };
        let procs = local
            .procs
            .get_or_insert_with(|| Cache::new(size, nfp, words));
        if !procs.fits(nfp, words) {
            *procs = Cache::new(size, nfp, words);
        }
        procs.allocate();
        let files = local.files.get_or_insert_with(|| Cache::new(fsize, nff, 0));
        if !files.fits(nff, 0) {
            *files = Cache::new(fsize, nff, 0);
        }
        files.allocate();
        if local.cand.len() < words {
            local.cand.resize(words, 0);
        }
        let LocalStats {
            memo,
            procs,
            files,
            cand,
            rules: rule_stats,
            filters: filter_stats,
            ..
        } = local;
        let memo = &memo[..plan.memo_slots];
        memo.iter().for_each(|c| c.set(0));
        let pe = procs.as_ref().and_then(|c| c.entry(rec));
        let facts = FactCtx {
            process: (pe.map_or(&[][..], |e| &e.facts), &self.facts.process),
            file: (files.as_ref().filter(|_| plan.files), &self.facts.file),
        };
        let ctx = Ctx::with_memo(rec, self.config.compat, &self.slots, memo, facts);
        let start = timed.then(Instant::now);
        let mut verdict = Verdict::default();
        for (i, cond) in &plan.filters {
            let t0 = timed.then(Instant::now);
            let hit = cond.eval(&ctx);
            let s = &mut filter_stats[*i];
            s.0 += 1;
            s.1 += hit as u64;
            if let Some(t0) = t0 {
                s.2 += t0.elapsed().as_nanos() as u64;
            }
            if hit {
                verdict.dropped = true;
                local.dropped += 1;
                if let Some(start) = start {
                    local.sampled_records += 1;
                    local.sampled_ns += start.elapsed().as_nanos() as u64;
                }
                return verdict;
            }
        }
        local.kind_records[kind as usize] += 1;
        // Rules whose gates hold for the record's process context.
        let ctx = &ctx;
        let live = pe.map(|e| {
            e.live(kind, words, |bits| {
                for (pos, r) in plan.rules.iter().enumerate() {
                    if r.gate.is_none_or(|g| ctx.fact(Scope::Process, g)) {
                        let w = &bits[pos / 64];
                        w.set(w.get() | 1 << (pos % 64));
                    }
                }
            })
        });
        let nrules = plan.rules.len();
        let nwords = nrules.div_ceil(64);
        let cand = &mut cand[..nwords];
        for (w, c) in cand.iter_mut().enumerate() {
            let all = if (w + 1) * 64 <= nrules {
                u64::MAX
            } else {
                (1u64 << (nrules % 64)) - 1
            };
            *c = all & live.map_or(u64::MAX, |b| b[w].get());
        }
        let flags = rec.record.op_flags().unwrap_or(0);
        for w in 0..nwords {
            while cand[w] != 0 {
                let bits = cand[w];
                let pos = w * 64 + bits.trailing_zeros() as usize;
                cand[w] = bits & (bits - 1);
                let r = &plan.rules[pos];
                if r.ops.is_some_and(|m| flags & m == 0) {
                    continue;
                }
                let t0 = timed.then(Instant::now);
                if let Some((g, e)) = &r.group {
                    if !e.eval(ctx) {
                        for (c, m) in cand.iter_mut().zip(plan.groups[*g].iter()) {
                            *c &= !m;
                        }
                        if let Some(t0) = t0 {
                            rule_stats[r.idx].2 += t0.elapsed().as_nanos() as u64;
                        }
                        continue;
                    }
                }
                let hit = r.cond.eval(ctx);
                let s = &mut rule_stats[r.idx];
                s.1 += hit as u64;
                if let Some(t0) = t0 {
                    s.2 += t0.elapsed().as_nanos() as u64;
                }
                if hit {
                    verdict.rules.push(self.rules[r.idx].meta.clone());
                }
            }
        }
        verdict.emit = !verdict.rules.is_empty() || self.config.mode == Mode::Enrich;
        local.emitted += verdict.emit as u64;
        if let Some(start) = start {
            local.sampled_records += 1;
            local.sampled_ns += start.elapsed().as_nanos() as u64;
        }
        verdict
    }

    /// Evaluates one record with the compiled conditions as written: no per-type specialisation, no facts, no rule
    /// index, no statistics. The reference for the optimised evaluation (tests).
    #[doc(hidden)]
    pub fn evaluate_unoptimized(&self, rec: &FlatRecord) -> Verdict {
        let ctx = Ctx::new(rec, self.config.compat);
        let mut verdict = Verdict::default();
        if self
            .filters
            .iter()
            .any(|f| f.meta.enabled && f.cond.eval(&ctx))
        {
            verdict.dropped = true;
            return verdict;
        }
        let bit = 1u16 << rec.kind() as u16;
        for r in &self.rules {
            if r.meta.enabled && r.prefilter.is_none_or(|m| m & bit != 0) && r.cond.eval(&ctx) {
                verdict.rules.push(r.meta.clone());
            }
        }
        verdict.emit = !verdict.rules.is_empty() || self.config.mode == Mode::Enrich;
        verdict
    }

    fn flush(&self, local: &mut LocalStats) {
        let add = |a: &AtomicU64, v: &mut u64| {
            if *v != 0 {
                a.fetch_add(*v, Ordering::Relaxed);
                *v = 0;
            }
        };
        add(&self.counters.records, &mut local.records);
        add(&self.counters.dropped, &mut local.dropped);
        add(&self.counters.emitted, &mut local.emitted);
        add(&self.counters.sampled_records, &mut local.sampled_records);
        add(&self.counters.sampled_ns, &mut local.sampled_ns);
        for (k, n) in local.kind_records.iter_mut().enumerate() {
            if *n != 0 {
                for r in &self.plans[k].rules {
                    self.rule_counters[r.idx]
                        .evaluations
                        .fetch_add(*n, Ordering::Relaxed);
                }
                *n = 0;
            }
        }
        for (c, s) in self.rule_counters.iter().zip(local.rules.iter_mut()) {
            add(&c.evaluations, &mut s.0);
            add(&c.matches, &mut s.1);
            add(&c.sampled_ns, &mut s.2);
        }
        for (c, s) in self.filter_counters.iter().zip(local.filters.iter_mut()) {
            add(&c.evaluations, &mut s.0);
            add(&c.matches, &mut s.1);
            add(&c.sampled_ns, &mut s.2);
        }
    }

    /// The per-rule cost report (counters flushed so far by evaluators).
    pub fn cost_report(&self) -> CostReport {
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let sampled_records = ld(&self.counters.sampled_records);
        let total_ns = ld(&self.counters.sampled_ns).max(1) as f64;
        let records = ld(&self.counters.records);
        // Timed evaluations are ~1/SAMPLE_EVERY of all evaluations; scale by the sampled fraction of records.
        let frac = if records == 0 {
            0.0
        } else {
            sampled_records as f64 / records as f64
        };
        let cost = |name: &str, is_filter: bool, c: &Counters| {
            let ns = ld(&c.sampled_ns) as f64;
            let evals = ld(&c.evaluations);
            let timed_evals = evals as f64 * frac;
            RuleCost {
                name: name.to_owned(),
                is_filter,
                evaluations: evals,
                matches: ld(&c.matches),
                time_share: ns / total_ns,
                ns_per_eval: if timed_evals >= 1.0 {
                    ns / timed_evals
                } else {
                    0.0
                },
            }
        };
        let mut rules: Vec<RuleCost> = self
            .filters
            .iter()
            .zip(self.filter_counters.iter())
            .map(|(f, c)| cost(&f.meta.name, true, c))
            .collect();
        rules.extend(
            self.rules
                .iter()
                .zip(self.rule_counters.iter())
                .map(|(r, c)| cost(&r.meta.name, false, c)),
        );
        CostReport {
            records,
            dropped: ld(&self.counters.dropped),
            emitted: ld(&self.counters.emitted),
            sampled_records,
            ns_per_record: if sampled_records == 0 {
                0.0
            } else {
                ld(&self.counters.sampled_ns) as f64 / sampled_records as f64
            },
            rules,
        }
    }
}

/// A per-thread evaluator: evaluates records against an engine, keeping statistics locally and flushing them to the
/// engine every few thousand records and when dropped.
#[derive(Debug)]
pub struct Evaluator {
    engine: Arc<PolicyEngine>,
    local: LocalStats,
    seen: u64,
}

impl Evaluator {
    const FLUSH_EVERY: u64 = 4096;

    /// The engine this evaluator uses.
    pub fn engine(&self) -> &Arc<PolicyEngine> {
        &self.engine
    }

    /// Evaluates one record.
    pub fn evaluate(&mut self, rec: &FlatRecord) -> Verdict {
        self.seen += 1;
        let timed = self.seen % PolicyEngine::SAMPLE_EVERY == 1;
        let v = self.engine.eval_inner(rec, &mut self.local, timed);
        if self.seen % Self::FLUSH_EVERY == 0 {
            self.engine.flush(&mut self.local);
        }
        v
    }

    /// Process-context cache lookups and misses so far. For diagnostics.
    #[doc(hidden)]
    pub fn cache_stats(&self) -> [(u64, u64); 2] {
        [
            self.local
                .procs
                .as_ref()
                .map_or((0, 0), |c| (c.lookups.get(), c.misses.get())),
            self.local
                .files
                .as_ref()
                .map_or((0, 0), |c| (c.lookups.get(), c.misses.get())),
        ]
    }

    /// Pushes the local statistics to the engine now.
    pub fn flush(&mut self) {
        self.engine.flush(&mut self.local);
    }
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        self.engine.flush(&mut self.local);
    }
}
