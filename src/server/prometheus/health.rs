//! Whole-box health as the sampler last read it (a scrape reads no sysfs): hwmon sensors and EDAC
//! memory errors under node_exporter's names and labels, and PCIe AER errors (node_exporter has
//! no AER collector by default) as `vitals_pcie_aer_errors_total{address,device,severity}`.
//!
//! The `chip` label is node_exporter's (`Sensor::id`: from the hwmon directory's `device` link,
//! `platform_coretemp_0`, `pci0000:00_0000:00:18_3`, else the chip's name, else `hwmonN`).

use super::{Labels, counter, family, gauge};
use crate::wire::{HostHealth, MemoryController, PcieErrors, Sensor, SensorKind};
use prometheus_client::encoding::DescriptorEncoder;
use std::collections::BTreeMap;

pub(super) fn encode_health(
    encoder: &mut DescriptorEncoder,
    health: &HostHealth,
) -> std::fmt::Result {
    encode_sensors(encoder, &health.sensors)?;
    encode_edac(encoder, &health.memory_controllers)?;
    encode_aer(encoder, &health.pcie)
}

fn encode_sensors(encoder: &mut DescriptorEncoder, sensors: &[Sensor]) -> std::fmt::Result {
    // node_exporter's chip label → the chip's name.
    let chips: BTreeMap<&str, &str> = sensors
        .iter()
        .map(|s| (s.id.as_str(), s.chip.as_str()))
        .collect();
    let labels = |sensor: &Sensor| -> Labels {
        vec![
            ("chip", sensor.id.clone()),
            ("sensor", sensor.sensor.clone()),
        ]
    };
    let of_kind = |kind: SensorKind| sensors.iter().filter(move |s| s.kind == kind);
    let limit = |kind, get: fn(&Sensor) -> Option<f64>| {
        of_kind(kind).filter_map(move |s| Some((labels(s), gauge(get(s)?))))
    };
    use SensorKind::{Fan, Temperature};
    family(
        encoder,
        "node_hwmon_chip_names",
        "Annotation metric for human-readable chip names",
        chips.iter().map(|(chip, name)| {
            (
                vec![
                    ("chip", (*chip).to_owned()),
                    ("chip_name", (*name).to_owned()),
                ],
                gauge(1.0),
            )
        }),
    )?;
    family(
        encoder,
        "node_hwmon_sensor_label",
        "Label for given chip and sensor",
        sensors.iter().filter(|s| s.label != s.sensor).map(|s| {
            let mut labels = labels(s);
            labels.push(("label", s.label.clone()));
            (labels, gauge(1.0))
        }),
    )?;
    family(
        encoder,
        "node_hwmon_temp_celsius",
        "Hardware monitor for temperature (input)",
        of_kind(Temperature).map(|s| (labels(s), gauge(s.value))),
    )?;
    family(
        encoder,
        "node_hwmon_temp_max_celsius",
        "Hardware monitor for temperature (max)",
        limit(Temperature, |s| s.max),
    )?;
    family(
        encoder,
        "node_hwmon_temp_crit_celsius",
        "Hardware monitor for temperature (crit)",
        limit(Temperature, |s| s.crit),
    )?;
    family(
        encoder,
        "node_hwmon_fan_rpm",
        "Hardware monitor for fan revolutions per minute (input)",
        of_kind(Fan).map(|s| (labels(s), gauge(s.value))),
    )?;
    family(
        encoder,
        "node_hwmon_fan_min_rpm",
        "Hardware monitor for fan revolutions per minute (min)",
        limit(Fan, |s| s.min),
    )
}

fn encode_edac(
    encoder: &mut DescriptorEncoder,
    controllers: &[MemoryController],
) -> std::fmt::Result {
    let controller =
        |c: &MemoryController| -> Labels { vec![("controller", c.controller.clone())] };
    // Counters, named without `_total`: the encoder appends it.
    family(
        encoder,
        "node_edac_correctable_errors",
        "Total correctable memory errors.",
        controllers
            .iter()
            .map(|c| (controller(c), counter(c.corrected as f64))),
    )?;
    family(
        encoder,
        "node_edac_uncorrectable_errors",
        "Total uncorrectable memory errors.",
        controllers
            .iter()
            .map(|c| (controller(c), counter(c.uncorrected as f64))),
    )?;
    let dimms = || {
        controllers.iter().flat_map(move |c| {
            c.dimms.iter().map(move |d| {
                let mut labels = controller(c);
                labels.push(("dimm", d.name.clone()));
                labels.push(("label", d.label.clone()));
                (labels, d)
            })
        })
    };
    family(
        encoder,
        "node_edac_dimm_correctable_errors",
        "Total correctable memory errors for this DIMM.",
        dimms().map(|(labels, d)| (labels, counter(d.corrected as f64))),
    )?;
    family(
        encoder,
        "node_edac_dimm_uncorrectable_errors",
        "Total uncorrectable memory errors for this DIMM.",
        // A csrow channel has no count of its own: the kernel counts those per csrow.
        dimms()
            .filter(|(_, d)| !d.name.starts_with("csrow"))
            .map(|(labels, d)| (labels, counter(d.uncorrected as f64))),
    )
}

