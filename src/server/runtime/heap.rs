//! Handing freed heap memory back to the system.
//!
//! glibc keeps what a burst of work freed in its arenas: a page load with an hour of eight GPUs'
//! history builds about 1 MB of HTML in a few buffers, and the server's resident memory stayed
//! 5 MiB above what it holds until the next such burst reused it.

use std::time::{Duration, Instant};

/// How often the sampler hands freed memory back (it costs well under a millisecond).
pub const GIVE_BACK_EVERY: Duration = Duration::from_secs(30);

/// Returns the heap's free pages to the system.
pub fn give_back_freed() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Gives freed memory back at most every `GIVE_BACK_EVERY`, from a loop that calls it often.
pub struct Periodic {
    last: Instant,
}

impl Default for Periodic {
    fn default() -> Self {
        Periodic {
            last: Instant::now(),
        }
    }
}

impl Periodic {
    /// Gives freed memory back if the period has passed at `now`; returns whether it did.
    pub fn tick(&mut self, now: Instant) -> bool {
        if now.duration_since(self.last) < GIVE_BACK_EVERY {
            return false;
        }
        self.last = now;
        give_back_freed();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_back_once_a_period() {
        let start = Instant::now();
        let mut periodic = Periodic { last: start };
        assert!(!periodic.tick(start + Duration::from_secs(1)));
        assert!(periodic.tick(start + GIVE_BACK_EVERY));
        assert!(!periodic.tick(start + GIVE_BACK_EVERY + Duration::from_secs(29)));
        assert!(periodic.tick(start + GIVE_BACK_EVERY * 2));
    }
}
