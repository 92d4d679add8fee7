//! The flattened reader: links every event and flow to its process, parent process, container, pod and files.
//!
//! Mirrors the reference `FlattenedSFReader`: entities (header, container, process, file, pod) update caches keyed by
//! their ids (later versions overwrite earlier ones) and are not returned unless asked for; **all caches are reset when
//! a header is read**, because each header starts a self-contained segment. Missing references are not errors: the
//! corresponding link is simply `None`.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::collections::VecDeque;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::layout::Layout;
use crate::records::{Container, File, Foid, Header, Oid, Pod, Process, Record, RecordKind};
use crate::replica::{Refs, ReplicaProcess, Shipment};

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
    /// The process's ancestors beyond its parent (grandparent first), as far as the segment knows them. Shared
    /// between the records of a process (computed once per process and segment).
    pub ancestors: Arc<[Arc<Process>]>,
    /// Which optional fields the writer schema had.
    pub layout: Layout,
}

impl FlatRecord {
    /// A record with no links (fill the public fields to link it).
    pub fn new(record: Record, layout: Layout) -> FlatRecord {
        FlatRecord {
            record,
            header: None,
            pod: None,
            container: None,
            parent: None,
            process: None,
            file: None,
            new_file: None,
            ancestors: Arc::from(Vec::new()),
            layout,
        }
    }

    /// The record's process, its parent and its further ancestors, nearest first.
    pub fn lineage(&self) -> impl Iterator<Item = &Arc<Process>> {
        let proc = self.process.as_ref();
        proc.into_iter()
            .chain(proc.and(self.parent.as_ref()))
            .chain(self.ancestors.iter())
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.record.kind()
    }
}

/// A record linked to its entities by reference: what a [`FlatRecord`] holds, borrowed from the record or from
/// the [`Flattener`]'s caches. Reading linked records this way ([`FlatReader::next_linked`]) touches no reference
/// counts, which matters when records are printed and dropped at millions per second.
///
/// [`FlatReader::next_linked`]: crate::FlatReader::next_linked
#[derive(Debug, Clone, Copy)]
pub struct Linked<'a> {
    /// The record itself.
    pub record: &'a Record,
    /// Which optional fields the writer schema had.
    pub layout: Layout,
    /// The header of the segment the record belongs to.
    pub header: Option<&'a Arc<Header>>,
    /// The pod of the record's container.
    pub pod: Option<&'a Arc<Pod>>,
    /// The container of the record's process.
    pub container: Option<&'a Arc<Container>>,
    /// The parent of the record's process.
    pub parent: Option<&'a Arc<Process>>,
    /// The record's process.
    pub process: Option<&'a Arc<Process>>,
    /// The file of a file flow or file event.
    pub file: Option<&'a Arc<File>>,
    /// The second file of a file event.
    pub new_file: Option<&'a Arc<File>>,
    /// The process's ancestors beyond its parent, grandparent first.
    pub ancestors: &'a Arc<[Arc<Process>]>,
    /// Identifies this version of the record's process among all processes any flattener has linked: the
    /// flattener's segment (unique per flattener and header) and the process record's position in it, from 0.
    /// A dense key for per-process caches of readers; `None` when the record was not linked by a flattener.
    pub process_slot: Option<(u64, u32)>,
    /// Identifies this version of the record's file (`file`) like [`process_slot`](Linked::process_slot) does the
    /// process: the flattener's segment and the file record's position in it. `None` when the record was not linked
    /// by a flattener or has no file.
    pub file_slot: Option<(u64, u32)>,
}

impl<'a> Linked<'a> {
    /// `record` of a segment with `header`, not linked to anything yet.
    pub(crate) fn unlinked(
        record: &'a Record,
        layout: Layout,
        header: Option<&'a Arc<Header>>,
        no_ancestors: &'a Arc<[Arc<Process>]>,
    ) -> Self {
        Linked {
            record,
            layout,
            header,
            pod: None,
            container: None,
            parent: None,
            process: None,
            file: None,
            new_file: None,
            ancestors: no_ancestors,
            process_slot: None,
            file_slot: None,
        }
    }

