//! The export loop: scan, upload finished files, delete them once confirmed, bound local disk.

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use futures::stream::{FuturesUnordered, StreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path;

use crate::naming::{object_key, NodeMetadata};
use crate::scan::{scan_dir, FinishPolicy, TraceFile};
use crate::store::{Bucket, S3Config};
use crate::upload::{upload_file, UploadOptions, UploadOutcome};

/// A watched directory and the bucket its files go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Directory the collector writes into.
    pub dir: PathBuf,
    /// Destination bucket.
    pub bucket: String,
}

/// Complete exporter configuration (built from [`crate::ExportArgs`] or directly).
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Store connection.
    pub s3: S3Config,
    /// Directory → bucket pairs.
    pub targets: Vec<Target>,
    /// Object key prefix (`--s3prefix`).
    pub prefix: String,
    /// Node/pod metadata for object names and `x-amz-meta-*`.
    pub meta: NodeMetadata,
    /// Pause between scans when all is well (`--scaninterval`).
    pub scan_interval: Duration,
    /// Upper bound of the pause after consecutive failed cycles (exponential backoff).
    pub max_backoff: Duration,
    /// Finished files that could not be uploaded and are older than this (by modification time) are
    /// deleted (`--agemin`).
    pub retention: Duration,
    /// When a file counts as finished.
    pub finish: FinishPolicy,
    /// Multipart settings.
    pub upload: UploadOptions,
    /// Files uploaded at the same time (the many-small-files case is latency-bound).
    pub file_concurrency: usize,
    /// On shutdown, how long an upload in progress may take to finish before it is abandoned.
    pub shutdown_grace: Duration,
}

/// Counters of an exporter's lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Files uploaded, confirmed and deleted locally.
    pub uploaded_files: u64,
    /// Bytes of those files.
    pub uploaded_bytes: u64,
    /// Files found already present (identical) in the store, deleted locally.
    pub already_present: u64,
    /// Files dropped by retention without being uploaded.
    pub dropped_files: u64,
    /// Bytes of those files.
    pub dropped_bytes: u64,
    /// Failed upload attempts (files kept and retried).
    pub failed_attempts: u64,
    /// Scan cycles run.
    pub cycles: u64,
    /// Cycles in which something failed.
    pub failed_cycles: u64,
}

struct TargetState {
    target: Target,
    store: Arc<AmazonS3>,
    bucket: Bucket,
    bucket_ready: bool,
}

/// The exporter. Create with [`Exporter::new`], drive with [`Exporter::run_until`] or
/// [`Exporter::run_cycle`].
pub struct Exporter {
    cfg: ExportConfig,
    targets: Vec<TargetState>,
    stats: ExportStats,
    consecutive_failures: u32,
    started: SystemTime,
    retried: HashSet<PathBuf>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("cfg", &self.cfg)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Exporter {
    /// Builds the clients; does not contact the store.
    pub fn new(cfg: ExportConfig) -> Result<Self> {
        let mut targets = Vec::new();
        for t in &cfg.targets {
            let store = Arc::new(cfg.s3.store(&t.bucket)?);
            let bucket = Bucket::new(&cfg.s3, &t.bucket, store.clone())?;
            targets.push(TargetState {
                target: t.clone(),
                store,
                bucket,
                bucket_ready: false,
            });
        }
        Ok(Self {
            cfg,
            targets,
            stats: ExportStats::default(),
            consecutive_failures: 0,
            started: SystemTime::now(),
            retried: HashSet::new(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> &ExportStats {
        &self.stats
    }

    /// The reference's startup health check: the store answers a bucket `HEAD` (any HTTP answer counts).
    pub async fn health_check(&self) -> bool {
        for t in &self.targets {
            if let Err(e) = t.bucket.exists().await {
                tracing::warn!(error = format!("{e:#}"), "Object storage is not reachable.");
                return false;
            }
        }
        true
    }

    /// One scan-and-upload pass over every target. Returns `true` when nothing failed. Stops between
    /// files when `stop` is set.
    pub async fn run_cycle(&mut self, stop: &AtomicBool) -> bool {
        self.stats.cycles += 1;
        let mut ok = true;
        for i in 0..self.targets.len() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            ok &= self.cycle_target(i, stop).await;
        }
        if ok {
            self.consecutive_failures = 0;
        } else {
            self.stats.failed_cycles += 1;
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        }
        ok
    }

    async fn cycle_target(&mut self, i: usize, stop: &AtomicBool) -> bool {
        let dir = self.targets[i].target.dir.clone();
        let policy = self.cfg.finish.clone();
        let scanned =
            tokio::task::spawn_blocking(move || scan_dir(&dir, &policy, SystemTime::now())).await;
        let scan = match scanned
            .context("directory scan task failed")
            .and_then(|r| r)
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "Cannot scan trace directory.");
                return false;
            }
        };
        if scan.finished.is_empty() {
            return true;
        }
        let t = &mut self.targets[i];
        if !t.bucket_ready {
            match t.bucket.ensure().await {
                Ok(()) => t.bucket_ready = true,
                Err(e) => {
                    tracing::error!(bucket = %t.target.bucket, error = format!("{e:#}"),
                        "Object store unavailable; keeping traces.");
                    self.apply_retention(&scan.finished);
                    return false;
                }
            }
        }
        let t = &self.targets[i];
        let store = t.store.clone();
        let meta = Arc::new(self.cfg.meta.clone());
        let upload = Arc::new(self.cfg.upload.clone());
        let limit = self.cfg.file_concurrency.max(1);
        let mut queue = scan.finished.iter();
        let mut inflight = FuturesUnordered::new();
        let mut failed = false;
        loop {
            while !failed && inflight.len() < limit && !stop.load(Ordering::Relaxed) {
                let Some(file) = queue.next() else { break };
                let key = Path::from(object_key(&self.cfg.prefix, &meta, &file.name).as_str());
                // Only files that predate this exporter, or that failed before, can already be in
                // the store; new files skip the extra HEAD request.
                let check = file.modified <= self.started || self.retried.contains(&file.path);
                let (store, meta, upload, file) =
                    (store.clone(), meta.clone(), upload.clone(), file.clone());
                inflight.push(async move {
                    let r = upload_file(&store, &key, &file, &meta, &upload, check).await;
                    (file, key, r)
                });
            }
            let Some((file, key, result)) = inflight.next().await else {
                break;
            };
            match result {
                Ok(outcome) => {
                    self.retried.remove(&file.path);
                    self.finish_upload(&file, &key, outcome);
                }
                Err(e) => {
                    self.stats.failed_attempts += 1;
                    self.retried.insert(file.path.clone());
                    tracing::warn!(file = %file.path.display(), key = %key, error = format!("{e:#}"),
                        "Upload failed; trace kept for retry.");
                    failed = true;
                }
            }
        }
        if failed {
            // The bucket may have gone (or the store restarted empty): re-check it next time.
            self.targets[i].bucket_ready = false;
            self.apply_retention(&scan.finished);
            return false;
        }
        true
    }

    fn finish_upload(&mut self, file: &TraceFile, key: &Path, outcome: UploadOutcome) {
        if let Err(e) = std::fs::remove_file(&file.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(file = %file.path.display(), error = %e,
                    "Uploaded trace but cannot delete it; it will be re-checked.");
            }
        }
        match outcome {
            UploadOutcome::Uploaded => {
                self.stats.uploaded_files += 1;
                self.stats.uploaded_bytes += file.size;
                tracing::info!(file = %file.path.display(), key = %key, bytes = file.size, "Uploaded trace.");
            }
            UploadOutcome::AlreadyPresent => {
                self.stats.already_present += 1;
                tracing::info!(file = %file.path.display(), key = %key,
                    "Trace already in the object store; removed local copy.");
            }
        }
    }

