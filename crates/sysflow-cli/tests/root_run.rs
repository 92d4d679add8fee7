//! `sysflow run` end to end (live capture needs root): the policy engine drains what the collector flushes at
//! shutdown, and the run ends cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn root_run_alerts_on_flows_flushed_at_shutdown() {
    if !is_root() {
        if std::env::var("SYSFLOW_TEST_REQUIRE_ROOT").is_ok_and(|v| v == "1") {
            panic!("this test needs root (SYSFLOW_TEST_REQUIRE_ROOT=1)");
        }
        eprintln!("skipped: live capture needs root");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sysflow-run-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = Command::new(env!("CARGO_BIN_EXE_sysflow"))
        .args(["run", "-w", &dir.to_string_lossy(), "--duration", "8"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sysflow run");
    // Capture has started once the first trace file exists.
    let t = Instant::now();
    while !std::fs::read_dir(&dir).is_ok_and(|mut d| {
        d.any(|e| {
            e.is_ok_and(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(|c: char| c.is_ascii_digit())
            })
        })
    }) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "sysflow run did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Holds /etc/shadow open for reading past the end of the run: its flow is only emitted when the collector
    // flushes its open flows at shutdown, after it was told to stop.
    let mut holder = Command::new("/bin/sh")
        .args(["-c", "exec 3</etc/shadow; sleep 30"])
        .spawn()
        .expect("sh");
    let holder_pid = holder.id();
    let out = run.wait_with_output().expect("sysflow run output");
    let _ = holder.kill();
    let _ = holder.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    let alerts = stdout
        .lines()
        .filter(|l| {
            l.contains("Sensitive file read")
                && l.contains("\"path\":\"/etc/shadow\"")
                && l.contains(&format!("\"pid\":{holder_pid},"))
        })
        .count();
    assert_eq!(
        alerts, 1,
        "alerts for pid {holder_pid}:\n{stdout}\n{stderr}"
    );
}
