//! Typed SysFlow records: the 12 branches of the schema v5 union and their field types.
//!
//! Field names follow the Avro schema (`exeArgs` → [`Process::exe_args`], ...). Fields that were added in later
//! schema versions (`Process::entry`, `cwd`, `env`, `Header::ip`, `filename`, ...) are plain values here; whether the
//! *writer schema* of a file had them is recorded once per file in [`crate::Layout`], which is what printers consult
//! (the reference prints `""` when the writer schema lacks a field).

use std::fmt;

/// Process object identifier: host pid of the main thread and its clone timestamp (ns since the epoch; 0 when the
/// process existed before capture started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Oid {
    /// Clone timestamp in nanoseconds (Avro `createTS`).
    pub create_ts: i64,
    /// Host process id (Avro `hpid`).
    pub hpid: i64,
}

/// File object identifier: SHA-1 of `containerId ‖ path` (Avro `fixed(20)`). Treat as an opaque key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Foid(pub [u8; 20]);

impl Foid {
    /// Computes the FOID the collector assigns to `path` seen from container `container_id` (`""` on the host):
    /// SHA-1 over the container id followed by the path.
    pub fn compute(container_id: &str, path: &str) -> Foid {
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        h.update(container_id.as_bytes());
        h.update(path.as_bytes());
        Foid(h.finalize().into())
    }

    /// Lower-case hexadecimal rendering (40 characters).
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(40);
        for b in self.0 {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

impl fmt::Debug for Foid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Foid({})", self.to_hex())
    }
}

macro_rules! avro_enum {
    ($(#[$m:meta])* $name:ident, $avro:literal, [$($(#[$vm:meta])* $variant:ident = $sym:literal),+ $(,)?]) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            #[default]
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// Avro full name of the enum type.
            pub const AVRO_NAME: &'static str = $avro;
            /// Every symbol in schema order (the ordinal is the index).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Schema symbols in ordinal order.
            pub const SYMBOLS: &'static [&'static str] = &[$($sym),+];

            /// The Avro symbol (`"CREATED"`, `"CT_DOCKER"`, ...).
            pub fn symbol(self) -> &'static str {
                Self::SYMBOLS[self as usize]
            }

            /// The ordinal in the v5 schema.
            pub fn ordinal(self) -> u32 {
                self as u32
            }

            /// Looks a symbol up by name.
            pub fn from_symbol(s: &str) -> Option<Self> {
                Self::SYMBOLS.iter().position(|x| *x == s).map(|i| Self::ALL[i])
            }

            /// Looks an ordinal of the v5 schema up.
            pub fn from_ordinal(i: u32) -> Option<Self> {
                Self::ALL.get(i as usize).copied()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.symbol())
            }
        }
    };
}

avro_enum!(
    /// Entity state (`sysflow.type.SFObjectState`): created, modified, or re-sent at the start of a new file.
    ObjectState, "sysflow.type.SFObjectState",
    [
        /// Entity seen for the first time.
        Created = "CREATED",
        /// Entity changed (exec, setuid, ...).
        Modified = "MODIFIED",
        /// Entity re-sent so that a new file is self-contained.
        Reup = "REUP",
    ]
);

avro_enum!(
    /// Container runtime type (`sysflow.type.ContainerType`).
    ContainerType, "sysflow.type.ContainerType",
    [
        /// Docker.
        Docker = "CT_DOCKER",
        /// LXC.
        Lxc = "CT_LXC",
        /// libvirt LXC.
        LibvirtLxc = "CT_LIBVIRT_LXC",
        /// Mesos.
        Mesos = "CT_MESOS",
        /// rkt.
        Rkt = "CT_RKT",
        /// Custom.
        Custom = "CT_CUSTOM",
        /// CRI.
        Cri = "CT_CRI",
        /// containerd.
        Containerd = "CT_CONTAINERD",
        /// CRI-O.
        Crio = "CT_CRIO",
        /// BOSH process manager.
        Bpm = "CT_BPM",
    ]
);

