//! The policy engine stage at run time: evaluation on worker threads, in order, with hot reload.
//!
//! ```text
//!              ┌─> worker 0 ─┐
//! in ─> dispatch ─> worker 1 ─┼─> collect ─> out channels (fan-out)
//!              └─> worker N ─┘
//! ```
//!
//! The dispatcher hands input batches to the workers round-robin over per-worker bounded channels, and the collector
//! takes the results back in the same round-robin order, so the output keeps the input order (the reference loses it
//! with more than one worker) while every core evaluates. All channels are bounded: a slow exporter blocks the
//! collector, then the workers, the dispatcher and finally the reader (backpressure, bounded memory).
//!
//! Hot reload (`monitor: local`): a monitor thread fingerprints the policy files every `monitor.interval`; when they
//! change it compiles a new engine (a failed compile keeps the old one and is logged) and publishes it. Each worker
//! checks for a new engine before every batch, so every batch is evaluated completely by one engine and no record is
//! lost or evaluated twice.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver, Sender};
use sysflow_policy::{Compat, EngineConfig as PolicyConfig, PolicyEngine};
use tracing::{error, info};
use xxhash_rust::xxh64::Xxh64;

use crate::config::EngineConfig;
use crate::event::{EventBatch, EventItem};
use crate::reader::FlatBatch;
use crate::stats::Counter;

/// Batches queued per worker.
const WORKER_QUEUE: usize = 2;

/// The currently active engine, shared by the workers and replaced by the monitor.
#[derive(Debug)]
pub struct SharedEngine {
    engine: RwLock<Arc<PolicyEngine>>,
    generation: AtomicU64,
    /// Every engine that was active, oldest first (for the final per-rule report).
    history: RwLock<Vec<Arc<PolicyEngine>>>,
}

impl SharedEngine {
    /// Wraps the initial engine.
    pub fn new(engine: PolicyEngine) -> Arc<Self> {
        let engine = Arc::new(engine);
        Arc::new(SharedEngine {
            engine: RwLock::new(Arc::clone(&engine)),
            generation: AtomicU64::new(0),
            history: RwLock::new(vec![engine]),
        })
    }

