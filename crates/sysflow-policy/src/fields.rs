//! The SysFlow field table: every `sf.*` attribute and Falco alias, and how its value is extracted from a
//! [`FlatRecord`].
//!
//! This is the one definition of field values shared by the policy engine and the exporters (JSON/ECS encoders):
//! [`Field::value`] returns the typed value of a field exactly as the reference flattener + field mapper compute it
//! (with the documented [`Compat::Fixed`] corrections by default).
//!
//! ```
//! use sysflow_policy::fields::{Compat, Field};
//! assert_eq!(Field::lookup("sf.proc.exe", Compat::Fixed), Some(Field::ProcExe));
//! // `fd.name` is the full path in Falco; the reference maps it to the basename.
//! assert_eq!(Field::lookup("fd.name", Compat::Fixed), Some(Field::FilePath));
//! assert_eq!(Field::lookup("fd.name", Compat::Reference), Some(Field::FileName));
//! assert_eq!(Field::lookup("sf.typo", Compat::Fixed), None);
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use sysflow_format::flags::{op, open};
use sysflow_format::{
    ContainerType, FlatRecord, K8sAction, K8sComponent, Process, Record, RecordKind, Service,
};

/// Which behaviour to follow where the reference implementation is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compat {
    /// Fix the reference bugs listed in the crate README (default): Falco aliases (`evt.type`, `evt.rawres`,
    /// `fd.name`, `proc.tty`, `proc.createtime`, `container.id`), `sf.container.type` of host processes, doubled flow
    /// counters, integer compares on `sf.pproc.uid/gid/tty/entry`, shared-slot garbage, priority `alert`.
    #[default]
    Fixed,
    /// Reproduce the reference (sf-processor 0.7.0) behaviour bug for bug where it is deterministic.
    Reference,
}

/// A typed field value.
///
/// The reference renders every value as a string before string comparisons; multi-valued fields are joined with
/// commas. [`Value`] keeps the parts apart (no joining on the hot path); [`Value::render`] produces the reference's
/// string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// An integer.
    Int(i64),
    /// A boolean (rendered `true`/`false`).
    Bool(bool),
    /// A multi-valued string field (the reference joins it with `,`).
    Strs(Vec<Cow<'a, str>>),
    /// A multi-valued integer field (the reference joins it with `,`).
    Ints(Vec<i64>),
    /// Pod services (export only; rendered as JSON text).
    Services(&'a [Service]),
}

impl Value<'_> {
    /// The reference's string rendering (multi-valued fields joined with `,`).
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s);
        s
    }

    /// Appends the reference's string rendering to `out`.
    pub fn render_into(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Strs(v) => {
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(s);
                }
            }
            Value::Ints(v) => {
                for (i, n) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{n}");
                }
            }
            Value::Services(s) => services_json(s, out),
        }
    }

    /// Whether the value is Go's zero value (`""`, `0`, `false`, empty): what `exists` tests.
    pub fn is_zero(&self) -> bool {
        match self {
            Value::Str(s) => s.is_empty(),
            Value::Int(i) => *i == 0,
            Value::Bool(b) => !*b,
            Value::Strs(v) => v.is_empty() || (v.len() == 1 && v[0].is_empty()),
            Value::Ints(v) => v.is_empty(),
            Value::Services(s) => s.is_empty(),
        }
    }
}

