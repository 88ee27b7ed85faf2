//! hwmon: the machine's temperature and fan sensors, from `class/hwmon/hwmonN/` (each a symlink
//! into its device's `hwmon/` directory, as the kernel lays them out; on old kernels the files sat
//! under `hwmonN/device/` instead). Read at the sample interval: one directory listing and a few
//! small reads a sensor. A file that is missing, unreadable (a driver may answer EIO or ENODATA)
//! or not a number leaves that sensor, or that limit, out; nothing here panics.

use super::sysfs::SysfsRoot;
use crate::wire::{Sensor, SensorKind};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Every temperature and fan sensor the kernel exposes, by hwmon number, then temperatures before
/// fans, then sensor number: an order that stays put from one sample to the next.
pub fn read_sensors(root: &SysfsRoot) -> Vec<Sensor> {
    let mut sensors = Vec::new();
    for (_, hwmon) in numbered_entries(&root.join("class/hwmon"), "hwmon") {
        read_chip(&root.join("class/hwmon").join(&hwmon), &hwmon, &mut sensors);
    }
    sensors
}

/// node_exporter's `chip` label for a hwmon directory: from its `device` link's target, the
/// parent directory's name and the device's (`platform_coretemp_0`, `pci0000:00_0000:00:18_3`,
/// `nvme_nvme0`), cleaned as node_exporter cleans them; else the chip's `name` file, else the
/// hwmon directory's name, as node_exporter falls back.
pub fn chip_id(root: &SysfsRoot, hwmon: &str) -> String {
    let dir = root.join("class/hwmon").join(hwmon);
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let name = device
            .file_name()
            .map(|n| clean(&n.to_string_lossy()))
            .unwrap_or_default();
        let kind = device
            .parent()
            .and_then(Path::file_name)
            .map(|n| clean(&n.to_string_lossy()))
            .unwrap_or_default();
        match (kind.is_empty(), name.is_empty()) {
            (false, false) => return format!("{kind}_{name}"),
            (true, false) => return name,
            _ => {}
        }
    }
    if let Some(name) = attribute(&dir.join("name")).map(|n| clean(&n))
        && !name.is_empty()
    {
        return name;
    }
    clean(hwmon)
}

/// node_exporter's `cleanMetricName`: lower case, anything but `[a-z0-9:_]` an underscore, and no
/// underscores at either end.
fn clean(name: &str) -> String {
    let replaced: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | ':' | '_' => c,
            _ => '_',
        })
        .collect();
    replaced.trim_matches('_').to_owned()
}

/// The entries of `dir` named `<prefix><number>`, by number (`hwmon10` after `hwmon9`). Entries
/// are not asked whether they are directories: in sysfs most are symlinks to one.
pub(super) fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(u64, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut numbered: Vec<(u64, String)> = entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let number = name.strip_prefix(prefix)?.parse().ok()?;
            Some((number, name))
        })
        .collect();
    numbered.sort();
    numbered
}

/// A sysfs attribute's text, trimmed; None when it is missing, unreadable or not UTF-8.
///
/// Not `fs::read_to_string`, which first asks the file's size, which sysfs does not know.
pub(super) fn attribute(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::with_capacity(64);
    file.take(64 * 1024).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some(text.trim().to_owned())
}

/// An attribute holding one unsigned decimal integer.
pub(super) fn unsigned(path: &Path) -> Option<u64> {
    attribute(path)?.parse().ok()
}

/// One sensor's files, as found in the chip's directory.
#[derive(Default)]
struct Files {
    input: bool,
    label: bool,
    max: bool,
    crit: bool,
    min: bool,
}

/// `temp3_input` → (Temperature, 3, "input"), for the attributes read here; None for the rest
/// (`temp1_alarm`, `pwm2`, `name`).
fn parse_file_name(name: &str) -> Option<(SensorKind, u32, &str)> {
    let (kind, rest) = if let Some(rest) = name.strip_prefix("temp") {
        (SensorKind::Temperature, rest)
    } else if let Some(rest) = name.strip_prefix("fan") {
        (SensorKind::Fan, rest)
    } else {
        return None;
    };
    let (index, attribute) = rest.split_once('_')?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted = match kind {
        SensorKind::Temperature => ["input", "label", "max", "crit"].contains(&attribute),
        SensorKind::Fan => ["input", "label", "min"].contains(&attribute),
    };
    wanted.then_some((kind, index.parse().ok()?, attribute))
}

