//! Conformance with the Python reference: every trace of `../shared/traces` printed in every mode and compared
//! with `../shared/golden` (JSON parsed line by line, CSV and text byte for byte).
//!
//! Traces on which the reference fails (a `<trace>.stderr.<mode>` file exists) are listed in [`DEVIATIONS`] with
//! the reason: for them the reference's partial output must be a prefix of ours, and we must print every record.

mod common;

use std::path::Path;

use common::{count_events, golden_traces, gunzip, json_diff, parse_json, print_trace, shared_dir};
use sysflow_print::OutputMode;

/// Traces the reference cannot print completely (path fragment, reason we print them fully).
const DEVIATIONS: &[(&str, &str)] = &[
    (
        "objectstore/data/play/mon.15447",
        "prototype schema Sp2: its \"ProcessFlow\" is an event without endTs; the reference stops with \
         \"'NestedNamespace' object has no attribute 'endTs'\"; our reader maps those events to ProcessEvent records",
    ),
    (
        "objectstore/data/play/tcpclientserver",
        "prototype schema Sp2 (see above): the reference stops at the first prototype ProcessFlow event",
    ),
    (
        "objectstore/data/play/mon.15489",
        "prototype schema Sp1: Process has `type` instead of `state`; the reference stops with \
         \"'NestedNamespace' object has no attribute 'state'\"; our reader maps the prototype records",
    ),
    (
        "synthetic/with_network_event_v5.sf",
        "NetworkEvent: the reference's OBJ_NAME_MAP names it sysflow.event.NetEvent and raises KeyError; we print \
         NE records with the fields of a network flow that exist on them",
    ),
];

fn deviation(rel: &str) -> Option<&'static str> {
    DEVIATIONS
        .iter()
        .find(|(frag, _)| rel.contains(frag))
        .map(|(_, why)| *why)
}

fn has_stderr(golden_prefix: &Path) -> bool {
    let name = golden_prefix
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    golden_prefix
        .parent()
        .and_then(|d| std::fs::read_dir(d).ok())
        .is_some_and(|rd| {
            rd.filter_map(Result::ok).any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{name}.stderr."))
            })
        })
}

/// Compares JSON Lines: byte-equal lines pass; other lines are parsed and compared value by value, key order
/// included. Returns the first difference.
fn compare_json_lines(rel: &str, exp: &[u8], act: &[u8], prefix_only: bool) -> Result<(), String> {
    let exp = String::from_utf8_lossy(exp);
    let act = String::from_utf8_lossy(act);
    let el: Vec<&str> = exp.lines().collect();
    let al: Vec<&str> = act.lines().collect();
    for (i, e) in el.iter().enumerate() {
        let Some(a) = al.get(i) else {
            return Err(format!(
                "{rel}: line {}: expected a record, got end of output",
                i + 1
            ));
        };
        if e == a {
            continue;
        }
        let ej =
            parse_json(e).map_err(|x| format!("{rel}: line {}: golden is not JSON: {x}", i + 1))?;
        let aj = parse_json(a)
            .map_err(|x| format!("{rel}: line {}: our output is not JSON: {x}: {a}", i + 1))?;
        if let Some((key, ev, av)) = json_diff("", &ej, &aj) {
            return Err(format!(
                "{rel}: line {}: key {key}: expected {ev}, actual {av}",
                i + 1
            ));
        }
    }
    if !prefix_only && al.len() != el.len() {
        return Err(format!(
            "{rel}: {} records expected, {} printed",
            el.len(),
            al.len()
        ));
    }
    Ok(())
}

fn first_line_diff(rel: &str, exp: &[u8], act: &[u8]) -> String {
    let (e, a) = (String::from_utf8_lossy(exp), String::from_utf8_lossy(act));
    for (i, (x, y)) in e.split('\n').zip(a.split('\n')).enumerate() {
        if x != y {
            return format!(
                "{rel}: line {}:\n  expected: {x:?}\n  actual:   {y:?}",
                i + 1
            );
        }
    }
    format!(
        "{rel}: outputs differ in length ({} expected bytes, {} actual)",
        exp.len(),
        act.len()
    )
}

fn run_mode(mode: OutputMode, ext: &str) {
    let Some(shared) = shared_dir() else { return };
    let traces = golden_traces(&shared);
    assert!(
        !traces.is_empty(),
        "no goldens found under {}",
        shared.display()
    );
    let mut failures = Vec::new();
    let (mut equal, mut prefixed) = (0, 0);
    for (rel, trace, golden) in &traces {
        let dev = deviation(rel);
        let failed = has_stderr(golden);
        if failed != dev.is_some() {
            failures.push(format!(
                "{rel}: the reference {} but the trace is {} in DEVIATIONS",
                if failed { "failed" } else { "succeeded" },
                if dev.is_some() {
                    "listed"
                } else {
                    "not listed"
                }
            ));
            continue;
        }
        let exp = gunzip(Path::new(&format!("{}.{ext}.gz", golden.display())));
        let (act, n, errors) = print_trace(trace, mode);
        if !errors.is_empty() {
            failures.push(format!("{rel}: read errors: {errors:?}"));
            continue;
        }
        let result = match mode {
            OutputMode::Json | OutputMode::Flatjson => {
                compare_json_lines(rel, &exp, &act, dev.is_some())
            }
            _ if dev.is_some() => {
                if act.starts_with(&exp) {
                    Ok(())
                } else {
                    Err(first_line_diff(rel, &exp, &act))
                }
            }
            _ => {
                if act == exp {
                    Ok(())
                } else {
                    Err(first_line_diff(rel, &exp, &act))
                }
            }
        };
        if let Err(e) = result {
            failures.push(e);
            continue;
        }
        if let Some(why) = dev {
            // The reference printed a prefix; we must print every event and flow record.
            let all = count_events(trace);
            let ref_rows = match mode {
                OutputMode::Json | OutputMode::Flatjson => {
                    exp.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count()
                }
                _ => 0,
            } as u64;
            if n != all
                || (matches!(mode, OutputMode::Json | OutputMode::Flatjson) && n <= ref_rows)
            {
                failures.push(format!(
                    "{rel}: printed {n} records of {all} (reference: {ref_rows}); deviation: {why}"
                ));
                continue;
            }
            prefixed += 1;
        } else {
            equal += 1;
        }
    }
    eprintln!(
        "{mode:?}: {equal} traces equal to the goldens, {prefixed} reference failures extended (prefix equal), {} \
         failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn json_matches_goldens() {
    run_mode(OutputMode::Json, "json");
}

#[test]
fn flatjson_matches_goldens() {
    run_mode(OutputMode::Flatjson, "flatjson");
}

#[test]
fn csv_matches_goldens() {
    run_mode(OutputMode::Csv, "csv");
}

#[test]
fn text_tables_match_tabulate_09_goldens() {
    run_mode(OutputMode::Str, "tab09.txt");
}

#[test]
fn every_avro_trace_has_goldens() {
    let Some(shared) = shared_dir() else { return };
    let with_goldens: Vec<_> = golden_traces(&shared)
        .into_iter()
        .map(|(_, t, _)| t)
        .collect();
    let mut stack = vec![shared.join("traces")];
    let mut missing = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_none_or(|x| x != "scap") && !with_goldens.contains(&p) {
                missing.push(p);
            }
        }
    }
    assert!(missing.is_empty(), "traces without goldens: {missing:?}");
}
