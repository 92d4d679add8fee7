//! The `sysprint` command line: the reference's flags, path expansion and per-trace loop.
//!
//! Deviations from the reference, all deliberate (see the crate README):
//! * a failure (unreadable file, damaged data, missing path, bad flag value) makes the exit status non-zero; the
//!   reference always exits 0. An error in one file is reported with the file and byte offset and the other files
//!   are still printed; records of a damaged file before and after the damage are printed;
//! * with `-w`, all traces go to the one output file (the reference rewrites the file for every trace, keeping only
//!   the last one);
//! * files of a directory whose paths hold no digit are printed first, sorted by name (the reference crashes on
//!   them);
//! * `-i s3` streams the objects of the bucket (recursively, in key order) instead of downloading them to a
//!   temporary directory;
//! * text mode refuses `-c` keys that have no column width up front (the reference crashes on the first record);
//! * `-v` prints this implementation's version.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use sysflow_export::{ObjectOrder, S3Config, S3Source, SysprintS3Args};
use sysflow_format::{FlatReader, TraceReader};
use sysflow_sfql::Query;

use crate::fields::list_text;
use crate::parallel::{cpus, print_with_threads, requested_threads, RecordSink};

/// Local inputs smaller than this (compressed bytes, all paths together) are printed on one thread by default:
/// starting and feeding workers costs more than they save on a few thousand rows (measured on the shared traces).
const PARALLEL_MIN_BYTES: u64 = 8 << 20;
use crate::printer::{OutputMode, PrintOptions};

/// Where traces come from (`-i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Input {
    /// Local files and directories.
    Local,
    /// Buckets of an S3-compatible object store.
    S3,
}

/// Command-line arguments of `sysprint`, flag for flag those of the reference 0.6.1.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "sysprint",
    about = "sysprint: a human-readable printer and format converter for Sysflow captures.",
    disable_version_flag = true
)]
pub struct SysprintArgs {
    /// list of paths or bucket names from where to read trace files
    #[arg(value_name = "path", required_unless_present_any = ["list", "version"])]
    pub paths: Vec<PathBuf>,
    /// input type
    #[arg(short = 'i', long = "input", value_enum, default_value = "local")]
    pub input: Input,
    /// output format
    #[arg(short = 'o', long = "output", value_enum, default_value = "str")]
    pub output: OutputMode,
    /// output file path (required for csv)
    #[arg(
        short = 'w',
        long = "file",
        value_name = "FILE",
        required_if_eq("output", "csv")
    )]
    pub file: Option<PathBuf>,
    /// comma-separated list of sysflow fields to be printed
    #[arg(short = 'c', long = "fields", value_name = "FIELDS")]
    pub fields: Option<String>,
    /// filter expression
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Option<String>,
    /// list available record attributes
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// add pod related fields to output
    #[arg(short = 'k', long = "k8s", conflicts_with = "k8sevents")]
    pub k8s: bool,
    /// use k8s event fields in output
    #[arg(short = 'K', long = "k8sevents")]
    pub k8sevents: bool,
    /// add all available fields to output
    #[arg(short = 'A', long = "allfields")]
    pub allfields: bool,
    /// s3 server address from where to read sysflows
    #[arg(short = 'e', long = "s3endpoint", value_name = "S3ENDPOINT")]
    pub s3endpoint: Option<String>,
    /// s3 server port
    #[arg(
        short = 'p',
        long = "s3port",
        value_name = "S3PORT",
        default_value_t = 443
    )]
    pub s3port: u16,
    /// s3 access key
    #[arg(short = 'a', long = "s3accesskey", value_name = "S3ACCESSKEY")]
    pub s3accesskey: Option<String>,
    /// s3 secret key
    #[arg(short = 's', long = "s3secretkey", value_name = "S3SECRETKEY")]
    pub s3secretkey: Option<String>,
    /// indicates if SSL connection
    #[arg(
        long = "secure",
        value_name = "SECURE",
        num_args = 0..=1,
        default_value = "true",
        default_missing_value = "true",
        value_parser = parse_bool
    )]
    pub secure: bool,
    /// print version information
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// threads (not a reference flag; default: $SYSPRINT_THREADS, else one per CPU): 2 or more decode local traces
    /// on a thread of their own, 3 or more also format on N-2 worker threads; 1 does everything on one thread
    #[arg(long = "threads", value_name = "N", hide = true)]
    pub threads: Option<usize>,
}

