//! Upload throughput against a local s3s-fs: many small files, a few large ones (multipart).
//! Run: `cargo test -p sysflow-export --release --test bench -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sysflow_export::{Exporter, UploadOptions};

/// `backlog`: the files exist before the exporter starts (as after a restart: each key is checked
/// with a HEAD first); otherwise they appear while it runs (steady state: PUT + confirming HEAD).
fn run_once(label: &str, files: usize, size: usize, upload: UploadOptions, backlog: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let mut cfg = export_config(server.config(), &dir, "bench");
    cfg.upload = upload;
    cfg.s3.timeout = Duration::from_secs(10);
    let early = (!backlog).then(|| Exporter::new(cfg.clone()).unwrap());
    std::thread::sleep(Duration::from_millis(20));
    for i in 0..files {
        std::fs::write(
            dir.join((1_700_000_000 + i).to_string()),
            payload(i as u64, size),
        )
        .unwrap();
    }
    std::fs::write(dir.join((1_700_000_000 + files).to_string()), b"current").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut ex = early.unwrap_or_else(|| Exporter::new(cfg).unwrap());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let t = Instant::now();
    assert!(rt.block_on(ex.run_cycle(&stop)), "{:?}", ex.stats());
    let secs = t.elapsed().as_secs_f64();
    let st = ex.stats();
    assert_eq!(st.uploaded_files as usize, files);
    let mb = st.uploaded_bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{label}: {files} files x {} KiB = {mb:.1} MiB in {secs:.2} s -> {:.1} files/s, {:.1} MiB/s",
        size / 1024,
        files as f64 / secs,
        mb / secs
    );
}

/// Raw `PUT`s of in-memory buffers through the same client: the store's own ceiling on this machine.
fn baseline(files: usize, size: usize) {
    use object_store::{path::Path, ObjectStoreExt};
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    std::fs::create_dir_all(tmp.path().join("s3/bench")).unwrap();
    let store = server.config().store("bench").unwrap();
    let data = bytes::Bytes::from(payload(7, size));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    rt.block_on(async {
        for i in 0..files {
            store
                .put(&Path::from(format!("raw/{i}")), data.clone().into())
                .await
                .unwrap();
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let mb = (files * size) as f64 / (1024.0 * 1024.0);
    println!(
        "baseline raw PUT (sequential, in memory): {files} x {} KiB in {secs:.2} s -> {:.1} files/s, {:.1} MiB/s",
        size / 1024,
        files as f64 / secs,
        mb / secs
    );
}

#[test]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
fn upload_throughput() {
    baseline(1000, 64 * 1024);
    baseline(4, 128 << 20);
    let default = UploadOptions::default;
    let single = UploadOptions {
        multipart_threshold: u64::MAX,
        ..UploadOptions::default()
    };
    run_once(
        "small files, steady state",
        1000,
        64 * 1024,
        default(),
        false,
    );
    run_once(
        "small files, backlog after restart",
        1000,
        64 * 1024,
        default(),
        true,
    );
    run_once(
        "1 MiB files, steady state",
        200,
        1024 * 1024,
        default(),
        false,
    );
    run_once(
        "large files, multipart (8 MiB parts, 4 in flight)",
        4,
        128 << 20,
        default(),
        false,
    );
    run_once("large files, single PUT", 4, 128 << 20, single, false);
}
