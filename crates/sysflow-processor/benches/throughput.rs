//! Records/s through the whole processor: file reader → flattener → policy engine (alert mode, the reference's
//! runtimeintegrity + ttps policies) → null exporter, on one core and on every core.
//!
//! The input is a generated trace of at least `SF_BENCH_RECORDS` (default 5,000,000) emitted records, built with
//! `TraceWriter` (deflate, as the collector writes) from the reference traces: their segments (header, entities,
//! events and flows) are repeated in turn, so record shapes and entity/event proportions are those of real traces.
//! The trace is cached in the target directory.
//!
//! Run: `cargo bench -p sysflow-processor --bench throughput` (needs `../shared`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use sysflow_format::{Record, TraceReader, TraceWriter, WriterOptions};
use sysflow_processor::config::RawPipeline;
use sysflow_processor::driver::{Driver, FileDriver};
use sysflow_processor::pipeline::{Pipeline, RunOptions};

const TRACES: &[&str] = &[
    "mon.1531776682.sf",
    "mon.1531776712.sf",
    "mon.1531776742.sf",
    "1621959914",
    "k8s_small.sf",
    "shellshock.sf",
    "tcp.sf",
    "httpd.sf",
];

fn emitted(r: &Record) -> bool {
    matches!(
        r,
        Record::ProcessEvent(_)
            | Record::NetworkFlow(_)
            | Record::FileFlow(_)
            | Record::FileEvent(_)
            | Record::K8sEvent(_)
    )
}

fn generate(res: &Path, out: &Path, target: u64) -> std::io::Result<u64> {
    let mut segments = Vec::new();
    for t in TRACES {
        let recs: Vec<Record> = TraceReader::open(res.join("traces").join(t))
            .map_err(std::io::Error::other)?
            .filter_map(Result::ok)
            .collect();
        segments.push(recs);
    }
    let tmp = out.with_extension("tmp");
    let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut w = TraceWriter::new(file, WriterOptions::default()).map_err(std::io::Error::other)?;
    let mut n = 0u64;
    let mut last = Instant::now();
    'outer: loop {
        for seg in &segments {
            for r in seg {
                w.write(r).map_err(std::io::Error::other)?;
                n += emitted(r) as u64;
            }
            if last.elapsed().as_secs() >= 5 {
                eprintln!("  generated {n} records ...");
                last = Instant::now();
            }
            if n >= target {
                break 'outer;
            }
        }
    }
    w.finish().map_err(std::io::Error::other)?;
    std::fs::rename(&tmp, out)?;
    Ok(n)
}

fn set_cpus(cpus: &[usize]) -> bool {
    // SAFETY: `set` is a plain bitmask owned by this frame; sched_setaffinity(0, ...) applies it to the calling thread
    // and only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// CPU seconds (user + system) used by the process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: `usage` is a plain struct owned by this frame that getrusage fills in.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn run(
    dir: &Path,
    res: &Path,
    trace: &Path,
    workers: usize,
    policies: bool,
) -> (u64, f64, f64, String) {
    let cfg = dir.join("bench.json");
    let engine = if policies {
        format!(
            r#""mode":"alert","policies":"{}""#,
            res.join("policies/runtimeintegrity").display()
        )
    } else {
        r#""mode":"enrich""#.to_string()
    };
    std::fs::write(
        &cfg,
        format!(
            r#"{{"pipeline":[
              {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
              {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","concurrency":"{workers}",{engine}}},
              {{"processor":"exporter","in":"evt eventchan","export":"null"}}
            ]}}"#
        ),
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", cfg.display()));
    let config = RawPipeline::load(&cfg)
        .and_then(|r| r.validate())
        .unwrap_or_else(|e| panic!("{e}"));
    let pipeline =
        Pipeline::build(config, RunOptions::default()).unwrap_or_else(|e| panic!("{e:#}"));
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let report = pipeline
        .run(
            Driver::File(FileDriver::new(trace)),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let (_, cost) = &report.engines[0];
    let mut top: Vec<_> = cost.rules.iter().filter(|r| r.time_share > 0.0).collect();
    top.sort_by(|a, b| b.time_share.total_cmp(&a.time_share));
    let top: Vec<String> = top
        .iter()
        .take(3)
        .map(|r| {
            format!(
                "{} ({:.1}%, {:.0} ns/eval)",
                r.name,
                r.time_share * 100.0,
                r.ns_per_eval
            )
        })
        .collect();
    let summary = format!(
        "read {} records, {} events/flows, {} alerts, {:.0} ns/record in the engine; costliest rules: {}",
        report.read,
        report.flattened,
        cost.emitted,
        cost.ns_per_record,
        top.join("; ")
    );
    (report.flattened, secs, cpu, summary)
}

fn main() {
    let res =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/processor-resources/resources");
    if !res.is_dir() {
        eprintln!("SKIP: {} is absent", res.display());
        return;
    }
    let target: u64 = std::env::var("SF_BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let dir: PathBuf = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("sfprocessor-bench");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let trace = dir.join(format!("generated-{target}.sf"));
    if !trace.exists() {
        eprintln!("Generating {} ({target} records) ...", trace.display());
        let t = Instant::now();
        let n = generate(&res, &trace, target)
            .unwrap_or_else(|e| panic!("cannot generate the trace: {e}"));
        eprintln!("  {n} records in {:.1} s", t.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(&trace).map(|m| m.len()).unwrap_or(0);
    println!(
        "trace: {} ({:.1} MB, deflate)",
        trace.display(),
        size as f64 / 1e6
    );
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let all: Vec<usize> = (0..cores).collect();
    let runs = [
        (
            "runtime only (enrich, no policies), 1 core",
            vec![0usize],
            1usize,
            false,
        ),
        (
            "runtime only (enrich, no policies), all cores",
            all.clone(),
            cores,
            false,
        ),
        (
            "alert, runtimeintegrity+ttps, 1 core",
            vec![0usize],
            1usize,
            true,
        ),
        (
            "alert, runtimeintegrity+ttps, all cores",
            all.clone(),
            cores,
            true,
        ),
    ];
    for (label, cpus, workers, policies) in runs {
        if !set_cpus(&cpus) {
            eprintln!("cannot set the CPU affinity for {label}; running unpinned");
        }
        let load = loadavg();
        let (n, secs, cpu, summary) = run(&dir, &res, &trace, workers, policies);
        println!(
            "{label} ({} cpu, {workers} worker(s)): {n} records in {secs:.2} s = {:.0} records/s; \
             {cpu:.1} CPU-s = {:.0} records per CPU-second (load average before: {load})",
            cpus.len(),
            n as f64 / secs,
            n as f64 / cpu.max(1e-9)
        );
        println!("  {summary}");
    }
    set_cpus(&all);
}