    /// Deletes the files among `files` older than the retention period, counting and logging them.
    fn apply_retention(&mut self, files: &[TraceFile]) {
        let now = SystemTime::now();
        for f in files {
            let age = now.duration_since(f.modified).unwrap_or(Duration::ZERO);
            if age < self.cfg.retention {
                continue;
            }
            match std::fs::remove_file(&f.path) {
                Ok(()) => {
                    self.retried.remove(&f.path);
                    self.stats.dropped_files += 1;
                    self.stats.dropped_bytes += f.size;
                    tracing::warn!(file = %f.path.display(), bytes = f.size, age_s = age.as_secs(),
                        dropped_total = self.stats.dropped_files,
                        "Trace removed before being uploaded to object store.");
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(file = %f.path.display(), error = %e, "Cannot remove expired trace.")
                }
            }
        }
    }

    /// Pause before the next cycle: the scan interval, doubled per consecutive failed cycle up to
    /// `max_backoff`, with ±20 % jitter when backing off.
    pub fn next_delay(&self) -> Duration {
        let base = self.cfg.scan_interval;
        if self.consecutive_failures == 0 {
            return base;
        }
        let factor = 2f64.powi(self.consecutive_failures.min(16) as i32);
        let cap = self.cfg.max_backoff.max(base);
        let d =
            Duration::try_from_secs_f64(base.as_secs_f64() * factor).map_or(cap, |d| d.min(cap));
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = 0.8 + 0.4 * (f64::from(nanos % 1000) / 1000.0);
        Duration::try_from_secs_f64(d.as_secs_f64() * jitter).unwrap_or(d)
    }

    /// Runs cycles until `shutdown` completes. An upload in progress at shutdown gets
    /// `shutdown_grace` to finish; otherwise it is abandoned (its file stays, nothing partial is
    /// visible in the store).
    pub async fn run_until<F: Future<Output = ()>>(mut self, shutdown: F) -> ExportStats {
        tokio::pin!(shutdown);
        let stop = AtomicBool::new(false);
        loop {
            {
                let grace = self.cfg.shutdown_grace;
                let cycle = self.run_cycle(&stop);
                tokio::pin!(cycle);
                tokio::select! {
                    _ = &mut cycle => {}
                    _ = &mut shutdown => {
                        stop.store(true, Ordering::Relaxed);
                        tracing::info!("Shutting down; finishing the upload in progress.");
                        if tokio::time::timeout(grace, cycle).await.is_err() {
                            tracing::warn!("Upload in progress abandoned at shutdown; its trace is kept.");
                        }
                        break;
                    }
                }
            }
            let delay = self.next_delay();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = &mut shutdown => break,
            }
        }
        let s = &self.stats;
        tracing::info!(
            uploaded = s.uploaded_files,
            bytes = s.uploaded_bytes,
            already_present = s.already_present,
            dropped = s.dropped_files,
            failed_attempts = s.failed_attempts,
            "Exporter stopped."
        );
        self.stats
    }
}
