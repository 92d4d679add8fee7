//! Connection settings for an S3-compatible object store, credentials, and bucket operations.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Once};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{BackoffConfig, Certificate, ClientOptions, RetryConfig};

/// A secret string (secret key, session token) whose `Debug`/`Display` never reveal the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; only for handing to the client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Static S3 credentials. The access key id is not secret, but it is not logged either.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: Secret,
    /// Optional session token (`AWS_SESSION_TOKEN`).
    pub session_token: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &"<redacted>")
            .field("secret_key", &self.secret_key)
            .field("session_token", &self.session_token)
            .finish()
    }
}

/// Where a key comes from, in order of precedence (see [`resolve_key`]).
#[derive(Debug, Clone, Default)]
pub struct KeySources {
    /// Value given on the command line or in the tool's own environment variable.
    pub explicit: Option<String>,
    /// File named explicitly (`--s3accesskeyfile`, `S3_ACCESS_KEY_FILE`).
    pub file: Option<PathBuf>,
    /// Standard AWS environment variable to consult (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    pub aws_env: Option<&'static str>,
    /// Secrets directory and secret name, as the reference's `get_secret`: the file
    /// `<dir>/k8s/<name>` when `<dir>/k8s` is a directory, else `<dir>/<name>`.
    pub secret: Option<(PathBuf, &'static str)>,
}

/// Resolves a key: explicit value, then an explicit file, then the AWS environment variable, then the
/// docker/k8s secret file. File contents have every newline removed (as the reference does) and
/// surrounding whitespace trimmed. Returns `Ok(None)` when no source provides a value; an explicit file
/// that cannot be read is an error (naming the file, never its content).
pub fn resolve_key(src: &KeySources) -> Result<Option<String>> {
    if let Some(v) = src.explicit.as_ref().filter(|v| !v.is_empty()) {
        return Ok(Some(v.clone()));
    }
    if let Some(file) = &src.file {
        return read_secret_file(file).map(Some);
    }
    if let Some(var) = src.aws_env {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return Ok(Some(v));
            }
        }
    }
    if let Some((dir, name)) = &src.secret {
        let k8s = dir.join("k8s");
        let file = if k8s.is_dir() {
            k8s.join(name)
        } else {
            dir.join(name)
        };
        if file.is_file() {
            return read_secret_file(&file).map(Some);
        }
    }
    Ok(None)
}

fn read_secret_file(path: &FsPath) -> Result<String> {
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret file {}", path.display()))?;
    Ok(raw.replace(['\n', '\r'], "").trim().to_string())
}

/// Connection settings of an S3-compatible endpoint.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Host name or IP of the endpoint (the reference's `--s3endpoint`); a full `http(s)://host[:port]`
    /// URL is accepted too, in which case `secure` and `port` only apply when the URL lacks them.
    pub endpoint: String,
    /// TCP port (`--s3port`).
    pub port: u16,
    /// Use TLS (`--secure`).
    pub secure: bool,
    /// Region / bucket location (`--s3location`), used for signing and bucket creation.
    pub region: String,
    /// Credentials; `None` sends unsigned (anonymous) requests.
    pub credentials: Option<Credentials>,
    /// Extra CA certificates (PEM bundle) to trust, for stores with a private CA.
    pub ca_cert: Option<PathBuf>,
    /// Connect timeout (`--timeout`); reads time out after three times this, as in the reference.
    pub timeout: Duration,
    /// Retries of one request inside the client (with exponential backoff) before it reports failure.
    pub max_retries: usize,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: "localhost".into(),
            port: 443,
            secure: true,
            region: "us-south".into(),
            credentials: None,
            ca_cert: None,
            timeout: Duration::from_secs(5),
            max_retries: 3,
        }
    }
}

