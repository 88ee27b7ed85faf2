//! What a GPU card says beyond its first facts, as plain data the card draws: why its clocks are
//! held down, its errors, links, engines, energy and MIG instances. Plain Rust, tested on the host.

use super::processes::memory;
use crate::shared::format;
use crate::shared::store::Millis;
use crate::wire::{
    CLOCK_EVENT_REASONS, GpuMetrics, GpuProcess, GpuProcessKind, GpuProcessUtilization,
    SLOWDOWN_REASONS,
};

/// How a fact reads at a glance: plain, worth a look, or a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Warn,
    Bad,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
        }
    }
}

/// One line of a GPU's detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    pub tone: Tone,
}

fn fact(label: &'static str, value: String, tone: Tone) -> Fact {
    Fact { label, value, tone }
}

/// How each clock event reason reads: idleness and settings are plain, the power cap worth a
/// look, heat and hardware signals a fault.
pub fn reason_tone(bit: u64) -> Tone {
    if bit & SLOWDOWN_REASONS != 0 {
        Tone::Bad
    } else if bit == 0x4 {
        Tone::Warn
    } else {
        Tone::Plain
    }
}

/// The reasons that hold now: (key, label, tone), in NVML's order.
pub fn held_reasons(reasons: u64) -> Vec<(&'static str, &'static str, Tone)> {
    CLOCK_EVENT_REASONS
        .iter()
        .filter(|(bit, _, _)| reasons & bit != 0)
        .map(|&(bit, key, label)| (key, label, reason_tone(bit)))
        .collect()
}

