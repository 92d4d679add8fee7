//! The syslog exporter against a real rsyslog daemon (Debian `rsyslog` + `rsyslog-gnutls`), started by the test on
//! loopback ports: UDP, TCP and TLS.

mod common;

/// rsyslog instances of different tests interfere under load (ports picked by bind-and-drop can collide):
/// the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sysflow_processor::pipeline::RunOptions;

/// A private rsyslogd; killed on drop.
struct Rsyslog {
    child: Child,
    log: PathBuf,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    // Bind both protocols to be sure the number is free for each.
    loop {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Starts rsyslogd with `inputs` (config lines) writing every message to `dir/messages.log`, one line each:
/// `hostname|app-name|procid|msgid|facility|severity|msg`.
fn start(dir: &Path, name: &str, globals: &str, inputs: &str, tcp_port: u16) -> Rsyslog {
    let bin = rsyslogd().unwrap();
    let work = dir.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).unwrap();
    let log = dir.join(format!("{name}.log"));
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}" maxMessageSize="64k" {globals})
{inputs}
template(name="fields" type="string" string="%hostname%|%app-name%|%procid%|%msgid%|%syslogfacility-text%|%syslogseverity-text%|%msg%\n")
*.* action(type="omfile" file="{log}" template="fields")
"#,
            work = work.display(),
            log = log.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join(format!("{name}.pid")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Rsyslog { child, log };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", tcp_port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "rsyslogd did not start listening on {tcp_port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

fn run_syslog(dir: &Path, res: &Path, proto: &str, port: u16, log: &Path) {
    let out_keys = format!(
        r#","export":"syslog","syslog.proto":"{proto}","syslog.host":"127.0.0.1","syslog.port":"{port}","syslog.source":"sfsource","buffer":"2""#
    );
    let keys = format!(
        r#","mode":"alert","policies":"{}""#,
        res.join("policies/runtimeintegrity").display()
    );
    // The file keys of simple_pipeline are overridden by the syslog keys (the later duplicate key wins in serde_json).
    let text =
        simple_pipeline(&keys, &out_keys, &dir.join("unused")).replace(r#""export":"file","#, "");
    let before_run = std::fs::read_to_string(log)
        .map(|t| t.lines().filter(|l| l.starts_with("sfsource|")).count())
        .unwrap_or(0);
    let report = run_file(
        build(dir, &text, RunOptions::default()),
        &trace(res, "shellshock.sf"),
    );
    let (_, stats) = &report.exporters[0];
    assert_eq!(stats.errors, 0, "{proto}");
    let sent = stats.sent as usize;
    assert!(sent > 0, "{proto}: alerts sent");
    let start = Instant::now();
    let lines = loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("sfsource|"))
            .map(String::from)
            .collect();
        let lines: Vec<String> = lines.into_iter().skip(before_run).collect();
        if lines.len() >= sent || start.elapsed() > Duration::from_secs(20) {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        lines.len(),
        sent,
        "{proto}: messages received by rsyslog:\n{}",
        lines.join("\n")
    );
    for l in &lines {
        let parts: Vec<&str> = l.splitn(7, '|').collect();
        assert_eq!(
            parts[..6],
            [
                "sfsource",
                "sysflow",
                &std::process::id().to_string(),
                "sysflow",
                "daemon",
                "alert"
            ],
            "{l}"
        );
        let v: serde_json::Value =
            serde_json::from_str(parts[6]).unwrap_or_else(|e| panic!("{proto}: {e}: {}", parts[6]));
        assert!(v["policies"].is_array(), "{proto}: {v}");
    }
}

#[test]
fn syslog_udp_and_tcp_to_rsyslog() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(res) = resources() else { return };
    if rsyslogd().is_none() {
        eprintln!("SKIP: rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (udp, tcp) = (free_port(), free_port());
    let inputs = format!(
        r#"module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")"#
    );
    let daemon = start(dir.path(), "plain", "", &inputs, tcp);
    run_syslog(dir.path(), &res, "udp", udp, &daemon.log);
    run_syslog(dir.path(), &res, "tcp", tcp, &daemon.log);
}

#[test]
fn syslog_tls_to_rsyslog() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(res) = resources() else { return };
    if rsyslogd().is_none()
        || !Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists() && !has_gtls()
    {
        eprintln!("SKIP: rsyslogd or its gnutls driver not installed (apt-get install rsyslog rsyslog-gnutls)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: openssl is needed to make the test certificate");
        return;
    }
    let tls = free_port();
    let globals = format!(
        r#"defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{c}" defaultNetstreamDriverCertFile="{c}" defaultNetstreamDriverKeyFile="{k}""#,
        c = cert.display(),
        k = key.display()
    );
    let inputs = format!(
        r#"module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="{tls}")"#
    );
    let daemon = start(dir.path(), "tls", &globals, &inputs, tls);
    run_syslog(dir.path(), &res, "tls", tls, &daemon.log);
}

fn has_gtls() -> bool {
    [
        "/usr/lib/rsyslog/lmnsd_gtls.so",
        "/usr/lib64/rsyslog/lmnsd_gtls.so",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

#[test]
fn syslog_tcp_reconnects_after_an_outage() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use sysflow_processor::config::{ExportTarget, SyslogConfig, SyslogProto};
    use sysflow_processor::transport::Transport;
    if rsyslogd().is_none() {
        eprintln!("SKIP: rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tcp = free_port();
    let inputs = format!(
        "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tcp}\")"
    );
    let target = ExportTarget::Syslog(SyslogConfig {
        proto: SyslogProto::Tcp,
        tag: "sysflow".into(),
        source: "sfsource".into(),
        host: "127.0.0.1".into(),
        port: tcp,
    });
    let received = |log: &Path, what: &str| {
        let start = Instant::now();
        loop {
            if std::fs::read_to_string(log)
                .unwrap_or_default()
                .contains(what)
            {
                return true;
            }
            if start.elapsed() > Duration::from_secs(20) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = start(dir.path(), "before", "", &inputs, tcp);
    let mut transport = Transport::open(&target).unwrap();
    transport.export(&[b"message-before".to_vec()]).unwrap();
    assert!(received(&first.log, "message-before"));
    drop(first);
    // While the server is down, deliveries fail (the first write may still land in the socket buffer).
    let mut failed = false;
    for i in 0..20 {
        if transport
            .export(&[format!("message-lost-{i}").into_bytes()])
            .is_err()
        {
            failed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(failed, "exports fail while rsyslog is down");
    let second = start(dir.path(), "after", "", &inputs, tcp);
    // The next delivery reconnects.
    transport.export(&[b"message-after".to_vec()]).unwrap();
    assert!(
        received(&second.log, "message-after"),
        "delivered after the reconnect"
    );
}
