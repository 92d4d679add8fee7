//! `pipeline.json`: reading, environment overrides and validation.
//!
//! Three steps, each pure (no file is opened except the config itself, no socket, no thread):
//!
//! 1. [`RawPipeline::parse`] reads the JSON into plugin entries whose values are strings, as the reference reads them
//!    (`conf[k].(string)`). Unlike the reference, numbers and booleans are accepted too and turned into their text.
//! 2. [`RawPipeline::apply_env`] applies `<PROCESSOR>_<KEY>` environment overrides (see [`RawPipeline::apply_env`]).
//! 3. [`RawPipeline::validate`] checks every key of every entry and the channel topology, collects **all** problems,
//!    and returns a typed [`PipelineConfig`]. Each problem names its place: `pipeline[1].policies: ...`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The name of the reader processor.
pub const READER: &str = "sysflowreader";
/// The name of the policy engine processor.
pub const ENGINE: &str = "policyengine";
/// The name of the exporter processor.
pub const EXPORTER: &str = "exporter";

/// Keys the reference injects into (or reads from) every processor config; accepted everywhere.
const COMMON_KEYS: &[&str] = &[
    "processor",
    "in",
    "out",
    "version",
    "jsonschemaversion",
    "ecsversion",
    "buildnumber",
    "cluster.id",
];
const READER_KEYS: &[&str] = &[
    "handler",
    "handlerlibpath",
    "filter.enabled",
    "filter.maxage",
];
const ENGINE_KEYS: &[&str] = &[
    "policies",
    "mode",
    "language",
    "config",
    "monitor",
    "monitor.interval",
    "concurrency",
    "actiondir",
    "bench.rulesetsize",
    "bench.ruleindex",
];
const EXPORTER_KEYS: &[&str] = &[
    "export",
    "format",
    "buffer",
    "vault.secrets",
    "vault.path",
    "vault.encoding",
    "file.path",
    "syslog.proto",
    "syslog.tag",
    "syslog.source",
    "syslog.host",
    "syslog.port",
    "es.addresses",
    "es.index",
    "es.username",
    "es.password",
    "es.bulk.numWorkers",
    "es.bulk.flushBuffer",
    "es.bulk.flushTimeout",
    "kafka.config",
    "kafka.topic",
    "kafka.encoding",
];

/// One problem found in the configuration, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Where: `pipeline[1].policies`, `drivers[0].driver`, `pipeline`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// The problems, in the order they were found.
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pipeline configuration {}", self.file.display())?;
        for issue in &self.issues {
            write!(f, "\n  {issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A configuration value as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// A string, or a number/boolean turned into its JSON text.
    Text(String),
    /// An object, array or null (only meaningful for a few keys).
    Json(Value),
}

impl RawValue {
    fn from_json(v: &Value) -> RawValue {
        match v {
            Value::String(s) => RawValue::Text(s.clone()),
            Value::Number(n) => RawValue::Text(n.to_string()),
            Value::Bool(b) => RawValue::Text(b.to_string()),
            other => RawValue::Json(other.clone()),
        }
    }
}

/// One entry of `pipeline` or `drivers`, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    /// `pipeline[3]` or `drivers[0]`.
    pub place: String,
    /// The keys and their values.
    pub keys: BTreeMap<String, RawValue>,
}

