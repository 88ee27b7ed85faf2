//! Where a process runs, from `/proc/<pid>/cgroup`: the path shapes systemd, Docker, Podman,
//! containerd, CRI-O, the kubelet and Slurm make, under cgroup v2 and v1 alike. A shape nobody
//! planned is a plain process, never an error.

use crate::wire::OwnerKind;

/// What a cgroup path says of a process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub kind: OwnerKind,
    /// The systemd unit, or a session's number.
    pub unit: Option<String>,
    pub engine: Option<&'static str>,
    pub container_id: Option<String>,
    pub pod_uid: Option<String>,
    pub slurm_job: Option<u64>,
    /// The uid a Slurm v1 path names (`uid_1000`).
    pub slurm_uid: Option<u32>,
}

/// Reads the placement out of a `/proc/<pid>/cgroup` file: the v2 line first, then the named
/// systemd hierarchy, then the controllers, the first that says more than "a process".
pub fn placement(cgroup_file: &str) -> Placement {
    let mut paths: Vec<(u8, &str)> = cgroup_file
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            let rank = match (id, controllers) {
                ("0", "") => 0,
                (_, "name=systemd") => 1,
                _ => 2,
            };
            Some((rank, path))
        })
        .collect();
    paths.sort_by_key(|(rank, _)| *rank);
    paths
        .into_iter()
        .map(|(_, path)| of_path(path))
        .find(|placement| placement.kind != OwnerKind::Process)
        .unwrap_or_default()
}

/// The placement one cgroup path describes.
pub fn of_path(path: &str) -> Placement {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    slurm(&segments)
        .or_else(|| kubernetes(&segments))
        .or_else(|| container(&segments))
        .or_else(|| systemd(&segments))
        .unwrap_or_default()
}

/// `system.slice/slurmstepd.scope/job_4242/step_0/user/task_0` (v2) or
/// `slurm/uid_1000/job_4242/step_0/task_0` (v1).
fn slurm(segments: &[&str]) -> Option<Placement> {
    if !segments.iter().any(|s| s.starts_with("slurm")) {
        return None;
    }
    let job = segments
        .iter()
        .find_map(|s| s.strip_prefix("job_")?.parse().ok())?;
    Some(Placement {
        kind: OwnerKind::Slurm,
        slurm_job: Some(job),
        slurm_uid: segments
            .iter()
            .find_map(|s| s.strip_prefix("uid_")?.parse().ok()),
        ..Placement::default()
    })
}

/// `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`
/// (the systemd driver, the UID's dashes written as underscores) or
/// `kubepods/burstable/pod<uid>/<id>` (cgroupfs).
fn kubernetes(segments: &[&str]) -> Option<Placement> {
    if !segments.iter().any(|s| s.starts_with("kubepods")) {
        return None;
    }
    let pod_uid = segments.iter().find_map(|s| {
        let s = s.strip_suffix(".slice").unwrap_or(s);
        let (_, uid) = s.rsplit_once("pod")?;
        looks_like_uid(uid).then(|| uid.replace('_', "-"))
    })?;
    let (engine, container_id) = segments
        .last()
        .and_then(|last| container_scope(last).or_else(|| bare_id(last).map(|id| (None, id))))
        .map_or((None, None), |(engine, id)| (engine, Some(id)));
    Some(Placement {
        kind: OwnerKind::Pod,
        engine,
        container_id,
        pod_uid: Some(pod_uid),
        ..Placement::default()
    })
}

/// A pod UID as the kubelet writes it: 36 characters of hex and dashes (or underscores).
fn looks_like_uid(text: &str) -> bool {
    text.len() == 36
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '-' || c == '_')
}

/// `docker-<id>.scope`, `libpod-<id>.scope`, `cri-containerd-<id>.scope`, `crio-<id>.scope`,
/// `nerdctl-<id>.scope` (the systemd driver) or `docker/<id>`, `libpod_parent/libpod-<id>`
/// (cgroupfs).
fn container(segments: &[&str]) -> Option<Placement> {
    let found = segments.iter().enumerate().find_map(|(i, segment)| {
        container_scope(segment).or_else(|| {
            let parent = i.checked_sub(1).map(|p| segments[p]);
            match parent {
                Some("docker") => bare_id(segment).map(|id| (Some("docker"), id)),
                Some("libpod_parent") => segment
                    .strip_prefix("libpod-")
                    .and_then(bare_id)
                    .map(|id| (Some("podman"), id)),
                _ => None,
            }
        })
    })?;
    Some(Placement {
        kind: OwnerKind::Container,
        engine: found.0,
        container_id: Some(found.1),
        ..Placement::default()
    })
}

