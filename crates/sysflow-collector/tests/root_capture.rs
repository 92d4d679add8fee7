//! Live capture tests: the real probes on this kernel, deterministic workloads, exact records.
//!
//! Every test name contains `root`. Without root they print why and pass, unless `SYSFLOW_TEST_REQUIRE_ROOT=1`
//! (CI), which makes them fail instead. Root tests take a global lock: each one loads its own collector, and they
//! would otherwise see each other's activity.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use sysflow_collector::{run_live, FileReadMode, LiveOptions, RunSummary, VecSink};
use sysflow_format::flags::op;
use sysflow_format::{
    FileFlow, Foid, Header, NetworkFlow, ObjectState, Oid, Process, ProcessEvent, Record,
};

static LOCK: Mutex<()> = Mutex::new(());

/// Skips (or fails under `SYSFLOW_TEST_REQUIRE_ROOT=1`) when not root.
macro_rules! require_root {
    () => {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            if std::env::var("SYSFLOW_TEST_REQUIRE_ROOT").is_ok_and(|v| v == "1") {
                panic!("this test needs root (SYSFLOW_TEST_REQUIRE_ROOT=1)");
            }
            eprintln!("skipped: loading BPF programs needs root");
            return;
        }
    };
}

struct Running {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<anyhow::Result<RunSummary<VecSink>>>,
}

fn opts() -> LiveOptions {
    let mut o = LiveOptions::new(Header {
        version: 5,
        exporter: "test".into(),
        ip: String::new(),
        filename: String::new(),
    });
    o.collector.file_read_mode = FileReadMode::All;
    o.collector.container_metadata = false;
    o.rotate_secs = 0;
    o.stats_every = None;
    o.poll_timeout = Duration::from_millis(20);
    o
}

fn start(o: LiveOptions) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let s = stop.clone();
    let handle = thread::spawn(move || run_live(o, VecSink::default(), &s, Some(tx)));
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        stop.store(true, Ordering::SeqCst);
        match handle.join() {
            Ok(Err(e)) => panic!("collector failed to start: {e:#}"),
            _ => panic!("collector did not start"),
        }
    }
    Running { stop, handle }
}

