//! Record encoders: the reference's JSON (schema 5) and ECS 8.2.

pub mod ecs;
pub mod json;

use sysflow_policy::fields::Compat;

use crate::config::Format;
use crate::event::Event;

/// An encoder selected by `format`.
#[derive(Debug, Clone)]
pub enum Encoder {
    /// `json`.
    Json(json::JsonEncoder),
    /// `ecs`.
    Ecs(ecs::EcsEncoder),
}

impl Encoder {
    /// The encoder for a format.
    pub fn new(format: Format, compat: Compat) -> Self {
        match format {
            Format::Json => Encoder::Json(json::JsonEncoder::new(compat)),
            Format::Ecs => Encoder::Ecs(ecs::EcsEncoder::new(compat)),
        }
    }

    /// Appends one encoded record (no trailing newline) to `out`.
    pub fn encode(&self, ev: &Event<'_>, out: &mut Vec<u8>) {
        match self {
            Encoder::Json(e) => e.encode(ev, out),
            Encoder::Ecs(e) => e.encode(ev, out),
        }
    }
}
