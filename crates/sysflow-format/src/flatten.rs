//! The flattened reader: links every event and flow to its process, parent process, container, pod and files.
//!
//! Mirrors the reference `FlattenedSFReader`: entities (header, container, process, file, pod) update caches keyed by
//! their ids (later versions overwrite earlier ones) and are not returned unless asked for; **all caches are reset when
//! a header is read**, because each header starts a self-contained segment. Missing references are not errors: the
//! corresponding link is simply `None`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::layout::Layout;
use crate::records::{Container, File, Foid, Header, Oid, Pod, Process, Record, RecordKind};

/// A fast, non-cryptographic hasher for the entity caches (keys come from one trace; flooding is not a concern
/// because a hostile trace can only slow its own reading down).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(a));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` using [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A record together with the entities it refers to.
#[derive(Debug, Clone)]
pub struct FlatRecord {
    /// The record itself (an event or flow; or an entity when entities are requested).
    pub record: Record,
    /// The header of the segment the record belongs to.
    pub header: Option<Arc<Header>>,
    /// The pod of the record's container.
    pub pod: Option<Arc<Pod>>,
    /// The container of the record's process.
    pub container: Option<Arc<Container>>,
    /// The parent of the record's process.
    pub parent: Option<Arc<Process>>,
    /// The record's process.
    pub process: Option<Arc<Process>>,
    /// The file of a file flow or file event (`fileOID`).
    pub file: Option<Arc<File>>,
    /// The second file of a file event (`newFileOID`).
    pub new_file: Option<Arc<File>>,
    /// Which optional fields the writer schema had.
    pub layout: Layout,
}

impl FlatRecord {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.record.kind()
    }
}

/// Entity caches and the linking logic of the flattened reader. Feed it records in file order with [`push`].
///
/// [`push`]: Flattener::push
#[derive(Debug, Default)]
pub struct Flattener {
    with_entities: bool,
    header: Option<Arc<Header>>,
    processes: FxHashMap<Oid, Arc<Process>>,
    files: FxHashMap<Foid, Arc<File>>,
    containers: FxHashMap<String, Arc<Container>>,
    pods: FxHashMap<String, Arc<Pod>>,
}

impl Flattener {
    /// A flattener that returns only events and flows.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flattener that also returns entity records (header, container, process, file, pod), linked like the
    /// reference does with `retEntities=True`.
    pub fn with_entities() -> Self {
        Flattener {
            with_entities: true,
            ..Self::default()
        }
    }

    /// Clears every cache (done automatically on each header).
    pub fn reset(&mut self) {
        self.header = None;
        self.processes.clear();
        self.files.clear();
        self.containers.clear();
        self.pods.clear();
    }

    /// Number of cached processes, files, containers and pods.
    pub fn cache_sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.processes.len(),
            self.files.len(),
            self.containers.len(),
            self.pods.len(),
        )
    }

    /// Looks a cached process up.
    pub fn process(&self, oid: &Oid) -> Option<&Arc<Process>> {
        self.processes.get(oid)
    }

    fn link_process(&self, oid: &Oid, out: &mut FlatRecord) {
        let Some(proc) = self.processes.get(oid) else {
            return;
        };
        out.parent = proc
            .poid
            .as_ref()
            .and_then(|p| self.processes.get(p))
            .cloned();
        self.link_container(proc.container_id.as_deref(), out);
        out.process = Some(proc.clone());
    }

    fn link_container(&self, id: Option<&str>, out: &mut FlatRecord) {
        let Some(cont) = id.and_then(|id| self.containers.get(id)) else {
            return;
        };
        out.pod = cont
            .pod_id
            .as_deref()
            .and_then(|p| self.pods.get(p))
            .cloned();
        out.container = Some(cont.clone());
    }

    fn empty(&self, record: Record, layout: Layout) -> FlatRecord {
        FlatRecord {
            record,
            header: self.header.clone(),
            pod: None,
            container: None,
            parent: None,
            process: None,
            file: None,
            new_file: None,
            layout,
        }
    }

    /// Consumes one record in file order. Returns the linked record for events and flows, and for entities when the
    /// flattener was built [`with_entities`](Flattener::with_entities); `None` otherwise.
    pub fn push(&mut self, record: Record, layout: Layout) -> Option<FlatRecord> {
        match record {
            Record::Header(h) => {
                self.reset();
                let h = Arc::new(h);
                self.header = Some(h.clone());
                self.with_entities
                    .then(|| self.empty(Record::Header((*h).clone()), layout))
            }
            Record::Container(c) => {
                let c = Arc::new(c);
                self.containers.insert(c.id.clone(), c.clone());
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::Container((*c).clone()), layout);
                out.pod = c.pod_id.as_deref().and_then(|p| self.pods.get(p)).cloned();
                out.container = Some(c);
                Some(out)
            }
            Record::Process(p) => {
                let p = Arc::new(p);
                self.processes.insert(p.oid, p.clone());
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::Process((*p).clone()), layout);
                self.link_container(p.container_id.as_deref(), &mut out);
                out.process = Some(p);
                Some(out)
            }
            Record::File(f) => {
                let f = Arc::new(f);
                self.files.insert(f.oid, f.clone());
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::File((*f).clone()), layout);
                self.link_container(f.container_id.as_deref(), &mut out);
                out.file = Some(f);
                Some(out)
            }
            Record::Pod(p) => {
                let p = Arc::new(p);
                self.pods.insert(p.id.clone(), p.clone());
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::Pod((*p).clone()), layout);
                out.pod = Some(p);
                Some(out)
            }
            Record::K8sEvent(_) => Some(self.empty(record, layout)),
            Record::FileFlow(ref ff) => {
                let (oid, foid) = (ff.proc_oid, ff.file_oid);
                let mut out = self.empty(record, layout);
                self.link_process(&oid, &mut out);
                out.file = self.files.get(&foid).cloned();
                Some(out)
            }
            Record::FileEvent(ref fe) => {
                let (oid, foid, new) = (fe.proc_oid, fe.file_oid, fe.new_file_oid);
                let mut out = self.empty(record, layout);
                self.link_process(&oid, &mut out);
                out.file = self.files.get(&foid).cloned();
                out.new_file = new.and_then(|n| self.files.get(&n).cloned());
                Some(out)
            }
            Record::ProcessEvent(_)
            | Record::NetworkFlow(_)
            | Record::NetworkEvent(_)
            | Record::ProcessFlow(_) => {
                let oid = record.proc_oid().unwrap_or_default();
                let mut out = self.empty(record, layout);
                self.link_process(&oid, &mut out);
                Some(out)
            }
        }
    }
}
