//! Unit tests over hand-built records: every operator, attribute family, reference quirk and deviation.

use std::sync::Arc;

use sysflow_format::flags::{op, open};
use sysflow_format::{
    Container, ContainerType, File, FileEvent, FileFlow, FlatRecord, Foid, Header, Layout,
    NetworkFlow, Oid, OptionalField, Pod, Process, ProcessEvent, ProcessFlow, Record,
};

use crate::{attributes, Definitions, ErrorKind, Priority, Query};

fn process(pid: i64, exe: &str, args: &str, parent: Option<i64>) -> Arc<Process> {
    Arc::new(Process {
        oid: Oid {
            hpid: pid,
            create_ts: 1000 + pid,
        },
        poid: parent.map(|p| Oid {
            hpid: p,
            create_ts: 1000 + p,
        }),
        exe: exe.to_string(),
        exe_args: args.to_string(),
        uid: 1000,
        user_name: "alice".into(),
        gid: 100,
        group_name: "users".into(),
        tty: true,
        cwd: "/home/alice".into(),
        env: vec!["PATH=/bin".into(), "LANG=C".into()],
        ..Process::default()
    })
}

fn header() -> Arc<Header> {
    Arc::new(Header {
        version: 5,
        exporter: "node-1".into(),
        ip: "10.0.0.1".into(),
        filename: "trace.sf".into(),
    })
}

fn flat(record: Record, proc: Option<Arc<Process>>, parent: Option<Arc<Process>>) -> FlatRecord {
    FlatRecord {
        record,
        header: Some(header()),
        pod: None,
        container: None,
        parent,
        process: proc,
        file: None,
        new_file: None,
        ancestors: Default::default(),
        layout: Layout::V5,
    }
}

fn pe(pid: i64, exe: &str, args: &str, parent: Option<(i64, &str)>, flags: i32) -> FlatRecord {
    let p = process(pid, exe, args, parent.map(|(pp, _)| pp));
    let pp = parent.map(|(pp, pexe)| process(pp, pexe, "", None));
    let rec = Record::ProcessEvent(ProcessEvent {
        proc_oid: p.oid,
        ts: 1_600_000_000_000_000_000,
        tid: pid + 1,
        op_flags: flags,
        args: Vec::new(),
        ret: 0,
    });
    flat(rec, Some(p), pp)
}

fn file(path: &str, restype: u8) -> Arc<File> {
    Arc::new(File {
        oid: Foid::compute("", path),
        restype: restype.into(),
        path: path.into(),
        ..File::default()
    })
}

fn ff(path: &str, open_flags: i32, op_flags: i32) -> FlatRecord {
    let p = process(10, "/usr/bin/cat", "a.txt", Some(1));
    let f = file(path, b'f');
    let rec = Record::FileFlow(FileFlow {
        proc_oid: p.oid,
        ts: 5,
        tid: 10,
        op_flags,
        open_flags,
        end_ts: 9,
        file_oid: f.oid,
        fd: 3,
        num_r_recv_ops: 2,
        num_w_send_ops: 0,
        num_r_recv_bytes: 4096,
        num_w_send_bytes: 0,
    });
    let mut r = flat(rec, Some(p), Some(process(1, "/sbin/init", "", None)));
    r.file = Some(f);
    r
}

fn nf() -> FlatRecord {
    let p = process(20, "/usr/sbin/nginx", "-g daemon off;", Some(1));
    let rec = Record::NetworkFlow(NetworkFlow {
        proc_oid: p.oid,
        ts: 100,
        tid: 21,
        op_flags: op::ACCEPT | op::READ_RECV | op::WRITE_SEND | op::CLOSE,
        end_ts: 200,
        sip: 16777343, // 127.0.0.1
        sport: 8080,
        dip: 33663168, // 192.168.1.2
        dport: 55000,
        proto: 6,
        fd: 7,
        num_r_recv_ops: 1,
        num_w_send_ops: 2,
        num_r_recv_bytes: 300,
        num_w_send_bytes: 4000,
    });
    let mut r = flat(rec, Some(p), None);
    r.container = Some(Arc::new(Container {
        id: "abcdef123456".into(),
        name: "web".into(),
        image: "nginx:1.25".into(),
        imageid: "sha256:feed".into(),
        container_type: ContainerType::Docker,
        privileged: false,
        pod_id: Some("pod-1".into()),
    }));
    r.pod = Some(Arc::new(Pod {
        id: "pod-1".into(),
        name: "web-7d9f".into(),
        node_name: "worker-1".into(),
        host_ip: vec![1681631424],
        internal_ip: vec![1681631424, 16777343],
        namespace: "default".into(),
        restart_count: 2,
        ..Pod::default()
    }));
    r
}

