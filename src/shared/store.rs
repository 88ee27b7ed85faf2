//! The browser's metrics store: current values, time-trimmed history per series, and dedup by seq.
//!
//! Plain Rust (no web APIs), so it is unit-tested on the host; the live connection feeds it.

use crate::wire::series::{self, clock_event_series, gpu_key, gpu_series, gpu_values};
use crate::wire::{
    CHANNEL_CPU, CHANNEL_DISK, CHANNEL_MEMORY, CHANNEL_NETWORK, CLOCK_EVENT_REASONS, CpuMetrics,
    DiskMetrics, EVENT_METRICS, Envelope, GpuMetrics, MemoryMetrics, NetworkMetrics, StoreSeed,
    gpu_index_of,
};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, VecDeque};

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

pub const DEFAULT_WINDOW_MS: Millis = 60 * 60 * 1000;

/// One series' points, oldest first.
pub type Series = VecDeque<(Millis, f64)>;

/// One channel's metrics sample, read from its message.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Cpu(CpuMetrics),
    Memory(MemoryMetrics),
    Disk(DiskMetrics),
    Network(NetworkMetrics),
    Gpu(Box<GpuMetrics>),
}

impl Sample {
    /// The sample a message carries, if it is a metrics message of a known channel that parses.
    pub fn of(envelope: &Envelope) -> Option<Sample> {
        if envelope.event != EVENT_METRICS {
            return None;
        }
        let data = &envelope.data;
        match envelope.channel.as_str() {
            CHANNEL_CPU => parse(data).map(Sample::Cpu),
            CHANNEL_MEMORY => parse(data).map(Sample::Memory),
            CHANNEL_DISK => parse(data).map(Sample::Disk),
            CHANNEL_NETWORK => parse(data).map(Sample::Network),
            other => gpu_index_of(other).and(parse(data).map(|gpu| Sample::Gpu(Box::new(gpu)))),
        }
    }
}

/// The page's store; the server keeps one too, from which every page's seed is cut.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsStore {
    pub window_ms: Millis,
    /// The server epoch the sequence numbers belong to.
    pub epoch: Option<u64>,
    /// The last seq applied per channel: what a reconnect asks the server to continue from.
    pub last_seq: BTreeMap<String, u64>,
    pub cpu: Option<CpuMetrics>,
    pub memory: Option<MemoryMetrics>,
    pub disk: Option<DiskMetrics>,
    pub network: Option<NetworkMetrics>,
    pub gpus: BTreeMap<u32, GpuMetrics>,
    pub series: BTreeMap<String, Series>,
    /// Time of the newest message applied.
    pub last_message_ms: Option<Millis>,
    /// Bumped when history changes other than by a new live point (a seed, a backfill, a reset), so
    /// charts that redraw once per display bucket know to redraw now.
    pub history_revision: u64,
}

impl From<StoreSeed> for MetricsStore {
    fn from(seed: StoreSeed) -> Self {
        MetricsStore {
            window_ms: seed.window_ms,
            epoch: seed.epoch,
            last_seq: seed.last_seq,
            cpu: seed.cpu,
            memory: seed.memory,
            disk: seed.disk,
            network: seed.network,
            gpus: seed.gpus,
            series: seed
                .series
                .into_iter()
                .map(|(name, points)| (name, points.into()))
                .collect(),
            last_message_ms: seed.last_message_ms,
            history_revision: 0,
        }
    }
}

/// What applying a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Stored,
    /// Already held (same or older seq in this epoch): ignored, so a replay never duplicates a point.
    Duplicate,
    /// Not a metrics message of a known channel, or its data did not parse: ignored.
    Ignored,
}

impl MetricsStore {
    pub fn new(window_ms: Millis) -> Self {
        MetricsStore {
            window_ms,
            ..Default::default()
        }
    }

    /// Records the server's epoch; a new one means a restarted server whose seqs start again.
    pub fn set_epoch(&mut self, epoch: u64) -> bool {
        let changed = self.epoch != Some(epoch);
        if changed {
            self.epoch = Some(epoch);
            self.last_seq.clear();
            self.history_revision += 1;
        }
        changed
    }

    /// Forgets a channel's seq, so the next message of it is taken whatever its number.
    pub fn reset_channel(&mut self, channel: &str) {
        self.last_seq.remove(channel);
        self.history_revision += 1;
    }

