//! Kernel → user records, mirrored from `src/bpf/events.h`, and their decoder.
//!
//! The C header is the definition; the `#[repr(C)]` structs below mirror it and both sides assert the sizes
//! (`_Static_assert` in C, `const` asserts here). The decoder matches the raw `u32` kind, checks lengths, and turns a
//! record into an owned [`Event`] (paths assembled, strings split).

use std::mem::size_of;

/// Fork / clone (`sched_process_fork`).
pub const EV_FORK: u32 = 10;
/// Successful exec (`sched_process_exec`).
pub const EV_EXEC: u32 = 11;
/// Thread exit (`sched_process_exit`).
pub const EV_EXIT: u32 = 12;
/// setuid / setreuid / setresuid exit.
pub const EV_SETUID: u32 = 13;
/// A flow started (open, accept, connect, or the first read/write/... on an fd).
pub const EV_FLOW_OPEN: u32 = 20;
/// A flow ended in the kernel (close, or an open over a still-tracked fd).
pub const EV_FLOW_END: u32 = 21;
/// mkdir/rmdir/link/symlink/unlink/rename.
pub const EV_FILE_EVENT: u32 = 30;

/// `PATH_SLOT` of events.h.
pub const PATH_SLOT: usize = 2048;
/// `RAW_SLOT` of events.h.
pub const RAW_SLOT: usize = 1024;
/// `ARGS_SLOT` of events.h.
pub const ARGS_SLOT: usize = 4096;
/// `ENV_SLOT` of events.h.
pub const ENV_SLOT: usize = 4096;
/// `CGROUP_SLOT` of events.h.
pub const CGROUP_SLOT: usize = 256;

/// `END_CLOSE`: the flow ended with close().
pub const END_CLOSE: u32 = 1;
/// `END_REOPEN`: a new flow started on the same fd number before a close was seen.
pub const END_REOPEN: u32 = 2;

/// Index of a counter of the kernel's `stats` array.
pub mod stat {
    /// Ring buffer full: a process record (fork/exec/exit/setuid) was lost.
    pub const RB_DROP_PROC: usize = 0;
    /// Ring buffer full: a flow start/end record was lost.
    pub const RB_DROP_FLOW: usize = 1;
    /// Ring buffer full: a file event was lost.
    pub const RB_DROP_FILE_EVENT: usize = 2;
    /// The kernel flow table was full: a flow was not tracked.
    pub const MAP_FULL_FLOWS: usize = 3;
    /// Hits aggregated in the kernel without a record to user space.
    pub const AGG_HITS: usize = 4;
    /// Records submitted to the ring buffer.
    pub const EVENTS: usize = 5;
    /// Program invocations.
    pub const HITS: usize = 6;
    /// Number of counters.
    pub const N: usize = 8;
    /// Names, for logs.
    pub const NAMES: [&str; N] = [
        "rb_drop_proc",
        "rb_drop_flow",
        "rb_drop_file_event",
        "map_full_flows",
        "agg_hits",
        "events",
        "hits",
        "unused",
    ];
}

