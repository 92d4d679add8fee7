//! End-to-end runs of the pipeline on the reference traces and pipelines.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;
use sysflow_processor::config::RawPipeline;
use sysflow_processor::pipeline::RunOptions;

/// Records the reference emits per trace (PE+FF+FE+NF+KE, limiter off): processor spec §3.4.
const EXPECTED: &[(&str, usize)] = &[
    ("tcp.sf", 10),
    ("httpd.sf", 5),
    ("shellshock.sf", 56),
    ("k8s_small.sf", 5247),
    ("1621959914", 5822),
    ("mon.1531776682.sf", 18755),
    ("mon.1531776712.sf", 6325),
    ("mon.1531776742.sf", 20025),
];

#[test]
fn enrich_without_policies_emits_every_record_of_each_reference_trace() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, expected) in EXPECTED {
        let out = dir.path().join(format!("{name}.json"));
        let text = simple_pipeline(r#","mode":"enrich""#, "", &out);
        let report = run_file(
            build(dir.path(), &text, RunOptions::default()),
            &trace(&res, name),
        );
        let lines = json_lines(&out);
        assert_eq!(lines.len(), *expected, "{name}: records exported");
        assert_eq!(
            report.flattened as usize, *expected,
            "{name}: records flattened"
        );
        for l in &lines {
            assert_eq!(l["version"], 5);
            assert!(
                l.get("policies").is_none(),
                "{name}: no rule can match without policies"
            );
        }
        if *name == "k8s_small.sf" {
            let ke: Vec<&Value> = lines.iter().filter(|l| l["type"] == "KE").collect();
            assert_eq!(ke.len(), 4);
            let keys: Vec<&str> = ke[0]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert!(
                keys.contains(&"k8s") && !keys.contains(&"proc"),
                "KE shape: {keys:?}"
            );
        }
    }
}

#[test]
fn json_key_order_and_sections_follow_the_reference() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let text = simple_pipeline(r#","mode":"enrich""#, "", &out);
    run_file(
        build(dir.path(), &text, RunOptions::default()),
        &trace(&res, "tcp.sf"),
    );
    let raw = std::fs::read_to_string(&out).unwrap();
    let first = raw.lines().next().unwrap();
    assert!(first.starts_with(r#"{"version":5,"endts":"#), "{first}");
    let order = [
        "\"endts\"",
        "\"opflags\"",
        "\"ret\"",
        "\"ts\"",
        "\"type\"",
        "\"meta\"",
        "\"node\"",
        "\"proc\"",
    ];
    let pos: Vec<usize> = order
        .iter()
        .map(|k| {
            first
                .find(k)
                .unwrap_or_else(|| panic!("{k} missing: {first}"))
        })
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "key order {pos:?} in {first}"
    );
    for l in json_lines(&out) {
        match l["type"].as_str().unwrap() {
            "NF" => {
                assert!(
                    l["net"]["ip"].is_array() && l["flow"]["rbytes"].is_i64(),
                    "{l}"
                );
                assert!(l.get("file").is_none());
            }
            "FF" => assert!(
                l["file"]["path"].is_string() && l.get("net").is_none(),
                "{l}"
            ),
            "PE" => assert!(l.get("flow").is_none() && l.get("file").is_none(), "{l}"),
            t => panic!("unexpected type {t}"),
        }
    }
}

#[test]
fn alert_mode_attaches_rules_and_tags() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let policies = res.join("policies/runtimeintegrity");
    let text = simple_pipeline(
        &format!(r#","mode":"alert","policies":"{}""#, policies.display()),
        "",
        &out,
    );
    let report = run_file(
        build(dir.path(), &text, RunOptions::default()),
        &trace(&res, "shellshock.sf"),
    );
    let lines = json_lines(&out);
    assert!(
        !lines.is_empty(),
        "shellshock raises alerts with the runtimeintegrity policies"
    );
    for l in &lines {
        let policies = l["policies"]
            .as_array()
            .unwrap_or_else(|| panic!("alert without policies: {l}"));
        assert!(!policies.is_empty());
        for p in policies {
            assert!(
                p["id"].is_string() && p["desc"].is_string() && p["priority"].is_u64(),
                "{p}"
            );
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l["proc"]["exe"] == "/usr/lib/cgi-bin/vulnerable"),
        "the CGI process is flagged"
    );
    let (_, cost) = &report.engines[0];
    assert_eq!(cost.records, 56);
    assert_eq!(cost.emitted as usize, lines.len());
    assert!(cost.rules.iter().any(|r| r.matches > 0));
}

#[test]
fn sigma_rules_flag_the_shellshock_shell() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let sigma = res.join("policies/sigma");
    let text = simple_pipeline(
        &format!(
            r#","mode":"alert","language":"sigma","policies":"{}","config":"{}""#,
            sigma.join("rules/linux").display(),
            sigma.join("config/sysflow.yml").display()
        ),
        "",
        &out,
    );
    run_file(
        build(dir.path(), &text, RunOptions::default()),
        &trace(&res, "shellshock.sf"),
    );
    let lines = json_lines(&out);
    let webshell = "818f7b24-0fba-4c49-a073-8b755573b9c7";
    let flagged: Vec<&str> = lines
        .iter()
        .filter(|l| {
            l["policies"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["id"] == webshell))
        })
        .filter_map(|l| l["proc"]["exe"].as_str())
        .collect();
    // Apache's CGI spawns bash, which runs cat: both are web-server children (Linux Webshell Indicators).
    assert!(
        flagged.contains(&"/bin/bash") && flagged.contains(&"/bin/cat"),
        "{flagged:?}"
    );
    // Process-creation rules alert on exec events only.
    assert!(lines.iter().all(|l| l["type"] == "PE"), "{lines:#?}");
}

