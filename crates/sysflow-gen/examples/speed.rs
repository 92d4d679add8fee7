//! Quick throughput check: generate a trace, then time decode-only and flattened reads.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let path = std::env::temp_dir().join("sysflow-speed.sf");
    if !path.exists() {
        let t = std::time::Instant::now();
        sysflow_gen::write_trace(std::io::BufWriter::new(std::fs::File::create(&path)?), n, 1)?;
        eprintln!("generated {n} records in {:?}", t.elapsed());
    }
    let t = std::time::Instant::now();
    let mut c = 0u64;
    for r in sysflow_format::TraceReader::open(&path)? {
        r?;
        c += 1;
    }
    let d = t.elapsed().as_secs_f64();
    eprintln!(
        "decode: {c} records in {d:.3}s = {:.2} M rec/s",
        c as f64 / d / 1e6
    );
    let t = std::time::Instant::now();
    let mut c = 0u64;
    for r in sysflow_format::FlatReader::open(&path)? {
        r?;
        c += 1;
    }
    let d = t.elapsed().as_secs_f64();
    eprintln!(
        "flattened: {c} records in {d:.3}s = {:.2} M rec/s",
        c as f64 / d / 1e6
    );
    Ok(())
}
