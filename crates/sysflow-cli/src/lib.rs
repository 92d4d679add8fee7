//! The `sysflow` command line: a thin layer that parses arguments and hands them to the library crates.
//!
//! One binary, several names: `sysflow <subcommand>`, and the reference tool names `sysprint`, `sysporter` and
//! `sfprocessor` (chosen from `argv[0]`, or with the dedicated thin binaries) with the reference's flags.
#![warn(missing_docs)]

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

pub mod run;
use clap::{Parser, Subcommand};

/// The tools this binary can act as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `sysflow` with subcommands.
    Sysflow,
    /// The reference `sysprint`.
    Sysprint,
    /// The reference `sfprocessor` (Go-style single-dash flags).
    Sfprocessor,
    /// The reference `sysporter` (the collector).
    Sysporter,
}

impl Tool {
    /// The tool `argv[0]` names (`sysflow` for anything unknown).
    pub fn from_argv0(argv0: &OsString) -> Tool {
        let name = Path::new(argv0)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sysflow");
        match name {
            "sysprint" => Tool::Sysprint,
            "sfprocessor" => Tool::Sfprocessor,
            "sysporter" => Tool::Sysporter,
            _ => Tool::Sysflow,
        }
    }
}

/// `sysflow`: SysFlow telemetry — capture, process, export and print system-call flows.
#[derive(Debug, Parser)]
#[command(name = "sysflow", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print traces as a table, JSON, flat JSON or CSV (the reference `sysprint`, same flags).
    Print(sysflow_print::SysprintArgs),
    /// Run a processing pipeline (`pipeline.json`): policy engines and exporters (the reference `sfprocessor`,
    /// same Go-style flags: `sysflow process -config pipeline.json -driver file trace.sf`).
    Process(sysflow_processor::cli::ProcessArgs),
    /// Ship finished trace files from the collector's directory to an S3-compatible object store (the reference
    /// `sf-exporter`).
    Export(Box<sysflow_export::ExportArgs>),
    /// Capture the host live with eBPF into rotated trace files and/or the processor's socket (the reference
    /// `sysporter`, same flags).
    Collect(Box<sysflow_collector::CollectArgs>),
    /// The whole pipeline in one process: live capture, policy engine with the default (or given) policies, alerts
    /// on the terminal, traces rotated under a local directory.
    Run(run::RunArgs),
    /// Write a realistic synthetic trace (for demos, tests and benchmarks).
    Generate(GenerateArgs),
    /// Read traces and count their records by type (decode only, or through the flattened reader).
    Stats(StatsArgs),
}

/// Arguments of `sysflow generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output trace file.
    #[arg(short = 'w', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Number of records.
    #[arg(short = 'n', long = "records", default_value_t = 10_000)]
    pub records: u64,
    /// Random seed (the same seed gives the same trace).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Block codec: null, deflate, snappy or zstd.
    #[arg(long, default_value = "deflate")]
    pub codec: String,
}

/// Arguments of `sysflow stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Trace files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Link events and flows to their entities, as the printers do, and count linked records.
    #[arg(long)]
    pub flatten: bool,
}

/// Runs the binary with `args` (`argv[0]` first), choosing the tool from `argv[0]`.
pub fn main_from(args: Vec<OsString>) -> ExitCode {
    let tool = args.first().map(Tool::from_argv0).unwrap_or(Tool::Sysflow);
    main_as(tool, args)
}

/// Runs the binary as `tool` with `args` (`argv[0]` first).
pub fn main_as(tool: Tool, args: Vec<OsString>) -> ExitCode {
    let result = match tool {
        Tool::Sysprint => return sysflow_print::main_with(args),
        Tool::Sysporter => SysporterCli::try_parse_from(&args)
            .map_err(exit_clap)
            .and_then(|c| collect(c.args)),
        Tool::Sfprocessor => sysflow_processor::cli::ProcessArgs::try_parse_go_style(&args)
            .map_err(exit_clap)
            .and_then(process),
        // `sysflow process` takes the reference's Go-style flags (`-config`), which clap alone would not accept.
        Tool::Sysflow if args.get(1).is_some_and(|a| a == "process") => {
            let mut sub: Vec<OsString> = vec!["sysflow process".into()];
            sub.extend(args.iter().skip(2).cloned());
            sysflow_processor::cli::ProcessArgs::try_parse_go_style(sub)
                .map_err(exit_clap)
                .and_then(process)
        }
        Tool::Sysflow => Cli::try_parse_from(&args)
            .map_err(exit_clap)
            .and_then(|cli| dispatch(cli.command)),
    };
    sysflow_print::exit_status(result)
}

/// Prints clap's message (help, version or a usage error) and exits with its status.
fn exit_clap(e: clap::Error) -> anyhow::Error {
    e.exit()
}

fn dispatch(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Print(a) => print(&a),
        Command::Process(a) => process(a),
        Command::Collect(a) => collect(*a),
        Command::Run(a) => run::run(a),
        Command::Export(a) => {
            sysflow_export::run(*a)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(a) => generate(&a),
        Command::Stats(a) => stats(&a),
    }
}

