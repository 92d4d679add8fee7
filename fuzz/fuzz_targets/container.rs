//! Any bytes given to the container reader: it must return errors, never panic, hang or allocate without bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sysflow_format::{ReaderOptions, TraceReader};

fuzz_target!(|data: &[u8]| {
    let opts = ReaderOptions { max_block_bytes: 1 << 20, max_inflated_bytes: 8 << 20, max_metadata_bytes: 1 << 20 };
    if let Ok(reader) = TraceReader::with_options(data, opts) {
        for rec in reader.take(100_000) {
            let _ = rec;
        }
    }
});
