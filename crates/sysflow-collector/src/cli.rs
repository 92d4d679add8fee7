//! `sysflow collect` / `sysporter`: the reference's flags and environment variables.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sysflow_format::Header;

use crate::config::{FileReadMode, Mode};
use crate::filter::Filter;
use crate::runner::{run_live, LiveOptions};
use crate::sink::{FileNaming, FileSink, MultiSink, RecordSink, SocketSink};

/// Version string printed by `-v`.
pub const VERSION_LINE: &str = concat!(
    " Version: ",
    env!("CARGO_PKG_VERSION"),
    " Avro Schema Version: 5"
);

/// Arguments of the live collector, with the reference's short flags and container environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct CollectArgs {
    /// Write Avro files: `dir/` gives `dir/<epoch>`, anything else `<path>.<epoch>` (one file per -G interval).
    #[arg(short = 'w', long = "output", env = "OUTPUT")]
    pub output: Option<String>,
    /// Stream to the processor's unix SOCK_SEQPACKET socket (one Avro datum per message).
    #[arg(short = 'u', long = "socket", env = "SOCK_FILE")]
    pub socket: Option<PathBuf>,
    /// Exporter id written in every header (default: the host name).
    #[arg(short = 'e', long = "exporter-id", env = "EXPORTER_ID")]
    pub exporter_id: Option<String>,
    /// Rotation interval in seconds (a new self-contained file or stream header every interval).
    #[arg(short = 'G', long = "interval", env = "INTERVAL", default_value_t = 300,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub interval: i64,
    /// Filter (subset of the sinsp filter language: container.*, proc.*, user.* fields).
    #[arg(short = 'f', long = "filter", env = "FILTER")]
    pub filter: Option<String>,
    /// Only activity of processes inside containers.
    #[arg(short = 'c', long = "containers-only")]
    pub containers_only: bool,
    /// Collection mode: flow, consume or nofiles.
    #[arg(short = 'm', long = "mode", env = "MODE", default_value = "flow")]
    pub mode: String,
    /// Offline scap input (not supported by this collector: use the scap converter).
    #[arg(short = 'r', long = "read")]
    pub read: Option<PathBuf>,
    /// Sampling ratio of the reference's driver drop mode (accepted for compatibility; this collector has no drop
    /// mode: it aggregates in the kernel instead).
    #[arg(short = 's', long = "sampling", env = "SAMPLING_RATE")]
    pub sampling: Option<u64>,
    /// Driver type (ebpf, ebpf-core, kmod): this collector always uses its CO-RE eBPF probes.
    #[arg(short = 'k', long = "driver", env = "DRIVER_TYPE")]
    pub driver: Option<String>,
    /// CRI socket path, asked first for container metadata (containerd's and CRI-O's default sockets are tried too).
    #[arg(short = 'p', long = "cri-path", env = "CRI_PATH")]
    pub cri_path: Option<PathBuf>,
    /// Timeout of one container-runtime query, in seconds (the reference's usage text says ms, its docs say s).
    #[arg(short = 't', long = "cri-timeout", env = "CRI_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cri_timeout: u64,
    /// Log drop and table counters every rotation interval (also `ENABLE_STATS=1` or `STATS` set).
    #[arg(short = 'd', long = "stats")]
    pub stats: bool,
    /// Parsed and ignored, as in the reference.
    #[arg(short = 'l', long = "log")]
    pub log: Option<String>,
    /// Print the version line and exit.
    #[arg(short = 'v', long = "print-version")]
    pub version: bool,
    /// `ENABLE_PROC_FLOW`: `1` aggregates thread clones/exits into ProcessFlows.
    #[arg(
        long = "proc-flow",
        env = "ENABLE_PROC_FLOW",
        default_value = "1",
        hide = true
    )]
    pub proc_flow: String,
    /// `FILE_ONLY`: `1` restricts file flows to regular files.
    #[arg(
        long = "file-only",
        env = "FILE_ONLY",
        default_value = "1",
        hide = true
    )]
    pub file_only: String,
    /// `FILE_READ_MODE`: 0 all reads, 1 no read-only flows, 2 no read-only flows under system dirs.
    #[arg(
        long = "file-read-mode",
        env = "FILE_READ_MODE",
        default_value = "2",
        hide = true
    )]
    pub file_read_mode: String,
    /// `NODE_IP`: the header's ip.
    #[arg(long = "node-ip", env = "NODE_IP", hide = true)]
    pub node_ip: Option<String>,
    /// `HOST_ROOT`: where the host's /proc and runtime sockets are mounted (e.g. `/host`).
    #[arg(long = "host-root", env = "HOST_ROOT", hide = true)]
    pub host_root: Option<PathBuf>,
    /// Ring buffer size in MiB (power of two).
    #[arg(long = "ring-mb", default_value_t = 8)]
    pub ring_mb: u32,
    /// Capacity of the kernel flow table.
    #[arg(long = "max-flows", default_value_t = 65536)]
    pub max_flows: u32,
    /// Capacity of the user-space process table.
    #[arg(long = "max-procs", default_value_t = 65536)]
    pub max_procs: usize,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl CollectArgs {
    /// Resolves the arguments into live options (everything but the sinks). Errors name the offending flag.
    pub fn to_options(&self) -> Result<LiveOptions> {
        if self.read.is_some() {
            bail!("-r: offline scap input is not supported by the live collector");
        }
        let mode = Mode::parse(&self.mode).with_context(|| {
            format!("-m: unknown mode {:?} (flow, consume, nofiles)", self.mode)
        })?;
        if let Some(k) = &self.driver {
            if !matches!(k.as_str(), "ebpf" | "ebpf-core" | "kmod") {
                bail!("-k: unknown driver type {k:?} (ebpf, ebpf-core, kmod)");
            }
        }
        if let Some(s) = self.sampling {
            if !(1..=1_000_000_000).contains(&s) {
                bail!("-s: sampling ratio must be between 1 and 1000000000");
            }
        }
        if !self.ring_mb.is_power_of_two() {
            bail!("--ring-mb must be a power of two");
        }
        let file_read_mode = match self.file_read_mode.as_str() {
            "0" => FileReadMode::All,
            "1" => FileReadMode::NoReadOnly,
            "2" => FileReadMode::NoReadOnlySystem,
            other => bail!("FILE_READ_MODE: expected 0, 1 or 2, got {other:?}"),
        };
        let filter = self
            .filter
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(Filter::parse)
            .transpose()?;
        let header = Header {
            version: 5,
            exporter: self.exporter_id.clone().unwrap_or_else(hostname),
            ip: self.node_ip.clone().unwrap_or_default(),
            filename: String::new(),
        };
        let mut o = LiveOptions::new(header);
        o.probe.mode = mode;
        o.probe.file_only = self.file_only == "1";
        o.probe.ring_bytes = self.ring_mb.saturating_mul(1 << 20);
        o.probe.max_flows = self.max_flows;
        o.probe.ignore_pid = std::process::id();
        o.collector.mode = mode;
        o.collector.proc_flow = self.proc_flow == "1";
        o.collector.file_only = self.file_only == "1";
        o.collector.file_read_mode = file_read_mode;
        o.collector.containers_only = self.containers_only;
        o.collector.host_root = self.host_root.clone().unwrap_or_default();
        o.collector.max_procs = self.max_procs;
        o.collector.cri_path = self.cri_path.clone();
        o.collector.cri_timeout_secs = self.cri_timeout;
        o.rotate_secs = self.interval;
        o.filter = filter;
        let stats = self.stats
            || env_flag("ENABLE_STATS")
            || std::env::var_os("STATS").is_some_and(|v| !v.is_empty());
        o.stats_every = Some(if stats {
            Duration::from_secs(self.interval as u64)
        } else {
            Duration::from_secs(300)
        });
        Ok(o)
    }

    /// The sinks of `-w` and `-u`.
    pub fn sink(&self) -> Result<Box<dyn RecordSink + Send>> {
        let mut sinks: Vec<Box<dyn RecordSink + Send>> = Vec::new();
        if let Some(w) = self.output.as_deref().filter(|w| !w.is_empty()) {
            sinks.push(Box::new(FileSink::new(FileNaming::new(w))));
        }
        if let Some(u) = self.socket.as_ref().filter(|u| !u.as_os_str().is_empty()) {
            sinks.push(Box::new(SocketSink::connect(u)?));
        }
        match sinks.len() {
            0 => bail!("an output is required: -w <file|dir/> and/or -u <socket>"),
            1 => Ok(sinks.remove(0)),
            _ => Ok(Box::new(MultiSink { sinks })),
        }
    }
}