macro_rules! fields {
    ($( $(#[$m:meta])* $var:ident = $name:literal ),+ $(,)?) => {
        /// A field the policy engine and the exporters know. Falco aliases resolve to one of these
        /// ([`Field::lookup`]); the `Falco*` variants exist only as alias targets in [`Compat::Fixed`] mode.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Field {
            $( $(#[$m])* $var ),+
        }

        impl Field {
            /// Every field, in declaration order.
            pub const ALL: &'static [Field] = &[$(Field::$var),+];

            /// The canonical name (`sf.proc.exe`; Falco-only targets carry their Falco name).
            pub fn name(self) -> &'static str {
                match self { $(Field::$var => $name),+ }
            }
        }
    };
}

fields! {
    /// `sf.type`: record type code (`PE`, `FF`, ...).
    Type = "sf.type",
    /// `sf.opflags`: operation names.
    OpFlags = "sf.opflags",
    /// `sf.ret`: return value (PE/FE).
    Ret = "sf.ret",
    /// `sf.ts`: start timestamp.
    Ts = "sf.ts",
    /// `sf.endts`: end timestamp (flows; KE: ts).
    EndTs = "sf.endts",
    /// `sf.proc.oid`: hex xxhash64 of pid and create time.
    ProcOid = "sf.proc.oid",
    /// `sf.proc.pid`.
    ProcPid = "sf.proc.pid",
    /// `sf.proc.name`: basename of the executable.
    ProcName = "sf.proc.name",
    /// `sf.proc.exe`.
    ProcExe = "sf.proc.exe",
    /// `sf.proc.args`.
    ProcArgs = "sf.proc.args",
    /// `sf.proc.uid`.
    ProcUid = "sf.proc.uid",
    /// `sf.proc.user`.
    ProcUser = "sf.proc.user",
    /// `sf.proc.tid`.
    ProcTid = "sf.proc.tid",
    /// `sf.proc.gid`.
    ProcGid = "sf.proc.gid",
    /// `sf.proc.group`.
    ProcGroup = "sf.proc.group",
    /// `sf.proc.createts`.
    ProcCreateTs = "sf.proc.createts",
    /// `sf.proc.tty`.
    ProcTty = "sf.proc.tty",
    /// `sf.proc.entry`.
    ProcEntry = "sf.proc.entry",
    /// `sf.proc.cmdline`: exe + " " + args.
    ProcCmdline = "sf.proc.cmdline",
    /// `sf.proc.aname`: names of the process and its ancestors.
    ProcAName = "sf.proc.aname",
    /// `sf.proc.aexe`: executables of the process and its ancestors.
    ProcAExe = "sf.proc.aexe",
    /// `sf.proc.acmdline`: command lines of the process and its ancestors.
    ProcACmdline = "sf.proc.acmdline",
    /// `sf.proc.apid`: pids of the process and its ancestors.
    ProcAPid = "sf.proc.apid",
    /// `sf.pproc.oid`.
    PProcOid = "sf.pproc.oid",
    /// `sf.pproc.pid`.
    PProcPid = "sf.pproc.pid",
    /// `sf.pproc.name`.
    PProcName = "sf.pproc.name",
    /// `sf.pproc.exe`.
    PProcExe = "sf.pproc.exe",
    /// `sf.pproc.args`.
    PProcArgs = "sf.pproc.args",
    /// `sf.pproc.uid`.
    PProcUid = "sf.pproc.uid",
    /// `sf.pproc.user`.
    PProcUser = "sf.pproc.user",
    /// `sf.pproc.gid`.
    PProcGid = "sf.pproc.gid",
    /// `sf.pproc.group`.
    PProcGroup = "sf.pproc.group",
    /// `sf.pproc.createts`.
    PProcCreateTs = "sf.pproc.createts",
    /// `sf.pproc.tty`.
    PProcTty = "sf.pproc.tty",
    /// `sf.pproc.entry`.
    PProcEntry = "sf.pproc.entry",
    /// `sf.pproc.cmdline`.
    PProcCmdline = "sf.pproc.cmdline",
    /// `sf.file.name`: basename of the path.
    FileName = "sf.file.name",
    /// `sf.file.path`.
    FilePath = "sf.file.path",
    /// `sf.file.symlink`: the `a->b` part of a socket path.
    FileSymlink = "sf.file.symlink",
    /// `sf.file.oid`: hex FOID.
    FileOid = "sf.file.oid",
    /// `sf.file.directory`.
    FileDirectory = "sf.file.directory",
    /// `sf.file.newname`.
    FileNewName = "sf.file.newname",
    /// `sf.file.newpath`.
    FileNewPath = "sf.file.newpath",
    /// `sf.file.newsymlink`.
    FileNewSymlink = "sf.file.newsymlink",
    /// `sf.file.newoid`.
    FileNewOid = "sf.file.newoid",
    /// `sf.file.newdirectory`.
    FileNewDirectory = "sf.file.newdirectory",
    /// `sf.file.type`: resource type character.
    FileType = "sf.file.type",
    /// `sf.file.is_open_write`.
    FileIsOpenWrite = "sf.file.is_open_write",
    /// `sf.file.is_open_read`.
    FileIsOpenRead = "sf.file.is_open_read",
    /// `sf.file.fd`.
    FileFd = "sf.file.fd",
    /// `sf.file.openflags`: open flag names.
    FileOpenFlags = "sf.file.openflags",
    /// `sf.net.proto`.
    NetProto = "sf.net.proto",
    /// `sf.net.sport`.
    NetSport = "sf.net.sport",
    /// `sf.net.dport`.
    NetDport = "sf.net.dport",
    /// `sf.net.port`: source and destination ports.
    NetPort = "sf.net.port",
    /// `sf.net.sip`.
    NetSip = "sf.net.sip",
    /// `sf.net.dip`.
    NetDip = "sf.net.dip",
    /// `sf.net.ip`: source and destination addresses.
    NetIp = "sf.net.ip",
    /// `sf.flow.rbytes`.
    FlowRBytes = "sf.flow.rbytes",
    /// `sf.flow.rops`.
    FlowROps = "sf.flow.rops",
    /// `sf.flow.wbytes`.
    FlowWBytes = "sf.flow.wbytes",
    /// `sf.flow.wops`.
    FlowWOps = "sf.flow.wops",
    /// `sf.container.id`.
    ContainerId = "sf.container.id",
    /// `sf.container.name`.
    ContainerName = "sf.container.name",
    /// `sf.container.imageid`.
    ContainerImageId = "sf.container.imageid",
    /// `sf.container.image`.
    ContainerImage = "sf.container.image",
    /// `sf.container.type`.
    ContainerType = "sf.container.type",
    /// `sf.container.privileged` (0/1).
    ContainerPrivileged = "sf.container.privileged",
    /// `sf.pod.ts`.
    PodTs = "sf.pod.ts",
    /// `sf.pod.id`.
    PodId = "sf.pod.id",
    /// `sf.pod.name`.
    PodName = "sf.pod.name",
    /// `sf.pod.nodename`.
    PodNodeName = "sf.pod.nodename",
    /// `sf.pod.namespace`.
    PodNamespace = "sf.pod.namespace",
    /// `sf.pod.restartcnt`.
    PodRestartCount = "sf.pod.restartcnt",
    /// `sf.pod.hostip`: JSON text (jsonpath-able).
    PodHostIpJson = "sf.pod.hostip",
    /// `sf.pod.hostip+`: host IPs (export).
    PodHostIp = "sf.pod.hostip+",
    /// `sf.pod.internalip`: JSON text.
    PodInternalIpJson = "sf.pod.internalip",
    /// `sf.pod.internalip+`: internal IPs (export).
    PodInternalIp = "sf.pod.internalip+",
    /// `sf.pod.services`: JSON text.
    PodServicesJson = "sf.pod.services",
    /// `sf.pod.services+`: services (export).
    PodServices = "sf.pod.services+",
    /// `sf.ke.action`.
    KeAction = "sf.ke.action",
    /// `sf.ke.kind`.
    KeKind = "sf.ke.kind",
    /// `sf.ke.message`: JSON text.
    KeMessage = "sf.ke.message",
    /// `sf.node.id`.
    NodeId = "sf.node.id",
    /// `sf.node.ip`.
    NodeIp = "sf.node.ip",
    /// `sf.meta.schema`.
    MetaSchema = "sf.meta.schema",
    /// `sf.meta.tracename`.
    MetaTraceName = "sf.meta.tracename",
    /// Falco `evt.type` (fixed): Falco event type names (`execve`, `open`, ...).
    FalcoEvtType = "evt.type",
    /// Falco `evt.dir`: the constant pair `>`, `<`.
    FalcoEvtDir = "evt.dir",
    /// Falco `container.id` (fixed): `host` when there is no container.
    FalcoContainerId = "container.id",
}

/// Falco aliases: (name, target in reference mode, target in fixed mode).
const ALIASES: &[(&str, Field, Field)] = {
    use Field::*;
    &[
        ("evt.type", OpFlags, FalcoEvtType),
        ("evt.rawres", Type, Ret),
        ("evt.rawtime", Ts, Ts),
        ("evt.dir", FalcoEvtDir, FalcoEvtDir),
        ("evt.is_open_read", FileIsOpenRead, FileIsOpenRead),
        ("evt.is_open_write", FileIsOpenWrite, FileIsOpenWrite),
        ("evt.arg.uid", ProcUid, ProcUid),
        ("fd.typechar", FileType, FileType),
        ("fd.directory", FileDirectory, FileDirectory),
        ("fd.name", FileName, FilePath),
        ("fd.filename", FileName, FileName),
        ("fd.proto", NetProto, NetProto),
        ("fd.lproto", NetProto, NetProto),
        ("fd.l4proto", NetProto, NetProto),
        ("fd.rproto", NetProto, NetProto),
        ("fd.sproto", NetProto, NetProto),
        ("fd.cproto", NetProto, NetProto),
        ("fd.sport", NetSport, NetSport),
        ("fd.dport", NetDport, NetDport),
        ("fd.sip", NetSip, NetSip),
        ("fd.dip", NetDip, NetDip),
        ("fd.ip", NetIp, NetIp),
        ("fd.port", NetPort, NetPort),
        ("fd.num", FileFd, FileFd),
        ("user.name", ProcUser, ProcUser),
        ("proc.pid", ProcPid, ProcPid),
        ("proc.tid", ProcTid, ProcTid),
        ("proc.gid", ProcGid, ProcGid),
        ("proc.uid", ProcUid, ProcUid),
        ("proc.group", ProcGroup, ProcGroup),
        ("proc.tty", PProcTty, ProcTty),
        ("proc.user", ProcUser, ProcUser),
        ("proc.exe", ProcExe, ProcExe),
        ("proc.name", ProcName, ProcName),
        ("proc.args", ProcArgs, ProcArgs),
        ("proc.createtime", PProcCreateTs, ProcCreateTs),
        ("proc.cmdline", ProcCmdline, ProcCmdline),
        ("proc.aname", ProcAName, ProcAName),
        ("proc.apid", ProcAPid, ProcAPid),
        ("proc.ppid", PProcPid, PProcPid),
        ("proc.pgid", PProcGid, PProcGid),
        ("proc.puid", PProcUid, PProcUid),
        ("proc.pgroup", PProcGroup, PProcGroup),
        ("proc.ptty", PProcTty, PProcTty),
        ("proc.puser", PProcUser, PProcUser),
        ("proc.pexe", PProcExe, PProcExe),
        ("proc.pargs", PProcArgs, PProcArgs),
        ("proc.pcreatetime", PProcCreateTs, PProcCreateTs),
        ("proc.pname", PProcName, PProcName),
        ("proc.pcmdline", PProcCmdline, PProcCmdline),
        ("container.id", ContainerId, FalcoContainerId),
        ("container.image.id", ContainerImageId, ContainerImageId),
        ("container.image", ContainerImage, ContainerImage),
        ("container.name", ContainerName, ContainerName),
        ("container.type", ContainerType, ContainerType),
        (
            "container.privileged",
            ContainerPrivileged,
            ContainerPrivileged,
        ),
    ]
};

/// How a field reaches integer comparisons (`<`, `<=`, `>`, `>=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntKind {
    /// An int64 in the reference: compares by value.
    Int,
    /// Compares by value only in fixed mode (reference: always 0).
    FixedOnly,
    /// Not an integer (the reference parses the field *name*, which gives 0).
    None,
}

impl Field {
    /// Resolves a field name or Falco alias. `None` = not a field: the reference then treats the name as a literal.
    pub fn lookup(name: &str, compat: Compat) -> Option<Field> {
        if name.starts_with("sf.") {
            return Field::ALL[..Field::FalcoEvtType as usize]
                .iter()
                .copied()
                .find(|f| f.name() == name);
        }
        ALIASES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, reference, fixed)| {
                if compat == Compat::Reference {
                    reference
                } else {
                    fixed
                }
            })
    }

    /// Every Falco alias name the engine accepts.
    pub fn alias_names() -> impl Iterator<Item = &'static str> {
        ALIASES.iter().map(|(n, _, _)| *n)
    }

    /// The fields the reference exports (JSON export), in its key order: by number of dot-separated sections, then
    /// by byte order of the name.
    pub fn exported() -> Vec<Field> {
        let mut v: Vec<Field> = Field::ALL[..Field::FalcoEvtType as usize].to_vec();
        v.retain(|f| {
            !matches!(
                f,
                Field::PodHostIpJson | Field::PodInternalIpJson | Field::PodServicesJson
            )
        });
        v.sort_by(|a, b| {
            let (na, nb) = (a.name(), b.name());
            na.split('.')
                .count()
                .cmp(&nb.split('.').count())
                .then(na.cmp(nb))
        });
        v
    }

    fn int_kind(self) -> IntKind {
        use Field::*;
        match self {
            Ret | Ts | EndTs | ProcPid | ProcUid | ProcTid | ProcGid | ProcCreateTs | ProcTty
            | ProcEntry | PProcPid | PProcCreateTs | FileFd | NetProto | NetSport | NetDport
            | FlowRBytes | FlowROps | FlowWBytes | FlowWOps | ContainerPrivileged | PodTs
            | PodRestartCount | MetaSchema => IntKind::Int,
            PProcUid | PProcGid | PProcTty | PProcEntry | FileIsOpenRead | FileIsOpenWrite => {
                IntKind::FixedOnly
            }
            _ => IntKind::None,
        }
    }

    /// Whether [`Field::value`] is always a [`Value::Int`] for this field.
    pub fn is_always_int(self) -> bool {
        use Field::*;
        matches!(
            self,
            Ret | Ts
                | EndTs
                | ProcPid
                | ProcUid
                | ProcTid
                | ProcGid
                | ProcCreateTs
                | PProcPid
                | PProcCreateTs
                | PProcUid
                | PProcGid
                | FileFd
                | NetProto
                | NetSport
                | NetDport
                | FlowRBytes
                | FlowROps
                | FlowWBytes
                | FlowWOps
                | ContainerPrivileged
                | PodTs
                | PodRestartCount
                | MetaSchema
        )
    }

    /// Whether computing this field allocates or hashes (worth caching per record).
    pub fn is_expensive(self) -> bool {
        use Field::*;
        matches!(
            self,
            OpFlags
                | ProcOid
                | ProcCmdline
                | ProcAName
                | ProcAExe
                | ProcACmdline
                | ProcAPid
                | PProcOid
                | PProcCmdline
                | FileOid
                | FileNewOid
                | FileSymlink
                | FileNewSymlink
                | FileDirectory
                | FileNewDirectory
                | FileOpenFlags
                | NetPort
                | NetSip
                | NetDip
                | NetIp
                | PodHostIpJson
                | PodInternalIpJson
                | PodServicesJson
                | PodHostIp
                | PodInternalIp
                | FalcoEvtType
        )
    }

    /// Whether the value depends only on the record's process context: its process, parent, ancestors, container,
    /// pod and header (not on the event/flow itself, its record type or its files). Such values are the same for
    /// every record that links the same entities, which lets the engine cache conditions on them per process.
    pub(crate) fn is_process_scoped(self) -> bool {
        use Field::*;
        matches!(
            self,
            ProcOid
                | ProcPid
                | ProcName
                | ProcExe
                | ProcArgs
                | ProcUid
                | ProcUser
                | ProcGid
                | ProcGroup
                | ProcCreateTs
                | ProcTty
                | ProcEntry
                | ProcCmdline
                | ProcAName
                | ProcAExe
                | ProcACmdline
                | ProcAPid
                | PProcOid
                | PProcPid
                | PProcName
                | PProcExe
                | PProcArgs
                | PProcUid
                | PProcUser
                | PProcGid
                | PProcGroup
                | PProcCreateTs
                | PProcTty
                | PProcEntry
                | PProcCmdline
                | ContainerId
                | ContainerName
                | ContainerImageId
                | ContainerImage
                | ContainerType
                | ContainerPrivileged
                | PodTs
                | PodId
                | PodName
                | PodNodeName
                | PodNamespace
                | PodRestartCount
                | PodHostIpJson
                | PodHostIp
                | PodInternalIpJson
                | PodInternalIp
                | PodServicesJson
                | PodServices
                | NodeId
                | NodeIp
                | MetaSchema
                | MetaTraceName
                | FalcoEvtDir
                | FalcoContainerId
        )
    }

    /// Whether the value depends only on the record's type and its file entities (`file`, `new_file`): such values
    /// are the same for every record of one type linking the same files.
    pub(crate) fn is_file_scoped(self) -> bool {
        use Field::*;
        matches!(
            self,
            FileName
                | FilePath
                | FileSymlink
                | FileOid
                | FileDirectory
                | FileType
                | FileNewName
                | FileNewPath
                | FileNewSymlink
                | FileNewOid
                | FileNewDirectory
        )
    }

    /// The value used by integer comparisons, as the reference computes it (`MapInt`): `Some` for integer fields,
    /// `None` when the reference falls back to parsing the field *name* (which yields 0).
    pub fn int_value(self, rec: &FlatRecord, compat: Compat) -> Option<i64> {
        match self.int_kind() {
            IntKind::None => None,
            IntKind::FixedOnly if compat == Compat::Reference => None,
            _ => match self.value(rec, compat) {
                Value::Int(i) => Some(i),
                Value::Bool(b) => Some(b as i64),
                _ => None,
            },
        }
    }

    /// The typed value of this field for `rec`.
    pub fn value<'a>(self, rec: &'a FlatRecord, compat: Compat) -> Value<'a> {
        use Field::*;
        let v = View {
            rec,
            kind: rec.kind(),
            compat,
        };
        match self {
            Type => Value::Str(Cow::Borrowed(type_code(v.kind))),
            OpFlags => Value::Strs(op_names(v.opflags(), v.kind).map(Cow::Borrowed).collect()),
            FalcoEvtType => Value::Strs(
                evt_type_names(v.opflags(), v.kind)
                    .map(Cow::Borrowed)
                    .collect(),
            ),
            FalcoEvtDir => Value::Strs(vec![Cow::Borrowed(">"), Cow::Borrowed("<")]),
            Ret => Value::Int(match v.kind {
                RecordKind::ProcessEvent | RecordKind::FileEvent => v.slot25(),
                _ => 0,
            }),
            Ts => Value::Int(v.ts()),
            EndTs => Value::Int(match v.kind {
                RecordKind::FileFlow | RecordKind::NetworkFlow => v.slot25(),
                RecordKind::K8sEvent => v.ts(),
                _ => 0,
            }),
            ProcOid => Value::Str(Cow::Owned(oid_hash(v.proc_hpid(), v.proc_createts()))),
            ProcPid => Value::Int(v.proc_hpid()),
            ProcName => Value::Str(go_base(v.proc_s(|p| &p.exe))),
            ProcExe => Value::Str(v.proc_str(|p| &p.exe)),
            ProcArgs => Value::Str(v.proc_str(|p| &p.exe_args)),
            ProcUid => Value::Int(v.proc().map_or(0, |p| p.uid as i64)),
            ProcUser => Value::Str(v.proc_str(|p| &p.user_name)),
            ProcTid => Value::Int(v.tid()),
            ProcGid => Value::Int(v.proc().map_or(0, |p| p.gid as i64)),
            ProcGroup => Value::Str(v.proc_str(|p| &p.group_name)),
            ProcCreateTs => Value::Int(v.proc_createts()),
            ProcTty => Value::Bool(v.proc().is_some_and(|p| p.tty)),
            ProcEntry => Value::Bool(v.proc().is_some_and(|p| p.entry)),
            ProcCmdline => {
                let exe = v.proc_str(|p| &p.exe);
                let args = v.proc_str(|p| &p.exe_args);
                Value::Str(Cow::Owned(format!("{exe} {args}")))
            }
            ProcAName => Value::Strs(ancestors(rec).map(|p| go_base(trim(&p.exe))).collect()),
            ProcAExe => Value::Strs(
                ancestors(rec)
                    .map(|p| Cow::Borrowed(trim(&p.exe)))
                    .collect(),
            ),
            ProcACmdline => Value::Strs(ancestors(rec).map(cmdline_no_trailing).collect()),
            ProcAPid => Value::Ints(ancestors(rec).map(|p| p.oid.hpid).collect()),
            PProcOid => Value::Str(Cow::Owned(oid_hash(v.poid_hpid(), v.poid_createts()))),
            PProcPid => Value::Int(v.poid_hpid()),
            PProcCreateTs => Value::Int(v.poid_createts()),
            PProcName => Value::Str(
                v.parent()
                    .map_or(Cow::Borrowed(""), |p| go_base(trim(&p.exe))),
            ),
            PProcExe => Value::Str(Cow::Borrowed(v.parent().map_or("", |p| trim(&p.exe)))),
            PProcArgs => Value::Str(Cow::Borrowed(v.parent().map_or("", |p| trim(&p.exe_args)))),
            PProcUser => Value::Str(Cow::Borrowed(v.parent().map_or("", |p| trim(&p.user_name)))),
            PProcGroup => Value::Str(Cow::Borrowed(
                v.parent().map_or("", |p| trim(&p.group_name)),
            )),
            PProcCmdline => Value::Str(v.parent().map_or(Cow::Borrowed(""), cmdline_no_trailing)),
            PProcUid => Value::Int(v.parent().map_or(0, |p| p.uid as i64)),
            PProcGid => Value::Int(v.parent().map_or(0, |p| p.gid as i64)),
            PProcTty => match v.parent() {
                Some(p) => Value::Bool(p.tty),
                None => Value::Int(0),
            },
            PProcEntry => match v.parent() {
                Some(p) => Value::Bool(p.entry),
                None => Value::Int(0),
            },
            FileName => Value::Str(go_base(v.file_path_raw())),
            FilePath => Value::Str(Cow::Borrowed(parse_sym_path(v.file_path_raw()).0)),
            FileSymlink => Value::Str(parse_sym_path(v.file_path_raw()).1),
            FileOid => Value::Str(Cow::Owned(
                v.file().map(|f| f.oid.to_hex()).unwrap_or_default(),
            )),
            FileDirectory => Value::Str(go_dir(parse_sym_path(v.file_path_raw()).0)),
            FileNewName => Value::Str(go_base(v.new_path_raw())),
            FileNewPath => Value::Str(Cow::Borrowed(parse_sym_path(v.new_path_raw()).0)),
            FileNewSymlink => Value::Str(parse_sym_path(v.new_path_raw()).1),
            FileNewOid => Value::Str(Cow::Owned(
                v.new_file().map(|f| f.oid.to_hex()).unwrap_or_default(),
            )),
            FileNewDirectory => Value::Str(go_dir(parse_sym_path(v.new_path_raw()).0)),
            FileType => {
                let t = v.file().map_or(0, |f| f.restype);
                Value::Str(Cow::Owned(
                    char::from_u32(t as u32).unwrap_or('\u{fffd}').to_string(),
                ))
            }
            FileIsOpenRead => Value::Bool(v.slot31() & open::RDONLY as i64 != 0),
            FileIsOpenWrite => Value::Bool(v.slot31() & open::WRONLY as i64 != 0),
            FileFd => Value::Int(v.slot26()),
            FileOpenFlags => Value::Strs(open_names(v.slot31()).map(Cow::Borrowed).collect()),
            NetProto => Value::Int(v.net(|n| n.proto)),
            NetSport => Value::Int(v.net(|n| n.sport)),
            NetDport => Value::Int(v.net(|n| n.dport)),
            NetPort => Value::Ints(vec![v.net(|n| n.sport), v.net(|n| n.dport)]),
            NetSip => Value::Str(Cow::Owned(ip_str(v.sip()))),
            NetDip => Value::Str(Cow::Owned(ip_str(v.net(|n| n.dip)))),
            NetIp => Value::Strs(vec![
                Cow::Owned(ip_str(v.sip())),
                Cow::Owned(ip_str(v.net(|n| n.dip))),
            ]),
            FlowRBytes => Value::Int(v.flow(|c| c.2)),
            FlowROps => Value::Int(v.flow(|c| c.0)),
            FlowWBytes => Value::Int(v.flow(|c| c.3)),
            FlowWOps => Value::Int(v.flow(|c| c.1)),
            ContainerId => Value::Str(Cow::Borrowed(
                rec.container.as_ref().map_or("", |c| c.id.as_str()),
            )),
            FalcoContainerId => Value::Str(Cow::Borrowed(
                rec.container.as_ref().map_or("host", |c| c.id.as_str()),
            )),
            ContainerName => Value::Str(Cow::Borrowed(
                rec.container.as_ref().map_or("", |c| trim(&c.name)),
            )),
            ContainerImageId => Value::Str(Cow::Borrowed(
                rec.container.as_ref().map_or("", |c| c.imageid.as_str()),
            )),
            ContainerImage => Value::Str(Cow::Borrowed(
                rec.container.as_ref().map_or("", |c| trim(&c.image)),
            )),
            ContainerType => Value::Str(Cow::Borrowed(match &rec.container {
                Some(c) => cont_type(c.container_type),
                None if compat == Compat::Reference => "DOCKER",
                None => "host",
            })),
            ContainerPrivileged => {
                Value::Int(rec.container.as_ref().is_some_and(|c| c.privileged) as i64)
            }
            PodTs => Value::Int(rec.pod.as_ref().map_or(0, |p| p.ts)),
            PodId => Value::Str(Cow::Borrowed(
                rec.pod.as_ref().map_or("", |p| p.id.as_str()),
            )),
            PodName => Value::Str(Cow::Borrowed(
                rec.pod.as_ref().map_or("", |p| trim(&p.name)),
            )),
            PodNodeName => Value::Str(Cow::Borrowed(
                rec.pod.as_ref().map_or("", |p| trim(&p.node_name)),
            )),
            PodNamespace => Value::Str(Cow::Borrowed(
                rec.pod.as_ref().map_or("", |p| trim(&p.namespace)),
            )),
            PodRestartCount => Value::Int(rec.pod.as_ref().map_or(0, |p| p.restart_count)),
            PodHostIpJson => Value::Str(Cow::Owned(
                rec.pod
                    .as_ref()
                    .map_or_else(String::new, |p| ips_json(&p.host_ip)),
            )),
            PodInternalIpJson => Value::Str(Cow::Owned(
                rec.pod
                    .as_ref()
                    .map_or_else(String::new, |p| ips_json(&p.internal_ip)),
            )),
            PodServicesJson => {
                Value::Str(Cow::Owned(rec.pod.as_ref().map_or_else(String::new, |p| {
                    let mut s = String::new();
                    services_json(&p.services, &mut s);
                    s
                })))
            }
            PodHostIp => Value::Strs(rec.pod.as_ref().map_or_else(Vec::new, |p| {
                p.host_ip.iter().map(|&i| Cow::Owned(ip_str(i))).collect()
            })),
            PodInternalIp => Value::Strs(rec.pod.as_ref().map_or_else(Vec::new, |p| {
                p.internal_ip
                    .iter()
                    .map(|&i| Cow::Owned(ip_str(i)))
                    .collect()
            })),
            PodServices => {
                Value::Services(rec.pod.as_ref().map_or(&[][..], |p| p.services.as_slice()))
            }
            KeAction => Value::Str(Cow::Borrowed(match &rec.record {
                Record::K8sEvent(k) => k.action.symbol(),
                _ => K8sAction::Added.symbol(),
            })),
            KeKind => Value::Str(Cow::Borrowed(match &rec.record {
                Record::K8sEvent(k) => k.kind.symbol(),
                _ => K8sComponent::Nodes.symbol(),
            })),
            KeMessage => Value::Str(Cow::Borrowed(match &rec.record {
                Record::K8sEvent(k) => k.message.trim_end_matches(['\n', '\0']),
                _ => "",
            })),
            NodeId => Value::Str(Cow::Borrowed(
                rec.header.as_ref().map_or("", |h| h.exporter.as_str()),
            )),
            NodeIp => Value::Str(Cow::Borrowed(
                rec.header.as_ref().map_or("", |h| h.ip.as_str()),
            )),
            MetaSchema => Value::Int(rec.header.as_ref().map_or(0, |h| h.version)),
            MetaTraceName => Value::Str(go_base(
                rec.header.as_ref().map_or("", |h| h.filename.as_str()),
            )),
        }
    }
}

