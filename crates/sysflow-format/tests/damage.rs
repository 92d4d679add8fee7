//! Bad input: truncated and corrupted files give every record before the damage, then an error naming the file and
//! the byte offset; nothing panics.

use sysflow_format::writer::{TraceWriter, WriterOptions};
use sysflow_format::*;

fn sample(n: usize, codec: Codec, block: usize) -> (Vec<Record>, Vec<u8>) {
    let mut recs = vec![Record::Header(Header {
        version: 5,
        exporter: "t".into(),
        ..Default::default()
    })];
    for i in 0..n as i64 {
        recs.push(Record::Process(Box::new(Process {
            oid: Oid {
                create_ts: i,
                hpid: i,
            },
            exe: format!("/bin/p{i}"),
            env: vec!["A=1".into()],
            ..Default::default()
        })));
        recs.push(Record::FileFlow(FileFlow {
            proc_oid: Oid {
                create_ts: i,
                hpid: i,
            },
            ts: i,
            ..Default::default()
        }));
    }
    let mut w = TraceWriter::new(
        Vec::new(),
        WriterOptions {
            codec,
            block_bytes: block,
            sync_marker: None,
        },
    )
    .unwrap();
    for r in &recs {
        w.write(r).unwrap();
    }
    (recs, w.finish().unwrap())
}

#[test]
fn truncation_at_every_offset_yields_a_prefix_then_an_error() {
    for codec in [
        Codec::Null,
        Codec::DeflateDefault,
        Codec::Snappy,
        Codec::Zstandard(3),
    ] {
        let (recs, bytes) = sample(40, codec, 300);
        // A cut exactly after a sync marker leaves a valid, shorter container: no error is possible there.
        let head_end = TraceReader::new(&bytes[..]).unwrap().stats().bytes as usize;
        let sync = bytes[head_end - 16..head_end].to_vec();
        let boundaries: Vec<usize> = bytes
            .windows(16)
            .enumerate()
            .filter(|(_, w)| *w == &sync[..])
            .map(|(i, _)| i + 16)
            .collect();
        for cut in 0..bytes.len() {
            let data = &bytes[..cut];
            let reader = match TraceReader::new(data) {
                Ok(r) => r,
                Err(e) => {
                    assert!(e.offset().is_some(), "header error without offset: {e}");
                    continue;
                }
            };
            let mut got = Vec::new();
            let mut err = None;
            for r in reader {
                match r {
                    Ok(r) => got.push(r),
                    Err(e) => {
                        assert!(err.is_none(), "{codec:?} cut {cut}: two errors: {e}");
                        err = Some(e);
                    }
                }
            }
            assert_eq!(
                &got[..],
                &recs[..got.len()],
                "{codec:?} cut {cut}: not a prefix"
            );
            if got.len() < recs.len() && !boundaries.contains(&cut) {
                let e = err.unwrap_or_else(|| {
                    panic!("{codec:?} cut {cut}: records lost without an error")
                });
                assert!(e.is_truncation(), "{codec:?} cut {cut}: {e}");
                let off = e.offset().expect("offset");
                assert!(
                    off <= cut as u64,
                    "{codec:?} cut {cut}: offset {off} past the end"
                );
            }
        }
    }
}

#[test]
fn truncated_null_block_keeps_records_before_the_cut() {
    // One big block; cut in its middle: the records wholly before the cut are still yielded.
    let (recs, bytes) = sample(50, Codec::Null, 1 << 20);
    let head_end = TraceReader::new(&bytes[..]).unwrap().stats().bytes as usize;
    let cut = head_end + (bytes.len() - head_end) * 2 / 3;
    let got: Vec<_> = TraceReader::new(&bytes[..cut]).unwrap().collect();
    let ok = got.iter().filter(|r| r.is_ok()).count();
    assert!(
        ok > recs.len() / 2,
        "only {ok} of {} records recovered",
        recs.len()
    );
    assert!(got.last().unwrap().is_err());
}

#[test]
fn corrupt_sync_marker_is_reported_and_reading_resumes() {
    let (recs, mut bytes) = sample(60, Codec::DeflateDefault, 200);
    // Find the second occurrence of the sync marker (after the first block) and damage it.
    let header_sync_end = {
        let r = TraceReader::new(&bytes[..]).unwrap();
        r.stats().bytes as usize
    };
    let sync: Vec<u8> = bytes[header_sync_end - 16..header_sync_end].to_vec();
    let first_block_sync = bytes[header_sync_end..]
        .windows(16)
        .position(|w| w == sync)
        .unwrap()
        + header_sync_end;
    bytes[first_block_sync] ^= 0xff;
    let out: Vec<_> = TraceReader::new(&bytes[..])
        .unwrap()
        .with_path("damaged.sf")
        .collect();
    let errors: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let msg = errors[0].to_string();
    assert!(msg.starts_with("damaged.sf: "), "{msg}");
    assert!(
        msg.contains("sync marker") && msg.contains("byte offset"),
        "{msg}"
    );
    // The damaged block's own records are good; the next block is skipped to resynchronise, the rest is read.
    let good = out.iter().filter(|r| r.is_ok()).count();
    assert!(
        good >= recs.len() - 20 && good < recs.len(),
        "{good} of {}",
        recs.len()
    );
}

