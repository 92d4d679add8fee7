//! The exported keys of the reference formatter (`sysflow.formatter._fields` and `_flatten`), their table headers,
//! column widths and descriptions, and the default field lists of `sysprint`.

/// One of the 75 keys the reference `_flatten` exports, in its exact order (the CSV column order and the flat JSON
/// key order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // each variant is documented by its key in `Field::key`
pub enum Field {
    Version,
    Type,
    State,
    OpFlags,
    OpFlagsBitmap,
    Ret,
    Ts,
    TsUts,
    EndTs,
    EndTsUts,
    ProcPid,
    ProcTid,
    ProcUid,
    ProcUser,
    ProcGid,
    ProcGroup,
    ProcCwd,
    ProcExe,
    ProcArgs,
    ProcTty,
    ProcEntry,
    ProcEnv,
    ProcCreateTs,
    PprocPid,
    PprocGid,
    PprocUid,
    PprocGroup,
    PprocTty,
    PprocEntry,
    PprocEnv,
    PprocUser,
    PprocCwd,
    PprocExe,
    PprocArgs,
    PprocCreateTs,
    FileFd,
    FilePath,
    FileNewPath,
    FileType,
    FileOpenFlags,
    NetProto,
    NetSport,
    NetDport,
    NetSip,
    NetDip,
    Res,
    FlowRbytes,
    FlowRops,
    FlowWbytes,
    FlowWops,
    PfNthreads,
    PfNexits,
    PfNerrors,
    ContainerId,
    ContainerName,
    ContainerImageId,
    ContainerImage,
    ContainerType,
    ContainerPrivileged,
    PodId,
    PodName,
    PodNname,
    PodHostIp,
    PodInternalIp,
    PodNs,
    PodRstrtCnt,
    PodServices,
    NodeId,
    NodeIp,
    Filename,
    Schema,
    Tags,
    K8sAction,
    K8sKind,
    K8sMsg,
}

impl Field {
    /// Every exported field in the reference's order.
    pub const ALL: [Field; 75] = [
        Field::Version,
        Field::Type,
        Field::State,
        Field::OpFlags,
        Field::OpFlagsBitmap,
        Field::Ret,
        Field::Ts,
        Field::TsUts,
        Field::EndTs,
        Field::EndTsUts,
        Field::ProcPid,
        Field::ProcTid,
        Field::ProcUid,
        Field::ProcUser,
        Field::ProcGid,
        Field::ProcGroup,
        Field::ProcCwd,
        Field::ProcExe,
        Field::ProcArgs,
        Field::ProcTty,
        Field::ProcEntry,
        Field::ProcEnv,
        Field::ProcCreateTs,
        Field::PprocPid,
        Field::PprocGid,
        Field::PprocUid,
        Field::PprocGroup,
        Field::PprocTty,
        Field::PprocEntry,
        Field::PprocEnv,
        Field::PprocUser,
        Field::PprocCwd,
        Field::PprocExe,
        Field::PprocArgs,
        Field::PprocCreateTs,
        Field::FileFd,
        Field::FilePath,
        Field::FileNewPath,
        Field::FileType,
        Field::FileOpenFlags,
        Field::NetProto,
        Field::NetSport,
        Field::NetDport,
        Field::NetSip,
        Field::NetDip,
        Field::Res,
        Field::FlowRbytes,
        Field::FlowRops,
        Field::FlowWbytes,
        Field::FlowWops,
        Field::PfNthreads,
        Field::PfNexits,
        Field::PfNerrors,
        Field::ContainerId,
        Field::ContainerName,
        Field::ContainerImageId,
        Field::ContainerImage,
        Field::ContainerType,
        Field::ContainerPrivileged,
        Field::PodId,
        Field::PodName,
        Field::PodNname,
        Field::PodHostIp,
        Field::PodInternalIp,
        Field::PodNs,
        Field::PodRstrtCnt,
        Field::PodServices,
        Field::NodeId,
        Field::NodeIp,
        Field::Filename,
        Field::Schema,
        Field::Tags,
        Field::K8sAction,
        Field::K8sKind,
        Field::K8sMsg,
    ];

