//! Linking on a read-ahead thread without a reference count per record.
//!
//! A [`Flattener`] on the read-ahead thread does the linking; instead of a [`FlatRecord`] holding a counted reference
//! to each of its entities, it ships each event or flow with the *indices* of its process and files in a
//! [`Replica`]: the consumer's copy of the links the flattener resolved. Whatever the replica lacks to link a record
//! (a new segment, a process with links resolved anew, a new file version) is shipped just before it, in order, so
//! the replica is always up to date for the record at hand. Entities cross threads once per segment and version
//! instead of once per record: no atomic count is touched per record on either thread, and the records the consumer
//! sees borrow their entities from the replica ([`Linked`]).
//!
//! [`FlatRecord`]: crate::flatten::FlatRecord

use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

use crate::error::Result;
use crate::flatten::{FlatRecord, Flattener, Linked, Links};
use crate::layout::Layout;
use crate::reader::{Linking, TraceReader};
use crate::records::{File, Header, Process, Record};

/// Where an event's entities are in the [`Replica`] ([`Refs::NONE`]: not linked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refs {
    pub(crate) process: u32,
    pub(crate) file: u32,
    pub(crate) new_file: u32,
    /// The process's slot in its segment ([`Linked::process_slot`]), for hints that must not wait for the replica.
    pub(crate) slot: u32,
}

impl Refs {
    /// No entity.
    pub(crate) const NONE: u32 = u32::MAX;
}

/// A process as the replica holds it: the process record, the links resolved for it, and its slot
/// ([`Linked::process_slot`]).
#[derive(Debug)]
pub(crate) struct ReplicaProcess {
    pub(crate) process: Arc<Process>,
    pub(crate) links: Links,
    pub(crate) slot: Option<(u64, u32)>,
}

/// A file as the replica holds it, with its slot ([`Linked::file_slot`]).
type ReplicaFile = (Arc<File>, Option<(u64, u32)>);

/// What a read-ahead thread sends, in file order.
#[derive(Debug)]
pub(crate) enum Shipment {
    /// An event or flow, with the replica indices of its entities.
    Event { record: Record, refs: Refs },
    /// A new segment, with its header: the replica starts over.
    Segment(Option<Arc<Header>>),
    /// The process at this index, with its current links.
    Process(u32, Box<ReplicaProcess>),
    /// The file at this index, with its slot ([`Linked::file_slot`]).
    File(u32, Arc<File>, Option<(u64, u32)>),
    /// An entity record, linked (flatteners that return entities).
    Entity(Box<FlatRecord>),
    /// A read error (the reader goes on after it).
    Error(crate::error::Error),
}

impl Shipment {
    /// Whether the consumer reads this item (an event, an entity or an error) rather than applies it to the replica.
    pub(crate) fn is_read(&self) -> bool {
        matches!(
            self,
            Shipment::Event { .. } | Shipment::Entity(_) | Shipment::Error(_)
        )
    }
}

/// The consumer's copy of a [`Flattener`]'s links, kept up to date by the [`Shipment`]s it applies.
#[derive(Debug)]
pub(crate) struct Replica {
    header: Option<Arc<Header>>,
    processes: Vec<Option<ReplicaProcess>>,
    files: Vec<Option<ReplicaFile>>,
    no_ancestors: Arc<[Arc<Process>]>,
    layout: Layout,
    /// The segment of the process applied last.
    segment: u64,
}

impl Replica {
    /// An empty replica for records of `layout`.
    pub(crate) fn new(layout: Layout) -> Self {
        Replica {
            header: None,
            processes: Vec::new(),
            files: Vec::new(),
            no_ancestors: Arc::from(Vec::new()),
            layout,
            segment: 0,
        }
    }

    /// Takes in an update (a segment, process or file); other items are left alone.
    pub(crate) fn apply(&mut self, item: Shipment) {
        match item {
            Shipment::Segment(header) => {
                self.header = header;
                self.processes.clear();
                self.files.clear();
            }
            Shipment::Process(i, p) => {
                if let Some((segment, _)) = p.slot {
                    self.segment = segment;
                }
                *place(&mut self.processes, i) = Some(*p);
            }
            Shipment::File(i, f, slot) => *place(&mut self.files, i) = Some((f, slot)),
            Shipment::Event { .. } | Shipment::Entity(_) | Shipment::Error(_) => {}
        }
    }

