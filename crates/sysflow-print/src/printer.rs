//! The record printer: selected columns of flattened records written as JSON Lines, a JSON array, CSV or text
//! tables, byte-compatible with the reference `SFFormatter`.

use std::io::{self, Write};

use anyhow::{bail, Result};
use std::sync::Arc;
use sysflow_format::flatten::FxHashMap;

use sysflow_format::{Container, File, FlatRecord, Header, Linked, Pod, Process, RecordKind};

use crate::fields::{field_info, Field, FieldInfo, DEFAULT_FIELDS, FIELD_TABLE, K8S_EVENT_FIELDS};
use crate::py::json_str;
use crate::render::{csv_cell, json_value, str_value, table_text};
use crate::table::{fit_cell_into, write_github_table, Cells};
use crate::value::{fast, int_str, Direct, RecordView, Value};

/// Output format (`sysprint -o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum OutputMode {
    /// Text tables (tabulate "github" layout, fixed-width cells).
    Str,
    /// One flat JSON object per record (dotted keys).
    Flatjson,
    /// One nested JSON object per record.
    Json,
    /// CSV with a header row (excel dialect, CRLF).
    Csv,
}

/// Rows per text table chunk after the first one (the first holds one more: the reference flushes at every
/// index that is a positive multiple of 1000).
pub const CHUNK_ROWS: u64 = 1000;

/// Output is handed to the writer in pieces of at least this size.
const FLUSH_BYTES: usize = 1 << 17;

/// What to print and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintOptions {
    /// Output format.
    pub mode: OutputMode,
    /// Keys to print, in order (`-c`; duplicates are printed once, unknown keys print `""`). `None`: all keys for
    /// JSON and CSV, the default columns for text.
    pub fields: Option<Vec<String>>,
    /// Print all keys, ignoring `fields` (`-A`; for text tables too).
    pub all_fields: bool,
    /// Add `pod.name` to the default text columns (`-k`).
    pub k8s: bool,
    /// Use the Kubernetes-event default text columns (`-K`).
    pub k8s_events: bool,
    /// JSON modes: write one JSON array (the `-w FILE` form) instead of JSON Lines.
    pub json_array: bool,
    /// Terminal width used to scale text columns (80 when no terminal is attached).
    pub term_cols: usize,
}

impl PrintOptions {
    /// Options for `mode` with every other setting at the sysprint default.
    pub fn new(mode: OutputMode) -> Self {
        PrintOptions {
            mode,
            fields: None,
            all_fields: false,
            k8s: false,
            k8s_events: false,
            json_array: false,
            term_cols: 80,
        }
    }
}

/// A selected column: its key and, for the 75 exported keys, the field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    key: String,
    field: Option<Field>,
    /// Pre-rendered `"key": ` of flat JSON.
    json_key: Vec<u8>,
}

impl Column {
    fn new(key: &str) -> Self {
        let mut json_key = Vec::with_capacity(key.len() + 4);
        json_str(&mut json_key, key);
        json_key.extend_from_slice(b": ");
        Column {
            key: key.to_string(),
            field: Field::from_key(key),
            json_key,
        }
    }

    #[inline]
    fn value<'a>(&self, rec: &RecordView<'a>) -> Value<'a> {
        self.field.map_or(Value::Str(""), |f| rec.get(f))
    }
}

fn dedup(keys: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for k in keys {
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    out
}

/// A node of the nesting plan of `-o json` (dotty-dict semantics: keys split on `.`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Leaf {
        json_key: Vec<u8>,
        col: usize,
    },
    Group {
        json_key: Vec<u8>,
        children: Vec<Node>,
    },
}

fn json_key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 4);
    json_str(&mut k, name);
    k.extend_from_slice(b": ");
    k
}

fn node_name(n: &Node) -> &[u8] {
    match n {
        Node::Leaf { json_key, .. } | Node::Group { json_key, .. } => json_key,
    }
}

/// Builds the nesting of `keys` the way successive `dotty[key] = value` assignments do: a key's first segment
/// keeps the position where it first appeared; a later key replaces an earlier value at the same path; a deeper
/// key turns an earlier leaf into an object (dotty-dict does that for empty values and fails on non-empty ones —
/// a documented deviation).
fn nest(keys: &[String]) -> Vec<Node> {
    let mut root: Vec<Node> = Vec::new();
    for (col, key) in keys.iter().enumerate() {
        let segs: Vec<&str> = key.split('.').collect();
        let mut level = &mut root;
        for (i, seg) in segs.iter().enumerate() {
            let name = json_key(seg);
            let pos = level.iter().position(|n| node_name(n) == name.as_slice());
            let last = i + 1 == segs.len();
            if last {
                let leaf = Node::Leaf {
                    json_key: name,
                    col,
                };
                match pos {
                    Some(p) => level[p] = leaf,
                    None => level.push(leaf),
                }
                break;
            }
            let p = match pos {
                Some(p) => {
                    if matches!(level[p], Node::Leaf { .. }) {
                        level[p] = Node::Group {
                            json_key: name,
                            children: Vec::new(),
                        };
                    }
                    p
                }
                None => {
                    level.push(Node::Group {
                        json_key: name,
                        children: Vec::new(),
                    });
                    level.len() - 1
                }
            };
            level = match &mut level[p] {
                Node::Group { children, .. } => children,
                // Just made a group at `p`.
                Node::Leaf { .. } => return root,
            };
        }
    }
    root
}

/// The text-table part of the printer.
#[derive(Debug)]
struct TableState {
    /// Column headers (the `Rec #` column first).
    headers: Vec<&'static str>,
    /// Cell width of each column.
    widths: Vec<usize>,
    /// Rows of the current chunk, cells already padded or cut to their width.
    rows: Cells,
    /// Index of the next record of the current trace.
    idx: u64,
    /// Whether the next table is the first of the trace (printed with headers).
    first: bool,
}

