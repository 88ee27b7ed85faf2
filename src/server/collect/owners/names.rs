//! Container names, asked of the engines on a thread of their own so that a slow or hanging
//! socket never holds up a tick: a lookup answers from the cache at once (nothing yet, the first
//! time) and queues the question; the answer is there on a later tick.

use crate::server::collect::owners::engine::{self, ContainerFacts, EngineError};
use crate::server::runtime::lock::lock;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The sockets asked, in order, when none are configured: Docker's and rootful Podman's.
pub const DEFAULT_SOCKETS: [&str; 2] = ["/run/docker.sock", "/run/podman/podman.sock"];
/// How long one engine may take to answer.
pub const ENGINE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a name is kept, and how long an engine that did not know is left alone.
const KNOWN_FOR: Duration = Duration::from_secs(600);
const UNKNOWN_FOR: Duration = Duration::from_secs(60);
/// Containers remembered; past it the cache starts again.
const MAX_KEPT: usize = 4096;
/// Questions waiting; past it new ones wait for a later tick.
const QUEUE: usize = 64;

#[derive(Clone, Debug)]
enum Entry {
    Asked(Instant),
    Known(ContainerFacts, Instant),
    Unknown(Instant),
}

/// The engines' answers, shared by every lookup.
pub struct ContainerNames {
    sockets: Vec<PathBuf>,
    timeout: Duration,
    cache: Arc<Mutex<HashMap<String, Entry>>>,
    /// Started on the first question, so a machine without containers never runs it.
    asker: OnceLock<Option<SyncSender<String>>>,
}

impl ContainerNames {
    pub fn new(sockets: Vec<PathBuf>, timeout: Duration) -> ContainerNames {
        ContainerNames {
            sockets,
            timeout,
            cache: Arc::default(),
            asker: OnceLock::new(),
        }
    }

    /// What is known of container `id` now; asks the engines when nothing (fresh) is.
    pub fn facts(&self, id: &str) -> Option<ContainerFacts> {
        let now = Instant::now();
        let mut cache = lock(&self.cache);
        // What to answer now, and whether to ask the engines (again).
        let (known, ask) = match cache.get(id) {
            Some(Entry::Known(facts, at)) => {
                (Some(facts.clone()), now.duration_since(*at) >= KNOWN_FOR)
            }
            Some(Entry::Asked(at)) => (None, now.duration_since(*at) > self.timeout * 4),
            Some(Entry::Unknown(at)) => (None, now.duration_since(*at) >= UNKNOWN_FOR),
            None => (None, true),
        };
        if ask && !self.sockets.is_empty() {
            if cache.len() >= MAX_KEPT {
                cache.clear();
            }
            if let Some(asker) = self.asker()
                && asker.try_send(id.to_owned()).is_ok()
            {
                // An old name stands until the new answer comes, and is not asked for again.
                let entry = match &known {
                    Some(facts) => Entry::Known(facts.clone(), now),
                    None => Entry::Asked(now),
                };
                cache.insert(id.to_owned(), entry);
            }
        }
        known
    }

    fn asker(&self) -> Option<&SyncSender<String>> {
        self.asker
            .get_or_init(|| {
                let (send, questions) = sync_channel(QUEUE);
                let (sockets, timeout, cache) =
                    (self.sockets.clone(), self.timeout, self.cache.clone());
                std::thread::Builder::new()
                    .name("vitals-containers".into())
                    .spawn(move || answer(questions, &sockets, timeout, &cache))
                    .map_err(|e| tracing::warn!("container names are off: {e}"))
                    .ok()
                    .map(|_| send)
            })
            .as_ref()
    }
}

/// The asking thread: each question to each socket in turn, until one knows the container.
fn answer(
    questions: Receiver<String>,
    sockets: &[PathBuf],
    timeout: Duration,
    cache: &Mutex<HashMap<String, Entry>>,
) {
    let mut warned = false;
    for id in questions {
        let mut found = None;
        for socket in sockets.iter().filter(|s| s.exists()) {
            match engine::inspect(socket, &id, timeout) {
                Ok(facts) => {
                    found = Some(facts);
                    break;
                }
                Err(EngineError::NotFound) => {}
                Err(error) => {
                    // Said once: a broken engine must not fill the log every minute.
                    if !warned {
                        tracing::warn!("container names from {}: {error}", socket.display());
                        warned = true;
                    }
                }
            }
        }
        let entry = match found {
            Some(facts) => Entry::Known(facts, Instant::now()),
            None => Entry::Unknown(Instant::now()),
        };
        lock(cache).insert(id, entry);
    }
}
