//! Command-line arguments of `sysflow export` (the reference sf-exporter's flags and environment
//! variables) and of `sysprint -i s3`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::exporter::{ExportConfig, Target};
use crate::naming::NodeMetadata;
use crate::scan::FinishPolicy;
use crate::store::{resolve_key, Credentials, KeySources, S3Config, Secret};
use crate::upload::UploadOptions;

/// Parses the reference's `str2bool` values (`yes/true/t/y/1`, `no/false/f/n/0`, any case).
pub fn str2bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "t" | "y" | "1" => Ok(true),
        "no" | "false" | "f" | "n" | "0" => Ok(false),
        _ => Err(format!("Boolean value expected, got '{v}'")),
    }
}

/// Options of `sysflow export`. Names, defaults and environment variables follow sf-exporter 0.6.0
/// (Docker image defaults are set through the environment variables).
#[derive(Clone, Args)]
pub struct ExportArgs {
    /// Export type; only `s3` exists (the reference's `local` mode is broken upstream, syslog was removed).
    #[arg(long = "exporttype", env = "EXPORT_TYPE", default_value = "s3", value_parser = ["s3"])]
    pub exporttype: String,
    /// S3 server address (host name or IP).
    #[arg(long = "s3endpoint", env = "S3_ENDPOINT", default_value = "localhost")]
    pub s3endpoint: String,
    /// S3 server port.
    #[arg(long = "s3port", env = "S3_PORT", default_value_t = 443)]
    pub s3port: u16,
    /// S3 access key. Falls back to `--s3accesskeyfile`, `AWS_ACCESS_KEY_ID`, then the secret file
    /// `s3_access_key` in the secrets directory.
    #[arg(long = "s3accesskey", env = "S3_ACCESS_KEY", hide_env_values = true)]
    pub s3accesskey: Option<String>,
    /// S3 secret key. Falls back to `--s3secretkeyfile`, `AWS_SECRET_ACCESS_KEY`, then the secret file
    /// `s3_secret_key` in the secrets directory.
    #[arg(long = "s3secretkey", env = "S3_SECRET_KEY", hide_env_values = true)]
    pub s3secretkey: Option<String>,
    /// File holding the access key.
    #[arg(long = "s3accesskeyfile", env = "S3_ACCESS_KEY_FILE")]
    pub s3accesskeyfile: Option<PathBuf>,
    /// File holding the secret key.
    #[arg(long = "s3secretkeyfile", env = "S3_SECRET_KEY_FILE")]
    pub s3secretkeyfile: Option<PathBuf>,
    /// Secrets directory (docker secrets; `<dir>/k8s` is used instead when it exists).
    #[arg(
        long = "secretsdir",
        env = "SECRETS_DIR",
        default_value = "/run/secrets"
    )]
    pub secretsdir: PathBuf,
    /// Target bucket(s), comma-separated; one per data directory, or one for all.
    #[arg(long = "s3bucket", env = "S3_BUCKET", default_value = "telemetry")]
    pub s3bucket: String,
    /// Bucket location (region).
    #[arg(long = "s3location", env = "S3_LOCATION", default_value = "us-south")]
    pub s3location: String,
    /// Object key prefix.
    #[arg(long = "s3prefix", env = "S3_PREFIX", default_value = "")]
    pub s3prefix: String,
    /// Use TLS (`--secure`, `--secure false`, ...).
    #[arg(long = "secure", env = "SECURE", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", value_parser = str2bool)]
    pub secure: bool,
    /// PEM file of CA certificate(s) to trust in addition to the system ones.
    #[arg(long = "cacert", env = "S3_CA_CERT")]
    pub cacert: Option<PathBuf>,
    /// Seconds between directory scans.
    #[arg(long = "scaninterval", env = "INTERVAL", default_value_t = 1.0)]
    pub scaninterval: f64,
    /// Connection timeout in seconds (reads time out after three times this).
    #[arg(long = "timeout", default_value_t = 5.0)]
    pub timeout: f64,
    /// Age in minutes after which traces that could not be uploaded are deleted.
    #[arg(long = "agemin", default_value_t = 60.0)]
    pub agemin: f64,
    /// Upper bound in seconds of the pause between scans while the store keeps failing.
    #[arg(long = "maxbackoff", default_value_t = 60.0)]
    pub maxbackoff: f64,
    /// Data directory(ies), comma-separated.
    #[arg(long = "dir", env = "DIR", default_value = "/mnt/data")]
    pub dir: String,
    /// Seconds a rotated file must be unmodified before it is uploaded.
    #[arg(long = "settle", default_value_t = 1.0)]
    pub settle: f64,
    /// Also upload the newest file once unmodified for this many seconds and not open for writing
    /// (0 = never; the reference never uploads the newest file).
    #[arg(long = "idlefinish", default_value_t = 0.0)]
    pub idlefinish: f64,
    /// Files larger than this many MiB are uploaded in parts.
    #[arg(long = "multipartmb", default_value_t = 32)]
    pub multipartmb: u64,
    /// Part size in MiB for multipart uploads (at least 5).
    #[arg(long = "partmb", default_value_t = 8)]
    pub partmb: usize,
    /// Files uploaded concurrently.
    #[arg(long = "parallel", default_value_t = 4)]
    pub parallel: usize,
    /// Log level (error, warn, info, debug, trace; Python names such as WARNING accepted).
    #[arg(long = "log", env = "LOG", default_value = "INFO")]
    pub log: String,
    /// Exporter's node name.
    #[arg(long = "nodename", env = "EXPORTER_ID", default_value = "")]
    pub nodename: String,
    /// Exporter's node IP.
    #[arg(long = "nodeip", env = "NODE_IP", default_value = "")]
    pub nodeip: String,
    /// Exporter's pod name.
    #[arg(long = "podname", env = "POD_NAME", default_value = "")]
    pub podname: String,
    /// Exporter's pod IP.
    #[arg(long = "podip", env = "POD_IP", default_value = "")]
    pub podip: String,
    /// Exporter's pod service account.
    #[arg(long = "podservice", env = "POD_SERVICE_ACCOUNT", default_value = "")]
    pub podservice: String,
    /// Exporter's pod namespace.
    #[arg(long = "podns", env = "POD_NAMESPACE", default_value = "")]
    pub podns: String,
    /// Exporter's pod UUID.
    #[arg(long = "poduuid", env = "POD_UUID", default_value = "")]
    pub poduuid: String,
    /// Cluster id (object name component).
    #[arg(long = "clusterid", env = "CLUSTER_ID", default_value = "")]
    pub clusterid: String,
}

