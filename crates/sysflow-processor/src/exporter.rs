//! The exporter stage: encodes events and hands them to a transport, in batches.
//!
//! Encoding runs on up to [`MAX_ENCODERS`] threads fed round-robin; this stage's thread takes their results back in
//! the same order, so records are delivered in input order.
//!
//! As in the reference loop: records are collected until `buffer` of them are pending (with `buffer: 0`, every
//! batch received is sent at once), a pending batch is flushed after one second without new records, and the rest is
//! flushed when the input closes. A failed delivery is logged and the batch is dropped (no retry), as in the
//! reference; the syslog transport reconnects on the next batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use tracing::{error, info};

use crate::config::ExporterConfig;
use crate::encode::Encoder;
use crate::event::EventBatch;
use crate::stats::Counter;
use crate::transport::{Transport, TransportStats};

/// Most encoder threads per exporter.
pub const MAX_ENCODERS: usize = 4;

/// Idle time after which pending records are flushed.
pub const IDLE_FLUSH: Duration = Duration::from_secs(1);

/// The exporter stage.
pub struct ExporterStage {
    place: String,
    buffer: usize,
    encoder: Encoder,
    transport: Transport,
    pending: Vec<Vec<u8>>,
    stats: TransportStats,
    reported_errors: u64,
    /// The terminal's reader went away (broken pipe): records are counted as dropped without trying again.
    output_closed: bool,
}

impl ExporterStage {
    /// An exporter writing with `transport` (opened beforehand, so that connection errors stop the start-up).
    pub fn new(config: &ExporterConfig, encoder: Encoder, transport: Transport) -> Self {
        ExporterStage {
            place: config.place.clone(),
            buffer: config.buffer,
            encoder,
            transport,
            pending: Vec::new(),
            stats: TransportStats::default(),
            reported_errors: 0,
            output_closed: false,
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let n = self.pending.len() as u64;
        if self.output_closed {
            self.stats.errors += n;
            self.pending.clear();
            return;
        }
        match self.transport.export(&self.pending) {
            Ok(()) => {
                self.stats.sent += n;
                self.stats.bytes += self.pending.iter().map(|m| m.len() as u64).sum::<u64>();
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::BrokenPipe
                    && matches!(self.transport, Transport::Terminal) =>
            {
                // `sfprocessor ... | head`: the reader is gone. Say so once, like a pipe's end would, and stop writing.
                self.stats.errors += n;
                self.output_closed = true;
                info!(exporter = %self.place, "Standard output closed (broken pipe); further records are discarded.");
            }
            Err(e) => {
                self.stats.errors += n;
                self.reported_errors += 1;
                // Log the first errors, then one in a thousand.
                if self.reported_errors <= 10 || self.reported_errors % 1000 == 0 {
                    error!(exporter = %self.place, transport = %self.transport.describe(), error = %e, records = n,
                        "Export failed; records dropped.");
                }
            }
        }
        self.pending.clear();
    }

    fn add_encoded(&mut self, msgs: Vec<Vec<u8>>) {
        for msg in msgs {
            self.pending.push(msg);
            if self.buffer > 0 && self.pending.len() >= self.buffer {
                self.flush();
            }
        }
        if self.buffer == 0 {
            self.flush();
        }
    }

    /// Runs until the input closes; returns the delivery counters.
    ///
    /// Encoding runs on a small pool of threads (one per core, at most [`MAX_ENCODERS`]) fed round-robin, and the
    /// encoded batches are delivered in input order by this thread.
    pub fn run(mut self, input: Receiver<EventBatch>, counter: Arc<Counter>) -> TransportStats {
        if matches!(self.transport, Transport::Null) {
            // Nothing observable: count the records without encoding them.
            for batch in input.iter() {
                counter.add(batch.len() as u64);
                self.stats.sent += batch.len() as u64;
            }
            return self.finish();
        }
        let k = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_ENCODERS);
        let mut to_encoders = Vec::with_capacity(k);
        let mut from_encoders = Vec::with_capacity(k);
        let mut handles = Vec::with_capacity(k);
        for i in 0..k {
            let (tx_in, rx_in) = bounded::<EventBatch>(2);
            let (tx_out, rx_out) = bounded::<Vec<Vec<u8>>>(2);
            let encoder = self.encoder.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("sf-encoder-{i}"))
                .spawn(move || {
                    for batch in rx_in.iter() {
                        let msgs: Vec<Vec<u8>> = batch
                            .events()
                            .map(|ev| {
                                let mut msg = Vec::with_capacity(2048);
                                encoder.encode(&ev, &mut msg);
                                msg
                            })
                            .collect();
                        if tx_out.send(msgs).is_err() {
                            break;
                        }
                    }
                });
            match spawned {
                Ok(h) => {
                    handles.push(h);
                    to_encoders.push(tx_in);
                    from_encoders.push(rx_out);
                }
                Err(e) => {
                    error!(exporter = %self.place, error = %e, "Cannot start an encoder thread.");
                    break;
                }
            }
        }
        let k = to_encoders.len();
        if k == 0 {
            // No encoder thread could be started: encode here.
            for batch in input.iter() {
                counter.add(batch.len() as u64);
                let msgs = batch
                    .events()
                    .map(|ev| {
                        let mut msg = Vec::with_capacity(2048);
                        self.encoder.encode(&ev, &mut msg);
                        msg
                    })
                    .collect();
                self.add_encoded(msgs);
            }
            return self.finish();
        }
        let dispatch_counter = Arc::clone(&counter);
        let dispatcher = std::thread::Builder::new()
            .name("sf-encode-dispatch".into())
            .spawn(move || {
                for (i, batch) in input.iter().enumerate() {
                    dispatch_counter.add(batch.len() as u64);
                    if to_encoders[i % k].send(batch).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = &dispatcher {
            error!(exporter = %self.place, error = %e, "Cannot start the encoder dispatcher.");
        }
        let mut last_flush = Instant::now();
        let mut i = 0usize;
        loop {
            match from_encoders[i % k].recv_timeout(IDLE_FLUSH) {
                Ok(msgs) => {
                    i += 1;
                    let before = self.stats.sent + self.stats.errors;
                    self.add_encoded(msgs);
                    if self.stats.sent + self.stats.errors != before {
                        last_flush = Instant::now();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Pending records wait at most about a second.
            if !self.pending.is_empty() && last_flush.elapsed() >= IDLE_FLUSH {
                self.flush();
                last_flush = Instant::now();
            }
        }
        drop(from_encoders);
        if let Ok(d) = dispatcher {
            let _ = d.join();
        }
        for h in handles {
            let _ = h.join();
        }
        self.finish()
    }

    fn finish(mut self) -> TransportStats {
        self.flush();
        info!(exporter = %self.place, sent = self.stats.sent, bytes = self.stats.bytes, errors = self.stats.errors,
            "Exporter finished.");
        self.stats
    }
}
