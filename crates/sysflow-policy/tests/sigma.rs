//! Sigma rules (`language: sigma`): the reference's rule set and configuration compile, processor.md §11's webshell
//! vector holds, and Sigma semantics (with the reference's bugs only in reference mode) are asserted on hand-built
//! records.

mod common;

use std::path::{Path, PathBuf};

use sysflow_format::flags::op;
use sysflow_policy::{Compat, EngineConfig, Language, Mode, PolicyEngine, Priority};

fn cfg(compat: Compat, config: Option<PathBuf>) -> EngineConfig {
    EngineConfig {
        mode: Mode::Alert,
        language: Language::Sigma,
        sigma_config: config,
        compat,
        ..EngineConfig::default()
    }
}

fn sigma_dir() -> Option<PathBuf> {
    common::policies().map(|p| p.join("sigma"))
}

/// An engine from inline rules, with the reference's field mappings written out.
fn engine(rules: &[&str], compat: Compat) -> PolicyEngine {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sysflow.yml");
    std::fs::write(
        &config,
        "fieldmappings:\n  Image: sf.proc.exe\n  CommandLine: sf.proc.cmdline\n  ParentImage: sf.proc.aexe\n  ParentCommandLine: sf.proc.acmdline\n  User: sf.proc.user\n  DestinationIp: sf.net.dip\n  TargetFilename: sf.file.path\n",
    )
    .expect("write config");
    let sources: Vec<(String, &str)> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("rule{i}.yml"), *r))
        .collect();
    PolicyEngine::from_sources(&sources, &cfg(compat, Some(config))).expect("compiles")
}

fn rule(detection: &str, category: &str) -> String {
    format!(
        "title: t\nid: rule-1\nlevel: medium\nlogsource:\n  product: linux\n  category: {category}\ndetection:\n{detection}\n"
    )
}

fn fires(e: &PolicyEngine, rec: &sysflow_format::FlatRecord) -> bool {
    e.evaluate(rec).is_alert()
}

#[test]
fn the_reference_process_creation_rules_compile_with_its_config() {
    let Some(dir) = sigma_dir() else { return };
    let rules = dir.join("rules/linux/process_creation");
    for compat in [Compat::Fixed, Compat::Reference] {
        let e = PolicyEngine::load(
            &[&rules],
            &cfg(compat, Some(dir.join("config/sysflow.yml"))),
        )
        .expect("compiles");
        let files = std::fs::read_dir(&rules).expect("rules dir").count();
        assert_eq!(files, 51);
        let skipped: Vec<String> = e
            .warnings()
            .iter()
            .filter(|w| w.message.contains("skipped"))
            .map(|w| w.to_string())
            .collect();
        assert!(skipped.is_empty(), "{skipped:#?}");
        assert!(e.rules().len() >= 51, "{} rules", e.rules().len());
    }
}

#[test]
fn webshell_vector_of_the_reference() {
    let Some(dir) = sigma_dir() else { return };
    let file = dir.join("rules/linux/process_creation/proc_creation_lnx_webshell_detection.yml");
    let config = Some(dir.join("config/sysflow.yml"));
    let hit = common::pe(op::EXEC, "/bin/bash", "-c id", "/usr/sbin/nginx");
    let miss = common::pe(op::EXEC, "/bin/bash", "-c id", "/usr/sbin/sshd");
    let flow = common::ff("/bin/bash", "/etc/passwd", 0, op::READ_RECV, None);
    for compat in [Compat::Fixed, Compat::Reference] {
        let e = PolicyEngine::load(&[&file], &cfg(compat, config.clone())).expect("compiles");
        assert_eq!(e.rules().len(), 1);
        let v = e.evaluate(&hit);
        assert!(v.is_alert(), "{compat:?}");
        let r = &v.rules[0];
        assert_eq!(r.name, "818f7b24-0fba-4c49-a073-8b755573b9c7");
        assert_eq!(r.priority, Priority::High);
        assert_eq!(r.tags, ["attack.persistence", "attack.t1505.003"]);
        assert!(!fires(&e, &miss), "{compat:?}");
    }
    // The file flow of a bash whose ancestor is nginx: the reference ignores `logsource` and alerts on it too.
    let mut flow = flow;
    let nginx = common::process(30, "/usr/sbin/nginx", "", None);
    flow.parent = Some(std::sync::Arc::new(nginx));
    let reference =
        PolicyEngine::load(&[&file], &cfg(Compat::Reference, config.clone())).expect("compiles");
    let fixed = PolicyEngine::load(&[&file], &cfg(Compat::Fixed, config)).expect("compiles");
    assert!(fires(&reference, &flow));
    assert!(!fires(&fixed, &flow));
}