impl Running {
    fn finish(self) -> RunSummary<VecSink> {
        // let the kernel records of the workload reach the ring before stopping
        thread::sleep(Duration::from_millis(300));
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.join() {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => panic!("collector failed: {e:#}"),
            Err(_) => panic!("collector thread panicked"),
        }
    }
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

fn me() -> i64 {
    i64::from(std::process::id())
}

fn file_flows(recs: &[Record], foid: Foid) -> Vec<FileFlow> {
    recs.iter()
        .filter_map(|r| match r {
            Record::FileFlow(f) if f.file_oid == foid => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn net_flows(recs: &[Record], port: i32) -> Vec<NetworkFlow> {
    recs.iter()
        .filter_map(|r| match r {
            Record::NetworkFlow(f) if f.dport == port && f.proc_oid.hpid == me() => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn index_of(recs: &[Record], pred: impl Fn(&Record) -> bool) -> Option<usize> {
    recs.iter().position(pred)
}

fn proc_of(recs: &[Record], oid: Oid) -> Vec<Process> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Process(p) if p.oid == oid => Some((**p).clone()),
            _ => None,
        })
        .collect()
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).expect("canonical temp dir")
}

fn foid(p: &Path) -> Foid {
    Foid::compute("", &p.to_string_lossy())
}

#[test]
fn root_file_flows_and_events_are_exact() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = canon(dir.path());
    let run = start(opts());
    let tid = gettid();

    let a = d.join("a.txt");
    let mut f = std::fs::File::create(&a).expect("create");
    for _ in 0..3 {
        f.write_all(b"0123456789").expect("write");
    }
    drop(f);
    let mut f = std::fs::File::open(&a).expect("open");
    let mut buf = [0u8; 10];
    let mut total = 0;
    loop {
        let n = f.read(&mut buf).expect("read");
        total += n;
        if n == 0 {
            break;
        }
    }
    assert_eq!(total, 30);
    drop(f);
    let b = d.join("b.txt");
    std::fs::rename(&a, &b).expect("rename");
    let c = d.join("c.txt");
    std::fs::hard_link(&b, &c).expect("link");
    let s = d.join("s.txt");
    std::os::unix::fs::symlink("b.txt", &s).expect("symlink");
    std::fs::remove_file(&c).expect("unlink");
    let e = d.join("sub");
    std::fs::create_dir(&e).expect("mkdir");
    std::fs::remove_dir(&e).expect("rmdir");

    let recs = run.finish().sink.records;
    assert!(
        matches!(recs.first(), Some(Record::Header(h)) if h.version == 5 && h.exporter == "test")
    );

    let flows = file_flows(&recs, foid(&a));
    assert_eq!(
        flows.len(),
        2,
        "one write flow and one read flow on {}: {flows:?}",
        a.display()
    );
    let w = &flows[0];
    assert_eq!(w.op_flags, op::OPEN | op::WRITE_SEND | op::CLOSE);
    // O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, and the open created the file
    assert_eq!(w.open_flags, 2 | 4 | 256 | 4096 | (1 << 14));
    assert_eq!(
        (
            w.num_w_send_ops,
            w.num_w_send_bytes,
            w.num_r_recv_ops,
            w.num_r_recv_bytes
        ),
        (3, 30, 0, 0)
    );
    assert_eq!(w.tid, tid);
    assert_eq!(w.proc_oid.hpid, me());
    assert!(w.ts <= w.end_ts && w.ts > 0);
    let r = &flows[1];
    assert_eq!(r.op_flags, op::OPEN | op::READ_RECV | op::CLOSE);
    assert_eq!(r.open_flags, 1 | 4096);
    assert_eq!(
        (r.num_r_recv_ops, r.num_r_recv_bytes, r.num_w_send_ops),
        (4, 30, 0)
    );

    // the File entity and the process come before the first flow that references them
    let fi = index_of(&recs, |x| matches!(x, Record::File(f) if f.oid == foid(&a)))
        .expect("File record");
    match &recs[fi] {
        Record::File(f) => {
            assert_eq!(f.path, a.to_string_lossy());
            assert_eq!(f.restype, i32::from(b'f'));
            assert_eq!(f.state, ObjectState::Reup);
            assert_eq!(f.container_id, None);
        }
        _ => unreachable!(),
    }
    let first_flow = index_of(
        &recs,
        |x| matches!(x, Record::FileFlow(f) if f.file_oid == foid(&a)),
    )
    .expect("flow");
    assert!(fi < first_flow);
    let pi = index_of(
        &recs,
        |x| matches!(x, Record::Process(p) if p.oid == w.proc_oid),
    )
    .expect("Process record");
    assert!(pi < first_flow);
    assert!(proc_of(&recs, w.proc_oid)
        .iter()
        .all(|p| p.container_id.is_none()));

    let events: Vec<_> = recs
        .iter()
        .filter_map(|r| match r {
            Record::FileEvent(e) if e.proc_oid.hpid == me() && e.tid == tid => Some(e.clone()),
            _ => None,
        })
        .collect();
    let want = [
        (op::RENAME, foid(&a), Some(foid(&b))),
        (op::LINK, foid(&b), Some(foid(&c))),
        (op::SYMLINK, foid(&s), Some(Foid::compute("", "b.txt"))),
        (op::UNLINK, foid(&c), None),
        (op::MKDIR, foid(&e), None),
        (op::RMDIR, foid(&e), None),
    ];
    let got: Vec<_> = events
        .iter()
        .map(|e| (e.op_flags, e.file_oid, e.new_file_oid))
        .collect();
    assert_eq!(got, want.to_vec(), "file events");
    assert!(events.iter().all(|e| e.ret == 0));
    let dir_rec = recs.iter().find_map(|r| match r {
        Record::File(f) if f.oid == foid(&e) => Some(f.clone()),
        _ => None,
    });
    let dir_rec = dir_rec.expect("mkdir target");
    assert_eq!(
        (dir_rec.restype, dir_rec.state),
        (i32::from(b'd'), ObjectState::Created)
    );
}

fn tcp_roundtrip(bind: &str) -> (i32, i32, i32, Vec<Record>) {
    let run = start(opts());
    let l = TcpListener::bind(bind).expect("bind");
    let port = i32::from(l.local_addr().expect("addr").port());
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut b = [0u8; 5];
        s.read_exact(&mut b).expect("server read");
        s.write_all(&b).expect("server write");
        gettid()
    });
    let mut c = TcpStream::connect(format!(
        "{}:{port}",
        bind.rsplit_once(':').map(|x| x.0).unwrap_or(bind)
    ))
    .expect("connect");
    let cport = i32::from(c.local_addr().expect("local").port());
    c.write_all(b"hello").expect("client write");
    let mut b = [0u8; 5];
    c.read_exact(&mut b).expect("client read");
    drop(c);
    let server_tid = server.join().expect("server thread");
    let recs = run.finish().sink.records;
    let _ = server_tid;
    (port, cport, server_tid as i32, recs)
}

