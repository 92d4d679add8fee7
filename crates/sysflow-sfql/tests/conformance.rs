//! Conformance with the reference sfql interpreter (sysflow-tools 0.6.1) on real traces from `../shared/traces`.
//!
//! The expected results in `data/reference_cases.rs` were produced by `tests/data/gen_expected.py`, which runs the
//! reference `SfqlInterpreter.filter` over `FlattenedSFReader` exactly as `sysprint -f EXPR` does. Each case checks
//! the count, the first matching indexes and a hash of all matching indexes. Deviations are checked against an
//! equivalent query that the reference evaluates correctly.

use std::path::{Path, PathBuf};

use sysflow_format::{FlatReader, FlatRecord};
use sysflow_sfql::{Definitions, Query};

#[path = "data/reference_cases.rs"]
mod reference_cases;

use reference_cases::{CASES, DEVIATIONS, REFERENCE_ABORTS};

fn traces_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    if root.is_dir() {
        Some(root)
    } else {
        eprintln!(
            "skipping: {} is absent (the shared reference material is not checked out)",
            root.display()
        );
        None
    }
}

fn load(root: &Path, trace: &str) -> Option<Vec<FlatRecord>> {
    let path = root.join(trace);
    if !path.is_file() {
        eprintln!("skipping {trace}: {} is absent", path.display());
        return None;
    }
    let reader = match FlatReader::open(&path) {
        Ok(r) => r,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let recs: Result<Vec<_>, _> = reader.collect();
    match recs {
        Ok(v) => Some(v),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn fnv(idx: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &i in idx {
        for b in (i as u64).to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn matching(q: &mut Query, recs: &[FlatRecord]) -> Vec<usize> {
    recs.iter()
        .enumerate()
        .filter(|(_, r)| q.matches(r))
        .map(|(i, _)| i)
        .collect()
}

fn defs_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/defs.yaml")
}

fn traces() -> Vec<&'static str> {
    let mut v: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    v.dedup();
    v
}

#[test]
fn matches_like_the_reference() {
    let Some(root) = traces_root() else { return };
    let mut defs = Definitions::new();
    if let Err(e) = defs.load_file(defs_path()) {
        panic!("{e}");
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for trace in traces() {
        let Some(recs) = load(&root, trace) else {
            continue;
        };
        for &(t, expr, with_defs, count, first, hash) in CASES.iter().filter(|c| c.0 == trace) {
            let compiled = if with_defs {
                defs.compile(expr)
            } else {
                Query::compile(expr)
            };
            let mut q = match compiled {
                Ok(q) => q,
                Err(e) => panic!("{expr}: {e}"),
            };
            let got = matching(&mut q, &recs);
            checked += 1;
            let head: Vec<usize> = got.iter().take(first.len()).copied().collect();
            if got.len() != count || head != first || fnv(&got) != hash {
                failures.push(format!(
                    "{t}: `{expr}`: reference {count} {first:?}.., ours {} {head:?}..{}",
                    got.len(),
                    if fnv(&got) != hash {
                        " (index sets differ)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{checked} reference cases match");
}

#[test]
fn deviations_match_the_equivalent_reference_query() {
    let Some(root) = traces_root() else { return };
    let mut failures = Vec::new();
    for trace in traces() {
        let Some(recs) = load(&root, trace) else {
            continue;
        };
        for &(t, ours, reference, equiv, count, hash) in DEVIATIONS.iter().filter(|c| c.0 == trace)
        {
            let mut q = match Query::compile(ours) {
                Ok(q) => q,
                Err(e) => panic!("{ours}: {e}"),
            };
            let got = matching(&mut q, &recs);
            if got.len() != count || fnv(&got) != hash {
                failures.push(format!(
                    "{t}: `{ours}` gave {} records, the reference's `{equiv}` {count} (reference `{ours}`: {})",
                    got.len(),
                    if reference < 0 { "aborts".to_string() } else { reference.to_string() }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Queries that make the reference abort evaluate without error here (missing values are `None`, non-integers do
/// not compare).
#[test]
fn reference_aborts_evaluate_here() {
    let Some(root) = traces_root() else { return };
    for trace in traces() {
        let Some(recs) = load(&root, trace) else {
            continue;
        };
        for &(_, expr, why) in REFERENCE_ABORTS.iter().filter(|c| c.0 == trace) {
            let mut q = match Query::compile(expr) {
                Ok(q) => q,
                Err(e) => panic!("{expr} ({why}): {e}"),
            };
            let n = matching(&mut q, &recs).len();
            assert!(n <= recs.len());
        }
    }
}

/// `Query::compile_with_defs` reads the same file as `Definitions::load_file`.
#[test]
fn compile_with_defs_uses_the_files() {
    let Some(root) = traces_root() else { return };
    let Some(recs) = load(&root, "sf-collector/tests/mpm-event/full_capture.sf") else {
        return;
    };
    let mut a = match Query::compile_with_defs(
        "spawned_shell or proc.name in (binaries)",
        &[defs_path()],
    ) {
        Ok(q) => q,
        Err(e) => panic!("{e}"),
    };
    let n = matching(&mut a, &recs).len();
    let want = CASES
        .iter()
        .find(|c| {
            c.0.ends_with("mpm-event/full_capture.sf")
                && c.1 == "spawned_shell or proc.name in (binaries)"
        })
        .map(|c| c.3);
    assert_eq!(Some(n), want);
}

/// `RuleSet::enrich` over `tests/data/rules.yaml` agrees with the reference `SfqlInterpreter.enrich`.
///
/// Expected values from sysflow-tools 0.6.1: for every record of the trace, `enrich(t)` was tallied by
/// (matched rule names, max priority); `first` is the index of the first enriched record.
#[test]
fn rules_enrich_like_the_reference() {
    type Tally = &'static [(&'static [&'static str], u8, usize)];
    const EXPECTED: &[(&str, usize, Tally)] = &[
        (
            "sf-collector/tests/mpm-event/full_capture.sf",
            59,
            &[(&["Anyexec"], 1, 3)],
        ),
        (
            "sf-apis/pynb/data/attacks/express/mon.1531776742.sf",
            11,
            &[
                (&["Shellspawned", "Anyexec"], 2, 16),
                (&["Anyexec"], 1, 105),
            ],
        ),
    ];
    let Some(root) = traces_root() else { return };
    let mut defs = Definitions::new();
    if let Err(e) =
        defs.load_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rules.yaml"))
    {
        panic!("{e}");
    }
    for &(trace, first, tally) in EXPECTED {
        let Some(recs) = load(&root, trace) else {
            continue;
        };
        let mut rules = match defs.compile_rules() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let mut got: std::collections::BTreeMap<(Vec<String>, u8), usize> = Default::default();
        let mut got_first = None;
        for (i, r) in recs.iter().enumerate() {
            if let Some(e) = rules.enrich(r) {
                got_first.get_or_insert(i);
                *got.entry((e.rules, e.priority.value())).or_default() += 1;
            }
        }
        let want: std::collections::BTreeMap<(Vec<String>, u8), usize> = tally
            .iter()
            .map(|(names, prio, n)| ((names.iter().map(|s| s.to_string()).collect(), *prio), *n))
            .collect();
        assert_eq!(got, want, "{trace}");
        assert_eq!(got_first, Some(first), "{trace}");
    }
}

/// 1500 random queries (`tests/data/gen_random_cases.py`: built from the values found in five small traces, free
/// of syntax errors for the reference, without the deliberate deviations) match exactly the records the reference
/// matches.
#[test]
fn random_queries_match_the_reference() {
    let Some(root) = traces_root() else { return };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/random_cases.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let cases: Vec<serde_json::Value> = match serde_json::from_str(&text) {
        Ok(c) => c,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let mut loaded: std::collections::HashMap<String, Option<Vec<FlatRecord>>> = Default::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for c in &cases {
        let (Some(trace), Some(query), Some(want)) = (
            c["trace"].as_str(),
            c["query"].as_str(),
            c["matches"].as_array(),
        ) else {
            panic!("malformed case {c}");
        };
        let want: Vec<usize> = want
            .iter()
            .filter_map(|v| v.as_u64())
            .map(|v| v as usize)
            .collect();
        let recs = loaded
            .entry(trace.to_string())
            .or_insert_with(|| load(&root, trace));
        let Some(recs) = recs else { continue };
        let mut q = match Query::compile(query) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{trace}: `{query}` does not compile: {e}"));
                continue;
            }
        };
        checked += 1;
        let got = matching(&mut q, recs);
        if got != want {
            failures.push(format!(
                "{trace}: `{query}`: reference {want:?}, ours {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{checked} random queries match");
}
