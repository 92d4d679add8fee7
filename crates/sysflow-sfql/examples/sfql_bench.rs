//! Measures sfql evaluation speed over the records of a trace held in memory.
//!
//! ```text
//! cargo run --release -p sysflow-sfql --example sfql_bench [TRACE] [QUERY...]
//! ```
//!
//! Without a trace, uses `../shared/traces/sf-apis/pynb/data/attacks/express/mon.1531776742.sf`. Prints, per query,
//! the number of matches and evaluated records per second (best of 5 passes, each over at least 2 M records).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use sysflow_format::{FlatReader, FlatRecord};
use sysflow_sfql::Query;

const DEFAULT_QUERIES: &[&str] = &[
    "type = FF",
    "proc.pid >= 100",
    "type = NF and net.dport = 80",
    "proc.name in (node, sh, bash, apache2, httpd)",
    "file.path pmatch (/etc, /proc/, /usr/lib)",
    "proc.cmdline icontains NODE",
    "opflags contains WRITE and not opflags = READ",
    "proc.aname contains bash",
];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let trace = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/traces/sf-apis/pynb/data/attacks/express/mon.1531776742.sf")
    });
    let queries: Vec<String> = args.collect();
    let queries: Vec<&str> = if queries.is_empty() {
        DEFAULT_QUERIES.to_vec()
    } else {
        queries.iter().map(String::as_str).collect()
    };

    let recs: Vec<FlatRecord> =
        match FlatReader::open(&trace).and_then(|r| r.collect::<Result<Vec<_>, _>>()) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{}: {e}", trace.display());
                return ExitCode::FAILURE;
            }
        };
    if recs.is_empty() {
        eprintln!("{}: no records", trace.display());
        return ExitCode::FAILURE;
    }
    let passes = (2_000_000 / recs.len()).max(1);
    println!(
        "{}: {} records, {} passes per run",
        trace.display(),
        recs.len(),
        passes
    );
    for text in queries {
        let mut q = match Query::compile(text) {
            Ok(q) => q,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let mut best = f64::INFINITY;
        let mut matched = 0;
        for _ in 0..5 {
            q.reset();
            let t0 = Instant::now();
            let mut n = 0usize;
            for _ in 0..passes {
                n = recs.iter().filter(|r| q.matches(r)).count();
            }
            best = best.min(t0.elapsed().as_secs_f64());
            matched = n;
        }
        let rate = (recs.len() * passes) as f64 / best;
        println!("{:>12.0} rec/s  {:>7} matches  {text}", rate, matched);
    }
    ExitCode::SUCCESS
}