impl RawEntry {
    fn text(&self, key: &str) -> Option<&str> {
        match self.keys.get(key) {
            Some(RawValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    fn processor(&self) -> Option<&str> {
        self.text("processor")
    }
}

/// `pipeline.json` as read, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPipeline {
    /// The configuration file.
    pub file: PathBuf,
    /// `pipeline` entries in order.
    pub pipeline: Vec<RawEntry>,
    /// `drivers` entries in order.
    pub drivers: Vec<RawEntry>,
}

impl RawPipeline {
    /// Reads and parses a configuration file.
    pub fn load(file: &Path) -> Result<RawPipeline, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            issues: vec![ConfigIssue {
                path: "(file)".into(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        RawPipeline::parse(file, &text)
    }

    /// Parses configuration text; `file` only names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<RawPipeline, ConfigError> {
        let fail = |path: &str, message: String| ConfigError {
            file: file.to_path_buf(),
            issues: vec![ConfigIssue {
                path: path.into(),
                message,
            }],
        };
        let root: Value = serde_json::from_str(text).map_err(|e| {
            fail(
                "(file)",
                format!(
                    "not valid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let Value::Object(root) = root else {
            return Err(fail(
                "(root)",
                "must be a JSON object with a \"pipeline\" array".into(),
            ));
        };
        let mut issues = Vec::new();
        let mut section = |name: &str, required: bool| -> Vec<RawEntry> {
            let mut out = Vec::new();
            match root.get(name) {
                None if required => issues.push(ConfigIssue {
                    path: name.into(),
                    message: "missing (an array of plugin entries)".into(),
                }),
                None => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let place = format!("{name}[{i}]");
                        match item {
                            Value::Object(map) => out.push(RawEntry {
                                place,
                                keys: map
                                    .iter()
                                    .map(|(k, v)| (k.clone(), RawValue::from_json(v)))
                                    .collect(),
                            }),
                            _ => issues.push(ConfigIssue {
                                path: place,
                                message: "must be an object".into(),
                            }),
                        }
                    }
                }
                Some(_) => issues.push(ConfigIssue {
                    path: name.into(),
                    message: "must be an array".into(),
                }),
            }
            out
        };
        let pipeline = section("pipeline", true);
        let drivers = section("drivers", false);
        if !issues.is_empty() {
            return Err(ConfigError {
                file: file.to_path_buf(),
                issues,
            });
        }
        Ok(RawPipeline {
            file: file.to_path_buf(),
            pipeline,
            drivers,
        })
    }

    /// Applies environment overrides, as the reference does: for every variable, `lower(NAME)` is split at the first
    /// `_`; if the prefix is the `processor` of some pipeline entries, the rest with `_` replaced by `.` is the key, set
    /// on every such entry. `POLICYENGINE_MONITOR_INTERVAL=10` sets `monitor.interval`.
    ///
    /// Addition: the key is matched case-insensitively against the processor's known keys, so camelCase keys can be
    /// set too (`EXPORTER_ES_BULK_NUMWORKERS` sets `es.bulk.numWorkers`). Drivers are never overridden.
    ///
    /// Returns the overrides applied, as `(place, key, value)`.
    pub fn apply_env<I, K, V>(&mut self, vars: I) -> Vec<(String, String, String)>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let processors: BTreeSet<String> = self
            .pipeline
            .iter()
            .filter_map(|e| e.processor().map(str::to_string))
            .collect();
        let mut applied = Vec::new();
        for (name, value) in vars {
            let lower = name.as_ref().to_ascii_lowercase();
            let Some((prefix, rest)) = lower.split_once('_') else {
                continue;
            };
            if rest.is_empty() || !processors.contains(prefix) {
                continue;
            }
            let key = rest.replace('_', ".");
            let key = known_keys(prefix)
                .iter()
                .chain(COMMON_KEYS)
                .find(|k| k.eq_ignore_ascii_case(&key))
                .map(|k| k.to_string())
                .unwrap_or(key);
            for entry in self
                .pipeline
                .iter_mut()
                .filter(|e| e.processor() == Some(prefix))
            {
                entry
                    .keys
                    .insert(key.clone(), RawValue::Text(value.as_ref().to_string()));
                applied.push((entry.place.clone(), key.clone(), value.as_ref().to_string()));
            }
        }
        applied
    }

    /// Checks everything and returns the typed configuration, or every problem found.
    pub fn validate(&self) -> Result<PipelineConfig, ConfigError> {
        let mut v = Validator {
            issues: Vec::new(),
            warnings: Vec::new(),
        };
        let config = v.pipeline(self);
        if v.issues.is_empty() {
            let mut config = config;
            config.warnings = v.warnings;
            Ok(config)
        } else {
            Err(ConfigError {
                file: self.file.clone(),
                issues: v.issues,
            })
        }
    }
}

fn known_keys(processor: &str) -> &'static [&'static str] {
    match processor {
        READER => READER_KEYS,
        ENGINE => ENGINE_KEYS,
        EXPORTER => EXPORTER_KEYS,
        _ => &[],
    }
}

/// A channel reference `"<id> <type>"`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelRef {
    /// Instance id: the same id is the same channel.
    pub id: String,
    /// Channel type (`sysflowchan`, `flattenerchan`, `eventchan`).
    pub kind: String,
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.kind)
    }
}

pub use sysflow_policy::{Language, Mode};

/// Reader + flattener settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderConfig {
    /// Place in the config (`pipeline[0]`).
    pub place: String,
    /// Input channel (the root channel).
    pub input: ChannelRef,
    /// Output channels (fan-out).
    pub outputs: Vec<ChannelRef>,
    /// `filter.enabled`: the time-decay rate limiter.
    pub filter_enabled: bool,
    /// `filter.maxage`: how long a record's hash suppresses repeats (seconds in the reference code).
    pub filter_max_age: Duration,
}

/// Policy engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Place in the config (`pipeline[1]`).
    pub place: String,
    /// Input channel.
    pub input: ChannelRef,
    /// Output channels (fan-out).
    pub outputs: Vec<ChannelRef>,
    /// `policies`: a policy file or directory (`None` only in enrich mode = bypass).
    pub policies: Option<PathBuf>,
    /// `mode`.
    pub mode: Mode,
    /// `language`.
    pub language: Language,
    /// `config`: Sigma configuration file.
    pub sigma_config: Option<PathBuf>,
    /// `monitor: local`: reload the policies when they change.
    pub monitor: bool,
    /// `monitor.interval`.
    pub monitor_interval: Duration,
    /// `concurrency`: worker threads.
    pub concurrency: usize,
    /// `bench.rulesetsize`: keep only the first N rules (honoured with `-perflog`, as in the reference).
    pub bench_ruleset_size: Option<usize>,
    /// `bench.ruleindex`: keep only rule i (honoured with `-perflog`).
    pub bench_rule_index: Option<usize>,
}

