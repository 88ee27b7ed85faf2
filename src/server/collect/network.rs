//! Network collector: per-interface receive/transmit rates and cumulative counters.
//!
//! Reads /proc/net/dev: one file for every interface. (sysinfo's network refresh reads several
//! sysfs files per interface and asks netlink twice per tick: about half the sampler's CPU time.)

use crate::server::collect::rates::RateTracker;
use crate::wire::{NetworkInterface, NetworkMetrics};
use std::time::Instant;

pub struct NetworkCollector {
    rates: RateTracker,
}

impl NetworkCollector {
    pub fn new() -> Self {
        NetworkCollector {
            rates: RateTracker::new(),
        }
    }

    pub fn sample(&mut self) -> NetworkMetrics {
        let text = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
        self.rates.tick(Instant::now());
        let mut interfaces: Vec<NetworkInterface> = parse_net_dev(&text)
            .into_iter()
            .map(|(name, rx_total, tx_total)| NetworkInterface {
                loopback: is_loopback(&name),
                rx_bytes_per_sec: self.rates.rate(&format!("{name}/rx"), rx_total),
                tx_bytes_per_sec: self.rates.rate(&format!("{name}/tx"), tx_total),
                rx_bytes_total: rx_total,
                tx_bytes_total: tx_total,
                name,
            })
            .collect();
        interfaces.sort_by(|a, b| a.name.cmp(&b.name));
        let external = interfaces.iter().filter(|i| !i.loopback);
        NetworkMetrics {
            rx_bytes_per_sec: external.clone().map(|i| i.rx_bytes_per_sec).sum(),
            tx_bytes_per_sec: external.map(|i| i.tx_bytes_per_sec).sum(),
            interfaces,
        }
    }
}

impl Default for NetworkCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// (interface, bytes received, bytes transmitted) per line of /proc/net/dev.
pub fn parse_net_dev(text: &str) -> Vec<(String, u64, u64)> {
    // rx: bytes packets errs drop fifo frame compressed multicast | tx: bytes …
    net_dev_lines(text)
        .map(|(name, counters)| (name.to_owned(), counters[0], counters[8]))
        .collect()
}

/// The `name: 16 counters` lines of /proc/net/dev (8 receive, then 8 transmit), for the sampler
/// and for `/metrics`' node_exporter families; the header lines and odd lines are skipped.
pub fn net_dev_lines(text: &str) -> impl Iterator<Item = (&str, [u64; 16])> {
    text.lines().filter_map(|line| {
        let (name, numbers) = line.split_once(':')?;
        let name = name.trim();
        let mut counters = [0u64; 16];
        let mut numbers = numbers.split_ascii_whitespace();
        for slot in &mut counters {
            *slot = numbers.next()?.parse().ok()?;
        }
        (!name.is_empty() && numbers.next().is_none()).then_some((name, counters))
    })
}

/// Loopback traffic never leaves the machine, so it stays out of the totals.
pub fn is_loopback(name: &str) -> bool {
    name == "lo" || name.starts_with("lo:")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 123456789 9000  0    0    0     0          0         0 987654321 8000    0    0    0     0       0          0
";

    #[test]
    fn parses_receive_and_transmit_bytes() {
        let parsed = parse_net_dev(NET_DEV);
        assert_eq!(
            parsed,
            [
                ("lo".to_owned(), 1000, 1000),
                ("eth0".to_owned(), 123_456_789, 987_654_321)
            ]
        );
        assert!(parse_net_dev("garbage\n").is_empty());
    }

    #[test]
    fn loopback_is_recognised() {
        assert!(is_loopback("lo"));
        assert!(!is_loopback("eth0"));
        assert!(!is_loopback("lowpan0"));
    }

    #[test]
    fn totals_leave_out_loopback() {
        let mut collector = NetworkCollector::new();
        collector.sample();
        let metrics = collector.sample();
        assert!(
            metrics
                .interfaces
                .iter()
                .any(|i| i.name == "lo" && i.loopback)
        );
        let external: f64 = metrics
            .interfaces
            .iter()
            .filter(|i| !i.loopback)
            .map(|i| i.rx_bytes_per_sec)
            .sum();
        assert_eq!(metrics.rx_bytes_per_sec, external);
    }
}
