//! Browser sessions of token mode: the ids handed out as cookies after a sign-in, each valid for a
//! week, in a table of bounded size, kept in the history database (when there is one) so a
//! restart does not sign everyone out.

use crate::server::history::HistoryDb;
use crate::server::runtime::lock::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_SESSIONS: usize = 4096;

#[derive(Default)]
pub struct Sessions {
    expiry_by_id: Mutex<HashMap<String, Instant>>,
    saved_in: Option<Arc<HistoryDb>>,
}

impl Sessions {
    /// Sessions kept in `db` too, starting with those it still holds from before.
    pub fn saved_in(db: Option<Arc<HistoryDb>>) -> Sessions {
        let mut expiry_by_id = HashMap::new();
        if let Some(db) = &db {
            let now_ms = chrono::Utc::now().timestamp_millis();
            match db.load_sessions(now_ms) {
                Ok(saved) => {
                    for (id, expires_ms) in saved {
                        let left = Duration::from_millis((expires_ms - now_ms).max(0) as u64);
                        expiry_by_id.insert(id, Instant::now() + left);
                    }
                }
                Err(error) => tracing::warn!("cannot read the saved sessions: {error}"),
            }
        }
        Sessions {
            expiry_by_id: Mutex::new(expiry_by_id),
            saved_in: db,
        }
    }

    /// A new session id (256 random bits) that stays valid for `SESSION_LIFETIME`.
    pub fn open(&self) -> String {
        let id = crate::server::http::token::random_token();
        let mut sessions = lock(&self.expiry_by_id);
        let now = Instant::now();
        sessions.retain(|_, expires| *expires > now);
        if sessions.len() >= MAX_SESSIONS {
            // Drop the session closest to expiry, so the table stays bounded.
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id.clone(), now + SESSION_LIFETIME);
        drop(sessions);
        if let Some(db) = &self.saved_in {
            let expires_ms =
                chrono::Utc::now().timestamp_millis() + SESSION_LIFETIME.as_millis() as i64;
            if let Err(error) = db.save_session(&id, expires_ms) {
                tracing::warn!("session not saved (it ends with this run): {error}");
            }
        }
        id
    }

    pub fn is_valid(&self, id: &str) -> bool {
        // Session ids are 256 random bits: a map lookup leaks nothing a guess could use.
        let sessions = lock(&self.expiry_by_id);
        sessions
            .get(id)
            .is_some_and(|expires| *expires > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_remembered() {
        let sessions = Sessions::default();
        let id = sessions.open();
        assert!(sessions.is_valid(&id));
        assert!(!sessions.is_valid("nope"));
    }

    #[test]
    fn sessions_outlive_a_restart_when_saved() {
        let dir = crate::server::history::scratch_dir("sessions");
        let open = || {
            Arc::new(HistoryDb::open(&dir, crate::server::history::Retention::default()).unwrap())
        };
        let db = open();
        let id = Sessions::saved_in(Some(db.clone())).open();
        drop(db);
        let again = Sessions::saved_in(Some(open()));
        assert!(again.is_valid(&id));
        assert!(!again.is_valid("never-handed-out"));
    }

    #[test]
    fn the_table_stays_bounded() {
        let sessions = Sessions::default();
        let first = sessions.open();
        for _ in 0..MAX_SESSIONS {
            sessions.open();
        }
        assert!(!sessions.is_valid(&first), "the oldest made room");
        assert_eq!(sessions.expiry_by_id.lock().unwrap().len(), MAX_SESSIONS);
    }
}
