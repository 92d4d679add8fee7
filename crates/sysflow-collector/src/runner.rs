//! The live loop: load → attach → poll → decode → aggregate → write, until asked to stop.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sysflow_format::Header;

use crate::bpf::{self, EventQueue, Probe, ProbeConfig};
use crate::collector::{Collector, UserStats};
use crate::config::CollectorConfig;
use crate::events::stat;
use crate::filter::Filter;
use crate::procfs::Names;
use crate::sink::RecordSink;

/// Everything a live run needs besides the sink.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Kernel side.
    pub probe: ProbeConfig,
    /// User side.
    pub collector: CollectorConfig,
    /// Base header of every segment (`version`, `exporter`, `ip`).
    pub header: Header,
    /// Seconds between segments (`-G`); 0 = never rotate.
    pub rotate_secs: i64,
    /// `-f` filter.
    pub filter: Option<Filter>,
    /// Ring-buffer poll timeout: the longest a record waits in the kernel when the adaptive wake-up holds it back.
    pub poll_timeout: Duration,
    /// Log drop and table counters this often (`None`: only at shutdown).
    pub stats_every: Option<Duration>,
}

impl LiveOptions {
    /// Reference live defaults: flow mode, procflow on, file-only, FILE_READ_MODE=2, 300 s rotation, 8 MiB ring.
    /// The probes watch every process, the caller's included: an embedding program (e.g. `sysflow run`) usually sets
    /// `probe.ignore_pid = std::process::id()`, as [`crate::run`] does.
    pub fn new(header: Header) -> LiveOptions {
        LiveOptions {
            probe: ProbeConfig {
                mode: Default::default(),
                file_only: true,
                ring_bytes: 8 << 20,
                max_flows: 65536,
                wakeup_bytes: 64 << 10,
                ignore_pid: 0,
                only_programs: None,
            },
            collector: CollectorConfig::default(),
            header,
            rotate_secs: 300,
            filter: None,
            poll_timeout: Duration::from_millis(100),
            stats_every: Some(Duration::from_secs(60)),
        }
    }
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunSummary<S> {
    /// The sink, finished.
    pub sink: S,
    /// Kernel counters (`events::stat` indices).
    pub kernel: [u64; stat::N],
    /// User-space counters.
    pub user: UserStats,
    /// Kernel records that failed to decode.
    pub decode_errors: u64,
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Wall-clock ns.
pub fn now_ns() -> i64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// Wall-clock minus CLOCK_BOOTTIME (the kernel's event clock).
pub fn boot_offset() -> i64 {
    let a = clock_ns(libc::CLOCK_REALTIME);
    let b = clock_ns(libc::CLOCK_BOOTTIME);
    let c = clock_ns(libc::CLOCK_REALTIME);
    a + (c - a) / 2 - b
}

fn log_stats(kernel: &[u64; stat::N], user: &UserStats, decode_errors: u64, final_: bool) {
    tracing::info!(
        final_ = final_,
        rb_drop_proc = kernel[stat::RB_DROP_PROC],
        rb_drop_flow = kernel[stat::RB_DROP_FLOW],
        rb_drop_file_event = kernel[stat::RB_DROP_FILE_EVENT],
        map_full_flows = kernel[stat::MAP_FULL_FLOWS],
        hits = kernel[stat::HITS],
        aggregated = kernel[stat::AGG_HITS],
        kernel_records = kernel[stat::EVENTS],
        records = user.records,
        orphan_flow_ends = user.orphan_flow_ends,
        proc_evictions = user.proc_evictions,
        flow_table_full = user.flow_table_full,
        expired_flows = user.expired_flows,
        decode_errors = decode_errors,
        "Collector counters."
    );
}

/// Runs the collector until `stop` is set, delivering records to `sink`. `ready` is signalled once the probes are
/// attached and pre-existing processes are loaded. On stop the probes are detached, the ring is drained, and every
/// open flow is written with TRUNCATE.
pub fn run_live<S: RecordSink>(
    opts: LiveOptions,
    sink: S,
    stop: &AtomicBool,
    ready: Option<Sender<()>>,
) -> Result<RunSummary<S>> {
    let mut storage = MaybeUninit::uninit();
    let probe = Probe::load(&opts.probe, &mut storage)?;
    tracing::info!(programs = probe.attached(), mode = ?opts.probe.mode, "BPF programs attached.");
    let queue = Rc::new(RefCell::new(EventQueue::default()));
    let offset = boot_offset();
    let mut col = Collector::new(
        opts.collector.clone(),
        sink,
        opts.header.clone(),
        Names::load(&names_root(&opts)),
        offset,
    );
    col.set_filter(opts.filter.clone());
    col.start(now_ns()).context("starting the first segment")?;
    if let Some(tx) = ready {
        let _ = tx.send(());
    }
    let result = {
        let ring = probe.ring(queue.clone())?;
        let mut last_periodic = Instant::now();
        let mut last_stats = Instant::now();
        let mut res: Result<()> = Ok(());
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = bpf::poll(&ring, opts.poll_timeout) {
                res = Err(e);
                break;
            }
            if let Err(e) = drain(&queue, &mut col, &probe) {
                res = Err(e);
                break;
            }
            if last_periodic.elapsed() >= Duration::from_secs(1) {
                last_periodic = Instant::now();
                if let Err(e) = col.periodic(now_ns(), opts.rotate_secs, &probe) {
                    res = Err(e);
                    break;
                }
            }
            if let Some(every) = opts.stats_every {
                if last_stats.elapsed() >= every {
                    last_stats = Instant::now();
                    log_stats(
                        &probe.stats(),
                        &col.stats(),
                        queue.borrow().decode_errors,
                        false,
                    );
                }
            }
        }
        probe.detach();
        if res.is_ok() {
            // no new kernel records; drain what is already in the ring
            let _ = ring.consume();
            res = drain(&queue, &mut col, &probe);
        }
        res
    };
    let shut = col.shutdown(now_ns(), &probe);
    let kernel = probe.stats();
    let decode_errors = queue.borrow().decode_errors;
    log_stats(&kernel, &col.stats(), decode_errors, true);
    result?;
    shut.context("flushing at shutdown")?;
    Ok(RunSummary {
        user: col.stats(),
        sink: col.into_sink(),
        kernel,
        decode_errors,
    })
}

fn names_root(opts: &LiveOptions) -> std::path::PathBuf {
    if opts.collector.host_root.as_os_str().is_empty() {
        std::path::PathBuf::from("/")
    } else {
        opts.collector.host_root.clone()
    }
}

fn drain<S: RecordSink>(
    queue: &Rc<RefCell<EventQueue>>,
    col: &mut Collector<S>,
    probe: &Probe<'_>,
) -> Result<()> {
    let events = std::mem::take(&mut queue.borrow_mut().events);
    for ev in events {
        col.handle(ev, probe)?;
    }
    Ok(())
}