/// `Some("<redacted>")` / `None`, for `Debug` output of key options.
fn redacted(v: &Option<String>) -> Option<&'static str> {
    v.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for ExportArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportArgs")
            .field("exporttype", &self.exporttype)
            .field("s3endpoint", &self.s3endpoint)
            .field("s3port", &self.s3port)
            .field("s3accesskey", &redacted(&self.s3accesskey))
            .field("s3secretkey", &redacted(&self.s3secretkey))
            .field("s3accesskeyfile", &self.s3accesskeyfile)
            .field("s3secretkeyfile", &self.s3secretkeyfile)
            .field("secretsdir", &self.secretsdir)
            .field("s3bucket", &self.s3bucket)
            .field("s3location", &self.s3location)
            .field("s3prefix", &self.s3prefix)
            .field("secure", &self.secure)
            .field("cacert", &self.cacert)
            .field("scaninterval", &self.scaninterval)
            .field("timeout", &self.timeout)
            .field("agemin", &self.agemin)
            .field("maxbackoff", &self.maxbackoff)
            .field("dir", &self.dir)
            .field("settle", &self.settle)
            .field("idlefinish", &self.idlefinish)
            .field("multipartmb", &self.multipartmb)
            .field("partmb", &self.partmb)
            .field("parallel", &self.parallel)
            .field("log", &self.log)
            .field("nodename", &self.nodename)
            .field("nodeip", &self.nodeip)
            .field("podname", &self.podname)
            .field("podip", &self.podip)
            .field("podservice", &self.podservice)
            .field("podns", &self.podns)
            .field("poduuid", &self.poduuid)
            .field("clusterid", &self.clusterid)
            .finish()
    }
}

impl std::fmt::Debug for SysprintS3Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysprintS3Args")
            .field("s3endpoint", &self.s3endpoint)
            .field("s3port", &self.s3port)
            .field("s3accesskey", &redacted(&self.s3accesskey))
            .field("s3secretkey", &redacted(&self.s3secretkey))
            .field("secure", &self.secure)
            .field("cacert", &self.cacert)
            .finish()
    }
}

fn secs(name: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v)
        .with_context(|| format!("--{name} must be a non-negative number of seconds, got {v}"))
}

