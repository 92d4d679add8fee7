//! Read throughput of the format library against its physical ceilings, on one core:
//! the raw inflate rate of the file's blocks (what deflate alone allows), decode-only, and the flattened reader.
//!
//! `cargo bench -p sysflow-format --bench read -- [TRACE...]` (default: a generated 5M-record trace in the temp
//! directory). Prints one line per measurement: `<trace> <stage> <records/s> <MB/s of uncompressed data>`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sysflow_format::{Codec, FlatReader, TraceReader};

fn varint(b: &[u8], pos: &mut usize) -> Option<i64> {
    let mut v = 0u64;
    let mut s = 0;
    loop {
        let x = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(x & 0x7f) << s;
        if x & 0x80 == 0 {
            return Some((v >> 1) as i64 ^ -((v & 1) as i64));
        }
        s += 7;
    }
}

fn best_of<F: FnMut() -> (u64, u64)>(runs: usize, mut f: F) -> (f64, u64, u64) {
    let mut best = f64::MAX;
    let mut out = (0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out.0, out.1)
}

fn bench(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let data = std::fs::read(path)?;
    let reader = TraceReader::new(&data[..])?;
    let codec = Codec::from_name(reader.codec_name())?;
    let head = reader.stats().bytes as usize;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    // 1. Inflate only: the ceiling set by the codec.
    let (secs, recs, bytes) = best_of(3, || {
        let mut pos = head;
        let mut out = Vec::new();
        let (mut recs, mut bytes) = (0u64, 0u64);
        while let (Some(count), Some(size)) = (varint(&data, &mut pos), varint(&data, &mut pos)) {
            let end = pos + size as usize;
            if end > data.len() {
                break;
            }
            if codec
                .decompress(&data[pos..end], &mut out, 1 << 30)
                .is_err()
            {
                break;
            }
            recs += count as u64;
            bytes += out.len() as u64;
            pos = end + 16;
        }
        (recs, bytes)
    });
    println!(
        "{name} inflate-only {:.0} records/s {:.0} MB/s",
        recs as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    let raw_bytes = bytes;
    // 2. Decode to typed records.
    let (secs, recs, _) = best_of(3, || {
        let mut n = 0;
        for r in TraceReader::new(&data[..]).expect("header") {
            if r.is_ok() {
                n += 1;
            }
        }
        (n, 0)
    });
    println!(
        "{name} decode {:.0} records/s {:.0} MB/s",
        recs as f64 / secs,
        raw_bytes as f64 / secs / 1e6
    );
    // 3. Flattened reader (records linked to entities).
    let (secs, recs, _) = best_of(3, || {
        let mut n = 0;
        for r in FlatReader::new(TraceReader::new(&data[..]).expect("header")) {
            if r.is_ok() {
                n += 1;
            }
        }
        (n, 0)
    });
    println!(
        "{name} flatten {:.0} records/s (events and flows)",
        recs as f64 / secs
    );
    // 4. Reading the file from disk through a buffered reader (page cache), decode only.
    let (secs, recs, _) = best_of(3, || {
        let mut f = std::fs::File::open(path).expect("open");
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).expect("read");
        (buf.len() as u64, 0)
    });
    println!(
        "{name} file-read {:.0} MB/s (page cache)",
        recs as f64 / secs / 1e6
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut paths: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if paths.is_empty() {
        let p = std::env::temp_dir().join("sysflow-bench-5m.sf");
        if !p.exists() {
            eprintln!(
                "generate the default input first: sysflow generate -n 5000000 -w {}",
                p.display()
            );
            return Ok(());
        }
        paths.push(p);
    }
    for p in &paths {
        bench(p)?;
    }
    Ok(())
}
