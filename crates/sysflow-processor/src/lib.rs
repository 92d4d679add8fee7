//! The SysFlow processor runtime (`sfprocessor`, `sysflow process`).
//!
//! Reads SysFlow records from trace files or the collector's unix socket, links them to their entities
//! (flattener), evaluates policies on all cores (the `sysflow-policy` engine) and exports alerts or enriched
//! records as JSON or ECS to the terminal, a file or syslog. The pipeline is described by the reference's
//! `pipeline.json`.
//!
//! * [`cli::ProcessArgs`] + [`run`]: the command line (Go-style single-dash flags) and the whole program.
//! * [`config`]: `pipeline.json` parsing, environment overrides and validation (errors name `pipeline[i].key`).
//! * [`pipeline::Pipeline`]: compiles policies, opens outputs, then runs one thread per stage over bounded channels.
//! * [`driver`], [`reader`], [`runtime`], [`exporter`], [`encode`], [`transport`]: the stages.
//!
//! ```no_run
//! use sysflow_processor::{cli::ProcessArgs, run};
//! let args = ProcessArgs::try_parse_go_style(["sfprocessor", "-config", "pipeline.json", "-driver", "file", "trace.sf"])?;
//! run(args)?;
//! # Ok::<(), anyhow::Error>(())
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod driver;
pub mod encode;
pub mod event;
pub mod exporter;
pub mod limiter;
pub mod pipeline;
pub mod reader;
pub mod runtime;
pub mod stats;
pub mod transport;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tracing::{info, warn};

use crate::cli::ProcessArgs;
use crate::config::{DriverKind, PipelineConfig, RawPipeline};
use crate::driver::{Driver, FileDriver, SocketDriver};
use crate::pipeline::{Pipeline, RunOptions};

/// The `-version` line.
pub fn version_line() -> String {
    format!(
        "Version: {}, Avro Schema Version: 5, Export Schema Version: {} (JSON), {} (ECS)",
        env!("CARGO_PKG_VERSION"),
        encode::json::JSON_SCHEMA_VERSION,
        encode::ecs::ECS_VERSION
    )
}

/// Reads, overrides (from the process environment) and validates a configuration file.
pub fn load_config(path: &std::path::Path) -> Result<PipelineConfig> {
    let mut raw = RawPipeline::load(path)?;
    for (place, key, value) in raw.apply_env(std::env::vars()) {
        info!("Environment override: {place}.{key} = {value:?}");
    }
    let config = raw.validate()?;
    for w in &config.warnings {
        warn!("{w}");
    }
    Ok(config)
}

/// Chooses the driver: `-driver file|socket` with the positional path, else the config's `drivers` section, else
/// the file driver when a path is given.
pub fn select_driver(args: &ProcessArgs, config: &PipelineConfig) -> Result<Driver> {
    let path = |from_config: Option<&PathBuf>| -> Result<PathBuf> {
        args.path
            .clone()
            .or_else(|| from_config.cloned())
            .ok_or_else(|| {
                anyhow!("an input path is required (a trace file or directory, or a socket path)")
            })
    };
    let file = |p: PathBuf| {
        Driver::File(FileDriver {
            follow: args.follow,
            ..FileDriver::new(p)
        })
    };
    match args.driver.as_str() {
        "file" => Ok(file(path(None)?)),
        "socket" => Ok(Driver::Socket(SocketDriver::new(path(None)?))),
        "" => match config.drivers.as_slice() {
            [] => Ok(file(path(None)?)),
            [d] => Ok(match d.kind {
                DriverKind::File => file(path(d.path.as_ref())?),
                DriverKind::Socket => Driver::Socket(SocketDriver::new(path(d.path.as_ref())?)),
            }),
            _ => bail!(
                "{}: several drivers are configured; only one input driver is supported",
                config.file.display()
            ),
        },
        "otelfile" | "otelkafka" => bail!("driver {:?} is not yet supported", args.driver),
        other => bail!("unknown driver {other:?} (expected file or socket)"),
    }
}

