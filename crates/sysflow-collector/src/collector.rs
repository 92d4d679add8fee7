//! The user-space half: turns kernel events into SysFlow records.
//!
//! It keeps the process, container and file tables, a mirror of the kernel's flow table (what each flow is: path or
//! socket tuple), writes entities lazily (ancestors root first, each container just before its first process), and
//! exports flows on close, at process exit, at the interval, and with TRUNCATE at shutdown.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use sysflow_format::flags::op;
use sysflow_format::{
    Container, ContainerType, File, FileEvent, FileFlow, Foid, Header, NetworkFlow, ObjectState,
    Oid, Process, ProcessEvent, ProcessFlow, Record,
};

use crate::bpf::FlowTable;
use crate::config::{CollectorConfig, FileReadMode, Mode};
use crate::container;
use crate::events::{Counters, Event, FlowKey, FlowOpen, FlowVal, END_REOPEN};
use crate::filter::{Filter, Subject};
use crate::procfs::{self, Names, ProcSnapshot};
use crate::sink::RecordSink;

/// Counters of the user-space side, logged periodically and at shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserStats {
    /// Kernel events handled.
    pub events: u64,
    /// Records written (headers excluded).
    pub records: u64,
    /// Flow ends whose start was never seen (its record was lost): the flow cannot be written.
    pub orphan_flow_ends: u64,
    /// Processes evicted from the bounded process table.
    pub proc_evictions: u64,
    /// Flows refused because the user-space flow table was full.
    pub flow_table_full: u64,
    /// Flows dropped silently after expiring (no activity for `expire_secs`).
    pub expired_flows: u64,
    /// Segments started (files or stream headers).
    pub segments: u64,
}

#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    ppid: u32,
    oid: Oid,
    poid: Option<Oid>,
    exe: String,
    args: Vec<String>,
    uid: u32,
    gid: u32,
    tty: bool,
    entry: bool,
    cwd: String,
    env: Vec<String>,
    container: Option<String>,
    ts: i64,
    /// Generation (segment) in which the record was last written; 0 = never.
    written: u64,
    /// State for the next lazy write.
    pending: ObjectState,
    exited_at: Option<i64>,
    pflow: Option<PFlow>,
    /// fds of the flows this process owns.
    fds: HashSet<i32>,
    last_seen: u64,
}

#[derive(Debug, Clone, Default)]
struct PFlow {
    ts: i64,
    op_flags: i32,
    cloned: i64,
    exited: i64,
    errors: i64,
    export_time: i64,
}

#[derive(Debug, Clone)]
struct ContainerEnt {
    rec: Container,
    written: u64,
}

#[derive(Debug, Clone)]
enum FlowWhat {
    File {
        foid: Foid,
        path: String,
        restype: u8,
        open_flags: i32,
    },
    Net {
        sip: i32,
        sport: i32,
        dip: i32,
        dport: i32,
        proto: i32,
    },
}

#[derive(Debug, Clone)]
struct FlowMirror {
    start_ts: u64,
    fd: i32,
    tid: u32,
    what: FlowWhat,
    /// Start of the current segment (wall ns).
    seg_ts: i64,
    /// Kernel value at the last export (zero before the first).
    snap: FlowVal,
    first_segment: bool,
    export_time: i64,
    last_change: i64,
}

/// Prefixes of FILE_READ_MODE=2.
const SYSTEM_PREFIXES: &[&str] = &[
    "/proc/",
    "/dev/",
    "/sys/",
    "//sys/",
    "/lib/",
    "/lib64/",
    "/usr/lib/",
    "/usr/lib64/",
];

/// Converts Linux `O_*` open flags (plus `f_mode`) into SysFlow's PPM encoding.
pub fn ppm_open_flags(flags: u32, fmode: u32) -> i32 {
    use sysflow_format::flags::open as p;
    let mut r = match flags & 3 {
        0 => p::RDONLY,
        1 => p::WRONLY,
        2 => p::RDWR,
        _ => 0,
    };
    let map: [(u32, i32); 12] = [
        (0o100, p::CREAT),
        (0o2000, p::APPEND),
        (0o10000, p::DSYNC),
        (0o200, p::EXCL),
        (0o4000, p::NONBLOCK),
        (0o4010000, p::SYNC),
        (0o1000, p::TRUNC),
        (0o40000, p::DIRECT),
        (0o200000, p::DIRECTORY),
        (0o100000, p::LARGEFILE),
        (0o2000000, p::CLOEXEC),
        (0o20200000, p::TMPFILE),
    ];
    for (bit, ppm) in map {
        if flags & bit == bit {
            r |= ppm;
        }
    }
    // FMODE_CREATED: the open created the file
    if fmode & 0x100000 != 0 {
        r |= 1 << 14;
    }
    r
}

/// IPv4 address bytes (network order) as SysFlow's int: read as little-endian. IPv6 addresses keep their last 32
/// bits the same way (an IPv4-mapped address gives its IPv4 address; `::1` gives `0.0.0.1`).
pub fn encode_ip(addr: &[u8; 16], v6: bool) -> i32 {
    let b = if v6 {
        [addr[12], addr[13], addr[14], addr[15]]
    } else {
        [addr[0], addr[1], addr[2], addr[3]]
    };
    i32::from_le_bytes(b)
}

fn proto_code(p: u8) -> i32 {
    match p {
        6 | 17 | 1 | 254 => i32::from(p),
        _ => -1,
    }
}

/// The record builder and state machine.
pub struct Collector<S: RecordSink> {
    cfg: CollectorConfig,
    sink: S,
    header: Header,
    names: Names,
    filter: Option<Filter>,
    proc_root: PathBuf,
    runtimes: container::Runtimes,
    /// Wall-clock ns minus CLOCK_BOOTTIME ns.
    boot_offset: i64,
    gen: u64,
    seg_start: i64,
    tick: u64,
    procs: HashMap<u32, Proc>,
    containers: HashMap<String, ContainerEnt>,
    files: HashMap<Foid, u64>,
    flows: HashMap<(u32, i32), FlowMirror>,
    stats: UserStats,
}

fn exe_args(args: &[String]) -> String {
    args.get(1..).map(|a| a.join(" ")).unwrap_or_default()
}

fn with_slash(cwd: &str) -> String {
    if cwd.is_empty() || cwd.ends_with('/') {
        cwd.to_string()
    } else {
        format!("{cwd}/")
    }
}