#[test]
fn output_order_is_kept_with_many_workers() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policies = res.join("policies/runtimeintegrity");
    let mut outputs = Vec::new();
    for workers in [1, 5] {
        let out = dir.path().join(format!("out{workers}.json"));
        let keys = format!(
            r#","mode":"enrich","concurrency":"{workers}","policies":"{}""#,
            policies.display()
        );
        run_file(
            build(
                dir.path(),
                &simple_pipeline(&keys, "", &out),
                RunOptions::default(),
            ),
            &trace(&res, "mon.1531776742.sf"),
        );
        outputs.push(std::fs::read_to_string(&out).unwrap());
    }
    // The globals.yaml drop filter removes some records even in enrich mode.
    let n = outputs[0].lines().count();
    assert!(n > 19_000 && n < 20_025, "{n}");
    assert!(
        outputs[0] == outputs[1],
        "1 and 5 workers produce the same output in the same order"
    );
}

#[test]
fn fan_out_feeds_every_branch() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let text = format!(
        r#"{{"pipeline":[
          {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":["f1 flattenerchan","f2 flattenerchan"]}},
          {{"processor":"policyengine","in":"f1 flattenerchan","out":"e1 eventchan","mode":"enrich"}},
          {{"processor":"policyengine","in":"f2 flattenerchan","out":"e2 eventchan","policies":"{}"}},
          {{"processor":"exporter","in":"e1 eventchan","export":"file","file.path":"{}"}},
          {{"processor":"exporter","in":"e2 eventchan","export":"file","file.path":"{}","format":"ecs"}}
        ]}}"#,
        res.join("policies/runtimeintegrity").display(),
        a.display(),
        b.display()
    );
    run_file(
        build(dir.path(), &text, RunOptions::default()),
        &trace(&res, "shellshock.sf"),
    );
    assert_eq!(json_lines(&a).len(), 56);
    let ecs = json_lines(&b);
    assert!(!ecs.is_empty());
    for d in &ecs {
        assert_eq!(d["ecs"]["version"], "8.2");
        assert_eq!(d["agent"]["type"], "SysFlow");
        assert!(
            d["event"]["reason"].is_string() && d["event"]["severity"].is_i64(),
            "{d}"
        );
        assert!(d["@timestamp"].as_str().unwrap().ends_with('Z'));
    }
}

