//! Shared helpers: a real S3-compatible server (s3s-fs) on loopback, trace inputs, exporter setup.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sysflow_export::{
    Credentials, ExportConfig, FinishPolicy, NodeMetadata, S3Config, Secret, Target, UploadOptions,
};

pub const ACCESS: &str = "sfexport-test-ak";
pub const SECRET: &str = "sfexport-test-secret-0123456789";

/// Finds the s3s-fs binary (PATH, `$CARGO_HOME/bin`, `~/.cargo/bin`).
pub fn s3s_fs_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("S3S_FS")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
    {
        return Some(p);
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(h).join("bin"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(h).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
}

/// A running s3s-fs server (a bucket = a directory under `root`); killed on drop.
pub struct S3Server {
    pub bin: PathBuf,
    pub root: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind loopback")
}

impl S3Server {
    /// Starts s3s-fs, or returns `None` (after printing why) when it is not installed.
    pub fn start(root: &Path) -> Option<S3Server> {
        let Some(bin) = s3s_fs_binary() else {
            eprintln!(
                "SKIP: s3s-fs not found (install: cargo install s3s-fs --version 0.14.1 --features binary)"
            );
            return None;
        };
        let mut s = S3Server {
            bin,
            root: root.to_path_buf(),
            port: free_port(),
            child: None,
        };
        s.restart();
        Some(s)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// (Re)starts the server on the same port and root.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "server already running");
        std::fs::create_dir_all(&self.root).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut child = Command::new(&self.bin)
                .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
                .args(["--access-key", ACCESS, "--secret-key", SECRET])
                .arg(&self.root)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn s3s-fs");
            let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
            while Instant::now() < deadline {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                    self.child = Some(child);
                    return;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited (port still in TIME_WAIT?) — retry
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server (SIGKILL of the child we started).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: "127.0.0.1".into(),
            port: self.port,
            secure: false,
            region: "us-east-1".into(),
            credentials: Some(Credentials {
                access_key: ACCESS.into(),
                secret_key: Secret::new(SECRET),
                session_token: None,
            }),
            ca_cert: None,
            timeout: Duration::from_secs(2),
            max_retries: 1,
        }
    }

    /// The object files of `bucket` as stored on disk, relative keys → bytes.
    pub fn objects_on_disk(&self, bucket: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        let base = self.root.join(bucket);
        walk(&base, &base, &mut out);
        out
    }
}

fn walk(base: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // s3s-fs internal files (metadata, uploads in progress)
        }
        if p.is_dir() {
            walk(base, &p, out);
        } else if let Ok(data) = std::fs::read(&p) {
            out.insert(
                p.strip_prefix(base).unwrap().to_string_lossy().into_owned(),
                data,
            );
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An exporter configuration for tests: fast scans, short backoff.
pub fn export_config(s3: S3Config, dir: &Path, bucket: &str) -> ExportConfig {
    ExportConfig {
        s3,
        targets: vec![Target {
            dir: dir.to_path_buf(),
            bucket: bucket.into(),
        }],
        prefix: "acct/sol/env".into(),
        meta: NodeMetadata {
            nodename: "node-a".into(),
            nodeip: "10.1.2.3".into(),
            podname: "sf-exporter-xyz".into(),
            podip: "10.244.0.7".into(),
            podservice: "sysflow".into(),
            podns: "monitoring".into(),
            poduuid: "0b5e3c9a-uuid".into(),
            clusterid: "cluster-1".into(),
        },
        scan_interval: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        retention: Duration::from_secs(3600),
        finish: FinishPolicy {
            settle: Duration::ZERO,
            idle_finish: None,
            check_open_writers: true,
        },
        upload: UploadOptions {
            multipart_threshold: 8 << 20,
            part_size: 5 << 20,
            part_concurrency: 3,
        },
        file_concurrency: 3,
        shutdown_grace: Duration::from_secs(5),
    }
}

/// Real trace files from ../shared/traces (largest first), or `None` with a printed reason.
pub fn shared_traces(max: usize) -> Option<Vec<Vec<u8>>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    if !root.is_dir() {
        eprintln!(
            "note: {} absent; using generated trace-like payloads",
            root.display()
        );
        return None;
    }
    let mut files = Vec::new();
    collect_sf(&root, &mut files);
    files.sort_by_key(|(size, p)| (std::cmp::Reverse(*size), p.clone()));
    let v: Vec<Vec<u8>> = files
        .into_iter()
        .take(max)
        .filter_map(|(_, p)| std::fs::read(p).ok())
        .collect();
    (!v.is_empty()).then_some(v)
}

fn collect_sf(dir: &Path, out: &mut Vec<(u64, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_sf(&p, out);
        } else if p.extension().is_some_and(|x| x == "sf") {
            out.push((e.metadata().map(|m| m.len()).unwrap_or(0), p));
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), for payloads that must not compress or repeat.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Waits until `cond` holds, polling; panics with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Files in `dir` (names).
pub fn local_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