impl Field {
    /// The reference's string rendering of this field (same as `self.value(rec, compat).render()`), without
    /// intermediate vectors for the multi-valued fields.
    pub fn render(self, rec: &FlatRecord, compat: Compat) -> Cow<'_, str> {
        fn join<'a>(it: impl Iterator<Item = &'a str>) -> String {
            let mut s = String::with_capacity(64);
            for (i, x) in it.enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(x);
            }
            s
        }
        let kind = rec.kind();
        match self {
            Field::OpFlags => Cow::Owned(join(op_names(rec.record.op_flags().unwrap_or(0), kind))),
            Field::FalcoEvtType => Cow::Owned(join(evt_type_names(
                rec.record.op_flags().unwrap_or(0),
                kind,
            ))),
            Field::ProcCmdline => {
                let p = rec.process.as_deref();
                let (exe, args) = p.map_or(("", ""), |p| (trim(&p.exe), trim(&p.exe_args)));
                let mut s = String::with_capacity(exe.len() + args.len() + 1);
                s.push_str(exe);
                s.push(' ');
                s.push_str(args);
                Cow::Owned(s)
            }
            Field::ProcAName => {
                let mut it = ancestors(rec);
                match (it.next(), it.next()) {
                    (Some(p), None) => go_base(trim(&p.exe)),
                    _ => Cow::Owned(join(ancestors(rec).map(|p| match go_base(trim(&p.exe)) {
                        Cow::Borrowed(b) => b,
                        Cow::Owned(_) => ".",
                    }))),
                }
            }
            Field::ProcAExe => Cow::Owned(join(ancestors(rec).map(|p| trim(&p.exe)))),
            _ => match self.value(rec, compat) {
                Value::Str(s) => s,
                Value::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
                v => Cow::Owned(v.render()),
            },
        }
    }
}

