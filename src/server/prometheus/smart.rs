//! Each disk's SMART, as last read (`snapshot.health.disks`), under smartctl_exporter's names
//! (prometheus-community/smartctl_exporter `metrics.go`), so its dashboards and alerts work on
//! Vitals: `smartctl_device{device,protocol,model_name,serial_number}`,
//! `smartctl_device_smart_status`, `smartctl_device_temperature{temperature_type="current"}`,
//! `smartctl_device_power_on_seconds`, NVMe's `smartctl_device_{percentage_used,available_spare,
//! available_spare_threshold,media_errors,critical_warning}`, and ATA attributes 5, 197, 198 and
//! 199 as `smartctl_device_attribute{attribute_id,attribute_name,attribute_value_type="raw"}`.
//!
//! Where smartctl_exporter differs: it writes 0 for what a disk does not report (a SATA disk's
//! `percentage_used`, a verdict-less disk's `smart_status`); here what is not known is absent.
//! Its device label is the same (`sda`, `nvme0`: `/dev/` left off). Vitals keeps neither the
//! attributes' flags (`attribute_flags_short`, `_long`) nor their normalised `value`, `worst`
//! and `thresh`, nor the model family, firmware and versions, so those labels and samples are
//! not written, nor `interface` (smartctl's `-d` type, which Vitals does not keep).
//! smartctl_exporter types the counts as counters without `_total`; they are gauges here, so
//! the names match.

use super::{Labels, family, gauge};
use crate::wire::DiskHealth;
use prometheus_client::encoding::DescriptorEncoder;

/// smartctl's spelling of a protocol (`NVMe`, `ATA`, `SCSI`), from Vitals' lowercase one.
fn protocol(disk: &DiskHealth) -> String {
    match disk.protocol.as_deref() {
        Some("nvme") => "NVMe".to_owned(),
        Some("ata") => "ATA".to_owned(),
        Some("scsi") => "SCSI".to_owned(),
        Some(other) => other.to_owned(),
        None => String::new(),
    }
}

