//! The live connection's state machine and reconnect schedule, in plain Rust so they are unit-tested.

/// What the connection indicator shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the first socket.
    Connecting,
    /// Socket open and messages arriving.
    Live,
    /// Socket down; retrying (attempt counts from 1). Data may still arrive by polling.
    Reconnecting { attempt: u32 },
    /// Socket down for a while; data comes from REST polling while reconnects continue.
    Polling { attempt: u32 },
    /// Polling fails too: the server cannot be reached at all. Polling goes on.
    Offline { attempt: u32 },
}

impl ConnectionState {
    pub fn label(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Live => "live",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Polling { .. } => "polling",
            ConnectionState::Offline { .. } => "offline",
        }
    }

    /// Whether REST polling should run in this state.
    pub fn polls(self) -> bool {
        matches!(
            self,
            ConnectionState::Polling { .. } | ConnectionState::Offline { .. }
        )
    }
}

/// What happened to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The socket opened and the server said hello.
    Opened,
    /// The socket closed, failed, or went silent for too long.
    Lost,
    /// A reconnect attempt is starting.
    Retrying,
    /// A poll of the current snapshot answered.
    Polled,
    /// A poll of the current snapshot failed.
    PollFailed,
}

/// After this many failed attempts the page polls REST while it keeps trying the socket.
pub const POLL_AFTER_ATTEMPTS: u32 = 1;

pub fn next_state(state: ConnectionState, event: ConnectionEvent) -> ConnectionState {
    use ConnectionEvent::*;
    use ConnectionState::*;
    match (state, event) {
        (_, Opened) => Live,
        (Live | Connecting, Lost) => Reconnecting { attempt: 1 },
        (Reconnecting { attempt } | Polling { attempt }, Lost) => {
            let attempt = attempt.saturating_add(1);
            if attempt > POLL_AFTER_ATTEMPTS {
                Polling { attempt }
            } else {
                Reconnecting { attempt }
            }
        }
        (Offline { attempt }, Lost) => Offline {
            attempt: attempt.saturating_add(1),
        },
        (Polling { attempt }, PollFailed) => Offline { attempt },
        (Offline { attempt }, Polled) => Polling { attempt },
        (state, Retrying | Polled | PollFailed) => state,
    }
}

/// Reconnect delay: exponential backoff with full jitter (a random point in [0, min(cap, base·2^n)]),
/// so a restarted server is not hit by every page at the same instant. `random` is in [0, 1).
pub fn backoff_ms(attempt: u32, base_ms: u64, cap_ms: u64, random: f64) -> u64 {
    let ceiling = base_ms.saturating_mul(1u64 << attempt.min(20)).min(cap_ms);
    (ceiling as f64 * random.clamp(0.0, 1.0)) as u64
}

pub const BACKOFF_BASE_MS: u64 = 500;
pub const BACKOFF_CAP_MS: u64 = 30_000;

/// Silence longer than this many sample intervals means the socket is dead, whatever the browser says.
pub const DEAD_AFTER_INTERVALS: f64 = 3.0;

pub fn is_dead(silent_for_ms: f64, interval_seconds: f64) -> bool {
    silent_for_ms > DEAD_AFTER_INTERVALS * interval_seconds * 1000.0 + 500.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionEvent::*;
    use ConnectionState::*;

    #[test]
    fn every_transition() {
        assert_eq!(next_state(Connecting, Opened), Live);
        assert_eq!(next_state(Connecting, Lost), Reconnecting { attempt: 1 });
        assert_eq!(next_state(Live, Lost), Reconnecting { attempt: 1 });
        assert_eq!(
            next_state(Reconnecting { attempt: 1 }, Lost),
            Polling { attempt: 2 }
        );
        assert_eq!(
            next_state(Polling { attempt: 2 }, Lost),
            Polling { attempt: 3 }
        );
        assert_eq!(next_state(Polling { attempt: 7 }, Opened), Live);
        assert_eq!(next_state(Reconnecting { attempt: 1 }, Opened), Live);
        assert_eq!(
            next_state(Polling { attempt: 2 }, Retrying),
            Polling { attempt: 2 }
        );
        assert_eq!(
            next_state(Polling { attempt: u32::MAX }, Lost),
            Polling { attempt: u32::MAX }
        );
    }

    #[test]
    fn a_failing_poll_is_offline_until_a_poll_or_the_socket_answers() {
        assert_eq!(
            next_state(Polling { attempt: 2 }, PollFailed),
            Offline { attempt: 2 }
        );
        assert_eq!(
            next_state(Offline { attempt: 2 }, Lost),
            Offline { attempt: 3 },
            "a failed reconnect leaves it offline"
        );
        assert_eq!(
            next_state(Offline { attempt: 3 }, Polled),
            Polling { attempt: 3 }
        );
        assert_eq!(next_state(Offline { attempt: 3 }, Opened), Live);
        assert_eq!(next_state(Live, PollFailed), Live, "only polling can fail");
        assert_eq!(Offline { attempt: 1 }.label(), "offline");
    }

    #[test]
    fn only_polling_polls() {
        assert!(Polling { attempt: 2 }.polls());
        assert!(Offline { attempt: 2 }.polls());
        assert!(!Live.polls());
        assert!(!Reconnecting { attempt: 1 }.polls());
        assert!(!Connecting.polls());
    }

    #[test]
    fn backoff_grows_with_full_jitter_under_a_cap() {
        assert_eq!(backoff_ms(0, 500, 30_000, 0.999_999), 499);
        assert_eq!(backoff_ms(3, 500, 30_000, 0.5), 2_000);
        assert_eq!(backoff_ms(10, 500, 30_000, 0.999_999), 29_999);
        assert_eq!(
            backoff_ms(1_000, 500, 30_000, 1.0),
            30_000,
            "never overflows, never exceeds the cap"
        );
        for attempt in 0..40 {
            assert_eq!(
                backoff_ms(attempt, 500, 30_000, 0.0),
                0,
                "full jitter reaches down to zero"
            );
        }
    }

    #[test]
    fn silence_of_three_intervals_is_death() {
        assert!(!is_dead(2_000.0, 1.0));
        assert!(is_dead(3_600.0, 1.0));
        assert!(!is_dead(6_000.0, 2.0));
    }
}