fn q(expr: &str) -> Query {
    match Query::compile(expr) {
        Ok(q) => q,
        Err(e) => panic!("{expr:?} does not compile: {e}"),
    }
}

fn m(expr: &str, rec: &FlatRecord) -> bool {
    q(expr).matches(rec)
}

fn compile_err(expr: &str) -> crate::SfqlError {
    match Query::compile(expr) {
        Ok(q) => panic!("{expr:?} compiled: {q:?}"),
        Err(e) => e,
    }
}

#[test]
fn equality_and_inequality() {
    let r = pe(
        42,
        "/usr/bin/bash",
        "-c ls",
        Some((1, "/sbin/init")),
        op::EXEC,
    );
    assert!(m("type = PE", &r));
    assert!(!m("type = FF", &r));
    assert!(m("type != FF", &r));
    assert!(m("proc.pid = 42", &r));
    assert!(!m("proc.pid = 042", &r), "comparison is on strings");
    assert!(m("proc.exe = /usr/bin/bash", &r));
    assert!(m("proc.name = bash", &r));
    assert!(m("proc.args = \"-c ls\"", &r));
}

#[test]
fn string_operators() {
    let r = pe(42, "/usr/bin/Bash", "-c ls", None, op::EXEC);
    assert!(m("proc.exe contains bin/B", &r));
    assert!(!m("proc.exe contains bin/b", &r));
    assert!(m("proc.exe icontains BIN/b", &r));
    assert!(m("proc.exe startswith /usr", &r));
    assert!(!m("proc.exe startswith usr", &r));
    assert!(m("proc.cmdline = \"/usr/bin/Bash -c ls\"", &r));
    assert!(m("proc.cmdline icontains \"BASH -C\"", &r));
}

#[test]
fn ordering_operators() {
    let r = pe(42, "/bin/sh", "", None, op::EXEC);
    for (expr, want) in [
        ("proc.pid > 41", true),
        ("proc.pid > 42", false),
        ("proc.pid >= 42", true),
        ("proc.pid < 43", true),
        ("proc.pid < 42", false),
        ("proc.pid <= 42", true),
        ("proc.pid <= 41", false),
        ("proc.tid > proc.pid", true),
        ("proc.pid >= proc.tid", false),
        ("\"50\" > proc.pid", true),
        ("proc.pid > \" 41 \"", true),
    ] {
        assert_eq!(m(expr, &r), want, "{expr}");
    }
}

/// Deviation: the reference implements `<=` as `>=` (sfql.py `LE` branch); we compare with `<=`.
#[test]
fn deviation_le_is_less_or_equal() {
    let r = pe(42, "/bin/sh", "", None, op::EXEC);
    assert!(m("proc.pid <= 100", &r), "reference: 42 >= 100 is false");
    assert!(!m("proc.pid <= 10", &r), "reference: 42 >= 10 is true");
}

/// Deviation: ordering comparisons on values that are not integers do not match (the reference raises ValueError
/// or TypeError and sysprint stops); a literal that is not an integer is a compile error.
#[test]
fn deviation_ordering_on_non_integers() {
    let r = pe(42, "/bin/sh", "", None, op::EXEC);
    assert!(!m("proc.exe > 1", &r));
    assert!(!m("net.sport > 1", &r), "None does not compare");
    assert!(!m("proc.pid > net.sport", &r), "int(None) does not compare");
    assert_eq!(
        *compile_err("proc.pid > abc").kind(),
        ErrorKind::NotAnInteger
    );
    assert_eq!(
        *compile_err("proc.pid > 1.5").kind(),
        ErrorKind::NotAnInteger
    );
    assert_eq!(
        *compile_err("abc < proc.pid").kind(),
        ErrorKind::NotAnInteger
    );
    // A bool attribute on the right converts like Python int(True) == 1.
    assert!(m("proc.pid > proc.tty", &r));
}

#[test]
fn comma_split_any_piece() {
    let r = pe(42, "/bin/sh", "a,b,c", None, op::EXEC);
    assert!(m("proc.args = b", &r));
    assert!(m("proc.args != a", &r), "some piece differs from a");
    assert!(m("proc.args in (c, z)", &r));
    assert!(m("proc.args startswith c", &r));
    let r = pe(42, "/bin/sh", "x", None, op::EXEC);
    assert!(!m("proc.args != x", &r));
    // The right operand is not split.
    let r = pe(42, "/bin/sh", "a,b", None, op::EXEC);
    assert!(!m("proc.args = \"a,b\"", &r));
    assert!(m("\"a,b\" = a", &r), "a literal on the left is split too");
}

