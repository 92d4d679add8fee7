//! The optimised evaluation (per-type specialisation, process/file facts cached across records, the live-rule index,
//! flag tests) gives exactly the verdicts of the conditions as written, on every record of the reference traces, for
//! every reference policy set, in both compatibility modes and both engine modes.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sysflow_format::{FlatReader, FlatRecord};
use sysflow_policy::{Compat, EngineConfig, Mode, PolicyEngine, Verdict};

/// Every flattened record of every reference trace, in file order (all record kinds).
fn records() -> Vec<FlatRecord> {
    let Some(s) = common::shared() else {
        return Vec::new();
    };
    let dir = s.join("processor-resources/resources/traces");
    let mut traces: Vec<_> = std::fs::read_dir(&dir)
        .expect("traces dir")
        .map(|e| e.expect("entry").path())
        .collect();
    traces.sort();
    let mut out = Vec::new();
    for t in traces {
        let reader = FlatReader::open(&t).unwrap_or_else(|e| panic!("{}: {e}", t.display()));
        out.extend(reader.map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", t.display()))));
    }
    out
}

fn names(v: &Verdict) -> Vec<&str> {
    v.rules.iter().map(|r| r.name.as_str()).collect()
}

/// Evaluates `recs` with a per-thread evaluator (caches shared across records) in file order, then in reverse order
/// (cache entries reused by records far apart), and compares every verdict with the unoptimised evaluation.
fn check(engine: &Arc<PolicyEngine>, recs: &[FlatRecord], what: &str) -> (usize, usize) {
    let mut eval = engine.evaluator();
    let (mut alerts, mut dropped) = (0, 0);
    let wants: Vec<Verdict> = recs
        .iter()
        .map(|r| engine.evaluate_unoptimized(r))
        .collect();
    let order = (0..recs.len()).chain((0..recs.len()).rev());
    for i in order {
        let rec = &recs[i];
        let got = eval.evaluate(rec);
        let want = &wants[i];
        assert_eq!(
            (got.emit, got.dropped, names(&got)),
            (want.emit, want.dropped, names(want)),
            "{what}: record {i} ({:?}) differs",
            rec.kind()
        );
        // The one-shot API (fresh caches) agrees too.
        if i % 7 == 0 {
            let one = engine.evaluate(rec);
            assert_eq!(names(&one), names(want), "{what}: record {i} one-shot");
        }
        alerts += !got.rules.is_empty() as usize;
        dropped += got.dropped as usize;
    }
    (alerts, dropped)
}

/// The reference policy sets (the unit-test policies as one set: they cover every operator).
fn policy_sets(p: &Path) -> Vec<PathBuf> {
    vec![
        p.join("runtimeintegrity"),
        p.join("distribution/filter.yaml"),
        p.join("tests"),
    ]
}

/// Checks one policy set (relative to the reference policies directory) on the reference traces; returns the alerts.
fn check_set(set: &str) -> usize {
    let Some(p) = common::policies() else {
        return 0;
    };
    let recs = records();
    assert!(
        recs.len() > 10_000,
        "reference traces: {} records",
        recs.len()
    );
    let mut total_alerts = 0;
    for compat in [Compat::Fixed, Compat::Reference] {
        for mode in [Mode::Alert, Mode::Enrich] {
            let config = EngineConfig {
                mode,
                compat,
                ..EngineConfig::default()
            };
            let engine = match PolicyEngine::load(&[p.join(set)], &config) {
                Ok(e) => Arc::new(e),
                Err(e) => panic!("{set}: {e}"),
            };
            let (alerts, _) = check(&engine, &recs, &format!("{set} {compat:?} {mode:?}"));
            total_alerts += alerts;
        }
    }
    total_alerts
}

#[test]
fn optimised_equals_unoptimised_runtimeintegrity() {
    if common::policies().is_some() {
        // The comparison is not vacuous.
        assert!(check_set("runtimeintegrity") > 1000);
    }
}

#[test]
fn optimised_equals_unoptimised_distribution() {
    check_set("distribution/filter.yaml");
}

#[test]
fn optimised_equals_unoptimised_unit_test_policies() {
    check_set("tests");
}

#[test]
fn optimised_equals_unoptimised_sigma() {
    let Some(p) = common::policies() else { return };
    let recs = records();
    let sigma = p.join("sigma");
    let mut alerts = 0;
    for compat in [Compat::Fixed, Compat::Reference] {
        let config = EngineConfig {
            mode: Mode::Alert,
            compat,
            language: sysflow_policy::Language::Sigma,
            sigma_config: Some(sigma.join("config/sysflow.yml")),
            ..EngineConfig::default()
        };
        let engine =
            Arc::new(PolicyEngine::load(&[sigma.join("rules")], &config).expect("compiles"));
        alerts += check(&engine, &recs, &format!("sigma {compat:?}")).0;
    }
    assert!(alerts > 50, "{alerts} alerts");
}

#[test]
fn optimised_verdicts_equal_unoptimised_on_hand_built_records() {
    use sysflow_format::flags::{op, open};
    let Some(p) = common::policies() else { return };
    let mut recs = vec![
        common::r1(),
        common::pe(op::EXEC, "/usr/bin/sudo", "-i", "/bin/bash"),
        common::pe(op::SETUID, "/bin/su", "", "/bin/bash"),
        common::pe(
            op::SETNS,
            "/usr/bin/nsenter",
            "-t 1",
            "/usr/bin/containerd-shim",
        ),
        common::pe(op::EXEC, "/bin/sed", "-i s/a/b/ /etc/passwd", "/bin/bash"),
        common::ff(
            "/bin/sed",
            "/etc/passwd",
            open::WRONLY,
            op::OPEN | op::WRITE_SEND,
            Some("c"),
        ),
        common::ff(
            "/usr/bin/vi",
            "/etc/shadow",
            open::RDWR | open::CREAT,
            op::OPEN,
            None,
        ),
        common::ff(
            "/usr/sbin/nginx",
            "/var/www/x.php",
            open::WRONLY,
            op::WRITE_SEND,
            Some("c"),
        ),
        common::ff(
            "/usr/bin/cat",
            "/etc/passwd",
            0,
            op::OPEN | op::READ_RECV,
            Some("c"),
        ),
        common::ff(
            "/usr/bin/cat",
            "/root/.bashrc",
            open::RDONLY,
            op::OPEN,
            None,
        ),
        common::ff("/bin/touch", "/dev/foo", open::CREAT, op::OPEN, None),
        common::ff(
            "/bin/cp",
            "/usr/bin/evil",
            open::WRONLY | open::TRUNC,
            op::WRITE_SEND,
            None,
        ),
        common::ff(
            "/bin/sh",
            "ffff9ce0->ffff9ce1 /sock/x.sock",
            0,
            op::OPEN,
            None,
        ),
        common::fe("/bin/mv", op::RENAME, "/tmp/a", Some("/etc/crontab")),
        common::fe("/bin/rm", op::UNLINK, "/var/log/auth.log", None),
        common::nf(
            "/bin/bash",
            [10, 0, 0, 1],
            4444,
            [10, 0, 0, 2],
            80,
            op::CONNECT,
        ),
        common::nf(
            "/usr/bin/curl",
            [0, 0, 0, 0],
            1,
            [127, 0, 0, 1],
            443,
            op::ACCEPT | op::WRITE_SEND,
        ),
    ];
    // Records sharing one process context but different files, and one file with different processes.
    let (a, b) = (recs[5].clone(), recs[6].clone());
    let mut mixed = a.clone();
    mixed.file = b.file.clone();
    recs.push(mixed);
    let mut mixed = b.clone();
    mixed.process = a.process.clone();
    mixed.parent = a.parent.clone();
    mixed.container = a.container.clone();
    recs.push(mixed);
    let rs = recs.clone();
    recs.extend(rs);
    for set in policy_sets(&p) {
        for compat in [Compat::Fixed, Compat::Reference] {
            let config = EngineConfig {
                mode: Mode::Enrich,
                compat,
                ..EngineConfig::default()
            };
            let engine = Arc::new(PolicyEngine::load(&[&set], &config).expect("compiles"));
            check(&engine, &recs, &format!("hand-built {set:?} {compat:?}"));
        }
    }
}