/// The GPU's detail lines; what the GPU does not report is left out.
pub fn facts(gpu: &GpuMetrics, energy_in_range: Option<f64>) -> Vec<Fact> {
    let mut facts = Vec::new();
    if let Some(profiling) = &gpu.profiling {
        facts.push(fact("Profiling", profiling.line.clone(), Tone::Plain));
    }
    if let Some(state) = gpu.performance_state {
        facts.push(fact("Performance state", format!("P{state}"), Tone::Plain));
    }
    let violations: Vec<String> = [
        ("power", gpu.power_violation_ns),
        ("thermal", gpu.thermal_violation_ns),
    ]
    .iter()
    .filter_map(|(what, ns)| Some(format!("{what} {}", seconds(ns.as_ref()?))))
    .collect();
    if !violations.is_empty() {
        let value = format!("{} since the driver loaded", violations.join(" · "));
        facts.push(fact("Held down", value, Tone::Plain));
    }
    if let Some(ecc) = gpu.ecc {
        let mut value = String::from(if ecc.enabled { "on" } else { "off" });
        if let Some(next) = ecc.pending_enabled {
            value += if next {
                " (on after reboot)"
            } else {
                " (off after reboot)"
            };
        }
        if let (Some(corrected), Some(uncorrected)) =
            (ecc.corrected_volatile, ecc.uncorrected_volatile)
        {
            value += &format!(" · {corrected} corrected, {uncorrected} uncorrected");
        }
        if let (Some(corrected), Some(uncorrected)) =
            (ecc.corrected_aggregate, ecc.uncorrected_aggregate)
        {
            value += &format!(" (lifetime {corrected} / {uncorrected})");
        }
        let tone = match ecc.uncorrected_volatile {
            Some(n) if n > 0 => Tone::Bad,
            _ => Tone::Plain,
        };
        facts.push(fact("ECC", value, tone));
    }
    if let Some(repair) = gpu.memory_repair {
        let mut parts = Vec::new();
        let mut tone = Tone::Plain;
        if let (Some(c), Some(u)) = (
            repair.remapped_rows_correctable,
            repair.remapped_rows_uncorrectable,
        ) {
            parts.push(format!(
                "{c} rows remapped (correctable), {u} (uncorrectable)"
            ));
        }
        if let (Some(s), Some(d)) = (
            repair.retired_pages_single_bit,
            repair.retired_pages_double_bit,
        ) {
            parts.push(format!("{s} pages retired (single-bit), {d} (double-bit)"));
        }
        if repair.remap_pending == Some(true) || repair.retirement_pending == Some(true) {
            parts.push("pending: reset the GPU".into());
            tone = Tone::Warn;
        }
        if repair.remap_failed == Some(true) {
            parts.push("a remap FAILED: the card needs service".into());
            tone = Tone::Bad;
        }
        if !parts.is_empty() {
            facts.push(fact("Memory repair", parts.join(" · "), tone));
        }
    }
    if let Some(pcie) = gpu.pcie {
        let link = |now: Option<u32>, best: Option<u32>, prefix: &str| match (now, best) {
            (Some(n), Some(b)) if n != b => Some(format!("{prefix}{n} of {prefix}{b}")),
            (Some(n), _) => Some(format!("{prefix}{n}")),
            _ => None,
        };
        let mut parts: Vec<String> = [
            link(pcie.generation, pcie.max_generation, "Gen "),
            link(pcie.width, pcie.max_width, "x"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let (Some(rx), Some(tx)) = (pcie.rx_bytes_per_second, pcie.tx_bytes_per_second) {
            parts.push(format!("↓{} ↑{}", format::rate(rx), format::rate(tx)));
        }
        if let Some(replays) = pcie.replays.filter(|&r| r > 0) {
            parts.push(format!("{replays} replays"));
        }
        let tone = if pcie.narrowed() {
            parts.push("narrower than it can run: reseat the card or check the slot".into());
            Tone::Bad
        } else {
            Tone::Plain
        };
        if !parts.is_empty() {
            facts.push(fact("PCIe", parts.join(" · "), tone));
        }
    }
    if let Some(nvlink) = gpu.nvlink {
        let mut value = format!("{} links", nvlink.links);
        if let (Some(rx), Some(tx)) = (nvlink.rx_bytes_per_second, nvlink.tx_bytes_per_second) {
            value += &format!(" · ↓{} ↑{}", format::rate(rx), format::rate(tx));
        }
        facts.push(fact("NVLink", value, Tone::Plain));
    }
    if let (Some(encoder), Some(decoder)) = (gpu.encoder_percent, gpu.decoder_percent) {
        let value = format!("encoder {encoder} % · decoder {decoder} %");
        facts.push(fact("Video", value, Tone::Plain));
    }
    if let Some(total) = gpu.energy_joules {
        let mut value = format!("{} since the driver loaded", energy(total));
        if let Some(used) = energy_in_range {
            value = format!("{} over the shown range · {value}", energy(used));
        }
        facts.push(fact("Energy", value, Tone::Plain));
    }
    if gpu.mig_enabled == Some(true) {
        let value = if gpu.mig_instances.is_empty() {
            "on, no instances".into()
        } else {
            gpu.mig_instances
                .iter()
                .map(|m| match (m.memory_used_bytes, m.memory_total_bytes) {
                    (Some(u), Some(t)) => {
                        format!(
                            "{} {} ({} / {})",
                            m.index,
                            m.name,
                            format::gib(u),
                            format::gib(t)
                        )
                    }
                    _ => format!("{} {}", m.index, m.name),
                })
                .collect::<Vec<_>>()
                .join(" · ")
        };
        facts.push(fact("MIG", value, Tone::Plain));
    }
    if let Some(count) = gpu.xid_count {
        let tone = if count > 0 { Tone::Bad } else { Tone::Plain };
        let value = match gpu.xid_errors.last() {
            None => "none".into(),
            Some(last) => format!(
                "{count} · last XID {} at {}: {}",
                last.code,
                format::clock_utc(last.at.timestamp_millis()),
                last.meaning
            ),
        };
        facts.push(fact("XID errors", value, tone));
    }
    facts
}

/// The GPU process list's columns: (key, heading); the command only when the server shows it.
pub fn process_columns(show_command: bool) -> &'static [(&'static str, &'static str)] {
    const COLUMNS: [(&str, &str); 11] = [
        ("pid", "PID"),
        ("owner", "Owner"),
        ("name", "Name"),
        ("gpu-memory", "GPU memory"),
        ("sm", "SM %"),
        ("mem", "Mem %"),
        ("encdec", "Enc / dec %"),
        ("cpu", "CPU %"),
        ("rss", "Host memory"),
        ("type", "Type"),
        ("cmd", "Command"),
    ];
    &COLUMNS[..if show_command { 11 } else { 10 }]
}

/// One GPU process's cells, in the order of [`process_columns`]; `–` where no recent sample
/// says, `n/a` where the driver does not.
pub fn process_cells(process: &GpuProcess, show_command: bool) -> Vec<String> {
    let dash = || "–".to_owned();
    let share = |pick: fn(&GpuProcessUtilization) -> u32| {
        process
            .utilization
            .as_ref()
            .map_or_else(dash, |u| pick(u).to_string())
    };
    let mut cells = vec![
        process.pid.to_string(),
        // "alice · train.service": the person, where it runs, its job.
        process
            .owner
            .as_ref()
            .map(|owner| owner.line.clone())
            .or_else(|| process.user.clone())
            .unwrap_or_default(),
        process.name.clone(),
        process
            .used_memory_bytes
            .map_or_else(|| "n/a".into(), format::gib),
        share(|u| u.sm_percent),
        share(|u| u.memory_percent),
        process.utilization.as_ref().map_or_else(dash, |u| {
            format!("{} / {}", u.encoder_percent, u.decoder_percent)
        }),
        process.cpu_percent.map_or_else(dash, |c| format!("{c:.0}")),
        process.resident_bytes.map_or_else(dash, memory),
        match process.kind {
            GpuProcessKind::Compute => "compute",
            GpuProcessKind::Graphics => "graphics",
        }
        .to_owned(),
    ];
    if show_command {
        cells.push(process.command_line.clone().unwrap_or_default());
    }
    cells
}

fn seconds(ns: &u64) -> String {
    let seconds = *ns as f64 / 1e9;
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if seconds < 3600.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// Joules as people read energy: Wh or kWh.
pub fn energy(joules: f64) -> String {
    let watt_hours = joules / 3600.0;
    if watt_hours >= 1000.0 {
        format!("{:.2} kWh", watt_hours / 1000.0)
    } else {
        format!("{watt_hours:.1} Wh")
    }
}

/// The energy in joules that power readings in watts (oldest first) add up to, each stretch
/// between two readings as their average; a stretch longer than `max_gap` (nothing was read) is
/// left out. None with fewer than two readings.
pub fn energy_of_power(points: &[(Millis, f64)], max_gap: Millis) -> Option<f64> {
    (points.len() > 1).then(|| {
        points
            .windows(2)
            .filter(|pair| pair[1].0 - pair[0].0 <= max_gap)
            .map(|pair| (pair[1].0 - pair[0].0) as f64 / 1000.0 * (pair[0].1 + pair[1].1) / 2.0)
            .sum()
    })
}

/// The spans a reason held, from the times it was seen holding (oldest first): points further
/// apart than `max_gap` start a new span; each span runs `step` past its last point.
pub fn held_spans(
    points: &[(Millis, f64)],
    max_gap: Millis,
    step: Millis,
) -> Vec<(Millis, Millis)> {
    let mut spans: Vec<(Millis, Millis)> = Vec::new();
    for &(at, _) in points.iter().filter(|(_, held)| *held > 0.0) {
        match spans.last_mut() {
            Some((_, end)) if at - (*end - step) <= max_gap => *end = at + step,
            _ => spans.push((at, at + step)),
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuEcc, GpuMemoryRepair, GpuNvlink, GpuPcie, MigInstance, XidError};

    fn find<'a>(facts: &'a [Fact], label: &str) -> Option<&'a Fact> {
        facts.iter().find(|f| f.label == label)
    }

    #[test]
    fn a_bare_gpu_has_no_detail() {
        assert!(facts(&GpuMetrics::default(), None).is_empty());
    }

    #[test]
    fn each_reported_part_reads_as_a_line_with_its_tone() {
        let gpu = GpuMetrics {
            performance_state: Some(2),
            power_violation_ns: Some(1_500_000_000),
            thermal_violation_ns: Some(90_000_000_000),
            ecc: Some(GpuEcc {
                enabled: true,
                corrected_volatile: Some(5),
                uncorrected_volatile: Some(1),
                corrected_aggregate: Some(12),
                uncorrected_aggregate: Some(2),
                ..Default::default()
            }),
            memory_repair: Some(GpuMemoryRepair {
                remapped_rows_correctable: Some(3),
                remapped_rows_uncorrectable: Some(1),
                remap_pending: Some(true),
                remap_failed: Some(false),
                ..Default::default()
            }),
            pcie: Some(GpuPcie {
                generation: Some(4),
                max_generation: Some(5),
                width: Some(4),
                max_width: Some(16),
                rx_bytes_per_second: Some(2e9),
                tx_bytes_per_second: Some(5e8),
                replays: Some(0),
            }),
            nvlink: Some(GpuNvlink {
                links: 18,
                rx_bytes_per_second: Some(1e6),
                tx_bytes_per_second: Some(2e6),
            }),
            encoder_percent: Some(13),
            decoder_percent: Some(27),
            energy_joules: Some(7_200_000.0),
            mig_enabled: Some(true),
            mig_instances: vec![MigInstance {
                index: 0,
                name: "1g.10gb".into(),
                ..Default::default()
            }],
            xid_count: Some(2),
            xid_errors: vec![XidError {
                code: 79,
                at: chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
                meaning: "GPU has fallen off the bus".into(),
            }],
            ..Default::default()
        };
        let facts = facts(&gpu, Some(36_000.0));
        let value = |label| find(&facts, label).map(|f| (f.value.as_str(), f.tone));
        assert_eq!(value("Performance state"), Some(("P2", Tone::Plain)));
        assert_eq!(
            value("Held down"),
            Some((
                "power 1.5 s · thermal 2 min since the driver loaded",
                Tone::Plain
            ))
        );
        assert_eq!(
            value("ECC"),
            Some((
                "on · 5 corrected, 1 uncorrected (lifetime 12 / 2)",
                Tone::Bad
            ))
        );
        assert_eq!(
            value("Memory repair"),
            Some((
                "3 rows remapped (correctable), 1 (uncorrectable) · pending: reset the GPU",
                Tone::Warn
            ))
        );
        let pcie = find(&facts, "PCIe").unwrap();
        assert!(
            pcie.value.starts_with("Gen 4 of Gen 5 · x4 of x16 · ↓"),
            "{pcie:?}"
        );
        assert!(pcie.value.contains("narrower"));
        assert_eq!(pcie.tone, Tone::Bad);
        assert!(value("NVLink").unwrap().0.starts_with("18 links · ↓"));
        assert_eq!(
            value("Video"),
            Some(("encoder 13 % · decoder 27 %", Tone::Plain))
        );
        assert_eq!(
            value("Energy"),
            Some((
                "10.0 Wh over the shown range · 2.00 kWh since the driver loaded",
                Tone::Plain
            ))
        );
        assert_eq!(value("MIG"), Some(("0 1g.10gb", Tone::Plain)));
        assert_eq!(
            value("XID errors"),
            Some((
                "2 · last XID 79 at 00:00:00 UTC: GPU has fallen off the bus",
                Tone::Bad
            ))
        );
    }

    #[test]
    fn a_process_reads_as_one_cell_per_column() {
        let process = GpuProcess {
            pid: 7,
            name: "python".into(),
            user: Some("ada".into()),
            used_memory_bytes: Some(1 << 30),
            kind: GpuProcessKind::Compute,
            command_line: None,
            utilization: Some(GpuProcessUtilization {
                sm_percent: 55,
                memory_percent: 20,
                encoder_percent: 4,
                decoder_percent: 2,
            }),
            cpu_percent: Some(99.6),
            resident_bytes: Some(3 << 29),
            owner: None,
        };
        assert_eq!(
            process_cells(&process, false),
            [
                "7", "ada", "python", "1.0 GiB", "55", "20", "4 / 2", "100", "1.5 GiB", "compute"
            ]
        );
        assert_eq!(process_columns(false).len(), 10);
        let bare = GpuProcess {
            utilization: None,
            cpu_percent: None,
            resident_bytes: None,
            used_memory_bytes: None,
            ..process
        };
        let cells = process_cells(&bare, true);
        assert_eq!(cells[3..9], ["n/a", "–", "–", "–", "–", "–"]);
        assert_eq!(cells.len(), process_columns(true).len());
    }

    #[test]
    fn reasons_read_in_order_with_their_tones() {
        let held: Vec<_> = held_reasons(0x1 | 0x4 | 0x40)
            .into_iter()
            .map(|(key, _, tone)| (key, tone))
            .collect();
        assert_eq!(
            held,
            [
                ("idle", Tone::Plain),
                ("power_cap", Tone::Warn),
                ("hw_thermal", Tone::Bad)
            ]
        );
        assert!(held_reasons(0).is_empty());
    }

    #[test]
    fn held_points_join_into_spans_across_small_gaps() {
        let points = [
            (0, 1.0),
            (2, 1.0),
            (4, 1.0),
            (20, 1.0),
            (22, 0.0),
            (30, 1.0),
        ];
        assert_eq!(held_spans(&points, 3, 2), [(0, 6), (20, 22), (30, 32)]);
        assert!(held_spans(&[], 3, 2).is_empty());
    }

    #[test]
    fn energy_over_a_range_adds_up_its_power() {
        let points = [(0, 100.0), (2_000, 300.0), (4_000, 300.0), (60_000, 300.0)];
        assert_eq!(
            energy_of_power(&points, 5_000),
            Some(400.0 + 600.0),
            "the gap is left out"
        );
        assert_eq!(energy_of_power(&points[..1], 5_000), None);
        assert_eq!(energy(3600.0), "1.0 Wh");
        assert_eq!(energy(3.6e9), "1000.00 kWh");
    }
}
