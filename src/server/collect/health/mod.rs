//! Whole-box health beyond the GPUs: the machine's sensors (hwmon), host memory errors (EDAC) and
//! PCIe errors (AER), read from a sysfs root tests can point elsewhere (`--sysfs-root`), and
//! each disk's SMART, read by smartmontools off the sampler's thread.

pub mod aer;
pub mod edac;
pub mod sensors;
pub mod smart;
pub mod sysfs;

use crate::wire::HostHealth;
use sysfs::SysfsRoot;

/// One tick's sensors, memory controllers and PCIe errors (about 0.1 ms where sysfs has none of
/// them, 0.3 ms on a server with all three), with the disks as SMART was last read.
pub fn read(root: &SysfsRoot, smart: Option<&smart::Smart>) -> HostHealth {
    let mut sensors = sensors::read_sensors(root);
    let mut ids: Vec<(String, String)> = Vec::new();
    for sensor in &mut sensors {
        sensor.id = match ids.iter().find(|(hwmon, _)| *hwmon == sensor.hwmon) {
            Some((_, id)) => id.clone(),
            None => {
                let id = sensors::chip_id(root, &sensor.hwmon);
                ids.push((sensor.hwmon.clone(), id.clone()));
                id
            }
        };
    }
    HostHealth {
        sensors,
        memory_controllers: edac::read_memory_controllers(root),
        pcie: aer::read_pcie_errors(root),
        disks: smart.map(smart::Smart::disks).unwrap_or_default(),
        smart_status: smart.and_then(smart::Smart::status),
        fill_forecasts: Vec::new(),
    }
}
