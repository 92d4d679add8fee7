//! Building and running a validated pipeline: one thread per stage, bounded channels of record batches.
//!
//! ```text
//! driver ─(root)─> reader+flattener ─┬─(flattenerchan)─> policy engine ─┬─(eventchan)─> exporter
//!                                    └─(flattenerchan)─> policy engine ─┘─(eventchan)─> exporter
//! ```
//!
//! Channels are named by their id in `pipeline.json`; a stage listing several `out` channels sends every batch to
//! each of them (the batch is shared, not copied). Several stages may write to one channel; it closes when all of
//! them are done, so shutdown cascades from the driver to the exporters. Everything that can fail for a bad
//! configuration (policy compilation, output files, syslog connection) happens in [`Pipeline::build`]; the socket is
//! bound in [`Pipeline::run`] before any thread starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use crossbeam_channel::{bounded, Receiver, Sender};
use sysflow_policy::{Compat, CostReport, PolicyEngine};
use tracing::{info, warn};

use crate::config::{EngineConfig, PipelineConfig};
use crate::driver::{Driver, InputBatch};
use crate::encode::Encoder;
use crate::event::EventBatch;
use crate::exporter::ExporterStage;
use crate::reader::{FlatBatch, ReaderReport, ReaderStage};
use crate::runtime::{self, SharedEngine};
use crate::stats::Stats;
use crate::transport::{Transport, TransportStats};

/// Batches buffered per channel.
pub const CHANNEL_BATCHES: usize = 8;

/// Run-time options that do not come from `pipeline.json`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Print stage rates periodically (`-perflog`); also enables the `bench.*` keys as in the reference.
    pub perflog: bool,
    /// Period of the `-perflog` report.
    pub perf_interval: Duration,
    /// Print the per-rule report at exit (`-rulestats`, implied by `-perflog`).
    pub rule_stats: bool,
    /// Field semantics (reference bugs fixed or reproduced).
    pub compat: Compat,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            perflog: false,
            perf_interval: Duration::from_secs(15),
            rule_stats: false,
            compat: Compat::default(),
        }
    }
}

/// A compiled policy engine stage, ready to run.
struct EngineStage {
    config: EngineConfig,
    shared: Arc<SharedEngine>,
    policy: sysflow_policy::EngineConfig,
}

/// What a finished run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Records read by the driver.
    pub read: u64,
    /// Records emitted by the flattener (after the rate limiter).
    pub flattened: u64,
    /// What the reader saw.
    pub reader: ReaderReport,
    /// Per engine: its place and the per-rule cost report of its last engine.
    pub engines: Vec<(String, CostReport)>,
    /// Per exporter: its place and its delivery counters.
    pub exporters: Vec<(String, TransportStats)>,
    /// Engine reloads that happened (hot reload).
    pub reloads: u64,
}

/// A pipeline whose policies are compiled and whose outputs are open.
pub struct Pipeline {
    config: PipelineConfig,
    engines: Vec<EngineStage>,
    exporters: Vec<(crate::config::ExporterConfig, Transport)>,
    options: RunOptions,
}

/// Compiles the policies of every engine entry (used by `-test` and by [`Pipeline::build`]).
pub fn compile_engines(config: &PipelineConfig, options: &RunOptions) -> Result<Vec<PolicyEngine>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for e in &config.engines {
        let policy = runtime::policy_config(e, options.compat, options.perflog);
        match runtime::compile(e, &policy) {
            Ok(engine) => {
                for w in engine.warnings() {
                    warn!(place = %e.place, "{w}");
                }
                out.push(engine);
            }
            Err(err) => errors.push(format!("{err:#}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(anyhow!(
            "invalid policies in {}:\n  {}",
            config.file.display(),
            errors.join("\n  ")
        ))
    }
}