impl RecordSink for Box<dyn RecordSink + Send> {
    fn begin(&mut self, base: &Header, now_secs: i64) -> Result<()> {
        (**self).begin(base, now_secs)
    }
    fn write(&mut self, rec: &sysflow_format::Record) -> Result<()> {
        (**self).write(rec)
    }
    fn needs_reset(&mut self) -> bool {
        (**self).needs_reset()
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM set the flag [`run`] polls.
fn install_signal_handlers() -> Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain old data; the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error())
                    .context("installing the signal handlers");
            }
        }
    }
    Ok(())
}

/// Runs the live collector until SIGINT/SIGTERM, then flushes every open flow (TRUNCATE) and exits.
pub fn run(args: CollectArgs) -> Result<()> {
    if args.version {
        eprintln!("{VERSION_LINE}");
        return Ok(());
    }
    if env_flag("ENABLE_DROP_MODE") {
        tracing::info!(
            "ENABLE_DROP_MODE is ignored: flows are aggregated in the kernel instead of sampling."
        );
    }
    let opts = args.to_options()?;
    let sink = args.sink()?;
    install_signal_handlers()?;
    let summary = run_live(opts, sink, &STOP, None)?;
    let k = summary.kernel;
    let drops: u64 = k[..4].iter().sum();
    if drops > 0 {
        tracing::warn!(
            drops,
            "Kernel-side losses occurred (see the counters above)."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: CollectArgs,
    }

    #[test]
    fn parses_reference_flags() {
        let t = T::try_parse_from([
            "x",
            "-w",
            "/tmp/out/",
            "-G",
            "30",
            "-e",
            "node1",
            "-m",
            "nofiles",
            "-c",
            "-f",
            "proc.name=sh",
        ])
        .expect("parses");
        assert_eq!(t.a.output.as_deref(), Some("/tmp/out/"));
        assert_eq!(t.a.interval, 30);
        let o = t.a.to_options().expect("valid");
        assert_eq!(o.probe.mode, Mode::NoFiles);
        assert_eq!(o.header.exporter, "node1");
        assert!(o.collector.containers_only);
        assert!(o.filter.is_some());
        assert!(T::try_parse_from(["x", "-G", "0"]).is_err());
        let bad = T::try_parse_from(["x", "-w", "f", "-m", "consumer"]).expect("parses");
        assert!(bad
            .a
            .to_options()
            .expect_err("bad mode")
            .to_string()
            .contains("consumer"));
    }

    #[test]
    fn output_is_required() {
        let t = T::try_parse_from(["x"]).expect("parses");
        assert!(t.a.sink().is_err());
    }
}
