//! Conformance with processor.md §11: every reference policy compiles with the expected inventory, and the
//! evaluation and quirk vectors hold.

mod common;

use std::path::Path;

use sysflow_format::flags::{op, open};
use sysflow_policy::{Compat, EngineConfig, Field, Mode, PolicyEngine, Priority};

fn cfg(compat: Compat) -> EngineConfig {
    EngineConfig {
        mode: Mode::Alert,
        compat,
        ..EngineConfig::default()
    }
}

fn engine_src(src: &str, compat: Compat) -> PolicyEngine {
    match PolicyEngine::from_sources(&[("inline.yaml", src)], &cfg(compat)) {
        Ok(e) => e,
        Err(e) => panic!("policy does not compile: {e}\n{src}"),
    }
}

/// Whether the one-rule policy with `cond` matches `rec`.
fn holds(cond: &str, rec: &sysflow_format::FlatRecord, compat: Compat) -> bool {
    let src = format!("- rule: t\n  desc: t\n  condition: {cond}\n  priority: low\n");
    engine_src(&src, compat).evaluate(rec).is_alert()
}

#[test]
fn inventory_distribution_filter() {
    let Some(p) = common::policies() else { return };
    let e = PolicyEngine::load(&[p.join("distribution/filter.yaml")], &cfg(Compat::Fixed))
        .expect("compiles");
    let inv = e.inventory();
    assert_eq!(
        (inv.rules, inv.filters, inv.macros, inv.lists),
        (21, 1, 84, 42)
    );
    assert_eq!(
        e.filters().next().map(|f| f.name.as_str()),
        Some("__global__")
    );
}

#[test]
fn inventory_runtimeintegrity_dir() {
    let Some(p) = common::policies() else { return };
    let e =
        PolicyEngine::load(&[p.join("runtimeintegrity")], &cfg(Compat::Fixed)).expect("compiles");
    let inv = e.inventory();
    assert_eq!((inv.rules, inv.filters), (79, 1));
    let names: Vec<_> = e
        .files()
        .iter()
        .map(|f| {
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "globals.yaml",
            "path.yaml",
            "runtimeintegrity.yaml",
            "ttps.yaml"
        ]
    );
    // Every rule of the shipped policies resolves all its macro references.
    assert!(
        e.warnings()
            .iter()
            .all(|w| !w.message.contains("unrecognized reference")),
        "{:?}",
        e.warnings()
    );
}

#[test]
fn inventory_tests_dir_in_one_compiler() {
    let Some(p) = common::policies() else { return };
    let mut files: Vec<_> = std::fs::read_dir(p.join("tests"))
        .expect("tests dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(
        files[0].file_name().and_then(|n| n.to_str()),
        Some("falco.yaml")
    );
    let falco = PolicyEngine::load(&[&files[0]], &cfg(Compat::Fixed)).expect("falco.yaml compiles");
    let inv = falco.inventory();
    assert_eq!((inv.rules, inv.macros, inv.lists), (61, 298, 112));
    let all = PolicyEngine::load(&files, &cfg(Compat::Fixed)).expect("all tests compile");
    assert_eq!(all.inventory().rules, 61 + 23);
    // Reference mode compiles the same.
    let all_ref = PolicyEngine::load(&files, &cfg(Compat::Reference)).expect("all tests compile");
    assert_eq!(all_ref.inventory().rules, 61 + 23);
}