/// The process and its ancestors, nearest first (the reference's `ptree`, which includes the process itself).
///
/// Follows `FlatRecord::lineage`: the process, its parent, then the ancestors the flattener knows (grandparent first).
pub fn ancestors(rec: &FlatRecord) -> impl Iterator<Item = &Process> {
    rec.lineage().map(|p| &**p)
}

/// Network counters of a flow: (rops, wops, rbytes, wbytes).
type Counters = (i64, i64, i64, i64);

struct NetSlots {
    sport: i64,
    dip: i64,
    dport: i64,
    proto: i64,
}

/// Slot-level access mirroring the reference flat record (slots 22+ are shared between record types).
struct View<'a> {
    rec: &'a FlatRecord,
    kind: RecordKind,
    compat: Compat,
}

impl<'a> View<'a> {
    fn proc(&self) -> Option<&'a Process> {
        self.rec.process.as_deref()
    }
    fn parent(&self) -> Option<&'a Process> {
        self.proc().and(self.rec.parent.as_deref())
    }
    fn proc_str(&self, f: impl Fn(&'a Process) -> &'a String) -> Cow<'a, str> {
        Cow::Borrowed(self.proc_s(f))
    }
    fn proc_s(&self, f: impl Fn(&'a Process) -> &'a String) -> &'a str {
        self.proc().map_or("", |p| trim(f(p)))
    }
    fn proc_hpid(&self) -> i64 {
        self.proc().map_or(0, |p| p.oid.hpid)
    }
    fn proc_createts(&self) -> i64 {
        self.proc().map_or(0, |p| p.oid.create_ts)
    }
    fn poid_hpid(&self) -> i64 {
        self.proc().and_then(|p| p.poid).map_or(0, |o| o.hpid)
    }
    fn poid_createts(&self) -> i64 {
        self.proc().and_then(|p| p.poid).map_or(0, |o| o.create_ts)
    }
    fn file(&self) -> Option<&'a sysflow_format::File> {
        match self.kind {
            RecordKind::FileFlow | RecordKind::FileEvent => self.rec.file.as_deref(),
            _ => None,
        }
    }
    fn new_file(&self) -> Option<&'a sysflow_format::File> {
        match self.kind {
            RecordKind::FileEvent => self.rec.new_file.as_deref(),
            _ => None,
        }
    }
    fn file_path_raw(&self) -> &'a str {
        self.file().map_or("", |f| trim(&f.path))
    }
    fn new_path_raw(&self) -> &'a str {
        self.new_file().map_or("", |f| trim(&f.path))
    }
    fn ts(&self) -> i64 {
        match &self.rec.record {
            Record::ProcessEvent(r) => r.ts,
            Record::FileFlow(r) => r.ts,
            Record::FileEvent(r) => r.ts,
            Record::NetworkFlow(r) => r.ts,
            Record::K8sEvent(r) => r.ts,
            Record::NetworkEvent(r) => r.ts,
            Record::ProcessFlow(r) => r.ts,
            other => other.ts().unwrap_or(0),
        }
    }
    fn tid(&self) -> i64 {
        match &self.rec.record {
            Record::ProcessEvent(r) => r.tid,
            Record::FileFlow(r) => r.tid,
            Record::FileEvent(r) => r.tid,
            Record::NetworkFlow(r) => r.tid,
            Record::NetworkEvent(r) => r.tid,
            _ => 0,
        }
    }
    fn opflags(&self) -> i32 {
        self.rec.record.op_flags().unwrap_or(0)
    }
    /// Slot 25: ret (PE/FE) or end timestamp (FF/NF).
    fn slot25(&self) -> i64 {
        match &self.rec.record {
            Record::ProcessEvent(r) => r.ret as i64,
            Record::FileEvent(r) => r.ret as i64,
            Record::FileFlow(r) => r.end_ts,
            Record::NetworkFlow(r) => r.end_ts,
            Record::ProcessFlow(r) => r.end_ts,
            Record::NetworkEvent(r) => r.ret as i64,
            _ => 0,
        }
    }
    /// Slot 26: fd (FF/NF); the new file's state on FE in the reference.
    fn slot26(&self) -> i64 {
        match &self.rec.record {
            Record::FileFlow(r) => r.fd as i64,
            Record::NetworkFlow(r) => r.fd as i64,
            Record::FileEvent(_) if self.compat == Compat::Reference => {
                self.new_file().map_or(0, |f| f.state.ordinal() as i64)
            }
            _ => 0,
        }
    }
    /// Slot 31: open flags (FF); the source IP on NF in the reference.
    fn slot31(&self) -> i64 {
        match &self.rec.record {
            Record::FileFlow(r) => r.open_flags as i64,
            Record::NetworkFlow(r) if self.compat == Compat::Reference => r.sip as i64,
            _ => 0,
        }
    }
    fn sip(&self) -> i64 {
        match &self.rec.record {
            Record::NetworkFlow(r) => r.sip as i64,
            Record::NetworkEvent(r) => r.sip as i64,
            Record::FileFlow(r) if self.compat == Compat::Reference => r.open_flags as i64,
            _ => 0,
        }
    }
    fn net(&self, f: impl Fn(&NetSlots) -> i64) -> i64 {
        let s = match &self.rec.record {
            Record::NetworkFlow(r) => NetSlots {
                sport: r.sport as i64,
                dip: r.dip as i64,
                dport: r.dport as i64,
                proto: r.proto as i64,
            },
            Record::NetworkEvent(r) => NetSlots {
                sport: r.sport as i64,
                dip: r.dip as i64,
                dport: r.dport as i64,
                proto: r.proto as i64,
            },
            _ => NetSlots {
                sport: 0,
                dip: 0,
                dport: 0,
                proto: 0,
            },
        };
        f(&s)
    }
    /// Flow counters; doubled in reference mode (the reference sums the file and network slot, which are the same).
    fn flow(&self, f: impl Fn(Counters) -> i64) -> i64 {
        let c: Counters = match &self.rec.record {
            Record::FileFlow(r) => (
                r.num_r_recv_ops,
                r.num_w_send_ops,
                r.num_r_recv_bytes,
                r.num_w_send_bytes,
            ),
            Record::NetworkFlow(r) => (
                r.num_r_recv_ops,
                r.num_w_send_ops,
                r.num_r_recv_bytes,
                r.num_w_send_bytes,
            ),
            Record::FileEvent(_) if self.compat == Compat::Reference => {
                // Slots 27/28 hold the new file's ts/restype on FE.
                let nf = self.new_file();
                (
                    nf.map_or(0, |f| f.ts),
                    nf.map_or(0, |f| f.restype as i64),
                    0,
                    0,
                )
            }
            _ => (0, 0, 0, 0),
        };
        let v = f(c);
        if self.compat == Compat::Reference {
            v.wrapping_mul(2)
        } else {
            v
        }
    }
}

