//! End-to-end tests against a real S3-compatible server (s3s-fs) started on loopback.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::*;
use sysflow_export::{object_key, Exporter, S3Source};

/// Runs an exporter on its own runtime thread until the returned sender is dropped/fired.
fn spawn_exporter(
    cfg: sysflow_export::ExportConfig,
) -> (
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<sysflow_export::ExportStats>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let ex = Exporter::new(cfg).unwrap();
            ex.run_until(async move {
                let _ = rx.await;
            })
            .await
        })
    });
    (tx, h)
}

#[test]
fn rotated_files_are_uploaded_while_the_writer_keeps_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let cfg = export_config(server.config(), &dir, "sysflow");
    let meta = cfg.meta.clone();
    let prefix = cfg.prefix.clone();
    assert!(
        !tmp.path().join("s3/sysflow").exists(),
        "bucket must not pre-exist"
    );

    let sources: Vec<Vec<u8>> = shared_traces(6).unwrap_or_else(|| {
        (0..6)
            .map(|i| payload(i, 200_000 + i as usize * 1000))
            .collect()
    });
    let (stop, handle) = spawn_exporter(cfg);

    // The collector stand-in: writes each file in slow chunks, keeps it open, rotates to a new epoch name.
    let current: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let base_epoch = 1_700_000_000u64;
    let mut violations = Vec::new();
    for (i, data) in sources.iter().enumerate() {
        let name = (base_epoch + i as u64 * 60).to_string();
        let mut f = {
            let mut cur = current.lock().unwrap();
            *cur = Some(name.clone());
            std::fs::File::create(dir.join(&name)).unwrap()
        };
        for chunk in data.chunks(data.len().div_ceil(5).max(1)) {
            f.write_all(chunk).unwrap();
            f.flush().unwrap();
            std::thread::sleep(Duration::from_millis(40));
            // While this file is being written, its object must not exist.
            let key = object_key(&prefix, &meta, &name);
            let cur = current.lock().unwrap();
            if server.objects_on_disk("sysflow").contains_key(&key) {
                violations.push(format!("{key} visible while {cur:?} was being written"));
            }
        }
        drop(f);
        expected.insert(object_key(&prefix, &meta, &name), data.clone());
    }
    let last_name = current.lock().unwrap().clone().unwrap();
    let last_key = object_key(&prefix, &meta, &last_name);
    let last_data = expected.remove(&last_key).unwrap();

    wait_for(
        "all rotated files uploaded",
        Duration::from_secs(60),
        || local_files(&dir) == vec![last_name.clone()],
    );
    // The newest file is never uploaded (no idle rule configured) even though the writer is idle.
    std::thread::sleep(Duration::from_millis(300));
    stop.send(()).unwrap();
    let stats = handle.join().unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(local_files(&dir), vec![last_name.clone()]);
    assert_eq!(std::fs::read(dir.join(&last_name)).unwrap(), last_data);
    assert_eq!(stats.uploaded_files as usize, expected.len(), "{stats:?}");
    assert_eq!(stats.dropped_files, 0);

    // Exactly the finished files are in the bucket, byte for byte, under the reference names.
    let on_disk = server.objects_on_disk("sysflow");
    assert_eq!(
        on_disk.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (k, v) in &expected {
        assert_eq!(&on_disk[k], v, "content of {k}");
        assert!(
            k.starts_with("acct/sol/env/cluster-1/node-a/10.1.2.3/2023/11/"),
            "{k}"
        );
        assert!(k.ends_with(".10.1.2.3.sf"), "{k}");
    }

    // The node/pod metadata went along as x-amz-meta-* (s3s-fs keeps it in hidden JSON files).
    let meta_json: String = std::fs::read_dir(tmp.path().join("s3"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".metadata.json"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    for value in [
        "node-a",
        "10.1.2.3",
        "sf-exporter-xyz",
        "10.244.0.7",
        "sysflow",
        "monitoring",
        "0b5e3c9a-uuid",
    ] {
        assert!(
            meta_json.contains(value),
            "metadata {value} missing in {meta_json}"
        );
    }
    assert!(
        meta_json.contains("poduuid") && meta_json.contains("podservice"),
        "{meta_json}"
    );

    // Read back through the S3 API, in reference order.
    let src = S3Source::open(&server.config(), "sysflow/acct/sol/env").unwrap();
    assert!(src.bucket_exists().unwrap());
    let objs = src.list().unwrap();
    let keys: Vec<&str> = objs.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        expected.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for o in &objs {
        assert_eq!(&src.read_all(o).unwrap(), &expected[&o.key]);
    }
    let missing = S3Source::open(&server.config(), "nosuchbucket").unwrap();
    assert!(!missing.bucket_exists().unwrap());
}

#[test]
fn server_stopped_mid_run_and_restarted_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let cfg = export_config(server.config(), &dir, "traces");
    let (meta, prefix) = (cfg.meta.clone(), cfg.prefix.clone());
    let (stop, handle) = spawn_exporter(cfg);

    let mut expected = BTreeMap::new();
    let write = |i: u64, expected: &mut BTreeMap<String, Vec<u8>>| {
        let name = (1_700_000_000 + i).to_string();
        let data = payload(i, 50_000 + (i as usize % 7) * 3000);
        std::fs::write(dir.join(&name), &data).unwrap();
        expected.insert(object_key(&prefix, &meta, &name), data);
    };
    for i in 0..5 {
        write(i, &mut expected);
        std::thread::sleep(Duration::from_millis(30));
    }
    wait_for("first batch uploaded", Duration::from_secs(30), || {
        server.objects_on_disk("traces").len() == 4 && local_files(&dir).len() == 1
    });

    server.stop();
    for i in 5..15 {
        write(i, &mut expected);
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    // Store down: every file written during the outage is still here.
    assert_eq!(local_files(&dir).len(), 11, "{:?}", local_files(&dir));

    server.restart();
    for i in 15..20 {
        write(i, &mut expected);
        std::thread::sleep(Duration::from_millis(30));
    }
    let newest = (1_700_000_000u64 + 19).to_string();
    wait_for(
        "backlog uploaded after restart",
        Duration::from_secs(60),
        || local_files(&dir) == vec![newest.clone()],
    );
    stop.send(()).unwrap();
    let stats = handle.join().unwrap();
    assert!(
        stats.failed_cycles > 0,
        "the outage must have been noticed: {stats:?}"
    );
    assert_eq!(stats.dropped_files, 0);

    let newest_key = object_key(&prefix, &meta, &newest);
    expected.remove(&newest_key);
    let on_disk = server.objects_on_disk("traces");
    assert_eq!(
        on_disk.len(),
        expected.len(),
        "no object lost or duplicated"
    );
    for (k, v) in &expected {
        assert_eq!(on_disk.get(k), Some(v), "object {k}");
    }
    assert_eq!(
        (stats.uploaded_files + stats.already_present) as usize,
        expected.len(),
        "{stats:?}"
    );
}

#[test]
fn retention_bounds_disk_during_a_long_outage() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    server.stop();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let mut cfg = export_config(server.config(), &dir, "retained");
    cfg.retention = Duration::from_secs(600);
    let (meta, prefix) = (cfg.meta.clone(), cfg.prefix.clone());
    // 6 old files (20 min) and 4 recent ones (older than settle but younger than retention), plus the newest.
    for i in 0..11u64 {
        let p = dir.join((1_700_000_000 + i).to_string());
        std::fs::write(&p, payload(i, 10_000)).unwrap();
        let age = if i < 6 { 1200 } else { 60 };
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age))
            .unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ex = Exporter::new(cfg).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let ok = rt.block_on(ex.run_cycle(&stop));
    assert!(!ok);
    assert_eq!(ex.stats().dropped_files, 6, "{:?}", ex.stats());
    assert_eq!(ex.stats().dropped_bytes, 60_000);
    let left = local_files(&dir);
    assert_eq!(
        left,
        (6..11)
            .map(|i| (1_700_000_000u64 + i).to_string())
            .collect::<Vec<_>>()
    );
    // Backoff grows while the store stays down.
    let d1 = ex.next_delay();
    rt.block_on(ex.run_cycle(&stop));
    assert!(
        ex.next_delay() > d1.mul_f64(0.6),
        "backoff should not shrink while failing"
    );
    assert_eq!(ex.stats().dropped_files, 6, "recent files are kept");

    // A connection error names the endpoint, never the (presigned) URL with the key id.
    drop(rt);
    let src = S3Source::open(&server.config(), "retained").unwrap();
    let err = format!("{:#}", src.bucket_exists().unwrap_err());
    assert!(
        err.contains("cannot reach object store") && !err.contains(ACCESS),
        "{err}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    server.restart();
    assert!(rt.block_on(ex.run_cycle(&stop)));
    assert_eq!(local_files(&dir), vec![(1_700_000_010u64).to_string()]);
    let on_disk = server.objects_on_disk("retained");
    assert_eq!(on_disk.len(), 4);
    for i in 6..10u64 {
        let key = object_key(&prefix, &meta, &(1_700_000_000 + i).to_string());
        assert_eq!(on_disk.get(&key), Some(&payload(i, 10_000)), "{key}");
    }
    assert_eq!(
        ex.next_delay(),
        Duration::from_millis(50),
        "backoff resets after success"
    );
}

#[test]
fn large_files_use_multipart_and_read_back_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let cfg = export_config(server.config(), &dir, "big");
    let (meta, prefix) = (cfg.meta.clone(), cfg.prefix.clone());
    let big = payload(42, 17 * 1024 * 1024 + 12345); // 4 parts of 5 MiB (last one short)
    let small = payload(43, 1000);
    std::fs::write(dir.join("1700000100"), &big).unwrap();
    std::fs::write(dir.join("1700000200"), &small).unwrap();
    std::fs::write(dir.join("1700000300"), b"current").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut ex = Exporter::new(cfg).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    assert!(rt.block_on(ex.run_cycle(&stop)), "{:?}", ex.stats());
    assert_eq!(ex.stats().uploaded_files, 2);
    drop(rt);

    let src = S3Source::open(&server.config(), "big").unwrap();
    let objs = src.list().unwrap();
    assert_eq!(objs.len(), 2);
    let big_key = object_key(&prefix, &meta, "1700000100");
    assert_eq!(objs[0].key, big_key);
    assert_eq!(objs[0].size, big.len() as u64);
    // streamed read in odd-sized pieces
    let mut r = src.reader(&objs[0]).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 7777];
    loop {
        let n = std::io::Read::read(&mut r, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == big, "multipart object differs from the local file");
    let out = tmp.path().join("dl.sf");
    assert_eq!(src.download(&objs[1], &out).unwrap(), small.len() as u64);
    assert_eq!(std::fs::read(&out).unwrap(), small);

    // Re-exporting identical files (as after a crash between confirmation and delete) sends nothing:
    // the single-part MD5 and the multipart MD5-of-parts both match what the store reports.
    for (name, data) in [("1700000100", &big), ("1700000200", &small)] {
        std::fs::write(dir.join(name), data).unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join(name))
            .unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        drop(f); // a handle open for writing would (rightly) hold the file back
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(ex.run_cycle(&stop)));
    assert_eq!(ex.stats().already_present, 2, "{:?}", ex.stats());
    assert_eq!(ex.stats().uploaded_files, 2, "{:?}", ex.stats());
    // A changed file under an existing key is uploaded again (overwrite), not skipped.
    let changed = payload(44, 1000);
    std::fs::write(dir.join("1700000200"), &changed).unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(dir.join("1700000200"))
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(f);
    assert!(rt.block_on(ex.run_cycle(&stop)));
    assert_eq!(ex.stats().uploaded_files, 3, "{:?}", ex.stats());
    let key = object_key(&prefix, &meta, "1700000200");
    assert_eq!(server.objects_on_disk("big").get(&key), Some(&changed));
}

#[test]
fn wrong_credentials_keep_files_and_never_leak_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let mut s3 = server.config();
    let bogus = "WRONG-secret-value-zz";
    s3.credentials.as_mut().unwrap().secret_key = sysflow_export::Secret::new(bogus);
    let cfg = export_config(s3.clone(), &dir, "denied");
    for i in 0..3u64 {
        std::fs::write(dir.join((1_700_000_000 + i).to_string()), payload(i, 100)).unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ex = Exporter::new(cfg.clone()).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    assert!(!rt.block_on(ex.run_cycle(&stop)));
    assert_eq!(local_files(&dir).len(), 3);
    assert!(server.objects_on_disk("denied").is_empty());
    let src = S3Source::open(&s3, "denied").unwrap();
    drop(rt);
    let err = format!("{:#}", src.bucket_exists().unwrap_err());
    assert!(!err.contains(bogus) && !err.contains(ACCESS), "{err}");
    assert!(!format!("{cfg:?}").contains(bogus));
}
