//! AER: the errors each PCIe device has reported since boot, from
//! `bus/pci/devices/<address>/aer_dev_{correctable,nonfatal,fatal}` (one `Name count` line per
//! error kind, then a `TOTAL_ERR_COR`, `TOTAL_ERR_NONFATAL` or `TOTAL_ERR_FATAL` line: the one
//! read here). Only devices with these files are reported: a device without AER, or a kernel
//! without `CONFIG_PCIEAER`, has none. A file that is missing or has no total counts 0 where the
//! device has the others.

use super::sensors::attribute;
use super::sysfs::SysfsRoot;
use crate::wire::PcieErrors;
use std::path::Path;

const NVIDIA: u32 = 0x10de;

/// Every PCIe device with AER counters, by address.
pub fn read_pcie_errors(root: &SysfsRoot) -> Vec<PcieErrors> {
    let Ok(entries) = std::fs::read_dir(root.join("bus/pci/devices")) else {
        return Vec::new();
    };
    let mut addresses: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    addresses.sort();
    let devices = root.join("bus/pci/devices");
    addresses
        .into_iter()
        .filter_map(|address| {
            let dir = devices.join(&address);
            let correctable = total(&dir.join("aer_dev_correctable"), "TOTAL_ERR_COR");
            let nonfatal = total(&dir.join("aer_dev_nonfatal"), "TOTAL_ERR_NONFATAL");
            let fatal = total(&dir.join("aer_dev_fatal"), "TOTAL_ERR_FATAL");
            if correctable.is_none() && nonfatal.is_none() && fatal.is_none() {
                return None;
            }
            Some(PcieErrors {
                name: device_name(&dir),
                address,
                correctable: correctable.unwrap_or(0),
                nonfatal: nonfatal.unwrap_or(0),
                fatal: fatal.unwrap_or(0),
            })
        })
        .collect()
}

/// The count on a file's `TOTAL_…` line; None when the file or the line is missing or garbled.
fn total(path: &Path, key: &str) -> Option<u64> {
    let text = attribute(path)?;
    text.lines().find_map(|line| {
        let (name, count) = line.split_once(' ')?;
        (name == key).then(|| count.trim().parse().ok()).flatten()
    })
}

/// A hex attribute (`0x10de`, `0x030200`).
fn hex(path: &Path) -> Option<u32> {
    let text = attribute(path)?;
    u32::from_str_radix(text.strip_prefix("0x").unwrap_or(&text), 16).ok()
}

/// What a person calls the device: an NVIDIA GPU as such (which GPU index it is, is mapped
/// elsewhere), an NVMe controller by its `nvmeN`, a network device by its interface, else its PCI
/// class in short.
fn device_name(dir: &Path) -> String {
    let class = hex(&dir.join("class"));
    if hex(&dir.join("vendor")) == Some(NVIDIA) && class.is_some_and(|c| c >> 16 == 0x03) {
        return "NVIDIA GPU".to_owned();
    }
    for child in ["nvme", "net"] {
        if let Some(name) = first_child(&dir.join(child)) {
            return name;
        }
    }
    class_name(class).to_owned()
}

/// The alphabetically first entry of a directory (`nvme0`; `eno1` of a two-port card's function
/// has one anyway).
fn first_child(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .min()
}

