//! The reference traces through the runtimeintegrity + ttps policies (flattened reader), with alerts checked
//! against properties derived from the rules, plus hand-built hits and non-hits per rule family.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use sysflow_format::flags::{op, open};
use sysflow_format::{FlatReader, FlatRecord, Record, RecordKind};
use sysflow_policy::{Compat, EngineConfig, Mode, PolicyEngine, Verdict};

const SHELLS: &[&str] = &["bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"];

fn base(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn engine(compat: Compat, mode: Mode) -> Option<Arc<PolicyEngine>> {
    let p = common::policies()?;
    let config = EngineConfig {
        mode,
        compat,
        ..EngineConfig::default()
    };
    Some(Arc::new(
        PolicyEngine::load(&[p.join("runtimeintegrity")], &config)
            .expect("runtimeintegrity compiles"),
    ))
}

/// Runs every reference trace through `engine`; returns (record, verdict) for all flattened records.
fn run(engine: &Arc<PolicyEngine>) -> Vec<(FlatRecord, Verdict)> {
    let Some(s) = common::shared() else {
        return Vec::new();
    };
    let dir = s.join("processor-resources/resources/traces");
    let mut traces: Vec<_> = std::fs::read_dir(&dir)
        .expect("traces dir")
        .map(|e| e.expect("entry").path())
        .collect();
    traces.sort();
    let mut eval = engine.evaluator();
    let mut out = Vec::new();
    for t in traces {
        let reader = FlatReader::open(&t).unwrap_or_else(|e| panic!("{}: {e}", t.display()));
        for rec in reader {
            let rec = rec.unwrap_or_else(|e| panic!("{}: {e}", t.display()));
            // The reference flattener emits PE, FF, FE, NF and KE only.
            if matches!(
                rec.kind(),
                RecordKind::ProcessFlow | RecordKind::NetworkEvent
            ) {
                continue;
            }
            let v = eval.evaluate(&rec);
            out.push((rec, v));
        }
    }
    out
}

type Run = (Arc<PolicyEngine>, Vec<(FlatRecord, Verdict)>);

/// Each configuration runs the traces once per test binary (the tests share the results).
fn cached(compat: Compat, mode: Mode) -> Option<&'static Run> {
    use std::sync::OnceLock;
    static RUNS: [OnceLock<Option<Run>>; 4] = [const { OnceLock::new() }; 4];
    let slot = (compat == Compat::Reference) as usize * 2 + (mode == Mode::Enrich) as usize;
    RUNS[slot]
        .get_or_init(|| {
            let e = engine(compat, mode)?;
            let r = run(&e);
            Some((e, r))
        })
        .as_ref()
}

fn exe(r: &FlatRecord) -> &str {
    r.process.as_ref().map_or("", |p| p.exe.trim())
}

fn pexe(r: &FlatRecord) -> Option<&str> {
    r.parent.as_ref().map(|p| p.exe.trim())
}

#[test]
fn traces_alerts_follow_the_rules() {
    let Some((e, results)) = cached(Compat::Fixed, Mode::Alert) else {
        return;
    };
    assert!(
        results.len() > 50_000,
        "flattened {} records",
        results.len()
    );
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    for (rec, v) in results {
        assert_eq!(
            v.emit,
            v.is_alert(),
            "alert mode emits exactly the matching records"
        );
        if v.dropped {
            assert!(v.rules.is_empty());
        }
        for r in &v.rules {
            *per_rule.entry(r.name.clone()).or_default() += 1;
            let file = r
                .location
                .file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            *per_file.entry(file).or_default() += 1;
            assert!(
                !r.tags.is_empty() || r.name.starts_with("New pod"),
                "{} has tags",
                r.name
            );
            let kind = rec.kind();
            let opflags = rec.record.op_flags().unwrap_or(0);
            match r.name.as_str() {
                "Suspicious process spawned" => {
                    assert_eq!(kind, RecordKind::ProcessEvent);
                    assert!(opflags & op::EXEC != 0);
                    assert_ne!(Some(exe(rec)), pexe(rec), "exe differs from the parent's");
                }
                "System Information Discovery" | "File and Directory Discovery" => {
                    assert_eq!(kind, RecordKind::ProcessEvent);
                    assert!(opflags & op::EXEC != 0);
                }
                "Shell started by container entry point" => {
                    assert!(opflags & op::EXEC != 0);
                    assert!(rec.container.is_some(), "in a container");
                    assert_eq!(pexe(rec).map(base), Some("node"));
                    assert!(SHELLS.contains(&base(exe(rec))), "{}", exe(rec));
                }
                "Privilege escalation" => {
                    assert_eq!(rec.process.as_ref().map(|p| p.uid), Some(0));
                    assert_ne!(rec.parent.as_ref().map(|p| p.uid), Some(0));
                }
                "Non sudo setuid" => {
                    assert!(opflags & op::SETUID != 0);
                    assert!(!matches!(base(exe(rec)), "sudo" | "su"));
                }
                "New pod in namespace robot-shop" => match &rec.record {
                    Record::K8sEvent(k) => assert!(k.message.contains("robot-shop")),
                    other => panic!("not a K8s event: {:?}", other.kind()),
                },
                _ => {}
            }
        }
    }
    eprintln!("alerts per rule: {per_rule:#?}");
    // Hits from each policy family.
    for f in ["ttps.yaml", "runtimeintegrity.yaml", "path.yaml"] {
        assert!(
            per_file.get(f).copied().unwrap_or(0) > 0,
            "no alert from {f}: {per_file:?}"
        );
    }
    for rule in [
        "Suspicious process spawned",
        "Shell started by container entry point",
        "New pod in namespace robot-shop",
    ] {
        assert!(
            per_rule.get(rule).copied().unwrap_or(0) > 0,
            "no alert for {rule}"
        );
    }
    // Non-hits: an exec whose executable equals its parent's never matches "Suspicious process spawned".
    let same_exe: Vec<_> = results
        .iter()
        .filter(|(r, _)| {
            r.record.op_flags().is_some_and(|f| f & op::EXEC != 0) && pexe(r) == Some(exe(r))
        })
        .collect();
    assert!(
        !same_exe.is_empty(),
        "the traces have re-execs of the same binary"
    );
    for (_, v) in same_exe {
        assert!(v
            .rules
            .iter()
            .all(|r| r.name != "Suspicious process spawned"));
    }
    // The global filter drops something, and dropped records are never emitted.
    assert!(results.iter().any(|(_, v)| v.dropped));
    let report = e.cost_report();
    assert_eq!(report.records as usize, results.len());
    assert!(report.rules.iter().any(|r| r.is_filter && r.matches > 0));
}

