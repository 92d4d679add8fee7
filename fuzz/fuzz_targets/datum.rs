//! Any bytes given to the stream-datum decoder (one unix-socket message).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sysflow_format::datum::decode_datum(data);
});
