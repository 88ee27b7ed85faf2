//! smartctl's JSON (`smartctl --json`, smartmontools 7.0 and later) read into what Vitals shows:
//! one disk's report into a [`DiskHealth`], and a scan (`smartctl --scan-open --json`) into the
//! devices to ask. Pure: text in, values out; nothing here runs smartctl or panics on its output.

use crate::wire::health::DiskHealth;
use serde_json::Value;
use std::fmt;

/// smartctl's exit status bits (`man smartctl`, EXIT STATUS) that mean it never read the disk:
/// bit 0 the command line did not parse (or the device type was not detected), bit 1 the device
/// could not be opened (or, with `-n standby`, was asleep and not woken).
const COULD_NOT_READ: u64 = 0b11;
/// Bit 3: the disk's own SMART status check said DISK FAILING.
const DISK_FAILING: u64 = 1 << 3;

/// ATA attribute ids read, by their usual names.
const ATA_REALLOCATED: u64 = 5;
const ATA_PENDING: u64 = 197;
const ATA_OFFLINE_UNCORRECTABLE: u64 = 198;
const ATA_CRC: u64 = 199;

/// The note of a disk asleep under `-n standby`.
pub const ASLEEP: &str = "asleep: not woken to ask";
/// The note of a disk without SMART (virtual disks, most USB sticks).
pub const NO_SMART: &str = "no SMART on this disk";

/// Output that is not smartctl's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// One device a scan lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedDevice {
    /// `/dev/sda`, `/dev/nvme0`, `/dev/bus/0`.
    pub name: String,
    /// smartctl's device type (`sat`, `nvme`, `scsi`, `megaraid,0`), given back to it as `-d`.
    pub kind: Option<String>,
}

impl ScannedDevice {
    /// What Vitals calls it: `sda`, `nvme0`; a device behind a RAID controller keeps its type
    /// (`bus/0 megaraid,0`), since several disks share one name there.
    pub fn label(&self) -> String {
        let short = self.name.strip_prefix("/dev/").unwrap_or(&self.name);
        match &self.kind {
            Some(kind) if kind.contains(',') => format!("{short} {kind}"),
            _ => short.to_owned(),
        }
    }
}

fn top(text: &str, what: &str) -> Result<Value, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ParseError(format!(
            "{what}: not JSON smartctl could have written ({e})"
        ))
    })?;
    if !value.is_object() {
        return Err(ParseError(format!(
            "{what}: smartctl's JSON is an object, this is not"
        )));
    }
    Ok(value)
}

/// The devices of `smartctl --scan-open --json` (or `--scan --json`): `devices[].name`, `type`.
pub fn scan(text: &str) -> Result<Vec<ScannedDevice>, ParseError> {
    let value = top(text, "smartctl --scan")?;
    let devices = match value.get("devices") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(devices)) => devices,
        Some(_) => {
            return Err(ParseError(
                "smartctl --scan: \"devices\" is not a list".into(),
            ));
        }
    };
    Ok(devices
        .iter()
        .filter_map(|device| {
            let name = device.get("name")?.as_str()?.trim();
            (!name.is_empty()).then(|| ScannedDevice {
                name: name.to_owned(),
                kind: device
                    .get("type")
                    .and_then(Value::as_str)
                    .filter(|kind| !kind.is_empty())
                    .map(str::to_owned),
            })
        })
        .collect())
}

fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn number_at(value: &Value, path: &[&str]) -> Option<u64> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_u64()
}

/// The raw value of ATA attribute `id`.
fn ata_raw(report: &Value, id: u64) -> Option<u64> {
    report
        .get("ata_smart_attributes")?
        .get("table")?
        .as_array()?
        .iter()
        .find(|row| row.get("id").and_then(Value::as_u64) == Some(id))?
        .get("raw")?
        .get("value")?
        .as_u64()
}