/// `struct ev_hdr`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RawHdr {
    /// Record kind (`EV_*`).
    pub kind: u32,
    /// Record length in bytes.
    pub len: u32,
    /// CLOCK_BOOTTIME ns.
    pub ts: u64,
    /// Thread group id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawFork {
    hdr: RawHdr,
    child_pid: u32,
    child_tid: u32,
    is_thread: u32,
    child_ppid: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawExecHead {
    hdr: RawHdr,
    ppid: u32,
    uid: u32,
    gid: u32,
    tty: u32,
    vpid: u32,
    exe_len: u16,
    args_len: u16,
    env_len: u16,
    cwd_len: u16,
    cgroup_len: u16,
    pad: u16,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawExit {
    hdr: RawHdr,
    exit_code: i32,
    group_dead: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawSetuid {
    hdr: RawHdr,
    ret: i32,
    which: u32,
    arg_uid: u32,
    new_uid: u32,
    new_gid: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawFlowOpenHead {
    hdr: RawHdr,
    start_ts: u64,
    fd: i32,
    op: u32,
    flags: u32,
    fmode: u32,
    ino: u64,
    ftype: u8,
    proto: u8,
    role: u8,
    oneshot: u8,
    lport: u16,
    rport: u16,
    laddr: [u8; 16],
    raddr: [u8; 16],
    path_len: u32,
    pad: u32,
}

/// `struct ev_flow_end`.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawFlowEnd {
    hdr: RawHdr,
    start_ts: u64,
    fd: i32,
    op_flags: u32,
    reason: u32,
    pad: u32,
    r_ops: u64,
    w_ops: u64,
    r_bytes: u64,
    w_bytes: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawFileEventHead {
    hdr: RawHdr,
    ret: i32,
    op: u32,
    path1_len: u16,
    base1_len: u16,
    path2_len: u16,
    base2_len: u16,
}

/// `struct flow_key`: key of the kernel flow table.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Thread group id.
    pub pid: u32,
    /// File descriptor.
    pub fd: i32,
}

/// `struct flow_val`: the in-kernel aggregate of one (process, fd).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowVal {
    /// Boot-time ns of the flow start (the flow's identity with the key).
    pub start_ts: u64,
    /// Thread that started the flow.
    pub tid: u32,
    /// Op flags seen so far (cumulative).
    pub op_flags: u32,
    /// Read/recv operations (cumulative).
    pub r_ops: u64,
    /// Write/send operations (cumulative).
    pub w_ops: u64,
    /// Bytes read (cumulative).
    pub r_bytes: u64,
    /// Bytes written (cumulative).
    pub w_bytes: u64,
}

const _: () = assert!(size_of::<RawHdr>() == 24);
const _: () = assert!(size_of::<RawFork>() == 40);
const _: () = assert!(size_of::<RawExecHead>() == 24 + 32);
const _: () = assert!(size_of::<RawExit>() == 32);
const _: () = assert!(size_of::<RawSetuid>() == 48);
const _: () = assert!(size_of::<RawFlowOpenHead>() == 24 + 80);
const _: () = assert!(size_of::<RawFlowEnd>() == 24 + 56);
const _: () = assert!(size_of::<RawFileEventHead>() == 24 + 16);
const _: () = assert!(size_of::<FlowKey>() == 8);
const _: () = assert!(size_of::<FlowVal>() == 48);
/// Full size of `struct ev_exec`.
pub const EXEC_SIZE: usize =
    size_of::<RawExecHead>() + 2 * PATH_SLOT + ARGS_SLOT + ENV_SLOT + CGROUP_SLOT;
/// Full size of `struct ev_file_event`.
pub const FILE_EVENT_SIZE: usize = size_of::<RawFileEventHead>() + 2 * RAW_SLOT + 2 * PATH_SLOT;
/// Size of `struct ev_flow_open` without its path.
pub const FLOW_OPEN_HEAD: usize = size_of::<RawFlowOpenHead>();

impl FlowKey {
    /// The key as the bytes the map expects.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..].copy_from_slice(&self.fd.to_ne_bytes());
        b
    }
}

impl FlowVal {
    /// Decodes a map value.
    pub fn from_bytes(b: &[u8]) -> Option<FlowVal> {
        read_pod::<FlowVal>(b)
    }
}

/// Operation counters of a flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Read/recv operations.
    pub r_ops: u64,
    /// Write/send operations.
    pub w_ops: u64,
    /// Bytes read.
    pub r_bytes: u64,
    /// Bytes written.
    pub w_bytes: u64,
}

