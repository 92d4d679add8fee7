//! Reading ahead on a second thread links every record exactly as linking on the caller's thread does: the same
//! entities, ancestors, header and process slots, through segments, re-sent and late entities, container and pod
//! changes, and unknown references. Checked on a generated trace that churns all of these and on every shared trace
//! (skipped with a message when `../shared` is absent).

use std::path::{Path, PathBuf};

use sysflow_format::flags::op;
use sysflow_format::writer::{TraceWriter, WriterOptions};
use sysflow_format::*;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn oid(i: u64) -> Oid {
    Oid {
        create_ts: 1000 + i as i64,
        hpid: i as i64,
    }
}

fn foid(i: u64) -> Foid {
    Foid::compute("", &format!("/f{i}"))
}

/// A trace where small pools of processes, files, containers and pods are re-sent, replaced and referenced before
/// they arrive, across several segments and many small blocks.
fn churning_trace(n: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut w = TraceWriter::new(
        Vec::new(),
        WriterOptions {
            block_bytes: 2048,
            ..Default::default()
        },
    )
    .expect("writer");
    for i in 0..n as u64 {
        let r = rng.below(100);
        let rec = match r {
            0 => Record::Header(Header {
                version: 5,
                exporter: format!("seg{i}"),
                ..Default::default()
            }),
            1..=2 => Record::Container(Box::new(Container {
                id: format!("c{}", rng.below(3)),
                name: format!("name{i}"),
                pod_id: (rng.below(2) == 0).then(|| format!("p{}", rng.below(2))),
                ..Default::default()
            })),
            3 => Record::Pod(Box::new(Pod {
                id: format!("p{}", rng.below(2)),
                name: format!("pod{i}"),
                ..Default::default()
            })),
            4..=13 => {
                let p = rng.below(60);
                Record::Process(Box::new(Process {
                    oid: oid(p),
                    // Parents are often sent after their children, or never.
                    poid: (p > 0).then(|| oid(rng.below(p + 5))),
                    exe: format!("/bin/p{p}-{i}"),
                    container_id: (rng.below(3) > 0).then(|| format!("c{}", rng.below(4))),
                    ..Default::default()
                }))
            }
            14..=20 => Record::File(File {
                oid: foid(rng.below(40)),
                path: format!("/f-{i}"),
                restype: i32::from(b'f'),
                ..Default::default()
            }),
            21..=50 => Record::FileFlow(FileFlow {
                proc_oid: oid(rng.below(70)),
                ts: i as i64,
                file_oid: foid(rng.below(45)),
                op_flags: op::READ_RECV,
                ..Default::default()
            }),
            51..=60 => Record::FileEvent(FileEvent {
                proc_oid: oid(rng.below(70)),
                ts: i as i64,
                file_oid: foid(rng.below(45)),
                new_file_oid: (rng.below(2) == 0).then(|| foid(rng.below(45))),
                op_flags: op::RENAME,
                ..Default::default()
            }),
            61..=80 => Record::NetworkFlow(NetworkFlow {
                proc_oid: oid(rng.below(70)),
                ts: i as i64,
                ..Default::default()
            }),
            _ => Record::ProcessEvent(ProcessEvent {
                proc_oid: oid(rng.below(70)),
                ts: i as i64,
                op_flags: op::EXEC,
                args: vec![format!("a{i}")],
                ..Default::default()
            }),
        };
        w.write(&rec).expect("write");
    }
    w.finish().expect("finish")
}

/// Everything a linked record holds, the process and file slots numbered by segment (segment numbers differ between
/// flatteners but change at the same records).
fn rows<R: std::io::Read>(mut reader: FlatReader<R>) -> Vec<String> {
    let mut rows = Vec::new();
    let mut segments: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    while let Some(r) = reader.next_linked() {
        rows.push(match r {
            Ok(l) => {
                let mut number = |slot: Option<(u64, u32)>| {
                    slot.map(|(seg, slot)| {
                        let n = segments.len();
                        (*segments.entry(seg).or_insert(n), slot)
                    })
                };
                let (slot, file_slot) = (number(l.process_slot), number(l.file_slot));
                format!(
                    "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{slot:?}|{file_slot:?}",
                    l.record,
                    l.layout,
                    l.header,
                    l.pod,
                    l.container,
                    l.parent,
                    l.process,
                    l.file,
                    l.new_file,
                    l.ancestors
                )
            }
            Err(e) => format!("error {e}"),
        });
    }
    rows
}