fn encode_aer(encoder: &mut DescriptorEncoder, devices: &[PcieErrors]) -> std::fmt::Result {
    family(
        encoder,
        "vitals_pcie_aer_errors",
        "PCIe errors the device reported through AER since boot, by severity.",
        devices.iter().flat_map(|d| {
            [
                ("correctable", d.correctable),
                ("nonfatal", d.nonfatal),
                ("fatal", d.fatal),
            ]
            .map(|(severity, count)| {
                (
                    vec![
                        ("address", d.address.clone()),
                        ("device", d.name.clone()),
                        ("severity", severity.to_owned()),
                    ],
                    counter(count as f64),
                )
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::node::render;
    use super::*;

    use crate::server::collect::health::{read, sysfs::SysfsRoot};

    /// What a tick reads under a fixture tree.
    fn fixture(name: &str) -> HostHealth {
        read(&SysfsRoot::fixture(name), None)
    }

    #[test]
    fn a_server_scrapes_in_node_exporters_names() {
        let health = fixture("server");
        let text = render::text(move |e| encode_health(e, &health));
        for line in [
            "# TYPE node_hwmon_temp_celsius gauge",
            r#"node_hwmon_chip_names{chip="platform_coretemp_0",chip_name="coretemp"} 1.0"#,
            r#"node_hwmon_sensor_label{chip="platform_coretemp_0",sensor="temp1",label="Package id 0"} 1.0"#,
            r#"node_hwmon_sensor_label{chip="platform_coretemp_0",sensor="temp3",label="Core 1"} 1.0"#,
            r#"node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} 45.0"#,
            r#"node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp2"} 42.0"#,
            r#"node_hwmon_temp_max_celsius{chip="platform_coretemp_0",sensor="temp1"} 80.0"#,
            r#"node_hwmon_temp_crit_celsius{chip="platform_coretemp_0",sensor="temp3"} 100.0"#,
            "# TYPE node_edac_correctable_errors_total counter",
            r#"node_edac_correctable_errors_total{controller="0"} 3.0"#,
            r#"node_edac_uncorrectable_errors_total{controller="0"} 0.0"#,
            r#"node_edac_dimm_correctable_errors_total{controller="0",dimm="dimm0",label="CPU_SrcID#0_MC#0_Chan#0_DIMM#0"} 3.0"#,
            r#"node_edac_dimm_uncorrectable_errors_total{controller="0",dimm="dimm1",label="CPU_SrcID#0_MC#0_Chan#1_DIMM#0"} 0.0"#,
            "# TYPE vitals_pcie_aer_errors_total counter",
            r#"vitals_pcie_aer_errors_total{address="0000:3b:00.0",device="NVIDIA GPU",severity="correctable"} 3.0"#,
            r#"vitals_pcie_aer_errors_total{address="0000:3a:00.0",device="PCI bridge",severity="fatal"} 1.0"#,
            r#"vitals_pcie_aer_errors_total{address="0000:5e:00.0",device="nvme0",severity="correctable"} 1.0"#,
            r#"vitals_pcie_aer_errors_total{address="0000:18:00.0",device="eno1",severity="nonfatal"} 0.0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
        }
        assert!(!text.contains("node_hwmon_fan"), "no fans: {text}");
        assert!(
            !text.contains("0000:00:00.0"),
            "a device without AER: {text}"
        );
    }

    #[test]
    fn a_desktop_has_fans_and_no_memory_or_pcie_errors() {
        let health = fixture("desktop");
        let text = render::text(move |e| encode_health(e, &health));
        for line in [
            r#"node_hwmon_chip_names{chip="pci0000:00_0000:00:18_3",chip_name="k10temp"} 1.0"#,
            r#"node_hwmon_chip_names{chip="nvme_nvme0",chip_name="nvme"} 1.0"#,
            r#"node_hwmon_temp_celsius{chip="nvme_nvme0",sensor="temp1"} 36.85"#,
            r#"node_hwmon_fan_rpm{chip="platform_nct6775_656",sensor="fan1"} 0.0"#,
            r#"node_hwmon_fan_rpm{chip="platform_nct6775_656",sensor="fan2"} 1043.0"#,
            r#"node_hwmon_fan_min_rpm{chip="platform_nct6775_656",sensor="fan2"} 300.0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
        }
        assert!(
            !text.contains(r#"sensor_label{chip="platform_nct6775_656",sensor="fan"#),
            "a fan without a kernel label has none: {text}"
        );
        assert!(!text.contains("node_edac_") && !text.contains("vitals_pcie_aer"));
    }

    #[test]
    fn a_missing_root_writes_nothing() {
        let text =
            render::text(|e| encode_health(e, &read(&SysfsRoot("/nonexistent".into()), None)));
        assert!(
            !text.contains("node_hwmon") && !text.contains("node_edac"),
            "{text}"
        );
    }
}
