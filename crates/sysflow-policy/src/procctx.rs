//! Caching of condition results ("facts") per process context and per file across records.
//!
//! A record's *process context* is the set of entities the flattener links to it besides its files: process, parent,
//! ancestors, container, pod and header. Conditions that read only those (`Field::is_process_scoped`) have the same
//! result for every record with the same context. Likewise conditions that read only the record's files
//! (`Field::is_file_scoped`) have the same result for every record of the same type linking the same file entities.
//! The engine evaluates each such condition once per context and keeps the results, with the derived sets of rules
//! that can still match ("live" rules), in small direct-mapped caches per evaluator.
//!
//! Contexts are identified by the identity of their `Arc`s. A cache entry keeps clones of those `Arc`s, so an address
//! cannot be reused by another entity while an entry refers to it, and the entities cannot change (they have no
//! interior mutability, and `Arc::get_mut`/`make_mut` cannot mutate a shared value in place).

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use sysflow_format::{Container, File, FlatRecord, Header, Pod, Process, RecordKind};

fn same<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn addr<T>(p: Option<&Arc<T>>) -> u64 {
    p.map_or(0, |p| Arc::as_ptr(p) as usize as u64 >> 4)
}

/// What identifies a context in a cache.
pub(crate) trait Key: Sized {
    fn of(rec: &FlatRecord) -> Self;
    fn matches(&self, rec: &FlatRecord) -> bool;
    fn hash(rec: &FlatRecord) -> u64;
}

/// The identity of a process context (clones of the record's entity `Arc`s).
#[derive(Debug)]
pub(crate) struct ProcKey {
    process: Option<Arc<Process>>,
    parent: Option<Arc<Process>>,
    ancestors: Arc<[Arc<Process>]>,
    container: Option<Arc<Container>>,
    pod: Option<Arc<Pod>>,
    header: Option<Arc<Header>>,
}

impl Key for ProcKey {
    fn of(rec: &FlatRecord) -> Self {
        ProcKey {
            process: rec.process.clone(),
            parent: rec.parent.clone(),
            ancestors: rec.ancestors.clone(),
            container: rec.container.clone(),
            pod: rec.pod.clone(),
            header: rec.header.clone(),
        }
    }

    fn matches(&self, rec: &FlatRecord) -> bool {
        same(&self.process, &rec.process)
            && same(&self.parent, &rec.parent)
            && same(&self.container, &rec.container)
            && same(&self.pod, &rec.pod)
            && same(&self.header, &rec.header)
            // The flattener shares one ancestor list per process, but rebuilds it after some records: compare the
            // elements when the lists differ.
            && (Arc::ptr_eq(&self.ancestors, &rec.ancestors)
                || (self.ancestors.len() == rec.ancestors.len()
                    && self
                        .ancestors
                        .iter()
                        .zip(rec.ancestors.iter())
                        .all(|(a, b)| Arc::ptr_eq(a, b))))
    }

    fn hash(rec: &FlatRecord) -> u64 {
        addr(rec.process.as_ref())
            ^ addr(rec.parent.as_ref()).rotate_left(21)
            ^ addr(rec.container.as_ref()).rotate_left(42)
    }
}

/// The identity of a file context: the record type and its two file entities.
#[derive(Debug)]
pub(crate) struct FileKey {
    kind: RecordKind,
    file: Option<Arc<File>>,
    new_file: Option<Arc<File>>,
}

impl Key for FileKey {
    fn of(rec: &FlatRecord) -> Self {
        FileKey {
            kind: rec.kind(),
            file: rec.file.clone(),
            new_file: rec.new_file.clone(),
        }
    }

    fn matches(&self, rec: &FlatRecord) -> bool {
        self.kind == rec.kind()
            && same(&self.file, &rec.file)
            && same(&self.new_file, &rec.new_file)
    }

    fn hash(rec: &FlatRecord) -> u64 {
        addr(rec.file.as_ref()) ^ addr(rec.new_file.as_ref()).rotate_left(29) ^ rec.kind() as u64
    }
}

/// The cached state of one context.
#[derive(Debug)]
pub(crate) struct Entry<K> {
    key: RefCell<Option<K>>,
    /// Per fact: 0 = not computed, 1 = false, 2 = true.
    pub facts: Box<[Cell<u8>]>,
    /// Per record kind, `words` words of live-rule bits (valid when the kind's bit is set in `live_valid`).
    live: Box<[Cell<u64>]>,
    live_valid: Cell<u32>,
}

impl<K> Entry<K> {
    /// The live-rule bits of `kind` (`words` words), computed with `f` (which fills all-zero words) on first use.
    pub fn live(
        &self,
        kind: RecordKind,
        words: usize,
        f: impl FnOnce(&[Cell<u64>]),
    ) -> &[Cell<u64>] {
        let k = kind as usize;
        let bits = &self.live[k * words..(k + 1) * words];
        if self.live_valid.get() & (1 << k) == 0 {
            bits.iter().for_each(|w| w.set(0));
            f(bits);
            self.live_valid.set(self.live_valid.get() | 1 << k);
        }
        bits
    }
}

/// A direct-mapped cache of fact results and live-rule sets per context.
///
/// Lookups take `&self` (the entries are cells), so an evaluation context can look its file entry up lazily. An entry
/// returned by [`Cache::entry`] stays valid for the record it was looked up for until the next lookup.
#[derive(Debug)]
pub(crate) struct Cache<K> {
    entries: Box<[Entry<K>]>,
    nfacts: usize,
    words: usize,
    size: usize,
    /// Lookups and misses (diagnostics).
    pub lookups: Cell<u64>,
    pub misses: Cell<u64>,
}

impl<K: Key> Cache<K> {
    /// An empty cache of `size` entries (a power of two; allocated by [`Cache::allocate`]), each holding `nfacts`
    /// facts and `words` live-rule words per record kind.
    pub fn new(size: usize, nfacts: usize, words: usize) -> Self {
        Cache {
            entries: Box::new([]),
            nfacts,
            words,
            size: size.max(1).next_power_of_two(),
            lookups: Cell::new(0),
            misses: Cell::new(0),
        }
    }

    /// Whether the cache was built for these dimensions.
    pub fn fits(&self, nfacts: usize, words: usize) -> bool {
        self.nfacts == nfacts && self.words == words
    }

    /// Allocates the entries (once).
    pub fn allocate(&mut self) {
        if self.entries.is_empty() {
            let (nfacts, live) = (self.nfacts, self.words * RecordKind::ALL.len());
            self.entries = (0..self.size)
                .map(|_| Entry {
                    key: RefCell::new(None),
                    facts: vec![Cell::new(0); nfacts].into_boxed_slice(),
                    live: vec![Cell::new(0); live].into_boxed_slice(),
                    live_valid: Cell::new(0),
                })
                .collect();
        }
    }

    /// The entry of `rec`'s context, evicting whatever shared its slot; `None` before [`Cache::allocate`].
    pub fn entry(&self, rec: &FlatRecord) -> Option<&Entry<K>> {
        if self.entries.is_empty() {
            return None;
        }
        self.lookups.set(self.lookups.get() + 1);
        let h = K::hash(rec).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = (h >> 40) as usize & (self.entries.len() - 1);
        let e = &self.entries[slot];
        let hit = e.key.borrow().as_ref().is_some_and(|k| k.matches(rec));
        if !hit {
            self.misses.set(self.misses.get() + 1);
            *e.key.borrow_mut() = Some(K::of(rec));
            e.facts.iter().for_each(|c| c.set(0));
            e.live_valid.set(0);
        }
        Some(e)
    }
}
