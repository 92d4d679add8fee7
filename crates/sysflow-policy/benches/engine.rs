//! Engine throughput with the full runtimeintegrity + ttps ruleset on the reference traces.
//!
//! `cargo bench -p sysflow-policy --bench engine` (needs `../shared`; prints a skip message otherwise).

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sysflow_format::{FlatReader, FlatRecord, RecordKind};
use sysflow_policy::{EngineConfig, Mode, PolicyEngine};

fn resources() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/processor-resources/resources");
    p.is_dir().then_some(p)
}

/// CPU time of the calling thread in seconds (from /proc; 10 ms resolution), so that the number is per core even
/// when the machine is busy.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn records(res: &std::path::Path) -> Vec<FlatRecord> {
    let mut out = Vec::new();
    for t in [
        "mon.1531776682.sf",
        "mon.1531776712.sf",
        "mon.1531776742.sf",
        "k8s_small.sf",
        "1621959914",
    ] {
        let Ok(reader) = FlatReader::open(res.join("traces").join(t)) else {
            continue;
        };
        out.extend(
            reader.filter_map(Result::ok).filter(|r| {
                !matches!(r.kind(), RecordKind::ProcessFlow | RecordKind::NetworkEvent)
            }),
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let Some(res) = resources() else {
        eprintln!("SKIP: ../shared/processor-resources not found");
        return;
    };
    let recs = records(&res);
    for (label, mode) in [("alert", Mode::Alert), ("enrich", Mode::Enrich)] {
        let config = EngineConfig {
            mode,
            ..EngineConfig::default()
        };
        let engine = match PolicyEngine::load(&[res.join("policies/runtimeintegrity")], &config) {
            Ok(e) => Arc::new(e),
            Err(e) => panic!("policies: {e}"),
        };
        if mode == Mode::Alert {
            for (k, f, r, n) in engine.plan_sizes() {
                println!("plan {k:?}: {f} filters, {r} rules, {n} nodes");
            }
        }
        let mut eval = engine.evaluator();
        // A plain measurement first, so the number is printed even with criterion's quick settings.
        let start = Instant::now();
        let cpu0 = thread_cpu_secs();
        let mut emitted = 0usize;
        for _ in 0..5 {
            for r in &recs {
                emitted += eval.evaluate(r).emit as usize;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = match (cpu0, thread_cpu_secs()) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => secs,
        };
        println!(
            "engine_{label}_runtimeintegrity: {} rules, {} records x5 in {:.3}s wall, {:.3}s cpu = {:.0} records per cpu-second ({} emitted)",
            engine.rules().len(),
            recs.len(),
            secs,
            cpu,
            (recs.len() * 5) as f64 / cpu,
            emitted
        );
        let mut g = c.benchmark_group(format!("engine_{label}"));
        g.throughput(Throughput::Elements(recs.len() as u64));
        g.sample_size(10);
        g.bench_function("runtimeintegrity_traces", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for r in &recs {
                    n += eval.evaluate(r).emit as usize;
                }
                n
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