/// Trims ASCII/Unicode whitespace (the reference reader `TrimSpace`s exe, args, names and paths).
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    s.trim()
}

fn cmdline_no_trailing(p: &Process) -> Cow<'_, str> {
    let (exe, args) = (trim(&p.exe), trim(&p.exe_args));
    if args.is_empty() {
        Cow::Borrowed(exe)
    } else {
        Cow::Owned(format!("{exe} {args}"))
    }
}

/// The record type code used by `sf.type` (`PE`, `NF`, `FF`, `FE`, `KE`, ...; pods are `PD` as in sf-apis Go).
pub fn type_code(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Pod => "PD",
        k => k.code(),
    }
}

/// The container type name without the `CT_` prefix (`DOCKER`, `CRIO`, ...).
pub fn cont_type(t: ContainerType) -> &'static str {
    let s = t.symbol();
    s.strip_prefix("CT_").unwrap_or(s)
}

/// Operation flag names in the reference order (`WRITE`/`READ` become `SEND`/`RECV` on network flows).
pub fn op_names(flags: i32, kind: RecordKind) -> impl Iterator<Item = &'static str> {
    let net = matches!(kind, RecordKind::NetworkFlow | RecordKind::NetworkEvent);
    OP_ORDER
        .iter()
        .filter(move |(bit, _, _)| flags & bit != 0)
        .map(move |&(_, name, net_name)| if net { net_name } else { name })
}