#[test]
fn enrich_mode_emits_everything_not_dropped() {
    let Some((_, results)) = cached(Compat::Fixed, Mode::Enrich) else {
        return;
    };
    for (_, v) in results {
        assert_eq!(v.emit, !v.dropped);
    }
    let alerts = results.iter().filter(|(_, v)| v.is_alert()).count();
    let Some((_, a)) = cached(Compat::Fixed, Mode::Alert) else {
        return;
    };
    let alert_mode = a.iter().filter(|(_, v)| v.emit).count();
    assert_eq!(
        alerts, alert_mode,
        "enrich attaches the same matches alert mode emits"
    );
}

#[test]
fn reference_mode_container_macro_differs_only_where_documented() {
    let (Some((_, f)), Some((_, r))) = (
        cached(Compat::Fixed, Mode::Alert),
        cached(Compat::Reference, Mode::Alert),
    ) else {
        return;
    };
    assert_eq!(f.len(), r.len());
    for ((rec, vf), (_, vr)) in f.iter().zip(r) {
        // Records in containers do not depend on the host-container fix, and the other fixed fields
        // (flow counters, aliases) are not used by these policies in a way that differs on the traces.
        if rec.container.is_some() {
            let nf: Vec<_> = vf.rules.iter().map(|x| &x.name).collect();
            let nr: Vec<_> = vr.rules.iter().map(|x| &x.name).collect();
            assert_eq!(nf, nr, "container record differs between modes");
        }
    }
}

fn one(e: &PolicyEngine, rec: &FlatRecord) -> Vec<String> {
    e.evaluate(rec)
        .rules
        .iter()
        .map(|r| r.name.clone())
        .collect()
}

#[test]
fn hand_built_hits_and_non_hits_per_family() {
    let Some(e) = engine(Compat::Fixed, Mode::Alert) else {
        return;
    };
    // ttps: privilege escalation (uid 0 under a non-root parent) vs. root under root.
    let mut esc = common::pe(op::EXEC, "/usr/bin/id", "", "/usr/bin/sudo-like");
    if let Some(p) = esc.parent.as_mut() {
        Arc::make_mut(p).uid = 1000;
    }
    assert!(
        one(&e, &esc).iter().any(|n| n == "Privilege escalation"),
        "{:?}",
        one(&e, &esc)
    );
    let not_esc = common::pe(op::EXEC, "/usr/bin/id", "", "/usr/bin/sudo-like");
    assert!(!one(&e, &not_esc)
        .iter()
        .any(|n| n == "Privilege escalation"));

    // ttps + runtimeintegrity: a shell spawned by node in a container.
    let mut shell = common::pe(op::EXEC, "/bin/sh", "-c ls", "/usr/local/bin/node");
    shell.container = Some(common::container("app"));
    let hits = one(&e, &shell);
    assert!(
        hits.iter()
            .any(|n| n == "Shell started by container entry point"),
        "{hits:?}"
    );
    assert!(
        hits.iter().any(|n| n == "Suspicious process spawned"),
        "{hits:?}"
    );
    let mut py = common::pe(
        op::EXEC,
        "/usr/bin/python3",
        "app.py",
        "/usr/local/bin/node",
    );
    py.container = Some(common::container("app"));
    assert!(!one(&e, &py)
        .iter()
        .any(|n| n == "Shell started by container entry point"));

    // runtimeintegrity/ttps: writing below a binary directory vs. writing in /tmp.
    let w = common::ff(
        "/usr/bin/evil",
        "/usr/bin/implant",
        open::WRONLY | open::CREAT,
        op::OPEN | op::WRITE_SEND,
        Some("c"),
    );
    assert!(
        one(&e, &w).iter().any(|n| n == "Write below binary dir"),
        "{:?}",
        one(&e, &w)
    );
    let t = common::ff(
        "/usr/bin/evil",
        "/tmp/scratch",
        open::WRONLY | open::CREAT,
        op::OPEN | op::WRITE_SEND,
        Some("c"),
    );
    assert!(!one(&e, &t).iter().any(|n| n == "Write below binary dir"));

    // globals: the whitelist filter drops infrastructure containers.
    let mut infra = shell.clone();
    infra.container = Some(common::container("vpn"));
    let v = e.evaluate(&infra);
    assert!(v.dropped && !v.emit);
}