impl<S: RecordSink> Collector<S> {
    /// A collector writing to `sink`. `header` is the base header of every segment (`filename` is filled in by the
    /// sink). `boot_offset` converts kernel CLOCK_BOOTTIME ns to wall-clock ns.
    pub fn new(
        cfg: CollectorConfig,
        sink: S,
        header: Header,
        names: Names,
        boot_offset: i64,
    ) -> Collector<S> {
        let proc_root = procfs::proc_root(&cfg.host_root);
        let runtimes = if cfg.container_metadata {
            container::Runtimes::detect(
                &cfg.host_root,
                cfg.cri_path.as_deref(),
                Duration::from_secs(cfg.cri_timeout_secs.max(1)),
            )
        } else {
            container::Runtimes::none()
        };
        Collector {
            cfg,
            sink,
            header,
            names,
            filter: None,
            proc_root,
            runtimes,
            boot_offset,
            gen: 0,
            seg_start: 0,
            tick: 0,
            procs: HashMap::new(),
            containers: HashMap::new(),
            files: HashMap::new(),
            flows: HashMap::new(),
            stats: UserStats::default(),
        }
    }

    /// Drops the activity of processes that do not match `filter` (`-f`).
    pub fn set_filter(&mut self, filter: Option<Filter>) {
        self.filter = filter;
    }

    /// The sink (tests read what was written).
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Gives the sink back.
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// User-space counters.
    pub fn stats(&self) -> UserStats {
        self.stats
    }

    /// Number of flows currently tracked.
    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    /// Starts the first segment and loads the processes that already exist from `/proc`.
    pub fn start(&mut self, now_ns: i64) -> Result<()> {
        for pid in procfs::list_pids(&self.proc_root) {
            self.load_proc(pid);
        }
        self.new_segment(now_ns)
    }

    fn new_segment(&mut self, now_ns: i64) -> Result<()> {
        self.gen += 1;
        self.seg_start = now_ns.div_euclid(1_000_000_000);
        self.stats.segments += 1;
        self.sink.begin(&self.header, self.seg_start)
    }

    /// Rotation and interval work; call about once a second with the wall clock. Starts a new segment when
    /// `rotate_secs` elapsed (or the sink asks), exports flows older than the export interval, and forgets exited
    /// processes.
    pub fn periodic(&mut self, now_ns: i64, rotate_secs: i64, table: &dyn FlowTable) -> Result<()> {
        let now_s = now_ns.div_euclid(1_000_000_000);
        if (rotate_secs > 0 && now_s - self.seg_start >= rotate_secs) || self.sink.needs_reset() {
            self.new_segment(now_ns)?;
        }
        self.export_flows(now_ns, table)?;
        self.export_pflows(now_ns)?;
        // exited processes are kept 2 s for late references (children's parent chains), as sinsp's deferred removal
        let dead: Vec<u32> = self
            .procs
            .values()
            .filter(|p| p.exited_at.is_some_and(|t| now_ns - t > 2_000_000_000) && p.fds.is_empty())
            .map(|p| p.pid)
            .collect();
        for pid in dead {
            self.procs.remove(&pid);
        }
        Ok(())
    }

    fn wall(&self, boot_ns: u64) -> i64 {
        boot_ns as i64 + self.boot_offset
    }

    fn out(&mut self, rec: Record) -> Result<()> {
        self.stats.records += 1;
        self.sink.write(&rec)
    }

    // ---- process table ----

    fn make_proc(&self, s: &ProcSnapshot) -> Proc {
        let container =
            container::id_from_cgroups(s.cgroups.iter().map(String::as_str)).map(|(id, _)| id);
        let exe = if s.exe.is_empty() {
            s.args.first().cloned().unwrap_or_else(|| s.comm.clone())
        } else {
            s.exe.trim_end_matches(" (deleted)").to_string()
        };
        Proc {
            pid: s.pid,
            ppid: s.ppid,
            oid: Oid {
                create_ts: s.start_boot_ns as i64 + self.boot_offset,
                hpid: i64::from(s.pid),
            },
            poid: None,
            exe,
            args: s.args.clone(),
            uid: s.uid,
            gid: s.gid,
            tty: s.tty,
            entry: s.vpid == 1 && s.pid != 1,
            cwd: s.cwd.clone(),
            env: s.env.clone(),
            container,
            ts: s.start_boot_ns as i64 + self.boot_offset,
            written: 0,
            pending: ObjectState::Reup,
            exited_at: None,
            pflow: None,
            fds: HashSet::new(),
            last_seen: self.tick,
        }
    }

    /// Loads `pid` from /proc (if not known). Returns whether it is known afterwards.
    fn load_proc(&mut self, pid: u32) -> bool {
        if self.procs.contains_key(&pid) {
            return true;
        }
        if pid == 0 {
            return false;
        }
        let Some(snap) = procfs::read_process(&self.proc_root, pid) else {
            return false;
        };
        // /proc lists threads only through task/; a tid that is not a tgid still resolves: use its tgid
        let p = self.make_proc(&snap);
        self.insert_proc(p);
        if let Some(c) = self.procs.get(&pid).and_then(|p| p.container.clone()) {
            let ty =
                container::id_from_cgroups(snap.cgroups.iter().map(String::as_str)).map(|x| x.1);
            self.note_container(&c, ty.unwrap_or(ContainerType::Docker));
        }
        true
    }

    fn insert_proc(&mut self, mut p: Proc) {
        if self.procs.len() >= self.cfg.max_procs && !self.procs.contains_key(&p.pid) {
            // evict the least recently seen process without flows
            if let Some(victim) = self
                .procs
                .values()
                .filter(|q| q.fds.is_empty())
                .min_by_key(|q| q.last_seen)
                .map(|q| q.pid)
            {
                self.procs.remove(&victim);
                self.stats.proc_evictions += 1;
            }
        }
        if p.poid.is_none() {
            p.poid = self.procs.get(&p.ppid).map(|pp| pp.oid);
        }
        self.procs.insert(p.pid, p);
    }

    fn note_container(&mut self, id: &str, ty: ContainerType) {
        if !self.containers.contains_key(id) {
            let rec = container::describe(id, ty, &self.runtimes);
            self.containers
                .insert(id.to_string(), ContainerEnt { rec, written: 0 });
        }
    }

    fn proc_record(&self, p: &Proc, state: ObjectState) -> Process {
        Process {
            state,
            oid: p.oid,
            poid: p.poid,
            ts: p.ts,
            exe: p.exe.clone(),
            exe_args: exe_args(&p.args),
            uid: p.uid as i32,
            user_name: self.names.user(p.uid),
            gid: p.gid as i32,
            group_name: self.names.group(p.gid),
            tty: p.tty,
            container_id: p.container.clone(),
            entry: p.entry,
            cwd: with_slash(&p.cwd),
            env: p.env.clone(),
        }
    }

    fn write_container_of(&mut self, pid: u32) -> Result<()> {
        let Some(cid) = self.procs.get(&pid).and_then(|p| p.container.clone()) else {
            return Ok(());
        };
        let gen = self.gen;
        let rec = match self.containers.get_mut(&cid) {
            Some(c) if c.written != gen => {
                c.written = gen;
                c.rec.clone()
            }
            _ => return Ok(()),
        };
        self.out(Record::Container(Box::new(rec)))
    }

