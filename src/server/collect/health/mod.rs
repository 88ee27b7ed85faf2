//! Whole-box health beyond the GPUs: the machine's sensors (hwmon), host memory errors (EDAC) and
//! PCIe errors (AER), read from a sysfs root tests can point elsewhere (`--sysfs-root`), and
//! each disk's SMART, read by smartmontools off the sampler's thread.

pub mod aer;
pub mod edac;
pub mod sensors;
pub mod smart;
pub mod sysfs;