/// A systemd scope a container engine made, and which engine: `conmon` scopes (Podman's monitor)
/// count as their container.
fn container_scope(segment: &str) -> Option<(Option<&'static str>, String)> {
    const PREFIXES: [(&str, &str); 7] = [
        ("docker-", "docker"),
        ("libpod-conmon-", "podman"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-conmon-", "cri-o"),
        ("crio-", "cri-o"),
        ("nerdctl-", "containerd"),
    ];
    let stem = segment.strip_suffix(".scope")?;
    PREFIXES.iter().find_map(|(prefix, engine)| {
        let id = bare_id(stem.strip_prefix(prefix)?)?;
        Some((Some(*engine), id))
    })
}

/// A container ID: 12 to 64 lowercase hex digits.
fn bare_id(text: &str) -> Option<String> {
    let ok = (12..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| text.to_owned())
}

/// The innermost systemd unit: a service of the system or of a user's manager, a login session,
/// or another scope.
fn systemd(segments: &[&str]) -> Option<Placement> {
    let (at, unit) = segments
        .iter()
        .enumerate()
        .rev()
        .find(|(_, s)| is_unit(s))?;
    let under_user_manager = segments[..at].iter().any(|s| is_user_manager(s));
    let unit = unescape(unit);
    let (kind, unit) = if let Some(number) = unit
        .strip_prefix("session-")
        .and_then(|s| s.strip_suffix(".scope"))
    {
        (OwnerKind::Session, number.to_owned())
    } else if unit.ends_with(".scope") {
        (OwnerKind::Scope, unit)
    } else if under_user_manager {
        (OwnerKind::UserService, unit)
    } else {
        (OwnerKind::Service, unit)
    };
    Some(Placement {
        kind,
        unit: Some(unit),
        ..Placement::default()
    })
}

fn is_unit(segment: &str) -> bool {
    segment.ends_with(".service") || segment.ends_with(".scope")
}

/// `user@1000.service`: a user's own systemd, whose services are that user's.
fn is_user_manager(segment: &str) -> bool {
    segment.starts_with("user@") && segment.ends_with(".service")
}

/// systemd writes some characters of unit names as `\xNN`.
fn unescape(unit: &str) -> String {
    let bytes = unit.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 2..i + 4)
            .filter(|_| bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x'))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e";

    fn kind_unit(path: &str) -> (OwnerKind, Option<String>) {
        let p = of_path(path);
        (p.kind, p.unit)
    }

    #[test]
    fn systemd_units_are_read_by_kind() {
        assert_eq!(
            kind_unit("/system.slice/train.service"),
            (OwnerKind::Service, Some("train.service".into()))
        );
        assert_eq!(
            kind_unit("/user.slice/user-1000.slice/session-3.scope"),
            (OwnerKind::Session, Some("3".into()))
        );
        assert_eq!(
            kind_unit("/user.slice/user-1000.slice/user@1000.service/app.slice/jupyter.service"),
            (OwnerKind::UserService, Some("jupyter.service".into()))
        );
        assert_eq!(
            kind_unit("/user.slice/user-1000.slice/user@1000.service/init.scope"),
            (OwnerKind::Scope, Some("init.scope".into()))
        );
        // The user's manager itself is that user's service.
        assert_eq!(
            kind_unit("/user.slice/user-1000.slice/user@1000.service"),
            (OwnerKind::Service, Some("user@1000.service".into()))
        );
        assert_eq!(
            kind_unit("/system.slice/system-getty.slice/getty@tty1.service"),
            (OwnerKind::Service, Some("getty@tty1.service".into()))
        );
        assert_eq!(
            kind_unit("/system.slice/run-r1a2\\x2db3.scope"),
            (OwnerKind::Scope, Some("run-r1a2-b3.scope".into()))
        );
        // A nested cgroup a service made for itself still belongs to the service.
        assert_eq!(
            kind_unit("/system.slice/train.service/workers/3"),
            (OwnerKind::Service, Some("train.service".into()))
        );
    }

    #[test]
    fn containers_are_read_with_their_engine_and_id() {
        for (path, engine) in [
            (format!("/system.slice/docker-{ID}.scope"), "docker"),
            (format!("/docker/{ID}"), "docker"),
            (format!("/machine.slice/libpod-{ID}.scope"), "podman"),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), "podman"),
            (
                format!(
                    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"
                ),
                "podman",
            ),
            (format!("/libpod_parent/libpod-{ID}"), "podman"),
            (format!("/system.slice/nerdctl-{ID}.scope"), "containerd"),
        ] {
            let p = of_path(&path);
            assert_eq!(p.kind, OwnerKind::Container, "{path}");
            assert_eq!(p.engine, Some(engine), "{path}");
            assert_eq!(p.container_id.as_deref(), Some(ID), "{path}");
        }
    }

    #[test]
    fn kubernetes_pods_are_read_under_either_driver() {
        let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let systemd_uid = uid.replace('-', "_");
        for (path, engine) in [
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{systemd_uid}.slice/cri-containerd-{ID}.scope"
                ),
                Some("containerd"),
            ),
            (
                format!("/kubepods.slice/kubepods-pod{systemd_uid}.slice/crio-{ID}.scope"),
                Some("cri-o"),
            ),
            (format!("/kubepods/besteffort/pod{uid}/{ID}"), None),
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{systemd_uid}.slice/docker-{ID}.scope"
                ),
                Some("docker"),
            ),
        ] {
            let p = of_path(&path);
            assert_eq!(p.kind, OwnerKind::Pod, "{path}");
            assert_eq!(p.pod_uid.as_deref(), Some(uid), "{path}");
            assert_eq!(p.container_id.as_deref(), Some(ID), "{path}");
            assert_eq!(p.engine, engine, "{path}");
        }
        // The pod's own slice, before a container is placed: a pod with no container yet.
        let pause = of_path(&format!("/kubepods.slice/kubepods-pod{systemd_uid}.slice"));
        assert_eq!((pause.kind, pause.container_id), (OwnerKind::Pod, None));
    }

    #[test]
    fn slurm_jobs_are_read_with_their_user_where_the_path_names_it() {
        let v2 = of_path("/system.slice/slurmstepd.scope/job_4242/step_0/user/task_0");
        assert_eq!(
            (v2.kind, v2.slurm_job, v2.slurm_uid),
            (OwnerKind::Slurm, Some(4242), None)
        );
        let v1 = of_path("/slurm/uid_1000/job_17/step_batch/task_0");
        assert_eq!(
            (v1.kind, v1.slurm_job, v1.slurm_uid),
            (OwnerKind::Slurm, Some(17), Some(1000))
        );
        // slurmstepd's own scope, outside any job, is a plain scope.
        assert_eq!(
            kind_unit("/system.slice/slurmstepd.scope/system"),
            (OwnerKind::Scope, Some("slurmstepd.scope".into()))
        );
    }

    #[test]
    fn shapes_nobody_planned_are_a_plain_process() {
        for path in [
            "/",
            "",
            "/process_api/b700c8e380b2d8fc8471cbd6c6e6ecd1",
            "/docker/not-an-id",
            "/system.slice/docker-xyz.scope/..",
            "/kubepods/burstable/podnot-a-uid/abc",
            "/slurm/job_notanumber",
            "/lxc.payload.web/init",
            "////",
            "/\u{0}\\x",
        ] {
            let p = of_path(path);
            assert!(
                matches!(p.kind, OwnerKind::Process | OwnerKind::Scope),
                "{path}: {p:?}"
            );
            assert_eq!(p.container_id, None, "{path}");
        }
    }

    #[test]
    fn the_v2_line_is_read_first_and_v1_where_it_says_nothing() {
        let hybrid =
            format!("9:name=systemd:/system.slice/train.service\n4:memory:/docker/{ID}\n0::/\n");
        let p = placement(&hybrid);
        assert_eq!(
            p.kind,
            OwnerKind::Service,
            "name=systemd before controllers"
        );
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(placement(&v2).kind, OwnerKind::Container);
        let v1_only = format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n");
        assert_eq!(placement(&v1_only).engine, Some("docker"));
        assert_eq!(placement("garbage\n::\n0::").kind, OwnerKind::Process);
    }
}