    /// The active engine.
    pub fn current(&self) -> Arc<PolicyEngine> {
        Arc::clone(&self.engine.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Number of replacements so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes `engine` the active engine; workers pick it up before their next batch.
    pub fn replace(&self, engine: PolicyEngine) {
        let engine = Arc::new(engine);
        self.history
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&engine));
        *self.engine.write().unwrap_or_else(|p| p.into_inner()) = engine;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Every engine that has been active, oldest first.
    pub fn history(&self) -> Vec<Arc<PolicyEngine>> {
        self.history
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The policy-crate configuration of an engine entry.
pub fn policy_config(cfg: &EngineConfig, compat: Compat, bench: bool) -> PolicyConfig {
    PolicyConfig {
        mode: cfg.mode,
        language: cfg.language,
        sigma_config: cfg.sigma_config.clone(),
        compat,
        // As in the reference, the bench.* keys are only honoured with -perflog.
        rule_set_size: if bench { cfg.bench_ruleset_size } else { None },
        rule_index: if bench { cfg.bench_rule_index } else { None },
    }
}

/// Compiles the policies of an engine entry. Errors name the entry (`pipeline[1].policies: ...`).
pub fn compile(cfg: &EngineConfig, policy: &PolicyConfig) -> Result<PolicyEngine> {
    let paths: Vec<PathBuf> = cfg.policies.iter().cloned().collect();
    let engine =
        PolicyEngine::load(&paths, policy).with_context(|| format!("{}.policies", cfg.place))?;
    Ok(engine)
}

/// Fingerprint of the policy files (names and contents), to detect changes.
pub fn fingerprint(cfg: &EngineConfig) -> Option<u64> {
    let paths: Vec<PathBuf> = cfg.policies.iter().cloned().collect();
    let files = PolicyEngine::policy_files(&paths).ok()?;
    let mut h = Xxh64::new(0);
    for f in files {
        h.update(f.as_os_str().as_encoded_bytes());
        h.update(&[0]);
        h.update(&std::fs::read(&f).ok()?);
        h.update(&[0]);
    }
    Some(h.digest())
}

/// Runs the hot-reload monitor until `stop` is raised.
pub fn spawn_monitor(
    cfg: EngineConfig,
    policy: PolicyConfig,
    shared: Arc<SharedEngine>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("sf-policy-monitor".into()).spawn(move || {
        let mut last = fingerprint(&cfg);
        let mut next = Instant::now() + cfg.monitor_interval;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            if Instant::now() < next {
                continue;
            }
            next = Instant::now() + cfg.monitor_interval;
            let now = fingerprint(&cfg);
            if now.is_none() || now == last {
                continue;
            }
            last = now;
            match compile(&cfg, &policy) {
                Ok(engine) => {
                    info!(place = %cfg.place, rules = engine.rules().len(), "Policies changed: new engine active.");
                    shared.replace(engine);
                }
                Err(e) => error!(error = %format!("{e:#}"), "Policies changed but do not compile; keeping the old ones."),
            }
        }
    })
}

/// Runs the engine stage: dispatcher, `concurrency` workers and the collector. Returns when the input closes and
/// every result has been forwarded (or every output is gone).
pub fn run_engine(
    concurrency: usize,
    shared: Arc<SharedEngine>,
    input: Receiver<FlatBatch>,
    outputs: Vec<Sender<EventBatch>>,
    counter: Arc<Counter>,
) -> std::io::Result<()> {
    let n = concurrency.max(1);
    let mut to_workers = Vec::with_capacity(n);
    let mut from_workers = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (tx_in, rx_in) = bounded::<FlatBatch>(WORKER_QUEUE);
        let (tx_out, rx_out) = bounded::<EventBatch>(WORKER_QUEUE);
        to_workers.push(tx_in);
        from_workers.push(rx_out);
        let shared = Arc::clone(&shared);
        handles.push(
            std::thread::Builder::new()
                .name(format!("sf-engine-{i}"))
                .spawn(move || worker(shared, rx_in, tx_out))?,
        );
    }
    let dispatcher = std::thread::Builder::new()
        .name("sf-engine-dispatch".into())
        .spawn(move || {
            for (i, batch) in input.iter().enumerate() {
                counter.add(batch.len() as u64);
                if to_workers[i % n].send(batch).is_err() {
                    break;
                }
            }
        })?;
    // Collect in dispatch order.
    let mut i = 0usize;
    'collect: while let Ok(out) = from_workers[i % n].recv() {
        i += 1;
        if out.items.is_empty() {
            continue;
        }
        let mut alive = false;
        if let [tx] = outputs.as_slice() {
            alive = tx.send(out).is_ok();
        } else {
            for tx in &outputs {
                alive |= tx.send(out.clone()).is_ok();
            }
        }
        if !alive {
            break 'collect;
        }
    }
    drop(from_workers);
    let _ = dispatcher.join();
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

fn worker(shared: Arc<SharedEngine>, input: Receiver<FlatBatch>, output: Sender<EventBatch>) {
    let mut generation = shared.generation();
    let mut evaluator = shared.current().evaluator();
    for batch in input.iter() {
        let g = shared.generation();
        if g != generation {
            generation = g;
            evaluator = shared.current().evaluator();
        }
        let mut items = Vec::new();
        for (i, rec) in batch.iter().enumerate() {
            let verdict = evaluator.evaluate(rec);
            if verdict.emit {
                items.push(EventItem {
                    index: i as u32,
                    rules: verdict.rules,
                    tags: Vec::new(),
                });
            }
        }
        // Empty results are sent too: the collector relies on one result per batch to keep the order.
        if output
            .send(EventBatch {
                records: batch,
                items,
            })
            .is_err()
        {
            break;
        }
    }
    evaluator.flush();
}
