//! Stage counters and the `-perflog` rate reporter.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A monotonically increasing record counter shared between a stage and the reporter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A named counter of one stage.
#[derive(Debug, Clone)]
pub struct StageCounter {
    /// Label printed in reports (`"File driver"`, `"Policy engine pipeline[1]"`).
    pub label: String,
    /// The counter.
    pub counter: Arc<Counter>,
}

/// Every stage counter of a running pipeline, with the time the pipeline started.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    stages: Mutex<Vec<StageCounter>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            stages: Mutex::new(Vec::new()),
        }
    }
}

impl Stats {
    /// A new set of counters; the clock starts now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a stage and returns its counter.
    pub fn stage(&self, label: impl Into<String>) -> Arc<Counter> {
        let counter = Arc::new(Counter::default());
        let mut stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        stages.push(StageCounter {
            label: label.into(),
            counter: Arc::clone(&counter),
        });
        counter
    }

    /// A snapshot of `(label, count)` for every stage.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        stages
            .iter()
            .map(|s| (s.label.clone(), s.counter.get()))
            .collect()
    }

    /// Time since the pipeline started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The final report: total records and average records/s of every stage.
    pub fn summary(&self) -> String {
        let secs = self.elapsed().as_secs_f64().max(1e-9);
        let mut out = format!("Stage rates over {secs:.3} s:\n");
        for (label, n) in self.snapshot() {
            let _ = writeln!(
                out,
                "  {label}: {n} records, {:.0} records/s",
                n as f64 / secs
            );
        }
        out
    }
}

/// Prints the records/s of every stage every `interval` until `stop` is raised (the reference's Perf logger lines,
/// `<stage> rate (events/sec): N`), to stderr regardless of the log level.
pub fn spawn_reporter(
    stats: Arc<Stats>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("sf-perflog".into())
        .spawn(move || {
            let mut last = stats.snapshot();
            let mut last_t = Instant::now();
            let step = Duration::from_millis(100);
            loop {
                let mut waited = Duration::ZERO;
                while waited < interval {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(step);
                    waited += step;
                }
                let now = stats.snapshot();
                let dt = last_t.elapsed().as_secs_f64().max(1e-9);
                for (i, (label, n)) in now.iter().enumerate() {
                    let before = last.get(i).map(|x| x.1).unwrap_or(0);
                    eprintln!("{label} rate (events/sec): {:.0}", (n - before) as f64 / dt);
                }
                last = now;
                last_t = Instant::now();
            }
        })
}
