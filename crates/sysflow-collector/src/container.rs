//! Container ids from cgroup paths, and container metadata from the docker socket when it is present.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use sysflow_format::{Container, ContainerType};

/// Recognizes a container id in one cgroup path component (docker, containerd/CRI, cri-o, podman layouts).
/// Returns the 12-character id and the runtime.
pub fn id_from_component(c: &str) -> Option<(String, ContainerType)> {
    let c = c.strip_suffix(".scope").unwrap_or(c);
    let (rest, ty) = if let Some(r) = c.strip_prefix("docker-") {
        (r, ContainerType::Docker)
    } else if let Some(r) = c.strip_prefix("cri-containerd-") {
        (r, ContainerType::Containerd)
    } else if let Some(r) = c.strip_prefix("crio-") {
        (r, ContainerType::Crio)
    } else if let Some(r) = c.strip_prefix("libpod-") {
        (r, ContainerType::Custom)
    } else {
        (c, ContainerType::Docker)
    };
    // a containerd-style "<ns>:cri-containerd:<id>" systemd slice path
    let rest = rest.rsplit(':').next().unwrap_or(rest);
    if rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some((rest[..12].to_string(), ty))
    } else {
        None
    }
}

/// Looks for a container id in cgroup paths (last matching component wins).
pub fn id_from_cgroups<'a>(
    paths: impl IntoIterator<Item = &'a str>,
) -> Option<(String, ContainerType)> {
    let mut found = None;
    for p in paths {
        for c in p.split('/') {
            if let Some(x) = id_from_component(c) {
                found = Some(x);
            }
        }
    }
    found
}

/// The Container record of `id`: filled from the docker socket when `docker_sock` answers, else the reference's
/// "incomplete" placeholders.
pub fn describe(id: &str, ty: ContainerType, docker_sock: Option<&Path>) -> Container {
    if ty == ContainerType::Docker {
        if let Some(sock) = docker_sock {
            if let Some(c) = docker_inspect(sock, id) {
                return c;
            }
        }
    }
    Container {
        id: id.to_string(),
        name: "incomplete".to_string(),
        image: "incomplete:incomplete".to_string(),
        imageid: "incomplete".to_string(),
        container_type: ty,
        privileged: false,
        pod_id: None,
    }
}

/// `GET /containers/<id>/json` over the docker unix socket (HTTP/1.0, 2 s timeout).
fn docker_inspect(sock: &Path, id: &str) -> Option<Container> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET /containers/{id}/json HTTP/1.0\r\nHost: docker\r\n\r\n"
    )
    .ok()?;
    let mut resp = Vec::new();
    s.take(4 << 20).read_to_end(&mut resp).ok()?;
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.") || head.split_whitespace().nth(1).is_none_or(|c| c != "200") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let name = v
        .get("Name")
        .and_then(|n| n.as_str())
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let image = v
        .pointer("/Config/Image")
        .and_then(|n| n.as_str())
        .unwrap_or("")
        .to_string();
    let imageid = v
        .get("Image")
        .and_then(|n| n.as_str())
        .unwrap_or("")
        .to_string();
    let privileged = v
        .pointer("/HostConfig/Privileged")
        .and_then(|n| n.as_bool())
        .unwrap_or(false);
    Some(Container {
        id: id.to_string(),
        name,
        image,
        imageid,
        container_type: ContainerType::Docker,
        privileged,
        pod_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn recognizes_runtime_layouts() {
        assert_eq!(
            id_from_component(&format!("docker-{ID}.scope")),
            Some(("0123456789ab".into(), ContainerType::Docker))
        );
        assert_eq!(
            id_from_component(ID),
            Some(("0123456789ab".into(), ContainerType::Docker))
        );
        assert_eq!(
            id_from_component(&format!("cri-containerd-{ID}.scope")),
            Some(("0123456789ab".into(), ContainerType::Containerd))
        );
        assert_eq!(
            id_from_component(&format!("crio-{ID}.scope")),
            Some(("0123456789ab".into(), ContainerType::Crio))
        );
        assert_eq!(id_from_component("user.slice"), None);
        assert_eq!(id_from_component("session-3.scope"), None);
        assert_eq!(
            id_from_cgroups([format!("/kubepods/besteffort/pod1/{ID}").as_str()]).map(|x| x.0),
            Some("0123456789ab".to_string())
        );
        assert_eq!(
            id_from_cgroups(["/user.slice/user-0.slice/session-1.scope"]),
            None
        );
    }

    #[test]
    fn missing_runtime_socket_gives_placeholders() {
        let c = describe(
            "0123456789ab",
            ContainerType::Docker,
            Some(Path::new("/nonexistent/docker.sock")),
        );
        assert_eq!(c.name, "incomplete");
        assert_eq!(c.image, "incomplete:incomplete");
    }
}
