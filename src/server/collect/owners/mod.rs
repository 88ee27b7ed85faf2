//! Who owns a process: its person (uid, or the login user behind a service account), where it runs
//! (its cgroup: a systemd unit, a container, a pod, a Slurm job) and, for containers, the name
//! their engine gives them. Read once per process (pid and start time) and kept, so a tick costs a
//! map look-up per process; container names come later, from a thread of their own.

pub mod cgroup;
pub mod engine;
pub mod names;

use crate::server::collect::procfs::info::user_name;
use crate::server::runtime::lock::lock;
use crate::wire::ProcessOwner;
use cgroup::Placement;
use names::ContainerNames;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Processes remembered; past it those not looked up lately are forgotten.
const MAX_KEPT: usize = 16_384;
/// How long an owner not looked up is kept once the map is full.
const UNUSED_FOR: Duration = Duration::from_secs(30);
/// How long a process's cgroup is trusted before it is read again: a process can be moved (into
/// a scope by `systemd-run --scope`, by hand), if rarely.
const READ_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// `loginuid`'s value for "never logged in" (daemons, and everything on machines without audit).
const NO_LOGIN: u32 = u32::MAX;

/// Where the owners' facts come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerSettings {
    /// The container engines' sockets, asked in order for names; empty: names are not asked.
    pub container_sockets: Vec<PathBuf>,
}

impl Default for OwnerSettings {
    fn default() -> Self {
        OwnerSettings {
            container_sockets: names::DEFAULT_SOCKETS.iter().map(PathBuf::from).collect(),
        }
    }
}

struct Kept {
    start_ticks: u64,
    owner: ProcessOwner,
    /// Whether its container's name is still to come.
    awaiting_name: bool,
    used: Instant,
    read: Instant,
}

/// The owners of the processes seen, shared by the GPU collector and the process table.
pub struct Owners {
    kept: Mutex<HashMap<u32, Kept>>,
    names: ContainerNames,
}

impl Default for Owners {
    fn default() -> Self {
        Owners::new(&OwnerSettings::default())
    }
}

impl Owners {
    pub fn new(settings: &OwnerSettings) -> Owners {
        Owners {
            kept: Mutex::default(),
            names: ContainerNames::new(settings.container_sockets.clone(), names::ENGINE_TIMEOUT),
        }
    }

    /// The owner of process `pid`, started at `start_ticks` (its `stat` field: a reused pid is
    /// another process) and running as `uid`.
    pub fn owner_of(&self, pid: u32, start_ticks: u64, uid: u32) -> ProcessOwner {
        let now = Instant::now();
        let mut kept = lock(&self.kept);
        if let Some(entry) = kept.get_mut(&pid)
            && entry.start_ticks == start_ticks
            && now.duration_since(entry.read) < READ_AGAIN_AFTER
        {
            entry.used = now;
            if entry.awaiting_name {
                entry.awaiting_name = self.name_container(&mut entry.owner);
            }
            return entry.owner.clone();
        }
        if kept.len() >= MAX_KEPT {
            kept.retain(|_, entry| now.duration_since(entry.used) < UNUSED_FOR);
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        let mut owner = read_owner(pid, uid);
        let awaiting_name = self.name_container(&mut owner);
        kept.insert(
            pid,
            Kept {
                start_ticks,
                owner: owner.clone(),
                awaiting_name,
                used: now,
                read: now,
            },
        );
        owner
    }

    /// Fills in a container's name and image where its engine has said them; true while they
    /// are still to come.
    fn name_container(&self, owner: &mut ProcessOwner) -> bool {
        let Some(id) = owner.container_id.clone() else {
            return false;
        };
        match self.names.facts(&id) {
            Some(facts) => {
                owner.container_name = facts.name;
                owner.image = facts.image;
                owner.pod = facts.pod.or(owner.pod.take());
                owner.line = owner.compose_line();
                false
            }
            None => true,
        }
    }
}

/// Reads what the kernel says of a process's owner. A process that is gone reads as its uid
/// alone: what is known, never a guess.
fn read_owner(pid: u32, uid: u32) -> ProcessOwner {
    let placement = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|text| cgroup::placement(&text))
        .unwrap_or_default();
    let login = std::fs::read_to_string(format!("/proc/{pid}/loginuid"))
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|&login| login != NO_LOGIN);
    owner_from(uid, login, placement)
}

/// The owner a uid, a login uid and a placement make.
pub fn owner_from(uid: u32, login: Option<u32>, placement: Placement) -> ProcessOwner {
    let person = login.or(placement.slurm_uid).unwrap_or(uid);
    let mut owner = ProcessOwner {
        user: person_name(person),
        runs_as: (person != uid).then(|| person_name(uid)),
        kind: placement.kind,
        unit: placement.unit,
        engine: placement.engine.map(str::to_owned),
        container_id: placement.container_id,
        pod_uid: placement.pod_uid,
        slurm_job: placement.slurm_job,
        ..ProcessOwner::default()
    };
    owner.line = owner.compose_line();
    owner
}

/// A uid's name, or `uid N` for one that has none (a container's user, a deleted account).
fn person_name(uid: u32) -> String {
    let name = user_name(uid);
    if name == uid.to_string() {
        format!("uid {uid}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OwnerKind;

    #[test]
    fn the_person_is_the_login_user_when_a_process_runs_as_another() {
        let service = Placement {
            kind: OwnerKind::Service,
            unit: Some("jupyter.service".into()),
            ..Placement::default()
        };
        let owner = owner_from(0, Some(4_000_000_001), service.clone());
        assert_eq!(owner.user, "uid 4000000001");
        assert_eq!(owner.runs_as.as_deref(), Some("root"));
        assert_eq!(owner.line, "uid 4000000001 (as root) · jupyter.service");
        let plain = owner_from(0, None, Placement::default());
        assert_eq!((plain.line.as_str(), plain.runs_as), ("root", None));
        let same = owner_from(0, Some(0), service);
        assert_eq!(same.runs_as, None, "logged in as who it runs as");
    }

    #[test]
    fn this_process_is_read_and_kept_until_its_pid_is_reused() {
        let owners = Owners::new(&OwnerSettings {
            container_sockets: Vec::new(),
        });
        let pid = std::process::id();
        let me = owners.owner_of(pid, 1, 0);
        assert_eq!(me, read_owner(pid, 0));
        // Same start: the kept owner, even when asked with another uid.
        assert_eq!(owners.owner_of(pid, 1, 65_534), me);
        // Another start: another process, read again.
        let reused = owners.owner_of(pid, 2, 65_534);
        assert_eq!(reused, read_owner(pid, 65_534));
        assert_ne!(reused, me);
        // Gone: its uid alone.
        let gone = owners.owner_of(4_000_000_001, 1, 65_534);
        assert_eq!(
            (gone.kind, gone.line.as_str()),
            (OwnerKind::Process, "nobody")
        );
    }
}