#[test]
fn comparisons_are_case_insensitive_and_modifiers_apply() {
    let e = engine(
        &[&rule(
            "  sel:\n    Image|endswith: '/CURL'\n    CommandLine|contains|all:\n      - '-o'\n      - 'HTTP://'\n  condition: sel",
            "process_creation",
        )],
        Compat::Fixed,
    );
    assert!(fires(
        &e,
        &common::pe(
            op::EXEC,
            "/usr/bin/curl",
            "-o /tmp/x http://evil",
            "/bin/sh"
        )
    ));
    assert!(!fires(
        &e,
        &common::pe(op::EXEC, "/usr/bin/curl", "http://evil", "/bin/sh")
    ));
    assert!(!fires(
        &e,
        &common::pe(
            op::EXEC,
            "/usr/bin/wget",
            "-o /tmp/x http://evil",
            "/bin/sh"
        )
    ));
    // Not an exec: process_creation does not apply (fixed mode).
    assert!(!fires(
        &e,
        &common::pe(
            op::CLONE,
            "/usr/bin/curl",
            "-o /tmp/x http://evil",
            "/bin/sh"
        )
    ));

    let e = engine(
        &[&rule(
            "  sel:\n    CommandLine|re: '^/bin/sh -c (id|whoami)$'\n  condition: sel",
            "process_creation",
        )],
        Compat::Fixed,
    );
    assert!(fires(
        &e,
        &common::pe(op::EXEC, "/bin/sh", "-c whoami", "/bin/sh")
    ));
    assert!(!fires(
        &e,
        &common::pe(op::EXEC, "/bin/sh", "-c WHOAMI", "/bin/sh")
    ));

    let e = engine(
        &[&rule(
            "  sel:\n    CommandLine|base64offset|contains: '/bin/bash'\n  condition: sel",
            "process_creation",
        )],
        Compat::Fixed,
    );
    // echo L2Jpbi9iYXNo | base64 -d
    assert!(fires(
        &e,
        &common::pe(op::EXEC, "/usr/bin/base64", "-d L2Jpbi9iYXNo", "/bin/sh")
    ));
    assert!(!fires(
        &e,
        &common::pe(op::EXEC, "/usr/bin/base64", "-d aGVsbG8=", "/bin/sh")
    ));
}

#[test]
fn wildcards_lists_of_maps_and_them_follow_sigma_in_fixed_mode_only() {
    let wild = rule(
        "  sel:\n    Image: '/usr/*/py?hon*'\n  condition: sel",
        "process_creation",
    );
    let rec = common::pe(op::EXEC, "/usr/bin/python3", "", "/bin/sh");
    assert!(fires(&engine(&[&wild], Compat::Fixed), &rec));
    assert!(
        !fires(&engine(&[&wild], Compat::Reference), &rec),
        "the reference matches '*' literally"
    );

    let list = rule(
        "  sel:\n    - Image: /bin/nc\n    - Image: /usr/bin/ncat\n  condition: sel",
        "process_creation",
    );
    let nc = common::pe(op::EXEC, "/bin/nc", "", "/bin/sh");
    assert!(fires(&engine(&[&list], Compat::Fixed), &nc));
    assert!(
        !fires(&engine(&[&list], Compat::Reference), &nc),
        "the reference ANDs a list of maps"
    );

    let them = rule(
        "  sel:\n    Image: /bin/nc\n  _never:\n    Image: /nothing\n  condition: all of them",
        "process_creation",
    );
    assert!(fires(&engine(&[&them], Compat::Fixed), &nc));
    assert!(
        !fires(&engine(&[&them], Compat::Reference), &nc),
        "the reference's `them` includes `_never`"
    );
}

#[test]
fn network_rules_with_cidr_and_numbers() {
    let r = rule(
        "  sel:\n    DestinationIp|cidr: 10.0.0.0/8\n  low:\n    sf.net.dport|lt: 1024\n  condition: sel and low",
        "network_connection",
    );
    let e = engine(&[&r], Compat::Fixed);
    assert!(fires(
        &e,
        &common::nf(
            "/usr/bin/curl",
            [192, 168, 0, 2],
            40000,
            [10, 1, 2, 3],
            80,
            op::WRITE_SEND
        )
    ));
    assert!(!fires(
        &e,
        &common::nf(
            "/usr/bin/curl",
            [192, 168, 0, 2],
            40000,
            [11, 1, 2, 3],
            80,
            op::WRITE_SEND
        )
    ));
    assert!(!fires(
        &e,
        &common::nf(
            "/usr/bin/curl",
            [192, 168, 0, 2],
            40000,
            [10, 1, 2, 3],
            8080,
            op::WRITE_SEND
        )
    ));
}

#[test]
fn a_bad_rule_file_is_skipped_with_a_warning_naming_it() {
    let good = rule(
        "  sel:\n    Image: /bin/nc\n  condition: sel",
        "process_creation",
    );
    let bad_modifier = rule(
        "  sel:\n    Image|frobnicate: x\n  condition: sel",
        "process_creation",
    );
    let bad_yaml = "title: [unclosed\n";
    let e = engine(&[&good, &bad_modifier, bad_yaml], Compat::Fixed);
    assert_eq!(e.rules().len(), 1);
    let w: Vec<String> = e.warnings().iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter()
            .any(|w| w.contains("rule1.yml") && w.contains("frobnicate")),
        "{w:#?}"
    );
    assert!(w.iter().any(|w| w.contains("rule2.yml")), "{w:#?}");
    // A missing configuration file is an error naming it.
    let err = PolicyEngine::from_sources(
        &[("r.yml", good.as_str())],
        &cfg(
            Compat::Fixed,
            Some(Path::new("/nonexistent/sysflow.yml").into()),
        ),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/sysflow.yml"),
        "{err}"
    );
}

#[test]
fn truncated_and_mangled_rules_never_panic() {
    let Some(dir) = sigma_dir() else { return };
    let text = std::fs::read_to_string(
        dir.join("rules/linux/process_creation/proc_creation_lnx_webshell_detection.yml"),
    )
    .expect("rule");
    let config = Some(dir.join("config/sysflow.yml"));
    let bytes = text.as_bytes();
    for cut in (0..bytes.len()).step_by(7) {
        let mut t = String::from_utf8_lossy(&bytes[..cut]).into_owned();
        let _ = PolicyEngine::from_sources(
            &[("cut.yml", t.as_str())],
            &cfg(Compat::Fixed, config.clone()),
        );
        // Swap a structural character in.
        t.push_str(["|", ":", "(", "- ", "\t", "*"][cut % 6]);
        let _ = PolicyEngine::from_sources(
            &[("mangled.yml", t.as_str())],
            &cfg(Compat::Fixed, config.clone()),
        );
    }
}