/// Writes records in one of the reference's output formats. Call [`Printer::begin_trace`] and
/// [`Printer::end_trace`] around each trace's records, and [`Printer::finish`] at the end.
///
/// ```
/// use sysflow_print::{OutputMode, PrintOptions, Printer};
/// let mut p = Printer::new(PrintOptions::new(OutputMode::Csv), Vec::new())?;
/// p.begin_trace()?;
/// p.end_trace()?;
/// assert!(p.finish()?.is_empty()); // no rows: no header either
/// # Ok::<(), anyhow::Error>(())
/// ```
pub struct Printer<W: Write> {
    out: W,
    opts: PrintOptions,
    columns: Vec<Column>,
    program: Program,
    plans: Plans,
    table: Option<TableState>,
    buf: Vec<u8>,
    scratch: String,
    cell: String,
    bytes: Vec<u8>,
    text: String,
    /// Records written so far (all traces).
    records: u64,
    /// Whether the JSON array has been opened.
    array_open: bool,
    /// Whether output stays in `buf` until [`Printer::take_bytes`] (a worker of the parallel printer).
    batch: bool,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`. Fails when text mode is asked for keys that have no column width in the
    /// reference (unknown or query-only keys; the reference crashes on them).
    pub fn new(opts: PrintOptions, out: W) -> Result<Self> {
        let text = opts.mode == OutputMode::Str;
        let default_text: Vec<String> = if opts.k8s_events {
            K8S_EVENT_FIELDS.iter().map(|s| s.to_string()).collect()
        } else {
            let mut v: Vec<String> = DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect();
            if opts.k8s {
                v.push("pod.name".into());
            }
            v
        };
        let given = opts
            .fields
            .as_ref()
            .filter(|f| !opts.all_fields && !f.is_empty());
        let keys: Vec<String> = match given {
            Some(f) => dedup(f),
            None if opts.all_fields || !text => {
                Field::ALL.iter().map(|f| f.key().to_string()).collect()
            }
            None => default_text.clone(),
        };
        let mut columns: Vec<Column> = keys.iter().map(|k| Column::new(k)).collect();
        let mut table = None;
        if text {
            // The reference's column scaling uses the given fields, or the default ones (also with -A).
            let sel_keys: &[String] = match given {
                Some(f) => f,
                None => &default_text,
            };
            let sel: Vec<&FieldInfo> = FIELD_TABLE
                .iter()
                .filter(|f| !f.query_only && sel_keys.iter().any(|k| k == f.key))
                .collect();
            if sel.is_empty() {
                bail!(
                    "none of the fields {} has a text column (see -l)",
                    sel_keys.join(",")
                );
            }
            let tw: usize = sel.iter().map(|f| f.width).sum();
            let pw = sel.len() * 6 + 10;
            let wf = ((opts.term_cols as f64 - pw as f64) / tw as f64).min(1.25);
            columns.retain(|c| c.key != "idx");
            let mut headers = Vec::with_capacity(columns.len() + 1);
            let mut widths = Vec::with_capacity(columns.len() + 1);
            for key in std::iter::once("idx").chain(columns.iter().map(|c| c.key.as_str())) {
                let Some(info) = field_info(key).filter(|f| !f.query_only) else {
                    bail!("field {key:?} cannot be printed as a text column (it is unknown or query-only; see -l)");
                };
                let sw = (wf * info.width as f64) as i64;
                widths.push(if sw > 8 { sw as usize } else { info.width });
                headers.push(info.header);
            }
            table = Some(TableState {
                headers,
                rows: Cells::new(widths.len()),
                widths,
                idx: 0,
                first: true,
            });
        }
        let program = match opts.mode {
            OutputMode::Json => Program::compile(
                Style::Json,
                &nest(&columns.iter().map(|c| c.key.clone()).collect::<Vec<_>>()),
            ),
            OutputMode::Csv => Program::csv(columns.len()),
            _ => {
                let flat: Vec<Node> = columns
                    .iter()
                    .enumerate()
                    .map(|(col, c)| Node::Leaf {
                        json_key: c.json_key.clone(),
                        col,
                    })
                    .collect();
                Program::compile(Style::Json, &flat)
            }
        };
        Ok(Printer {
            out,
            opts,
            columns,
            program,
            plans: Plans::default(),
            table,
            buf: Vec::with_capacity(FLUSH_BYTES + (1 << 14)),
            scratch: String::new(),
            cell: String::new(),
            bytes: Vec::new(),
            text: String::new(),
            records: 0,
            array_open: false,
            batch: false,
        })
    }

    /// The keys printed for each record, in order (text mode: without the leading `idx`).
    pub fn keys(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.key.as_str()).collect()
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Starts a trace: text tables restart their row index and headers for every trace, like the reference.
    pub fn begin_trace(&mut self) -> io::Result<()> {
        if let Some(t) = &mut self.table {
            t.idx = 0;
            t.first = true;
            t.rows.clear();
        }
        Ok(())
    }

    /// Writes one record.
    pub fn write(&mut self, rec: &FlatRecord) -> io::Result<()> {
        self.write_linked(&rec.linked())
    }

    /// A hint, given once per record: the process slot (see [`Linked::process_slot`]) of the record that comes a
    /// fixed number of records after this one (`None`: unknown). The process's cached sections, if any, are fetched
    /// into the CPU cache meanwhile, in two steps: where they are at once, and the sections themselves halfway.
    pub fn upcoming_process(&mut self, slot: Option<(u64, u32)>) {
        self.plans.upcoming_process(slot);
    }

    /// Writes one record linked by reference (see [`sysflow_format::FlatReader::next_linked`]).
    pub fn write_linked(&mut self, rec: &Linked<'_>) -> io::Result<()> {
        self.records += 1;
        match self.opts.mode {
            OutputMode::Json | OutputMode::Flatjson => self.write_json(rec),
            OutputMode::Csv => self.write_csv(rec),
            OutputMode::Str => self.write_text(rec),
        }
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        // Larger than the 64 KiB `BufWriter`s of the command line: they pass it on without copying.
        if self.buf.len() >= FLUSH_BYTES {
            self.write_buf()?;
        }
        Ok(())
    }

    /// Hands `buf` to the writer (not in batch mode).
    fn write_buf(&mut self) -> io::Result<()> {
        if !self.batch {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Puts the printer in the state it has after `records` records, `table_idx` of them in the current trace
    /// (the start of a batch of the parallel printer; in text mode a batch starts with a trace or after a table).
    pub(crate) fn resume(&mut self, records: u64, table_idx: u64) {
        self.records = records;
        self.array_open = records > 0;
        if let Some(t) = &mut self.table {
            t.idx = table_idx;
            t.first = table_idx == 0;
            t.rows.clear();
        }
    }

    /// Keeps output in memory for [`Printer::take_bytes`] instead of writing it.
    pub(crate) fn set_batch(&mut self) {
        self.batch = true;
    }

    /// The output printed since the last call (batch mode), leaving `spare` (cleared) as the next buffer.
    pub(crate) fn take_bytes(&mut self, mut spare: Vec<u8>) -> Vec<u8> {
        spare.clear();
        std::mem::replace(&mut self.buf, spare)
    }

    /// Writes bytes printed elsewhere (by a worker of the parallel printer).
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_buf()?;
        self.out.write_all(bytes)
    }

    fn write_json(&mut self, rec: &Linked<'_>) -> io::Result<()> {
        if self.opts.json_array {
            self.buf
                .extend_from_slice(if self.array_open { b", " } else { b"[" });
            self.array_open = true;
        }
        self.plans
            .run(&self.program, &self.columns, &mut self.buf, rec);
        if !self.opts.json_array {
            self.buf.push(b'\n');
        }
        self.flush_buf()
    }

    fn write_csv(&mut self, rec: &Linked<'_>) -> io::Result<()> {
        if self.records == 1 {
            for (i, c) in self.columns.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                csv_cell(&mut self.buf, &c.key);
            }
            if self.columns.len() == 1 && self.columns[0].key.is_empty() {
                self.buf.extend_from_slice(b"\"\"");
            }
            self.buf.extend_from_slice(b"\r\n");
        }
        if self.columns.len() != 1 {
            self.plans
                .run(&self.program, &self.columns, &mut self.buf, rec);
            return self.flush_buf();
        }
        let mut all_empty = true;
        let view = RecordView::of(rec);
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            match c.value(&view) {
                Value::Null => {}
                Value::Int(v) => {
                    fast::int(&mut self.buf, v);
                    all_empty = false;
                }
                Value::Str(s) => {
                    csv_cell(&mut self.buf, s);
                    all_empty &= s.is_empty();
                }
                v => {
                    self.cell.clear();
                    str_value(&mut self.cell, &v);
                    all_empty &= self.cell.is_empty();
                    csv_cell(&mut self.buf, &self.cell);
                }
            }
        }
        // Python's csv module writes a row made of one empty field as `""`.
        if self.columns.len() == 1 && all_empty {
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.extend_from_slice(b"\r\n");
        self.flush_buf()
    }

    fn write_text(&mut self, rec: &Linked<'_>) -> io::Result<()> {
        let Some(t) = &mut self.table else {
            return Ok(());
        };
        let idx = t.idx;
        let mut num = [0u8; fast::INT_BYTES];
        fit_cell_into(&mut t.rows.text, int_str(&mut num, idx as i64), t.widths[0]);
        t.rows.end_cell();
        let view = RecordView::of(rec);
        for (c, w) in self.columns.iter().zip(&t.widths[1..]) {
            self.cell.clear();
            let v = c.value(&view);
            match v {
                Value::Int(_) | Value::Iso(_) | Value::OpFlags(_) | Value::Ipv4(_) => {
                    // ASCII renderings of the byte-level writers.
                    self.bytes.clear();
                    self.plans.fmt.value(Style::Csv, &mut self.bytes, &v);
                    self.cell
                        .push_str(std::str::from_utf8(&self.bytes).unwrap_or(""));
                }
                _ => table_text(&mut self.cell, &v, &mut self.scratch),
            }
            fit_cell_into(&mut t.rows.text, &self.cell, *w);
            t.rows.end_cell();
        }
        t.idx += 1;
        if idx > 0 && idx % CHUNK_ROWS == 0 {
            self.flush_table()?;
        }
        Ok(())
    }

    fn flush_table(&mut self) -> io::Result<()> {
        let Some(t) = &mut self.table else {
            return Ok(());
        };
        if t.rows.rows() == 0 {
            return Ok(());
        }
        let headers: &[&str] = if t.first { &t.headers } else { &[] };
        self.text.clear();
        write_github_table(&mut self.text, headers, &t.rows);
        t.first = false;
        t.rows.clear();
        self.buf.extend_from_slice(self.text.as_bytes());
        self.buf.push(b'\n');
        self.write_buf()
    }

    /// Ends a trace: prints the last text table of the trace.
    pub fn end_trace(&mut self) -> io::Result<()> {
        self.flush_table()?;
        self.write_buf()
    }

    /// Closes the output (the JSON array) and returns the writer, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_table()?;
        if self.opts.json_array && matches!(self.opts.mode, OutputMode::Json | OutputMode::Flatjson)
        {
            self.buf
                .extend_from_slice(if self.array_open { b"]" } else { b"[]" });
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()?;
        Ok(self.out)
    }

    /// Flushes what has been written so far to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

/// How a program renders values: `json.dumps`, or Python `str()` in an excel-dialect CSV cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Json,
    Csv,
}

/// Reusable buffers and caches of the value renderers.
#[derive(Debug, Default)]
struct Fmt {
    scratch: String,
    iso: fast::IsoCache,
    ops: fast::OpFlagsCache,
}

impl Fmt {
    /// Appends the ISO 8601 date and time of nanosecond timestamp `ts` as `style` renders it.
    #[inline]
    fn iso(&mut self, style: Style, out: &mut Vec<u8>, ts: i64) {
        match style {
            Style::Json => {
                out.push(b'"');
                self.iso.write(out, ts);
                out.push(b'"');
            }
            // Digits, `-`, `:`, `.` and `T`: never quoted.
            Style::Csv => self.iso.write(out, ts),
        }
    }

    /// Appends `v` as `style` renders it.
    #[inline]
    fn value(&mut self, style: Style, out: &mut Vec<u8>, v: &Value<'_>) {
        match (style, *v) {
            (_, Value::Int(i)) => fast::int(out, i),
            (Style::Json, Value::Str(s)) => json_str(out, s),
            (_, Value::Iso(ts)) => self.iso(style, out, ts),
            (Style::Json, Value::OpFlags(f)) => {
                // Letters and spaces only: nothing to escape.
                out.push(b'"');
                self.ops.write(out, f);
                out.push(b'"');
            }
            (Style::Json, _) => json_value(out, v, &mut self.scratch),
            (Style::Csv, Value::Null) => {}
            (Style::Csv, Value::Str(s)) => csv_cell(out, s),
            (Style::Csv, Value::OpFlags(f)) => self.ops.write(out, f),
            (Style::Csv, Value::Ipv4(ip)) => fast::ipv4(out, ip),
            // Never quoted (no comma, quote or line break).
            (Style::Csv, Value::NetRes(t)) => fast::netres(out, t),
            (Style::Csv, _) => {
                self.scratch.clear();
                str_value(&mut self.scratch, v);
                csv_cell(out, &self.scratch);
            }
        }
    }
}

/// An output row layout compiled to literal byte runs between values: `steps[i] = (bytes before value, column)`,
/// then `tail`. Specialised per record kind and layout into a [`Plan`] when a record of that kind first comes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Program {
    style: Style,
    steps: Vec<(Vec<u8>, usize)>,
    tail: Vec<u8>,
}

/// The entity a column's value depends on, alone (with the file's layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Process,
    Parent,
    Container,
    Pod,
    Header,
    /// The file and the second file of a file flow or event.
    File,
    /// The process, or the file when there is no process (`state`).
    State,
}

impl Source {
    fn of(field: Option<Field>, kind: RecordKind) -> Option<Source> {
        use Field as F;
        Some(match field? {
            F::State => Source::State,
            F::FilePath | F::FileNewPath | F::FileType => Source::File,
            F::Res if matches!(kind, RecordKind::FileFlow | RecordKind::FileEvent) => Source::File,
            F::ProcPid
            | F::ProcUid
            | F::ProcUser
            | F::ProcGid
            | F::ProcGroup
            | F::ProcCwd
            | F::ProcExe
            | F::ProcArgs
            | F::ProcTty
            | F::ProcEntry
            | F::ProcEnv
            | F::ProcCreateTs => Source::Process,
            F::PprocPid
            | F::PprocGid
            | F::PprocUid
            | F::PprocGroup
            | F::PprocTty
            | F::PprocEntry
            | F::PprocEnv
            | F::PprocUser
            | F::PprocCwd
            | F::PprocExe
            | F::PprocArgs
            | F::PprocCreateTs => Source::Parent,
            F::ContainerId
            | F::ContainerName
            | F::ContainerImageId
            | F::ContainerImage
            | F::ContainerType
            | F::ContainerPrivileged => Source::Container,
            F::PodId
            | F::PodName
            | F::PodNname
            | F::PodHostIp
            | F::PodInternalIp
            | F::PodNs
            | F::PodRstrtCnt
            | F::PodServices => Source::Pod,
            F::NodeId | F::NodeIp | F::Filename | F::Schema => Source::Header,
            _ => return None,
        })
    }
}

/// Whether the value of `field` is the same for every record of `kind` (and one layout): constants, and the
/// fields a kind does not have (see [`RecordView::get`]). Unknown keys print `""` always.
fn kind_constant(field: Option<Field>, kind: RecordKind) -> bool {
    use Field as F;
    use RecordKind as K;
    let Some(field) = field else { return true };
    match field {
        F::Version | F::Type | F::Tags => true,
        F::Ret => !matches!(kind, K::ProcessEvent | K::FileEvent | K::NetworkEvent),
        F::EndTs | F::EndTsUts => !matches!(kind, K::NetworkFlow | K::FileFlow | K::ProcessFlow),
        F::ProcTid => !matches!(
            kind,
            K::ProcessEvent | K::NetworkFlow | K::FileFlow | K::FileEvent | K::NetworkEvent
        ),
        F::FileFd => !matches!(kind, K::FileFlow | K::NetworkFlow),
        F::FileOpenFlags => kind != K::FileFlow,
        F::NetProto | F::NetSport | F::NetDport | F::NetSip | F::NetDip => {
            !matches!(kind, K::NetworkFlow | K::NetworkEvent)
        }
        F::Res => !matches!(
            kind,
            K::NetworkFlow | K::NetworkEvent | K::FileFlow | K::FileEvent
        ),
        F::FlowRbytes | F::FlowRops | F::FlowWbytes | F::FlowWops => {
            !matches!(kind, K::NetworkFlow | K::FileFlow)
        }
        F::PfNthreads | F::PfNexits | F::PfNerrors => kind != K::ProcessFlow,
        F::K8sAction | F::K8sKind | F::K8sMsg => kind != K::K8sEvent,
        _ => false,
    }
}

/// The entities a cached section depends on. A plan's sections of one group are rendered together, once per
/// segment and entity set, and found with one lookup per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// The process (and, for records without one, the file: `state` comes from it then).
    Process,
    /// The parent process (its own group: many processes share it).
    Parent,
    /// The file and the second file of a file flow or event.
    Files,
    /// The container and its pod, and the segment's header (the cache starts over with every header).
    Context,
}

/// Groups per plan at most.
const GROUPS: usize = 4;

impl Source {
    fn group(self) -> Group {
        match self {
            Source::Process | Source::State => Group::Process,
            Source::Parent => Group::Parent,
            Source::File => Group::Files,
            Source::Container | Source::Pod | Source::Header => Group::Context,
        }
    }
}

impl Group {
    /// The addresses of the entities the group's sections depend on.
    fn addresses(self, rec: &Linked<'_>) -> (usize, usize) {
        fn addr<T>(a: Option<&Arc<T>>) -> usize {
            a.map_or(0, |a| Arc::as_ptr(a) as usize)
        }
        match self {
            Group::Process => match rec.process {
                Some(p) => (addr(Some(p)), 0),
                None => (0, addr(rec.file)),
            },
            Group::Parent => (addr(rec.parent), 0),
            Group::Files => (addr(rec.file), addr(rec.new_file)),
            Group::Context => (addr(rec.container), addr(rec.pod)),
        }
    }

    /// References to the entities of [`Group::addresses`], kept while their sections are cached so that the
    /// addresses cannot be reused meanwhile.
    fn keep_alive(self, rec: &Linked<'_>) -> KeepAlive {
        match self {
            Group::Process => KeepAlive::Process(rec.process.cloned(), rec.file.cloned()),
            Group::Parent => KeepAlive::Process(rec.parent.cloned(), None),
            Group::Files => KeepAlive::Files(rec.file.cloned(), rec.new_file.cloned()),
            Group::Context => KeepAlive::Context(rec.container.cloned(), rec.pod.cloned()),
        }
    }
}

/// Entities kept alive by the section cache (only kept, never read).
#[allow(dead_code)]
#[derive(Debug)]
enum KeepAlive {
    Process(Option<Arc<Process>>, Option<Arc<File>>),
    Files(Option<Arc<File>>, Option<Arc<File>>),
    Context(Option<Arc<Container>>, Option<Arc<Pod>>),
}

/// One step of a [`Plan`].
#[derive(Debug, Clone)]
enum Step {
    /// A literal (keys, braces, separators, values constant for the kind) followed by one field's value.
    One(Vec<u8>, Field),
    /// [`Step::One`] for a field the plan's kind holds as one integer ([`Direct`]): read and rendered without
    /// building a [`Value`] (through [`RecordView::get`] when the reader has no value).
    Direct(Vec<u8>, Field, Direct),
    /// A literal, then section `index` of the plan's group `group`: consecutive fields of the group's entities
    /// with the literals between them, copied from the cache. (The literal before a section stays out of it, so
    /// that plans of different kinds can share a group's sections: see [`Plan::compile`].)
    Section {
        lit: Vec<u8>,
        group: usize,
        index: usize,
    },
}

/// The sections of one [`Group`] in a plan.
#[derive(Debug)]
struct GroupPlan {
    group: Group,
    /// Part of the cache key: shared by the groups of all plans of a printer that render the same sections for the
    /// same entities (same group, layout and sections), unique otherwise.
    id: u32,
    /// Each section's literals and fields.
    sections: Vec<Vec<(Vec<u8>, Field)>>,
}

/// A [`Program`] specialised for the records of one kind and layout: values constant for the kind are folded into
/// the literals, runs of one entity group's fields become cached sections.
#[derive(Debug)]
struct Plan {
    kind: RecordKind,
    layout: sysflow_format::Layout,
    steps: Vec<Step>,
    groups: Vec<GroupPlan>,
    tail: Vec<u8>,
}

impl Plan {
    /// Compiles `prog` for the kind and layout of `flat`. `ids` numbers the groups of all plans; a group that
    /// renders the same sections as a group of one of the `earlier` plans (most do: a process's fields print the
    /// same in every kind of record) takes its id, so that the two share their cached sections.
    fn compile(
        prog: &Program,
        cols: &[Column],
        flat: &Linked<'_>,
        earlier: &[Plan],
        ids: &mut u32,
        fmt: &mut Fmt,
    ) -> Plan {
        let view = RecordView::of(flat);
        let kind = flat.record.kind();
        let mut steps: Vec<Step> = Vec::new();
        let mut groups: Vec<GroupPlan> = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for (lit, col) in &prog.steps {
            let c = &cols[*col];
            pending.extend_from_slice(lit);
            if kind_constant(c.field, kind) {
                fmt.value(prog.style, &mut pending, &c.value(&view));
                continue;
            }
            let Some(field) = c.field else { continue };
            let lit = std::mem::take(&mut pending);
            let Some(group) = Source::of(Some(field), kind).map(Source::group) else {
                steps.push(match Direct::of(field, kind, flat.layout) {
                    Some(direct) => Step::Direct(lit, field, direct),
                    None => Step::One(lit, field),
                });
                continue;
            };
            let gi = match groups.iter().position(|g| g.group == group) {
                Some(gi) => gi,
                None => {
                    groups.push(GroupPlan {
                        group,
                        id: u32::MAX,
                        sections: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let sections = &mut groups[gi].sections;
            match steps.last() {
                // The previous step is a section of the same group: the field joins it.
                Some(Step::Section { group, index, .. }) if *group == gi => {
                    sections[*index].push((lit, field))
                }
                _ => {
                    sections.push(vec![(Vec::new(), field)]);
                    steps.push(Step::Section {
                        lit,
                        group: gi,
                        index: sections.len() - 1,
                    });
                }
            }
        }
        pending.extend_from_slice(&prog.tail);
        for g in &mut groups {
            let same = earlier
                .iter()
                .filter(|p| p.layout == flat.layout)
                .flat_map(|p| &p.groups)
                .find(|e| e.group == g.group && e.sections == g.sections);
            g.id = match same {
                Some(e) => e.id,
                None => {
                    *ids += 1;
                    *ids - 1
                }
            };
        }
        Plan {
            kind,
            layout: flat.layout,
            steps,
            groups,
            tail: pending,
        }
    }

    fn run(
        &self,
        style: Style,
        out: &mut Vec<u8>,
        rec: &RecordView<'_>,
        flat: &Linked<'_>,
        cache: &mut SectionCache,
        fmt: &mut Fmt,
    ) {
        // Where each group's sections are in the cache, rendering them on a miss.
        let mut bases = [0usize; GROUPS];
        let mut cleared = false;
        let mut gi = 0;
        while gi < self.groups.len() {
            let g = &self.groups[gi];
            let (addr, addr2) = g.group.addresses(flat);
            let key = SectionKey {
                id: g.id,
                addr,
                addr2,
            };
            // A process's or file's sections are found by the flattener's dense slot when it has one.
            let slot = match g.group {
                Group::Process => flat.process_slot,
                Group::Files if flat.new_file.is_none() => flat.file_slot,
                _ => None,
            };
            let hit = match slot {
                Some((segment, slot)) => cache.by_slot(g.id, segment, slot),
                None => cache.entries.get(&key).copied(),
            };
            match hit {
                Some(base) => bases[gi] = base,
                None => {
                    if cache.is_full() && !cleared {
                        // Starting over invalidates the groups found so far: find them again.
                        cache.clear();
                        cleared = true;
                        gi = 0;
                        continue;
                    }
                    let base = cache.render(g, style, rec, fmt);
                    match slot {
                        Some((segment, slot)) => cache.set_slot(g.id, segment, slot, base),
                        None => {
                            cache.entries.insert(key, base);
                            cache.keep.push(g.group.keep_alive(flat));
                        }
                    }
                    bases[gi] = base;
                }
            }
            gi += 1;
        }
        for step in &self.steps {
            match step {
                Step::One(lit, field) => {
                    fast::put(out, lit);
                    fmt.value(style, out, &rec.get(*field));
                }
                Step::Direct(lit, field, direct) => {
                    fast::put(out, lit);
                    match *direct {
                        Direct::Int(read) => match read(flat.record) {
                            Some(i) => fast::int(out, i),
                            None => fmt.value(style, out, &rec.get(*field)),
                        },
                        Direct::Iso(read) => match read(flat.record) {
                            Some(ts) => fmt.iso(style, out, ts),
                            None => fmt.value(style, out, &rec.get(*field)),
                        },
                    }
                }
                Step::Section { lit, group, index } => {
                    fast::put(out, lit);
                    let n = self.groups[*group].sections.len();
                    out.extend_from_slice(cache.section(bases[*group], n, *index));
                }
            }
        }
        fast::put(out, &self.tail);
    }
}

/// Bytes of rendered sections kept at most; the cache starts over when it holds more (a segment with very many
/// entities).
const SECTION_CACHE_BYTES: usize = 64 << 20;

/// Identifies the rendered sections of one plan's group for one set of entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SectionKey {
    id: u32,
    addr: usize,
    addr2: usize,
}

/// Rendered entity sections of the current segment: each group of sections is rendered once per segment and set
/// of entities (the flattener's own caches last as long). The bytes live in one arena: per group, the end offsets
/// of its sections (`u64` each, relative to the group's first section), then the sections' bytes.
#[derive(Debug)]
struct SectionCache {
    /// Where each group's sections start in `arena`.
    entries: FxHashMap<SectionKey, usize>,
    arena: Vec<u8>,
    keep: Vec<KeepAlive>,
    /// The header of the segment the entries belong to (kept, so that its address identifies the segment).
    segment: Option<Arc<Header>>,
    /// Bytes kept at most ([`SECTION_CACHE_BYTES`]; smaller in tests).
    limit: usize,
    /// Where the process and file groups' sections are, by group id and the flattener's process or file slot
    /// (`usize::MAX`: not rendered), for the flattener segment `slots_segment` (see [`Linked::process_slot`],
    /// [`Linked::file_slot`]).
    slots: Vec<Vec<usize>>,
    slots_segment: u64,
}

impl Default for SectionCache {
    fn default() -> Self {
        SectionCache {
            entries: FxHashMap::default(),
            arena: Vec::new(),
            keep: Vec::new(),
            segment: None,
            limit: SECTION_CACHE_BYTES,
            slots: Vec::new(),
            slots_segment: 0,
        }
    }
}

impl SectionCache {
    /// Forgets every section when `rec` starts a new segment (its entities are new objects).
    #[inline]
    fn enter_segment(&mut self, rec: &Linked<'_>) {
        let same = match (&self.segment, rec.header) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.segment = rec.header.cloned();
            self.clear();
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.arena.clear();
        self.keep.clear();
        self.slots.iter_mut().for_each(Vec::clear);
    }

    fn is_full(&self) -> bool {
        self.arena.len() >= self.limit
    }

    /// Renders the sections of `g` into the arena; returns where they start.
    fn render(
        &mut self,
        g: &GroupPlan,
        style: Style,
        rec: &RecordView<'_>,
        fmt: &mut Fmt,
    ) -> usize {
        let base = self.arena.len();
        let n = g.sections.len();
        self.arena.resize(base + OFFSET * n, 0);
        let data = self.arena.len();
        for (i, items) in g.sections.iter().enumerate() {
            for (lit, field) in items {
                self.arena.extend_from_slice(lit);
                fmt.value(style, &mut self.arena, &rec.get(*field));
            }
            let end = (self.arena.len() - data) as u64;
            self.arena[base + OFFSET * i..base + OFFSET * (i + 1)]
                .copy_from_slice(&end.to_le_bytes());
        }
        base
    }

    /// Where the sections of group `id` are for the process in `slot` of the flattener's `segment`.
    #[inline]
    fn by_slot(&mut self, id: u32, segment: u64, slot: u32) -> Option<usize> {
        if segment != self.slots_segment {
            self.slots.iter_mut().for_each(Vec::clear);
            self.slots_segment = segment;
            return None;
        }
        let base = *self.slots.get(id as usize)?.get(slot as usize)?;
        (base != usize::MAX).then_some(base)
    }

    /// Starts fetching where the sections of group `id` for the process in `slot` are (the first step of
    /// [`Plans::upcoming_process`]).
    #[inline]
    fn prefetch_slot(&self, id: u32, segment: u64, slot: u32) {
        if segment != self.slots_segment {
            return;
        }
        // The entry's address, without reading the entry.
        if let Some(base) = self
            .slots
            .get(id as usize)
            .and_then(|v| v.get(slot as usize))
        {
            sysflow_format::hint::prefetch_lines(base, 1);
        }
    }

    /// Starts fetching the first bytes of the sections of group `id` for the process in `slot` into the CPU cache,
    /// if they are rendered.
    #[inline]
    fn prefetch(&self, id: u32, segment: u64, slot: u32) {
        if segment != self.slots_segment {
            return;
        }
        let Some(&base) = self
            .slots
            .get(id as usize)
            .and_then(|v| v.get(slot as usize))
        else {
            return;
        };
        if let Some(first) = self.arena.get(base) {
            sysflow_format::hint::prefetch_lines(first, PREFETCH_LINES);
        }
    }

    fn set_slot(&mut self, id: u32, segment: u64, slot: u32, base: usize) {
        if segment != self.slots_segment {
            self.slots.iter_mut().for_each(Vec::clear);
            self.slots_segment = segment;
        }
        let (id, slot) = (id as usize, slot as usize);
        if self.slots.len() <= id {
            self.slots.resize_with(id + 1, Vec::new);
        }
        let v = &mut self.slots[id];
        if v.len() <= slot {
            v.resize(slot + 1, usize::MAX);
        }
        v[slot] = base;
    }

    /// Section `i` of the `n` sections of the group rendered at `base`.
    #[inline]
    fn section(&self, base: usize, n: usize, i: usize) -> &[u8] {
        let end_of = |j: usize| {
            let mut b = [0u8; OFFSET];
            if let Some(s) = self.arena.get(base + OFFSET * j..base + OFFSET * (j + 1)) {
                b.copy_from_slice(s);
            }
            u64::from_le_bytes(b) as usize
        };
        let start = if i == 0 { 0 } else { end_of(i - 1) };
        let data = base + OFFSET * n;
        self.arena
            .get(data + start..data + end_of(i))
            .unwrap_or_default()
    }
}

/// Cache lines of a group's sections fetched ahead of their use (the hardware follows on from there).
const PREFETCH_LINES: usize = 8;

/// Records between the two steps of [`Plans::upcoming_process`].
const HINT_STEPS: usize = 6;

/// Bytes of each section's end offset stored before a group's sections in the arena.
const OFFSET: usize = 8;

impl Program {
    fn compile(style: Style, nodes: &[Node]) -> Program {
        fn walk(nodes: &[Node], pending: &mut Vec<u8>, steps: &mut Vec<(Vec<u8>, usize)>) {
            pending.push(b'{');
            for (i, n) in nodes.iter().enumerate() {
                if i > 0 {
                    pending.extend_from_slice(b", ");
                }
                match n {
                    Node::Leaf { json_key, col } => {
                        pending.extend_from_slice(json_key);
                        steps.push((std::mem::take(pending), *col));
                    }
                    Node::Group { json_key, children } => {
                        pending.extend_from_slice(json_key);
                        walk(children, pending, steps);
                    }
                }
            }
            pending.push(b'}');
        }
        let mut steps = Vec::new();
        let mut pending = Vec::new();
        walk(nodes, &mut pending, &mut steps);
        Program {
            style,
            steps,
            tail: pending,
        }
    }

    /// A CSV row of `n` columns: cells separated by `,`, ended by CRLF.
    fn csv(n: usize) -> Program {
        Program {
            style: Style::Csv,
            steps: (0..n)
                .map(|i| (if i > 0 { b",".to_vec() } else { Vec::new() }, i))
                .collect(),
            tail: b"\r\n".to_vec(),
        }
    }
}

/// The plans of one printer, by kind and layout, with their section caches.
#[derive(Debug, Default)]
struct Plans {
    plans: Vec<Plan>,
    /// Index of the plan used last.
    last: usize,
    ids: u32,
    sections: SectionCache,
    fmt: Fmt,
    /// The processes hinted by [`Plans::upcoming_process`] whose sections are not fetched yet, oldest first.
    hinted: std::collections::VecDeque<Option<(u64, u32)>>,
}

impl Plans {
    /// See [`Printer::upcoming_process`]: the process's sections of the plan used last (most records have the kind
    /// of the one before). Where they are is fetched for the process hinted now; the sections themselves for the
    /// one hinted [`HINT_STEPS`] records ago, whose place is in the cache by now.
    fn upcoming_process(&mut self, slot: Option<(u64, u32)>) {
        let Some(plan) = self.plans.get(self.last) else {
            return;
        };
        let groups = || plan.groups.iter().filter(|g| g.group == Group::Process);
        if let Some((segment, slot)) = slot {
            for g in groups() {
                self.sections.prefetch_slot(g.id, segment, slot);
            }
        }
        self.hinted.push_back(slot);
        if self.hinted.len() > HINT_STEPS {
            if let Some(Some((segment, slot))) = self.hinted.pop_front() {
                for g in groups() {
                    self.sections.prefetch(g.id, segment, slot);
                }
            }
        }
    }

    /// Appends the row of `flat`, compiling the plan of its kind and layout if needed.
    fn run(&mut self, prog: &Program, cols: &[Column], out: &mut Vec<u8>, flat: &Linked<'_>) {
        let kind = flat.record.kind();
        let fits = |p: &Plan| p.kind == kind && p.layout == flat.layout;
        let i = match self.plans.get(self.last) {
            Some(p) if fits(p) => self.last,
            _ => match self.plans.iter().position(fits) {
                Some(i) => i,
                None => {
                    let plan =
                        Plan::compile(prog, cols, flat, &self.plans, &mut self.ids, &mut self.fmt);
                    self.plans.push(plan);
                    self.plans.len() - 1
                }
            },
        };
        self.last = i;
        self.sections.enter_segment(flat);
        let view = RecordView::of(flat);
        self.plans[i].run(
            prog.style,
            out,
            &view,
            flat,
            &mut self.sections,
            &mut self.fmt,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn plan_text(nodes: &[Node]) -> String {
        let mut s = String::from("{");
        for (i, n) in nodes.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            match n {
                Node::Leaf { json_key, col } => {
                    s.push_str(&String::from_utf8_lossy(&json_key[..json_key.len() - 2]));
                    s.push_str(&format!("={col}"));
                }
                Node::Group { json_key, children } => {
                    s.push_str(&String::from_utf8_lossy(&json_key[..json_key.len() - 2]));
                    s.push_str(&plan_text(children));
                }
            }
        }
        s.push('}');
        s
    }

    #[test]
    fn nesting_follows_dotty_dict() {
        // Expected shapes produced by dotty-dict 1.3.1 (values empty strings).
        assert_eq!(
            plan_text(&nest(&keys(&["a.b", "c", "a.d"]))),
            r#"{"a"{"b"=0,"d"=2},"c"=1}"#
        );
        assert_eq!(
            plan_text(&nest(&keys(&["proc", "proc.pid"]))),
            r#"{"proc"{"pid"=1}}"#
        );
        assert_eq!(
            plan_text(&nest(&keys(&["proc.pid", "proc"]))),
            r#"{"proc"=1}"#
        );
        assert_eq!(plan_text(&nest(&keys(&["a..b"]))), r#"{"a"{""{"b"=0}}}"#);
        assert_eq!(plan_text(&nest(&keys(&["", "x"]))), r#"{""=0,"x"=1}"#);
    }

    #[test]
    fn text_mode_rejects_keys_without_width() {
        let mut o = PrintOptions::new(OutputMode::Str);
        o.fields = Some(keys(&["proc.pid", "proc.name"]));
        let err = Printer::new(o.clone(), Vec::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("proc.name"), "{err}");
        o.fields = Some(keys(&["nope"]));
        assert!(Printer::new(o, Vec::new()).is_err());
    }

    #[test]
    fn default_columns_and_widths() {
        let p =
            Printer::new(PrintOptions::new(OutputMode::Str), Vec::new()).map_err(|e| e.to_string());
        let p = p
            .as_ref()
            .map_err(String::clone)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.keys(), DEFAULT_FIELDS);
        let t = p
            .table
            .as_ref()
            .map(|t| t.widths.clone())
            .unwrap_or_default();
        assert_eq!(t, vec![6, 21, 2, 20, 20, 8, 8, 8, 14, 45, 8, 8, 12]);
        let mut o = PrintOptions::new(OutputMode::Str);
        o.k8s_events = true;
        let p = Printer::new(o, Vec::new())
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        // wf = (80 - 40) / 174: only the 100-wide message column scales above 8 (int(22.98) = 22).
        assert_eq!(
            p.table
                .as_ref()
                .map(|t| t.widths.clone())
                .unwrap_or_default(),
            vec![6, 21, 2, 25, 26, 22]
        );
    }

    /// The row of `rec` rendered column by column from the unspecialised program, without any cache.
    fn plain_row(prog: &Program, cols: &[Column], rec: &FlatRecord) -> Vec<u8> {
        let view = RecordView::new(rec);
        let mut out = Vec::new();
        for (lit, col) in &prog.steps {
            out.extend_from_slice(lit);
            let v = cols[*col].value(&view);
            match prog.style {
                Style::Json => json_value(&mut out, &v, &mut String::new()),
                Style::Csv => {
                    let mut t = String::new();
                    str_value(&mut t, &v);
                    csv_cell(&mut out, &t);
                }
            }
        }
        out.extend_from_slice(&prog.tail);
        out
    }

    /// Prints `recs` in every mode but text and checks each row against [`plain_row`], with the section cache as
    /// is and with one so small that it starts over at every miss.
    fn check_plans_against_plain_rows(recs: &[FlatRecord], what: &str) {
        for (mode, limit) in [
            (OutputMode::Json, SECTION_CACHE_BYTES),
            (OutputMode::Flatjson, SECTION_CACHE_BYTES),
            (OutputMode::Csv, SECTION_CACHE_BYTES),
            (OutputMode::Json, 1),
            (OutputMode::Csv, 1),
        ] {
            let mut p =
                Printer::new(PrintOptions::new(mode), Vec::new()).unwrap_or_else(|e| panic!("{e}"));
            p.plans.sections.limit = limit;
            for (i, rec) in recs.iter().enumerate() {
                let mut row = Vec::new();
                p.plans.run(&p.program, &p.columns, &mut row, &rec.linked());
                let plain = plain_row(&p.program, &p.columns, rec);
                assert_eq!(
                    String::from_utf8_lossy(&row),
                    String::from_utf8_lossy(&plain),
                    "{what}: record {i}, {mode:?}, cache limit {limit}"
                );
            }
        }
    }

    /// Prints the first `n` records of `path` read as owned records and read linked by reference (whose process
    /// sections are cached by the flattener's process slots), in every mode, and compares.
    fn check_linked_reading_prints_the_same(path: &std::path::Path, n: usize) {
        for (mode, limit) in [
            (OutputMode::Json, SECTION_CACHE_BYTES),
            (OutputMode::Flatjson, SECTION_CACHE_BYTES),
            (OutputMode::Csv, SECTION_CACHE_BYTES),
            (OutputMode::Str, SECTION_CACHE_BYTES),
            (OutputMode::Json, 1),
        ] {
            let printer = || {
                let mut p = Printer::new(PrintOptions::new(mode), Vec::new())
                    .unwrap_or_else(|e| panic!("{e}"));
                p.plans.sections.limit = limit;
                p
            };
            let open = || sysflow_format::FlatReader::open(path).unwrap_or_else(|e| panic!("{e}"));
            let mut owned = printer();
            for rec in open().take(n).flatten() {
                owned.write(&rec).unwrap_or_else(|e| panic!("{e}"));
            }
            let a = owned.finish().unwrap_or_default();
            // Linked here and on a read-ahead thread (entities from its replica, slots for processes and files).
            for reader in [open(), open().read_ahead()] {
                let mut reader = reader;
                let mut linked = printer();
                let mut printed = 0;
                while let Some(Ok(rec)) = reader.next_linked() {
                    if printed == n {
                        break;
                    }
                    assert!(rec.process.is_none() || rec.process_slot.is_some());
                    assert!(rec.file.is_none() || rec.file_slot.is_some());
                    linked.write_linked(&rec).unwrap_or_else(|e| panic!("{e}"));
                    printed += 1;
                }
                assert_eq!(
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&linked.finish().unwrap_or_default()),
                    "{}: {mode:?}, cache limit {limit}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn cached_rows_equal_uncached_rows_on_the_shared_traces() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
        let mut stack = vec![dir];
        let mut seen = 0;
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let Ok(r) = sysflow_format::FlatReader::open(&p) else {
                    continue;
                };
                let recs: Vec<FlatRecord> = r.take(20_000).filter_map(|r| r.ok()).collect();
                seen += recs.len();
                check_plans_against_plain_rows(&recs, &p.display().to_string());
                check_linked_reading_prints_the_same(&p, recs.len());
            }
        }
        eprintln!("{seen} records compared");
    }

    #[test]
    fn kinds_share_the_sections_of_an_entity() {
        use std::sync::Arc;
        use sysflow_format::{FileFlow, Layout, NetworkFlow, Process, ProcessEvent, Record};
        let procs: Vec<Arc<Process>> = (0..3)
            .map(|i| {
                Arc::new(Process {
                    exe: format!("/bin/p{i}"),
                    env: vec![format!("N={i}")],
                    ..Default::default()
                })
            })
            .collect();
        let mut recs = Vec::new();
        for i in 0..12 {
            let record = match i % 3 {
                0 => Record::FileFlow(FileFlow::default()),
                1 => Record::NetworkFlow(NetworkFlow::default()),
                _ => Record::ProcessEvent(ProcessEvent::default()),
            };
            let mut r = FlatRecord::new(record, Layout::V5);
            r.process = Some(procs[i % 2 + i / 6].clone());
            recs.push(r);
        }
        check_plans_against_plain_rows(&recs, "kinds sharing sections");
        let mut plans = Plans::default();
        let prog = Program::compile(
            Style::Json,
            &Field::ALL
                .iter()
                .enumerate()
                .map(|(col, f)| Node::Leaf {
                    json_key: json_key(f.key()),
                    col,
                })
                .collect::<Vec<_>>(),
        );
        let cols: Vec<Column> = Field::ALL.iter().map(|f| Column::new(f.key())).collect();
        let mut out = Vec::new();
        for r in &recs {
            plans.run(&prog, &cols, &mut out, &r.linked());
        }
        // Three kinds, one process group: each process is rendered once whatever the kinds of its records.
        assert_eq!(plans.plans.len(), 3);
        let ids: Vec<u32> = plans
            .plans
            .iter()
            .flat_map(|p| p.groups.iter().filter(|g| g.group == Group::Process))
            .map(|g| g.id)
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|&id| id == ids[0]), "{ids:?}");
        let entries = plans
            .sections
            .entries
            .keys()
            .filter(|k| k.id == ids[0])
            .count();
        assert_eq!(entries, 3, "one rendering per process");
    }

    #[test]
    fn a_changed_entity_is_rendered_again() {
        use std::sync::Arc;
        use sysflow_format::{File, FileFlow, Layout, Process, Record};
        let file_a = Arc::new(File {
            path: "/tmp/f0".into(),
            restype: b'f' as i32,
            ..Default::default()
        });
        let proc_a = Arc::new(Process {
            exe: "/bin/a".into(),
            ..Default::default()
        });
        let mut recs = Vec::new();
        for (i, exe) in ["/bin/a", "/bin/b", "/bin/a", "/bin/\"c\""]
            .iter()
            .enumerate()
        {
            let mut r = FlatRecord::new(
                Record::FileFlow(FileFlow {
                    ts: 1_700_000_000_000_000_000 + i as i64 * 999_999_999,
                    op_flags: 1 << i,
                    ..Default::default()
                }),
                if i == 3 { Layout::EMPTY } else { Layout::V5 },
            );
            // A new file per record (record 2: one seen before), the second file set on record 1.
            r.file = Some(if i == 2 {
                file_a.clone()
            } else {
                Arc::new(File {
                    path: format!("/tmp/f{i}"),
                    restype: b'f' as i32 + i as i32,
                    ..Default::default()
                })
            });
            if i == 1 {
                r.new_file = r.file.clone();
            }
            r.process = Some(if i == 2 {
                proc_a.clone()
            } else {
                Arc::new(Process {
                    exe: exe.to_string(),
                    ..Default::default()
                })
            });
            recs.push(r);
        }
        check_plans_against_plain_rows(&recs, "changing processes");
        let mut p = Printer::new(PrintOptions::new(OutputMode::Flatjson), Vec::new())
            .unwrap_or_else(|e| panic!("{e}"));
        for r in &recs {
            p.write(r).unwrap_or_else(|e| panic!("{e}"));
        }
        let out = String::from_utf8(p.finish().unwrap_or_default()).unwrap_or_default();
        let exes: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split("\"proc.exe\": ").nth(1))
            .map(|t| t.split(", \"").next().unwrap_or(""))
            .collect();
        assert_eq!(
            exes,
            [
                "\"/bin/a\"",
                "\"/bin/b\"",
                "\"/bin/a\"",
                "\"/bin/\\\"c\\\"\""
            ]
        );
    }

    #[test]
    fn a_new_segment_renders_its_header_again() {
        use sysflow_format::{Container, FileFlow, Header, Layout, Record};
        let container = Arc::new(Container {
            id: "c1".into(),
            name: "web".into(),
            ..Default::default()
        });
        let process = Arc::new(Process {
            exe: "/bin/a".into(),
            ..Default::default()
        });
        let mut recs = Vec::new();
        for name in ["/seg/one", "/seg/two", "/seg/two", "/seg/three"] {
            let header = Arc::new(Header {
                filename: name.into(),
                ..Default::default()
            });
            // Segments two and three keep their header for two records each.
            for _ in 0..2 {
                let mut r = FlatRecord::new(Record::FileFlow(FileFlow::default()), Layout::V5);
                r.header = Some(header.clone());
                r.container = Some(container.clone());
                r.process = Some(process.clone());
                recs.push(r);
            }
        }
        check_plans_against_plain_rows(&recs, "segments sharing entities");
    }
}
