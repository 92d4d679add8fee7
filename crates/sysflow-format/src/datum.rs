//! Bare schema-v5 datums: one record without a container, as the collector streams them over a unix socket.

use std::sync::OnceLock;

use crate::decode::DatumDecoder;
use crate::error::Result;
use crate::records::Record;

pub use crate::encode::{encode_datum, schema_v5_json};

fn v5() -> &'static DatumDecoder {
    static DEC: OnceLock<DatumDecoder> = OnceLock::new();
    // The v5 schema is built by this crate; a test checks that it compiles.
    DEC.get_or_init(|| match DatumDecoder::new(schema_v5_json()) {
        Ok(d) => d,
        Err(e) => unreachable!("the built-in v5 schema does not compile: {e}"),
    })
}

/// Decodes one bare v5 datum (a whole stream message: union index, then the record).
pub fn decode_datum(bytes: &[u8]) -> Result<Record> {
    v5().decode_datum(bytes)?
        .ok_or_else(|| crate::error::Error::decode("datum is not a SysFlow record"))
}
