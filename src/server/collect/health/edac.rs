//! EDAC: host memory errors each memory controller has counted, from
//! `devices/system/edac/mc/mcN/`: its `ce_count` and `ue_count`, and per DIMM where the kernel
//! names them: `dimmN/dimm_{ce,ue}_count` and `dimm_label` on kernels since 3.x, else each
//! `csrowN/chM_ce_count` and `chM_dimm_label`. A machine without EDAC (a VM, a desktop without
//! ECC) has no controllers; a controller whose counts cannot be read is left out.

use super::sensors::{attribute, numbered_entries, unsigned};
use super::sysfs::SysfsRoot;
use crate::wire::{DimmErrors, MemoryController};
use std::path::Path;

/// Every memory controller, by number, with its DIMMs by number.
pub fn read_memory_controllers(root: &SysfsRoot) -> Vec<MemoryController> {
    let dir = root.join("devices/system/edac/mc");
    numbered_entries(&dir, "mc")
        .into_iter()
        .filter_map(|(number, name)| {
            let controller = dir.join(&name);
            Some(MemoryController {
                controller: number.to_string(),
                corrected: unsigned(&controller.join("ce_count"))?,
                uncorrected: unsigned(&controller.join("ue_count"))?,
                dimms: read_dimms(&controller),
            })
        })
        .collect()
}

/// The DIMMs of one controller: its `dimmN` directories where it has them, else its csrows'
/// channels (older kernels, and drivers that still only fill those).
fn read_dimms(controller: &Path) -> Vec<DimmErrors> {
    let dimms: Vec<DimmErrors> = numbered_entries(controller, "dimm")
        .into_iter()
        .filter_map(|(_, name)| {
            let dimm = controller.join(&name);
            Some(DimmErrors {
                label: label(&dimm.join("dimm_label"), &name),
                corrected: unsigned(&dimm.join("dimm_ce_count"))?,
                uncorrected: unsigned(&dimm.join("dimm_ue_count"))?,
                name,
            })
        })
        .collect();
    if !dimms.is_empty() {
        return dimms;
    }
    let mut channels = Vec::new();
    for (_, csrow_name) in numbered_entries(controller, "csrow") {
        let csrow = controller.join(&csrow_name);
        for channel in 0.. {
            let Some(corrected) = unsigned(&csrow.join(format!("ch{channel}_ce_count"))) else {
                break;
            };
            let name = format!("{csrow_name}_ch{channel}");
            channels.push(DimmErrors {
                label: label(
                    &csrow.join(format!("ch{channel}_dimm_label")),
                    &format!("{csrow_name} ch{channel}"),
                ),
                corrected,
                // The kernel counts uncorrected errors per csrow, not per channel.
                uncorrected: 0,
                name,
            });
        }
    }
    channels
}

/// The board's label for a slot, or `fallback` where the kernel has none (or an empty one).
fn label(path: &Path, fallback: &str) -> String {
    attribute(path)
        .filter(|label| !label.is_empty())
        .unwrap_or_else(|| fallback.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> SysfsRoot {
        SysfsRoot::fixture(name)
    }

    #[test]
    fn a_server_counts_per_controller_and_dimm() {
        assert_eq!(
            read_memory_controllers(&fixture("server")),
            vec![MemoryController {
                controller: "0".into(),
                corrected: 3,
                uncorrected: 0,
                dimms: vec![
                    DimmErrors {
                        name: "dimm0".into(),
                        label: "CPU_SrcID#0_MC#0_Chan#0_DIMM#0".into(),
                        corrected: 3,
                        uncorrected: 0,
                    },
                    DimmErrors {
                        name: "dimm1".into(),
                        label: "CPU_SrcID#0_MC#0_Chan#1_DIMM#0".into(),
                        corrected: 0,
                        uncorrected: 0,
                    },
                ],
            }]
        );
    }

    #[test]
    fn a_desktop_without_ecc_has_none() {
        assert!(read_memory_controllers(&fixture("desktop")).is_empty());
    }

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn older_kernels_count_per_csrow_channel() {
        let root: PathBuf =
            std::env::temp_dir().join(format!("vitals-edac-csrow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mc = "devices/system/edac/mc";
        write(&root, &format!("{mc}/mc1/ce_count"), "7\n");
        write(&root, &format!("{mc}/mc1/ue_count"), "1\n");
        write(&root, &format!("{mc}/mc1/csrow0/ce_count"), "7\n");
        write(&root, &format!("{mc}/mc1/csrow0/ch0_ce_count"), "5\n");
        write(
            &root,
            &format!("{mc}/mc1/csrow0/ch0_dimm_label"),
            "DIMM_A1\n",
        );
        write(&root, &format!("{mc}/mc1/csrow0/ch1_ce_count"), "2\n");
        write(&root, &format!("{mc}/mc1/csrow0/ch1_dimm_label"), "\n");
        // A controller whose counts do not read is left out.
        write(&root, &format!("{mc}/mc0/ce_count"), "lots\n");
        write(&root, &format!("{mc}/mc0/ue_count"), "0\n");
        let controllers = read_memory_controllers(&SysfsRoot(root.clone()));
        assert_eq!(controllers.len(), 1);
        assert_eq!(controllers[0].controller, "1");
        assert_eq!(
            (controllers[0].corrected, controllers[0].uncorrected),
            (7, 1)
        );
        let dimms: Vec<_> = controllers[0]
            .dimms
            .iter()
            .map(|d| (d.name.as_str(), d.label.as_str(), d.corrected))
            .collect();
        assert_eq!(
            dimms,
            [
                ("csrow0_ch0", "DIMM_A1", 5),
                ("csrow0_ch1", "csrow0 ch1", 2)
            ]
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn this_machine_and_an_empty_root() {
        let _ = read_memory_controllers(&SysfsRoot::default());
        assert!(read_memory_controllers(&SysfsRoot("/nonexistent".into())).is_empty());
    }
}