#[test]
fn ecs_network_flows() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let text = simple_pipeline(
        r#","mode":"enrich""#,
        r#","format":"ecs","buffer":"3""#,
        &out,
    );
    run_file(
        build(dir.path(), &text, RunOptions::default()),
        &trace(&res, "tcp.sf"),
    );
    let docs = json_lines(&out);
    assert_eq!(docs.len(), 10);
    let nf: Vec<&Value> = docs
        .iter()
        .filter(|d| d["event"]["sf_type"] == "NF")
        .collect();
    assert!(!nf.is_empty());
    for d in nf {
        assert_eq!(d["event"]["category"], "network");
        assert_eq!(d["event"]["action"], "network-connection-traffic");
        assert!(
            d["network"]["community_id"]
                .as_str()
                .unwrap()
                .starts_with("1:"),
            "{d}"
        );
        assert!(d["source"]["ip"].is_string() && d["destination"]["port"].is_i64());
        assert!(d["process"]["executable"].is_string());
    }
}

#[test]
fn rate_limiter_drops_repeats() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let text = simple_pipeline(r#","mode":"enrich""#, "", &out).replace(
        r#""handler":"flattener""#,
        r#""handler":"flattener","filter.enabled":"on""#,
    );
    let report = run_file(
        build(dir.path(), &text, RunOptions::default()),
        &trace(&res, "mon.1531776742.sf"),
    );
    let n = json_lines(&out).len();
    assert!(n > 0 && n < 20025, "limited output: {n}");
    assert_eq!(report.reader.limited as usize, 20025 - n);
}

#[test]
fn directory_input_reads_every_file_in_order() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(trace(&res, "tcp.sf"), input.join("b.sf")).unwrap();
    std::fs::copy(trace(&res, "httpd.sf"), input.join("a.sf")).unwrap();
    let out = dir.path().join("out.json");
    run_file(
        build(
            dir.path(),
            &simple_pipeline(r#","mode":"enrich""#, "", &out),
            RunOptions::default(),
        ),
        &input,
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 15);
    // httpd.sf (a.sf, header schema 2) first, then tcp.sf (b.sf, header schema 1000).
    assert!(
        lines[..5].iter().all(|l| l["meta"]["schema"] == 2),
        "{}",
        lines[0]
    );
    assert!(
        lines[5..].iter().all(|l| l["meta"]["schema"] == 1000),
        "{}",
        lines[5]
    );
}

/// The shipped pipelines, with their paths pointed at the reference resources and outputs at a file.
#[test]
fn reference_pipelines_validate_and_run() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pipelines = res.join("pipelines");
    for name in [
        "pipeline.terminal.json",
        "pipeline.local.json",
        "pipeline.distribution.json",
    ] {
        let text = std::fs::read_to_string(pipelines.join(name)).unwrap();
        let out = dir.path().join(format!("{name}.out"));
        let text = text
            .replace(
                "/etc/sysflow/policies/distribution/filter.yaml",
                &res.join("policies/distribution/filter.yaml")
                    .to_string_lossy(),
            )
            .replace(
                "/usr/local/sysflow/resources/policies",
                &res.join("policies/runtimeintegrity").to_string_lossy(),
            );
        let mut raw = RawPipeline::parse(Path::new(name), &text).unwrap();
        // As a deployment would: redirect the output with environment overrides.
        raw.apply_env([
            ("EXPORTER_EXPORT", "file"),
            ("EXPORTER_FILE_PATH", &out.to_string_lossy()),
        ]);
        let config = raw.validate().unwrap_or_else(|e| panic!("{e}"));
        let pipeline =
            sysflow_processor::pipeline::Pipeline::build(config, RunOptions::default()).unwrap();
        run_file(pipeline, &res.join("traces/k8s_small.sf"));
        let alerts = json_lines(&out);
        assert!(!alerts.is_empty(), "{name}: alerts on k8s_small.sf");
        assert!(alerts.iter().all(|a| a["policies"].is_array()), "{name}");
    }
    for (name, needle) in [
        ("pipeline.elk.json", "not yet supported"),
        ("pipeline.findings.json", "not yet supported"),
        ("pipeline.otel.json", "not yet supported"),
        ("pipeline.template.json", "unknown value"),
    ] {
        let raw = RawPipeline::load(&pipelines.join(name)).unwrap();
        let err = raw.validate().unwrap_err().to_string();
        assert!(err.contains(needle), "{name}: {err}");
    }
}