    /// Applies a live (or replayed) message, once: a seq already held is a duplicate.
    pub fn apply(&mut self, envelope: &Envelope) -> Applied {
        if self
            .last_seq
            .get(&envelope.channel)
            .is_some_and(|&last| envelope.seq <= last)
        {
            return Applied::Duplicate;
        }
        self.apply_unchecked(envelope)
    }

    /// Fills history from the server's ring after a reset: points are placed by time (a point at a
    /// time already held is skipped), whatever their seq; a message older than the newest held only
    /// adds its points, so the current values stay the newest.
    pub fn backfill(&mut self, envelope: &Envelope) -> Applied {
        self.history_revision += 1;
        let Some(sample) = Sample::of(envelope) else {
            return Applied::Ignored;
        };
        let at = envelope.timestamp.timestamp_millis();
        self.append(&sample, at);
        if self.last_message_ms.is_none_or(|newest| at >= newest) {
            self.set_current(sample, at);
        }
        let last = self.last_seq.entry(envelope.channel.clone()).or_default();
        *last = (*last).max(envelope.seq);
        Applied::Stored
    }

    fn apply_unchecked(&mut self, envelope: &Envelope) -> Applied {
        let Some(sample) = Sample::of(envelope) else {
            return Applied::Ignored;
        };
        let at = envelope.timestamp.timestamp_millis();
        self.append(&sample, at);
        self.set_current(sample, at);
        self.last_seq.insert(envelope.channel.clone(), envelope.seq);
        Applied::Stored
    }

    /// Appends a sample's points to its series.
    pub fn append(&mut self, sample: &Sample, at: Millis) {
        match sample {
            Sample::Cpu(cpu) => self.append_cpu(cpu, at),
            Sample::Memory(memory) => self.append_memory(memory, at),
            Sample::Disk(disk) => self.append_disk(disk, at),
            Sample::Network(network) => self.append_network(network, at),
            Sample::Gpu(gpu) => self.append_gpu(gpu, at),
        }
    }

    /// Makes a sample the current value of its kind, as of `at`.
    pub fn set_current(&mut self, sample: Sample, at: Millis) {
        match sample {
            Sample::Cpu(cpu) => self.cpu = Some(cpu),
            Sample::Memory(memory) => self.memory = Some(memory),
            Sample::Disk(disk) => self.disk = Some(disk),
            Sample::Network(network) => self.network = Some(network),
            Sample::Gpu(gpu) => {
                self.gpus.insert(gpu.index, *gpu);
            }
        }
        self.last_message_ms = Some(self.last_message_ms.map_or(at, |last| last.max(at)));
    }

    pub fn append_cpu(&mut self, cpu: &CpuMetrics, at: Millis) {
        self.push(series::CPU_USAGE, at, cpu.usage_percent as f64);
        if let Some(t) = cpu.temperature_celsius {
            self.push(series::CPU_TEMPERATURE, at, t as f64);
        }
    }

    pub fn append_memory(&mut self, memory: &MemoryMetrics, at: Millis) {
        self.push(series::RAM_PERCENT, at, memory.ram_percent as f64);
        self.push(series::SWAP_PERCENT, at, memory.swap_percent as f64);
    }

    pub fn append_disk(&mut self, disk: &DiskMetrics, at: Millis) {
        self.push(series::DISK_READ, at, disk.read_bytes_per_sec);
        self.push(series::DISK_WRITE, at, disk.write_bytes_per_sec);
    }

    pub fn append_network(&mut self, network: &NetworkMetrics, at: Millis) {
        self.push(series::NET_RX, at, network.rx_bytes_per_sec);
        self.push(series::NET_TX, at, network.tx_bytes_per_sec);
    }

    pub fn append_gpu(&mut self, gpu: &GpuMetrics, at: Millis) {
        let key = gpu_key(gpu);
        for (metric, value) in gpu_values(gpu) {
            if let Some(value) = value {
                self.push(&gpu_series(&key, metric), at, value);
            }
        }
        // Only the reasons that hold are kept: a point is a tick when it held.
        let reasons = gpu.clocks_throttle_reasons.unwrap_or(0);
        for (bit, reason, _) in CLOCK_EVENT_REASONS {
            if reasons & bit != 0 {
                self.push(&clock_event_series(&key, reason), at, 1.0);
            }
        }
    }

    /// Appends one point to a named series (e.g. one read back from the server's database).
    pub fn append_point(&mut self, name: &str, at: Millis, value: f64) {
        self.push(name, at, value);
        self.last_message_ms = Some(self.last_message_ms.map_or(at, |last| last.max(at)));
    }