#[test]
fn opflags_are_names() {
    let r = nf();
    for name in ["ACCEPT", "READ", "RECV", "WRITE", "SEND", "CLOSE"] {
        assert!(m(&format!("opflags = {name}"), &r), "{name}");
    }
    assert!(!m("opflags = CONNECT", &r));
    assert!(m("opflags in (CONNECT, ACCEPT)", &r));
    let r = pe(1, "/bin/sh", "", None, op::CLONE);
    assert!(m("opflags = CLONE", &r));
}

#[test]
fn in_and_pmatch() {
    let r = ff(
        "/etc/passwd",
        open::RDONLY,
        op::OPEN | op::READ_RECV | op::CLOSE,
    );
    assert!(m("file.path in (/etc/shadow, /etc/passwd)", &r));
    assert!(!m("file.path in (/etc)", &r));
    assert!(m("file.path pmatch (/etc, /var)", &r));
    assert!(m("file.path pmatch (passw)", &r));
    assert!(!m("file.path pmatch (/var, /usr)", &r));
    assert!(
        m("proc.name in (\"cat\")", &r),
        "double quotes are stripped"
    );
    assert!(!m("proc.name in ('cat')", &r), "single quotes are kept");
    assert!(m("proc.name in ('cat', cat)", &r));
}

/// Deviation: `[..]` item lists inside `in (...)`/`pmatch (...)` are used (the reference's `_getList` reads only
/// the direct atoms and silently drops them).
#[test]
fn deviation_items_inside_in_lists() {
    let r = ff("/etc/passwd", open::RDONLY, op::OPEN);
    assert!(m("proc.name in ([sh, cat])", &r));
    assert!(m("proc.name in (x, [cat])", &r));
    assert!(m("file.path pmatch ([/etc])", &r));
}

#[test]
fn exists_is_python_truthiness() {
    let r = pe(42, "/bin/sh", "", Some((1, "/sbin/init")), op::EXEC);
    assert!(m("proc.exe exists", &r));
    assert!(!m("proc.args exists", &r), "empty string");
    assert!(!m("ret exists", &r), "ret 0 is falsy");
    assert!(m("proc.tty exists", &r));
    assert!(!m("net.sport exists", &r));
    assert!(m("pproc.pid exists", &r));
    assert!(m("foo exists", &r), "a literal is truthy");
    assert!(!m("\"\" exists", &r));
    let mut root = r.clone();
    root.process = Some(Arc::new(Process {
        uid: 0,
        ..(*process(42, "/bin/sh", "", None)).clone()
    }));
    assert!(!m("proc.uid exists", &root), "uid 0 is falsy");
}

#[test]
fn boolean_logic_and_precedence() {
    let r = pe(42, "/bin/sh", "", None, op::EXEC);
    assert!(m("type = FF or type = PE and proc.pid = 42", &r));
    assert!(!m("(type = FF or type = PE) and proc.pid = 1", &r));
    assert!(m("not type = FF", &r));
    assert!(m("not type = FF and not proc.pid = 1", &r));
    assert!(!m("not (type = PE or type = FF)", &r));
    assert!(m("not not type = PE", &r));
}

#[test]
fn operand_resolution() {
    let r = pe(42, "/bin/sh", "", None, op::EXEC);
    assert!(m("sf.proc.pid = 42", &r), "sf. prefix");
    assert!(m("42 = proc.pid", &r), "attribute on the right");
    assert!(m("proc.pid = sf.proc.pid", &r));
    assert!(!m("\"proc.pid\" = 42", &r), "a quoted name is a literal");
    assert!(m("abc = abc", &r), "two literals");
    assert!(!m("proc.exe = '/bin/sh'", &r), "single quotes are kept");
    assert!(m("proc.exe = \"/bin/sh\"", &r));
    assert!(
        m("net.sport = None", &r),
        "a missing value is the string None"
    );
    assert!(m("net.sport != 80", &r));
}

#[test]
fn process_attributes() {
    let r = pe(
        42,
        "/usr/bin/../bin/python3",
        "x.py",
        Some((7, "/bin/bash")),
        op::EXEC,
    );
    for (expr, want) in [
        ("proc.name = python3", true),
        ("proc.uid = 1000", true),
        ("proc.user = alice", true),
        ("proc.gid = 100", true),
        ("proc.group = users", true),
        ("proc.createts = 1042", true),
        ("proc.tid = 43", true),
        ("proc.tty = True", true),
        ("proc.entry = False", true),
        ("proc.cwd = /home/alice", true),
        ("proc.env contains \"PATH=/bin\"", true),
        ("pproc.pid = 7", true),
        ("pproc.name = bash", true),
        ("pproc.exe = /bin/bash", true),
        ("pproc.cmdline = \"/bin/bash \"", true),
        ("pproc.createts = 1007", true),
    ] {
        assert_eq!(m(expr, &r), want, "{expr}");
    }
}