/// The records by value.
fn owned<R: std::io::Read>(reader: FlatReader<R>) -> Vec<String> {
    reader
        .map(|r| match r {
            Ok(f) => format!("{f:?}"),
            Err(e) => format!("error {e}"),
        })
        .collect()
}

fn check<R, F>(what: &str, open: F)
where
    R: std::io::Read + Send + 'static,
    F: Fn() -> TraceReader<R>,
{
    let here = rows(FlatReader::new(open()));
    let ahead = rows(FlatReader::new(open()).read_ahead());
    assert_eq!(here.len(), ahead.len(), "{what}: record count");
    for (i, (a, b)) in here.iter().zip(&ahead).enumerate() {
        assert_eq!(a, b, "{what}: record {i} differs");
    }
    let here = rows(FlatReader::with_entities(open()));
    let ahead = rows(FlatReader::with_entities(open()).read_ahead());
    assert_eq!(here, ahead, "{what}: with entities");
    assert_eq!(
        owned(FlatReader::new(open())),
        owned(FlatReader::new(open()).read_ahead()),
        "{what}: by value"
    );
}

#[test]
fn reading_ahead_links_a_churning_trace_like_linking_here() {
    let bytes = churning_trace(30_000);
    let open = || TraceReader::new(std::io::Cursor::new(bytes.clone())).expect("open");
    // The trace exercises what it should: several segments, linked parents and ancestors, pods, second files.
    let here = rows(FlatReader::new(open()));
    assert!(here.len() > 15_000);
    let mut seen = [0usize; 5];
    for l in FlatReader::new(open()).flatten() {
        seen[0] += usize::from(l.parent.is_some());
        seen[1] += usize::from(!l.ancestors.is_empty());
        seen[2] += usize::from(l.pod.is_some());
        seen[3] += usize::from(l.new_file.is_some());
    }
    seen[4] = here.iter().filter(|r| !r.ends_with("|None")).count();
    assert!(seen.iter().all(|&n| n > 100), "{seen:?}");
    check("churning trace", open);
}

#[test]
fn reading_ahead_links_damaged_input_like_linking_here() {
    let mut bytes = churning_trace(5_000);
    // Damage two blocks in the middle: their records are lost, the reader resyncs and goes on.
    for at in [bytes.len() / 3, bytes.len() / 2] {
        for b in &mut bytes[at..at + 40] {
            *b ^= 0x5a;
        }
    }
    let open = || {
        TraceReader::new(std::io::Cursor::new(bytes.clone()))
            .expect("open")
            .with_path("damaged.sf")
    };
    assert!(rows(FlatReader::new(open()))
        .iter()
        .any(|r| r.starts_with("error")));
    check("damaged trace", open);
}

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.join("traces").is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: ../shared not found next to the repository; shared traces not read ahead");
        None
    }
}

fn traces(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            traces(&p, out);
        } else if p.extension().is_none_or(|x| x != "scap") {
            // Traces are `.sf` files or named by their start time (`mon.1531776742`); others fail to open.
            out.push(p);
        }
    }
}

#[test]
fn reading_ahead_links_every_shared_trace_like_linking_here() {
    let Some(shared) = shared() else { return };
    let mut files = Vec::new();
    traces(&shared.join("traces"), &mut files);
    files.sort();
    assert!(files.len() > 10, "{} traces found", files.len());
    for f in &files {
        let Ok(_) = TraceReader::open(f) else {
            continue;
        };
        check(&f.display().to_string(), || {
            TraceReader::open(f).unwrap_or_else(|e| panic!("{e}"))
        });
    }
}
