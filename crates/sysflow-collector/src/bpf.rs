//! Loader of the BPF programs: open → configure (`.rodata`, map sizes) → load → attach → ring buffer.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject, RingBuffer, RingBufferBuilder};

use crate::config::Mode;
use crate::events::{self, stat, Event, FlowKey, FlowVal};

#[allow(
    clippy::all,
    missing_docs,
    dead_code,
    unsafe_op_in_unsafe_fn,
    non_camel_case_types
)]
#[allow(clippy::undocumented_unsafe_blocks)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/sysflow.skel.rs"));
}

use skel::{SysflowSkel, SysflowSkelBuilder};

/// Settings of the kernel side.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Collection mode: decides which programs are attached and what the kernel tracks.
    pub mode: Mode,
    /// Track only regular files (no dirs, pipes, unix sockets), as `FILE_ONLY=1`.
    pub file_only: bool,
    /// Ring buffer size in bytes (power of two, multiple of the page size).
    pub ring_bytes: u32,
    /// Capacity of the kernel flow table.
    pub max_flows: u32,
    /// Pending bytes in the ring buffer above which the kernel wakes the consumer.
    pub wakeup_bytes: u64,
    /// Process id the probes ignore (the collector itself; 0 = none).
    pub ignore_pid: u32,
    /// Attach only these programs instead of the mode's set (benchmarks measure the bare tracepoint floor with one).
    pub only_programs: Option<Vec<String>>,
}

/// Read/write programs on fds of any kind (files and sockets): not in consume mode.
const RW_PROGS: &[&str] = &[
    "exit_read",
    "exit_readv",
    "exit_pread64",
    "exit_preadv",
    "exit_write",
    "exit_writev",
    "exit_pwrite64",
    "exit_pwritev",
];
/// Socket data programs: every mode.
const NET_PROGS: &[&str] = &[
    "exit_recvfrom",
    "exit_recvmsg",
    "exit_recvmmsg",
    "exit_sendto",
    "exit_sendmsg",
    "exit_sendmmsg",
    "exit_accept",
    "exit_accept4",
    "exit_connect",
    "exit_close",
];
/// Process programs: every mode.
const PROC_PROGS: &[&str] = &[
    "on_fork",
    "on_exec",
    "on_exit",
    "exit_setuid",
    "exit_setreuid",
    "exit_setresuid",
];
/// Open programs: every mode (they produce nothing for files in nofiles mode).
const OPEN_PROGS: &[&str] = &["exit_open", "exit_openat", "exit_openat2", "exit_creat"];
/// File events: not in nofiles mode.
const FILE_EVENT_PROGS: &[&str] = &[
    "exit_mkdir",
    "exit_mkdirat",
    "exit_rmdir",
    "exit_unlink",
    "exit_unlinkat",
    "exit_link",
    "exit_linkat",
    "exit_symlink",
    "exit_symlinkat",
    "exit_rename",
    "exit_renameat",
    "exit_renameat2",
];

/// The programs attached in `mode`.
pub fn programs_for(mode: Mode) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    v.extend(PROC_PROGS);
    v.extend(OPEN_PROGS);
    v.extend(NET_PROGS);
    match mode {
        Mode::Flow => {
            v.extend(RW_PROGS);
            v.extend(["exit_mmap", "exit_setns", "exit_shutdown"]);
            v.extend(FILE_EVENT_PROGS);
        }
        Mode::Consume => v.extend(FILE_EVENT_PROGS),
        Mode::NoFiles => {
            v.extend(RW_PROGS);
            v.push("exit_shutdown");
        }
    }
    v
}

/// Loaded and attached probes.
pub struct Probe<'obj> {
    skel: SysflowSkel<'obj>,
    links: RefCell<Vec<Link>>,
}

/// Events decoded by the ring-buffer callback, waiting for the collector.
#[derive(Default)]
pub struct EventQueue {
    /// Decoded events, in ring order.
    pub events: Vec<Event>,
    /// Records that failed to decode.
    pub decode_errors: u64,
}