avro_enum!(
    /// Kubernetes component of a [`K8sEvent`] (`sysflow.type.K8sComponent`).
    K8sComponent, "sysflow.type.K8sComponent",
    [
        /// Nodes.
        Nodes = "K8S_NODES",
        /// Namespaces.
        Namespaces = "K8S_NAMESPACES",
        /// Pods.
        Pods = "K8S_PODS",
        /// Replication controllers.
        ReplicationControllers = "K8S_REPLICATIONCONTROLLERS",
        /// Services.
        Services = "K8S_SERVICES",
        /// Events.
        Events = "K8S_EVENTS",
        /// Replica sets.
        ReplicaSets = "K8S_REPLICASETS",
        /// Daemon sets.
        DaemonSets = "K8S_DAEMONSETS",
        /// Deployments.
        Deployments = "K8S_DEPLOYMENTS",
        /// Unknown.
        Unknown = "K8S_UNKNOWN",
    ]
);

avro_enum!(
    /// Kubernetes action of a [`K8sEvent`] (`sysflow.type.K8sAction`).
    K8sAction, "sysflow.type.K8sAction",
    [
        /// Added.
        Added = "K8S_COMPONENT_ADDED",
        /// Modified.
        Modified = "K8S_COMPONENT_MODIFIED",
        /// Deleted.
        Deleted = "K8S_COMPONENT_DELETED",
        /// Error.
        Error = "K8S_COMPONENT_ERROR",
        /// Nonexistent.
        Nonexistent = "K8S_COMPONENT_NONEXISTENT",
        /// Unknown.
        Unknown = "K8S_COMPONENT_UNKNOWN",
    ]
);

/// `sysflow.entity.SFHeader`: starts every file (and every self-contained segment of a file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Schema version the writer claims (1000 for v1-era files, 2..5 after).
    pub version: i64,
    /// Exporter (node) id.
    pub exporter: String,
    /// Node IP (v2+; `"NA"` by default).
    pub ip: String,
    /// Name of the file the collector wrote (v3+).
    pub filename: String,
}

/// `sysflow.entity.Container`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Container {
    /// Container id (12 hex characters for docker).
    pub id: String,
    /// Container name.
    pub name: String,
    /// Image name (with tag).
    pub image: String,
    /// Image id.
    pub imageid: String,
    /// Runtime type.
    pub container_type: ContainerType,
    /// Whether the container runs privileged.
    pub privileged: bool,
    /// Pod id (v4+; `None` when not in a pod).
    pub pod_id: Option<String>,
}

/// `sysflow.entity.Process`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Process {
    /// Entity state.
    pub state: ObjectState,
    /// Process id.
    pub oid: Oid,
    /// Parent process id, if known.
    pub poid: Option<Oid>,
    /// Timestamp (ns) of the record.
    pub ts: i64,
    /// Executable path.
    pub exe: String,
    /// Arguments (space separated).
    pub exe_args: String,
    /// User id.
    pub uid: i32,
    /// User name.
    pub user_name: String,
    /// Group id.
    pub gid: i32,
    /// Group name.
    pub group_name: String,
    /// Whether the process has a terminal.
    pub tty: bool,
    /// Container id (`None` on the host).
    pub container_id: Option<String>,
    /// Whether the process is a container entry point (v2+).
    pub entry: bool,
    /// Working directory (v5).
    pub cwd: String,
    /// Environment entries `KEY=VALUE` (v5).
    pub env: Vec<String>,
}

/// `sysflow.entity.File`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct File {
    /// Entity state.
    pub state: ObjectState,
    /// File id.
    pub oid: Foid,
    /// Timestamp (ns) of the record.
    pub ts: i64,
    /// Resource type: an ASCII character as int (`'f'` file, `'d'` dir, `'p'` pipe, `'u'` unix socket, `'?'`).
    pub restype: i32,
    /// Path.
    pub path: String,
    /// Container id (`None` on the host).
    pub container_id: Option<String>,
}

/// `sysflow.event.ProcessEvent`: clone, exec, exit, setuid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessEvent {
    /// Process the event belongs to.
    pub proc_oid: Oid,
    /// Timestamp (ns).
    pub ts: i64,
    /// Thread id.
    pub tid: i64,
    /// Operation ([`crate::flags::op`] bit).
    pub op_flags: i32,
    /// Arguments.
    pub args: Vec<String>,
    /// Return value.
    pub ret: i32,
}