    fn write_proc(&mut self, pid: u32, state: ObjectState) -> Result<()> {
        self.write_container_of(pid)?;
        let gen = self.gen;
        let rec = match self.procs.get_mut(&pid) {
            Some(p) => {
                p.written = gen;
                p.pending = ObjectState::Reup;
                p.clone()
            }
            None => return Ok(()),
        };
        let r = self.proc_record(&rec, state);
        self.out(Record::Process(Box::new(r)))
    }

    /// Makes sure `pid` (and its missing ancestors, root first) are written in the current segment. Returns its oid.
    fn ensure_proc(&mut self, pid: u32) -> Result<Option<Oid>> {
        if !self.load_proc(pid) {
            return Ok(None);
        }
        let mut chain = Vec::new();
        let mut cur = pid;
        while let Some(p) = self.procs.get(&cur) {
            if p.written == self.gen || chain.len() >= 64 {
                break;
            }
            chain.push(cur);
            let pp = p.ppid;
            if pp == 0 || pp == cur || !self.load_proc(pp) {
                break;
            }
            cur = pp;
        }
        for (i, pid) in chain.iter().rev().enumerate() {
            let pending = self
                .procs
                .get(pid)
                .map(|p| p.pending)
                .unwrap_or(ObjectState::Reup);
            // ancestors are always REUP; the process itself carries its pending state
            let state = if i + 1 == chain.len() {
                pending
            } else {
                ObjectState::Reup
            };
            // refresh the parent link now that the parent is known
            if let Some(ppid) = self.procs.get(pid).map(|p| p.ppid) {
                let poid = self.procs.get(&ppid).map(|pp| pp.oid);
                if let Some(p) = self.procs.get_mut(pid) {
                    if p.poid.is_none() {
                        p.poid = poid;
                    }
                }
            }
            self.write_proc(*pid, state)?;
        }
        let tick = self.tick;
        Ok(self.procs.get_mut(&pid).map(|p| {
            p.last_seen = tick;
            p.oid
        }))
    }

    fn proc_selected(&self, pid: u32) -> bool {
        let Some(p) = self.procs.get(&pid) else {
            return true;
        };
        if self.cfg.containers_only && p.container.is_none() {
            return false;
        }
        if let Some(f) = &self.filter {
            let c = p
                .container
                .as_ref()
                .and_then(|c| self.containers.get(c))
                .map(|c| &c.rec);
            let uname = self.names.user(p.uid);
            let subject = Subject {
                pid: p.pid,
                ppid: p.ppid,
                exe: &p.exe,
                args: &p.args,
                uid: p.uid,
                user: &uname,
                container: c,
            };
            return f.matches(&subject);
        }
        true
    }

    // ---- event dispatch ----