/// A decoded kernel record. Timestamps are CLOCK_BOOTTIME ns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A task was created by `pid`/`tid`.
    Fork {
        /// Event time.
        ts: u64,
        /// Caller's process.
        pid: u32,
        /// Caller's thread.
        tid: u32,
        /// New task's process.
        child_pid: u32,
        /// New task's thread id.
        child_tid: u32,
        /// Whether the new task is a thread of the caller's process.
        is_thread: bool,
        /// Real parent process of the new task.
        child_ppid: u32,
    },
    /// A process executed a new program.
    Exec {
        /// Event time.
        ts: u64,
        /// Process.
        pid: u32,
        /// Thread.
        tid: u32,
        /// Parent process.
        ppid: u32,
        /// Effective uid.
        uid: u32,
        /// Effective gid.
        gid: u32,
        /// Has a controlling terminal.
        tty: bool,
        /// Pid in its own pid namespace.
        vpid: u32,
        /// Executable path (as seen in the process's mount namespace).
        exe: String,
        /// Working directory.
        cwd: String,
        /// argv (argv\[0] included).
        args: Vec<String>,
        /// Environment.
        env: Vec<String>,
        /// Leaf name of the (cgroup v2) cgroup.
        cgroup: String,
    },
    /// A thread exited.
    Exit {
        /// Event time.
        ts: u64,
        /// Process.
        pid: u32,
        /// Thread.
        tid: u32,
        /// Raw exit code (`task->exit_code`).
        code: i32,
        /// Last thread of the process.
        group_dead: bool,
    },
    /// setuid family returned.
    Setuid {
        /// Event time.
        ts: u64,
        /// Process.
        pid: u32,
        /// Thread.
        tid: u32,
        /// Return value.
        ret: i32,
        /// 0 setuid, 1 setreuid, 2 setresuid.
        which: u32,
        /// The uid argument (setuid) or the effective uid argument (setreuid/setresuid).
        arg_uid: u32,
        /// Effective uid after the call.
        new_uid: u32,
        /// Effective gid after the call.
        new_gid: u32,
    },
    /// A flow started.
    FlowOpen(FlowOpen),
    /// A flow ended in the kernel.
    FlowEnd {
        /// Event time.
        ts: u64,
        /// Process.
        pid: u32,
        /// Thread that ended the flow.
        tid: u32,
        /// Flow identity (with pid, fd).
        start_ts: u64,
        /// File descriptor.
        fd: i32,
        /// Cumulative op flags.
        op_flags: u32,
        /// `END_*`.
        reason: u32,
        /// Cumulative counters.
        counters: Counters,
    },
    /// mkdir/rmdir/link/symlink/unlink/rename.
    FileEvent {
        /// Event time.
        ts: u64,
        /// Process.
        pid: u32,
        /// Thread.
        tid: u32,
        /// Return value.
        ret: i32,
        /// SysFlow op flag.
        op: u32,
        /// First path (absolute when it could be resolved).
        path1: String,
        /// Second path, if the call has one.
        path2: Option<String>,
    },
}

/// A flow start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowOpen {
    /// Event time.
    pub ts: u64,
    /// Process.
    pub pid: u32,
    /// Thread that started the flow.
    pub tid: u32,
    /// Flow identity (with pid, fd).
    pub start_ts: u64,
    /// File descriptor.
    pub fd: i32,
    /// Op flags of the starting syscall (0 for a read/write on an fd not seen before).
    pub op: u32,
    /// Linux `O_*` flags of the open (0 otherwise).
    pub flags: u32,
    /// `f_mode` of the file.
    pub fmode: u32,
    /// Inode number.
    pub ino: u64,
    /// Resource type: `f`, `d`, `p`, `u`, `4` (IPv4 socket), `6` (IPv6 socket).
    pub ftype: u8,
    /// IP protocol for sockets (6, 17, 1, 254 raw).
    pub proto: u8,
    /// 0 client, 1 server, 2 unknown.
    pub role: u8,
    /// The flow is complete (close of an untracked fd; consume-mode open).
    pub oneshot: bool,
    /// Local port.
    pub lport: u16,
    /// Remote port.
    pub rport: u16,
    /// Local address (IPv4 in the first 4 bytes).
    pub laddr: [u8; 16],
    /// Remote address.
    pub raddr: [u8; 16],
    /// Path of files and directories.
    pub path: String,
}

