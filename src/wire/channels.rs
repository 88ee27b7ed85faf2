//! Channel names and the patterns that match them.

/// Bumped when a message changes shape in a way an older page cannot read.
pub const PROTOCOL_VERSION: u32 = 1;

pub const CHANNEL_CPU: &str = "system/cpu";
pub const CHANNEL_MEMORY: &str = "system/memory";
pub const CHANNEL_DISK: &str = "system/disk";
pub const CHANNEL_NETWORK: &str = "system/network";
/// Prefix of the per-GPU channels `system/gpu/{index}`.
pub const CHANNEL_GPU_PREFIX: &str = "system/gpu/";
/// Subscription pattern that matches every GPU channel, present and future.
pub const CHANNEL_GPU_ALL: &str = "system/gpu/*";
/// The event name of a periodic sample.
pub const EVENT_METRICS: &str = "metrics";

/// The host channels, in the order the dashboard shows them.
pub const HOST_CHANNELS: [&str; 4] = [CHANNEL_CPU, CHANNEL_MEMORY, CHANNEL_DISK, CHANNEL_NETWORK];

pub fn gpu_channel(index: u32) -> String {
    format!("{CHANNEL_GPU_PREFIX}{index}")
}

/// The GPU index a channel name refers to, if it is a `system/gpu/{index}` channel.
pub fn gpu_index_of(channel: &str) -> Option<u32> {
    channel.strip_prefix(CHANNEL_GPU_PREFIX)?.parse().ok()
}

/// Whether a subscription pattern (a channel name, or `prefix/*`) covers a channel.
pub fn pattern_matches(pattern: &str, channel: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => channel.starts_with(prefix),
        None => pattern == channel,
    }
}