    /// Appends a point and drops those older than the window, measured from this point's time.
    fn push(&mut self, name: &str, at: Millis, value: f64) {
        let points = self.series.entry(name.to_owned()).or_default();
        // Out-of-order points (a replay racing a live message) go in their place, not at the end.
        match points.back() {
            Some(&(last, _)) if at < last => {
                let index = points.partition_point(|&(t, _)| t < at);
                if points.get(index).is_none_or(|&(t, _)| t != at) {
                    points.insert(index, (at, value));
                }
            }
            Some(&(last, _)) if at == last => {}
            _ => points.push_back((at, value)),
        }
        let oldest = points.back().map_or(at, |&(t, _)| t) - self.window_ms;
        while points.front().is_some_and(|&(t, _)| t < oldest) {
            points.pop_front();
        }
    }

    /// A series' points within the last `range_ms` of its newest point.
    pub fn recent(&self, name: &str, range_ms: Millis) -> Vec<(Millis, f64)> {
        let Some(points) = self.series.get(name) else {
            return Vec::new();
        };
        let Some(&(newest, _)) = points.back() else {
            return Vec::new();
        };
        let start = points.partition_point(|&(t, _)| t < newest - range_ms);
        points.range(start..).copied().collect()
    }

    /// A series' points after `after` up to `until` (both in ms).
    pub fn between(&self, name: &str, after: Millis, until: Millis) -> Vec<(Millis, f64)> {
        let Some(points) = self.series.get(name) else {
            return Vec::new();
        };
        let start = points.partition_point(|&(t, _)| t <= after);
        let end = points.partition_point(|&(t, _)| t <= until);
        points.range(start..end.max(start)).copied().collect()
    }

    /// A series' points within the last `range_ms`, thinned to about `max_points` for drawing:
    /// time is cut into buckets of `display_bucket_ms` and each keeps its highest point, so a short
    /// spike still shows however long the range.
    pub fn recent_for_display(
        &self,
        name: &str,
        range_ms: Millis,
        max_points: usize,
    ) -> Vec<(Millis, f64)> {
        downsample_max(
            &self.recent(name, range_ms),
            display_bucket_ms(range_ms, max_points),
        )
    }

    /// Thins history in place, by age: `tiers` lists (age, bucket) pairs from the youngest; a point
    /// at least `age` older than its series' newest point shares its bucket (aligned to the epoch,
    /// as when drawn) with its neighbours, and each bucket keeps its highest point, so a spike
    /// survives. Points younger than the first tier all stay.
    pub fn thin(&mut self, tiers: &[(Millis, Millis)]) {
        for points in self.series.values_mut() {
            let Some(&(newest, _)) = points.back() else {
                continue;
            };
            let bucket_of = |t: Millis| {
                let bucket_ms = tiers
                    .iter()
                    .rev()
                    .find(|(age, _)| newest - t >= *age)
                    .map(|(_, bucket)| (*bucket).max(1))?;
                Some((bucket_ms, t.div_euclid(bucket_ms)))
            };
            let mut kept: VecDeque<(Millis, f64)> = VecDeque::with_capacity(points.len());
            let mut kept_bucket = None;
            for &(t, v) in points.iter() {
                let bucket = bucket_of(t);
                match kept.back_mut() {
                    Some(last) if bucket.is_some() && bucket == kept_bucket => {
                        if v > last.1 {
                            *last = (t, v);
                        }
                    }
                    _ => {
                        kept.push_back((t, v));
                        kept_bucket = bucket;
                    }
                }
            }
            *points = kept;
        }
    }

    /// The store as it travels to a page.
    pub fn to_seed(&self) -> StoreSeed {
        StoreSeed {
            window_ms: self.window_ms,
            epoch: self.epoch,
            last_seq: self.last_seq.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            disk: self.disk.clone(),
            network: self.network.clone(),
            gpus: self.gpus.clone(),
            series: self
                .series
                .iter()
                .map(|(name, points)| {
                    let travelling = points.iter().map(|&(t, v)| (t, significant(v, 4)));
                    (name.clone(), travelling.collect())
                })
                .collect(),
            last_message_ms: self.last_message_ms,
        }
    }

    /// Total points held, for the store benchmark.
    pub fn point_count(&self) -> usize {
        self.series.values().map(VecDeque::len).sum()
    }
}

/// The time one drawn point stands for when `range_ms` is drawn with about `max_points` points.
pub fn display_bucket_ms(range_ms: Millis, max_points: usize) -> Millis {
    (range_ms / max_points.max(1) as Millis).max(1)
}