/// `sysflow.flow.NetworkFlow`: aggregated socket activity of one process on one connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkFlow {
    /// Process the flow belongs to.
    pub proc_oid: Oid,
    /// Start timestamp (ns).
    pub ts: i64,
    /// Thread id.
    pub tid: i64,
    /// Operations seen ([`crate::flags::op`]).
    pub op_flags: i32,
    /// End timestamp (ns).
    pub end_ts: i64,
    /// Source IPv4 address (network byte order read as little-endian int: first octet in the low byte).
    pub sip: i32,
    /// Source port.
    pub sport: i32,
    /// Destination IPv4 address (same encoding as `sip`).
    pub dip: i32,
    /// Destination port.
    pub dport: i32,
    /// IP protocol number (6 TCP, 17 UDP, ...).
    pub proto: i32,
    /// File descriptor.
    pub fd: i32,
    /// Number of read/recv operations.
    pub num_r_recv_ops: i64,
    /// Number of write/send operations.
    pub num_w_send_ops: i64,
    /// Bytes read/received.
    pub num_r_recv_bytes: i64,
    /// Bytes written/sent.
    pub num_w_send_bytes: i64,
}

/// `sysflow.flow.FileFlow`: aggregated activity of one process on one open file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFlow {
    /// Process the flow belongs to.
    pub proc_oid: Oid,
    /// Start timestamp (ns).
    pub ts: i64,
    /// Thread id.
    pub tid: i64,
    /// Operations seen ([`crate::flags::op`]).
    pub op_flags: i32,
    /// Open flags (sysdig PPM encoding, [`crate::flags::open`]).
    pub open_flags: i32,
    /// End timestamp (ns).
    pub end_ts: i64,
    /// File id.
    pub file_oid: Foid,
    /// File descriptor.
    pub fd: i32,
    /// Number of read operations.
    pub num_r_recv_ops: i64,
    /// Number of write operations.
    pub num_w_send_ops: i64,
    /// Bytes read.
    pub num_r_recv_bytes: i64,
    /// Bytes written.
    pub num_w_send_bytes: i64,
}

/// `sysflow.event.FileEvent`: mkdir, rmdir, link, symlink, unlink, rename.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileEvent {
    /// Process the event belongs to.
    pub proc_oid: Oid,
    /// Timestamp (ns).
    pub ts: i64,
    /// Thread id.
    pub tid: i64,
    /// Operation ([`crate::flags::op`] bit).
    pub op_flags: i32,
    /// File id.
    pub file_oid: Foid,
    /// Return value.
    pub ret: i32,
    /// Second file (link target, rename destination), if any.
    pub new_file_oid: Option<Foid>,
}

/// `sysflow.event.NetworkEvent` (in the schema since v1; never produced by the reference collector).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkEvent {
    /// Process the event belongs to.
    pub proc_oid: Oid,
    /// Timestamp (ns).
    pub ts: i64,
    /// Thread id.
    pub tid: i64,
    /// Operation ([`crate::flags::op`] bits).
    pub op_flags: i32,
    /// Source IPv4 address.
    pub sip: i32,
    /// Source port.
    pub sport: i32,
    /// Destination IPv4 address.
    pub dip: i32,
    /// Destination port.
    pub dport: i32,
    /// IP protocol number.
    pub proto: i32,
    /// Return value.
    pub ret: i32,
}

/// `sysflow.flow.ProcessFlow` (v2+): aggregated thread clones and exits of one process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessFlow {
    /// Process the flow belongs to.
    pub proc_oid: Oid,
    /// Start timestamp (ns).
    pub ts: i64,
    /// Threads cloned.
    pub num_threads_cloned: i64,
    /// Operations seen.
    pub op_flags: i32,
    /// End timestamp (ns).
    pub end_ts: i64,
    /// Threads exited.
    pub num_threads_exited: i64,
    /// Failed clones.
    pub num_clone_errors: i64,
}

/// `sysflow.entity.Port` (part of a [`Service`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Port {
    /// Port.
    pub port: i32,
    /// Target port.
    pub target_port: i32,
    /// Node port.
    pub node_port: i32,
    /// Protocol name (`"TCP"`, ...).
    pub proto: String,
}

/// `sysflow.entity.Service` (part of a [`Pod`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    /// Service name.
    pub name: String,
    /// Service id.
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Ports.
    pub port_list: Vec<Port>,
    /// Cluster IPv4 addresses (same byte order as flow IPs, as longs).
    pub cluster_ip: Vec<i64>,
}

