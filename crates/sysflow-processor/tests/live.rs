//! Long-running inputs: the unix socket driver, a followed directory, and policy hot reload.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use socket2::{Domain, SockAddr, Socket, Type};
use sysflow_format::{Record, TraceReader};
use sysflow_processor::driver::{Driver, FileDriver, SocketDriver};
use sysflow_processor::pipeline::RunOptions;

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn records(path: &Path) -> Vec<Record> {
    TraceReader::open(path)
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn socket_driver_receives_datums_and_accepts_reconnects() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let pipeline = build(
        dir.path(),
        &simple_pipeline(r#","mode":"enrich""#, "", &out),
        RunOptions::default(),
    );
    let sock_path = dir.path().join("sock/sysflow.sock");
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let (stop, sock_path) = (Arc::clone(&stop), sock_path.clone());
        std::thread::spawn(move || pipeline.run(Driver::Socket(SocketDriver::new(sock_path)), stop))
    };
    wait_for("the socket", Duration::from_secs(20), || sock_path.exists());
    let recs = records(&trace(&res, "shellshock.sf"));
    let mut buf = Vec::new();
    for round in 0..2 {
        let client = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
        client
            .connect(&SockAddr::unix(&sock_path).unwrap())
            .unwrap();
        if round == 1 {
            // An undecodable message is dropped; the stream goes on.
            client.send(&[0xff, 0xff, 0xff]).unwrap();
        }
        for r in &recs {
            buf.clear();
            sysflow_format::datum::encode_datum(r, &mut buf);
            client.send(&buf).unwrap();
        }
        drop(client);
        // The second connection's header resets the entity caches, as after a collector restart.
        wait_for("the records", Duration::from_secs(30), || {
            line_count(&out) == 56 * (round + 1)
        });
    }
    stop.store(true, Ordering::Relaxed);
    let report = runner.join().unwrap().unwrap();
    assert_eq!(report.flattened, 112);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 112);
    assert_eq!(lines[0], lines[56], "same records after the reconnect");
    assert!(!sock_path.exists(), "the socket is removed at exit");
}

#[test]
fn followed_directory_and_policy_hot_reload() {
    let Some(res) = resources() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (input, policies, out) = (
        dir.path().join("in"),
        dir.path().join("policies"),
        dir.path().join("out.json"),
    );
    std::fs::create_dir(&input).unwrap();
    std::fs::create_dir(&policies).unwrap();
    let rule = |name: &str, exe: &str| {
        format!("- rule: {name}\n  desc: test rule\n  condition: sf.proc.exe = {exe}\n  priority: high\n  tags: [{name}]\n")
    };
    std::fs::write(
        policies.join("p.yaml"),
        rule("first", "/usr/lib/cgi-bin/vulnerable"),
    )
    .unwrap();
    let keys = format!(
        r#","mode":"alert","policies":"{}","monitor":"local","monitor.interval":"1""#,
        policies.display()
    );
    let pipeline = build(
        dir.path(),
        &simple_pipeline(&keys, "", &out),
        RunOptions::default(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let (stop, input) = (Arc::clone(&stop), input.clone());
        let driver = FileDriver {
            follow: true,
            settle: Duration::from_millis(300),
            ..FileDriver::new(input)
        };
        std::thread::spawn(move || pipeline.run(Driver::File(driver), stop))
    };
    std::fs::copy(trace(&res, "shellshock.sf"), input.join("1.sf")).unwrap();
    wait_for(
        "alerts of the first policy",
        Duration::from_secs(30),
        || line_count(&out) > 0,
    );
    let first = line_count(&out);
    // Change the policy: the new rule flags the parent (apache2) instead.
    std::fs::write(
        policies.join("p.yaml"),
        rule("second", "/usr/lib/apache2/mpm-worker/apache2"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    std::fs::copy(trace(&res, "shellshock.sf"), input.join("2.sf")).unwrap();
    wait_for(
        "alerts of the second policy",
        Duration::from_secs(30),
        || line_count(&out) > first,
    );
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let report = runner.join().unwrap().unwrap();
    assert!(report.reloads >= 1, "the engine was reloaded");
    let lines = json_lines(&out);
    let names = |l: &serde_json::Value| l["policies"][0]["id"].as_str().unwrap().to_string();
    assert!(lines[..first].iter().all(|l| names(l) == "first"));
    assert!(
        lines[first..].iter().all(|l| names(l) == "second"),
        "records after the reload use the new rule"
    );
    assert!(lines[first..]
        .iter()
        .all(|l| l["proc"]["exe"] == "/usr/lib/apache2/mpm-worker/apache2"));
}
