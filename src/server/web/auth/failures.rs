//! Failed sign-in attempts per client address, so wrong tokens can be slowed down without ever
//! touching a request that carries the right one.
//!
//! Cheap whatever the number of addresses: entries expire in the order they were made, so expiry
//! pops from the front of a queue instead of scanning the table, and the table has a fixed ceiling.

use crate::server::runtime::lock::lock;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens one address may try per window before its next wrong tries are refused unread.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; past it the oldest entry makes room.
const MAX_TRACKED: usize = 16_384;

struct Entry {
    count: u32,
    since: Instant,
}

#[derive(Default)]
struct Table {
    by_client: HashMap<IpAddr, Entry>,
    /// Clients in the order their window began (one item per entry in `by_client`).
    order: VecDeque<(Instant, IpAddr)>,
}

#[derive(Default)]
pub struct FailedAttempts {
    table: Mutex<Table>,
}

/// The key an address is counted under: an IPv6 client usually holds a whole /64, so it counts once.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl Table {
    fn expire(&mut self, now: Instant) {
        while let Some(&(since, ip)) = self.order.front() {
            if now.duration_since(since) < FAILURE_WINDOW && self.order.len() < MAX_TRACKED {
                break;
            }
            self.order.pop_front();
            if self.by_client.get(&ip).is_some_and(|e| e.since == since) {
                self.by_client.remove(&ip);
            }
        }
    }
}

impl FailedAttempts {
    /// Whether this address used up its wrong tries for now.
    pub fn blocked(&self, ip: IpAddr) -> bool {
        let table = lock(&self.table);
        table.by_client.get(&client_key(ip)).is_some_and(|entry| {
            entry.count >= MAX_FAILURES && entry.since.elapsed() < FAILURE_WINDOW
        })
    }

    /// Counts one wrong token from this address.
    pub fn record(&self, ip: IpAddr) {
        let key = client_key(ip);
        let now = Instant::now();
        let mut table = lock(&self.table);
        table.expire(now);
        let table = &mut *table;
        match table.by_client.get_mut(&key) {
            Some(entry) if now.duration_since(entry.since) < FAILURE_WINDOW => entry.count += 1,
            _ => {
                table.by_client.insert(
                    key,
                    Entry {
                        count: 1,
                        since: now,
                    },
                );
                table.order.push_back((now, key));
            }
        }
    }

    /// Addresses tracked now.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        let table = lock(&self.table);
        table.by_client.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_an_address_for_a_while() {
        let failures = FailedAttempts::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!failures.blocked(ip));
            failures.record(ip);
        }
        assert!(failures.blocked(ip));
        assert!(!failures.blocked("192.0.2.10".parse().unwrap()));
    }

    #[test]
    fn an_ipv6_client_counts_once_per_64() {
        let failures = FailedAttempts::default();
        for host in 1..=MAX_FAILURES {
            failures.record(format!("2001:db8::{host}").parse().unwrap());
        }
        assert!(failures.blocked("2001:db8::ffff".parse().unwrap()));
        assert!(!failures.blocked("2001:db8:0:1::1".parse().unwrap()));
        failures.record("::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(failures.tracked(), 2, "a mapped IPv4 counts as that IPv4");
    }

    #[test]
    fn many_addresses_stay_bounded() {
        let failures = FailedAttempts::default();
        for i in 0..(MAX_TRACKED as u32 * 3) {
            failures.record(IpAddr::V4(i.into()));
        }
        assert_eq!(failures.tracked(), MAX_TRACKED);
        assert_eq!(failures.table.lock().unwrap().order.len(), MAX_TRACKED);
        let newest = IpAddr::V4((MAX_TRACKED as u32 * 3 - 1).into());
        for _ in 1..MAX_FAILURES {
            failures.record(newest);
        }
        assert!(failures.blocked(newest));
    }
}