fn credentials(
    explicit_access: Option<String>,
    explicit_secret: Option<String>,
    access_file: Option<PathBuf>,
    secret_file: Option<PathBuf>,
    secrets_dir: Option<PathBuf>,
) -> Result<Option<Credentials>> {
    let access = resolve_key(&KeySources {
        explicit: explicit_access,
        file: access_file,
        aws_env: Some("AWS_ACCESS_KEY_ID"),
        secret: secrets_dir.clone().map(|d| (d, "s3_access_key")),
    })
    .context("cannot resolve the S3 access key")?;
    let secret = resolve_key(&KeySources {
        explicit: explicit_secret,
        file: secret_file,
        aws_env: Some("AWS_SECRET_ACCESS_KEY"),
        secret: secrets_dir.map(|d| (d, "s3_secret_key")),
    })
    .context("cannot resolve the S3 secret key")?;
    match (access, secret) {
        (Some(a), Some(s)) => Ok(Some(Credentials {
            access_key: a,
            secret_key: Secret::new(s),
            session_token: std::env::var("AWS_SESSION_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .map(Secret::new),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => bail!("an S3 access key is set but no secret key"),
        (None, Some(_)) => bail!("an S3 secret key is set but no access key"),
    }
}

impl ExportArgs {
    /// Validates the arguments, resolves credentials and builds the exporter configuration.
    pub fn to_config(&self) -> Result<ExportConfig> {
        let dirs: Vec<&str> = self
            .dir
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let buckets: Vec<&str> = self
            .s3bucket
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if dirs.is_empty() {
            bail!("--dir is empty");
        }
        if buckets.is_empty() {
            bail!("--s3bucket is empty");
        }
        if buckets.len() != 1 && buckets.len() != dirs.len() {
            bail!(
                "the number of buckets ({}) must be 1 or equal the number of data directories ({})",
                buckets.len(),
                dirs.len()
            );
        }
        let targets = dirs
            .iter()
            .enumerate()
            .map(|(i, d)| Target {
                dir: PathBuf::from(d),
                bucket: buckets[i.min(buckets.len() - 1)].to_string(),
            })
            .collect();
        if self.agemin.is_nan() || self.agemin < 0.0 {
            bail!(
                "--agemin must be a non-negative number of minutes, got {}",
                self.agemin
            );
        }
        let creds = credentials(
            self.s3accesskey.clone(),
            self.s3secretkey.clone(),
            self.s3accesskeyfile.clone(),
            self.s3secretkeyfile.clone(),
            Some(self.secretsdir.clone()),
        )?;
        let timeout = secs("timeout", self.timeout)?;
        if timeout.is_zero() || timeout > Duration::from_secs(3600) {
            bail!(
                "--timeout must be between 0 and 3600 seconds, got {}",
                self.timeout
            );
        }
        for (name, v) in [
            ("scaninterval", self.scaninterval),
            ("maxbackoff", self.maxbackoff),
        ] {
            if secs(name, v)? > Duration::from_secs(86_400) {
                bail!("--{name} must be at most 86400 seconds, got {v}");
            }
        }
        if self.partmb < 5 {
            bail!("--partmb must be at least 5 (S3 minimum part size)");
        }
        Ok(ExportConfig {
            s3: S3Config {
                endpoint: self.s3endpoint.clone(),
                port: self.s3port,
                secure: self.secure,
                region: self.s3location.clone(),
                credentials: creds,
                ca_cert: self.cacert.clone(),
                timeout,
                max_retries: 3,
            },
            targets,
            prefix: self.s3prefix.clone(),
            meta: NodeMetadata {
                nodename: self.nodename.clone(),
                nodeip: self.nodeip.clone(),
                podname: self.podname.clone(),
                podip: self.podip.clone(),
                podservice: self.podservice.clone(),
                podns: self.podns.clone(),
                poduuid: self.poduuid.clone(),
                clusterid: self.clusterid.clone(),
            },
            scan_interval: secs("scaninterval", self.scaninterval)?.max(Duration::from_millis(10)),
            max_backoff: secs("maxbackoff", self.maxbackoff)?,
            retention: secs("agemin", self.agemin * 60.0)?,
            finish: FinishPolicy {
                settle: secs("settle", self.settle)?,
                idle_finish: match secs("idlefinish", self.idlefinish)? {
                    d if d.is_zero() => None,
                    d => Some(d),
                },
                check_open_writers: true,
            },
            upload: UploadOptions {
                multipart_threshold: self.multipartmb.saturating_mul(1 << 20),
                part_size: self.partmb << 20,
                part_concurrency: 4,
            },
            file_concurrency: self.parallel.max(1),
            shutdown_grace: Duration::from_secs(10),
        })
    }
}

/// The S3 options of `sysprint` (`-e/-p/-a/-s/--secure`), for `-i s3`.
#[derive(Clone, Args)]
pub struct SysprintS3Args {
    /// S3 server address from where to read sysflows.
    #[arg(short = 'e', long = "s3endpoint")]
    pub s3endpoint: Option<String>,
    /// S3 server port.
    #[arg(short = 'p', long = "s3port", default_value_t = 443)]
    pub s3port: u16,
    /// S3 access key (falls back to `AWS_ACCESS_KEY_ID`).
    #[arg(short = 'a', long = "s3accesskey", hide_env_values = true)]
    pub s3accesskey: Option<String>,
    /// S3 secret key (falls back to `AWS_SECRET_ACCESS_KEY`).
    #[arg(short = 's', long = "s3secretkey", hide_env_values = true)]
    pub s3secretkey: Option<String>,
    /// Indicates if SSL connection.
    #[arg(long = "secure", default_value = "true", num_args = 0..=1, default_missing_value = "true",
          value_parser = str2bool)]
    pub secure: bool,
    /// PEM file of CA certificate(s) to trust.
    #[arg(long = "cacert", env = "S3_CA_CERT")]
    pub cacert: Option<PathBuf>,
}

impl SysprintS3Args {
    /// Builds the connection settings (region `us-east-1` unless `AWS_REGION` is set).
    pub fn to_config(&self) -> Result<S3Config> {
        let Some(endpoint) = self.s3endpoint.clone() else {
            bail!("-e/--s3endpoint is required with -i s3");
        };
        Ok(S3Config {
            endpoint,
            port: self.s3port,
            secure: self.secure,
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            credentials: credentials(
                self.s3accesskey.clone(),
                self.s3secretkey.clone(),
                None,
                None,
                None,
            )?,
            ca_cert: self.cacert.clone(),
            ..S3Config::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ExportArgs,
    }

    #[test]
    fn reference_flags_parse() {
        let cli = Cli::try_parse_from([
            "x",
            "--s3endpoint",
            "minio",
            "--s3port",
            "9000",
            "--secure",
            "false",
            "--s3bucket",
            "a,b",
            "--dir",
            "/d1,/d2",
            "--s3accesskey",
            "AK",
            "--s3secretkey",
            "SK",
            "--nodeip",
            "1.2.3.4",
            "--agemin",
            "0.5",
            "--scaninterval",
            "30",
        ])
        .unwrap();
        let cfg = cli.args.to_config().unwrap();
        assert!(!cfg.s3.secure);
        assert_eq!(cfg.s3.endpoint_url(), "http://minio:9000");
        assert_eq!(cfg.targets.len(), 2);
        assert_eq!(
            cfg.targets[1],
            Target {
                dir: "/d2".into(),
                bucket: "b".into()
            }
        );
        assert_eq!(cfg.retention, Duration::from_secs(30));
        assert_eq!(cfg.meta.nodeip, "1.2.3.4");
        let dbg = format!("{cfg:?} {:?}", cli.args);
        assert!(!dbg.contains("SK") && !dbg.contains("\"AK\""), "{dbg}");

        let bare =
            Cli::try_parse_from(["x", "--secure", "--s3accesskey", "a", "--s3secretkey", "b"])
                .unwrap();
        assert!(bare.args.secure);
        assert!(Cli::try_parse_from(["x", "--secure", "maybe"]).is_err());
        assert!(Cli::try_parse_from(["x", "--exporttype", "local"]).is_err());
    }

    #[test]
    fn out_of_range_numbers_are_rejected_not_panicking() {
        for (flag, v, msg) in [
            ("--timeout", "1e30", "timeout"),
            ("--timeout", "0", "timeout"),
            ("--scaninterval", "-1", "scaninterval"),
            ("--maxbackoff", "1e12", "maxbackoff"),
            ("--agemin", "NaN", "agemin"),
            ("--partmb", "4", "partmb"),
        ] {
            let cli = Cli::try_parse_from(["x".to_string(), format!("{flag}={v}")]).unwrap();
            let err = format!("{:#}", cli.args.to_config().unwrap_err());
            assert!(err.contains(msg), "{flag} {v}: {err}");
        }
    }

    #[test]
    fn mismatched_lists_and_half_credentials_are_rejected() {
        let cli = Cli::try_parse_from(["x", "--s3bucket", "a,b", "--dir", "/1,/2,/3"]).unwrap();
        assert!(format!("{:#}", cli.args.to_config().unwrap_err()).contains("number of buckets"));
        let dir = tempfile::tempdir().unwrap();
        let cli = Cli::try_parse_from([
            "x",
            "--s3accesskey",
            "a",
            "--secretsdir",
            dir.path().to_str().unwrap(),
        ])
        .unwrap();
        if std::env::var_os("AWS_SECRET_ACCESS_KEY").is_none() {
            assert!(format!("{:#}", cli.args.to_config().unwrap_err()).contains("no secret key"));
        }
    }
}
