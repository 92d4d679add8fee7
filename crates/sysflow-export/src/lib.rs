//! SysFlow exporter: ships the collector's finished trace files to an S3-compatible object store,
//! and reads traces back from a bucket.
//!
//! * [`ExportArgs`] — the `sysflow export` options (sf-exporter 0.6.0 flags and environment
//!   variables); [`run`] runs the exporter until SIGINT/SIGTERM.
//! * [`Exporter`] — the export loop as a library ([`ExportConfig`], [`Exporter::run_until`]).
//! * [`S3Source`] — lists `bucket[/prefix]` in the reference's order and streams each object
//!   (`impl Read`) for `sysflow_format`'s reader; [`SysprintS3Args`] holds sysprint's `-e/-p/-a/-s/--secure`.
//!
//! When a file counts as finished is described in [`scan`]; object names in [`naming::object_key`].
//! See the crate README for the failure model (zero loss, retries, retention).

pub mod args;
pub mod exporter;
pub mod naming;
pub mod scan;
pub mod source;
pub mod store;
pub mod upload;

pub use args::{str2bool, ExportArgs, SysprintS3Args};
pub use exporter::{ExportConfig, ExportStats, Exporter, Target};
pub use naming::{object_key, NodeMetadata};
pub use scan::FinishPolicy;
pub use source::{ObjectOrder, S3Object, S3ObjectReader, S3Source};
pub use store::{Credentials, S3Config, Secret};
pub use upload::UploadOptions;

use anyhow::{Context, Result};

/// Maps the reference's Python log level names onto a `tracing` filter directive.
fn log_filter(level: &str) -> String {
    match level.to_ascii_uppercase().as_str() {
        "CRITICAL" | "FATAL" | "ERROR" => "error",
        "WARNING" | "WARN" => "warn",
        "DEBUG" => "debug",
        "TRACE" => "trace",
        "INFO" => "info",
        _ => return level.to_string(),
    }
    .to_string()
}

/// Runs `sysflow export` until SIGINT or SIGTERM: logs the configuration (never the keys), runs the
/// reference's health check (logged; unlike the reference a failed check does not exit — the exporter
/// keeps the traces and retries), then scans and uploads.
pub fn run(args: ExportArgs) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(&args.log))
        .with_context(|| format!("invalid --log level '{}'", args.log))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let cfg = args.to_config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let exporter = Exporter::new(cfg.clone())?;
        for t in &cfg.targets {
            tracing::info!(host = %cfg.s3.endpoint_url(), bucket = %t.bucket, dir = %t.dir.display(),
                scaninterval_s = cfg.scan_interval.as_secs_f64(), credentials = cfg.s3.credentials.is_some(),
                "Running monitor task.");
        }
        let healthy = exporter.health_check().await;
        tracing::info!("Health checks: {}", if healthy { "passed" } else { "failed" });
        let stats = exporter.run_until(shutdown_signal()).await;
        tracing::debug!(?stats, "Final counters.");
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot install SIGTERM handler.");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