/// The reference's `str2bool`: yes/true/t/y/1 and no/false/f/n/0, any case.
fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_lowercase().as_str() {
        "yes" | "true" | "t" | "y" | "1" => Ok(true),
        "no" | "false" | "f" | "n" | "0" => Ok(false),
        _ => Err("Boolean value expected.".into()),
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStatus {
    /// Traces opened.
    pub traces: u64,
    /// Records printed.
    pub records: u64,
    /// Errors reported on stderr (unreadable files, damaged data, missing paths).
    pub errors: u64,
    /// Whether output stopped early because the reader of stdout went away (a quiet, successful end).
    pub broken_pipe: bool,
}

impl RunStatus {
    /// 0 when nothing failed (or stdout was closed by its reader), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 && !self.broken_pipe {
            1
        } else {
            0
        }
    }
}

/// The environment of a run: where output goes and how wide the terminal is.
pub struct RunEnv<'a> {
    /// Standard output.
    pub stdout: &'a mut dyn Write,
    /// Standard error (error messages).
    pub stderr: &'a mut dyn Write,
    /// Terminal width for text tables.
    pub term_cols: usize,
}

/// The reference's terminal width: the first of fds 0, 1, 2 that is a terminal, else 80 columns.
pub fn terminal_columns() -> usize {
    for fd in 0..3 {
        // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we pass; an fd that is not a terminal (or not
        // open) makes the call fail with an error code and leaves the struct alone.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: see above; `ws` is a valid, writable `winsize`.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        if rc == 0 {
            return ws.ws_col as usize;
        }
    }
    80
}

/// The `sysprint` program: parses `args` (`argv[0]` first; help, version and usage errors exit through clap),
/// prints, and returns the exit status (see [`exit_status`]). The `sysprint` binary is this alone, so that it
/// starts without loading what the other tools need.
pub fn main_with(args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    let args = match SysprintArgs::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    exit_status(run(&args).map(|s| std::process::ExitCode::from(s.exit_code())))
}

/// The exit status of a tool's outcome, as every `sysflow` tool reports it: an error is printed on stderr (`error:`
/// and its chain of causes) with status 2, except a closed output pipe (`... | head`), which ends the run quietly.
pub fn exit_status(result: Result<std::process::ExitCode>) -> std::process::ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            let closed_pipe = e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            });
            if closed_pipe {
                return std::process::ExitCode::SUCCESS;
            }
            let _ = writeln!(io::stderr(), "error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs `sysprint` with the process's stdout, stderr and terminal.
pub fn run(args: &SysprintArgs) -> Result<RunStatus> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut err = io::stderr();
    let mut env = RunEnv {
        stdout: &mut out,
        stderr: &mut err,
        term_cols: terminal_columns(),
    };
    let status = run_with(args, &mut env)?;
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(RunStatus {
            broken_pipe: true,
            ..status
        }),
        r => r.map(|_| status).context("cannot write to standard output"),
    }
}