impl Event {
    /// The process the event belongs to.
    pub fn pid(&self) -> u32 {
        match self {
            Event::Fork { pid, .. }
            | Event::Exec { pid, .. }
            | Event::Exit { pid, .. }
            | Event::Setuid { pid, .. }
            | Event::FlowEnd { pid, .. }
            | Event::FileEvent { pid, .. } => *pid,
            Event::FlowOpen(f) => f.pid,
        }
    }
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the record's header or fixed part.
    Short {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// A length field points outside the record.
    Size {
        /// Kind of the record.
        kind: u32,
        /// What was inconsistent.
        what: &'static str,
    },
    /// Unknown record kind.
    UnknownKind(u32),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Short { needed, got } => {
                write!(f, "short record: {got} bytes, needed {needed}")
            }
            DecodeError::Size { kind, what } => {
                write!(f, "record kind {kind}: bad length of {what}")
            }
            DecodeError::UnknownKind(k) => write!(f, "unknown record kind {k}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Reads a plain-old-data struct from the start of `b` (unaligned).
fn read_pod<T: Copy>(b: &[u8]) -> Option<T> {
    if b.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the slice holds at least size_of::<T>() bytes, and every T used here is a #[repr(C)] struct of
    // integers and byte arrays, for which any bit pattern is valid; read_unaligned has no alignment requirement.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}

fn head<T: Copy>(b: &[u8]) -> Result<T, DecodeError> {
    read_pod::<T>(b).ok_or(DecodeError::Short {
        needed: size_of::<T>(),
        got: b.len(),
    })
}

/// Slice of `len` bytes at `off` inside `b`, or a size error.
fn slot<'a>(
    b: &'a [u8],
    kind: u32,
    off: usize,
    cap: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    if len > cap {
        return Err(DecodeError::Size { kind, what });
    }
    b.get(off..off + len)
        .ok_or(DecodeError::Size { kind, what })
}

/// Turns "leaf\0parent\0...\0" into "/.../parent/leaf" ("/" when empty).
pub fn components_to_path(b: &[u8]) -> String {
    let parts: Vec<&[u8]> = b.split(|c| *c == 0).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for p in parts.iter().rev() {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(p));
    }
    s
}

/// Splits a NUL-separated area (argv, environ) into strings; a trailing NUL does not add an empty entry.
pub fn split_nul(b: &[u8]) -> Vec<String> {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    if b.is_empty() {
        return Vec::new();
    }
    b.split(|c| *c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Lexically normalizes an absolute or relative path: drops `.` and empty components and resolves `..`.
pub fn normalize(path: &str) -> String {
    let abs = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !abs {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    if abs {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// Joins a raw path with the components of its base directory (when relative and the base is known).
fn join_base(raw: &[u8], base: &[u8]) -> String {
    let raw = String::from_utf8_lossy(raw).into_owned();
    if raw.starts_with('/') {
        normalize(&raw)
    } else if base.is_empty() {
        raw
    } else {
        normalize(&format!("{}/{}", components_to_path(base), raw))
    }
}

/// Decodes one ring-buffer record.
pub fn decode(b: &[u8]) -> Result<Event, DecodeError> {
    let h: RawHdr = head(b)?;
    match h.kind {
        EV_FORK => {
            let r: RawFork = head(b)?;
            Ok(Event::Fork {
                ts: h.ts,
                pid: h.pid,
                tid: h.tid,
                child_pid: r.child_pid,
                child_tid: r.child_tid,
                is_thread: r.is_thread != 0,
                child_ppid: r.child_ppid,
            })
        }
        EV_EXEC => {
            let r: RawExecHead = head(b)?;
            if b.len() < EXEC_SIZE {
                return Err(DecodeError::Short {
                    needed: EXEC_SIZE,
                    got: b.len(),
                });
            }
            let base = size_of::<RawExecHead>();
            let k = h.kind;
            let exe = slot(b, k, base, PATH_SLOT, r.exe_len as usize, "exe")?;
            let cwd = slot(b, k, base + PATH_SLOT, PATH_SLOT, r.cwd_len as usize, "cwd")?;
            let args = slot(
                b,
                k,
                base + 2 * PATH_SLOT,
                ARGS_SLOT,
                r.args_len as usize,
                "args",
            )?;
            let env = slot(
                b,
                k,
                base + 2 * PATH_SLOT + ARGS_SLOT,
                ENV_SLOT,
                r.env_len as usize,
                "env",
            )?;
            let cg = slot(
                b,
                k,
                base + 2 * PATH_SLOT + ARGS_SLOT + ENV_SLOT,
                CGROUP_SLOT,
                r.cgroup_len as usize,
                "cg",
            )?;
            Ok(Event::Exec {
                ts: h.ts,
                pid: h.pid,
                tid: h.tid,
                ppid: r.ppid,
                uid: r.uid,
                gid: r.gid,
                tty: r.tty != 0,
                vpid: r.vpid,
                exe: if exe.is_empty() {
                    String::new()
                } else {
                    components_to_path(exe)
                },
                cwd: if cwd.is_empty() {
                    String::new()
                } else {
                    components_to_path(cwd)
                },
                args: split_nul(args),
                env: split_nul(env),
                cgroup: cstr(cg),
            })
        }
        EV_EXIT => {
            let r: RawExit = head(b)?;
            Ok(Event::Exit {
                ts: h.ts,
                pid: h.pid,
                tid: h.tid,
                code: r.exit_code,
                group_dead: r.group_dead != 0,
            })
        }
        EV_SETUID => {
            let r: RawSetuid = head(b)?;
            Ok(Event::Setuid {
                ts: h.ts,
                pid: h.pid,
                tid: h.tid,
                ret: r.ret,
                which: r.which,
                arg_uid: r.arg_uid,
                new_uid: r.new_uid,
                new_gid: r.new_gid,
            })
        }
        EV_FLOW_OPEN => {
            let r: RawFlowOpenHead = head(b)?;
            let path = slot(
                b,
                h.kind,
                FLOW_OPEN_HEAD,
                PATH_SLOT,
                r.path_len as usize,
                "path",
            )?;
            let path = match r.ftype {
                b'f' | b'd' => components_to_path(path),
                b'p' => format!("pipe:[{}]", r.ino),
                b'u' => format!("unix:[{}]", r.ino),
                _ => String::new(),
            };
            Ok(Event::FlowOpen(FlowOpen {
                ts: h.ts,
                pid: h.pid,
                tid: h.tid,
                start_ts: r.start_ts,
                fd: r.fd,
                op: r.op,
                flags: r.flags,
                fmode: r.fmode,
                ino: r.ino,
                ftype: r.ftype,
                proto: r.proto,
                role: r.role,
                oneshot: r.oneshot != 0,
                lport: r.lport,
                rport: r.rport,
                laddr: r.laddr,
                raddr: r.raddr,
                path,
            }))
        }
        EV_FLOW_END => {
            let r: RawFlowEnd = head(b)?;
            Ok(Event::FlowEnd {
                ts: h.ts,
                pid: h.pid,
                tid: h.tid,
                start_ts: r.start_ts,
                fd: r.fd,
                op_flags: r.op_flags,
                reason: r.reason,
                counters: Counters {
                    r_ops: r.r_ops,
                    w_ops: r.w_ops,
                    r_bytes: r.r_bytes,
                    w_bytes: r.w_bytes,
                },
            })
        }
        EV_FILE_EVENT => {
            let r: RawFileEventHead = head(b)?;
            if b.len() < FILE_EVENT_SIZE {
                return Err(DecodeError::Short {
                    needed: FILE_EVENT_SIZE,
                    got: b.len(),
                });
            }
            let base = size_of::<RawFileEventHead>();
            let k = h.kind;
            let p1 = slot(b, k, base, RAW_SLOT, r.path1_len as usize, "path1")?;
            let p2 = slot(
                b,
                k,
                base + RAW_SLOT,
                RAW_SLOT,
                r.path2_len as usize,
                "path2",
            )?;
            let b1 = slot(
                b,
                k,
                base + 2 * RAW_SLOT,
                PATH_SLOT,
                r.base1_len as usize,
                "base1",
            )?;
            let b2 = slot(
                b,
                k,
                base + 2 * RAW_SLOT + PATH_SLOT,
                PATH_SLOT,
                r.base2_len as usize,
                "base2",
            )?;
            let two = matches!(r.op, 131072 | 524288 | 1048576);
            let path2 = if !two {
                None
            } else if r.op == 524288 {
                // symlink target: verbatim
                Some(String::from_utf8_lossy(p2).into_owned())
            } else {
                Some(join_base(p2, b2))
            };
            Ok(Event::FileEvent {
                ts: h.ts,
                pid: h.pid,
                tid: h.tid,
                ret: r.ret,
                op: r.op,
                path1: join_base(p1, b1),
                path2,
            })
        }
        k => Err(DecodeError::UnknownKind(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(kind: u32, len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(&(len as u32).to_ne_bytes());
        v.extend_from_slice(&7u64.to_ne_bytes());
        v.extend_from_slice(&100u32.to_ne_bytes());
        v.extend_from_slice(&101u32.to_ne_bytes());
        v
    }

    #[test]
    fn path_components_are_reversed() {
        assert_eq!(components_to_path(b"c.txt\0b\0a\0"), "/a/b/c.txt");
        assert_eq!(components_to_path(b""), "/");
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize("/a/./b/../c//d"), "/a/c/d");
        assert_eq!(normalize("/.."), "/");
        assert_eq!(normalize("./x"), "x");
        assert_eq!(normalize("../x"), "../x");
    }

    #[test]
    fn nul_lists_keep_inner_empties() {
        assert_eq!(split_nul(b"ls\0-l\0"), vec!["ls", "-l"]);
        assert_eq!(split_nul(b"a\0\0b\0"), vec!["a", "", "b"]);
        assert!(split_nul(b"").is_empty());
    }

    #[test]
    fn decodes_flow_end_and_rejects_short_or_unknown() {
        let mut b = hdr(EV_FLOW_END, 80);
        b.extend_from_slice(&5u64.to_ne_bytes());
        b.extend_from_slice(&3i32.to_ne_bytes());
        b.extend_from_slice(&(256u32 | 128).to_ne_bytes());
        b.extend_from_slice(&END_CLOSE.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        for v in [2u64, 1, 10, 4] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        let ev = decode(&b).expect("valid record");
        assert_eq!(
            ev,
            Event::FlowEnd {
                ts: 7,
                pid: 100,
                tid: 101,
                start_ts: 5,
                fd: 3,
                op_flags: 384,
                reason: END_CLOSE,
                counters: Counters {
                    r_ops: 2,
                    w_ops: 1,
                    r_bytes: 10,
                    w_bytes: 4
                }
            }
        );
        assert!(matches!(decode(&b[..40]), Err(DecodeError::Short { .. })));
        assert_eq!(decode(&hdr(99, 24)), Err(DecodeError::UnknownKind(99)));
    }

    #[test]
    fn flow_open_path_length_is_checked() {
        let mut b = hdr(EV_FLOW_OPEN, FLOW_OPEN_HEAD + 4);
        b.resize(FLOW_OPEN_HEAD, 0);
        b[24 + 32] = b'f';
        // path_len = 4000 > PATH_SLOT
        let off = FLOW_OPEN_HEAD - 8;
        b[off..off + 4].copy_from_slice(&4000u32.to_ne_bytes());
        assert!(matches!(decode(&b), Err(DecodeError::Size { .. })));
        b[off..off + 4].copy_from_slice(&4u32.to_ne_bytes());
        b.extend_from_slice(b"x\0y\0");
        match decode(&b) {
            Ok(Event::FlowOpen(f)) => assert_eq!(f.path, "/y/x"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
