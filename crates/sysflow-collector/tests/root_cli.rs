//! `run` as `sysflow collect` runs it: flags, the `-w dir/` file, and the SIGTERM flush of open flows. A separate test
//! binary, because `run` installs process-wide signal handlers.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Parser;
use sysflow_collector::CollectArgs;
use sysflow_format::flags::op;
use sysflow_format::{Foid, Record, TraceReader};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: CollectArgs,
}

#[test]
fn root_sigterm_flushes_open_flows_into_the_output_file() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if std::env::var("SYSFLOW_TEST_REQUIRE_ROOT").is_ok_and(|v| v == "1") {
            panic!("this test needs root (SYSFLOW_TEST_REQUIRE_ROOT=1)");
        }
        eprintln!("skipped: loading BPF programs needs root");
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let w = format!("{}/", out.path().display());
    let cli =
        Cli::try_parse_from(["sysporter", "-w", &w, "-e", "cli-test", "-G", "300"]).expect("flags");
    let runner = std::thread::spawn(move || sysflow_collector::run(cli.args));
    let t = Instant::now();
    let file = loop {
        if let Some(e) = std::fs::read_dir(out.path())
            .expect("read_dir")
            .flatten()
            .next()
        {
            break e.path();
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the collector did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // the collector ignores its own process: write from a child
    let target = std::fs::canonicalize(work.path())
        .expect("canon")
        .join("held-open");
    let mut child = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            &format!("exec 3>{}; printf abcd >&3; sleep 30", target.display()),
        ])
        .spawn()
        .expect("sh");
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: raising a signal whose handler `run` installed (it only sets an atomic flag).
    unsafe { libc::raise(libc::SIGTERM) };
    let res = runner.join().expect("runner thread");
    let _ = child.kill();
    let _ = child.wait();
    res.expect("run");

    let recs: Vec<Record> = TraceReader::open(&file)
        .expect("open trace")
        .collect::<Result<_, _>>()
        .expect("decode");
    match recs.first() {
        Some(Record::Header(h)) => {
            assert_eq!((h.version, h.exporter.as_str()), (5, "cli-test"));
            assert_eq!(h.filename, file.to_string_lossy());
        }
        other => panic!("first record is not a header: {other:?}"),
    }
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    assert!(
        name.parse::<i64>().is_ok(),
        "dir/ output is named by epoch: {name}"
    );
    let foid = Foid::compute("", &target.to_string_lossy());
    let flows: Vec<_> = recs
        .iter()
        .filter_map(|r| match r {
            Record::FileFlow(f) if f.file_oid == foid => Some(f.clone()),
            _ => None,
        })
        .collect();
    // the shell opens fd 3, then dup2s it to fd 1 for printf: the open flow on fd 3 and a write flow on fd 1 (dup'd
    // fds are not tracked as the same flow), both still open at SIGTERM
    assert_eq!(flows.len(), 2, "{flows:?}");
    let opened = flows.iter().find(|f| f.fd == 3).expect("fd 3");
    assert_eq!(opened.op_flags, op::OPEN | op::TRUNCATE);
    // O_WRONLY|O_CREAT|O_TRUNC, created by this open
    assert_eq!(opened.open_flags, 2 | 4 | 256 | (1 << 14));
    let written = flows.iter().find(|f| f.fd == 1).expect("fd 1");
    assert_eq!(written.op_flags, op::WRITE_SEND | op::TRUNCATE);
    assert_eq!(
        (
            written.num_w_send_ops,
            written.num_w_send_bytes,
            written.open_flags
        ),
        (1, 4, 0)
    );
    let _ = std::io::stderr().flush();
}