fn check_tcp(port: i32, cport: i32, ip: i32, recs: &[Record]) {
    let flows = net_flows(recs, port);
    let client = flows
        .iter()
        .find(|f| f.op_flags & op::CONNECT != 0)
        .expect("client flow");
    let server = flows
        .iter()
        .find(|f| f.op_flags & op::ACCEPT != 0)
        .expect("server flow");
    for f in [client, server] {
        assert_eq!(
            (f.sip, f.sport, f.dip, f.dport, f.proto),
            (ip, cport, ip, port, 6),
            "tuple client -> server: {f:?}"
        );
        assert_eq!(
            (
                f.num_r_recv_ops,
                f.num_r_recv_bytes,
                f.num_w_send_ops,
                f.num_w_send_bytes
            ),
            (1, 5, 1, 5)
        );
        assert!(f.ts <= f.end_ts);
    }
    assert_eq!(
        client.op_flags,
        op::CONNECT | op::READ_RECV | op::WRITE_SEND | op::CLOSE
    );
    assert_eq!(
        server.op_flags,
        op::ACCEPT | op::READ_RECV | op::WRITE_SEND | op::CLOSE
    );
    assert_eq!(client.tid, gettid());
}

#[test]
fn root_tcp_ipv4_loopback() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (port, cport, _, recs) = tcp_roundtrip("127.0.0.1:0");
    check_tcp(port, cport, i32::from_le_bytes([127, 0, 0, 1]), &recs);
}

#[test]
fn root_tcp_ipv6_loopback() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let (port, cport, _, recs) = tcp_roundtrip("[::1]:0");
    // ::1 keeps its last 32 bits: 0.0.0.1
    check_tcp(port, cport, i32::from_le_bytes([0, 0, 0, 1]), &recs);
}

fn udp_roundtrip(bind: &str, ip: i32) {
    let run = start(opts());
    let server = UdpSocket::bind(bind).expect("bind");
    let saddr: SocketAddr = server.local_addr().expect("addr");
    let port = i32::from(saddr.port());
    let client = UdpSocket::bind(bind).expect("client bind");
    client.connect(saddr).expect("connect");
    let cport = i32::from(client.local_addr().expect("local").port());
    client.send(b"ping!").expect("send");
    let mut b = [0u8; 16];
    let (n, from) = server.recv_from(&mut b).expect("recv_from");
    server.send_to(&b[..n], from).expect("send_to");
    let n2 = client.recv(&mut b).expect("recv");
    assert_eq!((n, n2), (5, 5));
    drop(client);
    drop(server);
    let recs = run.finish().sink.records;
    let flows = net_flows(&recs, port);
    assert_eq!(flows.len(), 2, "{flows:?}");
    for f in &flows {
        assert_eq!(
            (f.sip, f.sport, f.dip, f.dport, f.proto),
            (ip, cport, ip, port, 17),
            "{f:?}"
        );
        assert_eq!(
            (
                f.num_r_recv_ops,
                f.num_r_recv_bytes,
                f.num_w_send_ops,
                f.num_w_send_bytes
            ),
            (1, 5, 1, 5)
        );
    }
    assert!(flows
        .iter()
        .any(|f| f.op_flags == op::CONNECT | op::READ_RECV | op::WRITE_SEND | op::CLOSE));
    assert!(flows
        .iter()
        .any(|f| f.op_flags == op::READ_RECV | op::WRITE_SEND | op::CLOSE));
}

