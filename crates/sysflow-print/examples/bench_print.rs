//! Formatting throughput of the printer, reading excluded: loads a trace's records into memory, then prints them
//! (repeated up to about one million records) in each mode into memory.
//!
//! `cargo run --release -p sysflow-print --example bench_print -- TRACE [MODE]`

use std::io::{self, Write};

use anyhow::{Context, Result};
use sysflow_format::FlatReader;
use sysflow_print::{OutputMode, PrintOptions, Printer};

/// A sink that counts bytes and drops them.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// CPU time of this thread, in seconds (the machine may be shared: wall time would mislead).
fn cpu_secs() -> f64 {
    // SAFETY: clock_gettime only writes the timespec we pass.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: bench_print TRACE")?;
    let c = cpu_secs();
    let recs = FlatReader::open(&path)?.collect::<Result<Vec<_>, _>>()?;
    let read = cpu_secs() - c;
    anyhow::ensure!(!recs.is_empty(), "{path}: no records");
    println!(
        "read: {} records in {read:.3} s CPU = {:.0} records/s",
        recs.len(),
        recs.len() as f64 / read
    );
    let rounds = (1_000_000 / recs.len()).max(1);
    let only = std::env::args().nth(2);
    for mode in [
        OutputMode::Flatjson,
        OutputMode::Json,
        OutputMode::Csv,
        OutputMode::Str,
    ] {
        if only
            .as_deref()
            .is_some_and(|m| !format!("{mode:?}").eq_ignore_ascii_case(m))
        {
            continue;
        }
        let mut p = Printer::new(PrintOptions::new(mode), Count(0))?;
        let c = cpu_secs();
        for _ in 0..rounds {
            p.begin_trace()?;
            for r in &recs {
                p.write(r)?;
            }
            p.end_trace()?;
        }
        let n = p.records();
        let bytes = p.finish()?.0;
        let s = cpu_secs() - c;
        println!(
            "{mode:?}: {n} records in {s:.3} s CPU = {:.0} records/s, {:.0} bytes/record, {:.0} MB/s",
            n as f64 / s,
            bytes as f64 / n as f64,
            bytes as f64 / s / 1e6
        );
    }
    Ok(())
}