#[test]
fn env_is_a_python_list_repr() {
    let r = pe(42, "/bin/sh", "", None, op::EXEC);
    // str(['PATH=/bin', 'LANG=C']) split on ',' gives "['PATH=/bin'" and " 'LANG=C']".
    assert!(m("proc.env = \"['PATH=/bin'\"", &r));
    assert!(m("proc.env = \" 'LANG=C']\"", &r));
    assert!(!m("proc.env = \"PATH=/bin\"", &r));
}

#[test]
fn fields_missing_from_the_writer_schema_are_none() {
    let mut r = pe(42, "/bin/sh", "", None, op::EXEC);
    let mut layout = Layout::EMPTY;
    layout.insert(OptionalField::ProcessTty);
    r.layout = layout;
    assert!(!m("proc.cwd exists", &r));
    assert!(m("proc.cwd = None", &r));
    assert!(m("proc.entry = None", &r));
    assert!(m("proc.env = None", &r));
    assert!(m("node.ip = None", &r));
    assert!(m("filename = None", &r));
    assert!(m("proc.tty = True", &r));
}

#[test]
fn event_and_flow_attributes() {
    let r = pe(42, "/bin/sh", "", None, op::EXEC);
    assert!(m("ts = 1600000000000000000", &r));
    assert!(m("ret = 0", &r));
    let r = ff(
        "/tmp/x",
        open::WRONLY | open::CREAT,
        op::OPEN | op::WRITE_SEND,
    );
    assert!(m("endts = 9", &r));
    assert!(m("file.fd = 3", &r));
    assert!(m(
        "flow.rbytes = 4096 and flow.rops = 2 and flow.wbytes = 0 and flow.wops = 0",
        &r
    ));
    assert!(m("pf.nthreads = None", &r));
    let p = process(3, "/bin/x", "", None);
    let pf = flat(
        Record::ProcessFlow(ProcessFlow {
            proc_oid: p.oid,
            ts: 1,
            num_threads_cloned: 4,
            op_flags: op::CLONE | op::EXIT,
            end_ts: 2,
            num_threads_exited: 3,
            num_clone_errors: 0,
        }),
        Some(p),
        None,
    );
    assert!(m(
        "pf.nthreads = 4 and pf.nexits = 3 and pf.nerrors = 0 and type = PF",
        &pf
    ));
    assert!(m("proc.tid = None", &pf), "process flows have no tid");
}

/// Deviation: `ret` (and `endts`, `file.fd`, `flow.*`, `pf.*`, `proc.tid`) on a record type without that field is
/// `None` like every other inapplicable attribute; the reference raises AttributeError and sysprint stops.
#[test]
fn deviation_missing_record_fields_are_none() {
    let r = nf();
    assert!(!m("ret = 0", &r));
    assert!(!m("ret exists", &r));
    assert!(m("ret = None", &r));
    let e = pe(1, "/bin/sh", "", None, op::EXEC);
    assert!(!m("endts exists", &e));
    assert!(!m("file.fd exists", &e));
    assert!(!m("flow.rbytes > 0", &e));
}

#[test]
fn network_attributes() {
    let r = nf();
    assert!(m(
        "net.proto = 6 and net.sport = 8080 and net.dport = 55000",
        &r
    ));
    assert!(m("net.sip = 16777343", &r), "raw ints, as the reference");
    assert!(m("net.dip = 33663168", &r));
    assert!(m("file.fd = 7", &r));
    assert!(m("flow.wbytes >= 4000", &r));
}

/// Deviation: `net.port` and `net.ip` work ("sport,dport" and "sip,dip", raw ints like `net.sport`/`net.sip`); the
/// reference joins ints with `','.join` and raises TypeError.
#[test]
fn deviation_net_ip_and_port() {
    let r = nf();
    assert!(m("net.port = 8080", &r));
    assert!(m("net.port = 55000", &r));
    assert!(m("net.port in (443, 55000)", &r));
    assert!(m("net.ip = 16777343", &r));
    assert!(m("net.ip = 33663168", &r));
    assert!(!m("net.ip = 1", &r));
}

#[test]
fn container_pod_and_header_attributes() {
    let r = nf();
    for expr in [
        "container.id = abcdef123456",
        "container.name = web",
        "container.image = nginx:1.25",
        "container.imageid = sha256:feed",
        "container.type = CT_DOCKER",
        "container.privileged = False",
        "pod.id = pod-1",
        "pod.name = web-7d9f",
        "pod.nname = worker-1",
        "pod.ns = default",
        "pod.rstrtcnt = 2",
        "pod.hostip = \"[1681631424]\"",
        "pod.internalip = \" 16777343]\"",
        "node.id = node-1",
        "node.ip = 10.0.0.1",
        "schema = 5",
        "filename = trace.sf",
    ] {
        assert!(m(expr, &r), "{expr}");
    }
    assert!(!m("container.privileged exists", &r));
}

