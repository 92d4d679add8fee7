//! Container ids from cgroup paths, and container metadata from the runtime's socket when one is present: docker
//! and podman (the Docker-compatible API, HTTP/1.0) and containerd and CRI-O (the CRI, see [`crate::cri`]).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
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

/// The container runtimes' sockets to ask for metadata (each one only if it exists).
#[derive(Debug, Clone, Default)]
pub struct Runtimes {
    /// Docker Engine API socket.
    pub docker: Option<PathBuf>,
    /// Podman's Docker-compatible API socket.
    pub podman: Option<PathBuf>,
    /// CRI sockets (containerd, CRI-O), asked in order.
    pub cri: Vec<PathBuf>,
    /// Timeout of one query.
    pub timeout: Duration,
}

impl Runtimes {
    /// The sockets present under `host_root` (empty: `/`) at the runtimes' default paths; `cri_path` (`-p`) is asked
    /// first when given.
    pub fn detect(host_root: &Path, cri_path: Option<&Path>, timeout: Duration) -> Runtimes {
        let at = |p: &str| {
            let full = if host_root.as_os_str().is_empty() {
                PathBuf::from(p)
            } else {
                host_root.join(p.trim_start_matches('/'))
            };
            full.exists().then_some(full)
        };
        let mut cri: Vec<PathBuf> = cri_path
            .map(|p| {
                if host_root.as_os_str().is_empty() || p.starts_with(host_root) {
                    p.to_path_buf()
                } else {
                    host_root.join(p.strip_prefix("/").unwrap_or(p))
                }
            })
            .into_iter()
            .collect();
        for p in [
            "/run/containerd/containerd.sock",
            "/var/run/crio/crio.sock",
            "/run/k3s/containerd/containerd.sock",
        ] {
            if let Some(p) = at(p) {
                if !cri.contains(&p) {
                    cri.push(p);
                }
            }
        }
        Runtimes {
            docker: at("/var/run/docker.sock"),
            podman: at("/run/podman/podman.sock"),
            cri,
            timeout,
        }
    }

    /// No runtime is asked (ids only).
    pub fn none() -> Runtimes {
        Runtimes::default()
    }
}

/// The Container record of `id`: filled from the first runtime socket that knows the container (the one matching
/// the cgroup layout first), else the reference's "incomplete" placeholders.
pub fn describe(id: &str, ty: ContainerType, rt: &Runtimes) -> Container {
    let timeout = if rt.timeout.is_zero() {
        Duration::from_secs(2)
    } else {
        rt.timeout
    };
    let docker = || {
        rt.docker
            .as_deref()
            .and_then(|s| docker_inspect(s, id, ContainerType::Docker, timeout))
    };
    let podman = || {
        rt.podman
            .as_deref()
            .and_then(|s| docker_inspect(s, id, ContainerType::Custom, timeout))
    };
    let cri = || rt.cri.iter().find_map(|s| cri_inspect(s, id, timeout));
    let found = match ty {
        ContainerType::Containerd | ContainerType::Crio => cri().or_else(docker),
        ContainerType::Custom => podman().or_else(docker),
        // A bare 64-hex cgroup component (cgroupfs driver) may belong to any runtime.
        _ => docker().or_else(cri).or_else(podman),
    };
    found.unwrap_or_else(|| Container {
        id: id.to_string(),
        name: "incomplete".to_string(),
        image: "incomplete:incomplete".to_string(),
        imageid: "incomplete".to_string(),
        container_type: ty,
        privileged: false,
        pod_id: None,
    })
}

/// A container from a CRI runtime; the type follows the socket (CRI-O's is named `crio.sock`).
fn cri_inspect(sock: &Path, id: &str, timeout: Duration) -> Option<Container> {
    let c = match crate::cri::container_status(sock, id, timeout) {
        Ok(c) => c?,
        Err(e) => {
            tracing::debug!("CRI query to {} for {id} failed: {e}", sock.display());
            return None;
        }
    };
    let crio = sock
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("crio"));
    Some(Container {
        id: id.to_string(),
        name: c.name,
        image: c.image,
        imageid: c.image_ref,
        container_type: if crio {
            ContainerType::Crio
        } else {
            ContainerType::Containerd
        },
        privileged: c.privileged,
        pod_id: None,
    })
}

/// `GET /containers/<id>/json` over a Docker-compatible API socket (docker, podman; HTTP/1.0).
fn docker_inspect(
    sock: &Path,
    id: &str,
    ty: ContainerType,
    timeout: Duration,
) -> Option<Container> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
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
        container_type: ty,
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
        let rt = Runtimes {
            docker: Some(PathBuf::from("/nonexistent/docker.sock")),
            podman: Some(PathBuf::from("/nonexistent/podman.sock")),
            cri: vec![PathBuf::from("/nonexistent/containerd.sock")],
            timeout: Duration::from_secs(1),
        };
        let c = describe("0123456789ab", ContainerType::Docker, &rt);
        assert_eq!(c.name, "incomplete");
        assert_eq!(c.image, "incomplete:incomplete");
    }
}