/// `sysflow.entity.Pod` (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pod {
    /// Timestamp (ns).
    pub ts: i64,
    /// Pod id.
    pub id: String,
    /// Pod name.
    pub name: String,
    /// Node name.
    pub node_name: String,
    /// Host IPv4 addresses (as longs).
    pub host_ip: Vec<i64>,
    /// Internal IPv4 addresses (as longs).
    pub internal_ip: Vec<i64>,
    /// Namespace.
    pub namespace: String,
    /// Restart count.
    pub restart_count: i64,
    /// Labels, in file order.
    pub labels: Vec<(String, String)>,
    /// Selectors, in file order.
    pub selectors: Vec<(String, String)>,
    /// Services.
    pub services: Vec<Service>,
}

/// `sysflow.event.K8sEvent` (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct K8sEvent {
    /// Component kind.
    pub kind: K8sComponent,
    /// Action.
    pub action: K8sAction,
    /// Timestamp (ns).
    pub ts: i64,
    /// Raw JSON of the watch event (the collector terminates it with `"\n\0"`).
    pub message: String,
}

/// The kind of a record: one per branch of the `sysflow.SysFlow.rec` union, numbered as in schema v5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RecordKind {
    /// [`Header`] (union index 0).
    Header = 0,
    /// [`Container`].
    Container = 1,
    /// [`Process`].
    Process = 2,
    /// [`File`].
    File = 3,
    /// [`ProcessEvent`].
    ProcessEvent = 4,
    /// [`NetworkFlow`].
    NetworkFlow = 5,
    /// [`FileFlow`].
    FileFlow = 6,
    /// [`FileEvent`].
    FileEvent = 7,
    /// [`NetworkEvent`].
    NetworkEvent = 8,
    /// [`ProcessFlow`].
    ProcessFlow = 9,
    /// [`Pod`].
    Pod = 10,
    /// [`K8sEvent`].
    K8sEvent = 11,
}

impl RecordKind {
    /// All kinds in union order.
    pub const ALL: [RecordKind; 12] = [
        RecordKind::Header,
        RecordKind::Container,
        RecordKind::Process,
        RecordKind::File,
        RecordKind::ProcessEvent,
        RecordKind::NetworkFlow,
        RecordKind::FileFlow,
        RecordKind::FileEvent,
        RecordKind::NetworkEvent,
        RecordKind::ProcessFlow,
        RecordKind::Pod,
        RecordKind::K8sEvent,
    ];

    /// Index of the branch in the v5 union.
    pub fn union_index(self) -> usize {
        self as usize
    }