#[test]
fn file_attributes() {
    let mut r = ff(
        "/var/log//app/./x.log",
        open::RDWR | open::APPEND,
        op::OPEN | op::WRITE_SEND,
    );
    assert!(m("file.name = x.log", &r));
    assert!(
        m("file.directory = /var/log//app/.", &r),
        "dirname does not normalize"
    );
    assert!(m("file.type = f", &r));
    assert!(m("file.path = /var/log//app/./x.log", &r));
    assert!(m("file.newpath = None", &r));
    r.new_file = Some(file("/tmp/y", b'f'));
    assert!(m("file.newpath = /tmp/y", &r));
    assert!(m(
        "file.is_open_write = true and file.is_open_read = true",
        &r
    ));
    assert!(m("file.openflags = RDWR and file.openflags = APPEND", &r));
    let p = process(1, "/bin/mv", "", None);
    let fe = FlatRecord {
        file: Some(file("/a/b", b'd')),
        ..flat(
            Record::FileEvent(FileEvent {
                proc_oid: p.oid,
                ts: 1,
                tid: 1,
                op_flags: op::RENAME,
                file_oid: Foid::default(),
                ret: -2,
                new_file_oid: None,
            }),
            Some(p),
            None,
        )
    };
    assert!(m(
        "file.type = d and opflags = RENAME and ret = \"-2\"",
        &fe
    ));
    assert!(m("ret < 0", &fe));
    assert!(
        m("file.openflags = None", &fe),
        "open flags exist on file flows only"
    );
}

/// Deviation: open flags are decoded correctly (`sysflow_format::flags::open_flag_names`): `RDWR` only when both
/// access bits are set (the reference adds RDWR whenever RDONLY or WRONLY is set), `NONE` for 0, and
/// `file.is_open_write`/`is_open_read` follow (the reference says a read-only open is a write open).
#[test]
fn deviation_open_flags() {
    let r = ff("/etc/passwd", open::RDONLY | open::CLOEXEC, op::OPEN);
    assert!(m("file.openflags = RDONLY", &r));
    assert!(m("file.openflags = CLOEXEC", &r));
    assert!(!m("file.openflags = RDWR", &r), "reference: true");
    assert!(m("file.is_open_write = false", &r), "reference: true");
    assert!(m("file.is_open_read = true", &r));
    let w = ff("/tmp/x", open::WRONLY | open::CREAT | open::TRUNC, op::OPEN);
    assert!(m(
        "file.is_open_write = true and file.is_open_read = false",
        &w
    ));
    assert!(!m("file.openflags = RDWR", &w));
    let z = ff("/tmp/x", 0, op::OPEN);
    assert!(m("file.openflags = NONE", &z));
}

#[test]
fn process_tree_for_aname_and_apid() {
    // init(1) -> bash(7) -> python(42): the tree learns 7 -> 1 from a record of bash, then 42 -> 7.
    let mut query = q("proc.aname contains init");
    assert!(query.uses_process_tree());
    let child = pe(42, "/usr/bin/python", "", Some((7, "/bin/bash")), op::EXEC);
    assert!(!query.matches(&child), "7 -> 1 not seen yet");
    let bash = pe(7, "/bin/bash", "", Some((1, "/sbin/init")), op::EXEC);
    assert!(query.matches(&bash));
    assert!(query.matches(&child), "now 42 -> 7 -> 1");
    let mut apid = q("proc.apid = 1");
    apid.matches(&bash);
    assert!(apid.matches(&child));
    let mut own = q("proc.apid = 42");
    assert!(
        own.matches(&child),
        "the chain starts with the process itself"
    );
    let mut chain = q("proc.aname = /usr/bin/python");
    chain.matches(&bash);
    assert!(chain.matches(&child));
    query.reset();
    let mut tree = crate::ProcessTree::new();
    let shared = q("proc.apid = 1");
    assert!(!shared.evaluate(&child, &mut tree));
    assert!(shared.evaluate(&bash, &mut tree));
    assert!(shared.evaluate(&child, &mut tree));
    assert_eq!(tree.len(), 2);
}

/// Deviation: a cycle in the process tree (pid reuse, corrupt traces) stops the ancestry walk; the reference recurses
/// until RecursionError.
#[test]
fn deviation_process_tree_cycle_terminates() {
    let mut query = q("proc.apid = 5");
    let a = pe(5, "/a", "", Some((6, "/b")), op::EXEC);
    let b = pe(6, "/b", "", Some((5, "/a")), op::EXEC);
    query.matches(&a);
    assert!(query.matches(&b));
    assert!(query.matches(&a));
}

