//! TLS with a private CA: a TLS-terminating proxy (rustls, certificate from a throw-away CA) in front
//! of s3s-fs; the exporter and the reader trust the CA only through `--cacert`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use sysflow_export::{Exporter, S3Source};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

struct Pki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: PrivateKeyDer<'static>,
}

fn make_pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sysflow-export test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let srv_key = KeyPair::generate().unwrap();
    let srv_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let srv_cert = srv_params.signed_by(&srv_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert: srv_cert.der().clone(),
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(srv_key.serialize_der())),
    }
}

/// Starts a TLS proxy to `backend_port` on a runtime thread; returns its port.
fn start_tls_proxy(pki: &Pki, backend_port: u16) -> u16 {
    sysflow_export::store::install_crypto_provider();
    let cfg = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = std_listener.local_addr().unwrap().port();
    std_listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(sock).await else {
                        return;
                    };
                    let Ok(mut backend) =
                        tokio::net::TcpStream::connect(("127.0.0.1", backend_port)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
                });
            }
        });
    });
    port
}

#[test]
fn uploads_and_reads_over_tls_with_a_private_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = S3Server::start(&tmp.path().join("s3")) else {
        return;
    };
    let pki = make_pki();
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let tls_port = start_tls_proxy(&pki, server.port);
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..3u64 {
        std::fs::write(
            dir.join((1_730_000_000 + i).to_string()),
            payload(i, 40_000),
        )
        .unwrap();
    }
    let mut s3 = server.config();
    s3.port = tls_port;
    s3.secure = true;
    s3.timeout = Duration::from_secs(2);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);

    // Without the CA the certificate is not trusted: nothing leaves, nothing is deleted.
    let mut untrusted = Exporter::new(export_config(s3.clone(), &dir, "tlsbucket")).unwrap();
    assert!(!rt.block_on(untrusted.run_cycle(&stop)));
    assert_eq!(local_files(&dir).len(), 3);

    s3.ca_cert = Some(ca_file.clone());
    let mut ex = Exporter::new(export_config(s3.clone(), &dir, "tlsbucket")).unwrap();
    assert!(rt.block_on(ex.run_cycle(&stop)), "{:?}", ex.stats());
    assert_eq!(ex.stats().uploaded_files, 2);
    drop(rt);

    let src = S3Source::open(&s3, "tlsbucket").unwrap();
    let objs = src.list().unwrap();
    assert_eq!(objs.len(), 2);
    for (i, o) in objs.iter().enumerate() {
        assert_eq!(src.read_all(o).unwrap(), payload(i as u64, 40_000));
    }
    // A CA file without certificates is a configuration error, reported with the file name.
    let bad = tmp.path().join("empty.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    s3.ca_cert = Some(bad);
    let err = format!("{:#}", S3Source::open(&s3, "tlsbucket").unwrap_err());
    assert!(err.contains("empty.pem"), "{err}");
}
