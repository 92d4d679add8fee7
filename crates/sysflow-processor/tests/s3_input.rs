//! The file driver reads traces from an S3 bucket (`s3://bucket/prefix`), against a real S3 server (s3s-fs) that
//! the test starts on loopback. Skips with a message when s3s-fs or `../shared` is absent.

mod common;

#[path = "../../sysflow-export/tests/common/mod.rs"]
#[allow(unused_imports)]
mod s3;

use common::*;
use sysflow_processor::pipeline::RunOptions;

#[test]
fn file_driver_reads_a_bucket() {
    let Some(res) = resources() else { return };
    let root = tempfile::tempdir().unwrap();
    // s3s-fs: a bucket is a directory under its root; objects under a prefix are files under subdirectories.
    let bucket = root.path().join("traces");
    std::fs::create_dir_all(bucket.join("node1")).unwrap();
    for name in ["httpd.sf", "shellshock.sf"] {
        std::fs::copy(trace(&res, name), bucket.join("node1").join(name)).unwrap();
    }
    let Some(server) = s3::S3Server::start(root.path()) else {
        return;
    };
    std::env::set_var("S3_ENDPOINT", "127.0.0.1");
    std::env::set_var("S3_PORT", server.port.to_string());
    std::env::set_var("S3_SECURE", "false");
    std::env::set_var("S3_ACCESS_KEY", s3::ACCESS);
    std::env::set_var("S3_SECRET_KEY", s3::SECRET);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let text = simple_pipeline(r#","mode":"enrich""#, "", &out);
    let report = run_file(
        build(dir.path(), &text, RunOptions::default()),
        std::path::Path::new("s3://traces/node1"),
    );
    // httpd.sf has 5 events and flows, shellshock.sf 56 (processor spec §3.4).
    assert_eq!(report.flattened, 61, "{report:?}");
    assert_eq!(json_lines(&out).len(), 61);
}