#[test]
fn macros_and_lists_from_definitions() {
    let mut defs = Definitions::new();
    let text = "- list: shells\n  items: [bash, sh]\n- list: interpreters\n  items: [shells, python, \"perl\"]\n\
                - macro: is_shell\n  condition: proc.name in (shells)\n\
                - macro: spawned\n  condition: >\n    type = PE and opflags = EXEC\n\
                - macro: interp\n  condition: proc.name pmatch (interpreters)\n";
    if let Err(e) = defs.load_str(text, "defs.yaml") {
        panic!("{e}");
    }
    assert_eq!(
        defs.list("interpreters"),
        Some(&["shells".to_string(), "python".into(), "perl".into()][..])
    );
    let sh = pe(3, "/bin/sh", "", None, op::EXEC);
    let perl = pe(4, "/usr/bin/perl", "", None, op::EXEC);
    let compile = |e: &str| match defs.compile(e) {
        Ok(q) => q,
        Err(err) => panic!("{e}: {err}"),
    };
    assert!(compile("is_shell and spawned").matches(&sh));
    assert!(!compile("is_shell").matches(&perl));
    assert!(compile("interp").matches(&perl));
    assert!(
        compile("interp").matches(&sh),
        "lists are flattened recursively"
    );
    assert!(compile("not is_shell or spawned").matches(&perl));
    // A list name as a comparison operand is just text.
    assert!(!compile("proc.name = shells").matches(&sh));
}

#[test]
fn definitions_redefine_and_query() {
    let mut defs = Definitions::new();
    let r1 = defs.load_str("- macro: m\n  condition: type = FF\n", "a.yaml");
    let r2 = defs.load_str(
        "- macro: m\n  condition: type = PE\n- sfql: m and proc.pid = 3\n",
        "b.yaml",
    );
    assert!(r1.is_ok() && r2.is_ok());
    assert!(defs.has_query());
    let sh = pe(3, "/bin/sh", "", None, op::EXEC);
    let Ok(mut from_file) = defs.compile("") else {
        panic!("empty query with a defs query")
    };
    assert!(from_file.matches(&sh));
    let Ok(mut qm) = defs.compile("m") else {
        panic!("m")
    };
    assert!(qm.matches(&sh), "the later definition wins");
}

#[test]
fn definition_errors() {
    let mut defs = Definitions::new();
    let ok = defs.load_str(
        "- macro: a\n  condition: b\n- macro: b\n  condition: a\n- list: l\n  items: [l]\n",
        "c.yaml",
    );
    assert!(ok.is_ok());
    let e = defs
        .compile("a")
        .err()
        .map(|e| (e.kind().clone(), e.origin().to_string()));
    assert_eq!(e, Some((ErrorKind::Cycle, "c.yaml".to_string())));
    let e = defs
        .compile("proc.name in (l)")
        .err()
        .map(|e| e.kind().clone());
    assert_eq!(e, Some(ErrorKind::Cycle));
    let e = compile_err("type = PE and nosuchmacro");
    assert_eq!(*e.kind(), ErrorKind::UnknownMacro);
    assert_eq!(e.column(), 15);
    let e = compile_err("proc.tty");
    assert!(e.message().contains("proc.tty exists"), "{e}");
    let e = Query::compile_with_defs("type = PE", &["/nonexistent/defs.yaml"])
        .err()
        .map(|e| e.kind().clone());
    assert_eq!(e, Some(ErrorKind::Io));
    let mut d2 = Definitions::new();
    let e = d2.load_str(
        "- macro: m\n  condition: type = \n- list: x\n  items: []\n",
        "bad.yaml",
    );
    let Err(e) = e else {
        panic!("accepted a broken macro")
    };
    assert_eq!((e.origin(), e.line(), e.column()), ("bad.yaml", 3, 1));
}

/// Deviation: syntax errors are reported (the reference prints an ANTLR message and evaluates a repaired parse, or
/// ignores trailing text: `type = PE garbage` behaves like `type = PE` there).
#[test]
fn deviation_syntax_errors_are_errors() {
    for bad in [
        "type = PE garbage",
        "file.path contains .so",
        "proc.name = none",
        "type = PE and",
        "proc.exe = \"unterminated",
        "proc.pid > -1",
        "(type = PE",
        "type = PE)",
        "type = PE $",
        "in (a)",
    ] {
        let e = compile_err(bad);
        assert_eq!(*e.kind(), ErrorKind::Syntax, "{bad}: {e}");
        assert!(e.to_string().starts_with("query:1:"), "{e}");
    }
}

