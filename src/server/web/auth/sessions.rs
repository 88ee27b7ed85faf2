//! Browser sessions of token mode: the ids handed out as cookies after a sign-in, each valid for a
//! week, in a table of bounded size, kept in the history database (when there is one) so a
//! restart does not sign everyone out.
//!
//! Neither table holds an id: each holds the SHA-256 of the access token and the id, so a copy of
//! the database lets no one in, and a session stops working when the token changes (the remedy
//! after a leak), here or in a copy of the data directory started under another token.

use crate::server::history::HistoryDb;
use crate::server::runtime::lock::lock;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_SESSIONS: usize = 4096;

#[derive(Default)]
pub struct Sessions {
    /// The access token sessions are tied to.
    token: String,
    expiry_by_key: Mutex<HashMap<String, Instant>>,
    saved_in: Option<Arc<HistoryDb>>,
}

impl Sessions {
    /// Sessions of `token`, kept in `db` too, starting with those it still holds from before
    /// (those of another token are there too, and never match).
    pub fn saved_in(db: Option<Arc<HistoryDb>>, token: &str) -> Sessions {
        let mut expiry_by_key = HashMap::new();
        if let Some(db) = &db {
            let now_ms = chrono::Utc::now().timestamp_millis();
            match db.load_sessions(now_ms) {
                Ok(saved) => {
                    for (key, expires_ms) in saved {
                        let left = Duration::from_millis((expires_ms - now_ms).max(0) as u64);
                        expiry_by_key.insert(key, Instant::now() + left);
                    }
                }
                Err(error) => tracing::warn!("cannot read the saved sessions: {error}"),
            }
        }
        Sessions {
            token: token.to_owned(),
            expiry_by_key: Mutex::new(expiry_by_key),
            saved_in: db,
        }
    }

    /// What the tables hold for session `id`.
    fn key(&self, id: &str) -> String {
        let digest = Sha256::new()
            .chain_update(self.token.as_bytes())
            .chain_update([0])
            .chain_update(id.as_bytes())
            .finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A new session id (256 random bits) that stays valid for `SESSION_LIFETIME`.
    pub fn open(&self) -> String {
        let id = crate::server::http::token::random_token();
        let key = self.key(&id);
        let mut sessions = lock(&self.expiry_by_key);
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
        sessions.insert(key.clone(), now + SESSION_LIFETIME);
        drop(sessions);
        if let Some(db) = &self.saved_in {
            let expires_ms =
                chrono::Utc::now().timestamp_millis() + SESSION_LIFETIME.as_millis() as i64;
            if let Err(error) = db.save_session(&key, expires_ms) {
                tracing::warn!("session not saved (it ends with this run): {error}");
            }
        }
        id
    }

    pub fn is_valid(&self, id: &str) -> bool {
        // Keys are hashes of 256 random bits: a map lookup leaks nothing a guess could use.
        let sessions = lock(&self.expiry_by_key);
        sessions
            .get(&self.key(id))
            .is_some_and(|expires| *expires > Instant::now())
    }

    /// Ends session `id` (signing out), here and in the database.
    pub fn close(&self, id: &str) {
        let key = self.key(id);
        lock(&self.expiry_by_key).remove(&key);
        if let Some(db) = &self.saved_in
            && let Err(error) = db.forget_session(&key)
        {
            tracing::warn!("signed out, but the saved session could not be removed: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_remembered_and_closed() {
        let sessions = Sessions::saved_in(None, "token");
        let id = sessions.open();
        assert!(sessions.is_valid(&id));
        assert!(!sessions.is_valid("nope"));
        sessions.close(&id);
        assert!(!sessions.is_valid(&id));
    }

    #[test]
    fn sessions_outlive_a_restart_when_saved_but_not_a_new_token_and_the_id_is_never_stored() {
        let dir = crate::server::history::scratch_dir("sessions");
        let open = || {
            Arc::new(HistoryDb::open(&dir, crate::server::history::Retention::default()).unwrap())
        };
        let db = open();
        let id = Sessions::saved_in(Some(db.clone()), "token").open();
        let stored = db.load_sessions(0).unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].0, id, "a hash, not the id");
        drop(db);
        // Each holds the database (and its lock) until dropped.
        let other_token = Sessions::saved_in(Some(open()), "another token");
        assert!(!other_token.is_valid(&id));
        drop(other_token);
        let again = Sessions::saved_in(Some(open()), "token");
        assert!(again.is_valid(&id));
        assert!(!again.is_valid("never-handed-out"));
        again.close(&id);
        drop(again);
        assert!(!Sessions::saved_in(Some(open()), "token").is_valid(&id));
    }

    #[test]
    fn the_table_stays_bounded() {
        let sessions = Sessions::default();
        let first = sessions.open();
        for _ in 0..MAX_SESSIONS {
            sessions.open();
        }
        assert!(!sessions.is_valid(&first), "the oldest made room");
        assert_eq!(sessions.expiry_by_key.lock().unwrap().len(), MAX_SESSIONS);
    }
}