/// The sensors a directory's file names declare, keyed by kind (temperatures first) and number.
fn list_sensors(dir: &Path) -> BTreeMap<(u8, u32), Files> {
    let mut found: BTreeMap<(u8, u32), Files> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((kind, index, attribute)) = name.to_str().and_then(parse_file_name) else {
            continue;
        };
        let files = found.entry((kind_order(kind), index)).or_default();
        match attribute {
            "input" => files.input = true,
            "label" => files.label = true,
            "max" => files.max = true,
            "crit" => files.crit = true,
            _ => files.min = true,
        }
    }
    found
}

fn kind_order(kind: SensorKind) -> u8 {
    match kind {
        SensorKind::Temperature => 0,
        SensorKind::Fan => 1,
    }
}

fn read_chip(dir: &Path, hwmon: &str, sensors: &mut Vec<Sensor>) {
    let mut files_dir = dir.to_path_buf();
    let mut found = list_sensors(&files_dir);
    if found.is_empty() {
        // Kernels before 3.x kept a chip's files beside its device's.
        files_dir = dir.join("device");
        found = list_sensors(&files_dir);
        if found.is_empty() {
            return;
        }
    }
    let chip = attribute(&dir.join("name"))
        .or_else(|| attribute(&dir.join("device/name")))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| hwmon.to_owned());
    for ((order, index), files) in found {
        let (kind, prefix) = if order == 0 {
            (SensorKind::Temperature, "temp")
        } else {
            (SensorKind::Fan, "fan")
        };
        let value = |attribute: &str, present: bool| -> Option<f64> {
            if !present {
                return None;
            }
            let text = self::attribute(&files_dir.join(format!("{prefix}{index}_{attribute}")))?;
            match kind {
                // Millidegrees, signed: a sensor below zero, or nvme's -273150 "no minimum".
                SensorKind::Temperature => text.parse::<i64>().ok().map(|m| m as f64 / 1000.0),
                SensorKind::Fan => text.parse::<u64>().ok().map(|rpm| rpm as f64),
            }
        };
        let Some(reading) = value("input", files.input) else {
            continue;
        };
        let sensor = format!("{prefix}{index}");
        let label = files
            .label
            .then(|| attribute(&files_dir.join(format!("{sensor}_label"))))
            .flatten()
            .filter(|label| !label.is_empty())
            .unwrap_or_else(|| sensor.clone());
        sensors.push(Sensor {
            chip: chip.clone(),
            hwmon: hwmon.to_owned(),
            // node_exporter's chip label, set by the caller (it resolves links).
            id: String::new(),
            sensor,
            label,
            kind,
            value: reading,
            max: value("max", files.max),
            crit: value("crit", files.crit),
            min: value("min", files.min),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fixture tree under tests/fixtures/sysfs/.
    pub(super) fn fixture(name: &str) -> SysfsRoot {
        SysfsRoot(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/sysfs")
                .join(name),
        )
    }

    fn temp(chip: &str, hwmon: &str, sensor: &str, label: &str, value: f64) -> Sensor {
        Sensor {
            chip: chip.into(),
            hwmon: hwmon.into(),
            sensor: sensor.into(),
            label: label.into(),
            kind: SensorKind::Temperature,
            value,
            ..Default::default()
        }
    }

    fn fan(hwmon: &str, sensor: &str, value: f64, min: f64) -> Sensor {
        Sensor {
            chip: "nct6798".into(),
            hwmon: hwmon.into(),
            sensor: sensor.into(),
            label: sensor.into(),
            kind: SensorKind::Fan,
            value,
            min: Some(min),
            ..Default::default()
        }
    }

    #[test]
    fn a_desktop_has_its_cpu_nvme_and_board_sensors_in_order() {
        let sensors = read_sensors(&fixture("desktop"));
        let expected = vec![
            temp("k10temp", "hwmon0", "temp1", "Tctl", 45.25),
            temp("k10temp", "hwmon0", "temp3", "Tccd1", 38.5),
            Sensor {
                max: Some(81.85),
                crit: Some(84.85),
                ..temp("nvme", "hwmon1", "temp1", "Composite", 36.85)
            },
            Sensor {
                max: Some(65261.85),
                ..temp("nvme", "hwmon1", "temp2", "Sensor 1", 36.85)
            },
            Sensor {
                max: Some(80.0),
                ..temp("nct6798", "hwmon2", "temp1", "SYSTIN", 33.0)
            },
            temp("nct6798", "hwmon2", "temp2", "CPUTIN", 40.5),
            fan("hwmon2", "fan1", 0.0, 0.0),
            fan("hwmon2", "fan2", 1043.0, 300.0),
            Sensor {
                min: None,
                ..fan("hwmon2", "fan3", 612.0, 0.0)
            },
        ];
        assert_eq!(sensors, expected);
    }

    #[test]
    fn a_server_has_its_package_and_cores_with_limits() {
        let sensors = read_sensors(&fixture("server"));
        let core = |sensor: &str, label: &str, value: f64| Sensor {
            max: Some(80.0),
            crit: Some(100.0),
            ..temp("coretemp", "hwmon0", sensor, label, value)
        };
        assert_eq!(
            sensors,
            vec![
                core("temp1", "Package id 0", 45.0),
                core("temp2", "Core 0", 42.0),
                core("temp3", "Core 1", 44.0),
            ]
        );
    }

    #[test]
    fn chip_ids_are_node_exporters() {
        assert_eq!(chip_id(&fixture("server"), "hwmon0"), "platform_coretemp_0");
        let desktop = fixture("desktop");
        assert_eq!(chip_id(&desktop, "hwmon0"), "pci0000:00_0000:00:18_3");
        assert_eq!(chip_id(&desktop, "hwmon1"), "nvme_nvme0");
        assert_eq!(chip_id(&desktop, "hwmon2"), "platform_nct6775_656");
        assert_eq!(clean("Sensor 1\n"), "sensor_1");
    }

    /// A scratch tree for layouts the fixtures do not have.
    fn scratch(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("vitals-hwmon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        root
    }

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn old_layout_garbage_and_gaps() {
        let root = scratch("odd");
        // Old kernels: the files under hwmonN/device/.
        write(&root, "class/hwmon/hwmon0/device/name", "thinkpad\n");
        write(&root, "class/hwmon/hwmon0/device/fan1_input", "2650\n");
        write(&root, "class/hwmon/hwmon0/device/fan1_label", "CPU fan\n");
        write(&root, "class/hwmon/hwmon0/device/temp1_input", "-5000\n");
        // Garbage, a limit without its reading, a label without its reading, no name file.
        write(&root, "class/hwmon/hwmon10/temp1_input", "N/A\n");
        write(&root, "class/hwmon/hwmon10/temp2_input", "51000\n");
        write(&root, "class/hwmon/hwmon10/temp2_max", "hot\n");
        write(&root, "class/hwmon/hwmon10/temp3_crit", "90000\n");
        write(&root, "class/hwmon/hwmon10/fan4_label", "Rear\n");
        write(&root, "class/hwmon/hwmon10/temp_input", "1\n");
        write(&root, "class/hwmon/hwmon2/temp1_input", "30000\n");
        write(&root, "class/hwmon/hwmon2/name", "\n");
        // Not hwmon directories.
        write(&root, "class/hwmon/notes", "x\n");
        let sensors = read_sensors(&SysfsRoot(root.clone()));
        let names: Vec<_> = sensors
            .iter()
            .map(|s| (s.hwmon.as_str(), s.sensor.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("hwmon0", "temp1"),
                ("hwmon0", "fan1"),
                ("hwmon2", "temp1"),
                ("hwmon10", "temp2")
            ]
        );
        assert_eq!(sensors[0].chip, "thinkpad");
        assert_eq!(sensors[0].value, -5.0);
        assert_eq!(sensors[1].label, "CPU fan");
        assert_eq!(sensors[1].value, 2650.0);
        assert_eq!(sensors[2].chip, "hwmon2", "an empty name falls back");
        assert_eq!(sensors[3].chip, "hwmon10");
        assert_eq!(sensors[3].max, None, "a garbage limit is absent");
        assert_eq!(chip_id(&SysfsRoot(root.clone()), "hwmon10"), "hwmon10");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn this_machine_and_an_empty_root() {
        // Whatever this machine has (a VM: none), reading it does not fail.
        let _ = read_sensors(&SysfsRoot::default());
        assert!(read_sensors(&SysfsRoot("/nonexistent".into())).is_empty());
        assert!(read_sensors(&fixture("empty-does-not-exist")).is_empty());
    }
}