    /// Links to `process` and what its `links` resolve to.
    pub(crate) fn link_process(&mut self, process: &'a Arc<Process>, links: Option<&'a Links>) {
        self.process = Some(process);
        if let Some(l) = links {
            self.parent = l.parent.as_ref();
            self.ancestors = &l.ancestors;
            self.container = l.container.as_ref();
            self.pod = l.pod.as_ref();
        }
    }

    /// An owned copy (reference counts of the entities incremented).
    pub fn to_flat(&self) -> FlatRecord {
        FlatRecord {
            record: self.record.clone(),
            header: self.header.cloned(),
            pod: self.pod.cloned(),
            container: self.container.cloned(),
            parent: self.parent.cloned(),
            process: self.process.cloned(),
            file: self.file.cloned(),
            new_file: self.new_file.cloned(),
            ancestors: self.ancestors.clone(),
            layout: self.layout,
        }
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.record.kind()
    }
}

impl FlatRecord {
    /// The record and its links, borrowed.
    pub fn linked(&self) -> Linked<'_> {
        Linked {
            record: &self.record,
            layout: self.layout,
            header: self.header.as_ref(),
            pod: self.pod.as_ref(),
            container: self.container.as_ref(),
            parent: self.parent.as_ref(),
            process: self.process.as_ref(),
            file: self.file.as_ref(),
            new_file: self.new_file.as_ref(),
            ancestors: &self.ancestors,
            process_slot: None,
            file_slot: None,
        }
    }
}

/// Entity caches and the linking logic of the flattened reader. Feed it records in file order with [`push`].
///
/// Each process keeps the links resolved for it (parent, ancestors, container, pod) until something they could
/// depend on changes: a process record for a known or missed process, any container or pod record, a header.
///
/// [`push`]: Flattener::push
#[derive(Debug, Default)]
pub struct Flattener {
    with_entities: bool,
    header: Option<Arc<Header>>,
    processes: FxHashMap<Oid, ProcEntry>,
    files: FxHashMap<Foid, FileEntry>,
    containers: FxHashMap<String, Arc<Container>>,
    pods: FxHashMap<String, Arc<Pod>>,
    /// Ancestors beyond the parent, per process (cleared with the generation).
    ancestry: FxHashMap<Oid, Arc<[Arc<Process>]>>,
    no_ancestors: Option<Arc<[Arc<Process>]>>,
    /// Changes whenever a resolved link may have become stale.
    generation: u64,
    /// Processes that resolved links looked for and did not find (their arrival changes the generation).
    missing: FxHashMap<Oid, ()>,
    /// The record last accepted by [`Flattener::accept`], with its layout.
    current: Option<(Record, Layout)>,
    /// The linked entity record last accepted (flatteners built [`with_entities`](Flattener::with_entities)).
    current_entity: Option<FlatRecord>,
    /// This flattener's current segment (see [`Linked::process_slot`]); 0 until the first one starts.
    segment: u64,
    /// Process records of the segment so far.
    process_count: u32,
    /// File records of the segment so far.
    file_count: u32,
}

/// Segment numbers handed out so far, by all flatteners.
static SEGMENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A cached process and the links last resolved for it.
#[derive(Debug)]
struct ProcEntry {
    process: Arc<Process>,
    links: Option<Links>,
    /// Position among the segment's process records (`None` past `u32::MAX - 1`).
    slot: Option<u32>,
    /// The process's place in a [`Replica`] (one per process OID and segment; a new record of the process keeps it).
    index: u32,
    /// Whether the process and its current links were shipped to a [`Replica`].
    shipped: bool,
}

/// A cached file.
#[derive(Debug)]
struct FileEntry {
    file: Arc<File>,
    /// Position among the segment's file records (`None` past `u32::MAX - 1`).
    slot: Option<u32>,
    /// The file's place in a [`Replica`] (one per file OID and segment).
    index: u32,
    /// Whether this version of the file was shipped to a [`Replica`].
    shipped: bool,
}