    /// Avro full name of the record type (`"sysflow.entity.Process"`, ...).
    pub fn full_name(self) -> &'static str {
        match self {
            RecordKind::Header => "sysflow.entity.SFHeader",
            RecordKind::Container => "sysflow.entity.Container",
            RecordKind::Process => "sysflow.entity.Process",
            RecordKind::File => "sysflow.entity.File",
            RecordKind::ProcessEvent => "sysflow.event.ProcessEvent",
            RecordKind::NetworkFlow => "sysflow.flow.NetworkFlow",
            RecordKind::FileFlow => "sysflow.flow.FileFlow",
            RecordKind::FileEvent => "sysflow.event.FileEvent",
            RecordKind::NetworkEvent => "sysflow.event.NetworkEvent",
            RecordKind::ProcessFlow => "sysflow.flow.ProcessFlow",
            RecordKind::Pod => "sysflow.entity.Pod",
            RecordKind::K8sEvent => "sysflow.event.K8sEvent",
        }
    }

    /// Looks a kind up by Avro full name.
    pub fn from_full_name(name: &str) -> Option<RecordKind> {
        RecordKind::ALL
            .iter()
            .copied()
            .find(|k| k.full_name() == name)
    }

    /// The short type code the reference Python tools print (`"H"`, `"C"`, `"P"`, `"F"`, `"PE"`, `"NF"`, `"FF"`,
    /// `"FE"`, `"NE"`, `"PF"`, `"POD"`, `"KE"`).
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Header => "H",
            RecordKind::Container => "C",
            RecordKind::Process => "P",
            RecordKind::File => "F",
            RecordKind::ProcessEvent => "PE",
            RecordKind::NetworkFlow => "NF",
            RecordKind::FileFlow => "FF",
            RecordKind::FileEvent => "FE",
            RecordKind::NetworkEvent => "NE",
            RecordKind::ProcessFlow => "PF",
            RecordKind::Pod => "POD",
            RecordKind::K8sEvent => "KE",
        }
    }

    /// Whether the kind is an entity (header, container, process, file, pod) rather than an event or flow.
    pub fn is_entity(self) -> bool {
        matches!(
            self,
            RecordKind::Header
                | RecordKind::Container
                | RecordKind::Process
                | RecordKind::File
                | RecordKind::Pod
        )
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One SysFlow record: a value of the `sysflow.SysFlow.rec` union.
///
/// The large, rare entities (container, process, pod) are boxed so that the enum stays small
/// (at most 112 bytes): records are moved many times on the read path, and events and flows
/// far outnumber entities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Header.
    Header(Header),
    /// Container entity (boxed: it is much larger than an event or flow).
    Container(Box<Container>),
    /// Process entity (boxed: it is much larger than an event or flow).
    Process(Box<Process>),
    /// File entity.
    File(File),
    /// Process event.
    ProcessEvent(ProcessEvent),
    /// Network flow.
    NetworkFlow(NetworkFlow),
    /// File flow.
    FileFlow(FileFlow),
    /// File event.
    FileEvent(FileEvent),
    /// Network event.
    NetworkEvent(NetworkEvent),
    /// Process flow.
    ProcessFlow(ProcessFlow),
    /// Pod entity (boxed: it is much larger than an event or flow).
    Pod(Box<Pod>),
    /// Kubernetes event.
    K8sEvent(K8sEvent),
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Header(_) => RecordKind::Header,
            Record::Container(_) => RecordKind::Container,
            Record::Process(_) => RecordKind::Process,
            Record::File(_) => RecordKind::File,
            Record::ProcessEvent(_) => RecordKind::ProcessEvent,
            Record::NetworkFlow(_) => RecordKind::NetworkFlow,
            Record::FileFlow(_) => RecordKind::FileFlow,
            Record::FileEvent(_) => RecordKind::FileEvent,
            Record::NetworkEvent(_) => RecordKind::NetworkEvent,
            Record::ProcessFlow(_) => RecordKind::ProcessFlow,
            Record::Pod(_) => RecordKind::Pod,
            Record::K8sEvent(_) => RecordKind::K8sEvent,
        }
    }

    /// The process an event or flow belongs to (`None` for entities and K8s events).
    pub fn proc_oid(&self) -> Option<Oid> {
        match self {
            Record::ProcessEvent(r) => Some(r.proc_oid),
            Record::NetworkFlow(r) => Some(r.proc_oid),
            Record::FileFlow(r) => Some(r.proc_oid),
            Record::FileEvent(r) => Some(r.proc_oid),
            Record::NetworkEvent(r) => Some(r.proc_oid),
            Record::ProcessFlow(r) => Some(r.proc_oid),
            _ => None,
        }
    }

    /// The record's timestamp, if it has one (containers have none).
    pub fn ts(&self) -> Option<i64> {
        match self {
            Record::Header(_) | Record::Container(_) => None,
            Record::Process(r) => Some(r.ts),
            Record::File(r) => Some(r.ts),
            Record::ProcessEvent(r) => Some(r.ts),
            Record::NetworkFlow(r) => Some(r.ts),
            Record::FileFlow(r) => Some(r.ts),
            Record::FileEvent(r) => Some(r.ts),
            Record::NetworkEvent(r) => Some(r.ts),
            Record::ProcessFlow(r) => Some(r.ts),
            Record::Pod(r) => Some(r.ts),
            Record::K8sEvent(r) => Some(r.ts),
        }
    }

    /// Operation flags of an event or flow.
    pub fn op_flags(&self) -> Option<i32> {
        match self {
            Record::ProcessEvent(r) => Some(r.op_flags),
            Record::NetworkFlow(r) => Some(r.op_flags),
            Record::FileFlow(r) => Some(r.op_flags),
            Record::FileEvent(r) => Some(r.op_flags),
            Record::NetworkEvent(r) => Some(r.op_flags),
            Record::ProcessFlow(r) => Some(r.op_flags),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    // Records are moved many times on the read path (decoder, flattener, batches sent between threads), so their
    // size is part of the read cost. The large entities (container, process, pod: 128-232 bytes) are boxed so that
    // the enum is the size of its largest inline variant, the 104-byte network and file flows, plus the tag.
    // Unboxing an entity or growing a flow fails here instead of slowing reads silently.
    #[test]
    fn record_stays_small() {
        assert!(
            size_of::<Record>() <= 112,
            "Record is {} bytes",
            size_of::<Record>()
        );
    }
}