/// An ATA attribute: its id, smartctl's name for it, and its raw value.
type Attribute = (u64, &'static str, fn(&DiskHealth) -> Option<u64>);

/// The ATA attributes Vitals reads, by id and smartctl's name for them.
const ATTRIBUTES: [Attribute; 4] = [
    (5, "Reallocated_Sector_Ct", |d| d.reallocated_sectors),
    (197, "Current_Pending_Sector", |d| d.pending_sectors),
    (198, "Offline_Uncorrectable", |d| d.offline_uncorrectable),
    (199, "UDMA_CRC_Error_Count", |d| d.crc_errors),
];

pub(super) fn encode_smart(
    encoder: &mut DescriptorEncoder,
    disks: &[DiskHealth],
) -> std::fmt::Result {
    let device = |d: &DiskHealth| -> Labels { vec![("device", d.device.clone())] };
    let per_disk = |get: fn(&DiskHealth) -> Option<f64>| {
        disks
            .iter()
            .filter_map(move |d| Some((device(d), gauge(get(d)?))))
    };
    family(
        encoder,
        "smartctl_device",
        "Device info",
        disks.iter().map(|d| {
            let protocol = protocol(d);
            (
                vec![
                    ("device", d.device.clone()),
                    ("protocol", protocol),
                    ("model_name", d.model.clone().unwrap_or_default()),
                    ("serial_number", d.serial.clone().unwrap_or_default()),
                ],
                gauge(1.0),
            )
        }),
    )?;
    family(
        encoder,
        "smartctl_device_smart_status",
        "General smart status",
        per_disk(|d| d.passed.map(super::flag)),
    )?;
    family(
        encoder,
        "smartctl_device_temperature",
        "Device temperature celsius",
        disks.iter().filter_map(|d| {
            let mut labels = device(d);
            labels.push(("temperature_type", "current".to_owned()));
            Some((labels, gauge(d.temperature_celsius?)))
        }),
    )?;
    family(
        encoder,
        "smartctl_device_power_on_seconds",
        "Device power on seconds",
        per_disk(|d| Some(d.power_on_hours? as f64 * 3600.0)),
    )?;
    family(
        encoder,
        "smartctl_device_percentage_used",
        "Device write percentage used",
        per_disk(|d| Some(d.percentage_used? as f64)),
    )?;
    family(
        encoder,
        "smartctl_device_available_spare",
        "Normalized percentage (0 to 100%) of the remaining spare capacity available",
        per_disk(|d| Some(d.available_spare? as f64)),
    )?;
    family(
        encoder,
        "smartctl_device_available_spare_threshold",
        "When the Available Spare falls below the threshold indicated in this field, an \
         asynchronous event completion may occur. The value is indicated as a normalized \
         percentage (0 to 100%)",
        per_disk(|d| Some(d.available_spare_threshold? as f64)),
    )?;
    family(
        encoder,
        "smartctl_device_media_errors",
        "Contains the number of occurrences where the controller detected an unrecovered data \
         integrity error",
        per_disk(|d| Some(d.media_errors? as f64)),
    )?;
    family(
        encoder,
        "smartctl_device_critical_warning",
        "This field indicates critical warnings for the state of the controller",
        per_disk(|d| Some(d.critical_warning? as f64)),
    )?;
    family(
        encoder,
        "smartctl_device_attribute",
        "Device attributes",
        disks.iter().flat_map(|d| {
            ATTRIBUTES.iter().filter_map(move |(id, name, get)| {
                let mut labels = device(d);
                labels.push(("attribute_id", id.to_string()));
                labels.push(("attribute_name", (*name).to_owned()));
                labels.push(("attribute_value_type", "raw".to_owned()));
                Some((labels, gauge(get(d)? as f64)))
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::collect::health::smart::report;

    fn disk(device: &str, fixture: &str) -> DiskHealth {
        let path = format!(
            "{}/tests/fixtures/smart/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        report(device, &std::fs::read_to_string(path).unwrap()).unwrap()
    }

    struct Disks(Vec<DiskHealth>);

    impl std::fmt::Debug for Disks {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Disks")
        }
    }

    impl prometheus_client::collector::Collector for Disks {
        fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
            encode_smart(&mut encoder, &self.0)
        }
    }

    fn encoded(disks: Vec<DiskHealth>) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(Disks(disks)));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        out
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    #[test]
    fn nvme_health_log_under_smartctl_exporter_names() {
        let text = encoded(vec![disk("nvme0", "nvme-media-errors.json")]);
        assert!(
            text.contains(
                r#"smartctl_device{device="nvme0",protocol="NVMe",model_name="Samsung SSD 970 EVO 500GB",serial_number="S466NX0M776250H"} 1"#
            ),
            "{text}"
        );
        let v = |s: &str| value(&text, s);
        assert_eq!(
            v(r#"smartctl_device_smart_status{device="nvme0"}"#),
            Some(1.0)
        );
        assert_eq!(
            v(r#"smartctl_device_temperature{device="nvme0",temperature_type="current"}"#),
            Some(35.0)
        );
        assert_eq!(
            v(r#"smartctl_device_power_on_seconds{device="nvme0"}"#),
            Some(12798.0 * 3600.0)
        );
        assert_eq!(
            v(r#"smartctl_device_percentage_used{device="nvme0"}"#),
            Some(3.0)
        );
        assert_eq!(
            v(r#"smartctl_device_available_spare{device="nvme0"}"#),
            Some(99.0)
        );
        assert_eq!(
            v(r#"smartctl_device_available_spare_threshold{device="nvme0"}"#),
            Some(10.0)
        );
        assert_eq!(
            v(r#"smartctl_device_media_errors{device="nvme0"}"#),
            Some(7.0)
        );
        assert_eq!(
            v(r#"smartctl_device_critical_warning{device="nvme0"}"#),
            Some(0.0)
        );
        assert!(
            text.contains("# TYPE smartctl_device_media_errors gauge"),
            "{text}"
        );
        assert!(
            !text.contains("smartctl_device_attribute"),
            "no ATA attributes on NVMe"
        );
    }

    #[test]
    fn a_failing_sata_disk_and_its_attributes() {
        let text = encoded(vec![
            disk("sdc", "sata-failing.json"),
            disk("sdb", "sata-healthy.json"),
        ]);
        let v = |s: &str| value(&text, s);
        assert_eq!(
            v(r#"smartctl_device_smart_status{device="sdc"}"#),
            Some(0.0)
        );
        assert_eq!(
            v(r#"smartctl_device_smart_status{device="sdb"}"#),
            Some(1.0)
        );
        let attribute = |device: &str, id: u64, name: &str| {
            v(&format!(
                r#"smartctl_device_attribute{{device="{device}",attribute_id="{id}",attribute_name="{name}",attribute_value_type="raw"}}"#
            ))
        };
        assert_eq!(attribute("sdc", 5, "Reallocated_Sector_Ct"), Some(1975.0));
        assert_eq!(attribute("sdc", 197, "Current_Pending_Sector"), Some(8.0));
        assert_eq!(attribute("sdc", 198, "Offline_Uncorrectable"), Some(0.0));
        assert_eq!(attribute("sdc", 199, "UDMA_CRC_Error_Count"), Some(0.0));
        assert_eq!(attribute("sdb", 197, "Current_Pending_Sector"), Some(0.0));
        assert_eq!(
            v(r#"smartctl_device_power_on_seconds{device="sdc"}"#),
            Some(65592.0 * 3600.0)
        );
        assert!(text.contains(
            r#"smartctl_device{device="sdc",protocol="ATA",model_name="Hitachi HDS721050DLE630""#
        ));
        assert!(
            !text.contains("smartctl_device_percentage_used"),
            "no NVMe log on SATA: absent, not 0"
        );
    }

    #[test]
    fn no_verdict_no_status_and_no_disks_nothing() {
        let text = encoded(vec![disk("sdd", "asleep.json")]);
        assert!(text.contains(r#"smartctl_device{device="sdd""#), "{text}");
        assert!(!text.contains("smartctl_device_smart_status"), "{text}");
        assert!(!encoded(Vec::new()).contains("smartctl_"));
    }
}
