//! Directory scanning and the rule that decides when a trace file is finished.
//!
//! A file is **finished** when all of these hold:
//! 1. it is a regular, non-hidden file whose name contains a digit (collector files are named by
//!    their start epoch, and the reference orders them by the integer made of the path's digits; the
//!    base name's digits are used here, which gives the same order for a digit-free directory path
//!    such as `/mnt/data`);
//! 2. either a newer trace file (greater digit key) exists in the same directory — the collector
//!    closes a file before it opens the next one at rotation — or, when `idle_finish` is set, the file
//!    has not been modified for that long (a collector that stopped leaves its last file behind);
//! 3. it has not been modified for at least `settle` (guards against writers that open the next file
//!    before closing the previous one);
//! 4. no process visible in `/proc` holds it open for writing (checked from `/proc/<pid>/fdinfo`
//!    flags; processes in other PID namespaces are invisible, so rules 2 and 3 carry the decision
//!    there).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::naming::{cmp_digit_keys, digit_key};

/// Parameters of the finished-file rule (see the module docs).
#[derive(Debug, Clone)]
pub struct FinishPolicy {
    /// Minimum time since the last modification before a rotated file is taken.
    pub settle: Duration,
    /// When set, the newest file is also finished once unmodified for this long.
    pub idle_finish: Option<Duration>,
    /// Consult `/proc` for processes holding the file open for writing.
    pub check_open_writers: bool,
}

impl Default for FinishPolicy {
    fn default() -> Self {
        Self {
            settle: Duration::from_secs(1),
            idle_finish: None,
            check_open_writers: true,
        }
    }
}

/// A trace file found in the watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFile {
    /// Full path.
    pub path: PathBuf,
    /// Base name.
    pub name: String,
    /// Size in bytes at scan time.
    pub size: u64,
    /// Modification time at scan time.
    pub modified: SystemTime,
    /// Device and inode, to recognise the same file later.
    pub dev_ino: (u64, u64),
}

/// Result of one directory scan.
#[derive(Debug, Default)]
pub struct Scan {
    /// Finished files, oldest first (reference order).
    pub finished: Vec<TraceFile>,
    /// Files still being written (or not yet settled), oldest first.
    pub unfinished: Vec<TraceFile>,
    /// Regular files that are not trace files (no digit in the name).
    pub ignored: Vec<PathBuf>,
}