/// Falco event type names of the operation flags (`execve`, `open`, `write`/`send`, ...).
pub fn evt_type_names(flags: i32, kind: RecordKind) -> impl Iterator<Item = &'static str> {
    let net = matches!(kind, RecordKind::NetworkFlow | RecordKind::NetworkEvent);
    EVT_ORDER
        .iter()
        .filter(move |(bit, _, _)| flags & bit != 0)
        .map(move |&(_, name, net_name)| if net { net_name } else { name })
}

/// The operation-flag bit of a reference op name on a record type (`EXEC` → `op::EXEC`; `WRITE` only off network
/// flows, `SEND` only on them), or 0.
pub(crate) fn op_bit(name: &str, net: bool) -> i32 {
    OP_ORDER
        .iter()
        .find(|(_, n, nn)| if net { *nn == name } else { *n == name })
        .map_or(0, |(b, _, _)| *b)
}

const OP_ORDER: &[(i32, &str, &str)] = &[
    (op::MKDIR, "MKDIR", "MKDIR"),
    (op::RMDIR, "RMDIR", "RMDIR"),
    (op::LINK, "LINK", "LINK"),
    (op::SYMLINK, "SYMLINK", "SYMLINK"),
    (op::UNLINK, "UNLINK", "UNLINK"),
    (op::RENAME, "RENAME", "RENAME"),
    (op::CLONE, "CLONE", "CLONE"),
    (op::EXEC, "EXEC", "EXEC"),
    (op::EXIT, "EXIT", "EXIT"),
    (op::SETUID, "SETUID", "SETUID"),
    (op::OPEN, "OPEN", "OPEN"),
    (op::ACCEPT, "ACCEPT", "ACCEPT"),
    (op::CONNECT, "CONNECT", "CONNECT"),
    (op::CLOSE, "CLOSE", "CLOSE"),
    (op::WRITE_SEND, "WRITE", "SEND"),
    (op::READ_RECV, "READ", "RECV"),
    (op::SETNS, "SETNS", "SETNS"),
    (op::MMAP, "MMAP", "MMAP"),
    (op::SHUTDOWN, "SHUTDOWN", "SHUTDOWN"),
    (op::TRUNCATE, "TRUNCATE", "TRUNCATE"),
    (op::DIGEST, "DIGEST", "DIGEST"),
];