/// Syslog transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogProto {
    /// UDP datagrams.
    Udp,
    /// TCP, newline framing.
    Tcp,
    /// TCP + TLS (certificate not verified, as in the reference).
    Tls,
}

/// Syslog exporter settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogConfig {
    /// `syslog.proto`.
    pub proto: SyslogProto,
    /// `syslog.tag` (RFC 5424 APP-NAME).
    pub tag: String,
    /// `syslog.source` (RFC 5424 HOSTNAME; empty = this host's name).
    pub source: String,
    /// `syslog.host`.
    pub host: String,
    /// `syslog.port`.
    pub port: u16,
}

/// Where an exporter writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    /// One record per line on stdout.
    Terminal,
    /// One record per line in a file (deleted at start).
    File(PathBuf),
    /// RFC 5424 syslog.
    Syslog(SyslogConfig),
    /// Discard.
    Null,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The reference's JSON (schema version 5).
    Json,
    /// Elastic Common Schema 8.2.
    Ecs,
}

/// Exporter settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterConfig {
    /// Place in the config (`pipeline[2]`).
    pub place: String,
    /// Input channel.
    pub input: ChannelRef,
    /// `export`.
    pub target: ExportTarget,
    /// `format`.
    pub format: Format,
    /// `buffer`: records per batch (0 = send every record at once).
    pub buffer: usize,
}

/// An input driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverKind {
    /// Trace file or directory.
    File,
    /// Unix SEQPACKET socket.
    Socket,
}

/// A driver from the `drivers` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// Place (`drivers[0]`).
    pub place: String,
    /// Kind.
    pub kind: DriverKind,
    /// Output channel (the root channel when absent).
    pub output: Option<ChannelRef>,
    /// `path`: overrides the command-line path.
    pub path: Option<PathBuf>,
}

/// A validated pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// The configuration file.
    pub file: PathBuf,
    /// The reader (exactly one).
    pub reader: ReaderConfig,
    /// Policy engines.
    pub engines: Vec<EngineConfig>,
    /// Exporters.
    pub exporters: Vec<ExporterConfig>,
    /// Drivers of the `drivers` section.
    pub drivers: Vec<DriverConfig>,
    /// Non-fatal remarks (unknown keys, keys that are accepted but have no effect).
    pub warnings: Vec<String>,
}

struct Validator {
    issues: Vec<ConfigIssue>,
    warnings: Vec<String>,
}

impl Validator {
    fn err(&mut self, place: &str, key: &str, message: impl Into<String>) {
        let path = if key.is_empty() {
            place.to_string()
        } else {
            format!("{place}.{key}")
        };
        self.issues.push(ConfigIssue {
            path,
            message: message.into(),
        });
    }

