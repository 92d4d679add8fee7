//! Real SysFlow traces written by `TraceWriter` while the exporter runs, read back from the bucket
//! record by record with `TraceReader`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use sysflow_export::{object_key, Exporter, S3Source};
use sysflow_format::reader::TraceReader;
use sysflow_format::writer::{TraceWriter, WriterOptions};
use sysflow_format::Record;

/// Records of a real trace from ../shared, or a small synthetic set.
fn source_records() -> Vec<Record> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    for name in [
        "synthetic/all_types_v5.deflate.sf",
        "synthetic/all_types_v5.null.sf",
    ] {
        let p = root.join(name);
        if p.is_file() {
            if let Ok(r) = TraceReader::open(&p) {
                let recs: Vec<Record> = r.filter_map(Result::ok).collect();
                if recs.len() > 2 {
                    return recs;
                }
            }
        }
    }
    eprintln!("note: ../shared/traces absent; writing synthetic header-only records");
    (0..50)
        .map(|i| {
            Record::Header(sysflow_format::Header {
                version: 5,
                exporter: format!("host-{i}"),
                ..Default::default()
            })
        })
        .collect()
}

#[test]
fn traces_written_during_export_read_back_record_for_record() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let cfg = export_config(server.config(), &dir, "records");
    let (meta, prefix) = (cfg.meta.clone(), cfg.prefix.clone());
    let recs = source_records();

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let exporter = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(Exporter::new(cfg).unwrap().run_until(async move {
            let _ = rx.await;
        }))
    });

    // Collector stand-in: each file gets every record, written a few at a time with flushes (so the
    // file grows on disk while open), then finished; the next epoch file is opened afterwards.
    let mut written: Vec<(String, Vec<Record>)> = Vec::new();
    for i in 0..5u64 {
        let name = (1_710_000_000 + i * 300).to_string();
        let file = std::fs::File::create(dir.join(&name)).unwrap();
        let opts = WriterOptions {
            block_bytes: 512,
            ..WriterOptions::default()
        };
        let mut w = TraceWriter::new(file, opts).unwrap();
        for (n, r) in recs.iter().enumerate() {
            w.write(r).unwrap();
            if n % 7 == 6 {
                w.flush().unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        w.finish().unwrap();
        written.push((name, recs.clone()));
    }
    let newest = written.last().unwrap().0.clone();
    wait_for("finished traces uploaded", Duration::from_secs(60), || {
        local_files(&dir) == vec![newest.clone()]
    });
    tx.send(()).unwrap();
    let stats = exporter.join().unwrap();
    assert_eq!(stats.uploaded_files, 4, "{stats:?}");

    let src = S3Source::open(&server.config(), "records").unwrap();
    let objs = src.list().unwrap();
    let expected_keys: Vec<String> = written[..4]
        .iter()
        .map(|(n, _)| object_key(&prefix, &meta, n))
        .collect();
    assert_eq!(
        objs.iter().map(|o| o.key.clone()).collect::<Vec<_>>(),
        expected_keys
    );
    for (obj, (name, want)) in objs.iter().zip(&written) {
        // streamed straight from the store into the trace reader
        let reader = TraceReader::new(src.reader(obj).unwrap()).unwrap();
        let got: Vec<Record> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(&got, want, "records of {name}");
    }
    // the file still being "written" (newest) reads back locally, untouched
    let local: Vec<Record> = TraceReader::open(dir.join(&newest))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(local, recs);
}