#[test]
fn every_policy_file_compiles() {
    let Some(p) = common::policies() else { return };
    let files = PolicyEngine::policy_files(&[&p]).expect("walk");
    let sfpl: Vec<_> = files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("/sigma/"))
        .collect();
    assert!(sfpl.len() >= 20);
    for f in sfpl {
        PolicyEngine::load(&[f], &cfg(Compat::Fixed))
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

/// (file stem, rule name, expected on R1).
const R1_VECTORS: &[(&str, &str, bool)] = &[
    ("contains", "Contains rule", true),
    ("contains", "iContains rule", true),
    ("eq", "Eq rule", true),
    ("fileflow", "File Flows Open Write Access", false),
    ("ge", "Ge rule", true),
    ("gt", "Gt rule", false),
    ("in", "In rule", true),
    ("le", "Le rule", false),
    ("lt", "Lt rule", false),
    ("networkflow", "Network Flows on specific port", false),
    ("logic", "Logic rule", true),
    ("logic", "Pars rule", true),
    ("macro", "Simple rule to test if Python process", false),
    ("pmatch", "Pmatch rule", true),
    ("sfmap", "Sf map rule", true),
    ("simple", "Simple rule 1", true),
    ("simple", "Simple rule 2", true),
    ("simple", "Simple rule 3", true),
    ("simple", "Simple rule 4", true),
    ("simple", "Simple rule 5", true),
    ("simple", "Simple rule 6", true),
    ("startswith", "Startswith rule", true),
    ("unary", "Exists rule", true),
];

#[test]
fn r1_vectors() {
    let Some(p) = common::policies() else { return };
    let rec = common::r1();
    for compat in [Compat::Fixed, Compat::Reference] {
        for (stem, rule, expected) in R1_VECTORS {
            let file = p.join(format!("tests/unit_test_{stem}.yaml"));
            let e = PolicyEngine::load(&[&file], &cfg(compat)).expect("compiles");
            assert!(
                e.rules().iter().any(|r| r.name == *rule),
                "rule {rule} not in {stem}"
            );
            let v = e.evaluate(&rec);
            let hit = v.rules.iter().any(|r| r.name == *rule);
            assert_eq!(hit, *expected, "{compat:?} {stem}: {rule}");
            if hit {
                assert_eq!(v.tags().next(), Some("test"));
            }
        }
    }
}

#[test]
fn exists_needs_parent_in_ptree() {
    let Some(p) = common::policies() else { return };
    let e = PolicyEngine::load(&[p.join("tests/unit_test_unary.yaml")], &cfg(Compat::Fixed))
        .expect("compiles");
    let mut rec = common::r1();
    assert!(e.evaluate(&rec).is_alert());
    rec.parent = None;
    assert!(!e.evaluate(&rec).is_alert());
}

#[test]
fn quirk_vectors_network() {
    let rec = common::nf(
        "/usr/bin/curl",
        [10, 0, 0, 1],
        40000,
        [10, 0, 0, 2],
        80,
        op::CONNECT | op::WRITE_SEND,
    );
    for c in [Compat::Fixed, Compat::Reference] {
        assert!(holds("sf.net.port = 80", &rec, c));
        assert!(holds("sf.net.ip = 10.0.0.2", &rec, c));
        assert!(holds(
            "sf.net.sip = 10.0.0.1 and sf.net.dport = 80",
            &rec,
            c
        ));
        assert!(holds("sf.opflags = SEND", &rec, c));
        assert!(!holds("sf.opflags = WRITE", &rec, c));
    }
    assert!(holds("sf.flow.rbytes = 20", &rec, Compat::Reference));
    assert!(holds("sf.flow.rbytes = 10", &rec, Compat::Fixed));
    assert!(holds(
        "sf.flow.wbytes > 19 and sf.flow.wbytes < 21",
        &rec,
        Compat::Fixed
    ));
}

#[test]
fn quirk_vectors_process() {
    let host = common::pe(op::EXEC, "/bin/ls", "", "/bin/bash");
    assert!(holds(
        "sf.container.type = DOCKER",
        &host,
        Compat::Reference
    ));
    assert!(!holds("sf.container.type = host", &host, Compat::Reference));
    assert!(holds("sf.container.type = host", &host, Compat::Fixed));
    assert!(!holds("sf.container.type = DOCKER", &host, Compat::Fixed));
    for c in [Compat::Fixed, Compat::Reference] {
        assert!(
            holds("sf.file.name exists", &host, c),
            "basename of an empty path is '.'"
        );
        assert!(
            holds("sf.proc.cmdline = '/bin/ls '", &host, c),
            "trailing space when args are empty"
        );
        assert!(holds("evt.dir = <", &host, c));
        assert!(!holds("sf.typo = x", &host, c));
        assert!(holds("sf.typo != x", &host, c));
        assert!(holds("sf.typo exists", &host, c));
        assert!(!holds("proc.aname[2] = x", &host, c));
    }
    assert!(holds("evt.type = EXEC", &host, Compat::Reference));
    assert!(!holds("evt.type = execve", &host, Compat::Reference));
    assert!(holds("evt.type = execve", &host, Compat::Fixed));
    assert!(!holds("sf.pproc.uid > 0", &host, Compat::Reference));

    let args = common::pe(op::EXEC, "/bin/x", "a,b", "/bin/bash");
    assert!(holds("sf.proc.args = b", &args, Compat::Fixed));
    assert!(holds("sf.proc.args contains 'zz,b'", &args, Compat::Fixed));
}

#[test]
fn quirk_vectors_files() {
    let rec = common::ff(
        "/bin/cat",
        "/etc/passwd",
        open::RDONLY,
        op::OPEN | op::READ_RECV,
        None,
    );
    assert!(holds("fd.name = passwd", &rec, Compat::Reference));
    assert!(!holds("fd.name = /etc/passwd", &rec, Compat::Reference));
    assert!(holds("fd.name = /etc/passwd", &rec, Compat::Fixed));
    for c in [Compat::Fixed, Compat::Reference] {
        assert!(holds(
            "sf.file.name = passwd and sf.file.directory = /etc and sf.file.type = f",
            &rec,
            c
        ));
        assert!(holds(
            "sf.file.is_open_read = true and sf.file.is_open_write = false",
            &rec,
            c
        ));
        assert!(holds(
            "sf.file.openflags = RDONLY and sf.opflags in (READ, WRITE)",
            &rec,
            c
        ));
        assert!(holds("sf.file.path pmatch (/etc/pass, /nothing)", &rec, c));
        assert!(holds(
            "sf.file.path endswith wd and sf.file.path startswith /etc",
            &rec,
            c
        ));
        assert!(holds("sf.proc.aname in (bash)", &rec, c));
        assert!(holds(
            "sf.proc.aexe = /bin/bash and sf.pproc.name = bash",
            &rec,
            c
        ));
    }
    // Fixed mode indexes ancestors like Falco.
    assert!(holds("proc.aname[1] = bash", &rec, Compat::Fixed));
}

#[test]
fn priorities() {
    let src = "- rule: a\n  desc: d\n  condition: sf.type = PE\n  priority: alert\n\
               - rule: b\n  desc: d\n  condition: sf.type = PE\n  priority: CRITICAL\n\
               - rule: c\n  desc: d\n  condition: sf.type = PE\n  priority: WARNING\n\
               - rule: d\n  desc: d\n  condition: sf.type = PE\n";
    let p = |c| {
        engine_src(src, c)
            .rules()
            .iter()
            .map(|r| r.priority)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        p(Compat::Reference),
        [
            Priority::Low,
            Priority::High,
            Priority::Medium,
            Priority::Low
        ]
    );
    assert_eq!(
        p(Compat::Fixed),
        [
            Priority::High,
            Priority::High,
            Priority::Medium,
            Priority::Low
        ]
    );
    assert_eq!(Priority::High.as_int(), 3);
}

#[test]
fn json_path_on_k8s_message() {
    use std::sync::Arc;
    use sysflow_format::{K8sAction, K8sComponent, K8sEvent, Record};
    let Some(p) = common::policies() else { return };
    let e = PolicyEngine::load(&[p.join("runtimeintegrity/path.yaml")], &cfg(Compat::Fixed))
        .expect("compiles");
    let ke = |ns: &str| {
        let mut rec = sysflow_format::FlatRecord::new(
            Record::K8sEvent(K8sEvent {
                kind: K8sComponent::Pods,
                action: K8sAction::Added,
                ts: 1,
                message: format!("{{\"items\":[{{\"namespace\":\"{ns}\"}}]}}\n\0"),
            }),
            sysflow_format::Layout::V5,
        );
        rec.header = Some(common::header());
        rec
    };
    let v = e.evaluate(&ke("robot-shop"));
    assert_eq!(v.rules.len(), 1);
    assert_eq!(v.rules[0].actions, ["podname"]);
    assert!(!e.evaluate(&ke("default")).is_alert());
    // The prefilter keeps the rule off other record types.
    assert!(!e.evaluate(&common::r1()).is_alert());
    let _ = Arc::new(());
}

#[test]
fn field_values_for_export() {
    let rec = common::r1();
    let v = |f: Field| f.value(&rec, Compat::Fixed).render();
    assert_eq!(v(Field::OpFlags), "EXEC");
    assert_eq!(v(Field::ProcName), "python");
    assert_eq!(v(Field::ProcCmdline), "/usr/bin/python cos-write.py --x");
    assert_eq!(v(Field::ProcAName), "python,bash");
    assert_eq!(v(Field::PProcCmdline), "/bin/bash");
    assert_eq!(v(Field::ProcTty), "false");
    assert_eq!(v(Field::Ts), "1548965940603299403");
    assert_eq!(v(Field::MetaTraceName), "trace.sf");
    assert_eq!(v(Field::ProcOid).len(), 16);
    assert_eq!(v(Field::Type), "PE");
}

#[test]
fn errors_point_at_file_line_and_rule() {
    let dir = std::env::temp_dir().join(format!("sfpl-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let f = dir.join("bad.yaml");
    std::fs::write(&f, "- rule: Good\n  desc: ok\n  condition: sf.type = PE\n\n- rule: Broken one\n  desc: x\n  condition: sf.proc.exe = and\n").expect("write");
    let e = PolicyEngine::load(&[&dir], &cfg(Compat::Fixed)).expect_err("must fail");
    let s = e.to_string();
    assert!(s.contains("bad.yaml:7:"), "{s}");
    assert!(s.contains("rule 'Broken one'"), "{s}");
    // Self-recursive macros are an error (the reference recurses forever).
    std::fs::write(
        &f,
        "- macro: m\n  condition: m and sf.type = PE\n- rule: R\n  desc: d\n  condition: m\n",
    )
    .expect("write");
    let e = PolicyEngine::load(&[&dir], &cfg(Compat::Fixed)).expect_err("must fail");
    assert!(e.to_string().contains("refers to itself"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        PolicyEngine::load::<&Path>(&[], &cfg(Compat::Fixed)).is_err(),
        "alert mode needs policies"
    );
    let enrich = EngineConfig {
        mode: Mode::Enrich,
        ..EngineConfig::default()
    };
    let bypass = PolicyEngine::load::<&Path>(&[], &enrich).expect("enrich without policies");
    assert!(bypass.evaluate(&common::r1()).emit);
}

#[test]
fn fast_rendering_equals_typed_rendering() {
    let recs = [
        common::r1(),
        common::pe(op::CLONE, "/bin/ls", "", "/bin/bash"),
        common::ff(
            "/bin/cat",
            "/etc/passwd",
            open::RDWR,
            op::OPEN | op::READ_RECV | op::WRITE_SEND,
            Some("c"),
        ),
        common::fe("/bin/mv", op::RENAME, "/tmp/a", Some("/tmp/b")),
        common::nf(
            "/usr/bin/curl",
            [10, 0, 0, 1],
            4000,
            [1, 2, 3, 4],
            443,
            op::CONNECT | op::READ_RECV,
        ),
    ];
    for rec in &recs {
        for c in [Compat::Fixed, Compat::Reference] {
            for f in Field::ALL {
                assert_eq!(
                    f.render(rec, c),
                    f.value(rec, c).render(),
                    "{f:?} on {:?}",
                    rec.kind()
                );
            }
        }
    }
}

/// Damaged policy text (truncations and byte substitutions of the reference policies) gives errors, never panics.
#[test]
fn damaged_policies_never_panic() {
    let Some(p) = common::policies() else { return };
    let text = std::fs::read_to_string(p.join("runtimeintegrity/ttps.yaml")).expect("read");
    let bytes = text.as_bytes();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let noise = b"[](),:-'\"\\#<>=!*. \t\nandornotinxyz\xc3\xa9";
    let (mut ok, mut err) = (0, 0);
    for _ in 0..150 {
        let mut b = bytes.to_vec();
        let cut = (next() as usize) % b.len();
        if next() % 3 == 0 {
            b.truncate(cut);
        }
        for _ in 0..(next() % 8) {
            if b.is_empty() {
                break;
            }
            let at = (next() as usize) % b.len();
            b[at] = noise[(next() as usize) % noise.len()];
        }
        let s = String::from_utf8_lossy(&b);
        match PolicyEngine::from_sources(&[("fuzz.yaml", s.as_ref())], &cfg(Compat::Fixed)) {
            Ok(e) => {
                ok += 1;
                // Whatever compiled must evaluate without panicking.
                let _ = e.evaluate(&common::r1());
            }
            Err(e) => {
                err += 1;
                assert!(
                    e.location.line > 0 || matches!(e.kind, sysflow_policy::ErrorKind::NoPolicies),
                    "{e}"
                );
            }
        }
    }
    assert!(ok > 0 && err > 0, "ok {ok}, errors {err}");
}

#[test]
fn filters_without_rules() {
    let src = "- filter: drop_python\n  condition: sf.proc.name = python\n";
    let enrich = EngineConfig {
        mode: Mode::Enrich,
        ..EngineConfig::default()
    };
    let e = PolicyEngine::from_sources(&[("f.yaml", src)], &enrich).expect("compiles");
    assert_eq!(e.inventory().rules, 0);
    let v = e.evaluate(&common::r1());
    assert!(v.dropped && !v.emit);
    let v = e.evaluate(&common::pe(op::EXEC, "/bin/ls", "", "/bin/bash"));
    assert!(!v.dropped && v.emit);
    let alert =
        PolicyEngine::from_sources(&[("f.yaml", src)], &cfg(Compat::Fixed)).expect("compiles");
    assert!(
        !alert
            .evaluate(&common::pe(op::EXEC, "/bin/ls", "", "/bin/bash"))
            .emit
    );
    let disabled = "- filter: f\n  condition: sf.type = PE\n  enabled: false\n";
    let d = PolicyEngine::from_sources(&[("f.yaml", disabled)], &enrich).expect("compiles");
    assert!(d.evaluate(&common::r1()).emit);
}