/// Runs `sysprint` against explicit output streams.
pub fn run_with(args: &SysprintArgs, env: &mut RunEnv<'_>) -> Result<RunStatus> {
    if args.version {
        writeln!(
            env.stdout,
            "{} (sysflow-rs sysprint; output of sysflow-tools 0.6.1)",
            env!("CARGO_PKG_VERSION")
        )?;
        return Ok(RunStatus::default());
    }
    if args.list {
        env.stdout.write_all(list_text().as_bytes())?;
        return Ok(RunStatus::default());
    }
    let mut filter = match args.filter.as_deref() {
        Some(expr) => Some(
            Query::compile(expr).map_err(|e| anyhow!("invalid filter expression {expr:?}: {e}"))?,
        ),
        None => None,
    };
    let s3 = match args.input {
        Input::S3 => Some(
            SysprintS3Args {
                s3endpoint: args.s3endpoint.clone(),
                s3port: args.s3port,
                s3accesskey: args.s3accesskey.clone(),
                s3secretkey: args.s3secretkey.clone(),
                secure: args.secure,
                cacert: None,
            }
            .to_config()?,
        ),
        Input::Local => None,
    };
    let fields = args
        .fields
        .as_deref()
        .filter(|f| !f.is_empty())
        .map(|f| f.split(',').map(str::to_string).collect());
    let to_file = args.file.is_some() && args.output != OutputMode::Str;
    let opts = PrintOptions {
        mode: args.output,
        fields,
        all_fields: args.allfields,
        k8s: args.k8s,
        k8s_events: args.k8sevents,
        json_array: to_file,
        term_cols: env.term_cols,
    };
    let mut status = RunStatus::default();
    let (read_ahead, workers) = plan_threads(
        requested_threads(args.threads),
        s3.is_some(),
        args.output == OutputMode::Str,
        || local_input_bytes(&args.paths),
    );
    match (&args.file, to_file) {
        (Some(path), true) => {
            let f = fs::File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?;
            let mut ctx = Ctx {
                filter: &mut filter,
                stderr: env.stderr,
                status: &mut status,
            };
            let out = io::BufWriter::with_capacity(1 << 16, f);
            print_with_threads(opts, out, workers, |sink| {
                print_paths(args, s3.as_ref(), read_ahead, sink, &mut ctx)
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
        }
        _ => {
            let mut ctx = Ctx {
                filter: &mut filter,
                stderr: env.stderr,
                status: &mut status,
            };
            match print_with_threads(opts, &mut *env.stdout, workers, |sink| {
                print_paths(args, s3.as_ref(), read_ahead, sink, &mut ctx)
            }) {
                Ok(_) => {}
                Err(e)
                    if e.downcast_ref::<io::Error>()
                        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
                {
                    status.broken_pipe = true
                }
                Err(e) => return Err(e).context("cannot write to standard output"),
            }
        }
    }
    Ok(status)
}

/// What the per-trace loop updates.
struct Ctx<'a> {
    filter: &'a mut Option<Query>,
    stderr: &'a mut dyn Write,
    status: &'a mut RunStatus,
}

impl Ctx<'_> {
    fn report(&mut self, msg: impl std::fmt::Display) {
        self.status.errors += 1;
        let _ = writeln!(self.stderr, "sysprint: {msg}");
    }
}

/// Prints every trace of every path (local files and directories, or S3 buckets). Only output errors are
/// returned; input errors are reported and counted.
fn print_paths(
    args: &SysprintArgs,
    s3: Option<&S3Config>,
    read_ahead: bool,
    printer: &mut dyn RecordSink,
    ctx: &mut Ctx<'_>,
) -> io::Result<()> {
    for path in &args.paths {
        if let Some(cfg) = s3 {
            print_bucket(cfg, &path.to_string_lossy(), printer, ctx)?;
            continue;
        }
        let traces = match expand_path(path) {
            Ok(t) => t,
            Err(e) => {
                ctx.report(format_args!("{e:#}"));
                continue;
            }
        };
        for trace in traces {
            match FlatReader::open(&trace) {
                Ok(r) if read_ahead => print_trace(r.read_ahead(), printer, ctx)?,
                Ok(r) => print_trace(r, printer, ctx)?,
                Err(e) => ctx.report(e),
            }
        }
    }
    Ok(())
}

/// Total size of the trace files under `paths` (unreadable paths count as nothing; they are reported when printed).
fn local_input_bytes(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .filter_map(|p| expand_path(p).ok())
        .flatten()
        .filter_map(|t| fs::metadata(t).ok())
        .map(|m| m.len())
        .sum()
}

