//! Exporter transports: where encoded records go.
//!
//! Every transport receives a batch of encoded records (one message each) and delivers them in order:
//!
//! * [`Transport::Terminal`] — one record per line on stdout.
//! * [`Transport::File`] — one record per line in `file.path` (the file is deleted when the exporter starts).
//! * [`Transport::Syslog`] — one RFC 5424 message per record, facility DAEMON, severity ALERT, APP-NAME and MSGID =
//!   `syslog.tag`, PROCID = our pid, HOSTNAME = `syslog.source` or this host's name; over UDP, TCP (newline framing)
//!   or TLS (certificate not verified, as in the reference).
//! * [`Transport::Null`] — discard.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fasyslog::sender::{NativeTlsSender, TcpSender, UdpSender};
use fasyslog::{Facility, Severity};

use crate::config::{ExportTarget, SyslogConfig, SyslogProto};

/// Counters every transport keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Records delivered.
    pub sent: u64,
    /// Bytes delivered (payloads, without framing).
    pub bytes: u64,
    /// Failed deliveries (a failed batch counts each of its records).
    pub errors: u64,
}

/// A syslog connection.
enum SyslogSender {
    Udp(UdpSender),
    Tcp(TcpSender),
    Tls(Box<NativeTlsSender>),
}

/// Syslog transport state: the configuration and the current connection (re-established after a failure).
pub struct SyslogTransport {
    config: SyslogConfig,
    hostname: String,
    sender: Option<SyslogSender>,
}

impl SyslogTransport {
    /// Connects (the reference connects at start-up, so an unreachable server is an error then).
    pub fn connect(config: &SyslogConfig) -> Result<SyslogTransport> {
        let hostname = if config.source.is_empty() {
            local_hostname()
        } else {
            config.source.clone()
        };
        let mut t = SyslogTransport {
            config: config.clone(),
            hostname,
            sender: None,
        };
        t.sender = Some(t.open().with_context(|| {
            format!(
                "cannot connect to syslog {:?} {}:{}",
                t.config.proto, t.config.host, t.config.port
            )
        })?);
        Ok(t)
    }

    fn open(&self) -> io::Result<SyslogSender> {
        let addr: SocketAddr = (self.config.host.as_str(), self.config.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host name did not resolve"))?;
        let mut sender = match self.config.proto {
            SyslogProto::Udp => {
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                SyslogSender::Udp(fasyslog::sender::udp(local, addr)?)
            }
            SyslogProto::Tcp => {
                let mut s = fasyslog::sender::tcp(addr)?;
                s.set_postfix("\n");
                SyslogSender::Tcp(s)
            }
            SyslogProto::Tls => {
                let mut builder = native_tls::TlsConnector::builder();
                builder
                    .danger_accept_invalid_certs(true)
                    .danger_accept_invalid_hostnames(true);
                let mut s = fasyslog::sender::native_tls_with(addr, &self.config.host, builder)?;
                s.set_postfix("\n");
                SyslogSender::Tls(Box::new(s))
            }
        };
        let ctx = match &mut sender {
            SyslogSender::Udp(s) => s.mut_context(),
            SyslogSender::Tcp(s) => s.mut_context(),
            SyslogSender::Tls(s) => s.mut_context(),
        };
        ctx.facility(Facility::DAEMON)
            .hostname(self.hostname.clone())
            .appname(self.config.tag.clone())
            .procid(std::process::id().to_string());
        Ok(sender)
    }

    fn send_all(&mut self, msgs: &[Vec<u8>]) -> io::Result<()> {
        if self.sender.is_none() {
            self.sender = Some(self.open()?);
        }
        let tag = self.config.tag.clone();
        let Some(sender) = self.sender.as_mut() else {
            return Ok(());
        };
        let result = (|| {
            for m in msgs {
                let text = String::from_utf8_lossy(m);
                let elements = Vec::new();
                match sender {
                    SyslogSender::Udp(s) => {
                        s.send_rfc5424(Severity::ALERT, Some(tag.as_str()), elements, text)?
                    }
                    SyslogSender::Tcp(s) => {
                        s.send_rfc5424(Severity::ALERT, Some(tag.as_str()), elements, text)?
                    }
                    SyslogSender::Tls(s) => {
                        s.send_rfc5424(Severity::ALERT, Some(tag.as_str()), elements, text)?
                    }
                }
            }
            match sender {
                SyslogSender::Udp(_) => Ok(()),
                SyslogSender::Tcp(s) => s.flush(),
                SyslogSender::Tls(s) => s.flush(),
            }
        })();
        if result.is_err() {
            // Reconnect on the next batch.
            self.sender = None;
        }
        result
    }
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// A transport.
pub enum Transport {
    /// stdout, one record per line.
    Terminal,
    /// A file, one record per line.
    File {
        /// The path (for errors).
        path: PathBuf,
        /// The open file.
        out: BufWriter<File>,
    },
    /// Syslog.
    Syslog(SyslogTransport),
    /// Discard.
    Null,
}

impl Transport {
    /// Opens the transport of an exporter (deletes the output file, connects to syslog).
    pub fn open(target: &ExportTarget) -> Result<Transport> {
        Ok(match target {
            ExportTarget::Terminal => Transport::Terminal,
            ExportTarget::Null => Transport::Null,
            ExportTarget::File(path) => Transport::File {
                path: path.clone(),
                out: BufWriter::new(open_fresh(path)?),
            },
            ExportTarget::Syslog(cfg) => Transport::Syslog(SyslogTransport::connect(cfg)?),
        })
    }

    /// Delivers a batch of messages, in order.
    pub fn export(&mut self, msgs: &[Vec<u8>]) -> io::Result<()> {
        match self {
            Transport::Null => Ok(()),
            Transport::Terminal => {
                let stdout = io::stdout();
                let mut out = stdout.lock();
                write_lines(&mut out, msgs)?;
                out.flush()
            }
            Transport::File { out, .. } => {
                write_lines(out, msgs)?;
                out.flush()
            }
            Transport::Syslog(s) => s.send_all(msgs),
        }
    }

    /// A name for logs.
    pub fn describe(&self) -> String {
        match self {
            Transport::Terminal => "terminal".into(),
            Transport::Null => "null".into(),
            Transport::File { path, .. } => format!("file {}", path.display()),
            Transport::Syslog(s) => format!(
                "syslog {:?} {}:{}",
                s.config.proto, s.config.host, s.config.port
            ),
        }
    }
}

fn write_lines(out: &mut impl Write, msgs: &[Vec<u8>]) -> io::Result<()> {
    for m in msgs {
        out.write_all(m)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn open_fresh(path: &Path) -> Result<File> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot delete the old output file {}", path.display()))
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot create the output file {}", path.display()))
}
