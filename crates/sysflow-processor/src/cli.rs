//! Command line of `sfprocessor` / `sysflow process`.
//!
//! The reference binary uses Go's `flag` package, so its flags are single-dash long names (`-config pipeline.json`,
//! `-driver=socket`, `-test`). [`ProcessArgs::parse_from_go_style`] rewrites such arguments to clap's `--name` form
//! before parsing, so both spellings work.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// Every long flag name, used to normalise Go-style single-dash arguments.
const LONG_FLAGS: &[&str] = &[
    "config",
    "driver",
    "driverdir",
    "plugdir",
    "log",
    "perflog",
    "perfinterval",
    "rulestats",
    "follow",
    "compat",
    "test",
    "version",
    "help",
];

/// Arguments of the processor (the reference's `sfprocessor` flags plus a few additions).
#[derive(Debug, Clone, Parser, PartialEq, Eq)]
#[command(
    name = "sfprocessor",
    about = "SysFlow processor: reads SysFlow, evaluates policies, exports alerts or enriched records",
    disable_version_flag = true
)]
pub struct ProcessArgs {
    /// Pipeline configuration file (JSON).
    #[arg(long, default_value = "pipeline.json", value_name = "FILE")]
    pub config: PathBuf,

    /// Input driver: `file` (a trace file or a directory of traces) or `socket` (unix SEQPACKET stream). Empty: the
    /// config's `drivers` section.
    #[arg(long, default_value = "", value_name = "NAME")]
    pub driver: String,

    /// Directory of dynamic driver plugins (accepted for compatibility; dynamic plugins are not supported).
    #[arg(long, value_name = "DIR")]
    pub driverdir: Option<PathBuf>,

    /// Directory of dynamic processor plugins (accepted for compatibility; dynamic plugins are not supported).
    #[arg(long, value_name = "DIR")]
    pub plugdir: Option<PathBuf>,

    /// Log level: `trace`, `info`, `warn`, `error`, `health` or `quiet`.
    #[arg(long, default_value = "info", value_parser = parse_log_level, value_name = "LEVEL")]
    pub log: String,

    /// Print stage rates (records/s of every stage) periodically, and the per-rule cost report at exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = parse_go_bool, value_name = "BOOL")]
    pub perflog: bool,

    /// Seconds between two `-perflog` reports (the reference uses 15).
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub perfinterval: u64,

    /// Print the per-rule report (matches and evaluation cost of every rule) at exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = parse_go_bool, value_name = "BOOL")]
    pub rulestats: bool,

    /// File driver on a directory: after the existing files, keep watching the directory and process files that
    /// appear later (until SIGINT/SIGTERM).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = parse_go_bool, value_name = "BOOL")]
    pub follow: bool,

    /// Field semantics: `fixed` (the reference's field bugs corrected, default) or `reference` (bug-compatible with
    /// sf-processor 0.7.0: Falco aliases, doubled flow counters, ...; see the policy crate's README).
    #[arg(long, default_value = "fixed", value_parser = ["fixed", "reference"], value_name = "MODE")]
    pub compat: String,

    /// Validate the configuration and its policies, then exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = parse_go_bool, value_name = "BOOL")]
    pub test: bool,

    /// Print the version and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = parse_go_bool, value_name = "BOOL")]
    pub version: bool,

    /// Input path: trace file or directory (file driver), socket path (socket driver).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
}

impl ProcessArgs {
    /// Parses arguments (the first one is the program name), accepting Go-style single-dash long flags.
    pub fn try_parse_go_style<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        ProcessArgs::try_parse_from(normalize_go_flags(args))
    }

    /// Like [`try_parse_go_style`](Self::try_parse_go_style), but prints the error or help and exits the process.
    pub fn parse_from_go_style<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        ProcessArgs::parse_from(normalize_go_flags(args))
    }
}

/// Rewrites `-name`, `-name=value` for known long flags to `--name`, `--name=value`. Stops at `--`. Other arguments
/// are kept as they are.
pub fn normalize_go_flags<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut rest = false;
    for (i, arg) in args.into_iter().enumerate() {
        let arg: OsString = arg.into();
        if i == 0 || rest {
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        if let Some(body) = s.strip_prefix('-').filter(|b| !b.starts_with('-')) {
            let name = body.split('=').next().unwrap_or(body);
            if name == "h" || LONG_FLAGS.contains(&name) {
                out.push(OsString::from(format!(
                    "--{}",
                    if name == "h" { "help" } else { body }
                )));
                continue;
            }
        }
        out.push(arg);
    }
    out
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {s:?}")),
    }
}

fn parse_log_level(s: &str) -> Result<String, String> {
    match s {
        "trace" | "info" | "warn" | "error" | "health" | "quiet" => Ok(s.to_string()),
        _ => Err(format!(
            "unknown log level {s:?} (expected trace, info, warn, error, health or quiet)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ProcessArgs, clap::Error> {
        ProcessArgs::try_parse_go_style(std::iter::once("sfprocessor").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let a = parse(&["trace.sf"]).unwrap();
        assert_eq!(a.config, PathBuf::from("pipeline.json"));
        assert_eq!(a.driver, "");
        assert_eq!(a.log, "info");
        assert!(!a.perflog && !a.test && !a.version && !a.follow && !a.rulestats);
        assert_eq!(a.perfinterval, 15);
        assert_eq!(a.compat, "fixed");
        assert_eq!(a.path, Some(PathBuf::from("trace.sf")));
    }

    #[test]
    fn go_style_single_dash() {
        let a = parse(&[
            "-config",
            "p.json",
            "-driver=socket",
            "-log=quiet",
            "-perflog",
            "/sock/sysflow.sock",
        ])
        .unwrap();
        assert_eq!(a.config, PathBuf::from("p.json"));
        assert_eq!(a.driver, "socket");
        assert_eq!(a.log, "quiet");
        assert!(a.perflog);
        assert_eq!(a.path, Some(PathBuf::from("/sock/sysflow.sock")));
    }

    #[test]
    fn double_dash_and_bool_values() {
        let a = parse(&["--config=x.json", "--test", "-version=false", "-perflog=1"]).unwrap();
        assert_eq!(a.config, PathBuf::from("x.json"));
        assert!(a.test);
        assert!(!a.version);
        assert!(a.perflog);
        assert_eq!(a.path, None);
    }

    #[test]
    fn bool_flag_does_not_eat_the_path() {
        let a = parse(&["-perflog", "-driver", "file", "dir/"]).unwrap();
        assert!(a.perflog);
        assert_eq!(a.path, Some(PathBuf::from("dir/")));
    }

    #[test]
    fn bool_flag_before_path() {
        let a = parse(&["-perflog", "trace.sf"]).unwrap();
        assert!(a.perflog);
        assert_eq!(a.path, Some(PathBuf::from("trace.sf")));
    }

    #[test]
    fn errors() {
        assert!(parse(&["-log", "verbose"]).is_err());
        assert!(parse(&["-test=maybe"]).is_err());
        assert!(parse(&["-compat", "buggy"]).is_err());
        assert!(parse(&["-nosuchflag"]).is_err());
        assert!(parse(&["a", "b"]).is_err());
    }

    #[test]
    fn dash_path_after_double_dash_is_kept() {
        let a = parse(&["--", "-config"]).unwrap();
        assert_eq!(a.path, Some(PathBuf::from("-config")));
    }
}
