//! Engine-only profiling harness: loads the first N emitted records of a trace into memory, then evaluates them
//! with the full runtimeintegrity + ttps ruleset (alert mode) in `evaluate_all`, so a profiler can separate engine
//! cost from reading and flattening (e.g. `valgrind --tool=callgrind --toggle-collect='*evaluate_all*'`).
//!
//! `cargo run -p sysflow-policy --release --example profile -- [-n N] [-p PASSES] POLICIES TRACE...`
//!
//! Environment: `PROFILE_RULESTATS` prints the cost report, `PROFILE_DUMP=FileFlow` (a record kind) prints that
//! kind's evaluation plan, `PROFILE_RULES=n` keeps the first n rules, `PROFILE_FLAGS` prints the most common
//! operation flags.

use std::process::ExitCode;
use std::sync::Arc;

use sysflow_format::{FlatReader, FlatRecord, RecordKind};
use sysflow_policy::{EngineConfig, Evaluator, PolicyEngine};

#[inline(never)]
fn evaluate_all(eval: &mut Evaluator, recs: &[FlatRecord], passes: usize) -> (usize, usize) {
    let (mut emitted, mut dropped) = (0, 0);
    for _ in 0..passes {
        for r in recs {
            let v = eval.evaluate(r);
            emitted += v.emit as usize;
            dropped += v.dropped as usize;
        }
    }
    (emitted, dropped)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut opt = |flag: &str, default: usize| -> usize {
        match args.iter().position(|a| a == flag) {
            Some(i) if i + 1 < args.len() => {
                let v = args.remove(i + 1);
                args.remove(i);
                v.parse().unwrap_or(default)
            }
            _ => default,
        }
    };
    let n = opt("-n", 200_000);
    let passes = opt("-p", 1);
    if args.len() < 2 && std::env::var_os("PROFILE_DUMP").is_none() {
        eprintln!("usage: profile [-n N] [-p PASSES] POLICIES TRACE...");
        return ExitCode::from(2);
    }
    let config = EngineConfig {
        rule_set_size: std::env::var("PROFILE_RULES")
            .ok()
            .and_then(|s| s.parse().ok()),
        ..EngineConfig::default()
    };
    let engine = match PolicyEngine::load(&[&args[0]], &config) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(k) = std::env::var("PROFILE_DUMP") {
        for kind in RecordKind::ALL {
            if format!("{kind:?}") == k {
                print!("{}", engine.plan_dump(kind));
            }
        }
        return ExitCode::SUCCESS;
    }
    let reader = match FlatReader::open(&args[1]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", args[1]);
            return ExitCode::FAILURE;
        }
    };
    let recs: Vec<FlatRecord> = reader
        .filter_map(Result::ok)
        .filter(|r| !matches!(r.kind(), RecordKind::ProcessFlow | RecordKind::NetworkEvent))
        .take(n)
        .collect();
    let mut kinds = std::collections::BTreeMap::new();
    for r in &recs {
        *kinds.entry(format!("{:?}", r.kind())).or_insert(0usize) += 1;
    }
    eprintln!("{} records: {kinds:?}", recs.len());
    if std::env::var_os("PROFILE_FLAGS").is_some() {
        let mut flags = std::collections::BTreeMap::new();
        for r in &recs {
            let f = r.record.op_flags().unwrap_or(0);
            let names: Vec<_> = sysflow_policy::fields::op_names(f, r.kind()).collect();
            *flags
                .entry(format!("{:?} {}", r.kind(), names.join("|")))
                .or_insert(0usize) += 1;
        }
        let mut v: Vec<_> = flags.into_iter().collect();
        v.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for (k, n) in v.iter().take(25) {
            eprintln!("{n:>8} {k}");
        }
    }
    let mut eval = engine.evaluator();
    let start = std::time::Instant::now();
    let (emitted, dropped) = evaluate_all(&mut eval, &recs, passes);
    let secs = start.elapsed().as_secs_f64();
    eprintln!("process cache (lookups, misses): {:?}", eval.cache_stats());
    let mut files = std::collections::HashSet::new();
    let mut procs = std::collections::HashSet::new();
    let (mut fswitch, mut last) = (0, 0usize);
    for r in &recs {
        let f = r
            .file
            .as_ref()
            .map_or(0, |f| std::sync::Arc::as_ptr(f) as usize);
        files.insert(f);
        procs.insert(
            r.process
                .as_ref()
                .map_or(0, |f| std::sync::Arc::as_ptr(f) as usize),
        );
        fswitch += (f != last) as usize;
        last = f;
    }
    eprintln!(
        "distinct files {}, processes {}, file switches {fswitch}",
        files.len(),
        procs.len()
    );
    drop(eval);
    eprintln!(
        "{} evaluations in {secs:.3}s = {:.0}/s; {emitted} emitted, {dropped} dropped",
        recs.len() * passes,
        (recs.len() * passes) as f64 / secs
    );
    if std::env::var_os("PROFILE_RULESTATS").is_some() {
        eprint!("{}", engine.cost_report().to_table());
    }
    ExitCode::SUCCESS
}
