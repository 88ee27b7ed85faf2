//! Who a process belongs to: the person, where it runs (a systemd unit, a container, a Kubernetes
//! pod, a Slurm job) and the emitted job it is part of, and the one readable line that says so.

use serde::{Deserialize, Serialize};

/// Where a process runs, as its cgroup says.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// Nothing more than its user: a plain process, or a cgroup of a shape nobody planned.
    #[default]
    Process,
    /// A systemd service of the system (`system.slice/train.service`).
    Service,
    /// A systemd service of a user's own manager (`user@1000.service/…/jupyter.service`).
    UserService,
    /// A login session (`session-3.scope`).
    Session,
    /// Any other systemd scope.
    Scope,
    /// A container of Docker, Podman, containerd or CRI-O.
    Container,
    /// A container of a Kubernetes pod.
    Pod,
    /// A Slurm job's step.
    Slurm,
}

/// A process's owner. `line` is what the page shows ("alice · train.service"); the other fields are
/// its parts, for the API, the accounting and anyone who filters on them. Only `line` is read back
/// from JSON: it is all the page needs, and reading the parts too would cost the dashboard's
/// WASM its budget; readers of the API have the parts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ProcessOwner {
    pub line: String,
    /// The person: the login user (`loginuid`) when the process runs under another uid, else the
    /// uid's name, else `uid N` for a uid with no name.
    #[serde(skip_deserializing)]
    pub user: String,
    /// The uid's name when the person logged in as someone else (a service account, root).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub runs_as: Option<String>,
    #[serde(skip_deserializing)]
    pub kind: OwnerKind,
    /// The systemd unit (`train.service`, `session-3.scope`), or the session's number.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// `docker`, `podman`, `containerd` or `cri-o`.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The container's name and image, where its engine answered.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The Kubernetes pod's UID, and `namespace/name` where the engine's labels say it.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<u64>,
    /// The emitted job (its channel, `jobs/…`) the process or one of its parents was declared by.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// How many hex digits of a container ID are shown, as `docker ps` shows them.
pub const SHORT_ID: usize = 12;

impl ProcessOwner {
    /// Where it runs, in words ("train.service", "container web-llm (vllm/vllm-openai)", "Slurm job
    /// 4242"), or None for a plain process: the owner the accounting books besides the person.
    pub fn place(&self) -> Option<String> {
        let short = |id: &Option<String>| {
            id.as_deref()
                .map(|id| id.chars().take(SHORT_ID).collect::<String>())
        };
        let container = || {
            let named = self
                .container_name
                .clone()
                .or_else(|| short(&self.container_id));
            match (named, &self.image) {
                (Some(name), Some(image)) => format!("{name} ({image})"),
                (Some(name), None) => name,
                (None, _) => "unknown".into(),
            }
        };
        match self.kind {
            OwnerKind::Process => None,
            OwnerKind::Service | OwnerKind::UserService | OwnerKind::Scope => self.unit.clone(),
            OwnerKind::Session => self.unit.as_ref().map(|n| format!("session {n}")),
            OwnerKind::Container => Some(format!("container {}", container())),
            OwnerKind::Pod => Some(match &self.pod {
                Some(pod) => format!("pod {pod} container {}", container()),
                None => format!(
                    "pod {} container {}",
                    short(&self.pod_uid).unwrap_or_else(|| "unknown".into()),
                    container()
                ),
            }),
            OwnerKind::Slurm => self.slurm_job.map(|job| format!("Slurm job {job}")),
        }
    }

    /// The one readable line: the person (and whom they run as), where, and the job.
    pub fn compose_line(&self) -> String {
        let mut parts = vec![match &self.runs_as {
            Some(account) => format!("{} (as {account})", self.user),
            None => self.user.clone(),
        }];
        parts.extend(self.place());
        parts.extend(
            self.job
                .as_deref()
                .map(|job| format!("job {}", job.strip_prefix("jobs/").unwrap_or(job))),
        );
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(kind: OwnerKind) -> ProcessOwner {
        ProcessOwner {
            user: "alice".into(),
            kind,
            ..Default::default()
        }
    }

    #[test]
    fn lines_read_as_people_say_them() {
        let service = ProcessOwner {
            unit: Some("train.service".into()),
            ..owner(OwnerKind::Service)
        };
        assert_eq!(service.compose_line(), "alice · train.service");
        let container = ProcessOwner {
            user: "bob".into(),
            engine: Some("docker".into()),
            container_id: Some("3f2a9c1b7d4e5f60718293a4b5c6d7e8".into()),
            container_name: Some("web-llm".into()),
            image: Some("vllm/vllm-openai".into()),
            ..owner(OwnerKind::Container)
        };
        assert_eq!(
            container.compose_line(),
            "bob · container web-llm (vllm/vllm-openai)"
        );
        let unnamed = ProcessOwner {
            container_name: None,
            image: None,
            ..container.clone()
        };
        assert_eq!(unnamed.compose_line(), "bob · container 3f2a9c1b7d4e");
        let slurm = ProcessOwner {
            user: "carol".into(),
            slurm_job: Some(4242),
            ..owner(OwnerKind::Slurm)
        };
        assert_eq!(slurm.compose_line(), "carol · Slurm job 4242");
        let session = ProcessOwner {
            unit: Some("3".into()),
            runs_as: Some("root".into()),
            job: Some("jobs/train-1".into()),
            ..owner(OwnerKind::Session)
        };
        assert_eq!(
            session.compose_line(),
            "alice (as root) · session 3 · job train-1"
        );
        let pod = ProcessOwner {
            pod_uid: Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()),
            container_id: Some("ab".repeat(32)),
            ..owner(OwnerKind::Pod)
        };
        assert_eq!(
            pod.compose_line(),
            "alice · pod 0f1e2d3c-4b5 container abababababab"
        );
        assert_eq!(owner(OwnerKind::Process).compose_line(), "alice");
    }
}