/// How `sysprint` uses its threads: whether local traces are decoded and linked on a thread of their own, and how
/// many formatting workers run besides (none: the calling thread formats).
///
/// An explicit number N of threads: N >= 2 reads on a thread of its own, N >= 3 adds N-2 formatting workers
/// (the calling thread hands records over). The default, one thread per CPU: the reading thread
/// whenever there are two CPUs or more; formatting workers only for inputs of 8 MiB or more (below, starting them
/// costs more than they bring): N-2 of them, or one per CPU in text mode, whose formatting is the heaviest. S3
/// input is read on the calling thread, with all other threads formatting.
fn plan_threads(
    requested: Option<usize>,
    s3: bool,
    text: bool,
    input_bytes: impl FnOnce() -> u64,
) -> (bool, usize) {
    let n = requested.unwrap_or_else(cpus);
    if s3 {
        return (false, n - 1);
    }
    let workers = match requested {
        Some(_) if n >= 3 => n - 2,
        Some(_) => 0,
        None if n < 2 || input_bytes() < PARALLEL_MIN_BYTES => 0,
        None if text => n,
        None => n.saturating_sub(2),
    };
    (n >= 2, workers)
}

/// Prints every object of an S3 bucket (or `bucket/prefix`), streamed, in key order like the reference's listing.
fn print_bucket(
    cfg: &S3Config,
    location: &str,
    printer: &mut dyn RecordSink,
    ctx: &mut Ctx<'_>,
) -> io::Result<()> {
    let src = match S3Source::open(cfg, location) {
        Ok(s) => s.with_order(ObjectOrder::Lexicographic),
        Err(e) => {
            ctx.report(format_args!("s3://{location}: {e:#}"));
            return Ok(());
        }
    };
    match src.bucket_exists() {
        Ok(true) => {}
        Ok(false) => {
            ctx.report(format_args!("Bucket {location} does not exist."));
            return Ok(());
        }
        Err(e) => {
            ctx.report(format_args!("s3://{location}: {e:#}"));
            return Ok(());
        }
    }
    let objects = match src.list() {
        Ok(o) => o,
        Err(e) => {
            ctx.report(format_args!("s3://{location}: {e:#}"));
            return Ok(());
        }
    };
    for obj in objects {
        let name = format!("s3://{}/{}", obj.bucket, obj.key);
        let reader = match src.reader(&obj) {
            Ok(r) => r,
            Err(e) => {
                ctx.report(format_args!("{e:#}"));
                continue;
            }
        };
        match TraceReader::new(reader) {
            Ok(tr) => print_trace(FlatReader::new(tr.with_path(&name)), printer, ctx)?,
            Err(e) => ctx.report(format_args!("{name}: {e}")),
        }
    }
    Ok(())
}

/// How many records ahead the printer is told of a process (enough for two fetches from memory, one after the
/// other, to complete while the records before it are printed; see [`Printer::upcoming_process`]).
const PREFETCH_DISTANCE: usize = 12;

/// Prints the records of one trace; read errors are reported and the reader goes on after them.
fn print_trace<R: Read>(
    mut reader: FlatReader<R>,
    printer: &mut dyn RecordSink,
    ctx: &mut Ctx<'_>,
) -> io::Result<()> {
    ctx.status.traces += 1;
    if let Some(q) = ctx.filter.as_mut() {
        // The reference builds a new interpreter (and process tree) for every trace.
        q.reset();
    }
    printer.begin_trace()?;
    // Records are linked by reference (no reference counts touched); parallel sinks copy what they keep.
    loop {
        // The rendered sections of a process a few records on are fetched into the cache meanwhile.
        printer.upcoming_process(reader.upcoming_process_slot(PREFETCH_DISTANCE));
        let Some(rec) = reader.next_linked() else {
            break;
        };
        match rec {
            Ok(rec) => {
                if ctx.filter.as_mut().is_some_and(|q| !q.matches_linked(&rec)) {
                    continue;
                }
                printer.write_linked(&rec)?;
                ctx.status.records += 1;
            }
            Err(e) => ctx.report(e),
        }
    }
    printer.end_trace()
}