fn init_logging(level: &str) {
    use tracing_subscriber::filter::LevelFilter;
    let filter = match level {
        "trace" => LevelFilter::TRACE,
        "info" => LevelFilter::INFO,
        "warn" => LevelFilter::WARN,
        "error" | "health" => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    };
    // A caller (the CLI crate, a test) may already have installed a subscriber; keep it then.
    let _ = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Runs the processor with parsed arguments: `-version`, `-test` (validate the config and compile its policies), or
/// the pipeline until its input ends or SIGINT/SIGTERM.
pub fn run(args: ProcessArgs) -> Result<()> {
    if args.version {
        println!("{}", version_line());
        return Ok(());
    }
    init_logging(&args.log);
    if args.driverdir.is_some() || args.plugdir.is_some() {
        warn!("-driverdir/-plugdir ignored: dynamic plugins are not supported");
    }
    let config = load_config(&args.config)?;
    let options = RunOptions {
        perflog: args.perflog,
        perf_interval: Duration::from_secs(args.perfinterval.max(1)),
        rule_stats: args.rulestats,
        compat: if args.compat == "reference" {
            sysflow_policy::Compat::Reference
        } else {
            sysflow_policy::Compat::Fixed
        },
    };
    if args.test {
        let engines = pipeline::compile_engines(&config, &options)?;
        let rules: usize = engines.iter().map(|e| e.rules().len()).sum();
        println!(
            "{}: configuration valid ({} policy engine(s), {rules} rule(s), {} exporter(s))",
            args.config.display(),
            engines.len(),
            config.exporters.len()
        );
        return Ok(());
    }
    let driver = select_driver(&args, &config)?;
    info!(driver = driver.name(), config = %args.config.display(), "Starting the pipeline.");
    let pipeline = Pipeline::build(config, options).context("cannot start the pipeline")?;
    let stop = Arc::new(AtomicBool::new(false));
    driver::install_signal_handlers(&stop)?;
    let report = pipeline.run(driver, stop)?;
    info!(
        read = report.read,
        flattened = report.flattened,
        limited = report.reader.limited,
        "Pipeline finished."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_names_the_schemas() {
        let v = version_line();
        assert!(v.starts_with("Version: "), "{v}");
        assert!(
            v.ends_with("Avro Schema Version: 5, Export Schema Version: 5 (JSON), 8.2 (ECS)"),
            "{v}"
        );
    }

    #[test]
    fn driver_selection() {
        let parse = |a: &[&str]| {
            cli::ProcessArgs::try_parse_go_style(
                std::iter::once("sfprocessor").chain(a.iter().copied()),
            )
            .unwrap()
        };
        let raw = RawPipeline::parse(
            std::path::Path::new("p.json"),
            r#"{"pipeline":[
              {"processor":"sysflowreader","handler":"flattener","in":"s sysflowchan","out":"f flattenerchan"},
              {"processor":"policyengine","in":"f flattenerchan","out":"e eventchan","mode":"enrich"},
              {"processor":"exporter","in":"e eventchan","export":"null"}],
              "drivers":[{"driver":"socket","path":"/tmp/x.sock"}]}"#,
        )
        .unwrap();
        let config = raw.validate().unwrap();
        assert!(
            matches!(select_driver(&parse(&[]), &config).unwrap(), Driver::Socket(s) if s.path == std::path::Path::new("/tmp/x.sock"))
        );
        assert!(matches!(
            select_driver(&parse(&["-driver", "file", "t.sf"]), &config).unwrap(),
            Driver::File(_)
        ));
        assert!(matches!(
            select_driver(&parse(&["-driver=socket", "/s"]), &config).unwrap(),
            Driver::Socket(_)
        ));
        assert!(
            select_driver(&parse(&["-driver", "file"]), &config).is_err(),
            "path required"
        );
        assert!(select_driver(&parse(&["-driver", "otelkafka", "x"]), &config).is_err());
    }
}