#[test]
fn root_udp_ipv4_loopback() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    udp_roundtrip("127.0.0.1:0", i32::from_le_bytes([127, 0, 0, 1]));
}

#[test]
fn root_udp_ipv6_loopback() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    udp_roundtrip("[::1]:0", i32::from_le_bytes([0, 0, 0, 1]));
}

fn pevents(recs: &[Record], hpid: i64) -> Vec<ProcessEvent> {
    recs.iter()
        .filter_map(|r| match r {
            Record::ProcessEvent(e) if e.proc_oid.hpid == hpid => Some(e.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn root_exec_chain_has_parents_and_exit_codes() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let run = start(opts());
    let st = std::process::Command::new("/bin/sh")
        .args(["-c", "/bin/echo hi >/dev/null; exit 3"])
        .status()
        .expect("sh");
    assert_eq!(st.code(), Some(3));
    let recs = run.finish().sink.records;
    let procs: Vec<Process> = recs
        .iter()
        .filter_map(|r| match r {
            Record::Process(p) => Some((**p).clone()),
            _ => None,
        })
        .collect();
    let sh = procs
        .iter()
        .find(|p| {
            p.exe_args == "-c /bin/echo hi >/dev/null; exit 3" && p.state == ObjectState::Modified
        })
        .expect("sh after exec (MODIFIED)");
    assert!(sh.exe.ends_with("sh"), "{}", sh.exe);
    assert_eq!(
        sh.poid.map(|o| o.hpid),
        Some(me()),
        "sh's parent is the test process"
    );
    let created = procs
        .iter()
        .find(|p| p.oid == sh.oid && p.state == ObjectState::Created)
        .expect("CREATED at clone");
    assert_eq!(created.oid.create_ts, sh.oid.create_ts);
    let echo = procs
        .iter()
        .find(|p| p.exe.ends_with("/echo") && p.state == ObjectState::Modified)
        .expect("echo");
    assert_eq!(echo.exe_args, "hi");
    assert_eq!(echo.poid, Some(sh.oid), "echo's parent is sh");
    assert_eq!(
        echo.cwd,
        format!("{}/", std::env::current_dir().expect("cwd").display()).replace("//", "/")
    );

    let sh_ev = pevents(&recs, sh.oid.hpid);
    let ops: Vec<i32> = sh_ev.iter().map(|e| e.op_flags).collect();
    assert_eq!(ops.first(), Some(&op::CLONE), "{ops:?}");
    assert!(ops.contains(&op::EXEC));
    let exit = sh_ev
        .iter()
        .find(|e| e.op_flags == op::EXIT)
        .expect("sh exit");
    assert_eq!(exit.ret, 3 << 8, "raw exit status");
    let echo_ev = pevents(&recs, echo.oid.hpid);
    let ops: Vec<i32> = echo_ev.iter().map(|e| e.op_flags).collect();
    assert_eq!(ops, vec![op::CLONE, op::EXEC, op::EXIT]);
    // the caller side of the fork is an event of the test process with the child's pid
    assert!(pevents(&recs, me())
        .iter()
        .any(|e| e.op_flags == op::CLONE && i64::from(e.ret) == sh.oid.hpid));
    // order: the MODIFIED record precedes the EXEC event
    let mi = index_of(
        &recs,
        |r| matches!(r, Record::Process(p) if p.oid == echo.oid && p.state == ObjectState::Modified),
    );
    let ei = index_of(
        &recs,
        |r| matches!(r, Record::ProcessEvent(e) if e.proc_oid == echo.oid && e.op_flags == op::EXEC),
    );
    assert!(mi < ei);
}

#[test]
fn root_setuid_writes_modified_process_then_event() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let run = start(opts());
    // SAFETY: the child only calls async-signal-safe functions (setuid, _exit) before exiting.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            let rc = libc::syscall(libc::SYS_setuid, 65534);
            libc::_exit(if rc == 0 { 0 } else { 1 });
        }
    }
    assert!(pid > 0, "fork");
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(status, 0, "child setuid failed");
    let recs = run.finish().sink.records;
    let ev = pevents(&recs, i64::from(pid));
    let su = ev
        .iter()
        .find(|e| e.op_flags == op::SETUID)
        .expect("setuid event");
    assert_eq!(su.ret, 0);
    let expected = sysflow_collector::procfs::Names::load(Path::new("/")).user_or_number(65534);
    assert_eq!(su.args, vec![expected]);
    let si = index_of(
        &recs,
        |r| matches!(r, Record::ProcessEvent(e) if e.op_flags == op::SETUID && e.proc_oid == su.proc_oid),
    );
    let mi = index_of(
        &recs,
        |r| matches!(r, Record::Process(p) if p.oid == su.proc_oid && p.state == ObjectState::Modified && p.uid == 65534),
    );
    assert!(
        mi.is_some() && mi < si,
        "MODIFIED process with the new uid before the event"
    );
    assert_eq!(ev.last().map(|e| e.op_flags), Some(op::EXIT));
}

