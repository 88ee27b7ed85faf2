//! The optional TOML configuration file: its keys (the same settings as the command line, under
//! the names of the original system's file), read and parsed with its path named on failure.

use super::ConfigError;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The optional configuration file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<SocketAddr>,
    pub token_file: Option<PathBuf>,
    pub system_monitor_interval_seconds: Option<f64>,
    pub history_seconds: Option<u64>,
    pub max_clients: Option<usize>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub emit_token_file: Option<PathBuf>,
    pub nvml_library: Option<PathBuf>,
    #[serde(default)]
    pub show_command_lines: bool,
    pub max_connections: Option<usize>,
    pub process_top: Option<usize>,
    pub process_interval_seconds: Option<f64>,
    #[serde(default)]
    pub trusted_proxies: Vec<IpAddr>,
    pub emit_history_mib: Option<usize>,
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub no_persist: bool,
    pub keep_raw_hours: Option<u64>,
    pub keep_minutes_days: Option<u64>,
    pub keep_hours_days: Option<u64>,
    pub keep_events_mib: Option<u64>,
    pub fleet_prometheus: Option<String>,
    pub fleet_bearer_token_file: Option<PathBuf>,
    pub fleet_basic_auth_file: Option<PathBuf>,
    pub fleet_refresh_seconds: Option<f64>,
    pub fleet_rate_window_seconds: Option<u64>,
    pub idle_held_min_memory_mib: Option<u64>,
    pub idle_held_max_utilization: Option<u32>,
    pub idle_held_after_seconds: Option<u64>,
    pub energy_price_per_kwh: Option<f64>,
    pub energy_currency: Option<String>,
    pub carbon_grams_per_kwh: Option<f64>,
    #[serde(default)]
    pub container_sockets: Vec<PathBuf>,
    /// `[alerts]`: default rules switched off, and rules of one's own.
    #[serde(default)]
    pub alerts: crate::server::alerts::rules::AlertsConfig,
}

pub(super) fn read(path: &Path) -> Result<FileConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: shown,
        reason: e.to_string(),
    })
}