/// One disk's `smartctl --json -a -n standby /dev/X` output as what Vitals shows, for `device`
/// (`sda`: the name asked about, not the one inside, which a saved file may not share).
pub fn report(device: &str, text: &str) -> Result<DiskHealth, ParseError> {
    let report = top(text, &format!("smartctl's report on {device}"))?;
    let exit = number_at(&report, &["smartctl", "exit_status"]).unwrap_or(0);
    let messages: Vec<(String, String)> = report
        .get("smartctl")
        .and_then(|s| s.get("messages"))
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| {
                    let text = m.get("string")?.as_str()?.trim().to_owned();
                    let severity = m.get("severity").and_then(Value::as_str).unwrap_or("");
                    Some((text, severity.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let errors: Vec<&str> = messages
        .iter()
        .filter(|(_, severity)| severity == "error")
        .map(|(text, _)| text.as_str())
        .collect();

    let nvme = report.get("nvme_smart_health_information_log");
    let nvme_number = |key: &str| nvme.and_then(|log| log.get(key)).and_then(Value::as_u64);
    let mut disk = DiskHealth {
        device: device.to_owned(),
        model: text_at(&report, &["model_name"])
            .or_else(|| text_at(&report, &["scsi_model_name"]))
            .or_else(|| text_at(&report, &["product"])),
        serial: text_at(&report, &["serial_number"]),
        protocol: text_at(&report, &["device", "protocol"]).map(|p| p.to_lowercase()),
        passed: report
            .get("smart_status")
            .and_then(|s| s.get("passed"))
            .and_then(Value::as_bool),
        note: None,
        temperature_celsius: report
            .get("temperature")
            .and_then(|t| t.get("current"))
            .and_then(Value::as_f64)
            .or_else(|| nvme_number("temperature").map(|t| t as f64)),
        power_on_hours: number_at(&report, &["power_on_time", "hours"])
            .or_else(|| nvme_number("power_on_hours")),
        percentage_used: nvme_number("percentage_used"),
        available_spare: nvme_number("available_spare"),
        available_spare_threshold: nvme_number("available_spare_threshold"),
        media_errors: nvme_number("media_errors"),
        unsafe_shutdowns: nvme_number("unsafe_shutdowns"),
        critical_warning: nvme_number("critical_warning"),
        reallocated_sectors: ata_raw(&report, ATA_REALLOCATED),
        pending_sectors: ata_raw(&report, ATA_PENDING),
        offline_uncorrectable: ata_raw(&report, ATA_OFFLINE_UNCORRECTABLE),
        crc_errors: ata_raw(&report, ATA_CRC),
    };

    let asleep = messages
        .iter()
        .any(|(text, _)| text.contains("Device is in ") && text.contains(" mode"));
    let unavailable = report
        .get("smart_support")
        .and_then(|s| s.get("available"))
        .and_then(Value::as_bool)
        == Some(false)
        || messages
            .iter()
            .any(|(text, _)| text.contains("SMART support is: Unavailable"));
    let disabled = report
        .get("smart_support")
        .and_then(|s| s.get("enabled"))
        .and_then(Value::as_bool)
        == Some(false);
    let has_counters = nvme.is_some() || report.get("ata_smart_attributes").is_some();

    disk.note = if asleep && exit & COULD_NOT_READ != 0 {
        disk.passed = None;
        Some(ASLEEP.to_owned())
    } else if exit & COULD_NOT_READ != 0 {
        disk.passed = None;
        Some(
            match errors
                .first()
                .copied()
                .or(messages.first().map(|(t, _)| t.as_str()))
            {
                Some(why) => format!("could not open {device}: {why}"),
                None => format!("could not open {device} (smartctl exit status {exit})"),
            },
        )
    } else if unavailable || (disk.passed.is_none() && !has_counters) {
        disk.passed = None;
        Some(NO_SMART.to_owned())
    } else if disabled {
        disk.passed = None;
        Some("SMART is off on this disk (smartctl -s on turns it on)".to_owned())
    } else if disk.passed.is_none() && exit & DISK_FAILING != 0 {
        disk.passed = Some(false);
        Some("smartctl: SMART status check says DISK FAILING".to_owned())
    } else if disk.passed.is_none() {
        Some("smartctl gave no overall verdict".to_owned())
    } else if !errors.is_empty() {
        Some(format!("smartctl: {}", errors.join("; ")))
    } else {
        None
    };
    Ok(disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/smart/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn nvme_healthy() {
        let disk = report("nvme0", &fixture("nvme-healthy.json")).unwrap();
        assert_eq!(
            disk,
            DiskHealth {
                device: "nvme0".into(),
                model: Some("INTEL SSDPEKNW010T8".into()),
                serial: Some("BTNH93710FS91P0B".into()),
                protocol: Some("nvme".into()),
                passed: Some(true),
                note: None,
                temperature_celsius: Some(36.0),
                power_on_hours: Some(2401),
                percentage_used: Some(0),
                available_spare: Some(100),
                available_spare_threshold: Some(10),
                media_errors: Some(0),
                unsafe_shutdowns: Some(43),
                critical_warning: Some(0),
                ..DiskHealth::default()
            }
        );
    }

    #[test]
    fn nvme_with_media_errors_still_passes_its_own_check() {
        let disk = report("nvme0", &fixture("nvme-media-errors.json")).unwrap();
        assert_eq!(
            disk,
            DiskHealth {
                device: "nvme0".into(),
                model: Some("Samsung SSD 970 EVO 500GB".into()),
                serial: Some("S466NX0M776250H".into()),
                protocol: Some("nvme".into()),
                passed: Some(true),
                note: None,
                temperature_celsius: Some(35.0),
                power_on_hours: Some(12798),
                percentage_used: Some(3),
                available_spare: Some(99),
                available_spare_threshold: Some(10),
                media_errors: Some(7),
                unsafe_shutdowns: Some(10),
                critical_warning: Some(0),
                ..DiskHealth::default()
            }
        );
    }

    #[test]
    fn sata_healthy() {
        let disk = report("sdb", &fixture("sata-healthy.json")).unwrap();
        assert_eq!(
            disk,
            DiskHealth {
                device: "sdb".into(),
                model: Some("WDC WD140EDFZ-11A0VA0".into()),
                serial: Some("9RK1XXXX".into()),
                protocol: Some("ata".into()),
                passed: Some(true),
                note: None,
                temperature_celsius: Some(32.0),
                power_on_hours: Some(1730),
                reallocated_sectors: Some(0),
                pending_sectors: Some(0),
                offline_uncorrectable: Some(0),
                crc_errors: Some(0),
                ..DiskHealth::default()
            }
        );
    }

    #[test]
    fn sata_failing_with_reallocated_and_pending_sectors() {
        let disk = report("sdc", &fixture("sata-failing.json")).unwrap();
        assert_eq!(
            disk,
            DiskHealth {
                device: "sdc".into(),
                model: Some("Hitachi HDS721050DLE630".into()),
                serial: Some("MSK423Y20S3HBC".into()),
                protocol: Some("ata".into()),
                passed: Some(false),
                note: None,
                temperature_celsius: Some(25.0),
                power_on_hours: Some(65592),
                reallocated_sectors: Some(1975),
                pending_sectors: Some(8),
                offline_uncorrectable: Some(0),
                crc_errors: Some(0),
                ..DiskHealth::default()
            }
        );
    }

    #[test]
    fn a_device_that_did_not_open_says_why() {
        let disk = report("sda", &fixture("open-failed.json")).unwrap();
        assert_eq!(disk.passed, None);
        assert_eq!(
            disk.note.as_deref(),
            Some(
                r"could not open sda: Smartctl open device: /dev/sda failed: \\.\PhysicalDrive0: Open failed, Error=5"
            )
        );
    }

    #[test]
    fn this_vms_virtual_disk_is_not_a_type_smartctl_knows() {
        let disk = report("vda", &fixture("this-vm-vda.json")).unwrap();
        assert_eq!(
            disk,
            DiskHealth {
                device: "vda".into(),
                note: Some("could not open vda: /dev/vda: Unable to detect device type".into()),
                ..DiskHealth::default()
            }
        );
        assert_eq!(scan(&fixture("this-vm-scan-open.json")).unwrap(), vec![]);
    }

    #[test]
    fn a_sleeping_disk_is_left_asleep() {
        let disk = report("sdb", &fixture("asleep.json")).unwrap();
        assert_eq!(
            disk,
            DiskHealth {
                device: "sdb".into(),
                protocol: Some("ata".into()),
                note: Some(ASLEEP.into()),
                ..DiskHealth::default()
            }
        );
    }

    #[test]
    fn a_disk_without_smart() {
        // As smartctl 7.3 says it of a QEMU disk on a SAT bus (synthesised, abridged).
        let text = r#"{"smartctl":{"exit_status":4,"messages":[
            {"string":"SMART support is: Unavailable - device lacks SMART capability.","severity":"information"}]},
            "device":{"name":"/dev/sda","type":"sat","protocol":"ATA"},"model_name":"QEMU HARDDISK",
            "serial_number":"QM00001","smart_support":{"available":false}}"#;
        let disk = report("sda", text).unwrap();
        assert_eq!(disk.passed, None);
        assert_eq!(disk.note.as_deref(), Some(NO_SMART));
        assert_eq!(disk.model.as_deref(), Some("QEMU HARDDISK"));
        // No smart_status and nothing else: the same.
        let disk = report("sdz", r#"{"smartctl":{"exit_status":0}}"#).unwrap();
        assert_eq!((disk.passed, disk.note.as_deref()), (None, Some(NO_SMART)));
    }

    #[test]
    fn malformed_output_is_an_error_never_a_panic() {
        for text in [
            "",
            "{",
            "smartctl: command not found",
            "[1,2]",
            "{\"smartctl\": ",
        ] {
            let error = report("sda", text).unwrap_err();
            assert!(
                error.to_string().starts_with("smartctl's report on sda: "),
                "{error}"
            );
            assert!(scan(text).is_err());
        }
        // Odd types inside read as absent.
        let disk = report(
            "sda",
            r#"{"smart_status":{"passed":"yes"},"temperature":{"current":"hot"},
            "ata_smart_attributes":{"table":[{"id":5,"raw":{"value":-1}}, 7]}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                disk.passed,
                disk.temperature_celsius,
                disk.reallocated_sectors
            ),
            (None, None, None)
        );
    }

    #[test]
    fn scans_list_names_and_types() {
        let text = r#"{"json_format_version":[1,0],"smartctl":{"exit_status":0},"devices":[
            {"name":"/dev/sda","info_name":"/dev/sda [SAT]","type":"sat","protocol":"ATA"},
            {"name":"/dev/nvme0","info_name":"/dev/nvme0","type":"nvme","protocol":"NVMe"},
            {"name":"/dev/bus/0","info_name":"/dev/bus/0 [megaraid_disk_00]","type":"megaraid,0","protocol":"SCSI"},
            {"info_name":"nameless"}]}"#;
        let devices = scan(text).unwrap();
        let labels: Vec<String> = devices.iter().map(ScannedDevice::label).collect();
        assert_eq!(labels, ["sda", "nvme0", "bus/0 megaraid,0"]);
        assert_eq!(devices[0].kind.as_deref(), Some("sat"));
        assert!(scan(r#"{"devices": 3}"#).is_err());
    }
}