/// Installs rustls' `ring` crypto provider as the process default (once; harmless when another
/// provider was installed first).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl S3Config {
    /// The endpoint base URL, e.g. `http://127.0.0.1:9000`.
    pub fn endpoint_url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        if let Some((s, rest)) = self.endpoint.split_once("://") {
            let rest = rest.trim_end_matches('/');
            let has_port = rest
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
                && !rest.ends_with(']');
            if has_port {
                return format!("{s}://{rest}");
            }
            return format!("{s}://{rest}:{}", self.port);
        }
        let host = if self.endpoint.contains(':') && !self.endpoint.starts_with('[') {
            format!("[{}]", self.endpoint)
        } else {
            self.endpoint.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }

    fn is_https(&self) -> bool {
        self.endpoint_url().starts_with("https://")
    }

    fn ca_certificates_pem(&self) -> Result<Option<Vec<u8>>> {
        match &self.ca_cert {
            None => Ok(None),
            Some(p) => std::fs::read(p)
                .map(Some)
                .with_context(|| format!("cannot read CA certificate file {}", p.display())),
        }
    }

    fn client_options(&self) -> Result<ClientOptions> {
        let mut opts = ClientOptions::new()
            .with_allow_http(!self.is_https())
            .with_connect_timeout(self.timeout)
            .with_read_timeout(self.timeout.saturating_mul(3))
            .with_timeout_disabled()
            .with_pool_idle_timeout(Duration::from_secs(30));
        if let Some(pem) = self.ca_certificates_pem()? {
            let certs = Certificate::from_pem_bundle(&pem).with_context(|| {
                format!(
                    "invalid PEM in CA certificate file {}",
                    display_opt(&self.ca_cert)
                )
            })?;
            if certs.is_empty() {
                bail!(
                    "no certificate in CA certificate file {}",
                    display_opt(&self.ca_cert)
                );
            }
            for c in certs {
                opts = opts.with_root_certificate(c);
            }
        }
        Ok(opts)
    }

    /// Builds an object-store client for `bucket` (path-style requests).
    pub fn store(&self, bucket: &str) -> Result<AmazonS3> {
        install_crypto_provider();
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.timeout.saturating_mul(6).max(Duration::from_secs(10)),
        };
        let mut b = AmazonS3Builder::new()
            .with_endpoint(self.endpoint_url())
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_virtual_hosted_style_request(false)
            .with_client_options(self.client_options()?)
            .with_retry(retry);
        match &self.credentials {
            Some(c) => {
                b = b
                    .with_access_key_id(&c.access_key)
                    .with_secret_access_key(c.secret_key.expose());
                if let Some(t) = &c.session_token {
                    b = b.with_token(t.expose());
                }
            }
            None => b = b.with_skip_signature(true),
        }
        b.build().with_context(|| {
            format!(
                "cannot configure S3 client for bucket '{bucket}' at {}",
                self.endpoint_url()
            )
        })
    }

    /// A plain HTTP client with the same TLS and timeout settings, for bucket-level requests.
    pub(crate) fn http_client(&self) -> Result<reqwest::Client> {
        install_crypto_provider();
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .read_timeout(self.timeout.saturating_mul(3));
        if let Some(pem) = self.ca_certificates_pem()? {
            for c in reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
                format!(
                    "invalid PEM in CA certificate file {}",
                    display_opt(&self.ca_cert)
                )
            })? {
                b = b.add_root_certificate(c);
            }
        }
        b.build().context("cannot build HTTP client")
    }
}

