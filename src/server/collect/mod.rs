//! The monitor service: one long-lived set of collectors that turns each tick into a typed `Snapshot`.

pub mod cpu;
pub mod disk;
pub mod gpu;
pub mod health;
pub mod memory;
pub mod network;
pub mod owners;
pub mod processes;
pub mod procfs;
pub mod rates;

use crate::wire::{CpuMetrics, DiskMetrics, GpuMetrics, GpuStatus, MemoryMetrics, NetworkMetrics};
use chrono::{DateTime, Utc};

/// Everything one sampler tick saw. It never travels as it is: the sampler publishes its parts
/// to their channels, and `/metrics` reads it whole.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Snapshot {
    pub timestamp: DateTime<Utc>,
    pub cpu: CpuMetrics,
    /// Cumulative seconds per mode and core since boot: only for `/metrics`' counters.
    pub cpu_seconds_by_mode: Vec<cpu::CpuModeSeconds>,
    pub memory: MemoryMetrics,
    pub disk: DiskMetrics,
    pub network: NetworkMetrics,
    pub gpus: Vec<GpuMetrics>,
    pub gpu_status: GpuStatus,
    /// Sensors, host memory errors and PCIe errors.
    pub health: crate::wire::HostHealth,
}

/// A source of GPU readings, swappable so tests can drive the real NVML code against a fake library.
pub trait GpuSource: Send {
    /// Reads every GPU once. Never fails as a whole: what cannot be read is reported in the status or
    /// as an unavailable GPU.
    fn sample(&mut self) -> (GpuStatus, Vec<GpuMetrics>);
}

/// All collectors, primed and kept between ticks so rates and CPU usage have a previous reading.
pub struct Monitor {
    cpu: cpu::CpuCollector,
    memory: memory::MemoryCollector,
    disk: disk::DiskCollector,
    network: network::NetworkCollector,
    gpu: Box<dyn GpuSource>,
    /// Where the sensors, EDAC and AER are read.
    sysfs: health::sysfs::SysfsRoot,
    /// The SMART reader's thread, when SMART is read.
    smart: Option<health::smart::Smart>,
}

impl Monitor {
    pub fn new(gpu: Box<dyn GpuSource>) -> Self {
        Monitor {
            cpu: cpu::CpuCollector::new(),
            memory: memory::MemoryCollector::new(),
            disk: disk::DiskCollector::new(),
            network: network::NetworkCollector::new(),
            gpu,
            sysfs: Default::default(),
            smart: None,
        }
    }

    /// Hands each tick the disks' SMART as this reader last read it.
    pub fn with_smart(mut self, smart: health::smart::Smart) -> Self {
        self.smart = Some(smart);
        self
    }

    /// Reads sensors, EDAC and AER under `root` instead of `/sys` (`--sysfs-root`, for tests).
    pub fn with_sysfs_root(mut self, root: health::sysfs::SysfsRoot) -> Self {
        self.sysfs = root;
        self
    }

    /// Takes one sample of everything. The first call after `new` only primes the rate counters
    /// (rates read 0), so callers usually throw it away.
    pub fn sample(&mut self) -> Snapshot {
        let (gpu_status, gpus) = self.gpu.sample();
        let mut health = health::read(&self.sysfs, self.smart.as_ref());
        health::aer::name_gpus(&mut health.pcie, &gpus);
        Snapshot {
            timestamp: Utc::now(),
            cpu: self.cpu.sample(),
            cpu_seconds_by_mode: self.cpu.seconds_by_mode(),
            memory: self.memory.sample(),
            disk: self.disk.sample(),
            network: self.network.sample(),
            gpus,
            gpu_status,
            health,
        }
    }
}