#[test]
fn random_corruption_never_panics() {
    let (_, bytes) = sample(80, Codec::DeflateDefault, 500);
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..(next() % 8 + 1) {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        if let Ok(r) = TraceReader::new(&b[..]) {
            for rec in r.take(10_000) {
                let _ = rec;
            }
        }
    }
}

#[test]
fn open_names_the_file() {
    let dir = std::env::temp_dir().join(format!("sysflow-damage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("not-avro.sf");
    std::fs::write(&p, b"hello world").unwrap();
    let e = TraceReader::open(&p).err().expect("must fail");
    assert!(matches!(e.kind(), ErrorKind::BadMagic));
    assert_eq!(
        e.to_string(),
        format!(
            "{}: not an Avro object container file (bad magic) at byte offset 0",
            p.display()
        )
    );
    let e = TraceReader::open(dir.join("missing.sf"))
        .err()
        .expect("must fail");
    assert!(e.to_string().contains("missing.sf"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn decompression_bombs_are_refused() {
    let recs: Vec<Record> = (0..20_000)
        .map(|_| {
            Record::Header(Header {
                exporter: "x".repeat(50),
                ..Default::default()
            })
        })
        .collect();
    let mut w = TraceWriter::new(
        Vec::new(),
        WriterOptions {
            block_bytes: 1 << 30,
            ..Default::default()
        },
    )
    .unwrap();
    for r in &recs {
        w.write(r).unwrap();
    }
    let bytes = w.finish().unwrap();
    let opts = ReaderOptions {
        max_inflated_bytes: 100_000,
        ..Default::default()
    };
    let mut r = TraceReader::with_options(&bytes[..], opts).unwrap();
    let e = r.next().unwrap().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Decompress(_)), "{e}");
}

#[test]
fn reading_ahead_yields_what_reading_here_yields() {
    // Many batches' worth of records, a damaged sync marker mid-file (resynchronisation) and a truncated end.
    let (recs, mut bytes) = sample(1500, Codec::DeflateDefault, 4000);
    let head_end = TraceReader::new(&bytes[..]).unwrap().stats().bytes as usize;
    let sync = bytes[head_end - 16..head_end].to_vec();
    let fourth = bytes[head_end..]
        .windows(16)
        .enumerate()
        .filter(|(_, w)| *w == sync)
        .nth(3)
        .unwrap()
        .0
        + head_end;
    bytes[fourth] ^= 0xff;
    bytes.truncate(bytes.len() - 100);
    let show = |r: Result<Record>| match r {
        Ok(r) => format!("{r:?}"),
        Err(e) => format!("error: {e}"),
    };
    let open = || {
        TraceReader::new(std::io::Cursor::new(bytes.clone()))
            .unwrap()
            .with_path("damaged.sf")
    };
    let here: Vec<String> = open().map(show).collect();
    let Ok(ahead) = ReadAhead::new(open()) else {
        panic!("no thread")
    };
    let ahead: Vec<String> = ahead.map(show).collect();
    assert_eq!(here.iter().filter(|s| s.starts_with("error")).count(), 2);
    assert!(here.len() > recs.len() / 2, "{}", here.len());
    assert_eq!(here, ahead);
    // Linked records too, by value and by reference.
    let linked = |r: FlatRecord| format!("{:?} {:?}", r.record, r.process.as_ref().map(|p| &p.exe));
    let flat_here: Vec<String> = FlatReader::new(open())
        .map(|r| r.map(linked).unwrap_or_else(|e| e.to_string()))
        .collect();
    let flat_ahead: Vec<String> = FlatReader::new(open())
        .read_ahead()
        .map(|r| r.map(linked).unwrap_or_else(|e| e.to_string()))
        .collect();
    assert_eq!(flat_here, flat_ahead);
    // By reference, with the process slots that linking on this thread gives (slot numbers within a segment;
    // segment numbers differ between flatteners, but change at the same records).
    let by_ref = |mut reader: FlatReader<std::io::Cursor<Vec<u8>>>| {
        let (mut rows, mut segments, mut last) = (Vec::new(), 0, None);
        while let Some(r) = reader.next_linked() {
            rows.push(match r {
                Ok(l) => {
                    let segment = l.process_slot.map(|(seg, _)| seg);
                    if segment.is_some() && segment != last {
                        segments += 1;
                        last = segment;
                    }
                    let slot = l.process_slot.map(|(_, slot)| (segments, slot));
                    format!("{}|{slot:?}", linked(l.to_flat()))
                }
                Err(e) => e.to_string(),
            });
        }
        rows
    };
    let here = by_ref(FlatReader::new(open()));
    assert!(here.iter().any(|r| r.ends_with("|Some((1, 0))")));
    assert_eq!(here, by_ref(FlatReader::new(open()).read_ahead()));
    let unslotted: Vec<String> = here
        .iter()
        .map(|r| {
            r.rsplit_once('|')
                .map_or(r.as_str(), |(row, _)| row)
                .to_string()
        })
        .collect();
    assert_eq!(flat_here, unslotted);
    // Stopping early leaves the thread to end on its own.
    let Ok(mut ahead) = ReadAhead::new(open()) else {
        panic!("no thread")
    };
    assert!(ahead.next().is_some_and(|r| r.is_ok()));
}