const EVT_ORDER: &[(i32, &str, &str)] = &[
    (op::MKDIR, "mkdir", "mkdir"),
    (op::RMDIR, "rmdir", "rmdir"),
    (op::LINK, "link", "link"),
    (op::SYMLINK, "symlink", "symlink"),
    (op::UNLINK, "unlink", "unlink"),
    (op::RENAME, "rename", "rename"),
    (op::CLONE, "clone", "clone"),
    (op::EXEC, "execve", "execve"),
    (op::EXIT, "exit", "exit"),
    (op::SETUID, "setuid", "setuid"),
    (op::OPEN, "open", "open"),
    (op::ACCEPT, "accept", "accept"),
    (op::CONNECT, "connect", "connect"),
    (op::CLOSE, "close", "close"),
    (op::WRITE_SEND, "write", "send"),
    (op::READ_RECV, "read", "recv"),
    (op::SETNS, "setns", "setns"),
    (op::MMAP, "mmap", "mmap"),
    (op::SHUTDOWN, "shutdown", "shutdown"),
];

/// Open flags and their names, in the reference order.
const OPEN_ORDER: &[(i32, &str)] = &[
    (open::RDONLY, "RDONLY"),
    (open::WRONLY, "WRONLY"),
    (open::RDWR, "RDWR"),
    (open::CREAT, "CREAT"),
    (open::EXCL, "EXCL"),
    (open::TRUNC, "TRUNC"),
    (open::APPEND, "APPEND"),
    (open::NONBLOCK, "NONBLOCK"),
    (open::DSYNC, "DSYNC"),
    (open::DIRECT, "DIRECT"),
    (open::LARGEFILE, "LARGEFILE"),
    (open::DIRECTORY, "DIRECTORY"),
    (open::CLOEXEC, "CLOEXEC"),
    (open::SYNC, "SYNC"),
];

/// Open flag names in the reference order (`NONE` when no flag is set; `RDWR` also lists `RDONLY` and `WRONLY`).
pub fn open_names(flags: i64) -> impl Iterator<Item = &'static str> {
    let none = (flags == 0).then_some("NONE");
    none.into_iter().chain(
        OPEN_ORDER
            .iter()
            .filter(move |(b, _)| flags & *b as i64 == *b as i64)
            .map(|(_, n)| *n),
    )
}

/// The flag value of an open flag name (`CREAT` → `open::CREAT`); `open_names(f)` lists the name iff
/// `f & value == value`. `None` for `NONE` and unknown names.
pub(crate) fn open_bit(name: &str) -> Option<i64> {
    OPEN_ORDER
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(b, _)| *b as i64)
}

/// The raw value `sf.file.openflags` names (the open flags of a file flow; see [`open_names`]).
pub(crate) fn open_flags_raw(rec: &FlatRecord, compat: Compat) -> i64 {
    View {
        rec,
        kind: rec.kind(),
        compat,
    }
    .slot31()
}

/// Dotted-quad rendering of a SysFlow IPv4 integer (first octet in the low byte).
pub fn ip_str(ip: i64) -> String {
    let ip = ip as i32 as u32;
    let mut s = String::with_capacity(15);
    let _ = write!(
        s,
        "{}.{}.{}.{}",
        ip & 0xff,
        (ip >> 8) & 0xff,
        (ip >> 16) & 0xff,
        ip >> 24
    );
    s
}

/// `sf.proc.oid`: lowercase hex of the big-endian xxhash64 over the decimal pid followed by the decimal create time.
pub fn oid_hash(hpid: i64, create_ts: i64) -> String {
    let text = format!("{hpid}{create_ts}");
    format!("{:016x}", xxhash_rust::xxh64::xxh64(text.as_bytes(), 0))
}

fn ips_json(ips: &[i64]) -> String {
    let mut s = String::from("[");
    for (i, ip) in ips.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{}\"", ip_str(*ip));
    }
    s.push(']');
    s
}

fn json_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

/// JSON text of pod services (`[{"id","name","namespace","clusterip":[..],"portlist":[..]}]`), with commas between
/// entries (the reference omits them).
fn services_json(services: &[Service], out: &mut String) {
    out.push('[');
    for (i, s) in services.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json_str(&s.name, out);
        out.push_str(",\"id\":");
        json_str(&s.id, out);
        out.push_str(",\"namespace\":");
        json_str(&s.namespace, out);
        out.push_str(",\"portlist\":[");
        for (j, p) in s.port_list.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"port\":{},\"targetport\":{},\"nodeport\":{},\"proto\":",
                p.port, p.target_port, p.node_port
            );
            json_str(&p.proto, out);
            out.push('}');
        }
        out.push_str("],\"clusterip\":[");
        for (j, ip) in s.cluster_ip.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{}\"", ip_str(*ip));
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// Go `filepath.Base`: last element, trailing slashes removed; `.` for an empty path, `/` for all-slashes.
pub fn go_base(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed(".");
    }
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        return Cow::Borrowed("/");
    }
    Cow::Borrowed(match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    })
}

/// Go `filepath.Dir`: everything but the last element, cleaned; `.` when there is no slash.
pub fn go_dir(path: &str) -> Cow<'_, str> {
    match path.rfind('/') {
        // `Clean(path[:i+1])` drops the trailing slash: the same as cleaning `path[:i]` (or `/` at the root).
        Some(0) => Cow::Borrowed("/"),
        Some(i) => {
            let d = &path[..i];
            if d.ends_with('/') {
                go_clean(&path[..=i])
            } else {
                go_clean(d)
            }
        }
        None => Cow::Borrowed("."),
    }
}

/// Go `filepath.Clean` (lexical): collapses `//`, `.` and `..`; `.` for empty.
pub fn go_clean(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed(".");
    }
    let rooted = path.starts_with('/');
    // Fast path: already clean (no empty, `.` or `..` component, no trailing slash).
    let b = path.as_bytes();
    let mut clean = path == "/" || !path.ends_with('/');
    if clean {
        let mut start = 0;
        for i in 0..=b.len() {
            if i == b.len() || b[i] == b'/' {
                let comp = &b[start..i];
                if (comp.is_empty() && i != 0) || comp == b"." || comp == b".." {
                    clean = false;
                    break;
                }
                start = i + 1;
            }
        }
    }
    if clean {
        return Cow::Borrowed(path);
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    Cow::Owned(match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    })
}

