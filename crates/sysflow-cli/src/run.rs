//! `sysflow run`: the collector and the policy engine in one process, no socket in between.
//!
//! ```text
//! eBPF ─▶ collector ─┬─▶ FileSink (traces rotated under --dir)
//!                    └─▶ ChannelSink ─▶ processor pipeline (Driver::Channel) ─▶ flattener ─▶ policy engine ─▶ terminal
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Sender};
use sysflow_collector::{FileNaming, FileSink, LiveOptions, MultiSink, RecordSink};
use sysflow_format::{Header, Layout, Record};
use sysflow_processor::driver::{ChannelDriver, Driver, InputBatch};

/// The project's default policies (our own rules; see the file for what they detect).
pub const DEFAULT_POLICIES: &str = include_str!("../policies/default.yaml");

/// Arguments of `sysflow run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Directory for the rotated trace files (created if missing).
    #[arg(
        short = 'w',
        long = "dir",
        default_value = "sysflow-traces",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// Policy files or directories (default: the built-in policies).
    #[arg(long = "policies", value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Seconds per trace file.
    #[arg(short = 'G', long = "interval", default_value_t = 300, value_parser = clap::value_parser!(i64).range(1..))]
    pub interval: i64,
    /// Alert format: json or ecs.
    #[arg(long = "format", default_value = "json", value_parser = ["json", "ecs"])]
    pub format: String,
    /// Engine mode: alert (matching records only) or enrich (every record, tagged).
    #[arg(long = "mode", default_value = "alert", value_parser = ["alert", "enrich"])]
    pub mode: String,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long = "duration", value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Exporter (node) id written in trace headers (default: the host name).
    #[arg(short = 'e', long = "exporter-id")]
    pub exporter_id: Option<String>,
}

/// Batches records for the processor; flushed when full and at every periodic tick of the collector (≤1 s).
struct ChannelSink {
    tx: Sender<InputBatch>,
    batch: InputBatch,
}

impl ChannelSink {
    const BATCH: usize = 256;

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(Self::BATCH));
        self.tx.send(b).context("the policy engine stopped")
    }
}

impl RecordSink for ChannelSink {
    fn begin(&mut self, base: &Header, _now_secs: i64) -> anyhow::Result<()> {
        self.batch.push((Record::Header(base.clone()), Layout::V5));
        self.flush()
    }
    fn write(&mut self, rec: &Record) -> anyhow::Result<()> {
        self.batch.push((rec.clone(), Layout::V5));
        if self.batch.len() >= Self::BATCH {
            self.flush()?;
        }
        Ok(())
    }
    fn needs_reset(&mut self) -> bool {
        // Called on every periodic tick: a good moment to hand over what is pending.
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "Cannot hand records to the policy engine.");
        }
        false
    }
    fn finish(&mut self) -> anyhow::Result<()> {
        self.flush()
    }
}

fn pipeline_json(policies: &[PathBuf], mode: &str, format: &str) -> String {
    let paths: Vec<String> = policies.iter().map(|p| p.display().to_string()).collect();
    serde_json::json!({
        "pipeline": [
            {"processor": "sysflowreader", "handler": "flattener", "in": "sysflow sysflowchan", "out": "flat flattenerchan"},
            {"processor": "policyengine", "in": "flat flattenerchan", "out": "evt eventchan",
             "policies": paths.join(","), "mode": mode},
            {"processor": "exporter", "in": "evt eventchan", "export": "terminal", "format": format}
        ]
    })
    .to_string()
}

/// Runs capture and policy evaluation until stopped.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let policies = if args.policies.is_empty() {
        let p = args.dir.join(".sysflow-default-policies.yaml");
        std::fs::write(&p, DEFAULT_POLICIES)
            .with_context(|| format!("cannot write {}", p.display()))?;
        vec![p]
    } else {
        args.policies.clone()
    };
    let config_text = pipeline_json(&policies, &args.mode, &args.format);
    let origin = std::path::Path::new("<sysflow run pipeline>");
    let config = sysflow_processor::config::RawPipeline::parse(origin, &config_text)
        .and_then(|raw| raw.validate())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("building the run pipeline")?;
    let pipeline = sysflow_processor::pipeline::Pipeline::build(config, Default::default())?;

    let stop = Arc::new(AtomicBool::new(false));
    sysflow_processor::driver::install_signal_handlers(&stop)?;
    let (tx, rx) = bounded::<InputBatch>(64);
    // The pipeline ends when the collector is done and has dropped its sink (the channel disconnects), not when
    // the collector is asked to stop: the collector's last records (open flows flushed at shutdown) come after that.
    let engine_stop = Arc::new(AtomicBool::new(false));
    let engine_done = Arc::clone(&engine_stop);
    let engine = std::thread::Builder::new()
        .name("sf-pipeline".into())
        .spawn(move || pipeline.run(Driver::Channel(ChannelDriver { rx }), engine_stop))?;

    let host = args.exporter_id.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default()
    });
    let header = Header {
        version: 5,
        exporter: host,
        ip: "NA".into(),
        filename: String::new(),
    };
    let mut opts = LiveOptions::new(header);
    opts.rotate_secs = args.interval;
    opts.probe.ignore_pid = std::process::id();
    let mut dir = args.dir.display().to_string();
    if !dir.ends_with('/') {
        dir.push('/');
    }
    let sink = MultiSink {
        sinks: vec![
            Box::new(FileSink::new(FileNaming::new(dir))),
            Box::new(ChannelSink {
                tx,
                batch: Vec::with_capacity(ChannelSink::BATCH),
            }),
        ],
    };
    if let Some(secs) = args.duration {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
    let summary = sysflow_collector::run_live(opts, sink, &stop, None);
    // The collector is done (its sink, and so the channel, is dropped): the pipeline drains and ends.
    stop.store(true, Ordering::Relaxed);
    engine_done.store(true, Ordering::Relaxed);
    let report = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))??;
    summary.context("live capture")?;
    tracing::info!(?report, "sysflow run finished.");
    Ok(ExitCode::SUCCESS)
}
