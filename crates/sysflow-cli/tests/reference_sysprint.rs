//! Cross-check with the real reference: the Python `sysprint` (sysflow-tools 0.6.1) reads files our writer made —
//! every record type — and prints what ours prints.
//!
//! The reference is found through `SYSFLOW_REF_SYSPRINT` (path to its `sysprint` script). Without it the test skips
//! with a message, unless `SYSFLOW_REQUIRE_REFERENCE=1` (set by CI), which turns the skip into a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use sysflow_format::flags::{ipv4_from_octets, op, open};
use sysflow_format::*;

fn reference() -> Option<PathBuf> {
    match std::env::var_os("SYSFLOW_REF_SYSPRINT") {
        Some(p) if Path::new(&p).exists() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var_os("SYSFLOW_REQUIRE_REFERENCE").is_none(),
                "SYSFLOW_REQUIRE_REFERENCE is set but SYSFLOW_REF_SYSPRINT does not name the reference sysprint"
            );
            eprintln!("SKIP: set SYSFLOW_REF_SYSPRINT to the reference Python sysprint to run this cross-check");
            None
        }
    }
}

/// One record of every type the reference can read (all but NetworkEvent), linked like a collector's output.
fn every_type(with_network_event: bool) -> Vec<Record> {
    let p1 = Oid {
        create_ts: 1_700_000_000_100_000_000,
        hpid: 4242,
    };
    let p0 = Oid {
        create_ts: 1_699_999_999_000_000_000,
        hpid: 1,
    };
    let cid = "abcdef012345".to_string();
    let f1 = Foid::compute(&cid, "/etc/passwd");
    let f2 = Foid::compute(&cid, "/tmp/new name, \"quoted\"");
    let mut v = vec![
        Record::Header(Header {
            version: 5,
            exporter: "node-1".into(),
            ip: "10.1.2.3".into(),
            filename: "/mnt/data/1700000000".into(),
        }),
        Record::Pod(Box::new(Pod {
            ts: 1_700_000_000_000_000_000,
            id: "pod-1".into(),
            name: "web-0".into(),
            node_name: "node-1".into(),
            host_ip: vec![i64::from(ipv4_from_octets([192, 168, 59, 100]) as u32)],
            internal_ip: vec![i64::from(ipv4_from_octets([172, 17, 0, 5]) as u32)],
            namespace: "default".into(),
            restart_count: 3,
            labels: vec![("app".into(), "web".into())],
            selectors: vec![],
            services: vec![Service {
                name: "websvc".into(),
                id: "svc-1".into(),
                namespace: "default".into(),
                port_list: vec![Port {
                    port: 80,
                    target_port: 8080,
                    node_port: 30080,
                    proto: "TCP".into(),
                }],
                cluster_ip: vec![i64::from(ipv4_from_octets([10, 96, 0, 10]) as u32)],
            }],
        })),
        Record::Container(Box::new(Container {
            id: cid.clone(),
            name: "web".into(),
            image: "nginx:latest".into(),
            imageid: "sha256:0123".into(),
            container_type: ContainerType::Containerd,
            privileged: true,
            pod_id: Some("pod-1".into()),
        })),
        Record::Process(Box::new(Process {
            state: ObjectState::Created,
            oid: p0,
            poid: None,
            ts: p0.create_ts,
            exe: "/bin/bash".into(),
            exe_args: "-c run".into(),
            uid: 0,
            user_name: "root".into(),
            gid: 0,
            group_name: "root".into(),
            tty: true,
            container_id: None,
            entry: true,
            cwd: "/".into(),
            env: vec![
                "PATH=/bin".into(),
                "".into(),
                "=".into(),
                "TERM=\u{7f}x é".into(),
            ],
        })),
        Record::Process(Box::new(Process {
            state: ObjectState::Modified,
            oid: p1,
            poid: Some(p0),
            ts: p1.create_ts + 5,
            exe: "/usr/bin/curl".into(),
            exe_args: "http://x \"a, b\"".into(),
            uid: 1000,
            user_name: "app".into(),
            gid: 1000,
            group_name: "app".into(),
            tty: false,
            container_id: Some(cid.clone()),
            entry: false,
            cwd: "/home/app".into(),
            env: vec![],
        })),
        Record::File(File {
            state: ObjectState::Created,
            oid: f1,
            ts: 1_700_000_000_200_000_000,
            restype: 102,
            path: "/etc/passwd".into(),
            container_id: Some(cid.clone()),
        }),
        Record::File(File {
            state: ObjectState::Reup,
            oid: f2,
            ts: 1_700_000_000_200_000_001,
            restype: 100,
            path: "/tmp/new name, \"quoted\"".into(),
            container_id: Some(cid.clone()),
        }),
        Record::ProcessEvent(ProcessEvent {
            proc_oid: p1,
            ts: 1_700_000_000_300_000_000,
            tid: 4242,
            op_flags: op::EXEC,
            args: vec!["http://x".into()],
            ret: 0,
        }),
        Record::ProcessEvent(ProcessEvent {
            proc_oid: p1,
            ts: 1_700_000_000_300_000_500,
            tid: 4243,
            op_flags: op::SETUID,
            args: vec![],
            ret: -1,
        }),
        Record::FileFlow(FileFlow {
            proc_oid: p1,
            ts: 1_700_000_000_400_000_000,
            tid: 4242,
            op_flags: op::OPEN | op::READ_RECV | op::CLOSE | op::MMAP,
            open_flags: open::RDONLY | open::CLOEXEC,
            end_ts: 1_700_000_000_400_999_999,
            file_oid: f1,
            fd: 3,
            num_r_recv_ops: 2,
            num_w_send_ops: 0,
            num_r_recv_bytes: 4096,
            num_w_send_bytes: 0,
        }),
        Record::NetworkFlow(NetworkFlow {
            proc_oid: p1,
            ts: 1_700_000_000_500_000_000,
            tid: 4242,
            op_flags: op::CONNECT | op::READ_RECV | op::WRITE_SEND | op::CLOSE,
            end_ts: 1_700_000_000_600_000_000,
            sip: ipv4_from_octets([10, 187, 39, 243]),
            sport: 51234,
            dip: ipv4_from_octets([127, 0, 0, 1]),
            dport: 80,
            proto: 6,
            fd: 5,
            num_r_recv_ops: 3,
            num_w_send_ops: 1,
            num_r_recv_bytes: 1500,
            num_w_send_bytes: 77,
        }),
        Record::FileEvent(FileEvent {
            proc_oid: p1,
            ts: 1_700_000_000_700_000_000,
            tid: 4242,
            op_flags: op::RENAME,
            file_oid: f1,
            ret: 0,
            new_file_oid: Some(f2),
        }),
        Record::FileEvent(FileEvent {
            proc_oid: p1,
            ts: 1_700_000_000_700_000_001,
            tid: 4242,
            op_flags: op::UNLINK,
            file_oid: f2,
            ret: -2,
            new_file_oid: None,
        }),
        Record::ProcessFlow(ProcessFlow {
            proc_oid: p1,
            ts: 1_700_000_000_800_000_000,
            num_threads_cloned: 4,
            op_flags: op::CLONE | op::EXIT,
            end_ts: 1_700_000_000_900_000_000,
            num_threads_exited: 3,
            num_clone_errors: 1,
        }),
        Record::K8sEvent(K8sEvent {
            kind: K8sComponent::Pods,
            action: K8sAction::Modified,
            ts: 1_700_000_001_000_000_000,
            message: "{\"kind\":\"Pod\"}\n\0".into(),
        }),
        Record::ProcessEvent(ProcessEvent {
            proc_oid: p1,
            ts: 1_700_000_001_100_000_000,
            tid: 4242,
            op_flags: op::EXIT,
            args: vec![],
            ret: 0,
        }),
    ];
    if with_network_event {
        v.push(Record::NetworkEvent(NetworkEvent {
            proc_oid: p1,
            ts: 1_700_000_001_200_000_000,
            tid: 4242,
            op_flags: op::CONNECT,
            sip: ipv4_from_octets([127, 0, 0, 1]),
            sport: 1,
            dip: ipv4_from_octets([127, 0, 0, 1]),
            dport: 2,
            proto: 17,
            ret: 0,
        }));
    }
    v
}