/// One point per `bucket_ms` of time, the highest of that bucket. Buckets are aligned to the epoch,
/// not to the first point, so a point once drawn stays put as the chart moves on.
pub fn downsample_max(points: &[(Millis, f64)], bucket_ms: Millis) -> Vec<(Millis, f64)> {
    let bucket_ms = bucket_ms.max(1);
    let mut out: Vec<(Millis, f64)> = Vec::new();
    let mut current_bucket = None;
    for &(t, v) in points {
        let bucket = t.div_euclid(bucket_ms);
        match out.last_mut() {
            Some(kept) if current_bucket == Some(bucket) => {
                if v > kept.1 {
                    *kept = (t, v);
                }
            }
            _ => {
                out.push((t, v));
                current_bucket = Some(bucket);
            }
        }
    }
    out
}

/// `value` to `digits` significant digits: more than a chart can show, and far fewer bytes on the
/// wire than a widened f32's seventeen.
pub fn significant(value: f64, digits: i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(digits - 1 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

fn parse<T: DeserializeOwned>(data: &serde_json::Value) -> Option<T> {
    crate::shared::json::from_value(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use serde_json::json;

    fn envelope(channel: &str, seq: u64, second: i64, data: serde_json::Value) -> Envelope {
        Envelope {
            channel: channel.into(),
            event: EVENT_METRICS.into(),
            data,
            timestamp: DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap(),
            seq,
        }
    }

    fn cpu(seq: u64, second: i64, usage: f32) -> Envelope {
        let data = serde_json::to_value(CpuMetrics {
            usage_percent: usage,
            ..Default::default()
        })
        .unwrap();
        envelope(CHANNEL_CPU, seq, second, data)
    }

    fn gpu(index: u32, uuid: &str, seq: u64, second: i64, util: u32) -> Envelope {
        let data = serde_json::to_value(GpuMetrics {
            index,
            uuid: uuid.into(),
            available: true,
            utilization_percent: Some(util),
            ..Default::default()
        })
        .unwrap();
        envelope(&crate::wire::gpu_channel(index), seq, second, data)
    }

    #[test]
    fn history_is_trimmed_by_time_not_count() {
        let mut store = MetricsStore::new(10_000);
        for i in 0..30 {
            store.apply(&cpu(i + 1, i as i64, i as f32));
        }
        let points = &store.series[series::CPU_USAGE];
        assert_eq!(
            points.len(),
            11,
            "10 s window at one point a second keeps both ends"
        );
        assert_eq!(points.front().unwrap().1, 19.0);
        // A slower interval keeps fewer points over the same window.
        let mut slow = MetricsStore::new(10_000);
        for i in 0..30 {
            slow.apply(&cpu(i + 1, 5 * i as i64, 0.0));
        }
        assert_eq!(slow.series[series::CPU_USAGE].len(), 3);
    }

    #[test]
    fn duplicates_and_replays_add_no_points() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        assert_eq!(store.apply(&cpu(1, 0, 1.0)), Applied::Stored);
        assert_eq!(store.apply(&cpu(2, 1, 2.0)), Applied::Stored);
        assert_eq!(store.apply(&cpu(2, 1, 2.0)), Applied::Duplicate);
        assert_eq!(store.apply(&cpu(1, 0, 1.0)), Applied::Duplicate);
        assert_eq!(store.series[series::CPU_USAGE].len(), 2);
        assert_eq!(store.last_seq[CHANNEL_CPU], 2);
    }

    #[test]
    fn a_new_epoch_accepts_restarted_sequence_numbers() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        store.set_epoch(1);
        store.apply(&cpu(50, 0, 1.0));
        assert!(store.set_epoch(2));
        assert_eq!(store.apply(&cpu(1, 5, 3.0)), Applied::Stored);
        assert_eq!(
            store.series[series::CPU_USAGE].len(),
            2,
            "history survives the restart"
        );
        assert!(!store.set_epoch(2));
    }

    #[test]
    fn out_of_order_points_land_in_place() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        store.apply(&cpu(1, 0, 0.0));
        store.apply(&cpu(3, 2, 2.0));
        store.reset_channel(CHANNEL_CPU);
        store.apply(&cpu(2, 1, 1.0));
        let times: Vec<_> = store.series[series::CPU_USAGE]
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(times, [0.0, 1.0, 2.0]);
    }

    #[test]
    fn a_gpu_message_keeps_its_depth_and_the_reasons_that_held() {
        let depth = GpuMetrics {
            uuid: "GPU-d".into(),
            available: true,
            clocks_throttle_reasons: Some(0x4 | 0x20),
            energy_joules: Some(1234.5),
            pcie: Some(crate::wire::GpuPcie {
                width: Some(8),
                max_width: Some(16),
                ..Default::default()
            }),
            xid_count: Some(1),
            ..Default::default()
        };
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        let message = |seq, second, gpu: &GpuMetrics| {
            envelope(
                "system/gpu/0",
                seq,
                second,
                serde_json::to_value(gpu).unwrap(),
            )
        };
        store.apply(&message(1, 0, &depth));
        let calm = GpuMetrics {
            clocks_throttle_reasons: Some(0x1),
            ..depth.clone()
        };
        store.apply(&message(2, 1, &calm));
        assert_eq!(
            store.gpus[&0], calm,
            "every field comes through the message"
        );
        let held = |reason| {
            store
                .series
                .get(&clock_event_series("GPU-d", reason))
                .map_or(0, |points| points.len())
        };
        assert_eq!(
            (held("power_cap"), held("sw_thermal"), held("idle")),
            (1, 1, 1)
        );
        assert_eq!(held("hw_slowdown"), 0, "only reasons that held have points");
    }

    #[test]
    fn each_gpu_keeps_its_own_history_by_uuid() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        store.apply(&gpu(0, "GPU-a", 1, 0, 10));
        store.apply(&gpu(1, "GPU-b", 1, 0, 90));
        store.apply(&gpu(0, "GPU-a", 2, 1, 20));
        assert_eq!(store.series[&gpu_series("GPU-a", "utilization")].len(), 2);
        assert_eq!(store.series[&gpu_series("GPU-b", "utilization")].len(), 1);
        // GPU-b vanishes; a different GPU takes index 1, then GPU-b returns at index 1 again.
        store.apply(&gpu(1, "GPU-c", 2, 2, 50));
        store.apply(&gpu(1, "GPU-b", 3, 3, 70));
        let b: Vec<f64> = store.series[&gpu_series("GPU-b", "utilization")]
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(b, [90.0, 70.0]);
        assert_eq!(store.gpus[&1].uuid, "GPU-b");
    }

    #[test]
    fn bad_data_and_other_events_are_ignored() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        assert_eq!(
            store.apply(&envelope(CHANNEL_CPU, 1, 0, json!("nonsense"))),
            Applied::Ignored
        );
        let mut event = cpu(2, 0, 1.0);
        event.event = "note".into();
        assert_eq!(store.apply(&event), Applied::Ignored);
        assert!(store.series.is_empty());
        assert_eq!(
            store.apply(&cpu(1, 0, 5.0)),
            Applied::Stored,
            "an ignored message does not advance the seq"
        );
    }

    #[test]
    fn backfill_fills_holes_without_duplicates_or_stale_current_values() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        store.apply(&cpu(1, 0, 1.0));
        store.apply(&cpu(9, 8, 9.0));
        for i in 1..=8 {
            store.backfill(&cpu(i + 1, i as i64, (i + 1) as f32));
        }
        let values: Vec<f64> = store.series[series::CPU_USAGE]
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(
            store.cpu.as_ref().unwrap().usage_percent,
            9.0,
            "the newest value stays current"
        );
        assert_eq!(store.last_seq[CHANNEL_CPU], 9);
    }

    #[test]
    fn a_store_travels_as_its_seed_and_back() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        store.set_epoch(7);
        for i in 0..5 {
            store.apply(&cpu(i + 1, i as i64, i as f32));
        }
        store.apply(&gpu(0, "GPU-a", 1, 4, 30));
        let json = serde_json::to_string(&store.to_seed()).unwrap();
        let back = MetricsStore::from(serde_json::from_str::<StoreSeed>(&json).unwrap());
        assert_eq!(back.series, store.series);
        assert_eq!(back.last_seq, store.last_seq);
        assert_eq!(back.cpu, store.cpu);
        assert_eq!(back.gpus, store.gpus);
        assert_eq!(back.epoch, Some(7));
        assert_eq!(back.last_message_ms, store.last_message_ms);
    }

    #[test]
    fn appending_and_setting_the_current_value_are_separate() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        let old = CpuMetrics {
            usage_percent: 10.0,
            ..Default::default()
        };
        store.append(&Sample::Cpu(old), 1_000);
        assert!(store.cpu.is_none(), "appending draws, it does not set");
        assert_eq!(store.series[series::CPU_USAGE].len(), 1);
        store.set_current(
            Sample::Cpu(CpuMetrics {
                usage_percent: 20.0,
                ..Default::default()
            }),
            2_000,
        );
        assert_eq!(store.cpu.as_ref().unwrap().usage_percent, 20.0);
        assert_eq!(store.last_message_ms, Some(2_000));
    }

    #[test]
    fn thinning_keeps_recent_points_and_the_peak_of_each_older_bucket() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        for i in 0..100 {
            let usage = if i == 33 { 90.0 } else { 0.0 };
            store.apply(&cpu(i + 1, i as i64, usage));
        }
        store.thin(&[(10_000, 10_000), (50_000, 20_000)]);
        let points: Vec<(i64, f64)> = store.series[series::CPU_USAGE]
            .iter()
            .map(|p| ((p.0 / 1000) - 1_700_000_000, p.1))
            .collect();
        let times: Vec<i64> = points.iter().map(|p| p.0).collect();
        // Buckets are aligned to the epoch: 1_700_000_000 s is a multiple of 20 s.
        assert_eq!(times[..3], [0, 33, 40], "one point per 20 s when 50 s old");
        assert_eq!(
            points[1],
            (33, 90.0),
            "the spike is the point its bucket keeps"
        );
        assert_eq!(times[3..7], [50, 60, 70, 80], "one per 10 s when 10 s old");
        assert_eq!(times[7..], [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
        let once = store.series.clone();
        store.thin(&[(10_000, 10_000), (50_000, 20_000)]);
        assert_eq!(store.series, once, "thinning again changes nothing");
    }

    #[test]
    fn travelling_values_keep_four_significant_digits() {
        assert_eq!(significant(5.741513252258301, 4), 5.742);
        assert_eq!(significant(466972.63242695725, 4), 467000.0);
        assert_eq!(significant(0.000123456, 4), 0.0001235);
        assert_eq!(significant(-71.25, 4), -71.25);
        assert_eq!(significant(0.0, 4), 0.0);
        assert_eq!(
            serde_json::to_string(&significant(5.741513252258301, 4)).unwrap(),
            "5.742"
        );
    }

    #[test]
    fn downsampling_keeps_spikes_and_bounds_the_count() {
        let mut points: Vec<(Millis, f64)> = (0..3600).map(|i| (i * 1000, 1.0)).collect();
        points[1234].1 = 99.0;
        let thin = downsample_max(&points, display_bucket_ms(3_600_000, 300));
        assert!(thin.len() <= 301, "{}", thin.len());
        assert!(
            thin.iter().any(|&(t, v)| t == 1_234_000 && v == 99.0),
            "the spike survives"
        );
        assert!(
            thin.windows(2).all(|w| w[0].0 < w[1].0),
            "still in time order"
        );
        assert_eq!(
            downsample_max(&points[..10], 1_000).len(),
            10,
            "series no denser than the bucket are untouched"
        );
    }

    #[test]
    fn downsampled_points_stay_put_as_new_points_arrive() {
        let points: Vec<(Millis, f64)> = (0..600).map(|i| (i * 1000, (i % 7) as f64)).collect();
        let before = downsample_max(&points[..500], 4_000);
        let after = downsample_max(&points[1..], 4_000);
        let common: Vec<_> = before.iter().filter(|p| p.0 >= 4_000).collect();
        assert!(
            common.iter().all(|p| after.contains(p)),
            "complete buckets keep the same point when the range moves"
        );
    }

    #[test]
    fn history_revision_moves_on_backfill_reset_and_epoch_but_not_on_live_points() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        store.apply(&cpu(1, 0, 1.0));
        store.apply(&cpu(2, 1, 2.0));
        assert_eq!(
            store.history_revision, 0,
            "live points alone redraw by time"
        );
        store.backfill(&cpu(3, 2, 3.0));
        assert_eq!(store.history_revision, 1);
        store.reset_channel(CHANNEL_CPU);
        assert_eq!(store.history_revision, 2);
        store.set_epoch(7);
        assert_eq!(store.history_revision, 3);
        store.set_epoch(7);
        assert_eq!(
            store.history_revision, 3,
            "the same epoch again changes nothing"
        );
    }

    #[test]
    fn recent_returns_the_selected_range() {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        for i in 0..100 {
            store.apply(&cpu(i + 1, i as i64, 0.0));
        }
        assert_eq!(store.recent(series::CPU_USAGE, 9_000).len(), 10);
        assert_eq!(store.recent("nope", 9_000).len(), 0);
    }
}
