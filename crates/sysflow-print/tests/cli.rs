//! The `sysprint` command line: field selection, text-table options, files, directories and errors, compared with
//! fixtures produced by the reference `sysprint` 0.6.1 (tabulate 0.9.0) on `synthetic/all_types_v5.null.sf`.

mod common;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use common::{count_events, gunzip, parse_json, shared_dir, Json};
use sysflow_print::cli::RunEnv;
use sysflow_print::{run_with, RunStatus, SysprintArgs};

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs sysprint with `args`; returns stdout, stderr and the status (or the error text).
fn sysprint(args: &[&str], cols: usize) -> (Vec<u8>, String, Result<RunStatus, String>) {
    let args =
        SysprintArgs::try_parse_from(std::iter::once("sysprint").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = run_with(
        &args,
        &mut RunEnv {
            stdout: &mut out,
            stderr: &mut err,
            term_cols: cols,
        },
    )
    .map_err(|e| format!("{e:#}"));
    (out, String::from_utf8_lossy(&err).into_owned(), status)
}

fn synthetic(shared: &Path) -> String {
    shared
        .join("traces/synthetic/all_types_v5.null.sf")
        .to_string_lossy()
        .into_owned()
}

/// A fresh scratch directory under the system temp dir.
fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "sysflow-print-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    d
}

fn assert_text_eq(name: &str, actual: &[u8], expected: &[u8]) {
    if actual != expected {
        panic!(
            "{name}: output differs from the reference\n--- expected\n{}\n--- actual\n{}",
            String::from_utf8_lossy(expected),
            String::from_utf8_lossy(actual)
        );
    }
}

#[test]
fn list_prints_every_field_like_the_reference() {
    let (out, _, status) = sysprint(&["-l"], 80);
    assert_eq!(status.map(|s| s.exit_code()), Ok(0));
    assert_text_eq("-l", &out, &fixture("list.txt"));
}

#[test]
fn version_prints_our_version() {
    let (out, _, status) = sysprint(&["-v"], 80);
    assert!(status.is_ok());
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with(env!("CARGO_PKG_VERSION")), "{text}");
}

#[test]
fn field_selection_matches_the_reference() {
    let Some(shared) = shared_dir() else { return };
    let t = synthetic(&shared);
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "-o",
                "json",
                "-c",
                "ts,proc.exe,type,proc.pid,unknown.key,pod.hostip,tags",
            ],
            "json_fields.txt",
        ),
        (
            &[
                "-o",
                "flatjson",
                "-c",
                "ts,proc.exe,type,proc.pid,proc.exe,unknown.key",
            ],
            "flatjson_fields.txt",
        ),
        (&["-A"], "str_all.txt"),
        (&["-K"], "str_k8s_events.txt"),
        (&["-k"], "str_k8s.txt"),
        (
            &["-c", "proc.env,pod.hostip,tags,ret,proc.tty"],
            "str_fields.txt",
        ),
    ];
    for (args, fix) in cases {
        let mut a = args.to_vec();
        a.push(&t);
        let (out, err, status) = sysprint(&a, 80);
        assert_eq!(status.map(|s| s.exit_code()), Ok(0), "{args:?}: {err}");
        assert_text_eq(&format!("{args:?}"), &out, &fixture(fix));
    }
}

#[test]
fn terminal_width_scales_text_columns_like_the_reference() {
    let Some(shared) = shared_dir() else { return };
    let t = synthetic(&shared);
    for cols in [120, 200] {
        let (out, _, status) = sysprint(&[&t], cols);
        assert!(status.is_ok());
        assert_text_eq(
            &format!("{cols} columns"),
            &out,
            &fixture(&format!("str_{cols}cols.txt")),
        );
    }
}