/// Splits a socket-style path `"<hex>-><hex> <target>"` into (target, `"<hex>-><hex>"`); other paths are returned
/// unchanged with an empty link.
pub fn parse_sym_path(orig: &str) -> (&str, Cow<'_, str>) {
    fn hex(s: &str) -> Option<(u64, &str)> {
        let s = s.trim_start();
        let s2 = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let end = s2
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(s2.len());
        if end == 0 {
            return None;
        }
        u64::from_str_radix(&s2[..end], 16)
            .ok()
            .map(|v| (v, &s2[end..]))
    }
    fn token(s: &str) -> Option<&str> {
        let s = s.trim_start();
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        (end > 0).then(|| &s[..end])
    }
    // Fast path: a socket-style path needs a '-' followed by '>' or '\\'.
    let b = orig.as_bytes();
    if !memchr::memchr_iter(b'-', b).any(|i| matches!(b.get(i + 1), Some(b'>' | b'\\'))) {
        return (orig, Cow::Borrowed(""));
    }
    for sep in ["->", "-\\u"] {
        if let Some((src, rest)) = hex(orig) {
            if let Some(rest) = rest.strip_prefix(sep) {
                if let Some((dst, rest)) = hex(rest) {
                    if rest.starts_with(char::is_whitespace) {
                        if let Some(target) = token(rest) {
                            return (target, Cow::Owned(format!("{src:x}{sep}{dst:x}")));
                        }
                    }
                }
            }
        }
    }
    (orig, Cow::Borrowed(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_helpers() {
        assert_eq!(go_base(""), ".");
        assert_eq!(go_base("/usr/bin/python"), "python");
        assert_eq!(go_base("/usr/bin/"), "bin");
        assert_eq!(go_base("///"), "/");
        assert_eq!(go_dir("/etc/passwd"), "/etc");
        assert_eq!(go_dir("passwd"), ".");
        assert_eq!(go_dir("/passwd"), "/");
        assert_eq!(go_dir(""), ".");
        assert_eq!(go_dir("/a//b/../c/d"), "/a/c");
    }

    #[test]
    fn sym_paths() {
        let (p, l) = parse_sym_path("ffff9ce0->ffff9ce1 /sock/sysflow.sock");
        assert_eq!(
            (p, l.as_ref()),
            ("/sock/sysflow.sock", "ffff9ce0->ffff9ce1")
        );
        let (p, l) = parse_sym_path("/etc/passwd");
        assert_eq!((p, l.as_ref()), ("/etc/passwd", ""));
    }

    #[test]
    fn flag_names() {
        let v: Vec<_> = op_names(op::EXEC | op::CLONE, RecordKind::ProcessEvent).collect();
        assert_eq!(v, ["CLONE", "EXEC"]);
        let v: Vec<_> = op_names(op::WRITE_SEND, RecordKind::NetworkFlow).collect();
        assert_eq!(v, ["SEND"]);
        let v: Vec<_> = open_names(0).collect();
        assert_eq!(v, ["NONE"]);
        let v: Vec<_> = open_names(open::RDWR as i64).collect();
        assert_eq!(v, ["RDONLY", "WRONLY", "RDWR"]);
    }

    #[test]
    fn ip_rendering() {
        assert_eq!(ip_str(0x0100_000a), "10.0.0.1");
    }

    #[test]
    fn lookup_table_is_consistent() {
        for f in Field::ALL {
            if !matches!(
                f,
                Field::FalcoEvtType | Field::FalcoEvtDir | Field::FalcoContainerId
            ) {
                assert_eq!(
                    Field::lookup(f.name(), Compat::Fixed),
                    Some(*f),
                    "{}",
                    f.name()
                );
            }
        }
        assert_eq!(
            Field::lookup("proc.tty", Compat::Reference),
            Some(Field::PProcTty)
        );
        assert_eq!(
            Field::lookup("proc.tty", Compat::Fixed),
            Some(Field::ProcTty)
        );
        assert_eq!(Field::exported()[0], Field::EndTs);
    }

    /// Flattened records of the reference traces (every `step`-th), if `../shared` is present.
    fn trace_records(step: usize) -> Vec<FlatRecord> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/processor-resources/resources/traces");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("SKIP: {} not found", dir.display());
            return Vec::new();
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        let mut out = Vec::new();
        for p in paths {
            if let Ok(r) = sysflow_format::FlatReader::open(&p) {
                out.extend(r.filter_map(Result::ok).step_by(step));
            }
        }
        out
    }

    /// `rec` with a different event/flow payload of the same type (flags, times, fds, counters, addresses changed).
    fn perturbed(rec: &FlatRecord) -> FlatRecord {
        let mut r = rec.clone();
        match &mut r.record {
            Record::ProcessEvent(e) => {
                e.op_flags ^= 0x7fff;
                e.ret += 3;
                e.ts += 1;
                e.tid += 1;
            }
            Record::FileFlow(f) => {
                f.op_flags ^= 0x7fff;
                f.open_flags ^= 0x7f;
                f.ts += 1;
                f.end_ts += 2;
                f.fd += 1;
                f.num_r_recv_ops += 1;
                f.num_w_send_bytes += 5;
            }
            Record::FileEvent(f) => {
                f.op_flags ^= 0x7fff;
                f.ret += 1;
                f.ts += 1;
            }
            Record::NetworkFlow(n) => {
                n.op_flags ^= 0x7fff;
                n.sip ^= 0x0102;
                n.dip ^= 0x0304;
                n.sport += 1;
                n.dport += 1;
                n.proto += 1;
                n.fd += 1;
                n.ts += 1;
            }
            _ => {}
        }
        r
    }

    /// The engine caches conditions on process-scoped fields per process context, and on file-scoped fields per
    /// record type and files: check that those fields really depend on nothing else.
    #[test]
    fn field_scopes_hold_on_reference_records() {
        let recs = trace_records(97);
        let recs: Vec<&FlatRecord> = recs.iter().take(400).collect();
        for compat in [Compat::Fixed, Compat::Reference] {
            for (i, a) in recs.iter().enumerate() {
                // `b`: another record (other type, payload and files) given `a`'s process context.
                let b = recs[(i * 7 + 3) % recs.len()];
                let mut h = perturbed(b);
                h.process = a.process.clone();
                h.parent = a.parent.clone();
                h.ancestors = a.ancestors.clone();
                h.container = a.container.clone();
                h.pod = a.pod.clone();
                h.header = a.header.clone();
                // `f`: `a`'s type and files with another payload and `b`'s process context.
                let mut f = perturbed(a);
                f.process = b.process.clone();
                f.parent = b.parent.clone();
                f.ancestors = b.ancestors.clone();
                f.container = b.container.clone();
                f.pod = b.pod.clone();
                f.header = b.header.clone();
                for field in Field::ALL {
                    if field.is_process_scoped() {
                        assert_eq!(field.value(a, compat), field.value(&h, compat), "{field:?}");
                        assert_eq!(
                            field.render(a, compat),
                            field.render(&h, compat),
                            "{field:?}"
                        );
                    }
                    if field.is_file_scoped() {
                        assert_eq!(field.value(a, compat), field.value(&f, compat), "{field:?}");
                        assert_eq!(
                            field.render(a, compat),
                            field.render(&f, compat),
                            "{field:?}"
                        );
                    }
                }
            }
        }
    }
}
