//! Collector settings once the CLI and environment have been resolved.

use std::path::PathBuf;

/// Collection mode (`-m`), as the reference's `sfmodes.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u32)]
pub enum Mode {
    /// Everything: file and network flows with read/write counts, file events, process events.
    #[default]
    Flow = 0,
    /// No read/write/mmap hooks: file flows are reported on open only (one record, `endTs = ts`); network flows
    /// still count send/recv.
    Consume = 1,
    /// Processes and sockets only: no file flows, no file events.
    NoFiles = 2,
}

impl Mode {
    /// Parses the reference's mode names (`flow`, `consume`, `nofiles`).
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "flow" => Some(Mode::Flow),
            "consume" => Some(Mode::Consume),
            "nofiles" => Some(Mode::NoFiles),
            _ => None,
        }
    }
}

/// `FILE_READ_MODE`: which read-only file flows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileReadMode {
    /// 0: all flows.
    All,
    /// 1: no read-only flows.
    NoReadOnly,
    /// 2: no read-only flows under `/proc/ /dev/ /sys/ //sys/ /lib/ /lib64/ /usr/lib/ /usr/lib64/` (the default).
    #[default]
    NoReadOnlySystem,
}

/// Everything the collector needs besides the kernel side.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Collection mode.
    pub mode: Mode,
    /// `ENABLE_PROC_FLOW`: thread clones/exits are aggregated in ProcessFlows.
    pub proc_flow: bool,
    /// `FILE_ONLY`: file flows only for regular files.
    pub file_only: bool,
    /// `FILE_READ_MODE`.
    pub file_read_mode: FileReadMode,
    /// `-c`: drop activity of processes outside containers.
    pub containers_only: bool,
    /// Exported flows are written after this many seconds (the reference's fixed 30 s).
    pub export_interval_secs: i64,
    /// A flow with no activity for this long is dropped at its export (the reference's fixed 60 s).
    pub expire_secs: i64,
    /// Root of the host filesystem (`HOST_ROOT`, e.g. `/host` in a container; empty on the host).
    pub host_root: PathBuf,
    /// Upper bound of the user-space process table; evictions are counted.
    pub max_procs: usize,
    /// Upper bound of the user-space flow table; new flows beyond it are dropped and counted.
    pub max_flows: usize,
    /// Ask the container runtime (docker, podman or CRI socket) for container names and images.
    pub container_metadata: bool,
    /// `-p`: the CRI socket to ask first (containerd's and CRI-O's default paths are tried anyway).
    pub cri_path: Option<PathBuf>,
    /// `-t`: timeout of one runtime query, in seconds.
    pub cri_timeout_secs: u64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            mode: Mode::Flow,
            proc_flow: true,
            file_only: true,
            file_read_mode: FileReadMode::NoReadOnlySystem,
            containers_only: false,
            export_interval_secs: 30,
            expire_secs: 60,
            host_root: PathBuf::new(),
            max_procs: 65536,
            max_flows: 262_144,
            container_metadata: true,
            cri_path: None,
            cri_timeout_secs: 2,
        }
    }
}
