//! `sysflow export` as a separate process, killed with SIGKILL at arbitrary moments and restarted:
//! no trace is lost, nothing partial or wrong is ever visible under a final object name, and SIGTERM
//! stops it cleanly.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use common::*;
use sysflow_export::{object_key, ExportArgs, NodeMetadata};

const CHILD_ENV: &str = "SYSFLOW_EXPORT_CHILD_ARGS";

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    args: ExportArgs,
}

/// Not a test: the exporter process that `killed_at_any_moment_*` starts (by re-running this test
/// binary with `--ignored --exact`). Without its environment variable it does nothing.
#[test]
#[ignore = "helper process for killed_at_any_moment_loses_nothing"]
fn exporter_child_process() {
    let Ok(raw) = std::env::var(CHILD_ENV) else {
        eprintln!("helper only: run by killed_at_any_moment_loses_nothing");
        return;
    };
    let argv =
        std::iter::once("sysflow-export".to_string()).chain(raw.split('\u{1f}').map(String::from));
    let cli = Cli::try_parse_from(argv).unwrap();
    sysflow_export::run(cli.args).unwrap();
}

fn spawn_child(port: u16, dir: &Path) -> Child {
    let args = [
        "--exporttype",
        "s3",
        "--s3endpoint",
        "127.0.0.1",
        "--s3port",
        &port.to_string(),
        "--secure",
        "false",
        "--s3bucket",
        "killed",
        "--s3location",
        "us-east-1",
        "--s3prefix",
        "pfx",
        "--dir",
        dir.to_str().unwrap(),
        "--scaninterval",
        "0.05",
        "--settle",
        "0",
        "--timeout",
        "2",
        "--multipartmb",
        "8",
        "--partmb",
        "5",
        "--nodename",
        "n1",
        "--nodeip",
        "192.168.0.9",
        "--log",
        "warn",
    ]
    .join("\u{1f}");
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "exporter_child_process",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, args)
        // keys from the environment (never on the command line), as in a container
        .env("S3_ACCESS_KEY", ACCESS)
        .env("S3_SECRET_KEY", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn killed_at_any_moment_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let meta = NodeMetadata {
        nodename: "n1".into(),
        nodeip: "192.168.0.9".into(),
        ..Default::default()
    };

    // 10 finished files (3 of them multipart-sized) and the newest one, still "open".
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut local: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..11u64 {
        let name = (1_720_000_000 + i * 60).to_string();
        let len = if i % 4 == 1 {
            12 * 1024 * 1024 + 77
        } else {
            300_000 + i as usize
        };
        let data = payload(1000 + i, len);
        std::fs::write(dir.join(&name), &data).unwrap();
        if i < 10 {
            let key = object_key("pfx", &meta, &name);
            local.insert(name, key.clone());
            expected.insert(key, data);
        }
    }

    // Local files are looked at before the bucket: a file gone locally must then be in the store.
    let check = |when: &str| {
        let present: Vec<bool> = local.keys().map(|name| dir.join(name).exists()).collect();
        let objs = server.objects_on_disk("killed");
        for (k, v) in &objs {
            let want = expected
                .get(k)
                .unwrap_or_else(|| panic!("{when}: unexpected object {k}"));
            assert!(
                v == want,
                "{when}: object {k} has {} bytes, not the file's {}",
                v.len(),
                want.len()
            );
        }
        for ((name, key), here) in local.iter().zip(present) {
            assert!(here || objs.contains_key(key), "{when}: {name} lost");
        }
        objs.len()
    };

    // Kill at pseudo-random moments (deterministic sequence), including mid-upload. The first runs are
    // short (the whole set uploads in ~0.4 s on a fast machine) and later ones longer, so that the exporter
    // is killed several times whatever the machine's speed and still makes progress between kills.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut window_ms = 40.0f64;
    let mut kills = 0;
    let mut progress = Vec::new();
    let start = Instant::now();
    while check("between kills") < expected.len()
        && kills < 30
        && start.elapsed() < Duration::from_secs(90)
    {
        let mut child = spawn_child(server.port, &dir);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(20 + x % window_ms as u64));
        window_ms = (window_ms * 1.4).min(1200.0);
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        let n = check(&format!("after kill {kills}"));
        progress.push(n);
    }
    eprintln!("objects in the store after each kill: {progress:?}");
    assert!(
        progress.last().is_some_and(|&n| n > 0),
        "restarted exporters must make progress between kills: {progress:?}"
    );
    assert!(
        kills >= 2,
        "the exporter must have been killed at least twice (was {kills})"
    );

    // Final run to completion, then a graceful stop with SIGTERM.
    let mut child = spawn_child(server.port, &dir);
    wait_for(
        "everything uploaded after restarts",
        Duration::from_secs(120),
        || check("final run") == expected.len(),
    );
    // The uploads may all have finished before this run: give it time to install its SIGTERM handler
    // (a signal before that ends it with the default action, which is not what is tested here).
    std::thread::sleep(Duration::from_secs(1));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "exporter did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exporter exit status after SIGTERM: {exit}");
    assert_eq!(check("end"), expected.len());
    assert_eq!(
        local_files(&dir),
        vec![(1_720_000_000u64 + 600).to_string()]
    );
    eprintln!("survived {kills} SIGKILLs");
}
