//! Shared helpers: reference resource paths and hand-built flat records.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use sysflow_format::flags::op;
use sysflow_format::{
    Container, File, FileEvent, FileFlow, FlatRecord, Foid, Header, Layout, NetworkFlow, Oid,
    Process, ProcessEvent, Record,
};

/// `../shared` seen from the repository root, or `None` (tests then skip with a message).
pub fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.join("processor-resources").is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: ../shared/processor-resources not found (reference resources absent)");
        None
    }
}

/// The reference policies directory.
pub fn policies() -> Option<PathBuf> {
    shared().map(|s| s.join("processor-resources/resources/policies"))
}

pub fn process(pid: i64, exe: &str, args: &str, parent: Option<&Process>) -> Process {
    Process {
        oid: Oid {
            hpid: pid,
            create_ts: 1_000 + pid,
        },
        poid: parent.map(|p| p.oid),
        exe: exe.into(),
        exe_args: args.into(),
        user_name: "root".into(),
        group_name: "root".into(),
        container_id: Some("cont1".into()),
        ..Default::default()
    }
}

pub fn header() -> Arc<Header> {
    Arc::new(Header {
        version: 4,
        exporter: "node1".into(),
        ip: "10.0.0.9".into(),
        filename: "/tmp/trace.sf".into(),
    })
}

pub fn container(name: &str) -> Arc<Container> {
    Arc::new(Container {
        id: "cont1".into(),
        name: name.into(),
        image: "img".into(),
        ..Default::default()
    })
}

/// Builds a flat record around `record` with a process, optional parent and container.
pub fn flat(
    record: Record,
    proc: Process,
    parent: Option<Process>,
    cont: Option<Arc<Container>>,
) -> FlatRecord {
    FlatRecord {
        record,
        header: Some(header()),
        pod: None,
        container: cont,
        parent: parent.map(Arc::new),
        process: Some(Arc::new(proc)),
        file: None,
        new_file: None,
        ancestors: Default::default(),
        layout: Layout::V5,
    }
}

/// Record R1 of processor.md §11: PE EXEC of /usr/bin/python in container `node-app`, parent /bin/bash.
pub fn r1() -> FlatRecord {
    let bash = process(10, "/bin/bash", "", None);
    let py = process(11, "/usr/bin/python", "cos-write.py --x", Some(&bash));
    let pe = ProcessEvent {
        proc_oid: py.oid,
        ts: 1548965940603299403,
        tid: 11,
        op_flags: op::EXEC,
        args: vec![],
        ret: 0,
    };
    flat(
        Record::ProcessEvent(pe),
        py,
        Some(bash),
        Some(container("node-app")),
    )
}

/// A process event with `opflags` for `exe args` (parent `pexe`), no container.
pub fn pe(opflags: i32, exe: &str, args: &str, pexe: &str) -> FlatRecord {
    let parent = process(20, pexe, "", None);
    let p = process(21, exe, args, Some(&parent));
    let pe = ProcessEvent {
        proc_oid: p.oid,
        ts: 5,
        tid: 21,
        op_flags: opflags,
        args: vec![],
        ret: 0,
    };
    let mut r = flat(Record::ProcessEvent(pe), p, Some(parent), None);
    if let Some(p) = r.process.as_mut() {
        Arc::make_mut(p).container_id = None;
    }
    r
}

/// A file flow of `exe` on `path` with open flags and op flags, in container `cont` (or the host).
pub fn ff(exe: &str, path: &str, open_flags: i32, opflags: i32, cont: Option<&str>) -> FlatRecord {
    let parent = process(30, "/bin/bash", "", None);
    let p = process(31, exe, "", Some(&parent));
    let foid = Foid::compute("", path);
    let file = File {
        oid: foid,
        restype: b'f' as i32,
        path: path.into(),
        ..Default::default()
    };
    let ff = FileFlow {
        proc_oid: p.oid,
        ts: 7,
        tid: 31,
        op_flags: opflags,
        open_flags,
        end_ts: 9,
        file_oid: foid,
        fd: 3,
        num_r_recv_ops: 1,
        num_w_send_ops: 2,
        num_r_recv_bytes: 100,
        num_w_send_bytes: 200,
    };
    let mut r = flat(Record::FileFlow(ff), p, Some(parent), cont.map(container));
    r.file = Some(Arc::new(file));
    r
}

/// A file event (`opflags`) of `exe` on `path`, optionally with a second path.
pub fn fe(exe: &str, opflags: i32, path: &str, new_path: Option<&str>) -> FlatRecord {
    let parent = process(40, "/bin/bash", "", None);
    let p = process(41, exe, "", Some(&parent));
    let foid = Foid::compute("", path);
    let nfoid = new_path.map(|n| Foid::compute("", n));
    let fe = FileEvent {
        proc_oid: p.oid,
        ts: 8,
        tid: 41,
        op_flags: opflags,
        file_oid: foid,
        ret: 0,
        new_file_oid: nfoid,
    };
    let mut r = flat(Record::FileEvent(fe), p, Some(parent), Some(container("c")));
    r.file = Some(Arc::new(File {
        oid: foid,
        restype: b'f' as i32,
        path: path.into(),
        ..Default::default()
    }));
    r.new_file = new_path.map(|n| {
        Arc::new(File {
            oid: Foid::compute("", n),
            restype: b'f' as i32,
            path: n.into(),
            ..Default::default()
        })
    });
    r
}

/// A network flow of `exe` from sip:sport to dip:dport (addresses as dotted quads).
pub fn nf(
    exe: &str,
    sip: [u8; 4],
    sport: i32,
    dip: [u8; 4],
    dport: i32,
    opflags: i32,
) -> FlatRecord {
    let parent = process(50, "/bin/bash", "", None);
    let p = process(51, exe, "", Some(&parent));
    let ip = |o: [u8; 4]| i32::from_le_bytes(o);
    let nf = NetworkFlow {
        proc_oid: p.oid,
        ts: 10,
        tid: 51,
        op_flags: opflags,
        end_ts: 11,
        sip: ip(sip),
        sport,
        dip: ip(dip),
        dport,
        proto: 6,
        fd: 4,
        num_r_recv_ops: 1,
        num_w_send_ops: 1,
        num_r_recv_bytes: 10,
        num_w_send_bytes: 20,
    };
    flat(
        Record::NetworkFlow(nf),
        p,
        Some(parent),
        Some(container("c")),
    )
}
