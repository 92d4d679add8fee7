//! Processes that existed before the collector started (or were missed) are read from `/proc`; user and group names
//! from `/etc/passwd` and `/etc/group`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::events::split_nul;

/// What `/proc/<pid>` tells about a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcSnapshot {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Start time since boot, ns (from `stat` field 22).
    pub start_boot_ns: u64,
    /// `exe` link target, or `""`.
    pub exe: String,
    /// argv.
    pub args: Vec<String>,
    /// `comm`.
    pub comm: String,
    /// Working directory, or `""`.
    pub cwd: String,
    /// Environment (empty when unreadable).
    pub env: Vec<String>,
    /// Effective uid.
    pub uid: u32,
    /// Effective gid.
    pub gid: u32,
    /// Has a controlling terminal.
    pub tty: bool,
    /// Pid inside its own pid namespace (`NSpid` last column).
    pub vpid: u32,
    /// cgroup paths (one per line of `/proc/<pid>/cgroup`).
    pub cgroups: Vec<String>,
}

fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

/// Reads `/proc/<pid>` under `proc_root`. `None` when the process is gone or unreadable.
pub fn read_process(proc_root: &Path, pid: u32) -> Option<ProcSnapshot> {
    let dir = proc_root.join(pid.to_string());
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    // comm may contain spaces and parentheses: split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); ppid is field 4, tty_nr field 7, starttime field 22.
    let ppid = rest.get(1)?.parse().ok()?;
    let tty_nr: i64 = rest.get(4)?.parse().ok()?;
    let start_ticks: u64 = rest.get(19)?.parse().ok()?;
    let start_boot_ns = start_ticks.saturating_mul(1_000_000_000) / clk_tck();
    let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
    let mut uid = u32::MAX;
    let mut gid = u32::MAX;
    let mut vpid = pid;
    for line in status.lines() {
        let mut it = line.split_whitespace();
        match it.next() {
            // Uid: real effective saved fs
            Some("Uid:") => uid = it.nth(1).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX),
            Some("Gid:") => gid = it.nth(1).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX),
            Some("NSpid:") => vpid = it.last().and_then(|v| v.parse().ok()).unwrap_or(pid),
            _ => {}
        }
    }
    let link = |name: &str| {
        fs::read_link(dir.join(name))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let args = fs::read(dir.join("cmdline"))
        .map(|b| split_nul(&b))
        .unwrap_or_default();
    let env = fs::read(dir.join("environ"))
        .map(|b| split_nul(&b))
        .unwrap_or_default();
    let cgroups = fs::read_to_string(dir.join("cgroup"))
        .map(|s| {
            s.lines()
                .filter_map(|l| l.splitn(3, ':').nth(2).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some(ProcSnapshot {
        pid,
        ppid,
        start_boot_ns,
        exe: link("exe"),
        args,
        comm,
        cwd: link("cwd"),
        env,
        uid,
        gid,
        tty: tty_nr != 0,
        vpid,
        cgroups,
    })
}

/// Every numeric entry of `/proc`.
pub fn list_pids(proc_root: &Path) -> Vec<u32> {
    let mut v: Vec<u32> = fs::read_dir(proc_root)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// uid → user name and gid → group name maps.
#[derive(Debug, Clone, Default)]
pub struct Names {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

fn parse_id_file(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

impl Names {
    /// Loads `<root>/etc/passwd` and `<root>/etc/group` (missing files give empty maps).
    pub fn load(root: &Path) -> Names {
        let read = |p: &str| fs::read_to_string(root.join(p)).unwrap_or_default();
        Names {
            users: parse_id_file(&read("etc/passwd")),
            groups: parse_id_file(&read("etc/group")),
        }
    }

    /// Builds the maps from file contents (tests).
    pub fn from_texts(passwd: &str, group: &str) -> Names {
        Names {
            users: parse_id_file(passwd),
            groups: parse_id_file(group),
        }
    }

    /// The user name of `uid`: the passwd entry, else `root` for 0 and `<NA>` otherwise (the reference's fallback).
    pub fn user(&self, uid: u32) -> String {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| fallback(uid))
    }

    /// The group name of `gid`, with the same fallback.
    pub fn group(&self, gid: u32) -> String {
        self.groups
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| fallback(gid))
    }

    /// The user name of `uid` or its number (what the reference stores as setuid's argument).
    pub fn user_or_number(&self, uid: u32) -> String {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }
}

fn fallback(id: u32) -> String {
    if id == 0 {
        "root".to_string()
    } else {
        "<NA>".to_string()
    }
}

/// `<host_root>/proc`.
pub fn proc_root(host_root: &Path) -> PathBuf {
    if host_root.as_os_str().is_empty() {
        PathBuf::from("/proc")
    } else {
        host_root.join("proc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fall_back_like_the_reference() {
        let n = Names::from_texts(
            "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
            "wheel:x:10:\n",
        );
        assert_eq!(n.user(1000), "bob");
        assert_eq!(n.user(0), "root");
        assert_eq!(n.user(4242), "<NA>");
        assert_eq!(n.group(10), "wheel");
        assert_eq!(n.group(0), "root");
        assert_eq!(n.user_or_number(4242), "4242");
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        let p = read_process(Path::new("/proc"), me).expect("own /proc entry");
        assert_eq!(p.pid, me);
        assert!(!p.args.is_empty());
        assert!(p.exe.ends_with(p.args[0].rsplit('/').next().unwrap_or("")) || !p.exe.is_empty());
        assert!(p.start_boot_ns > 0);
    }
}