fn display_opt(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Bucket-level operations (existence check, creation) that `object_store` does not offer; requests
/// are signed with presigned URLs of the bucket root.
#[derive(Debug, Clone)]
pub struct Bucket {
    name: String,
    store: Arc<AmazonS3>,
    http: reqwest::Client,
    signed: bool,
    region: String,
    endpoint: String,
}

impl Bucket {
    /// Bucket handle over an existing store client.
    pub fn new(cfg: &S3Config, name: &str, store: Arc<AmazonS3>) -> Result<Self> {
        Ok(Self {
            name: name.to_string(),
            store,
            http: cfg.http_client()?,
            signed: cfg.credentials.is_some(),
            region: cfg.region.clone(),
            endpoint: cfg.endpoint_url(),
        })
    }

    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn url(&self, method: reqwest::Method) -> Result<reqwest::Url> {
        let url = if self.signed {
            self.store
                .signed_url(method, &Path::from(""), Duration::from_secs(300))
                .await
                .with_context(|| format!("cannot sign request for bucket '{}'", self.name))?
                .to_string()
        } else {
            format!("{}/{}/", self.endpoint, self.name)
        };
        reqwest::Url::parse(&url).with_context(|| format!("invalid bucket URL for '{}'", self.name))
    }

    /// `HEAD /bucket`: `Ok(true)` when it exists, `Ok(false)` on 404, an error otherwise (connection
    /// failure, 403, 5xx).
    pub async fn exists(&self) -> Result<bool> {
        let url = self.url(reqwest::Method::HEAD).await?;
        let resp = self
            .http
            .head(url)
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("cannot reach object store at {}", self.endpoint))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            s => bail!(
                "checking bucket '{}' at {} failed: HTTP {s}",
                self.name,
                self.endpoint
            ),
        }
    }

    /// Creates the bucket (with a `LocationConstraint` unless the region is `us-east-1` or empty).
    /// A bucket that already exists is success.
    pub async fn create(&self) -> Result<()> {
        let url = self.url(reqwest::Method::PUT).await?;
        let mut req = self.http.put(url);
        if !self.region.is_empty() && self.region != "us-east-1" {
            req = req.body(format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                xml_escape(&self.region)
            ));
        }
        let resp = req
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| format!("cannot reach object store at {}", self.endpoint))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        if status == 409
            && (body.contains("BucketAlreadyOwnedByYou") || body.contains("BucketAlreadyExists"))
        {
            return Ok(());
        }
        bail!(
            "creating bucket '{}' at {} failed: HTTP {status} {}",
            self.name,
            self.endpoint,
            s3_error_code(&body).unwrap_or_default()
        )
    }

    /// Creates the bucket when it does not exist.
    pub async fn ensure(&self) -> Result<()> {
        if !self.exists().await? {
            tracing::info!(bucket = %self.name, location = %self.region, "Creating bucket.");
            self.create().await?;
        }
        Ok(())
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `<Code>` of an S3 XML error body.
fn s3_error_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + 6;
    let end = body[start..].find("</Code>")? + start;
    Some(body[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        let mut c = S3Config {
            endpoint: "minio".into(),
            port: 9000,
            secure: false,
            ..Default::default()
        };
        assert_eq!(c.endpoint_url(), "http://minio:9000");
        c.secure = true;
        assert_eq!(c.endpoint_url(), "https://minio:9000");
        c.endpoint = "::1".into();
        assert_eq!(c.endpoint_url(), "https://[::1]:9000");
        c.endpoint = "http://host:81/".into();
        assert_eq!(c.endpoint_url(), "http://host:81");
        c.endpoint = "http://host".into();
        assert_eq!(c.endpoint_url(), "http://host:9000");
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Credentials {
            access_key: "AKIAEXAMPLE".into(),
            secret_key: Secret::new("supersecret"),
            session_token: Some(Secret::new("tok")),
        };
        let s = format!("{c:?} {}", c.secret_key);
        assert!(
            !s.contains("AKIAEXAMPLE") && !s.contains("supersecret") && !s.contains("tok\""),
            "{s}"
        );
    }

    #[test]
    fn key_resolution_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s3_access_key"), "fromsecret\n").unwrap();
        let src = KeySources {
            explicit: None,
            file: None,
            aws_env: None,
            secret: Some((dir.path().to_path_buf(), "s3_access_key")),
        };
        assert_eq!(resolve_key(&src).unwrap().as_deref(), Some("fromsecret"));
        // the k8s subdirectory wins when it exists, even if the file is missing there
        std::fs::create_dir(dir.path().join("k8s")).unwrap();
        assert_eq!(resolve_key(&src).unwrap(), None);
        std::fs::write(dir.path().join("k8s/s3_access_key"), "k8s\n\n").unwrap();
        assert_eq!(resolve_key(&src).unwrap().as_deref(), Some("k8s"));
        let explicit = KeySources {
            explicit: Some("cli".into()),
            ..src.clone()
        };
        assert_eq!(resolve_key(&explicit).unwrap().as_deref(), Some("cli"));
        let file = KeySources {
            file: Some(dir.path().join("missing")),
            ..src
        };
        let err = format!("{:#}", resolve_key(&file).unwrap_err());
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn error_code_extraction() {
        assert_eq!(
            s3_error_code("<Error><Code>AccessDenied</Code></Error>").as_deref(),
            Some("AccessDenied")
        );
        assert_eq!(s3_error_code("nope"), None);
    }
}
