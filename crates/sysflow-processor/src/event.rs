//! What the policy engine hands to exporters: records with the rules they matched.

use std::sync::Arc;

use sysflow_format::FlatRecord;

use crate::reader::FlatBatch;

pub use sysflow_policy::Rule;

/// One emitted record of a batch.
#[derive(Debug, Clone, Default)]
pub struct EventItem {
    /// Index of the record in [`EventBatch::records`].
    pub index: u32,
    /// Rules matched, in rule order.
    pub rules: Vec<Arc<Rule>>,
    /// Context tags added by actions (none are built in; kept for the output shape).
    pub tags: Vec<String>,
}

/// A batch of emitted records, sharing the flattened batch they come from.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// The flattened records (shared with the other branches of a fan-out).
    pub records: FlatBatch,
    /// The emitted records, in input order.
    pub items: Vec<EventItem>,
}

impl EventBatch {
    /// The events of the batch.
    pub fn events(&self) -> impl Iterator<Item = Event<'_>> {
        self.items.iter().filter_map(|it| {
            self.records.get(it.index as usize).map(|record| Event {
                record,
                rules: &it.rules,
                tags: &it.tags,
            })
        })
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A borrowed view of one emitted record.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The record.
    pub record: &'a FlatRecord,
    /// Rules matched, in rule order.
    pub rules: &'a [Arc<Rule>],
    /// Context tags.
    pub tags: &'a [String],
}
