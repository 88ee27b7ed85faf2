//! Network collector: per-interface receive/transmit rates and cumulative counters.

use super::rates::RateTracker;
use crate::wire::{NetworkInterface, NetworkMetrics};
use std::time::Instant;
use sysinfo::Networks;

pub struct NetworkCollector {
    networks: Networks,
    rates: RateTracker,
}

impl NetworkCollector {
    pub fn new() -> Self {
        NetworkCollector {
            networks: Networks::new(),
            rates: RateTracker::new(),
        }
    }

    pub fn sample(&mut self) -> NetworkMetrics {
        // sysinfo reads /proc/net/dev-equivalent sysfs counters; `true` drops interfaces that vanished.
        self.networks.refresh(true);
        self.rates.tick(Instant::now());
        let mut interfaces: Vec<NetworkInterface> = self
            .networks
            .list()
            .iter()
            .map(|(name, data)| {
                let rx_total = data.total_received();
                let tx_total = data.total_transmitted();
                NetworkInterface {
                    loopback: is_loopback(name),
                    rx_bytes_per_sec: self.rates.rate(&format!("{name}/rx"), rx_total),
                    tx_bytes_per_sec: self.rates.rate(&format!("{name}/tx"), tx_total),
                    rx_bytes_total: rx_total,
                    tx_bytes_total: tx_total,
                    name: name.clone(),
                }
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

/// Loopback traffic never leaves the machine, so it stays out of the totals.
pub fn is_loopback(name: &str) -> bool {
    name == "lo" || name.starts_with("lo:")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let external: f64 = metrics
            .interfaces
            .iter()
            .filter(|i| !i.loopback)
            .map(|i| i.rx_bytes_per_sec)
            .sum();
        assert_eq!(metrics.rx_bytes_per_sec, external);
    }
}
