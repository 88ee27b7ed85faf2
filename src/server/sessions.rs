//! Browser sessions of token mode: the ids handed out as cookies after a sign-in, each valid for a
//! week, in a table of bounded size.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_SESSIONS: usize = 4096;

#[derive(Default)]
pub struct Sessions {
    expiry_by_id: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    /// A new session id (256 random bits) that stays valid for `SESSION_LIFETIME`.
    pub fn open(&self) -> String {
        let id = super::token::random_token();
        let mut sessions = self.expiry_by_id.lock().unwrap_or_else(|p| p.into_inner());
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
        id
    }

    pub fn is_valid(&self, id: &str) -> bool {
        // Session ids are 256 random bits: a map lookup leaks nothing a guess could use.
        let sessions = self.expiry_by_id.lock().unwrap_or_else(|p| p.into_inner());
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