fn print(args: &sysflow_print::SysprintArgs) -> Result<ExitCode> {
    let status = sysflow_print::run(args)?;
    Ok(ExitCode::from(status.exit_code()))
}

/// `sysporter`: the collector's flags at the top level.
#[derive(Debug, Parser)]
#[command(
    name = "sysporter",
    about = "SysFlow collector: live capture with CO-RE eBPF"
)]
struct SysporterCli {
    #[command(flatten)]
    args: sysflow_collector::CollectArgs,
}

fn collect(args: sysflow_collector::CollectArgs) -> Result<ExitCode> {
    sysflow_collector::run(args)?;
    Ok(ExitCode::SUCCESS)
}

fn process(args: sysflow_processor::cli::ProcessArgs) -> Result<ExitCode> {
    sysflow_processor::run(args)?;
    Ok(ExitCode::SUCCESS)
}

fn generate(a: &GenerateArgs) -> Result<ExitCode> {
    let codec = sysflow_format::Codec::from_name(&a.codec)
        .with_context(|| format!("--codec {}", a.codec))?;
    let file = std::fs::File::create(&a.file)
        .with_context(|| format!("cannot create {}", a.file.display()))?;
    let opts = sysflow_format::WriterOptions {
        codec,
        ..Default::default()
    };
    let mut w = sysflow_format::TraceWriter::new(std::io::BufWriter::new(file), opts)
        .with_context(|| format!("cannot write {}", a.file.display()))?;
    let progress = Progress::new("generate", a.records);
    for (i, r) in sysflow_gen::Generator::new(a.seed)
        .take(a.records as usize)
        .enumerate()
    {
        w.write(&r)
            .with_context(|| format!("cannot write {}", a.file.display()))?;
        progress.tick(i as u64 + 1);
    }
    w.finish()
        .with_context(|| format!("cannot write {}", a.file.display()))?;
    progress.done(a.records);
    Ok(ExitCode::SUCCESS)
}

fn stats(a: &StatsArgs) -> Result<ExitCode> {
    use std::collections::BTreeMap;
    let mut failed = false;
    let out = std::io::stdout();
    let mut out = out.lock();
    for path in &a.paths {
        let start = std::time::Instant::now();
        let mut counts: BTreeMap<sysflow_format::RecordKind, u64> = BTreeMap::new();
        let mut linked = 0u64;
        let mut total = 0u64;
        let mut note = |e: sysflow_format::Error| {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            failed = true;
        };
        if a.flatten {
            match sysflow_format::FlatReader::open(path) {
                Err(e) => note(e),
                Ok(r) => {
                    for rec in r {
                        match rec {
                            Ok(f) => {
                                *counts.entry(f.kind()).or_default() += 1;
                                linked += u64::from(f.process.is_some());
                                total += 1;
                            }
                            Err(e) => note(e),
                        }
                    }
                }
            }
        } else {
            match sysflow_format::TraceReader::open(path) {
                Err(e) => note(e),
                Ok(r) => {
                    for rec in r {
                        match rec {
                            Ok(rec) => {
                                *counts.entry(rec.kind()).or_default() += 1;
                                total += 1;
                            }
                            Err(e) => note(e),
                        }
                    }
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let hist: Vec<String> = counts
            .iter()
            .map(|(k, n)| format!("{}={n}", k.code()))
            .collect();
        write!(
            out,
            "{}: {total} records ({}) in {secs:.3}s, {:.0} records/s",
            path.display(),
            hist.join(" "),
            total as f64 / secs.max(1e-9)
        )?;
        if a.flatten {
            write!(out, ", {linked} linked to a process")?;
        }
        writeln!(out)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A periodic progress line on stderr for long work (every ~2 s, only when stderr is a terminal or
/// `SYSFLOW_PROGRESS=1`).
struct Progress {
    what: &'static str,
    total: u64,
    start: std::time::Instant,
    last: std::cell::Cell<std::time::Instant>,
    enabled: bool,
}

impl Progress {
    fn new(what: &'static str, total: u64) -> Self {
        use std::io::IsTerminal;
        let now = std::time::Instant::now();
        Progress {
            what,
            total,
            start: now,
            last: std::cell::Cell::new(now),
            enabled: std::io::stderr().is_terminal()
                || std::env::var_os("SYSFLOW_PROGRESS").is_some(),
        }
    }

    fn tick(&self, done: u64) {
        if !self.enabled || done % 65_536 != 0 {
            return;
        }
        let now = std::time::Instant::now();
        if now.duration_since(self.last.get()).as_secs_f64() < 2.0 {
            return;
        }
        self.last.set(now);
        let rate = done as f64 / now.duration_since(self.start).as_secs_f64();
        let _ = writeln!(
            std::io::stderr(),
            "{}: {done}/{} records ({:.0}%), {rate:.0} records/s",
            self.what,
            self.total,
            100.0 * done as f64 / self.total.max(1) as f64
        );
    }

    fn done(&self, n: u64) {
        let secs = self.start.elapsed().as_secs_f64();
        let _ = writeln!(
            std::io::stderr(),
            "{}: {n} records in {secs:.2}s",
            self.what
        );
    }
}