/// What a process links to, as resolved in one generation of the caches.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    generation: u64,
    pub(crate) parent: Option<Arc<Process>>,
    pub(crate) ancestors: Arc<[Arc<Process>]>,
    pub(crate) container: Option<Arc<Container>>,
    pub(crate) pod: Option<Arc<Pod>>,
}

/// Longest ancestor chain followed (a guard against cycles in damaged traces).
const MAX_ANCESTORS: usize = 64;

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
        self.new_segment();
        self.header = None;
        self.processes.clear();
        self.files.clear();
        self.containers.clear();
        self.pods.clear();
        self.invalidate_links();
    }

    fn new_segment(&mut self) {
        self.segment = SEGMENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        self.process_count = 0;
        self.file_count = 0;
    }

    /// Marks every resolved link stale.
    fn invalidate_links(&mut self) {
        self.generation += 1;
        self.ancestry.clear();
        self.missing.clear();
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
        self.processes.get(oid).map(|e| &e.process)
    }

    fn lookup_process(&mut self, oid: &Oid) -> Option<Arc<Process>> {
        match self.processes.get(oid) {
            Some(e) => Some(e.process.clone()),
            None => {
                self.missing.insert(*oid, ());
                None
            }
        }
    }

    /// Links `out` to process `oid` and its entities. Links still valid (the common case) cost one lookup.
    fn link_process(&mut self, oid: &Oid, out: &mut FlatRecord) {
        let generation = self.generation;
        let Some(entry) = self.processes.get(oid) else {
            return;
        };
        if entry
            .links
            .as_ref()
            .is_none_or(|l| l.generation != generation)
        {
            self.resolve(oid);
            if let Some(entry) = self.processes.get(oid) {
                Self::copy_links(entry, out);
            }
            return;
        }
        Self::copy_links(entry, out);
    }

    /// Copies the process of `entry` and its resolved links into `out`.
    fn copy_links(entry: &ProcEntry, out: &mut FlatRecord) {
        out.process = Some(entry.process.clone());
        if let Some(l) = &entry.links {
            out.parent = l.parent.clone();
            // `out` already holds an empty list: most processes have no known ancestors beyond the parent.
            if !l.ancestors.is_empty() {
                out.ancestors = l.ancestors.clone();
            }
            out.container = l.container.clone();
            out.pod = l.pod.clone();
        }
    }

    /// Resolves the parent, further ancestors, container and pod of `proc`.
    fn resolve_links(&mut self, proc: &Arc<Process>) -> Links {
        let parent = proc.poid.and_then(|p| self.lookup_process(&p));
        let ancestors = match &parent {
            Some(parent) => {
                let chain = self.ancestors_of(parent);
                // In a damaged trace the process may be its own ancestor: cut the chain before it.
                match chain.iter().position(|a| a.oid == proc.oid) {
                    Some(i) => Arc::from(&chain[..i]),
                    None => chain,
                }
            }
            None => self.no_ancestors().clone(),
        };
        let mut links = Links {
            generation: self.generation,
            parent,
            ancestors,
            container: None,
            pod: None,
        };
        if let Some((container, pod)) = self.container_and_pod(proc.container_id.as_deref()) {
            links.container = Some(container);
            links.pod = pod;
        }
        links
    }

    /// The shared empty ancestor list (made on first use).
    fn no_ancestors(&mut self) -> &Arc<[Arc<Process>]> {
        self.no_ancestors
            .get_or_insert_with(|| Arc::from(Vec::new()))
    }

    /// The ancestors beyond `parent` (its parent, grandparent, ...), cached per process for the generation.
    fn ancestors_of(&mut self, parent: &Arc<Process>) -> Arc<[Arc<Process>]> {
        if let Some(a) = self.ancestry.get(&parent.oid) {
            return a.clone();
        }
        let mut chain: Vec<Arc<Process>> = Vec::new();
        let mut cur = parent.poid;
        while let Some(oid) = cur {
            let Some(p) = self.lookup_process(&oid) else {
                break;
            };
            if chain.len() >= MAX_ANCESTORS
                || oid == parent.oid
                || chain.iter().any(|c| c.oid == oid)
            {
                break;
            }
            cur = p.poid;
            chain.push(p);
        }
        let arc: Arc<[Arc<Process>]> = if chain.is_empty() {
            self.no_ancestors().clone()
        } else {
            Arc::from(chain)
        };
        self.ancestry.insert(parent.oid, arc.clone());
        arc
    }

    /// The container with id `id` and its pod.
    #[allow(clippy::type_complexity)]
    fn container_and_pod(&self, id: Option<&str>) -> Option<(Arc<Container>, Option<Arc<Pod>>)> {
        let cont = self.containers.get(id?)?;
        let pod = cont
            .pod_id
            .as_deref()
            .and_then(|p| self.pods.get(p))
            .cloned();
        Some((cont.clone(), pod))
    }

    fn link_container(&self, id: Option<&str>, out: &mut FlatRecord) {
        if let Some((container, pod)) = self.container_and_pod(id) {
            out.container = Some(container);
            out.pod = pod;
        }
    }

    /// Consumes one record in file order like [`push`](Flattener::push), keeping it to be read back linked, by
    /// reference, with [`current`](Flattener::current). Returns whether there is such a record (events and flows;
    /// entities too when the flattener was built [`with_entities`](Flattener::with_entities)).
    pub fn accept(&mut self, record: Record, layout: Layout) -> bool {
        self.current = None;
        self.current_entity = None;
        if record.kind().is_entity() {
            self.current_entity = self.push(record, layout);
            return self.current_entity.is_some();
        }
        if let Some(oid) = record.proc_oid() {
            self.resolve(&oid);
        }
        self.current = Some((record, layout));
        true
    }

    /// The record last accepted, linked to its entities (see [`accept`](Flattener::accept)).
    pub fn current(&self) -> Option<Linked<'_>> {
        if let Some(flat) = &self.current_entity {
            return Some(flat.linked());
        }
        let (record, layout) = self.current.as_ref()?;
        let no_ancestors = self.no_ancestors.as_ref()?;
        let mut out = Linked::unlinked(record, *layout, self.header.as_ref(), no_ancestors);
        let entry = record.proc_oid().and_then(|oid| self.processes.get(&oid));
        if let Some(entry) = entry {
            out.link_process(&entry.process, entry.links.as_ref());
            out.process_slot = entry.slot.map(|s| (self.segment, s));
        }
        let (file, new_file) = self.file_entries(record);
        out.file = file.map(|e| &e.file);
        out.new_file = new_file.map(|e| &e.file);
        out.file_slot = file.and_then(|e| e.slot).map(|s| (self.segment, s));
        Some(out)
    }

    /// The file and the second file an event or flow refers to.
    #[allow(clippy::type_complexity)]
    fn files_of(&self, record: &Record) -> (Option<&Arc<File>>, Option<&Arc<File>>) {
        let (file, new_file) = self.file_entries(record);
        (file.map(|e| &e.file), new_file.map(|e| &e.file))
    }

    /// The cache entries of the file and the second file an event or flow refers to.
    fn file_entries(&self, record: &Record) -> (Option<&FileEntry>, Option<&FileEntry>) {
        match record {
            Record::FileFlow(ff) => (self.files.get(&ff.file_oid), None),
            Record::FileEvent(fe) => (
                self.files.get(&fe.file_oid),
                fe.new_file_oid.and_then(|n| self.files.get(&n)),
            ),
            _ => (None, None),
        }
    }

    /// Makes sure the links of process `oid` are resolved for the current generation.
    fn resolve(&mut self, oid: &Oid) {
        // `current` links records to it.
        self.no_ancestors();
        let Some(entry) = self.processes.get(oid) else {
            return;
        };
        if entry
            .links
            .as_ref()
            .is_some_and(|l| l.generation == self.generation)
        {
            return;
        }
        let proc = entry.process.clone();
        let links = self.resolve_links(&proc);
        if let Some(e) = self.processes.get_mut(oid) {
            e.links = Some(links);
            e.shipped = false;
        }
    }

    fn empty(&mut self, record: Record, layout: Layout) -> FlatRecord {
        FlatRecord {
            record,
            header: self.header.clone(),
            pod: None,
            container: None,
            parent: None,
            process: None,
            file: None,
            new_file: None,
            ancestors: self.no_ancestors().clone(),
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
                let c: Arc<Container> = Arc::from(c);
                self.containers.insert(c.id.clone(), c.clone());
                self.invalidate_links();
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::Container(Box::new((*c).clone())), layout);
                out.pod = c.pod_id.as_deref().and_then(|p| self.pods.get(p)).cloned();
                out.container = Some(c);
                Some(out)
            }
            Record::Process(p) => {
                let p: Arc<Process> = Arc::from(p);
                if self.segment == 0 {
                    self.new_segment();
                }
                let slot = (self.process_count < u32::MAX).then_some(self.process_count);
                self.process_count = self.process_count.saturating_add(1);
                let index = replica_index(self.processes.len());
                let known = match self.processes.entry(p.oid) {
                    // A new record of a known process keeps its place in a replica.
                    Entry::Occupied(mut o) => {
                        let e = o.get_mut();
                        (e.process, e.links, e.slot, e.shipped) = (p.clone(), None, slot, false);
                        true
                    }
                    Entry::Vacant(v) => {
                        v.insert(ProcEntry {
                            process: p.clone(),
                            links: None,
                            slot,
                            index,
                            shipped: false,
                        });
                        false
                    }
                };
                // A changed process, or one that a resolved link missed, may sit in any resolved chain.
                if known || self.missing.contains_key(&p.oid) {
                    self.invalidate_links();
                }
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::Process(Box::new((*p).clone())), layout);
                self.link_container(p.container_id.as_deref(), &mut out);
                out.process = Some(p);
                Some(out)
            }
            Record::File(f) => {
                let f = Arc::new(f);
                if self.segment == 0 {
                    self.new_segment();
                }
                let slot = (self.file_count < u32::MAX).then_some(self.file_count);
                self.file_count = self.file_count.saturating_add(1);
                let index = replica_index(self.files.len());
                match self.files.entry(f.oid) {
                    // A new record of a known file keeps its place in a replica.
                    Entry::Occupied(mut o) => {
                        let e = o.get_mut();
                        (e.file, e.slot, e.shipped) = (f.clone(), slot, false);
                    }
                    Entry::Vacant(v) => {
                        v.insert(FileEntry {
                            file: f.clone(),
                            slot,
                            index,
                            shipped: false,
                        });
                    }
                }
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::File((*f).clone()), layout);
                self.link_container(f.container_id.as_deref(), &mut out);
                out.file = Some(f);
                Some(out)
            }
            Record::Pod(p) => {
                let p: Arc<Pod> = Arc::from(p);
                self.pods.insert(p.id.clone(), p.clone());
                self.invalidate_links();
                if !self.with_entities {
                    return None;
                }
                let mut out = self.empty(Record::Pod(Box::new((*p).clone())), layout);
                out.pod = Some(p);
                Some(out)
            }
            Record::K8sEvent(_)
            | Record::FileFlow(_)
            | Record::FileEvent(_)
            | Record::ProcessEvent(_)
            | Record::NetworkFlow(_)
            | Record::NetworkEvent(_)
            | Record::ProcessFlow(_) => {
                let (file, new_file) = self.files_of(&record);
                let (file, new_file) = (file.cloned(), new_file.cloned());
                let oid = record.proc_oid();
                let mut out = self.empty(record, layout);
                if let Some(oid) = oid {
                    self.link_process(&oid, &mut out);
                }
                out.file = file;
                out.new_file = new_file;
                Some(out)
            }
        }
    }

    /// Consumes one record in file order like [`push`](Flattener::push), for a [`Replica`] on another thread.
    /// Returns what the consumer reads (an event or flow with the replica indices of its entities; an entity
    /// record, linked, when asked for); whatever the replica lacks to link it (a new segment, a process with its
    /// current links, a file) is appended to `updates`, to be shipped before it.
    pub(crate) fn ship(
        &mut self,
        record: Record,
        layout: Layout,
        updates: &mut VecDeque<Shipment>,
    ) -> Option<Shipment> {
        if record.kind().is_entity() {
            let header = matches!(record, Record::Header(_));
            let flat = self.push(record, layout);
            if header {
                updates.push_back(Shipment::Segment(self.header.clone()));
            }
            return flat.map(|flat| Shipment::Entity(Box::new(flat)));
        }
        let process = record
            .proc_oid()
            .and_then(|oid| self.ship_process(&oid, updates));
        let (process, slot) = process.unwrap_or((Refs::NONE, None));
        let (file, new_file) = match &record {
            Record::FileFlow(ff) => (self.ship_file(&ff.file_oid, updates), None),
            Record::FileEvent(fe) => (
                self.ship_file(&fe.file_oid, updates),
                fe.new_file_oid.and_then(|n| self.ship_file(&n, updates)),
            ),
            _ => (None, None),
        };
        Some(Shipment::Event {
            record,
            refs: Refs {
                process,
                slot: slot.unwrap_or(Refs::NONE),
                file: file.unwrap_or(Refs::NONE),
                new_file: new_file.unwrap_or(Refs::NONE),
            },
        })
    }

    /// The replica index and slot of process `oid`, shipping it first if the replica does not have its current
    /// links.
    #[inline]
    fn ship_process(
        &mut self,
        oid: &Oid,
        out: &mut VecDeque<Shipment>,
    ) -> Option<(u32, Option<u32>)> {
        let generation = self.generation;
        let entry = self.processes.get(oid)?;
        let fresh = entry
            .links
            .as_ref()
            .is_some_and(|l| l.generation == generation);
        if fresh && entry.shipped {
            return Some((entry.index, entry.slot));
        }
        self.resolve(oid);
        let segment = self.segment;
        let entry = self.processes.get_mut(oid)?;
        if !entry.shipped {
            entry.shipped = true;
            if let Some(links) = &entry.links {
                out.push_back(Shipment::Process(
                    entry.index,
                    Box::new(ReplicaProcess {
                        process: entry.process.clone(),
                        links: links.clone(),
                        slot: entry.slot.map(|s| (segment, s)),
                    }),
                ));
            }
        }
        Some((entry.index, entry.slot))
    }

    /// The replica index of file `oid`, shipping it first if the replica does not have this version.
    #[inline]
    fn ship_file(&mut self, oid: &Foid, out: &mut VecDeque<Shipment>) -> Option<u32> {
        let entry = self.files.get_mut(oid)?;
        if !entry.shipped {
            entry.shipped = true;
            let slot = entry.slot.map(|s| (self.segment, s));
            out.push_back(Shipment::File(entry.index, entry.file.clone(), slot));
        }
        Some(entry.index)
    }
}