/// Scans `dir` (not recursively) and classifies its files with `policy`, as of `now`.
pub fn scan_dir(dir: &Path, policy: &FinishPolicy, now: SystemTime) -> Result<Scan> {
    let mut files: Vec<(String, TraceFile)> = Vec::new();
    let mut scan = Scan::default();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list directory {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Files can vanish between listing and stat (another exporter, retention): skip them.
        let Ok(md) = std::fs::metadata(&path) else {
            continue;
        };
        if !md.is_file() {
            continue;
        }
        let Some(key) = digit_key(&name) else {
            scan.ignored.push(path);
            continue;
        };
        let modified = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        files.push((
            key,
            TraceFile {
                path,
                name,
                size: md.len(),
                modified,
                dev_ino: (md.dev(), md.ino()),
            },
        ));
    }
    files.sort_by(|a, b| cmp_digit_keys(&a.0, &b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let newest_key = files.last().map(|f| f.0.clone());

    let age = |f: &TraceFile| now.duration_since(f.modified).unwrap_or(Duration::ZERO);
    let mut candidates = Vec::new();
    for (key, f) in files {
        let rotated = newest_key
            .as_deref()
            .is_some_and(|n| cmp_digit_keys(&key, n).is_lt());
        let idle = policy.idle_finish.is_some_and(|d| age(&f) >= d);
        if (rotated || idle) && age(&f) >= policy.settle {
            candidates.push(f);
        } else {
            scan.unfinished.push(f);
        }
    }
    if policy.check_open_writers && !candidates.is_empty() {
        let wanted: HashSet<(u64, u64)> = candidates.iter().map(|f| f.dev_ino).collect();
        let busy = open_for_writing(&wanted);
        for f in candidates {
            if busy.contains(&f.dev_ino) {
                scan.unfinished.push(f);
            } else {
                scan.finished.push(f);
            }
        }
        scan.unfinished.sort_by(|a, b| order(&a.name, &b.name));
    } else {
        scan.finished = candidates;
    }
    Ok(scan)
}

fn order(a: &str, b: &str) -> std::cmp::Ordering {
    let (ka, kb) = (digit_key(a), digit_key(b));
    match (ka, kb) {
        (Some(x), Some(y)) => cmp_digit_keys(&x, &y).then_with(|| a.cmp(b)),
        _ => a.cmp(b),
    }
}

/// Which of the `wanted` (device, inode) pairs some process visible in `/proc` holds open with
/// `O_WRONLY` or `O_RDWR`. Unreadable processes are skipped.
pub fn open_for_writing(wanted: &HashSet<(u64, u64)>) -> HashSet<(u64, u64)> {
    let mut found = HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        let pid = p.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let fd_dir = p.path().join("fd");
        let Ok(fds) = std::fs::read_dir(&fd_dir) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(md) = std::fs::metadata(fd.path()) else {
                continue;
            };
            let id = (md.dev(), md.ino());
            if !wanted.contains(&id) || found.contains(&id) {
                continue;
            }
            let info = p.path().join("fdinfo").join(fd.file_name());
            let Ok(text) = std::fs::read_to_string(&info) else {
                continue;
            };
            let flags = text
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok());
            // O_ACCMODE = 3; O_WRONLY = 1, O_RDWR = 2.
            if flags.is_some_and(|f| matches!(f & 3, 1 | 2)) {
                found.insert(id);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Write;

    fn names(v: &[TraceFile]) -> Vec<&str> {
        v.iter().map(|f| f.name.as_str()).collect()
    }

    fn backdate(path: &Path, secs: u64) {
        let f = File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn newest_is_never_finished_without_idle_rule() {
        let d = tempfile::tempdir().unwrap();
        for n in ["100", "99", "1000", ".hidden5", "notrace"] {
            std::fs::write(d.path().join(n), b"x").unwrap();
            backdate(&d.path().join(n), 10);
        }
        let policy = FinishPolicy::default();
        let s = scan_dir(d.path(), &policy, SystemTime::now()).unwrap();
        assert_eq!(names(&s.finished), vec!["99", "100"]);
        assert_eq!(names(&s.unfinished), vec!["1000"]);
        assert_eq!(s.ignored, vec![d.path().join("notrace")]);
    }

    #[test]
    fn settle_period_defers_recently_modified_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("1"), b"x").unwrap();
        std::fs::write(d.path().join("2"), b"x").unwrap();
        let policy = FinishPolicy {
            settle: Duration::from_secs(30),
            ..Default::default()
        };
        let s = scan_dir(d.path(), &policy, SystemTime::now()).unwrap();
        assert!(s.finished.is_empty());
        backdate(&d.path().join("1"), 60);
        let s = scan_dir(d.path(), &policy, SystemTime::now()).unwrap();
        assert_eq!(names(&s.finished), vec!["1"]);
    }

    #[test]
    fn idle_rule_finishes_newest_unless_open_for_writing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("1700000000");
        let mut w = File::create(&p).unwrap();
        w.write_all(b"partial").unwrap();
        backdate(&p, 120);
        let policy = FinishPolicy {
            settle: Duration::ZERO,
            idle_finish: Some(Duration::from_secs(60)),
            check_open_writers: true,
        };
        // we hold it open for writing: not finished
        let s = scan_dir(d.path(), &policy, SystemTime::now()).unwrap();
        assert_eq!(names(&s.unfinished), vec!["1700000000"]);
        // a read-only handle does not count
        drop(w);
        let _r = File::open(&p).unwrap();
        let s = scan_dir(d.path(), &policy, SystemTime::now()).unwrap();
        assert_eq!(names(&s.finished), vec!["1700000000"]);
    }

    #[test]
    fn rotated_file_still_open_for_writing_is_held_back() {
        let d = tempfile::tempdir().unwrap();
        let old = d.path().join("1");
        let w = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&old)
            .unwrap();
        std::fs::write(d.path().join("2"), b"x").unwrap();
        let policy = FinishPolicy {
            settle: Duration::ZERO,
            ..Default::default()
        };
        let s = scan_dir(d.path(), &policy, SystemTime::now()).unwrap();
        assert!(s.finished.is_empty(), "{:?}", s.finished);
        drop(w);
        let s = scan_dir(d.path(), &policy, SystemTime::now()).unwrap();
        assert_eq!(names(&s.finished), vec!["1"]);
        let no_check = FinishPolicy {
            check_open_writers: false,
            ..policy
        };
        assert_eq!(
            names(
                &scan_dir(d.path(), &no_check, SystemTime::now())
                    .unwrap()
                    .finished
            ),
            vec!["1"]
        );
    }
}
