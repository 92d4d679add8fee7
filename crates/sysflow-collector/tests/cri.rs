//! Container metadata from a CRI runtime socket. The runtime is stood in for by the `h2` crate's HTTP/2 server
//! speaking gRPC the way containerd and CRI-O do (headers, one length-prefixed protobuf message, `grpc-status`
//! trailers; errors as headers-only responses), so the collector's hand-written client is checked against a real
//! HTTP/2 implementation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use sysflow_collector::container::{describe, Runtimes};
use sysflow_format::ContainerType;

const ID: &str = "0123456789ab";

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, num: u64, b: &[u8]) {
    varint(out, num << 3 | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// `ContainerStatusResponse` for a running nginx container (verbose info as containerd gives it).
fn status_response() -> Vec<u8> {
    let mut meta = Vec::new();
    field(&mut meta, 1, b"web");
    let mut image = Vec::new();
    field(&mut image, 1, b"docker.io/library/nginx:1.25");
    let mut label = Vec::new();
    field(&mut label, 1, b"io.kubernetes.pod.name");
    field(&mut label, 2, b"web-0");
    let mut st = Vec::new();
    field(&mut st, 1, format!("{ID}{}", "c".repeat(52)).as_bytes());
    field(&mut st, 2, &meta);
    st.extend_from_slice(&[0x18, 1]);
    field(&mut st, 8, &image);
    field(
        &mut st,
        9,
        b"sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
    );
    field(&mut st, 12, &label);
    let mut info = Vec::new();
    field(&mut info, 1, b"info");
    // Big enough to span several HTTP/2 DATA frames.
    let spec = format!(
        r#"{{"pid":4242,"config":{{"linux":{{"security_context":{{"privileged":true}}}}}},"runtimeSpec":{{"pad":"{}"}}}}"#,
        "x".repeat(100_000)
    );
    field(&mut info, 2, spec.as_bytes());
    let mut resp = Vec::new();
    field(&mut resp, 1, &st);
    field(&mut resp, 2, &info);
    resp
}

/// Parses `ContainerStatusRequest.container_id` out of a gRPC-framed request body.
fn requested_id(body: &[u8]) -> Option<String> {
    let msg = body.get(5..)?;
    if msg.first() != Some(&0x0a) {
        return None;
    }
    let n = usize::from(*msg.get(1)?);
    Some(String::from_utf8_lossy(msg.get(2..2 + n)?).into_owned())
}

async fn serve_one(
    stream: tokio::net::UnixStream,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = h2::server::handshake(stream).await?;
    while let Some(req) = conn.accept().await {
        let (req, mut respond) = req?;
        assert_eq!(
            req.uri().path(),
            "/runtime.v1.RuntimeService/ContainerStatus"
        );
        assert_eq!(req.headers()["content-type"], "application/grpc");
        let mut body = req.into_body();
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            body.flow_control().release_capacity(chunk.len())?;
            data.extend_from_slice(&chunk);
        }
        let ok = requested_id(&data).is_some_and(|id| ID.starts_with(&id) || id.starts_with(ID));
        let head = http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc");
        if !ok {
            // gRPC "trailers-only" error: NOT_FOUND.
            let resp = head
                .header("grpc-status", "5")
                .header("grpc-message", "not found")
                .body(())?;
            respond.send_response(resp, true)?;
            continue;
        }
        let mut send = respond.send_response(head.body(())?, false)?;
        let msg = status_response();
        let mut framed = vec![0];
        framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        framed.extend_from_slice(&msg);
        send.reserve_capacity(framed.len());
        send.send_data(Bytes::from(framed), false)?;
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        send.send_trailers(trailers)?;
    }
    Ok(())
}

/// Starts the stand-in runtime on `sock` in a background thread.
fn start_runtime(sock: &Path) {
    let listener = std::os::unix::net::UnixListener::bind(sock).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::UnixListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    if let Err(e) = serve_one(stream).await {
                        eprintln!("stand-in runtime: {e}");
                    }
                });
            }
        });
    });
}

fn runtimes(cri: Vec<PathBuf>) -> Runtimes {
    Runtimes {
        cri,
        timeout: Duration::from_secs(5),
        ..Runtimes::none()
    }
}

#[test]
fn container_name_and_image_come_from_the_cri_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("containerd.sock");
    start_runtime(&sock);
    let c = describe(ID, ContainerType::Containerd, &runtimes(vec![sock.clone()]));
    assert_eq!(c.id, ID);
    assert_eq!(c.name, "web");
    assert_eq!(c.image, "docker.io/library/nginx:1.25");
    assert!(c.imageid.starts_with("sha256:4c0fdaa8"));
    assert!(c.privileged);
    assert_eq!(c.container_type, ContainerType::Containerd);
    // A bare cgroupfs id (typed Docker by the cgroup layout) is found through the CRI socket too.
    let c = describe(ID, ContainerType::Docker, &runtimes(vec![sock.clone()]));
    assert_eq!(
        (c.name.as_str(), c.container_type),
        ("web", ContainerType::Containerd)
    );
    // Unknown to the runtime: the reference's placeholders.
    let c = describe(
        "ffffffffffff",
        ContainerType::Containerd,
        &runtimes(vec![sock]),
    );
    assert_eq!(
        (c.name.as_str(), c.image.as_str()),
        ("incomplete", "incomplete:incomplete")
    );
}

#[test]
fn a_crio_socket_gives_the_crio_type_and_a_dead_socket_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = dir.path().join("dead.sock");
    // Bound but never accepted: the query times out and the next socket is asked.
    let _silent = std::os::unix::net::UnixListener::bind(&dead).expect("bind");
    let sock = dir.path().join("crio.sock");
    start_runtime(&sock);
    let mut rt = runtimes(vec![dead, dir.path().join("missing.sock"), sock]);
    rt.timeout = Duration::from_millis(300);
    let c = describe(ID, ContainerType::Crio, &rt);
    assert_eq!(
        (c.name.as_str(), c.container_type),
        ("web", ContainerType::Crio)
    );
}
