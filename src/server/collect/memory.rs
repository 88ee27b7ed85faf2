//! Memory collector: RAM and swap, in bytes and as percentages.

use crate::server::collect::rates::percent;
use crate::wire::MemoryMetrics;
use sysinfo::{MemoryRefreshKind, RefreshKind, System};

pub struct MemoryCollector {
    system: System,
}

impl MemoryCollector {
    pub fn new() -> Self {
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_memory(MemoryRefreshKind::everything()),
        );
        MemoryCollector { system }
    }

    pub fn sample(&mut self) -> MemoryMetrics {
        self.system.refresh_memory();
        let total = self.system.total_memory();
        let available = self.system.available_memory();
        // "Used" as free(1) and htop show it: what is not available to new programs.
        let used = total.saturating_sub(available);
        let swap_total = self.system.total_swap();
        let swap_used = self.system.used_swap();
        MemoryMetrics {
            ram_total_bytes: total,
            ram_used_bytes: used,
            ram_available_bytes: available,
            ram_percent: percent(used, total),
            swap_total_bytes: swap_total,
            swap_used_bytes: swap_used,
            swap_percent: percent(swap_used, swap_total),
        }
    }
}

impl Default for MemoryCollector {
    fn default() -> Self {
        Self::new()
    }
}