#[test]
fn root_threads_and_shutdown_truncation() {
    require_root!();
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = canon(dir.path());
    let run = start(opts());
    let mut tids = Vec::new();
    let mut handles = Vec::new();
    for i in 0..3 {
        let p = d.join(format!("t{i}"));
        handles.push(thread::spawn(move || {
            let mut f = std::fs::File::create(&p).expect("create");
            f.write_all(&[0u8; 100]).expect("write");
            gettid()
        }));
    }
    for h in handles {
        tids.push(h.join().expect("thread"));
    }
    // left open: flushed with TRUNCATE at shutdown
    let open = d.join("open.txt");
    let mut f = std::fs::File::create(&open).expect("create");
    f.write_all(b"abc").expect("write");
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = i32::from(l.local_addr().expect("addr").port());
    let mut c = TcpStream::connect(("127.0.0.1", port as u16)).expect("connect");
    c.write_all(b"x").expect("send");
    let recs = run.finish().sink.records;
    drop(f);
    drop(c);

    for (i, tid) in tids.iter().enumerate() {
        let fl = file_flows(&recs, foid(&d.join(format!("t{i}"))));
        assert_eq!(fl.len(), 1);
        assert_eq!(
            fl[0].tid, *tid,
            "the flow carries the thread that opened the file"
        );
        assert_eq!((fl[0].num_w_send_ops, fl[0].num_w_send_bytes), (1, 100));
    }
    let fl = file_flows(&recs, foid(&open));
    assert_eq!(fl.len(), 1);
    assert_eq!(fl[0].op_flags, op::OPEN | op::WRITE_SEND | op::TRUNCATE);
    assert_eq!(fl[0].num_w_send_bytes, 3);
    let nf = net_flows(&recs, port);
    let cf = nf
        .iter()
        .find(|f| f.op_flags & op::CONNECT != 0)
        .expect("open connection");
    assert_eq!(cf.op_flags, op::CONNECT | op::WRITE_SEND | op::TRUNCATE);
    let pf = recs
        .iter()
        .filter_map(|r| match r {
            Record::ProcessFlow(p) if p.proc_oid.hpid == me() => Some(p.clone()),
            _ => None,
        })
        .next_back()
        .expect("ProcessFlow of the test process");
    assert!(
        pf.num_threads_cloned >= 3 && pf.num_threads_exited >= 3,
        "{pf:?}"
    );
    assert_eq!(pf.op_flags & op::TRUNCATE, op::TRUNCATE);
    assert!(pf.op_flags & op::CLONE != 0);
}
