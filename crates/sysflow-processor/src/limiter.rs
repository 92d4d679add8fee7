//! The flattener's rate limiter (`filter.enabled: on`): a time-decay de-duplication filter.
//!
//! As in the reference (`core/flattener/filter.go`): a record is reduced to an xxhash64 over the process executable,
//! arguments, uid, gid, op flags and tty, plus the 4-tuple tail (sip, dip, dport, proto) for network flows and the
//! file path for file flows and events. A record is dropped when the same hash was first seen less than `max_age`
//! ago; the time counts from the first sighting and is not refreshed by repeats. Entries older than `max_age` are
//! evicted in first-seen order on every test. K8s events always pass.
//!
//! Time is wall-clock time of processing (as in the reference), supplied by the caller so that tests can drive it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sysflow_format::{FlatRecord, Record};
use xxhash_rust::xxh64::Xxh64;

/// Time-decay filter state.
#[derive(Debug)]
pub struct RateLimiter {
    max_age: Duration,
    seen: HashMap<u64, Instant>,
    order: VecDeque<(Instant, u64)>,
    dropped: u64,
}

impl RateLimiter {
    /// A limiter that suppresses repeats for `max_age`.
    pub fn new(max_age: Duration) -> Self {
        RateLimiter {
            max_age,
            seen: HashMap::new(),
            order: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Entries currently remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Whether `rec` passes at time `now` (and remembers it if it is new).
    pub fn test(&mut self, rec: &FlatRecord, now: Instant) -> bool {
        if matches!(rec.record, Record::K8sEvent(_)) {
            return true;
        }
        while let Some(&(t, h)) = self.order.front() {
            if now.saturating_duration_since(t) < self.max_age {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&h) == Some(&t) {
                self.seen.remove(&h);
            }
        }
        let h = record_hash(rec);
        if self.seen.contains_key(&h) {
            self.dropped += 1;
            return false;
        }
        self.seen.insert(h, now);
        self.order.push_back((now, h));
        true
    }
}

/// The limiter's hash of a record.
pub fn record_hash(rec: &FlatRecord) -> u64 {
    let mut h = Xxh64::new(0);
    let int = |h: &mut Xxh64, v: i64| h.update(&v.to_le_bytes());
    if let Some(p) = rec.process.as_deref() {
        h.update(p.exe.trim().as_bytes());
        h.update(p.exe_args.trim().as_bytes());
        int(&mut h, i64::from(p.uid));
        int(&mut h, i64::from(p.gid));
    } else {
        int(&mut h, 0);
        int(&mut h, 0);
    }
    int(&mut h, i64::from(rec.record.op_flags().unwrap_or(0)));
    int(
        &mut h,
        i64::from(rec.process.as_deref().is_some_and(|p| p.tty)),
    );
    match &rec.record {
        Record::NetworkFlow(nf) => {
            for v in [nf.sip, nf.dip, nf.dport, nf.proto] {
                int(&mut h, i64::from(v));
            }
        }
        Record::FileFlow(_) | Record::FileEvent(_) => {
            h.update(rec.file.as_deref().map_or("", |f| f.path.trim()).as_bytes());
        }
        _ => {}
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sysflow_format::flags::op;
    use sysflow_format::{FileFlow, K8sEvent, Layout, Process, ProcessEvent};

    use super::*;

    fn rec(record: Record, exe: &str) -> FlatRecord {
        FlatRecord {
            record,
            header: None,
            pod: None,
            container: None,
            parent: None,
            process: Some(Arc::new(Process {
                exe: exe.into(),
                ..Default::default()
            })),
            file: None,
            new_file: None,
            ancestors: Default::default(),
            layout: Layout::V5,
        }
    }

    #[test]
    fn repeats_are_dropped_until_max_age() {
        let mut l = RateLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let exec = || {
            rec(
                Record::ProcessEvent(ProcessEvent {
                    op_flags: op::EXEC,
                    ..Default::default()
                }),
                "/bin/sh",
            )
        };
        assert!(l.test(&exec(), t0));
        assert!(
            !l.test(&exec(), t0 + Duration::from_secs(5)),
            "repeat within max_age"
        );
        // The time counts from the first sighting: at 10 s the entry expires.
        assert!(l.test(&exec(), t0 + Duration::from_secs(10)));
        assert_eq!(l.dropped(), 1);
        // Another executable, another op, or a file flow are different records.
        assert!(l.test(
            &rec(
                Record::ProcessEvent(ProcessEvent {
                    op_flags: op::EXEC,
                    ..Default::default()
                }),
                "/bin/ls"
            ),
            t0
        ));
        assert!(l.test(
            &rec(
                Record::ProcessEvent(ProcessEvent {
                    op_flags: op::EXIT,
                    ..Default::default()
                }),
                "/bin/sh"
            ),
            t0
        ));
        assert!(l.test(&rec(Record::FileFlow(FileFlow::default()), "/bin/sh"), t0));
        // K8s events always pass.
        let ke = rec(Record::K8sEvent(K8sEvent::default()), "");
        assert!(l.test(&ke, t0) && l.test(&ke, t0));
        assert_eq!(l.len(), 4);
    }
}