#[test]
fn lexer_quirks_that_change_results() {
    let r = pe(42, "/bin/sh", "a#b", None, op::EXEC);
    // '#' starts a comment: the query is `proc.args = a`.
    assert!(!m("proc.args = a#b", &r));
    let r2 = pe(42, "/bin/sh", "a", None, op::EXEC);
    assert!(m("proc.args = a#b", &r2));
    assert!(m("proc.args = \"a#b\"", &r));
    // Two empty strings with text between them are one string token.
    let e = pe(1, "", "", None, op::EXEC);
    assert!(
        !m("proc.exe = \"\" or proc.exe = \"\"", &e),
        "the value is ` or proc.exe = `"
    );
    let odd = pe(1, " or proc.exe = ", "", None, op::EXEC);
    assert!(m("proc.exe = \"\" or proc.exe = \"\"", &odd));
    // Digits are IDs: versions and dotted numbers are plain values.
    let v = pe(1, "/bin/x", "1.2.3", None, op::EXEC);
    assert!(m("proc.args = 1.2.3", &v));
}

#[test]
fn rules_enrich_records() {
    let mut defs = Definitions::new();
    let text = "- macro: shell\n  condition: proc.name in (sh, bash)\n\
                - rule: Shell spawned\n  desc: a shell wasn't started.\n  condition: shell and opflags = EXEC\n  \
                action: [alert]\n  priority: medium\n  tags: [mitre:T1059, shell]\n\
                - rule: Any exec\n  desc: exec\n  condition: opflags = EXEC\n  action: [tag]\n  priority: low\n  \
                tags: [exec]\n";
    if let Err(e) = defs.load_str(text, "rules.yaml") {
        panic!("{e}");
    }
    let mut rules = match defs.compile_rules() {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(rules.rules().len(), 2);
    assert_eq!(rules.rules()[0].name(), "Shellspawned");
    assert_eq!(
        rules.rules()[0].desc(),
        "ashellwasn'tstarted.",
        "stray characters are text here"
    );
    assert_eq!(rules.rules()[0].tags(), ["mitre:T1059", "shell"]);
    assert_eq!(rules.rules()[0].actions(), ["alert"]);
    let sh = pe(3, "/bin/sh", "", None, op::EXEC);
    let Some(e) = rules.enrich(&sh) else {
        panic!("no rule matched")
    };
    assert_eq!(e.rules, ["Shellspawned", "Anyexec"]);
    assert_eq!(e.priority, Priority::Medium);
    assert_eq!(e.tags.len(), 3);
    let py = pe(4, "/usr/bin/python", "", None, op::EXEC);
    assert_eq!(rules.enrich(&py).map(|e| e.priority), Some(Priority::Low));
    assert!(rules
        .enrich(&pe(5, "/bin/sh", "", None, op::EXIT))
        .is_none());
}

#[test]
fn attribute_list_matches_the_reference_mapper() {
    // `list(SfqlMapper._mapper)` of sysflow-tools 0.6.1.
    const REFERENCE: &[&str] = &[
        "type",
        "opflags",
        "ret",
        "ts",
        "endts",
        "proc.pid",
        "proc.name",
        "proc.cwd",
        "proc.exe",
        "proc.args",
        "proc.uid",
        "proc.user",
        "proc.tid",
        "proc.gid",
        "proc.group",
        "proc.createts",
        "proc.tty",
        "proc.entry",
        "proc.env",
        "proc.cmdline",
        "proc.aname",
        "proc.apid",
        "pproc.pid",
        "pproc.name",
        "pproc.cwd",
        "pproc.exe",
        "pproc.args",
        "pproc.uid",
        "pproc.user",
        "pproc.gid",
        "pproc.group",
        "pproc.createts",
        "pproc.tty",
        "pproc.entry",
        "pproc.env",
        "pproc.cmdline",
        "file.name",
        "file.path",
        "file.newpath",
        "file.directory",
        "file.type",
        "file.is_open_write",
        "file.is_open_read",
        "file.fd",
        "file.openflags",
        "net.proto",
        "net.sport",
        "net.dport",
        "net.port",
        "net.sip",
        "net.dip",
        "net.ip",
        "flow.rbytes",
        "flow.rops",
        "flow.wbytes",
        "flow.wops",
        "container.id",
        "container.name",
        "container.imageid",
        "container.image",
        "container.type",
        "container.privileged",
        "pf.nthreads",
        "pf.nexits",
        "pf.nerrors",
        "node.id",
        "node.ip",
        "schema",
        "pod.id",
        "pod.name",
        "pod.nname",
        "pod.hostip",
        "pod.internalip",
        "pod.ns",
        "pod.rstrtcnt",
        "filename",
    ];
    let a = attributes();
    assert_eq!(a, REFERENCE);
    assert_eq!(a[0], "type");
    assert_eq!(a[a.len() - 1], "filename");
    assert!(a.contains(&"proc.aname") && a.contains(&"net.ip") && a.contains(&"pod.rstrtcnt"));
    for k in [
        "ts_uts",
        "res",
        "state",
        "tags",
        "k8s.action",
        "proc.duration",
    ] {
        assert!(!a.contains(&k), "{k}");
    }
}

#[test]
fn errors_display_location_and_caret() {
    let e = compile_err("type = PE and");
    assert_eq!(e.to_string(), "query:1:14: unexpected end of input, expected an operand, 'not' or '('\n  type = PE and\n               ^");
}

/// Runs on a thread with half the default test stack (1 MiB), so the nesting limits keep a margin even in debug
/// builds.
#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let t = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(hostile_nesting_checks);
    match t.map(|h| h.join()) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => std::panic::resume_unwind(e),
        Err(e) => panic!("cannot spawn: {e}"),
    }
}