fn write(path: &Path, recs: &[Record], codec: Codec) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = TraceWriter::new(
        f,
        WriterOptions {
            codec,
            block_bytes: 300,
            ..Default::default()
        },
    )
    .unwrap();
    for r in recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
}

fn run(cmd: &Path, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(cmd)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sysprint"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sysflow-ref-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn reference_sysprint_reads_our_files_and_prints_what_we_print() {
    let Some(refp) = reference() else { return };
    let dir = tmpdir("all");
    for codec in [
        Codec::DeflateDefault,
        Codec::Null,
        Codec::Snappy,
        Codec::Zstandard(3),
    ] {
        let trace = dir.join(format!("every-type.{}.sf", codec.name()));
        write(&trace, &every_type(false), codec);
        let t = trace.to_str().unwrap();
        for mode in ["json", "flatjson"] {
            let (theirs, err, _) = run(&refp, &["-o", mode, t]);
            assert!(
                !err.contains("Error while executing"),
                "reference failed on {t}: {err}"
            );
            let (mine, merr, ok) = run(&ours(), &["-o", mode, t]);
            assert!(ok, "our sysprint failed: {merr}");
            let a: Vec<serde_json::Value> = theirs
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let b: Vec<serde_json::Value> = mine
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(a.len(), 9, "reference printed {} rows for {t}", a.len());
            assert_eq!(a, b, "{mode} differs for {t}");
            assert_eq!(theirs, mine, "{mode} text differs for {t}");
        }
        let (c1, c2) = (dir.join("ref.csv"), dir.join("ours.csv"));
        let (_, err, _) = run(&refp, &["-o", "csv", "-w", c1.to_str().unwrap(), t]);
        assert!(!err.contains("Error while executing"), "{err}");
        let (_, merr, ok) = run(&ours(), &["-o", "csv", "-w", c2.to_str().unwrap(), t]);
        assert!(ok, "{merr}");
        assert_eq!(
            std::fs::read_to_string(&c1).unwrap(),
            std::fs::read_to_string(&c2).unwrap(),
            "csv differs for {t}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn network_events_crash_the_reference_but_print_here() {
    let Some(refp) = reference() else { return };
    let dir = tmpdir("ne");
    let trace = dir.join("with-ne.sf");
    write(&trace, &every_type(true), Codec::DeflateDefault);
    let t = trace.to_str().unwrap();
    // The reference maps the record name to the wrong key (NetEvent) and stops with a KeyError.
    let (theirs, err, _) = run(&refp, &["-o", "json", t]);
    assert!(err.contains("sysflow.event.NetworkEvent"), "{err}");
    let (mine, merr, ok) = run(&ours(), &["-o", "json", t]);
    assert!(ok, "{merr}");
    // Everything the reference printed before failing is printed identically, and then the NetworkEvent.
    assert!(
        mine.starts_with(&theirs),
        "our output does not extend the reference's"
    );
    let last: serde_json::Value = serde_json::from_str(mine.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "NE");
    std::fs::remove_dir_all(&dir).ok();
}