/// The PCI class code's name, short (pci.ids' words where they are short already).
fn class_name(class: Option<u32>) -> &'static str {
    let Some(class) = class else {
        return "PCI device";
    };
    match class >> 8 {
        0x0100 => "SCSI controller",
        0x0101 => "IDE controller",
        0x0104 => "RAID controller",
        0x0106 => "SATA controller",
        0x0107 => "SAS controller",
        0x0108 => "NVMe controller",
        0x0200 => "Ethernet controller",
        0x0207 => "InfiniBand controller",
        0x0280 => "Network controller",
        0x0300 => "VGA controller",
        0x0302 => "3D controller",
        0x0380 => "Display controller",
        0x0403 => "Audio device",
        0x0600 => "Host bridge",
        0x0601 => "ISA bridge",
        0x0604 => "PCI bridge",
        0x0880 => "System peripheral",
        0x0c03 => "USB controller",
        0x0c05 => "SMBus controller",
        0x1200 => "Processing accelerator",
        _ => match class >> 16 {
            0x01 => "Storage controller",
            0x02 => "Network controller",
            0x03 => "Display controller",
            0x04 => "Multimedia controller",
            0x05 => "Memory controller",
            0x06 => "Bridge",
            0x08 => "System peripheral",
            0x0c => "Serial bus controller",
            0x12 => "Processing accelerator",
            _ => "PCI device",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> SysfsRoot {
        SysfsRoot::fixture(name)
    }

    fn errors(address: &str, name: &str, counts: (u64, u64, u64)) -> PcieErrors {
        PcieErrors {
            address: address.into(),
            name: name.into(),
            correctable: counts.0,
            nonfatal: counts.1,
            fatal: counts.2,
        }
    }

    #[test]
    fn a_server_names_its_devices_and_counts_their_totals() {
        assert_eq!(
            read_pcie_errors(&fixture("server")),
            vec![
                errors("0000:18:00.0", "eno1", (0, 0, 0)),
                errors("0000:3a:00.0", "PCI bridge", (0, 0, 1)),
                errors("0000:3b:00.0", "NVIDIA GPU", (3, 0, 0)),
                errors("0000:5e:00.0", "nvme0", (1, 0, 0)),
            ]
        );
    }

    #[test]
    fn devices_without_aer_are_left_out() {
        assert!(read_pcie_errors(&fixture("desktop")).is_empty());
    }

    #[test]
    fn class_names_and_odd_files() {
        assert_eq!(class_name(Some(0x010802)), "NVMe controller");
        assert_eq!(class_name(Some(0x030000)), "VGA controller");
        assert_eq!(class_name(Some(0x030200)), "3D controller");
        assert_eq!(class_name(Some(0x060400)), "PCI bridge");
        assert_eq!(class_name(Some(0x0b4000)), "PCI device");
        assert_eq!(class_name(None), "PCI device");
        let root: PathBuf =
            std::env::temp_dir().join(format!("vitals-aer-odd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("bus/pci/devices/0000:00:1c.0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("class"), "0x060400\n").unwrap();
        std::fs::write(
            dir.join("aer_dev_correctable"),
            "RxErr 1\nTOTAL_ERR_COR many\n",
        )
        .unwrap();
        std::fs::write(dir.join("aer_dev_fatal"), "DLP 2\nTOTAL_ERR_FATAL 2\n").unwrap();
        assert_eq!(
            read_pcie_errors(&SysfsRoot(root.clone())),
            vec![errors("0000:00:1c.0", "PCI bridge", (0, 0, 2))]
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn this_machine_and_an_empty_root() {
        let _ = read_pcie_errors(&SysfsRoot::default());
        assert!(read_pcie_errors(&SysfsRoot("/nonexistent".into())).is_empty());
    }
}

/// Names the GPUs among the devices by their index (`GPU 0`), matching NVML's PCI address
/// (`00000000:3B:00.0`) with sysfs' (`0000:3b:00.0`).
pub fn name_gpus(devices: &mut [PcieErrors], gpus: &[crate::wire::GpuMetrics]) {
    fn address(text: &str) -> Option<(u32, String)> {
        let (domain, rest) = text.split_once(':')?;
        Some((
            u32::from_str_radix(domain, 16).ok()?,
            rest.to_ascii_lowercase(),
        ))
    }
    for device in devices {
        let Some(wanted) = address(&device.address) else {
            continue;
        };
        if let Some(gpu) = gpus
            .iter()
            .find(|g| g.pci_bus_id.as_deref().and_then(address).as_ref() == Some(&wanted))
        {
            device.name = format!("GPU {}", gpu.index);
        }
    }
}

#[cfg(test)]
mod gpu_names {
    use super::*;

    #[test]
    fn a_gpu_is_named_by_its_index_whatever_the_address_spelling() {
        let mut devices = vec![
            PcieErrors {
                address: "0000:3b:00.0".into(),
                name: "NVIDIA GPU".into(),
                ..Default::default()
            },
            PcieErrors {
                address: "0000:5e:00.0".into(),
                name: "nvme0".into(),
                ..Default::default()
            },
        ];
        let gpus = [crate::wire::GpuMetrics {
            index: 3,
            pci_bus_id: Some("00000000:3B:00.0".into()),
            ..Default::default()
        }];
        name_gpus(&mut devices, &gpus);
        assert_eq!(devices[0].name, "GPU 3");
        assert_eq!(devices[1].name, "nvme0");
    }
}