impl Pipeline {
    /// Compiles the policies and opens the exporters' outputs.
    pub fn build(config: PipelineConfig, options: RunOptions) -> Result<Pipeline> {
        let compiled = compile_engines(&config, &options)?;
        let engines = config
            .engines
            .iter()
            .zip(compiled)
            .map(|(c, engine)| {
                info!(place = %c.place, rules = engine.rules().len(), files = engine.files().len(), mode = ?c.mode,
                    workers = c.concurrency, "Policy engine ready.");
                EngineStage {
                    config: c.clone(),
                    shared: SharedEngine::new(engine),
                    policy: runtime::policy_config(c, options.compat, options.perflog),
                }
            })
            .collect();
        let mut exporters = Vec::new();
        for x in &config.exporters {
            let transport =
                Transport::open(&x.target).with_context(|| format!("{}.export", x.place))?;
            exporters.push((x.clone(), transport));
        }
        Ok(Pipeline {
            config,
            engines,
            exporters,
            options,
        })
    }

    /// Runs the pipeline with `driver` until the input is exhausted or `stop` is raised, then drains every stage.
    pub fn run(self, driver: Driver, stop: Arc<AtomicBool>) -> Result<RunReport> {
        let stats = Arc::new(Stats::new());
        let finished = Arc::new(AtomicBool::new(false));
        // Channels by id.
        let (root_tx, root_rx) = bounded::<InputBatch>(CHANNEL_BATCHES);
        let mut flat: HashMap<String, (Sender<FlatBatch>, Option<Receiver<FlatBatch>>)> =
            HashMap::new();
        let mut events: HashMap<String, (Sender<EventBatch>, Option<Receiver<EventBatch>>)> =
            HashMap::new();
        for c in &self.config.reader.outputs {
            let (tx, rx) = bounded(CHANNEL_BATCHES);
            flat.entry(c.id.clone()).or_insert((tx, Some(rx)));
        }
        for e in &self.config.engines {
            for c in &e.outputs {
                let (tx, rx) = bounded(CHANNEL_BATCHES);
                events.entry(c.id.clone()).or_insert((tx, Some(rx)));
            }
        }

        let mut threads: Vec<(String, JoinHandle<Result<()>>)> = Vec::new();
        let driver_counter = stats.stage(match &driver {
            Driver::File(_) => "File driver",
            Driver::Socket(_) => "Socket driver",
            Driver::Channel(_) => "Channel driver",
        });
        let socket = match &driver {
            Driver::Socket(s) => Some(s.bind()?),
            Driver::File(f) => {
                f.check()?;
                None
            }
            Driver::Channel(_) => None,
        };
        {
            let stop = Arc::clone(&stop);
            let counter = Arc::clone(&driver_counter);
            let handle =
                std::thread::Builder::new()
                    .name("sf-driver".into())
                    .spawn(move || match (driver, socket) {
                        (Driver::File(f), _) => f.run(&root_tx, &stop, &counter),
                        (Driver::Socket(s), Some(sock)) => s.run(sock, &root_tx, &stop, &counter),
                        (Driver::Socket(_), None) => Err(anyhow!("socket not bound")),
                        (Driver::Channel(c), _) => c.run(&root_tx, &stop, &counter),
                    })?;
            threads.push(("driver".into(), handle));
        }

        // Reader.
        let reader_outputs: Vec<Sender<FlatBatch>> = self
            .config
            .reader
            .outputs
            .iter()
            .filter_map(|c| flat.get(&c.id).map(|(tx, _)| tx.clone()))
            .collect();
        let reader_counter = stats.stage("Flattener");
        let reader = ReaderStage::new(&self.config.reader);
        let reader_handle = std::thread::Builder::new()
            .name("sf-reader".into())
            .spawn(move || reader.run(root_rx, reader_outputs, &reader_counter))?;

        // Engines.
        let mut monitors = Vec::new();
        let mut engine_shared = Vec::new();
        for stage in self.engines {
            let rx = flat
                .get_mut(&stage.config.input.id)
                .and_then(|(_, rx)| rx.take())
                .ok_or_else(|| {
                    anyhow!(
                        "{}.in: channel {} has no producer",
                        stage.config.place,
                        stage.config.input
                    )
                })?;
            let outs: Vec<Sender<EventBatch>> = stage
                .config
                .outputs
                .iter()
                .filter_map(|c| events.get(&c.id).map(|(tx, _)| tx.clone()))
                .collect();
            let counter = stats.stage(format!("Policy engine {}", stage.config.place));
            if stage.config.monitor {
                monitors.push(runtime::spawn_monitor(
                    stage.config.clone(),
                    stage.policy.clone(),
                    Arc::clone(&stage.shared),
                    Arc::clone(&finished),
                )?);
            }
            engine_shared.push((stage.config.place.clone(), Arc::clone(&stage.shared)));
            let (workers, shared) = (stage.config.concurrency, stage.shared);
            let handle = std::thread::Builder::new()
                .name("sf-engine".into())
                .spawn(move || {
                    runtime::run_engine(workers, shared, rx, outs, counter)
                        .map_err(anyhow::Error::from)
                })?;
            threads.push((stage.config.place.clone(), handle));
        }

        // Exporters.
        let mut exporter_handles = Vec::new();
        for (cfg, transport) in self.exporters {
            let rx = events
                .get_mut(&cfg.input.id)
                .and_then(|(_, rx)| rx.take())
                .ok_or_else(|| {
                    anyhow!("{}.in: channel {} has no producer", cfg.place, cfg.input)
                })?;
            let counter = stats.stage(format!("Exporter {}", cfg.place));
            let stage = ExporterStage::new(
                &cfg,
                Encoder::new(cfg.format, self.options.compat),
                transport,
            );
            let place = cfg.place.clone();
            exporter_handles.push((
                place,
                std::thread::Builder::new()
                    .name("sf-exporter".into())
                    .spawn(move || stage.run(rx, counter))?,
            ));
        }
        // Only the stages hold channel ends now: closing cascades from the driver.
        drop(flat);
        drop(events);

        let reporter = if self.options.perflog {
            Some(crate::stats::spawn_reporter(
                Arc::clone(&stats),
                self.options.perf_interval,
                Arc::clone(&finished),
            )?)
        } else {
            None
        };

        let mut failures = Vec::new();
        for (name, h) in threads {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{name}: {e:#}")),
                Err(_) => failures.push(format!("{name}: thread panicked")),
            }
        }
        let reader_report = reader_handle.join().unwrap_or_default();
        let mut report = RunReport {
            reader: reader_report,
            ..RunReport::default()
        };
        for (place, h) in exporter_handles {
            match h.join() {
                Ok(s) => report.exporters.push((place, s)),
                Err(_) => failures.push(format!("{place}: exporter thread panicked")),
            }
        }
        finished.store(true, Ordering::Relaxed);
        for m in monitors {
            let _ = m.join();
        }
        if let Some(r) = reporter {
            let _ = r.join();
        }
        let snapshot = stats.snapshot();
        report.read = snapshot.first().map_or(0, |s| s.1);
        report.flattened = snapshot.get(1).map_or(0, |s| s.1);
        for (place, shared) in &engine_shared {
            report.reloads += shared.generation();
            report
                .engines
                .push((place.clone(), shared.current().cost_report()));
        }
        if self.options.perflog {
            eprint!("{}", stats.summary());
        }
        if self.options.perflog || self.options.rule_stats {
            for (place, shared) in &engine_shared {
                let history = shared.history();
                for (i, engine) in history.iter().enumerate() {
                    let which = if history.len() > 1 {
                        format!(" (policy set {} of {})", i + 1, history.len())
                    } else {
                        String::new()
                    };
                    eprintln!("Rule report of the policy engine {place}{which}:");
                    eprint!("{}", engine.cost_report().to_table());
                }
            }
        }
        if failures.is_empty() {
            Ok(report)
        } else {
            Err(anyhow!("the pipeline failed:\n  {}", failures.join("\n  ")))
        }
    }
}