    /// The process at replica index `i`.
    #[inline]
    pub(crate) fn process(&self, i: u32) -> Option<&ReplicaProcess> {
        self.processes.get(i as usize)?.as_ref()
    }

    /// The process slot of an event shipped with `refs`, as far as the replica knows the segment by now (a hint).
    pub(crate) fn slot_hint(&self, refs: &Refs) -> Option<(u64, u32)> {
        (refs.slot != Refs::NONE).then_some((self.segment, refs.slot))
    }

    /// Starts bringing the replica's entry for the process of `refs` into the CPU cache.
    #[inline]
    pub(crate) fn prefetch(&self, refs: &Refs) {
        // The entry's address, without reading the entry (which would wait for it).
        if let Some(p) = self.processes.get(refs.process as usize) {
            crate::hint::prefetch_lines(p, 2);
        }
    }

    fn file(&self, i: u32) -> Option<&ReplicaFile> {
        self.files.get(i as usize)?.as_ref()
    }

    /// `record` linked to the entities `refs` points at.
    #[inline]
    pub(crate) fn link<'a>(&'a self, record: &'a Record, refs: Refs) -> Linked<'a> {
        let mut out = Linked::unlinked(
            record,
            self.layout,
            self.header.as_ref(),
            &self.no_ancestors,
        );
        if let Some(p) = self.process(refs.process) {
            out.link_process(&p.process, Some(&p.links));
            out.process_slot = p.slot;
        }
        if let Some((file, slot)) = self.file(refs.file) {
            out.file = Some(file);
            out.file_slot = *slot;
        }
        out.new_file = self.file(refs.new_file).map(|(f, _)| f);
        out
    }
}

/// `v[i]`, growing `v` as needed.
fn place<T>(v: &mut Vec<Option<T>>, i: u32) -> &mut Option<T> {
    let i = i as usize;
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    &mut v[i]
}

/// A trace reader and a flattener shipping its records for a [`Replica`] (the read-ahead thread's side).
pub(crate) struct Shipping<R> {
    records: TraceReader<R>,
    flattener: Flattener,
    layout: Layout,
    /// Updates shipped before the item in `next` (usually none).
    pending: VecDeque<Shipment>,
    next: Option<Shipment>,
}

impl<R: Read> Shipping<R> {
    pub(crate) fn new(records: TraceReader<R>, flattener: Flattener) -> Self {
        Shipping {
            layout: records.layout(),
            records,
            flattener,
            pending: VecDeque::new(),
            next: None,
        }
    }

    /// Back to linking on the caller's thread (before anything is shipped).
    pub(crate) fn into_linking(self) -> Linking<R> {
        Linking::new(self.records, self.flattener)
    }
}

impl<R: Read> Iterator for Shipping<R> {
    type Item = Shipment;

    fn next(&mut self) -> Option<Shipment> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Some(update);
            }
            if let Some(item) = self.next.take() {
                return Some(item);
            }
            let item = match self.records.next()? {
                Ok(rec) => self.flattener.ship(rec, self.layout, &mut self.pending),
                Err(e) => Some(Shipment::Error(e)),
            };
            // The common case: nothing to update first.
            if self.pending.is_empty() {
                if item.is_some() {
                    return item;
                }
            } else {
                self.next = item;
            }
        }
    }
}

/// Shipped items as the reader's results: what [`Replica::link`] gives an event, by value.
pub(crate) fn owned(replica: &Replica, item: Shipment) -> Option<Result<FlatRecord>> {
    match item {
        Shipment::Event { record, refs } => Some(Ok(replica.link(&record, refs).to_flat())),
        Shipment::Entity(flat) => Some(Ok(*flat)),
        Shipment::Error(e) => Some(Err(e)),
        Shipment::Segment(_) | Shipment::Process(..) | Shipment::File(..) => None,
    }
}