    fn text<'a>(&mut self, e: &'a RawEntry, key: &str) -> Option<&'a str> {
        match e.keys.get(key) {
            None => None,
            Some(RawValue::Text(s)) => Some(s.as_str()),
            Some(RawValue::Json(v)) => {
                self.err(
                    &e.place,
                    key,
                    format!("must be a string, number or boolean, found {v}"),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, e: &RawEntry, key: &str, default: T, choices: &[(&str, T)]) -> T {
        let Some(s) = self.text(e, key) else {
            return default;
        };
        if let Some((_, v)) = choices
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
        {
            return *v;
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        self.err(
            &e.place,
            key,
            format!(
                "unknown value {s:?} (expected one of: {})",
                names.join(", ")
            ),
        );
        default
    }

    fn int(&mut self, e: &RawEntry, key: &str, default: i64, min: i64, max: i64) -> i64 {
        let Some(s) = self.text(e, key) else {
            return default;
        };
        match s.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            Ok(n) => {
                self.err(
                    &e.place,
                    key,
                    format!("{n} is out of range ({min}..={max})"),
                );
                default
            }
            Err(_) => {
                self.err(&e.place, key, format!("{s:?} is not an integer"));
                default
            }
        }
    }

    fn bool(&mut self, e: &RawEntry, key: &str, default: bool) -> bool {
        let Some(s) = self.text(e, key) else {
            return default;
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" | "t" => true,
            "off" | "false" | "0" | "no" | "f" => false,
            _ => {
                self.err(
                    &e.place,
                    key,
                    format!("{s:?} is not a boolean (expected on/off or true/false)"),
                );
                default
            }
        }
    }

    fn channels(&mut self, e: &RawEntry, key: &str) -> Vec<ChannelRef> {
        let items: Vec<String> = match e.keys.get(key) {
            None => return Vec::new(),
            Some(RawValue::Text(s)) => vec![s.clone()],
            Some(RawValue::Json(Value::Array(a))) => {
                let mut out = Vec::new();
                for (i, item) in a.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        _ => self.err(
                            &e.place,
                            &format!("{key}[{i}]"),
                            "must be a string \"<id> <type>\"",
                        ),
                    }
                }
                out
            }
            Some(RawValue::Json(_)) => {
                self.err(
                    &e.place,
                    key,
                    "must be a string \"<id> <type>\" or an array of them",
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for s in items {
            let parts: Vec<&str> = s.split_whitespace().collect();
            match parts.as_slice() {
                [id, kind] => {
                    if ![
                        "sysflowchan",
                        "flattenerchan",
                        "eventchan",
                        "ctxchan",
                        "otelchan",
                    ]
                    .contains(kind)
                    {
                        self.err(
                            &e.place,
                            key,
                            format!("unknown channel type {kind:?} in {s:?} (expected sysflowchan, flattenerchan or eventchan)"),
                        );
                    } else {
                        out.push(ChannelRef {
                            id: id.to_string(),
                            kind: kind.to_string(),
                        });
                    }
                }
                _ => self.err(&e.place, key, format!("{s:?} is not \"<id> <type>\"")),
            }
        }
        out
    }

    fn one_input(&mut self, e: &RawEntry, expected: &str) -> Option<ChannelRef> {
        let ins = self.channels(e, "in");
        match ins.as_slice() {
            [] if !e.keys.contains_key("in") => {
                self.err(&e.place, "in", "missing (expected \"<id> <type>\")");
                None
            }
            [] => None,
            [c] => {
                if c.kind != expected {
                    self.err(
                        &e.place,
                        "in",
                        format!(
                            "channel {c} has type {}, this processor reads {expected}",
                            c.kind
                        ),
                    );
                }
                Some(c.clone())
            }
            _ => {
                self.err(
                    &e.place,
                    "in",
                    "more than one input channel is not supported",
                );
                None
            }
        }
    }

    fn outputs(&mut self, e: &RawEntry, expected: &str, required: bool) -> Vec<ChannelRef> {
        let outs = self.channels(e, "out");
        if outs.is_empty() && required && !e.keys.contains_key("out") {
            self.err(
                &e.place,
                "out",
                format!("missing (expected \"<id> {expected}\")"),
            );
        }
        for c in &outs {
            if c.kind != expected {
                self.err(
                    &e.place,
                    "out",
                    format!(
                        "channel {c} has type {}, this processor writes {expected}",
                        c.kind
                    ),
                );
            }
        }
        outs
    }

    fn unknown_keys(&mut self, e: &RawEntry, processor: &str) {
        for key in e.keys.keys() {
            if COMMON_KEYS.contains(&key.as_str()) || known_keys(processor).contains(&key.as_str())
            {
                continue;
            }
            self.warnings.push(format!(
                "{}.{key}: unknown key for {processor}, ignored",
                e.place
            ));
        }
    }

    fn reader(&mut self, e: &RawEntry) -> Option<ReaderConfig> {
        self.unknown_keys(e, READER);
        let input = self.one_input(e, "sysflowchan");
        let outputs = self.outputs(e, "flattenerchan", true);
        match self.text(e, "handler") {
            None => self.err(&e.place, "handler", "missing (the built-in handler is \"flattener\")"),
            Some("flattener") => {}
            Some(h) => self.err(
                &e.place,
                "handler",
                format!("unknown handler {h:?}: only the built-in \"flattener\" exists (dynamic handlers are not supported)"),
            ),
        }
        let filter_enabled = self.bool(e, "filter.enabled", false);
        let max_age = self.int(e, "filter.maxage", 24 * 3600, 1, i64::from(u32::MAX));
        Some(ReaderConfig {
            place: e.place.clone(),
            input: input?,
            outputs,
            filter_enabled,
            filter_max_age: Duration::from_secs(max_age.unsigned_abs()),
        })
    }

    fn engine(&mut self, e: &RawEntry) -> Option<EngineConfig> {
        self.unknown_keys(e, ENGINE);
        let input = self.one_input(e, "flattenerchan");
        let outputs = self.outputs(e, "eventchan", true);
        let mode = self.choice(
            e,
            "mode",
            Mode::Alert,
            &[("alert", Mode::Alert), ("enrich", Mode::Enrich)],
        );
        let language = self.choice(
            e,
            "language",
            Language::Falco,
            &[("falco", Language::Falco), ("sigma", Language::Sigma)],
        );
        let policies = self
            .text(e, "policies")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        match &policies {
            None if mode == Mode::Alert => self.err(&e.place, "policies", "required in alert mode"),
            Some(p) if !p.exists() => self.err(
                &e.place,
                "policies",
                format!("{} does not exist", p.display()),
            ),
            _ => {}
        }
        let sigma_config = self
            .text(e, "config")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        if let Some(p) = &sigma_config {
            if !p.is_file() {
                self.err(&e.place, "config", format!("{} is not a file", p.display()));
            }
        }
        let monitor = self.choice(e, "monitor", false, &[("none", false), ("local", true)]);
        if monitor && policies.is_none() {
            self.err(&e.place, "monitor", "\"local\" needs \"policies\"");
        }
        let interval = self.int(e, "monitor.interval", 30, 1, 86_400);
        let concurrency = self.int(e, "concurrency", 5, 1, 1024);
        if let Some(dir) = self.text(e, "actiondir") {
            self.warnings.push(format!(
                "{}.actiondir: {dir:?} ignored: action plugins (.so) are not supported",
                e.place
            ));
        }
        let size = self.int(e, "bench.rulesetsize", -1, -1, i64::from(u32::MAX));
        let index = self.int(e, "bench.ruleindex", -1, -1, i64::from(u32::MAX));
        Some(EngineConfig {
            place: e.place.clone(),
            input: input?,
            outputs,
            policies,
            mode,
            language,
            sigma_config,
            monitor,
            monitor_interval: Duration::from_secs(interval.unsigned_abs()),
            concurrency: usize::try_from(concurrency).unwrap_or(5),
            bench_ruleset_size: usize::try_from(size).ok(),
            bench_rule_index: usize::try_from(index).ok(),
        })
    }

    fn exporter(&mut self, e: &RawEntry) -> Option<ExporterConfig> {
        self.unknown_keys(e, EXPORTER);
        let input = self.one_input(e, "eventchan");
        if e.keys.contains_key("out") {
            self.err(&e.place, "out", "an exporter has no output channel");
        }
        let export = self
            .text(e, "export")
            .unwrap_or("terminal")
            .trim()
            .to_ascii_lowercase();
        let target = match export.as_str() {
            "terminal" => Some(ExportTarget::Terminal),
            "null" => Some(ExportTarget::Null),
            "file" => Some(ExportTarget::File(PathBuf::from(
                self.text(e, "file.path").unwrap_or("./export.out"),
            ))),
            "syslog" => {
                let proto = self.choice(
                    e,
                    "syslog.proto",
                    SyslogProto::Tcp,
                    &[
                        ("tcp", SyslogProto::Tcp),
                        ("udp", SyslogProto::Udp),
                        ("tls", SyslogProto::Tls),
                    ],
                );
                let port = self.int(e, "syslog.port", 514, 1, 65_535);
                Some(ExportTarget::Syslog(SyslogConfig {
                    proto,
                    tag: self.text(e, "syslog.tag").unwrap_or("sysflow").to_string(),
                    source: self.text(e, "syslog.source").unwrap_or("").to_string(),
                    host: self
                        .text(e, "syslog.host")
                        .unwrap_or("localhost")
                        .to_string(),
                    port: u16::try_from(port).unwrap_or(514),
                }))
            }
            "es" | "kafka" => {
                self.err(
                    &e.place,
                    "export",
                    format!("{export:?} is not yet supported by this implementation"),
                );
                None
            }
            "findings" => {
                self.err(
                    &e.place,
                    "export",
                    "\"findings\" was removed from the reference in 0.7.0 and is not supported",
                );
                None
            }
            other => {
                self.err(
                    &e.place,
                    "export",
                    format!(
                        "unknown value {other:?} (expected one of: terminal, file, syslog, null)"
                    ),
                );
                None
            }
        };
        let format = match self
            .text(e, "format")
            .map(|s| s.trim().to_ascii_lowercase())
        {
            None => Format::Json,
            Some(f) if f == "json" => Format::Json,
            Some(f) if f == "ecs" => Format::Ecs,
            Some(f) if f == "otel" => {
                self.err(
                    &e.place,
                    "format",
                    "\"otel\" is not yet supported by this implementation",
                );
                Format::Json
            }
            Some(f) => {
                self.err(
                    &e.place,
                    "format",
                    format!("unknown value {f:?} (expected one of: json, ecs)"),
                );
                Format::Json
            }
        };
        let buffer = self.int(e, "buffer", 0, 0, 1 << 24);
        for key in ["vault.secrets", "vault.path", "vault.encoding"] {
            if e.keys.contains_key(key) {
                self.warnings.push(format!(
                    "{}.{key}: only used by the es exporter, ignored",
                    e.place
                ));
            }
        }
        Some(ExporterConfig {
            place: e.place.clone(),
            input: input?,
            target: target?,
            format,
            buffer: usize::try_from(buffer).unwrap_or(0),
        })
    }

    fn driver(&mut self, e: &RawEntry) -> Option<DriverConfig> {
        let kind = match self.text(e, "driver") {
            Some("file") => Some(DriverKind::File),
            Some("socket") => Some(DriverKind::Socket),
            Some(d @ ("otelfile" | "otelkafka")) => {
                self.err(
                    &e.place,
                    "driver",
                    format!("{d:?} is not yet supported by this implementation"),
                );
                None
            }
            Some(d) => {
                self.err(
                    &e.place,
                    "driver",
                    format!("unknown driver {d:?} (expected file or socket)"),
                );
                None
            }
            None => {
                self.err(&e.place, "driver", "missing (file or socket)");
                None
            }
        };
        let outs = self.channels(e, "out");
        if outs.len() > 1 {
            self.err(&e.place, "out", "a driver writes to one channel");
        }
        if let Some(c) = outs.first().filter(|c| c.kind != "sysflowchan") {
            self.err(
                &e.place,
                "out",
                format!(
                    "channel {c} has type {}, a driver writes sysflowchan",
                    c.kind
                ),
            );
        }
        let path = self
            .text(e, "path")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        Some(DriverConfig {
            place: e.place.clone(),
            kind: kind?,
            output: outs.first().cloned(),
            path,
        })
    }

    fn pipeline(&mut self, raw: &RawPipeline) -> PipelineConfig {
        let mut readers = Vec::new();
        let mut engines = Vec::new();
        let mut exporters = Vec::new();
        if raw.pipeline.is_empty() {
            self.err("pipeline", "", "is empty");
        }
        for e in &raw.pipeline {
            match self.text(e, "processor") {
                None => self.err(&e.place, "processor", "missing"),
                Some(READER) => readers.extend(self.reader(e)),
                Some(ENGINE) => engines.extend(self.engine(e)),
                Some(EXPORTER) => exporters.extend(self.exporter(e)),
                Some("sysflowprocessor") => self.err(
                    &e.place,
                    "processor",
                    "\"sysflowprocessor\" (ctxchan reader) is not supported; use \"sysflowreader\"",
                ),
                Some(p) => self.err(
                    &e.place,
                    "processor",
                    format!("unknown processor {p:?} (expected sysflowreader, policyengine or exporter; dynamic plugins are not supported)"),
                ),
            }
        }
        let drivers: Vec<DriverConfig> =
            raw.drivers.iter().filter_map(|e| self.driver(e)).collect();
        let reader_count = raw
            .pipeline
            .iter()
            .filter(|e| e.processor() == Some(READER))
            .count();
        if reader_count != 1 {
            self.err(
                "pipeline",
                "",
                format!("needs exactly one \"sysflowreader\", found {reader_count}"),
            );
        }
        if let Some(first) = raw.pipeline.first() {
            if first.processor().is_some() && first.processor() != Some(READER) {
                self.err(
                    &first.place,
                    "processor",
                    "the first entry must be the \"sysflowreader\" (its input is the root channel)",
                );
            }
        }
        self.topology(&readers, &engines, &exporters, &drivers);
        let placeholder = ReaderConfig {
            place: String::new(),
            input: ChannelRef {
                id: String::new(),
                kind: String::new(),
            },
            outputs: Vec::new(),
            filter_enabled: false,
            filter_max_age: Duration::ZERO,
        };
        PipelineConfig {
            file: raw.file.clone(),
            reader: readers.into_iter().next().unwrap_or(placeholder),
            engines,
            exporters,
            drivers,
            warnings: Vec::new(),
        }
    }

    fn topology(
        &mut self,
        readers: &[ReaderConfig],
        engines: &[EngineConfig],
        exporters: &[ExporterConfig],
        drivers: &[DriverConfig],
    ) {
        // Every use of a channel: (channel, place, "in"/"out").
        let mut uses: Vec<(&ChannelRef, &str, &str)> = Vec::new();
        for r in readers {
            uses.push((&r.input, &r.place, "in"));
            uses.extend(r.outputs.iter().map(|o| (o, r.place.as_str(), "out")));
        }
        for e in engines {
            uses.push((&e.input, &e.place, "in"));
            uses.extend(e.outputs.iter().map(|o| (o, e.place.as_str(), "out")));
        }
        for x in exporters {
            uses.push((&x.input, &x.place, "in"));
        }
        let mut kinds: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        let mut produced: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut consumed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (c, place, key) in &uses {
            match kinds.get(c.id.as_str()) {
                Some((kind, first)) if *kind != c.kind => self.err(
                    place,
                    key,
                    format!(
                        "channel {:?} is used with type {} here and {kind} in {first}",
                        c.id, c.kind
                    ),
                ),
                Some(_) => {}
                None => {
                    kinds.insert(&c.id, (&c.kind, place));
                }
            }
            let map = if *key == "in" {
                &mut consumed
            } else {
                &mut produced
            };
            map.entry(&c.id).or_default().push(place);
        }
        let root = readers.first().map(|r| r.input.id.as_str());
        for (id, users) in &consumed {
            if users.len() > 1 {
                self.err(
                    users[1],
                    "in",
                    format!(
                        "channel {id:?} is already read by {}; to send records to several stages list several channels in the producer's \"out\"",
                        users[0]
                    ),
                );
            }
            if Some(*id) != root && !produced.contains_key(id) {
                self.err(users[0], "in", format!("nothing writes to channel {id:?}"));
            }
        }
        for (id, producers) in &produced {
            if !consumed.contains_key(id) {
                self.err(producers[0], "out", format!("nothing reads channel {id:?}"));
            }
            if Some(*id) == root {
                self.err(
                    producers[0],
                    "out",
                    format!("channel {id:?} is the reader's input"),
                );
            }
        }
        for d in drivers {
            if let (Some(o), Some(root)) = (&d.output, root) {
                if o.id != root {
                    self.err(
                        &d.place,
                        "out",
                        format!("drivers must write to the reader's input channel {root:?}"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies_dir() -> String {
        std::env::temp_dir().to_string_lossy().into_owned()
    }

    fn parse(text: &str) -> RawPipeline {
        RawPipeline::parse(Path::new("test.json"), text).unwrap()
    }

    fn reference_like(extra_engine: &str, extra_exporter: &str) -> String {
        format!(
            r#"{{"pipeline":[
              {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
              {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{}"{extra_engine}}},
              {{"processor":"exporter","in":"evt eventchan"{extra_exporter}}}
            ]}}"#,
            policies_dir()
        )
    }

    #[test]
    fn reference_shape_and_defaults() {
        let c = parse(&reference_like("", "")).validate().unwrap();
        assert_eq!(
            c.reader.input,
            ChannelRef {
                id: "sysflow".into(),
                kind: "sysflowchan".into()
            }
        );
        assert!(!c.reader.filter_enabled);
        assert_eq!(c.reader.filter_max_age, Duration::from_secs(86_400));
        let e = &c.engines[0];
        assert_eq!(e.mode, Mode::Alert);
        assert_eq!(e.language, Language::Falco);
        assert_eq!(e.concurrency, 5);
        assert!(!e.monitor);
        assert_eq!(e.monitor_interval, Duration::from_secs(30));
        assert_eq!(e.bench_ruleset_size, None);
        let x = &c.exporters[0];
        assert_eq!(x.target, ExportTarget::Terminal);
        assert_eq!(x.format, Format::Json);
        assert_eq!(x.buffer, 0);
    }

    #[test]
    fn strings_numbers_and_booleans() {
        let s = parse(&reference_like(
            r#","concurrency":"7","monitor.interval":"12""#,
            r#","buffer":"100""#,
        ));
        let n = parse(&reference_like(
            r#","concurrency":7,"monitor.interval":12"#,
            r#","buffer":100"#,
        ));
        let (s, n) = (s.validate().unwrap(), n.validate().unwrap());
        assert_eq!(s.engines[0].concurrency, 7);
        assert_eq!(n.engines[0].concurrency, 7);
        assert_eq!(s.engines[0].monitor_interval, n.engines[0].monitor_interval);
        assert_eq!(s.exporters[0].buffer, 100);
        assert_eq!(n.exporters[0].buffer, 100);
        let text = reference_like("", "").replace(
            r#""handler":"flattener""#,
            r#""handler":"flattener","filter.enabled":true,"filter.maxage":60"#,
        );
        let b = parse(&text).validate().unwrap();
        assert!(b.reader.filter_enabled);
        assert_eq!(b.reader.filter_max_age, Duration::from_secs(60));
        let text = reference_like("", "").replace(
            r#""handler":"flattener""#,
            r#""handler":"flattener","filter.enabled":"on""#,
        );
        assert!(parse(&text).validate().unwrap().reader.filter_enabled);
    }

    #[test]
    fn env_overrides() {
        let mut raw = parse(&reference_like("", ""));
        let applied = raw.apply_env([
            ("POLICYENGINE_MONITOR_INTERVAL", "10"),
            ("POLICYENGINE_MONITOR", "local"),
            ("EXPORTER_EXPORT", "syslog"),
            ("EXPORTER_SYSLOG_HOST", "10.1.1.1"),
            ("EXPORTER_SYSLOG_PROTO", "udp"),
            ("EXPORTER_ES_BULK_NUMWORKERS", "3"),
            ("SYSFLOWREADER_FILTER_ENABLED", "on"),
            ("PATH", "/usr/bin"),
            ("HOME_DIR", "/root"),
        ]);
        assert_eq!(applied.len(), 7);
        assert!(
            applied.iter().any(|(_, k, _)| k == "es.bulk.numWorkers"),
            "camelCase key canonicalised: {applied:?}"
        );
        let c = raw.validate().unwrap();
        assert!(c.engines[0].monitor);
        assert_eq!(c.engines[0].monitor_interval, Duration::from_secs(10));
        assert!(c.reader.filter_enabled);
        match &c.exporters[0].target {
            ExportTarget::Syslog(s) => {
                assert_eq!(s.host, "10.1.1.1");
                assert_eq!(s.proto, SyslogProto::Udp);
                assert_eq!(s.port, 514);
                assert_eq!(s.tag, "sysflow");
            }
            t => panic!("unexpected target {t:?}"),
        }
    }

    #[test]
    fn env_override_applies_to_every_entry_of_a_processor() {
        let text = format!(
            r#"{{"pipeline":[
              {{"processor":"sysflowreader","handler":"flattener","in":"s sysflowchan","out":["a flattenerchan","b flattenerchan"]}},
              {{"processor":"policyengine","in":"a flattenerchan","out":"x eventchan","policies":"{p}"}},
              {{"processor":"policyengine","in":"b flattenerchan","out":"y eventchan","policies":"{p}"}},
              {{"processor":"exporter","in":"x eventchan"}},
              {{"processor":"exporter","in":"y eventchan","export":"null"}}
            ]}}"#,
            p = policies_dir()
        );
        let mut raw = parse(&text);
        raw.apply_env([("POLICYENGINE_CONCURRENCY", "2")]);
        let c = raw.validate().unwrap();
        assert_eq!(c.engines.len(), 2);
        assert!(c.engines.iter().all(|e| e.concurrency == 2));
        assert_eq!(c.reader.outputs.len(), 2);
        assert_eq!(c.exporters[1].target, ExportTarget::Null);
    }

    #[test]
    fn errors_name_their_place_and_are_all_reported() {
        let text = r#"{"pipeline":[
              {"processor":"sysflowreader","handler":"printer","in":"sysflow sysflowchan","out":"flat flattenerchan"},
              {"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","mode":"alert","concurrency":"many"},
              {"processor":"exporter","in":"evt eventchan","export":"kafka","format":"xml","syslog.port":"99999"}
            ]}"#;
        let err = parse(text).validate().unwrap_err();
        let paths: Vec<&str> = err.issues.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"pipeline[0].handler"), "{err}");
        assert!(paths.contains(&"pipeline[1].policies"), "{err}");
        assert!(paths.contains(&"pipeline[1].concurrency"), "{err}");
        assert!(paths.contains(&"pipeline[2].export"), "{err}");
        assert!(paths.contains(&"pipeline[2].format"), "{err}");
        let text = err.to_string();
        assert!(text.contains("test.json"), "{text}");
        assert!(text.contains("not yet supported"), "{text}");
    }

    #[test]
    fn topology_errors() {
        let text = format!(
            r#"{{"pipeline":[
              {{"processor":"sysflowreader","handler":"flattener","in":"sysflow sysflowchan","out":"flat flattenerchan"}},
              {{"processor":"policyengine","in":"flat flattenerchan","out":"evt eventchan","policies":"{p}"}},
              {{"processor":"exporter","in":"other eventchan"}},
              {{"processor":"exporter","in":"flat eventchan"}}
            ]}}"#,
            p = policies_dir()
        );
        let err = parse(&text).validate().unwrap_err().to_string();
        assert!(err.contains("nothing writes to channel \"other\""), "{err}");
        assert!(err.contains("nothing reads channel \"evt\""), "{err}");
        assert!(err.contains("pipeline[3].in"), "{err}");
    }

    #[test]
    fn bad_json_and_shapes() {
        let e = RawPipeline::parse(Path::new("p.json"), "{\"pipeline\": [").unwrap_err();
        assert!(e.to_string().contains("not valid JSON at line 1"), "{e}");
        let e = RawPipeline::parse(Path::new("p.json"), "{\"drivers\": []}").unwrap_err();
        assert_eq!(e.issues[0].path, "pipeline");
        let e = RawPipeline::parse(Path::new("p.json"), "{\"pipeline\": [3]}").unwrap_err();
        assert_eq!(e.issues[0].path, "pipeline[0]");
    }

    #[test]
    fn unknown_keys_warn() {
        let c = parse(&reference_like(
            r#","_comment":"x""#,
            r#","findings.url":"y","vault.secrets":"true""#,
        ))
        .validate()
        .unwrap();
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("pipeline[1]._comment"));
    }

    #[test]
    fn drivers_section() {
        let text = reference_like("", "").replace(
            "]}",
            r#"], "drivers":[{"driver":"socket","out":"sysflow sysflowchan","path":"/tmp/s.sock"},{"driver":"otelkafka"}]}"#,
        );
        let err = parse(&text).validate().unwrap_err();
        assert_eq!(err.issues.len(), 1, "{err}");
        assert_eq!(err.issues[0].path, "drivers[1].driver");
        let text = reference_like("", "")
            .replace("]}", r#"], "drivers":[{"driver":"socket","out":"sysflow sysflowchan","path":"/tmp/s.sock"}]}"#);
        let c = parse(&text).validate().unwrap();
        assert_eq!(c.drivers[0].kind, DriverKind::Socket);
        assert_eq!(c.drivers[0].path, Some(PathBuf::from("/tmp/s.sock")));
    }
}