    /// Handles one kernel event.
    pub fn handle(&mut self, ev: Event, table: &dyn FlowTable) -> Result<()> {
        self.stats.events += 1;
        self.tick += 1;
        match ev {
            Event::Fork {
                ts,
                pid,
                tid,
                child_pid,
                child_tid,
                is_thread,
                child_ppid,
            } => self.on_fork(
                self.wall(ts),
                pid,
                tid,
                child_pid,
                child_tid,
                is_thread,
                child_ppid,
            ),
            Event::Exec {
                ts,
                pid,
                tid,
                ppid,
                uid,
                gid,
                tty,
                vpid,
                exe,
                cwd,
                args,
                env,
                cgroup,
            } => {
                let ts = self.wall(ts);
                self.on_exec(
                    ts, pid, tid, ppid, uid, gid, tty, vpid, exe, cwd, args, env, &cgroup,
                )
            }
            Event::Exit {
                ts,
                pid,
                tid,
                code,
                group_dead,
            } => self.on_exit(self.wall(ts), pid, tid, code, group_dead, table),
            Event::Setuid {
                ts,
                pid,
                tid,
                ret,
                which,
                arg_uid,
                new_uid,
                new_gid,
            } => self.on_setuid(
                self.wall(ts),
                pid,
                tid,
                ret,
                which,
                arg_uid,
                new_uid,
                new_gid,
            ),
            Event::FlowOpen(f) => self.on_flow_open(f),
            Event::FlowEnd {
                ts,
                pid,
                tid,
                start_ts,
                fd,
                op_flags,
                reason,
                counters,
            } => self.on_flow_end(
                self.wall(ts),
                pid,
                tid,
                start_ts,
                fd,
                op_flags,
                reason,
                counters,
            ),
            Event::FileEvent {
                ts,
                pid,
                tid,
                ret,
                op,
                path1,
                path2,
            } => self.on_file_event(self.wall(ts), pid, tid, ret, op, path1, path2),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_fork(
        &mut self,
        ts: i64,
        pid: u32,
        tid: u32,
        child_pid: u32,
        child_tid: u32,
        is_thread: bool,
        child_ppid: u32,
    ) -> Result<()> {
        if !self.load_proc(pid) {
            return Ok(());
        }
        if is_thread {
            if self.cfg.proc_flow {
                if let Some(p) = self.procs.get_mut(&pid) {
                    let pf = p.pflow.get_or_insert_with(|| PFlow {
                        ts,
                        export_time: ts / 1_000_000_000,
                        ..PFlow::default()
                    });
                    pf.op_flags |= op::CLONE;
                    pf.cloned += 1;
                }
                return Ok(());
            }
            if !self.proc_selected(pid) {
                return Ok(());
            }
            let Some(oid) = self.ensure_proc(pid)? else {
                return Ok(());
            };
            self.out(Record::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                ts,
                tid: i64::from(tid),
                op_flags: op::CLONE,
                args: vec![],
                ret: child_tid as i32,
            }))?;
            return self.out(Record::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                ts,
                tid: i64::from(child_tid),
                op_flags: op::CLONE,
                args: vec![],
                ret: 0,
            }));
        }
        // a new process: inherits everything from the caller (as the kernel does) until it execs
        let Some(parent) = self.procs.get(&pid).cloned() else {
            return Ok(());
        };
        let ppid = if child_ppid != 0 { child_ppid } else { pid };
        let child = Proc {
            pid: child_pid,
            ppid,
            oid: Oid {
                create_ts: ts,
                hpid: i64::from(child_pid),
            },
            poid: self.procs.get(&ppid).map(|p| p.oid),
            ts,
            written: 0,
            pending: ObjectState::Created,
            exited_at: None,
            pflow: None,
            fds: HashSet::new(),
            entry: false,
            last_seen: self.tick,
            ..parent
        };
        self.procs.remove(&child_pid);
        self.insert_proc(child);
        if !self.proc_selected(pid) {
            return Ok(());
        }
        let Some(poid) = self.ensure_proc(pid)? else {
            return Ok(());
        };
        self.out(Record::ProcessEvent(ProcessEvent {
            proc_oid: poid,
            ts,
            tid: i64::from(tid),
            op_flags: op::CLONE,
            args: vec![],
            ret: child_pid as i32,
        }))?;
        let Some(coid) = self.ensure_proc(child_pid)? else {
            return Ok(());
        };
        self.out(Record::ProcessEvent(ProcessEvent {
            proc_oid: coid,
            ts,
            tid: i64::from(child_tid),
            op_flags: op::CLONE,
            args: vec![],
            ret: 0,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_exec(
        &mut self,
        ts: i64,
        pid: u32,
        tid: u32,
        ppid: u32,
        uid: u32,
        gid: u32,
        tty: bool,
        vpid: u32,
        exe: String,
        cwd: String,
        args: Vec<String>,
        env: Vec<String>,
        cgroup: &str,
    ) -> Result<()> {
        let cont = container::id_from_component(cgroup);
        if let Some((id, ty)) = &cont {
            self.note_container(id, *ty);
        }
        let exe = if exe.is_empty() {
            args.first().cloned().unwrap_or_default()
        } else {
            exe
        };
        let existed = self.procs.contains_key(&pid);
        if existed {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.exe = exe;
                p.args = args;
                p.env = env;
                p.cwd = cwd;
                p.uid = uid;
                p.gid = gid;
                p.tty = tty;
                p.entry = vpid == 1 && pid != 1;
                p.container = cont.map(|c| c.0);
                p.ts = ts;
                p.ppid = ppid;
            }
        } else {
            let p = Proc {
                pid,
                ppid,
                oid: Oid {
                    create_ts: ts,
                    hpid: i64::from(pid),
                },
                poid: self.procs.get(&ppid).map(|p| p.oid),
                exe,
                args,
                uid,
                gid,
                tty,
                entry: vpid == 1 && pid != 1,
                cwd,
                env,
                container: cont.map(|c| c.0),
                ts,
                written: 0,
                pending: ObjectState::Created,
                exited_at: None,
                pflow: None,
                fds: HashSet::new(),
                last_seen: self.tick,
            };
            self.insert_proc(p);
        }
        if !self.proc_selected(pid) {
            return Ok(());
        }
        let oid = if existed {
            // the parent chain first, then the MODIFIED record, then the event
            if let Some(pp) = self.procs.get(&pid).map(|p| p.ppid) {
                if pp != 0 && pp != pid {
                    self.ensure_proc(pp)?;
                }
            }
            self.write_proc(pid, ObjectState::Modified)?;
            self.procs.get(&pid).map(|p| p.oid)
        } else {
            self.ensure_proc(pid)?
        };
        let Some(oid) = oid else { return Ok(()) };
        self.out(Record::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts,
            tid: i64::from(tid),
            op_flags: op::EXEC,
            args: vec![],
            ret: 0,
        }))
    }

    fn on_exit(
        &mut self,
        ts: i64,
        pid: u32,
        tid: u32,
        code: i32,
        group_dead: bool,
        table: &dyn FlowTable,
    ) -> Result<()> {
        if !self.procs.contains_key(&pid) {
            return Ok(());
        }
        let selected = self.proc_selected(pid);
        if !group_dead {
            if self.cfg.proc_flow {
                if let Some(p) = self.procs.get_mut(&pid) {
                    let pf = p.pflow.get_or_insert_with(|| PFlow {
                        ts,
                        export_time: ts / 1_000_000_000,
                        ..PFlow::default()
                    });
                    pf.op_flags |= op::EXIT;
                    pf.exited += 1;
                }
                return Ok(());
            }
            if !selected {
                return Ok(());
            }
            let Some(oid) = self.ensure_proc(pid)? else {
                return Ok(());
            };
            return self.out(Record::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                ts,
                tid: i64::from(tid),
                op_flags: op::EXIT,
                args: vec![],
                ret: code,
            }));
        }
        if selected {
            let oid = self.ensure_proc(pid)?;
            if let Some(oid) = oid {
                if let Some(pf) = self.procs.get_mut(&pid).and_then(|p| p.pflow.take()) {
                    self.write_pflow(oid, pf, ts, false)?;
                }
            }
        }
        // every flow of the process ends with it
        let fds: Vec<i32> = self
            .procs
            .get(&pid)
            .map(|p| p.fds.iter().copied().collect())
            .unwrap_or_default();
        let mut fds = fds;
        fds.sort_unstable();
        for fd in fds {
            let Some(m) = self.flows.remove(&(pid, fd)) else {
                continue;
            };
            let val = table
                .take(FlowKey { pid, fd }, m.start_ts)
                .unwrap_or(m.snap);
            if selected {
                self.write_flow(pid, &m, &val, ts, op::TRUNCATE, false)?;
            }
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.fds.clear();
            p.exited_at = Some(ts);
        }
        if !selected {
            return Ok(());
        }
        let Some(oid) = self.procs.get(&pid).map(|p| p.oid) else {
            return Ok(());
        };
        self.out(Record::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts,
            tid: i64::from(tid),
            op_flags: op::EXIT,
            args: vec![],
            ret: code,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_setuid(
        &mut self,
        ts: i64,
        pid: u32,
        tid: u32,
        ret: i32,
        which: u32,
        arg_uid: u32,
        new_uid: u32,
        new_gid: u32,
    ) -> Result<()> {
        let existed = self.procs.contains_key(&pid);
        if !self.load_proc(pid) || !self.proc_selected(pid) {
            return Ok(());
        }
        if existed {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.uid = new_uid;
                p.gid = new_gid;
                p.ts = ts;
            }
            if let Some(pp) = self.procs.get(&pid).map(|p| p.ppid) {
                if pp != 0 && pp != pid {
                    self.ensure_proc(pp)?;
                }
            }
            self.write_proc(pid, ObjectState::Modified)?;
        } else {
            self.ensure_proc(pid)?;
        }
        let Some(oid) = self.procs.get(&pid).map(|p| p.oid) else {
            return Ok(());
        };
        let arg = if which == 0 {
            self.names.user_or_number(arg_uid)
        } else {
            String::new()
        };
        self.out(Record::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts,
            tid: i64::from(tid),
            op_flags: op::SETUID,
            args: vec![arg],
            ret,
        }))
    }

    // ---- flows ----

    fn flow_what(&mut self, pid: u32, f: &FlowOpen) -> FlowWhat {
        match f.ftype {
            b'4' | b'6' => {
                let v6 = f.ftype == b'6';
                let local = (encode_ip(&f.laddr, v6), i32::from(f.lport));
                let remote = (encode_ip(&f.raddr, v6), i32::from(f.rport));
                let server = match f.role {
                    0 => false,
                    1 => true,
                    _ => f.lport != 0 && f.rport != 0 && f.lport < f.rport,
                };
                let (s, d) = if server {
                    (remote, local)
                } else {
                    (local, remote)
                };
                FlowWhat::Net {
                    sip: s.0,
                    sport: s.1,
                    dip: d.0,
                    dport: d.1,
                    proto: proto_code(f.proto),
                }
            }
            t => {
                let cid = self
                    .procs
                    .get(&pid)
                    .and_then(|p| p.container.clone())
                    .unwrap_or_default();
                let foid = Foid::compute(&cid, &f.path);
                FlowWhat::File {
                    foid,
                    path: f.path.clone(),
                    restype: t,
                    open_flags: if f.op & op::OPEN as u32 != 0 {
                        ppm_open_flags(f.flags, f.fmode)
                    } else {
                        0
                    },
                }
            }
        }
    }

    fn on_flow_open(&mut self, f: FlowOpen) -> Result<()> {
        let pid = f.pid;
        if !self.load_proc(pid) {
            return Ok(());
        }
        let ts = self.wall(f.start_ts);
        let what = self.flow_what(pid, &f);
        if f.oneshot {
            if !self.proc_selected(pid) {
                return Ok(());
            }
            let m = FlowMirror {
                start_ts: f.start_ts,
                fd: f.fd,
                tid: f.tid,
                what,
                seg_ts: ts,
                snap: FlowVal::default(),
                first_segment: true,
                export_time: 0,
                last_change: 0,
            };
            let v = FlowVal {
                start_ts: f.start_ts,
                tid: f.tid,
                op_flags: f.op,
                ..FlowVal::default()
            };
            return self.write_flow(pid, &m, &v, ts, 0, false);
        }
        if self.flows.len() >= self.cfg.max_flows && !self.flows.contains_key(&(pid, f.fd)) {
            self.stats.flow_table_full += 1;
            return Ok(());
        }
        let secs = ts.div_euclid(1_000_000_000);
        let m = FlowMirror {
            start_ts: f.start_ts,
            fd: f.fd,
            tid: f.tid,
            what,
            seg_ts: ts,
            snap: FlowVal::default(),
            first_segment: true,
            export_time: secs,
            last_change: secs,
        };
        if self.flows.insert((pid, f.fd), m).is_some() {
            // the previous flow on this fd ended without its end record reaching us
            self.stats.orphan_flow_ends += 1;
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.fds.insert(f.fd);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn on_flow_end(
        &mut self,
        ts: i64,
        pid: u32,
        _tid: u32,
        start_ts: u64,
        fd: i32,
        op_flags: u32,
        reason: u32,
        c: Counters,
    ) -> Result<()> {
        let m = match self.flows.get(&(pid, fd)) {
            Some(m) if m.start_ts == start_ts => self.flows.remove(&(pid, fd)),
            _ => None,
        };
        let Some(m) = m else {
            self.stats.orphan_flow_ends += 1;
            return Ok(());
        };
        if let Some(p) = self.procs.get_mut(&pid) {
            p.fds.remove(&fd);
        }
        if !self.proc_selected(pid) {
            return Ok(());
        }
        let v = FlowVal {
            start_ts,
            tid: m.tid,
            op_flags,
            r_ops: c.r_ops,
            w_ops: c.w_ops,
            r_bytes: c.r_bytes,
            w_bytes: c.w_bytes,
        };
        let extra = if reason == END_REOPEN {
            op::TRUNCATE
        } else {
            op::CLOSE
        };
        self.write_flow(pid, &m, &v, ts, extra, false)
    }

    /// Op flags of the segment between `m.snap` and `v`.
    fn segment_ops(m: &FlowMirror, v: &FlowVal) -> i32 {
        if m.first_segment {
            return v.op_flags as i32;
        }
        let mut ops = 0;
        if v.r_ops > m.snap.r_ops {
            ops |= op::READ_RECV;
        }
        if v.w_ops > m.snap.w_ops {
            ops |= op::WRITE_SEND;
        }
        let sticky = (op::MMAP | op::SHUTDOWN | op::SETNS | op::CONNECT) as u32;
        ops |= ((v.op_flags & sticky) & !(m.snap.op_flags & sticky)) as i32;
        ops
    }

    fn is_read_only(ops: i32, open_flags: i32) -> bool {
        use sysflow_format::flags::open;
        if ops & (op::WRITE_SEND | op::MMAP) != 0 {
            return false;
        }
        // the reference's test: RDONLY bit set (which RDWR also has), or reads only
        (open_flags & open::RDONLY) == open::RDONLY || ops & op::READ_RECV != 0
    }

    /// Writes one flow segment: `v` minus the last snapshot, ending at `end_ts`, with `extra` op flags.
    fn write_flow(
        &mut self,
        pid: u32,
        m: &FlowMirror,
        v: &FlowVal,
        end_ts: i64,
        extra: i32,
        bypass_filter: bool,
    ) -> Result<()> {
        let ops = Self::segment_ops(m, v) | extra;
        // writer guard: nothing happened (or only the truncation)
        if ops == 0 || ops == op::TRUNCATE {
            return Ok(());
        }
        if let FlowWhat::File {
            path, open_flags, ..
        } = &m.what
        {
            if !bypass_filter && Self::is_read_only(ops, *open_flags) {
                let skip = match self.cfg.file_read_mode {
                    FileReadMode::All => false,
                    FileReadMode::NoReadOnly => true,
                    FileReadMode::NoReadOnlySystem => {
                        SYSTEM_PREFIXES.iter().any(|p| path.starts_with(p))
                    }
                };
                if skip {
                    return Ok(());
                }
            }
            if self.cfg.mode == Mode::NoFiles {
                return Ok(());
            }
        }
        let Some(oid) = self.ensure_proc(pid)? else {
            return Ok(());
        };
        let r_ops = v.r_ops.saturating_sub(m.snap.r_ops) as i64;
        let w_ops = v.w_ops.saturating_sub(m.snap.w_ops) as i64;
        let r_bytes = v.r_bytes.saturating_sub(m.snap.r_bytes) as i64;
        let w_bytes = v.w_bytes.saturating_sub(m.snap.w_bytes) as i64;
        let fd = m.fd;
        match &m.what {
            FlowWhat::File {
                foid,
                path,
                restype,
                open_flags,
            } => {
                self.ensure_file(pid, *foid, path, *restype, m.seg_ts, ObjectState::Reup)?;
                self.out(Record::FileFlow(FileFlow {
                    proc_oid: oid,
                    ts: m.seg_ts,
                    tid: i64::from(m.tid),
                    op_flags: ops,
                    open_flags: if m.first_segment { *open_flags } else { 0 },
                    end_ts,
                    file_oid: *foid,
                    fd,
                    num_r_recv_ops: r_ops,
                    num_w_send_ops: w_ops,
                    num_r_recv_bytes: r_bytes,
                    num_w_send_bytes: w_bytes,
                }))
            }
            FlowWhat::Net {
                sip,
                sport,
                dip,
                dport,
                proto,
            } => self.out(Record::NetworkFlow(NetworkFlow {
                proc_oid: oid,
                ts: m.seg_ts,
                tid: i64::from(m.tid),
                op_flags: ops,
                end_ts,
                sip: *sip,
                sport: *sport,
                dip: *dip,
                dport: *dport,
                proto: *proto,
                fd,
                num_r_recv_ops: r_ops,
                num_w_send_ops: w_ops,
                num_r_recv_bytes: r_bytes,
                num_w_send_bytes: w_bytes,
            })),
        }
    }

    fn ensure_file(
        &mut self,
        pid: u32,
        foid: Foid,
        path: &str,
        restype: u8,
        ts: i64,
        state: ObjectState,
    ) -> Result<()> {
        if self.files.get(&foid) == Some(&self.gen) {
            return Ok(());
        }
        self.files.insert(foid, self.gen);
        let cid = self.procs.get(&pid).and_then(|p| p.container.clone());
        self.out(Record::File(File {
            state,
            oid: foid,
            ts,
            restype: i32::from(restype),
            path: path.to_string(),
            container_id: cid,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_file_event(
        &mut self,
        ts: i64,
        pid: u32,
        tid: u32,
        ret: i32,
        opf: u32,
        path1: String,
        path2: Option<String>,
    ) -> Result<()> {
        if self.cfg.mode == Mode::NoFiles || !self.load_proc(pid) || !self.proc_selected(pid) {
            return Ok(());
        }
        let Some(oid) = self.ensure_proc(pid)? else {
            return Ok(());
        };
        let opf = opf as i32;
        let cid = self
            .procs
            .get(&pid)
            .and_then(|p| p.container.clone())
            .unwrap_or_default();
        let restype = if opf == op::MKDIR || opf == op::RMDIR {
            b'd'
        } else {
            b'?'
        };
        let first_state = if path2.is_some() {
            ObjectState::Reup
        } else {
            ObjectState::Created
        };
        let f1 = Foid::compute(&cid, &path1);
        self.ensure_file(pid, f1, &path1, restype, ts, first_state)?;
        let f2 = match &path2 {
            Some(p2) => {
                let f2 = Foid::compute(&cid, p2);
                self.ensure_file(pid, f2, p2, restype, ts, ObjectState::Created)?;
                Some(f2)
            }
            None => None,
        };
        self.out(Record::FileEvent(FileEvent {
            proc_oid: oid,
            ts,
            tid: i64::from(tid),
            op_flags: opf,
            file_oid: f1,
            ret,
            new_file_oid: f2,
        }))
    }

    fn write_pflow(&mut self, oid: Oid, pf: PFlow, end_ts: i64, truncate: bool) -> Result<()> {
        let ops = pf.op_flags | if truncate { op::TRUNCATE } else { 0 };
        if pf.op_flags == 0 {
            return Ok(());
        }
        self.out(Record::ProcessFlow(ProcessFlow {
            proc_oid: oid,
            ts: pf.ts,
            num_threads_cloned: pf.cloned,
            op_flags: ops,
            end_ts,
            num_threads_exited: pf.exited,
            num_clone_errors: pf.errors,
        }))
    }

    /// Interval export: flows whose last export is `export_interval_secs` old are written (and re-upped), or
    /// dropped silently when idle for `expire_secs`.
    fn export_flows(&mut self, now_ns: i64, table: &dyn FlowTable) -> Result<()> {
        let now_s = now_ns.div_euclid(1_000_000_000);
        let due: Vec<(u32, i32)> = self
            .flows
            .iter()
            .filter(|(_, m)| now_s - m.export_time >= self.cfg.export_interval_secs)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(m) = self.flows.get(&key).cloned() else {
                continue;
            };
            let fk = FlowKey {
                pid: key.0,
                fd: key.1,
            };
            let Some(v) = table.lookup(fk).filter(|v| v.start_ts == m.start_ts) else {
                // the kernel no longer has it (its end record is on the way, or was lost)
                continue;
            };
            let changed = v != m.snap || m.first_segment;
            let last_change = if changed { now_s } else { m.last_change };
            if !changed && now_s - m.last_change >= self.cfg.expire_secs {
                let _ = table.take(fk, m.start_ts);
                self.flows.remove(&key);
                if let Some(p) = self.procs.get_mut(&key.0) {
                    p.fds.remove(&key.1);
                }
                self.stats.expired_flows += 1;
                continue;
            }
            if self.proc_selected(key.0) {
                self.write_flow(key.0, &m, &v, now_ns, 0, false)?;
            }
            if let Some(mm) = self.flows.get_mut(&key) {
                mm.snap = v;
                mm.seg_ts = now_ns;
                mm.first_segment = false;
                mm.export_time = now_s;
                mm.last_change = last_change;
            }
        }
        Ok(())
    }

    fn export_pflows(&mut self, now_ns: i64) -> Result<()> {
        let now_s = now_ns.div_euclid(1_000_000_000);
        let due: Vec<u32> = self
            .procs
            .values()
            .filter(|p| {
                p.pflow
                    .as_ref()
                    .is_some_and(|f| now_s - f.export_time >= self.cfg.export_interval_secs)
            })
            .map(|p| p.pid)
            .collect();
        for pid in due {
            let Some(pf) = self.procs.get_mut(&pid).and_then(|p| p.pflow.take()) else {
                continue;
            };
            if self.proc_selected(pid) {
                if let Some(oid) = self.ensure_proc(pid)? {
                    self.write_pflow(oid, pf, now_ns, false)?;
                }
            }
        }
        Ok(())
    }

    /// Shutdown: every open flow (network first, then files, per process) and every ProcessFlow is written with
    /// TRUNCATE and `endTs = now`, bypassing FILE_READ_MODE; then the sink is finished.
    pub fn shutdown(&mut self, now_ns: i64, table: &dyn FlowTable) -> Result<()> {
        let mut pids: Vec<u32> = self.procs.keys().copied().collect();
        pids.sort_unstable();
        let mut orphan_pids: Vec<u32> = self
            .flows
            .keys()
            .map(|k| k.0)
            .filter(|p| !self.procs.contains_key(p))
            .collect();
        orphan_pids.sort_unstable();
        orphan_pids.dedup();
        pids.extend(orphan_pids);
        for pid in pids {
            let mut keys: Vec<(u32, i32)> =
                self.flows.keys().filter(|k| k.0 == pid).copied().collect();
            keys.sort_by_key(|k| {
                (
                    matches!(
                        self.flows.get(k).map(|m| &m.what),
                        Some(FlowWhat::File { .. })
                    ),
                    k.1,
                )
            });
            let selected = self.proc_selected(pid);
            for key in keys {
                let Some(m) = self.flows.get(&key).cloned() else {
                    continue;
                };
                let v = table
                    .lookup(FlowKey {
                        pid: key.0,
                        fd: key.1,
                    })
                    .filter(|v| v.start_ts == m.start_ts)
                    .unwrap_or(m.snap);
                if selected {
                    self.write_flow(pid, &m, &v, now_ns, op::TRUNCATE, true)?;
                }
                self.flows.remove(&key);
            }
            if let Some(pf) = self.procs.get_mut(&pid).and_then(|p| p.pflow.take()) {
                if selected {
                    if let Some(oid) = self.ensure_proc(pid)? {
                        self.write_pflow(oid, pf, now_ns, true)?;
                    }
                }
            }
        }
        self.sink.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::events::END_CLOSE;
    use crate::sink::VecSink;

    const S: u64 = 1_000_000_000;

    #[derive(Default)]
    struct Table(RefCell<HashMap<(u32, i32), FlowVal>>);

    impl FlowTable for Table {
        fn lookup(&self, key: FlowKey) -> Option<FlowVal> {
            self.0.borrow().get(&(key.pid, key.fd)).copied()
        }
        fn take(&self, key: FlowKey, start_ts: u64) -> Option<FlowVal> {
            let mut m = self.0.borrow_mut();
            match m.get(&(key.pid, key.fd)) {
                Some(v) if v.start_ts == start_ts => m.remove(&(key.pid, key.fd)),
                _ => None,
            }
        }
    }

    struct Fixture {
        col: Collector<VecSink>,
        table: Table,
        _root: tempfile::TempDir,
    }

    fn fixture(cfg: CollectorConfig) -> Fixture {
        let root = tempfile::tempdir().expect("tempdir");
        let cfg = CollectorConfig {
            host_root: root.path().to_path_buf(),
            container_metadata: false,
            ..cfg
        };
        let header = Header {
            version: 5,
            exporter: "t".into(),
            ip: String::new(),
            filename: String::new(),
        };
        let names = Names::from_texts(
            "root:x:0:0::/:/bin/sh\nbob:x:1000:1000::/:/bin/sh\n",
            "root:x:0:\n",
        );
        let mut col = Collector::new(cfg, VecSink::default(), header, names, 0);
        col.start(0).expect("start");
        Fixture {
            col,
            table: Table::default(),
            _root: root,
        }
    }

    fn exec(pid: u32, ppid: u32, ts: u64, exe: &str) -> Event {
        Event::Exec {
            ts,
            pid,
            tid: pid,
            ppid,
            uid: 1000,
            gid: 0,
            tty: false,
            vpid: pid,
            exe: exe.into(),
            cwd: "/home/bob".into(),
            args: vec![exe.into(), "-x".into()],
            env: vec!["A=1".into()],
            cgroup: String::new(),
        }
    }

    fn open(pid: u32, fd: i32, ts: u64, path: &str, op: u32, flags: u32) -> Event {
        Event::FlowOpen(FlowOpen {
            ts,
            pid,
            tid: pid,
            start_ts: ts,
            fd,
            op,
            flags,
            fmode: 0,
            ino: 1,
            ftype: b'f',
            proto: 0,
            role: 2,
            oneshot: false,
            lport: 0,
            rport: 0,
            laddr: [0; 16],
            raddr: [0; 16],
            path: path.into(),
        })
    }

    fn kinds(recs: &[Record]) -> Vec<String> {
        recs.iter()
            .map(|r| match r {
                Record::Process(p) => format!("P:{}:{}", p.oid.hpid, p.state),
                Record::ProcessEvent(e) => {
                    format!("PE:{}:{}:{}", e.proc_oid.hpid, e.op_flags, e.ret)
                }
                Record::File(f) => format!("F:{}:{}", f.path, f.state),
                Record::FileFlow(f) => format!(
                    "FF:{}:{}:{}",
                    f.op_flags, f.num_r_recv_ops, f.num_r_recv_bytes
                ),
                other => other.kind().code().to_string(),
            })
            .collect()
    }

    #[test]
    fn lifecycle_records_states_and_order() {
        let mut f = fixture(CollectorConfig {
            file_read_mode: FileReadMode::All,
            ..CollectorConfig::default()
        });
        let t = &f.table;
        f.col.handle(exec(100, 0, S, "/bin/sh"), t).expect("exec");
        let fork = Event::Fork {
            ts: 2 * S,
            pid: 100,
            tid: 100,
            child_pid: 101,
            child_tid: 101,
            is_thread: false,
            child_ppid: 100,
        };
        f.col.handle(fork, t).expect("fork");
        f.col
            .handle(exec(101, 100, 3 * S, "/bin/cat"), t)
            .expect("exec");
        f.col
            .handle(open(101, 3, 4 * S, "/tmp/x", op::OPEN as u32, 0o2000000), t)
            .expect("open");
        let end = Event::FlowEnd {
            ts: 5 * S,
            pid: 101,
            tid: 101,
            start_ts: 4 * S,
            fd: 3,
            op_flags: (op::OPEN | op::READ_RECV) as u32,
            reason: END_CLOSE,
            counters: Counters {
                r_ops: 2,
                w_ops: 0,
                r_bytes: 10,
                w_bytes: 0,
            },
        };
        f.col.handle(end, t).expect("close");
        f.col
            .handle(
                Event::Exit {
                    ts: 6 * S,
                    pid: 101,
                    tid: 101,
                    code: 256,
                    group_dead: true,
                },
                t,
            )
            .expect("exit");
        let recs = &f.col.sink().records;
        assert_eq!(
            kinds(recs),
            vec![
                "H",
                "P:100:CREATED",
                "PE:100:2:0",
                "PE:100:1:101",
                "P:101:CREATED",
                "PE:101:1:0",
                "P:101:MODIFIED",
                "PE:101:2:0",
                "F:/tmp/x:REUP",
                "FF:1408:2:10",
                "PE:101:4:256",
            ]
        );
        let Record::FileFlow(ff) = &recs[9] else {
            panic!("flow")
        };
        assert_eq!(
            (ff.ts, ff.end_ts, ff.fd, ff.open_flags),
            (4 * S as i64, 5 * S as i64, 3, 1 | 4096)
        );
        assert_eq!(ff.file_oid, Foid::compute("", "/tmp/x"));
        let Record::Process(p) = &recs[6] else {
            panic!("process")
        };
        assert_eq!(
            p.poid,
            Some(Oid {
                create_ts: S as i64,
                hpid: 100
            })
        );
        assert_eq!(
            (
                p.exe.as_str(),
                p.exe_args.as_str(),
                p.cwd.as_str(),
                p.user_name.as_str()
            ),
            ("/bin/cat", "-x", "/home/bob/", "bob")
        );
    }

    #[test]
    fn rotation_re_emits_entities_as_reup() {
        let mut f = fixture(CollectorConfig {
            file_read_mode: FileReadMode::All,
            ..CollectorConfig::default()
        });
        let t = &f.table;
        f.col.handle(exec(100, 0, S, "/bin/sh"), t).expect("exec");
        let fork = Event::Fork {
            ts: 2 * S,
            pid: 100,
            tid: 100,
            child_pid: 101,
            child_tid: 101,
            is_thread: false,
            child_ppid: 100,
        };
        f.col.handle(fork, t).expect("fork");
        f.col
            .handle(open(101, 3, 3 * S, "/tmp/y", op::OPEN as u32, 1), t)
            .expect("open");
        f.col.periodic(400 * S as i64, 300, t).expect("rotate");
        let n = f.col.sink().records.len();
        let end = Event::FlowEnd {
            ts: 401 * S,
            pid: 101,
            tid: 101,
            start_ts: 3 * S,
            fd: 3,
            op_flags: op::OPEN as u32,
            reason: END_CLOSE,
            counters: Counters::default(),
        };
        f.col.handle(end, t).expect("close");
        let recs = &f.col.sink().records;
        assert!(
            matches!(recs[n - 1], Record::Header(_)),
            "a new segment starts with a header"
        );
        assert_eq!(
            kinds(&recs[n..]),
            vec!["P:100:REUP", "P:101:REUP", "F:/tmp/y:REUP", "FF:1152:0:0"]
        );
    }

    #[test]
    fn interval_export_re_ups_then_expires() {
        let mut f = fixture(CollectorConfig {
            file_read_mode: FileReadMode::All,
            ..CollectorConfig::default()
        });
        f.col
            .handle(exec(100, 0, S, "/bin/sh"), &f.table)
            .expect("exec");
        f.col
            .handle(open(100, 4, 10 * S, "/tmp/z", op::OPEN as u32, 2), &f.table)
            .expect("open");
        let mut v = FlowVal {
            start_ts: 10 * S,
            tid: 100,
            op_flags: (op::OPEN | op::WRITE_SEND) as u32,
            w_ops: 5,
            w_bytes: 50,
            ..FlowVal::default()
        };
        f.table.0.borrow_mut().insert((100, 4), v);
        let before = f.col.sink().records.len();
        f.col
            .periodic(25 * S as i64, 0, &f.table)
            .expect("not yet due");
        assert_eq!(f.col.sink().records.len(), before);
        f.col.periodic(40 * S as i64, 0, &f.table).expect("due");
        v.w_ops = 7;
        v.w_bytes = 70;
        f.table.0.borrow_mut().insert((100, 4), v);
        f.col
            .periodic(70 * S as i64, 0, &f.table)
            .expect("second export");
        let flows: Vec<FileFlow> = f
            .col
            .sink()
            .records
            .iter()
            .filter_map(|r| {
                if let Record::FileFlow(x) = r {
                    Some(x.clone())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(flows.len(), 2);
        assert_eq!(
            (flows[0].ts, flows[0].end_ts, flows[0].op_flags),
            (10 * S as i64, 40 * S as i64, op::OPEN | op::WRITE_SEND)
        );
        assert_eq!(
            (
                flows[0].num_w_send_ops,
                flows[0].num_w_send_bytes,
                flows[0].open_flags
            ),
            (5, 50, 3)
        );
        assert_eq!(
            (flows[1].ts, flows[1].end_ts, flows[1].op_flags),
            (40 * S as i64, 70 * S as i64, op::WRITE_SEND)
        );
        assert_eq!(
            (
                flows[1].num_w_send_ops,
                flows[1].num_w_send_bytes,
                flows[1].open_flags
            ),
            (2, 20, 0)
        );
        // no activity: the export at 100 s writes nothing (guard), the one at 130 s drops the flow silently
        f.col
            .periodic(100 * S as i64, 0, &f.table)
            .expect("idle export");
        f.col.periodic(130 * S as i64, 0, &f.table).expect("expiry");
        assert_eq!(f.col.open_flows(), 0);
        assert!(
            f.table.0.borrow().is_empty(),
            "the kernel entry is removed too"
        );
        assert_eq!(f.col.stats().expired_flows, 1);
        let n = f
            .col
            .sink()
            .records
            .iter()
            .filter(|r| matches!(r, Record::FileFlow(_)))
            .count();
        assert_eq!(n, 2);
    }

    #[test]
    fn read_mode_filters_but_shutdown_bypasses() {
        let mut f = fixture(CollectorConfig::default());
        f.col
            .handle(exec(100, 0, S, "/bin/sh"), &f.table)
            .expect("exec");
        for (fd, path) in [(3, "/usr/lib/libc.so"), (4, "/etc/hosts")] {
            f.col
                .handle(open(100, fd, 2 * S, path, op::OPEN as u32, 0), &f.table)
                .expect("open");
            let end = Event::FlowEnd {
                ts: 3 * S,
                pid: 100,
                tid: 100,
                start_ts: 2 * S,
                fd,
                op_flags: (op::OPEN | op::READ_RECV) as u32,
                reason: END_CLOSE,
                counters: Counters {
                    r_ops: 1,
                    r_bytes: 4,
                    ..Counters::default()
                },
            };
            f.col.handle(end, &f.table).expect("close");
        }
        f.col
            .handle(
                open(100, 5, 4 * S, "/proc/self/stat", op::OPEN as u32, 0),
                &f.table,
            )
            .expect("open");
        f.table.0.borrow_mut().insert(
            (100, 5),
            FlowVal {
                start_ts: 4 * S,
                tid: 100,
                op_flags: (op::OPEN | op::READ_RECV) as u32,
                r_ops: 1,
                r_bytes: 9,
                ..FlowVal::default()
            },
        );
        // a flow ended by a reopen with nothing in it is suppressed by the writer guard
        f.col
            .handle(open(100, 6, 4 * S, "/tmp/w", 0, 0), &f.table)
            .expect("open");
        let reopen = Event::FlowEnd {
            ts: 5 * S,
            pid: 100,
            tid: 100,
            start_ts: 4 * S,
            fd: 6,
            op_flags: 0,
            reason: END_REOPEN,
            counters: Counters::default(),
        };
        f.col.handle(reopen, &f.table).expect("reopen");
        f.col.shutdown(9 * S as i64, &f.table).expect("shutdown");
        let paths: Vec<(String, i32)> = f
            .col
            .sink()
            .records
            .iter()
            .filter_map(|r| {
                if let Record::FileFlow(x) = r {
                    Some(x.clone())
                } else {
                    None
                }
            })
            .map(|x| {
                let p = f.col.sink().records.iter().find_map(|r| match r {
                    Record::File(fi) if fi.oid == x.file_oid => Some(fi.path.clone()),
                    _ => None,
                });
                (p.unwrap_or_default(), x.op_flags)
            })
            .collect();
        assert_eq!(
            paths,
            vec![
                (
                    "/etc/hosts".to_string(),
                    op::OPEN | op::READ_RECV | op::CLOSE
                ),
                (
                    "/proc/self/stat".to_string(),
                    op::OPEN | op::READ_RECV | op::TRUNCATE
                ),
            ]
        );
    }

    #[test]
    fn open_flags_and_ip_encoding() {
        // O_WRONLY|O_CREAT|O_TRUNC → 262 (the reference's observed value), CLOEXEC|RDONLY → 4097
        assert_eq!(ppm_open_flags(0o1 | 0o100 | 0o1000, 0), 262);
        assert_eq!(ppm_open_flags(0o2000000, 0), 4097);
        assert_eq!(ppm_open_flags(0o1 | 0o100 | 0o2000, 0), 14);
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(encode_ip(&a, false), 16777343);
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(encode_ip(&v6, true), 16777216);
        let mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 172, 17, 0, 1];
        assert_eq!(encode_ip(&mapped, true), 16781740);
    }
}