/// The traces a path stands for: the file itself, or the regular files of a directory in the reference's order
/// (see [`sort_traces`]).
pub fn expand_path(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(path).map_err(|e| {
        anyhow!(
            "{}: {e} (existing file or directory expected)",
            path.display()
        )
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !meta.is_dir() {
        bail!("{}: not a regular file or directory", path.display());
    }
    let mut files = Vec::new();
    for entry in
        fs::read_dir(path).with_context(|| format!("cannot list directory {}", path.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list directory {}", path.display()))?;
        let p = path.join(entry.file_name());
        if fs::metadata(&p).is_ok_and(|m| m.is_file()) {
            files.push(p);
        }
    }
    sort_traces(&mut files);
    Ok(files)
}

/// Sorts the files of a directory like the reference: by the integer made of all the ASCII digits of the whole
/// path. Ties are ordered by path. Paths without any digit (on which the reference crashes) come first, by path,
/// as the exporter's S3 listing order does.
pub fn sort_traces(files: &mut [PathBuf]) {
    let key = |p: &PathBuf| {
        let digits: String = p
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let has = !digits.is_empty();
        let trimmed = digits.trim_start_matches('0').to_string();
        (has, trimmed.len(), trimmed, p.clone())
    };
    files.sort_by_cached_key(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SysprintArgs, clap::Error> {
        SysprintArgs::try_parse_from(std::iter::once("sysprint").chain(args.iter().copied()))
    }

    #[test]
    fn flags_parse_like_the_reference() {
        let a = parse(&["-o", "json", "-c", "ts,type", "-A", "-k", "t.sf", "u.sf"])
            .map_err(|e| e.to_string());
        let a = a.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.output, OutputMode::Json);
        assert_eq!(a.fields.as_deref(), Some("ts,type"));
        assert!(a.allfields && a.k8s && !a.k8sevents);
        assert_eq!(a.paths.len(), 2);
        assert_eq!(a.s3port, 443);
        assert!(a.secure);
        assert_eq!(a.input, Input::Local);
    }

    #[test]
    fn secure_takes_an_optional_bool() {
        let get = |v: &[&str]| parse(v).map(|a| a.secure).map_err(|e| e.to_string());
        assert_eq!(get(&["--secure", "no", "x"]), Ok(false));
        assert_eq!(get(&["x", "--secure"]), Ok(true));
        assert_eq!(get(&["--secure", "T", "x"]), Ok(true));
        assert!(get(&["--secure", "maybe", "x"]).is_err());
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&["-k", "-K", "x"]).is_err());
        assert!(parse(&["-o", "csv", "x"]).is_err());
        assert!(parse(&["-o", "csv", "-w", "out.csv", "x"]).is_ok());
        assert!(parse(&["-o", "xml", "x"]).is_err());
        assert!(parse(&["-i", "ftp", "x"]).is_err());
        assert!(parse(&[]).is_err());
        assert!(parse(&["-l"]).is_ok());
        assert!(parse(&["-v"]).is_ok());
        assert!(
            parse(&["-i", "s3", "-e", "host", "-p", "9000", "-a", "k", "-s", "s", "bucket"])
                .is_ok()
        );
    }

    #[test]
    fn directory_order_follows_the_digits() {
        let mut v: Vec<PathBuf> = ["d/mon.20", "d/mon.3", "d/readme", "d/mon.0100", "d/a"]
            .iter()
            .map(PathBuf::from)
            .collect();
        sort_traces(&mut v);
        let names: Vec<String> = v.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            ["d/a", "d/readme", "d/mon.3", "d/mon.20", "d/mon.0100"]
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(RunStatus::default().exit_code(), 0);
        assert_eq!(
            RunStatus {
                errors: 1,
                ..Default::default()
            }
            .exit_code(),
            1
        );
        assert_eq!(
            RunStatus {
                errors: 1,
                broken_pipe: true,
                ..Default::default()
            }
            .exit_code(),
            0
        );
    }
}