/// A cache's size as a replica index (no cache holds `u32::MAX` entries: each takes far more than a byte).
fn replica_index(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::ProcessEvent;

    // Flat records are sent between threads in batches and moved through every sink; they embed a Record (kept
    // small by boxing its large entities) and otherwise hold only shared pointers.
    #[test]
    fn flat_record_stays_small() {
        let size = std::mem::size_of::<FlatRecord>();
        assert!(size <= 192, "FlatRecord is {size} bytes");
    }

    fn proc(pid: i64, parent: Option<i64>) -> Record {
        Record::Process(Box::new(Process {
            oid: Oid {
                create_ts: 0,
                hpid: pid,
            },
            poid: parent.map(|p| Oid {
                create_ts: 0,
                hpid: p,
            }),
            exe: format!("/bin/p{pid}"),
            ..Default::default()
        }))
    }

    fn event(pid: i64) -> Record {
        Record::ProcessEvent(ProcessEvent {
            proc_oid: Oid {
                create_ts: 0,
                hpid: pid,
            },
            ..Default::default()
        })
    }

    #[test]
    fn links_the_whole_lineage_and_resets_on_headers() {
        let mut f = Flattener::new();
        for r in [
            proc(1, None),
            proc(2, Some(1)),
            proc(3, Some(2)),
            proc(4, Some(3)),
        ] {
            assert!(f.push(r, Layout::V5).is_none());
        }
        let flat = f.push(event(4), Layout::V5).unwrap();
        let pids: Vec<i64> = flat.lineage().map(|p| p.oid.hpid).collect();
        assert_eq!(pids, [4, 3, 2, 1]);
        assert_eq!(flat.parent.as_ref().unwrap().oid.hpid, 3);
        assert_eq!(flat.ancestors.len(), 2);
        // A process record invalidates cached chains: re-parent 2 under a new root.
        f.push(proc(9, None), Layout::V5);
        f.push(proc(2, Some(9)), Layout::V5);
        let pids: Vec<i64> = f
            .push(event(4), Layout::V5)
            .unwrap()
            .lineage()
            .map(|p| p.oid.hpid)
            .collect();
        assert_eq!(pids, [4, 3, 2, 9]);
        // A header starts a new segment: nothing is known any more.
        f.push(Record::Header(Header::default()), Layout::V5);
        let flat = f.push(event(4), Layout::V5).unwrap();
        assert!(flat.process.is_none() && flat.ancestors.is_empty());
    }

    #[test]
    fn cycles_in_damaged_traces_stop() {
        let mut f = Flattener::new();
        for r in [proc(1, Some(3)), proc(2, Some(1)), proc(3, Some(2))] {
            f.push(r, Layout::V5);
        }
        let flat = f.push(event(3), Layout::V5).unwrap();
        assert!(flat.lineage().count() <= 3, "{}", flat.lineage().count());
    }

    fn contained(pid: i64, parent: Option<i64>, container: &str) -> Record {
        let Record::Process(mut p) = proc(pid, parent) else {
            unreachable!()
        };
        p.container_id = Some(container.into());
        Record::Process(p)
    }

    #[test]
    fn resolved_links_follow_late_entities() {
        let mut f = Flattener::new();
        // Parent 1 and container "c" are not known yet when process 2's first event comes.
        f.push(contained(2, Some(1), "c"), Layout::V5);
        let first = f.push(event(2), Layout::V5).unwrap();
        assert!(first.parent.is_none() && first.container.is_none());
        // An unrelated new process changes nothing already resolved.
        f.push(proc(7, None), Layout::V5);
        assert!(f.push(event(2), Layout::V5).unwrap().parent.is_none());
        // The missing parent arrives, then the container, then the container's pod.
        f.push(proc(1, Some(0)), Layout::V5);
        let linked = f.push(event(2), Layout::V5).unwrap();
        assert_eq!(linked.parent.as_ref().map(|p| p.oid.hpid), Some(1));
        assert!(linked.container.is_none());
        f.push(
            Record::Container(Box::new(Container {
                id: "c".into(),
                pod_id: Some("p".into()),
                ..Default::default()
            })),
            Layout::V5,
        );
        let linked = f.push(event(2), Layout::V5).unwrap();
        assert_eq!(linked.container.as_ref().map(|c| c.id.as_str()), Some("c"));
        assert!(linked.pod.is_none());
        f.push(
            Record::Pod(Box::new(Pod {
                id: "p".into(),
                ..Default::default()
            })),
            Layout::V5,
        );
        let linked = f.push(event(2), Layout::V5).unwrap();
        assert_eq!(linked.pod.as_ref().map(|p| p.id.as_str()), Some("p"));
        // The grandparent 0 arrives: the chain grows.
        f.push(proc(0, None), Layout::V5);
        let pids: Vec<i64> = f
            .push(event(2), Layout::V5)
            .unwrap()
            .lineage()
            .map(|p| p.oid.hpid)
            .collect();
        assert_eq!(pids, [2, 1, 0]);
    }
}
