//! The reader stage (`sysflowreader` + built-in `flattener` handler): links records to their entities and applies the
//! optional rate limiter.
//!
//! One thread, as in the reference: entity caches are not shared. Entities (header, container, process, file, pod)
//! only update the caches; events and flows (PE, NF, FF, FE) and K8s events are emitted. Process flows and network
//! events are ignored, as in the reference.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use sysflow_format::{FlatRecord, Flattener, Record};
use tracing::debug;

use crate::config::ReaderConfig;
use crate::driver::InputBatch;
use crate::limiter::RateLimiter;
use crate::stats::Counter;

/// A batch of flattened records, shared by every branch of a fan-out.
pub type FlatBatch = Arc<Vec<FlatRecord>>;

/// Records per flattened batch.
pub const FLAT_BATCH: usize = 1024;

/// The reader + flattener stage.
pub struct ReaderStage {
    flattener: Flattener,
    limiter: Option<RateLimiter>,
    missing_process: u64,
}

impl ReaderStage {
    /// A stage for the given configuration.
    pub fn new(config: &ReaderConfig) -> Self {
        ReaderStage {
            flattener: Flattener::new(),
            limiter: config
                .filter_enabled
                .then(|| RateLimiter::new(config.filter_max_age)),
            missing_process: 0,
        }
    }

    /// Processes one input record; returns the flattened record to emit, if any.
    pub fn process(
        &mut self,
        record: Record,
        layout: sysflow_format::Layout,
        now: Instant,
    ) -> Option<FlatRecord> {
        if matches!(record, Record::ProcessFlow(_) | Record::NetworkEvent(_)) {
            return None;
        }
        let flat = self.flattener.push(record, layout)?;
        if flat.process.is_none() && flat.record.proc_oid().is_some() {
            self.missing_process += 1;
            if self.missing_process <= 10 {
                debug!(record = %flat.kind(), "Process of the record not found in the cache; emitted without process fields.");
            }
        }
        if let Some(limiter) = self.limiter.as_mut() {
            if !limiter.test(&flat, now) {
                return None;
            }
        }
        Some(flat)
    }

    /// Records dropped by the rate limiter.
    pub fn limited(&self) -> u64 {
        self.limiter.as_ref().map_or(0, RateLimiter::dropped)
    }

    /// Events whose process was not in the cache.
    pub fn missing_process(&self) -> u64 {
        self.missing_process
    }

    /// Runs the stage: reads input batches until the channel closes, sends flattened batches to every output.
    pub fn run(
        mut self,
        rx: Receiver<InputBatch>,
        outputs: Vec<Sender<FlatBatch>>,
        counter: &Counter,
    ) -> ReaderReport {
        let mut batch = Vec::with_capacity(FLAT_BATCH);
        let mut alive = outputs.len();
        let send = |batch: Vec<FlatRecord>, alive: &mut usize| {
            let shared = Arc::new(batch);
            *alive = 0;
            for tx in &outputs {
                if tx.send(Arc::clone(&shared)).is_ok() {
                    *alive += 1;
                }
            }
        };
        for input in rx.iter() {
            let now = Instant::now();
            for (record, layout) in input {
                if let Some(flat) = self.process(record, layout, now) {
                    batch.push(flat);
                }
            }
            // Forward at least once per input batch so that a slow stream is not held back.
            if !batch.is_empty() {
                counter.add(batch.len() as u64);
                send(
                    std::mem::replace(&mut batch, Vec::with_capacity(FLAT_BATCH)),
                    &mut alive,
                );
                if alive == 0 {
                    break;
                }
            }
        }
        ReaderReport {
            limited: self.limited(),
            missing_process: self.missing_process,
        }
    }
}

/// What the reader stage saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderReport {
    /// Records dropped by the rate limiter.
    pub limited: u64,
    /// Events whose process was not in the cache.
    pub missing_process: u64,
}