fn hostile_nesting_checks() {
    let deep = format!("{}type = PE{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(*compile_err(&deep).kind(), ErrorKind::Syntax);
    let nots = format!("{}type = PE", "not ".repeat(100_000));
    assert_eq!(*compile_err(&nots).kind(), ErrorKind::Syntax);
    let ok = format!("{}type = PE{}", "(".repeat(60), ")".repeat(60));
    assert!(Query::compile(&ok).is_ok());
    // A chain of macros, each nesting the next, grows past the tree limit.
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&format!("- macro: m{i}\n  condition: not (m{})\n", i + 1));
    }
    text.push_str("- macro: m300\n  condition: type = PE\n");
    let mut defs = Definitions::new();
    assert!(defs.load_str(&text, "chain.yaml").is_ok());
    let e = defs.compile("m0").err().map(|e| e.kind().clone());
    assert_eq!(e, Some(ErrorKind::Syntax));
    // Just under the limits: compiles and evaluates.
    let mut ok = String::new();
    for i in 0..45 {
        ok.push_str(&format!("- macro: k{i}\n  condition: not (k{})\n", i + 1));
    }
    ok.push_str("- macro: k45\n  condition: not (((type = PE)))\n");
    let mut defs = Definitions::new();
    assert!(defs.load_str(&ok, "ok.yaml").is_ok());
    let r = pe(1, "/bin/sh", "", None, op::EXEC);
    match defs.compile("k0") {
        Ok(mut q) => assert!(q.matches(&r), "46 negations"),
        Err(e) => panic!("{e}"),
    }
}

/// Deviation: every record given to a query that uses the process tree is recorded in it, even when evaluation
/// short-circuits before reading any attribute (the reference records on attribute lookups only).
#[test]
fn deviation_tree_records_every_evaluated_record() {
    let bash = pe(7, "/bin/bash", "", Some((1, "/sbin/init")), op::EXEC);
    let child = pe(42, "/usr/bin/python", "", Some((7, "/bin/bash")), op::EXEC);
    let mut tree = crate::ProcessTree::new();
    let first = q("foo exists or proc.apid = 1");
    assert!(first.evaluate(&bash, &mut tree));
    assert_eq!(tree.len(), 1, "reference: 0 (no attribute was read)");
    let second = q("proc.apid = 1");
    assert!(second.evaluate(&child, &mut tree), "reference: no match");
}

#[test]
fn query_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Query>();
    check::<crate::RuleSet>();
    check::<Definitions>();
}

/// Random token soups never panic the compiler, and whatever compiles evaluates.
#[test]
fn random_input_never_panics() {
    const PIECES: &[&str] = &[
        "type",
        "=",
        "PE",
        " ",
        "and",
        "or",
        "not",
        "(",
        ")",
        "in",
        "pmatch",
        ",",
        "[",
        "]",
        "\"",
        "'",
        "\\",
        "exists",
        "proc.pid",
        "<",
        "<=",
        ">",
        ">=",
        "!=",
        "contains",
        "-",
        ":",
        "#",
        "\n",
        "1",
        "x",
        "sf.",
        "é",
        "macro",
        "list",
        "- macro: m\n  condition:",
        "- list: l\n  items:",
        "- sfql:",
        "- rule:",
        "desc:",
        "m",
        "l",
        "proc.aname",
        " type = PE ",
        " and ",
        " or ",
        " not ",
        " proc.pid > 1 ",
        " proc.name in (sh, l) ",
        " proc.apid pmatch (1) ",
        " m ",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let rec = pe(42, "/bin/sh", "a,b", Some((1, "/sbin/init")), op::EXEC);
    let mut compiled = 0;
    for _ in 0..20_000 {
        let n = (next() % 12) as usize + 1;
        let text: String = (0..n)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        if let Ok(mut q) = Query::compile(&text) {
            compiled += 1;
            let _ = q.matches(&rec);
        }
        let mut defs = Definitions::new();
        if defs.load_str(&text, "fuzz.yaml").is_ok() {
            let _ = defs.compile("m").map(|mut q| q.matches(&rec));
            let _ = defs.compile_rules();
        }
    }
    assert!(compiled > 100, "only {compiled} inputs compiled");
}