    /// The exported key (`"proc.pid"`, ...).
    pub fn key(self) -> &'static str {
        KEYS[self as usize]
    }

    /// Looks an exported key up (query-only keys and `idx` are not exported keys).
    pub fn from_key(key: &str) -> Option<Field> {
        KEYS.iter().position(|k| *k == key).map(|i| Field::ALL[i])
    }

    /// The table entry of the field (header, width, description).
    pub fn info(self) -> &'static FieldInfo {
        // Every exported key is in the table; the lookup cannot fail (checked by a unit test).
        let key = self.key();
        FIELD_TABLE
            .iter()
            .find(|f| f.key == key)
            .unwrap_or(&FIELD_TABLE[0])
    }
}

const KEYS: [&str; 75] = [
    "version",
    "type",
    "state",
    "opflags",
    "opflags_bitmap",
    "ret",
    "ts",
    "ts_uts",
    "endts",
    "endts_uts",
    "proc.pid",
    "proc.tid",
    "proc.uid",
    "proc.user",
    "proc.gid",
    "proc.group",
    "proc.cwd",
    "proc.exe",
    "proc.args",
    "proc.tty",
    "proc.entry",
    "proc.env",
    "proc.createts",
    "pproc.pid",
    "pproc.gid",
    "pproc.uid",
    "pproc.group",
    "pproc.tty",
    "pproc.entry",
    "pproc.env",
    "pproc.user",
    "pproc.cwd",
    "pproc.exe",
    "pproc.args",
    "pproc.createts",
    "file.fd",
    "file.path",
    "file.newpath",
    "file.type",
    "file.openflags",
    "net.proto",
    "net.sport",
    "net.dport",
    "net.sip",
    "net.dip",
    "res",
    "flow.rbytes",
    "flow.rops",
    "flow.wbytes",
    "flow.wops",
    "pf.nthreads",
    "pf.nexits",
    "pf.nerrors",
    "container.id",
    "container.name",
    "container.imageid",
    "container.image",
    "container.type",
    "container.privileged",
    "pod.id",
    "pod.name",
    "pod.nname",
    "pod.hostip",
    "pod.internalip",
    "pod.ns",
    "pod.rstrtcnt",
    "pod.services",
    "node.id",
    "node.ip",
    "filename",
    "schema",
    "tags",
    "k8s.action",
    "k8s.kind",
    "k8s.msg",
];

/// One entry of the reference's `_fields` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    /// Key (`"proc.pid"`).
    pub key: &'static str,
    /// Column header of the text table (`"PID"`).
    pub header: &'static str,
    /// Nominal column width of the text table.
    pub width: usize,
    /// Description printed by `sysprint -l`.
    pub description: &'static str,
    /// Whether the key exists only in the query language (never printed).
    pub query_only: bool,
}

const fn fi(
    key: &'static str,
    header: &'static str,
    width: usize,
    description: &'static str,
    q: bool,
) -> FieldInfo {
    FieldInfo {
        key,
        header,
        width,
        description,
        query_only: q,
    }
}