impl<'obj> Probe<'obj> {
    /// Opens, configures, loads and attaches the programs of `cfg.mode`. `storage` holds the libbpf object and must
    /// outlive the probe.
    pub fn load(
        cfg: &ProbeConfig,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Probe<'obj>> {
        ensure_tracefs();
        let builder = SysflowSkelBuilder::default();
        let mut open = builder.open(storage).context("opening the BPF object")?;
        let ro = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no .rodata")?;
        ro.cfg_self_pid = cfg.ignore_pid;
        ro.cfg_mode = cfg.mode as u32;
        ro.cfg_file_only = u32::from(cfg.file_only);
        ro.cfg_wakeup_bytes = cfg.wakeup_bytes;
        open.maps
            .rb
            .set_max_entries(cfg.ring_bytes)
            .context("sizing the ring buffer")?;
        open.maps
            .flows
            .set_max_entries(cfg.max_flows)
            .context("sizing the flow table")?;
        let wanted: Vec<&str> = match &cfg.only_programs {
            Some(only) => only.iter().map(String::as_str).collect(),
            None => programs_for(cfg.mode),
        };
        for mut p in open.open_object_mut().progs_mut() {
            let name = p.name().to_string_lossy().into_owned();
            p.set_autoload(wanted.contains(&name.as_str()));
        }
        let mut skel = open
            .load()
            .context("loading the BPF programs (needs root or CAP_BPF+CAP_PERFMON)")?;
        let mut links = Vec::new();
        for p in skel.object_mut().progs_mut() {
            let name = p.name().to_string_lossy().into_owned();
            if !wanted.contains(&name.as_str()) {
                continue;
            }
            links.push(
                p.attach()
                    .with_context(|| format!("attaching BPF program {name}"))?,
            );
        }
        Ok(Probe {
            skel,
            links: RefCell::new(links),
        })
    }

    /// Number of attached programs.
    pub fn attached(&self) -> usize {
        self.links.borrow().len()
    }

    /// Detaches every program (the maps stay readable). New kernel records stop; those already in the ring remain.
    pub fn detach(&self) {
        self.links.borrow_mut().clear();
    }

    /// A ring buffer whose callback decodes records into `queue`.
    pub fn ring(&self, queue: Rc<RefCell<EventQueue>>) -> Result<RingBuffer<'_>> {
        let mut b = RingBufferBuilder::new();
        b.add(&self.skel.maps.rb, move |data: &[u8]| {
            let mut q = queue.borrow_mut();
            match events::decode(data) {
                Ok(ev) => q.events.push(ev),
                Err(e) => {
                    q.decode_errors += 1;
                    tracing::debug!(error = %e, "undecodable kernel record");
                }
            }
            0
        })
        .context("registering the ring buffer")?;
        b.build().context("building the ring buffer")
    }

    /// Sums the per-CPU counters of the kernel's `stats` map.
    pub fn stats(&self) -> [u64; stat::N] {
        let mut out = [0u64; stat::N];
        for (i, slot) in out.iter_mut().enumerate() {
            let key = (i as u32).to_ne_bytes();
            if let Ok(Some(per_cpu)) = self.skel.maps.stats.lookup_percpu(&key, MapFlags::ANY) {
                *slot = per_cpu
                    .iter()
                    .filter_map(|v| {
                        v.get(..8)
                            .and_then(|b| b.try_into().ok())
                            .map(u64::from_ne_bytes)
                    })
                    .sum();
            }
        }
        out
    }
}

/// Access to the kernel flow table, as the collector needs it (mocked in unit tests).
pub trait FlowTable {
    /// The aggregate of `key`, if tracked.
    fn lookup(&self, key: FlowKey) -> Option<FlowVal>;
    /// Removes `key` if it is still the flow that started at `start_ts`; returns its last value.
    fn take(&self, key: FlowKey, start_ts: u64) -> Option<FlowVal>;
}

impl FlowTable for Probe<'_> {
    fn lookup(&self, key: FlowKey) -> Option<FlowVal> {
        let v = self
            .skel
            .maps
            .flows
            .lookup(&key.to_bytes(), MapFlags::ANY)
            .ok()??;
        FlowVal::from_bytes(&v)
    }

    fn take(&self, key: FlowKey, start_ts: u64) -> Option<FlowVal> {
        let v = self.lookup(key)?;
        if v.start_ts != start_ts {
            return None;
        }
        let _ = self.skel.maps.flows.delete(&key.to_bytes());
        Some(v)
    }
}

/// Syscall tracepoints are attached through tracefs: mount it at /sys/kernel/tracing when no tracefs is visible
/// (best effort; attaching reports the error otherwise).
fn ensure_tracefs() {
    let known = [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ];
    if known.iter().any(|p| std::path::Path::new(p).exists()) {
        return;
    }
    // SAFETY: all arguments are valid NUL-terminated strings; mount(2) has no memory-safety preconditions.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "tracefs is not mounted and mounting it failed.");
    }
}

/// Polls `ring` for up to `timeout`, then drains whatever is pending.
pub fn poll(ring: &RingBuffer<'_>, timeout: Duration) -> Result<()> {
    match ring.poll(timeout) {
        Ok(()) => {}
        Err(e) if e.kind() == libbpf_rs::ErrorKind::Interrupted => {}
        Err(e) => return Err(e).context("polling the ring buffer"),
    }
    let _ = ring.consume();
    Ok(())
}