#[test]
fn output_files_match_the_reference() {
    let Some(shared) = shared_dir() else { return };
    let t = synthetic(&shared);
    let dir = scratch_dir("files");
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &[
                "-o",
                "csv",
                "-c",
                "res,proc.args,pod.services,tags,proc.tty",
            ],
            "out.csv",
            "csv_fields.csv",
        ),
        (
            &["-o", "csv", "-c", "file.path"],
            "one.csv",
            "csv_one_field.csv",
        ),
        (&["-o", "json"], "out.json", "json_array.json"),
        (
            &["-o", "flatjson", "-c", "type,ts"],
            "flat.json",
            "flatjson_array.json",
        ),
    ];
    for (args, out_name, fix) in cases {
        let out_path = dir.join(out_name).to_string_lossy().into_owned();
        let mut a = args.to_vec();
        a.extend(["-w", &out_path, &t]);
        let (stdout, err, status) = sysprint(&a, 80);
        assert_eq!(status.map(|s| s.exit_code()), Ok(0), "{args:?}: {err}");
        assert!(stdout.is_empty());
        let written = std::fs::read(&out_path).unwrap_or_else(|e| panic!("{out_path}: {e}"));
        assert_text_eq(&format!("{args:?}"), &written, &fixture(fix));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn several_traces_go_to_one_output_file() {
    let Some(shared) = shared_dir() else { return };
    let a = shared.join("traces/synthetic/all_types_v5.null.sf");
    let b = shared.join("traces/sf-processor/resources/traces/httpd.sf");
    let dir = scratch_dir("multi");
    let json = dir.join("all.json");
    let csv = dir.join("all.csv");
    let (pa, pb) = (
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    );
    let total = (count_events(&a) + count_events(&b)) as usize;

    let (_, err, status) = sysprint(
        &["-o", "flatjson", "-w", &json.to_string_lossy(), &pa, &pb],
        80,
    );
    assert_eq!(
        status.map(|s| (s.exit_code(), s.traces, s.records)),
        Ok((0, 2, total as u64)),
        "{err}"
    );
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}"));
    match parse_json(&text) {
        Ok(Json::Arr(v)) => assert_eq!(v.len(), total),
        other => panic!("not a JSON array: {other:?}"),
    }
    // The array is `json.dump(list)`: the JSON Lines records joined with ", ".
    let lines_a = String::from_utf8_lossy(&gunzip(
        &shared.join("golden/synthetic/all_types_v5.null.sf.flatjson.gz"),
    ))
    .lines()
    .map(str::to_string)
    .collect::<Vec<_>>();
    assert!(text.starts_with(&format!("[{}, ", lines_a.join(", "))));

    let (_, err, status) = sysprint(&["-o", "csv", "-w", &csv.to_string_lossy(), &pa, &pb], 80);
    assert_eq!(status.map(|s| s.exit_code()), Ok(0), "{err}");
    let text = std::fs::read(&csv).unwrap_or_else(|e| panic!("{e}"));
    let golden_a = gunzip(&shared.join("golden/synthetic/all_types_v5.null.sf.csv.gz"));
    let golden_b = gunzip(&shared.join("golden/sf-processor/resources/traces/httpd.sf.csv.gz"));
    let header_len = golden_b
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(0, |p| p + 2);
    let mut expected = golden_a;
    expected.extend_from_slice(&golden_b[header_len..]);
    assert_text_eq("csv of two traces", &text, &expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn directories_print_their_files_in_digit_order() {
    let Some(shared) = shared_dir() else { return };
    let dir = scratch_dir("dir");
    let src = shared.join("traces/sf-processor/resources/traces");
    // Named so that the digit order (3 < 20 < 100) differs from the name order. Like the reference, the digits of
    // the whole path count: "nodigits" has only those of the directory, so it comes first.
    for (from, to) in [
        ("httpd.sf", "mon.20"),
        ("tcp.sf", "mon.100"),
        ("shellshock.sf", "mon.3"),
        ("httpd.sf", "nodigits"),
    ] {
        std::fs::copy(src.join(from), dir.join(to)).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::create_dir(dir.join("sub.5")).unwrap_or_else(|e| panic!("{e}"));
    let (out, err, status) = sysprint(
        &[
            "-o",
            "flatjson",
            "-c",
            "filename,ts_uts",
            &dir.to_string_lossy(),
        ],
        80,
    );
    assert_eq!(
        status.map(|s| (s.exit_code(), s.traces)),
        Ok((0, 4)),
        "{err}"
    );
    let mut expected = Vec::new();
    for f in ["httpd.sf", "shellshock.sf", "httpd.sf", "tcp.sf"] {
        let (o, _, _) = sysprint(
            &[
                "-o",
                "flatjson",
                "-c",
                "filename,ts_uts",
                &src.join(f).to_string_lossy(),
            ],
            80,
        );
        expected.extend(o);
    }
    assert_text_eq("directory", &out, &expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_reported_and_the_other_files_still_print() {
    let Some(shared) = shared_dir() else { return };
    let dir = scratch_dir("errors");
    let good = shared.join("traces/sf-processor/resources/traces/httpd.sf");
    let src = shared.join("traces/sf-processor/resources/traces/1621959914");
    let all = count_events(&src);
    let bytes = std::fs::read(&src).unwrap_or_else(|e| panic!("{e}"));
    // A truncated copy, and a copy with garbage in the middle of a block.
    let truncated = dir.join("truncated.sf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    let mut garbled = bytes.clone();
    let mid = garbled.len() / 2;
    garbled[mid..mid + 35].copy_from_slice(b"GARBAGEGARBAGEGARBAGEGARBAGEGARBAGE");
    let corrupt = dir.join("corrupt.sf");
    std::fs::write(&corrupt, &garbled).unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.join("missing.sf");
    let paths = [&missing, &truncated, &corrupt, &good].map(|p| p.to_string_lossy().into_owned());
    let mut args = vec!["-o", "flatjson", "-c", "filename"];
    args.extend(paths.iter().map(String::as_str));
    let (out, err, status) = sysprint(&args, 80);
    let status = status.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.exit_code(), 1, "{err}");
    assert_eq!(status.errors, 3, "{err}");
    assert_eq!(status.traces, 3, "{err}");
    let msgs: Vec<&str> = err.lines().collect();
    assert!(msgs[0].contains("missing.sf"), "{err}");
    assert!(
        msgs[1].contains("truncated.sf") && msgs[1].contains("byte offset"),
        "{err}"
    );
    assert!(
        msgs[2].contains("corrupt.sf") && msgs[2].contains("byte offset"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out);
    let count = |name: &str| text.lines().filter(|l| l.contains(name)).count() as u64;
    // The damaged files print the records before the damage (and, for the corrupt one, after the next sync
    // marker); the good file prints everything.
    let (t, c) = (
        count("\"/mnt/data/1621959914\""),
        text.lines().count() as u64,
    );
    assert!(t > all / 3 && t < 2 * all, "{t} of {all}");
    assert_eq!(c - t, count_events(&good), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn text_mode_refuses_fields_without_a_column() {
    let Some(shared) = shared_dir() else { return };
    let (_, _, status) = sysprint(&["-c", "proc.pid,proc.name", &synthetic(&shared)], 80);
    let err = status.err().unwrap_or_default();
    assert!(err.contains("proc.name"), "{err}");
}

#[test]
fn filters_select_the_records_the_reference_selects() {
    let Some(shared) = shared_dir() else { return };
    let big = shared
        .join("traces/sf-apis/pynb/data/attacks/express/mon.1531776742.sf")
        .to_string_lossy()
        .into_owned();
    let cases: &[(&str, &str, &str)] = &[
        (
            "net.dport = 53 or net.dport = 443",
            "type,ts_uts,proc.exe,res",
            "filter_net.txt",
        ),
        (
            "proc.aname pmatch (node) and type in (PE, FE)",
            "type,ts_uts,proc.pid",
            "filter_aname.txt",
        ),
        (
            "file.path startswith /etc and not proc.exe contains bash",
            "type,ts_uts,file.path",
            "filter_etc.txt",
        ),
    ];
    for (expr, fields, fix) in cases {
        let (out, err, status) = sysprint(&["-o", "flatjson", "-c", fields, "-f", expr, &big], 80);
        assert_eq!(status.map(|s| s.exit_code()), Ok(0), "{expr}: {err}");
        assert_text_eq(expr, &out, &fixture(fix));
    }
    // Text mode: the row index counts the selected records only.
    let (out, _, status) = sysprint(
        &["-c", "proc.exe,res", "-f", "type = FE", &synthetic(&shared)],
        80,
    );
    assert!(status.is_ok());
    assert_text_eq("type = FE", &out, &fixture("str_filter.txt"));
}

#[test]
fn invalid_filters_fail_before_printing() {
    let Some(shared) = shared_dir() else { return };
    let (out, _, status) = sysprint(&["-f", "type = PE and", &synthetic(&shared)], 80);
    let err = status.err().unwrap_or_default();
    assert!(err.contains("type = PE and"), "{err}");
    assert!(out.is_empty());
}

#[test]
fn s3_buckets_print_like_local_files() {
    let Some(shared) = shared_dir() else { return };
    let root = scratch_dir("s3");
    let Some(server) = common::S3Server::start(&root) else {
        return;
    };
    let bucket = root.join("traces");
    std::fs::create_dir_all(bucket.join("node1")).unwrap_or_else(|e| panic!("{e}"));
    let src = shared.join("traces/sf-processor/resources/traces");
    // Listed in key order, like the reference's bucket listing.
    for (from, key) in [
        ("tcp.sf", "a.sf"),
        ("httpd.sf", "node1/b.sf"),
        ("shellshock.sf", "c.sf"),
    ] {
        std::fs::copy(src.join(from), bucket.join(key)).unwrap_or_else(|e| panic!("{e}"));
    }
    let port = server.port.to_string();
    let s3 = [
        "-i",
        "s3",
        "-e",
        "127.0.0.1",
        "-p",
        &port,
        "--secure",
        "false",
        "-a",
        common::S3_ACCESS,
        "-s",
        common::S3_SECRET,
    ];
    let mut args = s3.to_vec();
    args.extend(["-o", "json", "traces"]);
    let (out, err, status) = sysprint(&args, 80);
    assert_eq!(
        status.map(|s| (s.exit_code(), s.traces)),
        Ok((0, 3)),
        "{err}"
    );
    let mut expected = Vec::new();
    for f in ["tcp.sf", "shellshock.sf", "httpd.sf"] {
        expected.extend(sysprint(&["-o", "json", &src.join(f).to_string_lossy()], 80).0);
    }
    assert_text_eq("bucket", &out, &expected);

    let mut args = s3.to_vec();
    args.push("no-such-bucket");
    let (out, err, status) = sysprint(&args, 80);
    assert_eq!(status.map(|s| s.exit_code()), Ok(1));
    assert!(
        err.contains("Bucket no-such-bucket does not exist."),
        "{err}"
    );
    assert!(out.is_empty());
    drop(server);
    let _ = std::fs::remove_dir_all(&root);
}

/// A writer whose reader has gone away.
struct ClosedPipe;

impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let Some(shared) = shared_dir() else { return };
    let big = shared.join("traces/sf-apis/pynb/data/attacks/express/mon.1531776742.sf");
    let args = SysprintArgs::try_parse_from(["sysprint", "-o", "json", &big.to_string_lossy()])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut err = Vec::new();
    let status = run_with(
        &args,
        &mut RunEnv {
            stdout: &mut ClosedPipe,
            stderr: &mut err,
            term_cols: 80,
        },
    );
    let status = status.unwrap_or_else(|e| panic!("{e:#}"));
    assert!(status.broken_pipe);
    assert_eq!(status.exit_code(), 0);
    assert!(err.is_empty());
}

#[test]
fn several_threads_print_what_one_thread_prints() {
    let Some(shared) = shared_dir() else { return };
    let t = |rel: &str| {
        shared
            .join("traces")
            .join(rel)
            .to_string_lossy()
            .into_owned()
    };
    // Several traces (text tables restart per trace, the CSV header and the JSON array span them), one with more
    // than 2000 rows (several text tables), one empty after filtering, and a directory.
    let traces = [
        t("sf-apis/pynb/data/attacks/express/mon.1531776742.sf"),
        t("synthetic/all_types_v5.null.sf"),
        t("sf-processor/resources/traces/k8s_small.sf"),
        t("sf-processor/resources/traces"),
    ];
    let dir = scratch_dir("threads");
    let out = dir.join("out").to_string_lossy().into_owned();
    let cases: Vec<Vec<&str>> = vec![
        vec!["-o", "json"],
        vec!["-o", "flatjson"],
        vec!["-o", "str"],
        vec!["-o", "str", "-A"],
        vec!["-o", "str", "-f", "type = FF"],
        vec!["-o", "json", "-w", &out],
        vec!["-o", "flatjson", "-w", &out, "-f", "type = PE"],
        vec!["-o", "flatjson", "-w", &out, "-f", "type = nothing"],
        vec!["-o", "csv", "-w", &out],
        vec!["-o", "csv", "-w", &out, "-c", "ts,proc.exe,res"],
    ];
    for case in cases {
        let mut outputs = Vec::new();
        for threads in ["1", "2", "5"] {
            let mut args = case.clone();
            args.extend(["--threads", threads]);
            args.extend(traces.iter().map(String::as_str));
            let (stdout, err, status) = sysprint(&args, 100);
            let status = status.unwrap_or_else(|e| panic!("{case:?}: {e}"));
            let bytes = if case.contains(&"-w") {
                std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"))
            } else {
                stdout
            };
            outputs.push((threads, bytes, err, status.records));
        }
        let (_, one, one_err, one_n) = &outputs[0];
        assert!(!one.is_empty(), "{case:?}");
        for (threads, bytes, err, n) in &outputs[1..] {
            assert_eq!(
                (n, err),
                (one_n, one_err),
                "{case:?} with {threads} threads"
            );
            if bytes != one {
                let p = bytes.iter().zip(one).position(|(a, b)| a != b);
                panic!(
                    "{case:?}: {threads} threads print {} bytes, one thread {}; first difference at {p:?}",
                    bytes.len(),
                    one.len()
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