/// The reference's `_fields` table, in its order (the order of `sysprint -l`), including the row index `idx` and
/// the query-only keys.
pub const FIELD_TABLE: &[FieldInfo] = &[
    fi("idx", "Rec #", 6, "Record number", false),
    fi("type", "T", 2, "Record type", false),
    fi("state", "State", 12, "Entity state", false),
    fi("opflags", "Op Flags", 14, "Operation flags", false),
    fi(
        "opflags_bitmap",
        "Op Flags",
        5,
        "Operation flags bitmap",
        false,
    ),
    fi("ret", "Ret", 4, "Return code", false),
    fi("ts", "Start Time", 26, "Record start time", false),
    fi("ts_uts", "Start Time", 21, "Records start timestamp", false),
    fi("endts", "End Time", 26, "Record end time", false),
    fi("endts_uts", "End Time", 21, "Record end timestamp", false),
    fi("proc.pid", "PID", 8, "Process PID", false),
    fi("proc.tid", "TID", 8, "Thread PID", false),
    fi("proc.uid", "UID", 5, "Process user ID", false),
    fi("proc.user", "User", 8, "Process user name", false),
    fi("proc.gid", "GID", 5, "Process group ID", false),
    fi("proc.group", "Group", 8, "Process group name", false),
    fi(
        "proc.apid",
        "A. PIDs",
        20,
        "Process ancestors PIDs (query only)",
        true,
    ),
    fi(
        "proc.aname",
        "A. Proc. Names",
        20,
        "Process ancestors names (query only)",
        true,
    ),
    fi("proc.cwd", "Cwd", 20, "Current working directory ", false),
    fi("proc.exe", "Cmd", 20, "Process command/filename", false),
    fi("proc.args", "Args", 20, "Process command arguments", false),
    fi(
        "proc.name",
        "Proc. Name",
        20,
        "Process name (query only)",
        true,
    ),
    fi(
        "proc.cmdline",
        "Cmd Line",
        20,
        "Process command line (query only)",
        true,
    ),
    fi("proc.tty", "TTY", 5, "Process TTY status", false),
    fi(
        "proc.env",
        "Env",
        30,
        "Process environment variables",
        false,
    ),
    fi(
        "proc.entry",
        "Entry",
        5,
        "Process container entrypoint",
        false,
    ),
    fi(
        "proc.createts",
        "Proc. Creation Time",
        21,
        "Process creation timestamp",
        false,
    ),
    fi("pproc.pid", "PPID", 8, "Parent process ID", false),
    fi("pproc.gid", "PGID", 5, "Parent process group ID", false),
    fi("pproc.uid", "PUID", 5, "Parent process user ID", false),
    fi(
        "pproc.group",
        "PGroup",
        8,
        "Parent process group name",
        false,
    ),
    fi("pproc.tty", "PTTY", 5, "Parent process TTY status", false),
    fi(
        "pproc.env",
        "PEnv",
        30,
        "Parent process environment variables",
        false,
    ),
    fi(
        "pproc.entry",
        "PEntry",
        5,
        "Parent process container entry",
        false,
    ),
    fi("pproc.user", "PUser", 8, "Parent process user name", false),
    fi(
        "pproc.cwd",
        "PCwd",
        20,
        "Parent current working directory ",
        false,
    ),
    fi(
        "pproc.exe",
        "PCmd",
        20,
        "Parent process command/filename",
        false,
    ),
    fi(
        "pproc.args",
        "PArgs",
        20,
        "Parent process command arguments",
        false,
    ),
    fi(
        "pproc.name",
        "PProc. Name",
        20,
        "Parent process name (query only)",
        true,
    ),
    fi(
        "pproc.cmdline",
        "PProc. Cmd Line",
        20,
        "Parent process command line (query only)",
        true,
    ),
    fi(
        "pproc.createts",
        "PProc. Creation Time",
        21,
        "Parent process creation timestamp",
        false,
    ),
    fi("file.fd", "FD", 5, "File descriptor number", false),
    fi("file.path", "Path", 30, "File path", false),
    fi("file.newpath", "New Path", 30, "New file path", false),
    fi("file.name", "File Name", 30, "File name (query only)", true),
    fi(
        "file.directory",
        "Dir",
        30,
        "File directory (query only)",
        true,
    ),
    fi("file.type", "File Type", 8, "File type", false),
    fi(
        "file.is_open_write",
        "W",
        5,
        "File open with write flag (query only)",
        true,
    ),
    fi(
        "file.is_open_read",
        "R",
        5,
        "File open with read flag (query only)",
        true,
    ),
    fi("file.openflags", "Open Flags", 5, "File open flags", false),
    fi("net.proto", "Proto", 5, "Network protocol", false),
    fi("net.sport", "SPort", 5, "Source port", false),
    fi("net.dport", "DPort", 5, "Destination port", false),
    fi(
        "net.port",
        "Port",
        5,
        "Source or destination port (query only)",
        true,
    ),
    fi("net.sip", "SIP", 16, "Source IP", false),
    fi("net.dip", "DIP", 16, "Destination IP", false),
    fi(
        "net.ip",
        "IP",
        5,
        "Source or destination IP (query only)",
        true,
    ),
    fi("res", "Resource", 45, "File or network resource", false),
    fi(
        "flow.rbytes",
        "NoBRead",
        8,
        "Flow bytes read/received",
        false,
    ),
    fi(
        "flow.rops",
        "NoOpsRead",
        8,
        "Flow operations read/received",
        false,
    ),
    fi(
        "flow.wbytes",
        "NoBWrite",
        8,
        "Flow bytes written/sent",
        false,
    ),
    fi(
        "flow.wops",
        "NoOpsWrite",
        8,
        "Flow bytes written/sent",
        false,
    ),
    fi("container.id", "Cont ID", 12, "Container ID", false),
    fi("container.name", "Cont Name", 12, "Container name", false),
    fi(
        "container.imageid",
        "Image ID",
        12,
        "Container image ID",
        false,
    ),
    fi(
        "container.image",
        "Image Name",
        12,
        "Container image name",
        false,
    ),
    fi("container.type", "Cont Type", 8, "Container type", false),
    fi(
        "container.privileged",
        "Privileged",
        5,
        "Container privilege status",
        false,
    ),
    fi("pf.nthreads", "NoThreads", 8, "Threads created", false),
    fi("pf.nexits", "NoThrExits", 8, "Threads exited", false),
    fi("pf.nerrors", "NoThrErrs", 8, "Clone errors", false),
    fi("pod.id", "Pod Id", 12, "Pod Identifier", false),
    fi("pod.name", "Pod Name", 30, "Pod Name", false),
    fi("pod.nname", "Pod Node Name", 12, "Pod Node Name", false),
    fi("pod.hostip", "Pod Host IP", 16, "Pod Host IP", false),
    fi(
        "pod.internalip",
        "Pod Intern IP",
        16,
        "Pod Internal IP",
        false,
    ),
    fi("pod.ns", "Pod Namespace", 12, "Pod Namespace", false),
    fi("pod.rstrtcnt", "Rstrt Cnt", 9, "Pod Restart Count", false),
    fi("pod.services", "Pod Services", 100, "Pod Services", false),
    fi("k8s.action", "K8s EV Action", 25, "K8s Event Action", false),
    fi(
        "k8s.kind",
        "K8s EV Comp Type",
        26,
        "K8s Event Component Type",
        false,
    ),
    fi("k8s.msg", "K8s EV Msg", 100, "K8s Event Message", false),
    fi("node.id", "Node ID", 12, "Node identifier", false),
    fi("node.ip", "Node IP", 16, "Node IP address", false),
    fi("tags", "Tags", 10, "Enrichment tags", false),
    fi("schema", "SF Schema", 8, "SysFlow schema version", false),
    fi(
        "version",
        "API version",
        8,
        "SysFlow JSON schema version",
        false,
    ),
    fi(
        "filename",
        "File name",
        15,
        "SysFlow trace file name",
        false,
    ),
];