#[test]
fn check_only_mode_validates_policies() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    let text = simple_pipeline(
        &format!(
            r#","policies":"{}""#,
            res.join("policies/runtimeintegrity").display()
        ),
        "",
        &dir.path().join("o"),
    );
    std::fs::write(&good, text).unwrap();
    let args = |cfg: &Path| {
        sysflow_processor::cli::ProcessArgs::try_parse_go_style([
            "sfprocessor",
            "-test",
            "-log=quiet",
            "-config",
            cfg.to_str().unwrap(),
        ])
        .unwrap()
    };
    sysflow_processor::run(args(&good)).unwrap();
    // A policy with a syntax error: the error names the pipeline entry and the policy file.
    let bad_policy = dir.path().join("bad.yaml");
    std::fs::write(
        &bad_policy,
        "- rule: x\n  desc: y\n  condition: sf.proc.name = = \n",
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        simple_pipeline(
            &format!(r#","policies":"{}""#, bad_policy.display()),
            "",
            &dir.path().join("o"),
        ),
    )
    .unwrap();
    let err = format!("{:#}", sysflow_processor::run(args(&bad)).unwrap_err());
    assert!(
        err.contains("pipeline[1].policies") && err.contains("bad.yaml"),
        "{err}"
    );
    // The output file of the exporter is not touched by -test.
    assert!(!dir.path().join("o").exists());
}

/// The `sfprocessor` example binary cargo builds beside the tests, or `None` (with a SKIP line) when it is absent.
fn sfprocessor_example() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("examples/sfprocessor");
    if bin.exists() {
        Some(bin)
    } else {
        eprintln!("SKIP: {} not built", bin.display());
        None
    }
}

#[test]
fn terminal_exporter_prints_alerts() {
    let Some(res) = resources() else { return };
    let Some(bin) = sfprocessor_example() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pipeline.json");
    let text = std::fs::read_to_string(res.join("pipelines/pipeline.terminal.json"))
        .unwrap()
        .replace(
            "/etc/sysflow/policies/distribution/filter.yaml",
            &res.join("policies/runtimeintegrity").to_string_lossy(),
        );
    std::fs::write(&cfg, text).unwrap();
    let out = std::process::Command::new(&bin)
        .args([
            "-config",
            cfg.to_str().unwrap(),
            "-log=quiet",
            "-rulestats",
            "-driver",
            "file",
        ])
        .arg(res.join("traces/shellshock.sf"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().count() > 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Rule report of the policy engine pipeline[1]"),
        "{stderr}"
    );
    for l in stdout.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(v["policies"].is_array());
    }
}

#[test]
fn terminal_exporter_stops_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    let Some(res) = resources() else { return };
    let Some(bin) = sfprocessor_example() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pipeline.json");
    std::fs::write(
        &cfg,
        r#"{"pipeline":[
          {"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"},
          {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"enrich"},
          {"processor":"exporter","in":"evt eventchan","export":"terminal","format":"json"}]}"#,
    )
    .unwrap();
    // `sfprocessor ... | head -n 1`: ~10 MB of JSON into a pipe whose reader leaves after one line.
    let mut child = std::process::Command::new(&bin)
        .args(["-config", cfg.to_str().unwrap(), "-driver", "file"])
        .arg(res.join("traces/k8s_small.sf"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("{\"version\":5"), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("Standard output closed").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("Export failed"), "{stderr}");
}