/// Looks a key of the `_fields` table up (exported, `idx` or query-only).
pub fn field_info(key: &str) -> Option<&'static FieldInfo> {
    FIELD_TABLE.iter().find(|f| f.key == key)
}

/// The default columns of the text table.
pub const DEFAULT_FIELDS: &[&str] = &[
    "ts_uts",
    "type",
    "proc.exe",
    "proc.args",
    "pproc.pid",
    "proc.pid",
    "proc.tid",
    "opflags",
    "res",
    "flow.rbytes",
    "flow.wbytes",
    "container.id",
];

/// The default columns of the text table with `-K` (Kubernetes events).
pub const K8S_EVENT_FIELDS: &[&str] = &["ts_uts", "type", "k8s.action", "k8s.kind", "k8s.msg"];

/// The lines `sysprint -l` prints, each ending with `\n`: every `_fields` entry as `'{:<40} {:<40}'` between rules.
pub fn list_text() -> String {
    let rule = "-".repeat(30);
    let mut s = String::new();
    s.push_str(&rule);
    s.push_str("\nList of attributes:\n");
    s.push_str(&rule);
    s.push('\n');
    for f in FIELD_TABLE {
        s.push_str(&format!("{:<40} {:<40}\n", f.key, f.description));
    }
    s.push_str(&rule);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exported_key_has_a_table_entry() {
        for f in Field::ALL {
            let info = field_info(f.key()).unwrap_or_else(|| panic!("{}", f.key()));
            assert_eq!(info.key, f.key());
            assert!(!info.query_only);
            assert_eq!(f.info().key, f.key());
            assert_eq!(Field::from_key(f.key()), Some(f));
        }
        // 75 exported keys + idx + 12 query-only keys.
        assert_eq!(FIELD_TABLE.len(), 75 + 1 + 12);
        assert_eq!(FIELD_TABLE.iter().filter(|f| f.query_only).count(), 12);
        assert_eq!(Field::from_key("idx"), None);
        assert_eq!(Field::from_key("proc.name"), None);
    }

    #[test]
    fn list_pads_like_python() {
        let text = list_text();
        let line = text.lines().nth(3).unwrap_or_default();
        assert_eq!(line, format!("{:<40} {:<40}", "idx", "Record number"));
        assert_eq!(line.len(), 81);
        assert_eq!(text.lines().count(), FIELD_TABLE.len() + 4);
    }
}
