//! Server configuration: command line (`cli`), `VITALS_*` environment and an optional TOML file
//! (`file`), merged and validated once into `Config`.

mod cli;
mod file;

pub use cli::{Cli, Command, EmitArgs, VERSION};
pub use file::FileConfig;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::server::collect::owners::OwnerSettings;
pub use crate::server::history::Retention;
use crate::server::history::default_dir as default_data_dir;
use crate::server::usage::idle_held::{self, IdleHeldSettings};

pub const DEFAULT_INTERVAL_SECONDS: f64 = 2.0;
pub const MIN_INTERVAL_SECONDS: f64 = 0.25;
pub const MAX_INTERVAL_SECONDS: f64 = 60.0;
pub const DEFAULT_HISTORY_SECONDS: u64 = 3600;
pub const DEFAULT_MAX_CLIENTS: usize = 1024;
pub const DEFAULT_EMIT_HISTORY_MIB: usize = 64;
const MAX_EMIT_HISTORY_MIB: usize = 4096;

/// The validated settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub interval: Duration,
    pub history: Duration,
    pub max_clients: usize,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub emit_token: Option<String>,
    pub emit_token_file: PathBuf,
    /// When set, every route but the emit endpoint requires it (header or session cookie).
    pub access_token: Option<String>,
    pub nvml_library: Option<PathBuf>,
    pub show_command_lines: bool,
    /// Processes per measure in the process table.
    pub process_top: usize,
    pub process_interval: Duration,
    pub prefill_history: bool,
    pub prefill_database: Option<Duration>,
    /// None: derived from the open-files limit at start.
    pub max_connections: Option<usize>,
    pub trusted_proxies: Vec<IpAddr>,
    pub emit_history_bytes: usize,
    /// Where the history database lives; None with --no-persist.
    pub data_dir: Option<PathBuf>,
    pub retention: Retention,
    /// The alert rules the server watches with: the defaults and the config's.
    pub alert_rules: Vec<crate::server::alerts::rules::Rule>,
    /// Where alert changes are delivered.
    pub alert_webhooks: Vec<(reqwest::Url, crate::wire::WebhookFormat)>,
    /// The Prometheus the fleet page reads, when one is configured.
    pub fleet: Option<crate::server::fleet::FleetSettings>,
    /// When a GPU counts as idle-held.
    pub idle_held: IdleHeldSettings,
    /// Where processes' owners are asked about (the container engines).
    pub owners: OwnerSettings,
    /// Where sensors are read and how SMART is.
    pub health: HealthSettings,
    /// What a run report prices energy at.
    pub run_cost: RunCost,
}

/// `energy_price_per_kwh` (in `energy_currency`) and `carbon_grams_per_kwh`: a run report's
/// cost and CO₂ from its energy; each left out when not set.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RunCost {
    pub price_per_kwh: Option<f64>,
    pub currency: Option<String>,
    pub carbon_grams_per_kwh: Option<f64>,
}

/// Where the machine's health is read from.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthSettings {
    pub sysfs_root: crate::server::collect::health::sysfs::SysfsRoot,
    /// None: no SMART (`--smartctl none`).
    pub smart: Option<crate::server::collect::health::smart::SmartOptions>,
}

/// Where a privileged timer leaves SMART reports (deploy/systemd/vitals-smart.service).
pub const SMART_RUNTIME_DIR: &str = "/run/vitals-smart";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("config file {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
    #[error(
        "sample interval {0} s is out of range: use a number of seconds from {MIN_INTERVAL_SECONDS} to {MAX_INTERVAL_SECONDS} (--interval, VITALS_INTERVAL_SECONDS or system_monitor_interval_seconds)"
    )]
    Interval(f64),
    #[error(
        "history of {0} s is out of range: use 60 to 86400 seconds (--history or VITALS_HISTORY_SECONDS)"
    )]
    History(u64),
    #[error("--max-clients must be between 1 and 100000, got {0}")]
    MaxClients(usize),
    #[error("--max-connections must be between 16 and 1000000, got {0}")]
    MaxConnections(usize),
    #[error(
        "--emit-history-mib must be between 1 and {MAX_EMIT_HISTORY_MIB} (MiB of emitted messages kept in memory), got {0}"
    )]
    EmitHistory(usize),
    #[error("{setting} must be between {min} and {max}, got {value}")]
    OutOfRange {
        setting: &'static str,
        min: u64,
        max: u64,
        value: u64,
    },
    #[error(
        "process interval {0} s is out of range: use a number of seconds from 0.5 to 60 (--process-interval, VITALS_PROCESS_INTERVAL_SECONDS or process_interval_seconds)"
    )]
    ProcessInterval(f64),
    #[error("the emit token must be at least 16 characters long")]
    ShortEmitToken,
    #[error(
        "refusing to serve on {0} without an access token: anyone who can reach it could read this machine. Create one with `vitals token > ~/.vitals-token && chmod 600 ~/.vitals-token` and start with --token-file ~/.vitals-token (or set VITALS_TOKEN), or bind 127.0.0.1 and use an SSH tunnel"
    )]
    WideBindWithoutToken(SocketAddr),
    #[error("{what} {path}: {reason}")]
    TokenFile {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error(
        "the access token must be at least 16 characters long (`vitals token` prints a good one)"
    )]
    ShortAccessToken,
    #[error(transparent)]
    AlertRule(#[from] crate::server::alerts::rules::RuleError),
    #[error("{setting} must be a number from 0 to 1000000, got {value}")]
    Price { setting: &'static str, value: f64 },
    #[error("--fleet-prometheus {0}")]
    Fleet(String),
}

impl Config {
    /// Merges command line (with environment) over the file over defaults, and checks every value.
    pub fn resolve(cli: Cli, default_bind: SocketAddr) -> Result<Config, ConfigError> {
        let file = match &cli.config {
            Some(path) => file::read(path)?,
            None => FileConfig::default(),
        };
        let fleet = fleet_settings(&cli, &file)?;
        let interval = cli
            .interval
            .or(file.system_monitor_interval_seconds)
            .unwrap_or(DEFAULT_INTERVAL_SECONDS);
        if !(MIN_INTERVAL_SECONDS..=MAX_INTERVAL_SECONDS).contains(&interval)
            || !interval.is_finite()
        {
            return Err(ConfigError::Interval(interval));
        }
        let history = cli
            .history
            .or(file.history_seconds)
            .unwrap_or(DEFAULT_HISTORY_SECONDS);
        if !(60..=86_400).contains(&history) {
            return Err(ConfigError::History(history));
        }
        let max_clients = cli
            .max_clients
            .or(file.max_clients)
            .unwrap_or(DEFAULT_MAX_CLIENTS);
        if !(1..=100_000).contains(&max_clients) {
            return Err(ConfigError::MaxClients(max_clients));
        }
        let max_connections = cli.max_connections.or(file.max_connections);
        if let Some(bad) = max_connections.filter(|n| !(16..=1_000_000).contains(n)) {
            return Err(ConfigError::MaxConnections(bad));
        }
        let emit_history_mib = cli
            .emit_history_mib
            .or(file.emit_history_mib)
            .unwrap_or(DEFAULT_EMIT_HISTORY_MIB);
        if !(1..=MAX_EMIT_HISTORY_MIB).contains(&emit_history_mib) {
            return Err(ConfigError::EmitHistory(emit_history_mib));
        }
        let keep = |setting: &'static str, value: Option<u64>, default: u64, max: u64| {
            let value = value.unwrap_or(default);
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError::OutOfRange {
                    setting,
                    min: 1,
                    max,
                    value,
                })
            }
        };
        let day = 24 * 3600;
        let retention = Retention {
            raw: Duration::from_secs(
                3600 * keep(
                    "--keep-raw-hours",
                    cli.keep_raw_hours.or(file.keep_raw_hours),
                    48,
                    8760,
                )?,
            ),
            minute: Duration::from_secs(
                day * keep(
                    "--keep-minutes-days",
                    cli.keep_minutes_days.or(file.keep_minutes_days),
                    30,
                    3650,
                )?,
            ),
            hour: Duration::from_secs(
                day * keep(
                    "--keep-hours-days",
                    cli.keep_hours_days.or(file.keep_hours_days),
                    365,
                    36500,
                )?,
            ),
            event_bytes: keep(
                "--keep-events-mib",
                cli.keep_events_mib.or(file.keep_events_mib),
                64,
                65_536,
            )? << 20,
        };
        let process_top = keep(
            "--process-top",
            cli.process_top.or(file.process_top).map(|n| n as u64),
            25,
            500,
        )? as usize;
        let process_interval = cli
            .process_interval
            .or(file.process_interval_seconds)
            .unwrap_or(2.0);
        if !(0.5..=60.0).contains(&process_interval) {
            return Err(ConfigError::ProcessInterval(process_interval));
        }
        let data_dir = (!(cli.no_persist || file.no_persist)).then(|| {
            cli.data_dir
                .or(file.data_dir)
                .unwrap_or_else(default_data_dir)
        });
        if cli
            .emit_token
            .as_ref()
            .is_some_and(|token| token.len() < 16)
        {
            return Err(ConfigError::ShortEmitToken);
        }
        let token_file = cli.token_file.or(file.token_file);
        let access_token = match (&token_file, cli.token) {
            (Some(path), _) => Some(read_token_file(path, "access token file")?),
            (None, token) => token.map(|t| t.trim().to_owned()),
        };
        if access_token.as_ref().is_some_and(|token| token.len() < 16) {
            return Err(ConfigError::ShortAccessToken);
        }
        let bind = cli.bind.or(file.bind).unwrap_or(default_bind);
        if !bind.ip().is_loopback() && access_token.is_none() {
            return Err(ConfigError::WideBindWithoutToken(bind));
        }
        let idle_held = IdleHeldSettings {
            min_memory_bytes: keep(
                "--idle-held-min-memory-mib",
                cli.idle_held_min_memory_mib
                    .or(file.idle_held_min_memory_mib),
                idle_held::DEFAULT_MIN_MEMORY_MIB,
                1 << 20,
            )? << 20,
            max_utilization_percent: keep(
                "--idle-held-max-utilization",
                cli.idle_held_max_utilization
                    .or(file.idle_held_max_utilization)
                    .map(u64::from),
                u64::from(idle_held::DEFAULT_MAX_UTILIZATION),
                100,
            )? as u32,
            after: Duration::from_secs(
                match cli.idle_held_after.or(file.idle_held_after_seconds) {
                    Some(0) => 0,
                    other => keep(
                        "--idle-held-after",
                        other,
                        idle_held::DEFAULT_AFTER_SECONDS,
                        7 * 86_400,
                    )?,
                },
            ),
        };
        let sockets = if cli.container_sockets.is_empty() {
            file.container_sockets
        } else {
            cli.container_sockets
        };
        let owners = OwnerSettings {
            container_sockets: match sockets.as_slice() {
                [] => OwnerSettings::default().container_sockets,
                [none] if none.as_os_str() == "none" => Vec::new(),
                _ => sockets,
            },
        };
        let health = HealthSettings {
            sysfs_root: cli
                .sysfs_root
                .map(crate::server::collect::health::sysfs::SysfsRoot)
                .unwrap_or_default(),
            smart: match cli.smartctl {
                Some(path) if path.as_os_str() == "none" => None,
                smartctl => {
                    use crate::server::collect::health::smart::{self, SmartOptions};
                    let interval = keep("--smart-interval", cli.smart_interval, 600, 7 * 86_400)?;
                    let runtime = PathBuf::from(SMART_RUNTIME_DIR);
                    Some(SmartOptions {
                        smartctl: smartctl.unwrap_or_else(|| PathBuf::from("smartctl")),
                        interval: Duration::from_secs(interval.max(10)),
                        runtime_dir: cli.smart_dir.or(runtime.is_dir().then_some(runtime)),
                        timeout: smart::DEFAULT_TIMEOUT,
                        output_cap: smart::DEFAULT_OUTPUT_CAP,
                    })
                }
            },
        };
        let rate = |setting: &'static str, value: Option<f64>| match value {
            Some(value) if !(0.0..=1e6).contains(&value) => {
                Err(ConfigError::Price { setting, value })
            }
            other => Ok(other),
        };
        let run_cost = RunCost {
            price_per_kwh: rate(
                "energy_price_per_kwh",
                cli.energy_price_per_kwh.or(file.energy_price_per_kwh),
            )?,
            currency: cli
                .energy_currency
                .clone()
                .or(file.energy_currency.clone())
                .map(|c| c.trim().chars().take(8).collect::<String>())
                .filter(|c| !c.is_empty()),
            carbon_grams_per_kwh: rate(
                "carbon_grams_per_kwh",
                cli.carbon_grams_per_kwh.or(file.carbon_grams_per_kwh),
            )?,
        };
        let alert_rules = crate::server::alerts::rules::resolve(&file.alerts)?;
        let alert_webhooks = file
            .alerts
            .webhooks
            .iter()
            .map(|hook| Ok((crate::server::alerts::webhooks::check(hook)?, hook.format)))
            .collect::<Result<_, crate::server::alerts::rules::RuleError>>()?;
        Ok(Config {
            health,
            bind,
            access_token,
            interval: Duration::from_secs_f64(interval),
            history: Duration::from_secs(history),
            max_clients,
            allowed_hosts: [cli.allowed_hosts, file.allowed_hosts].concat(),
            allowed_origins: [cli.allowed_origins, file.allowed_origins].concat(),
            emit_token: cli.emit_token,
            emit_token_file: cli
                .emit_token_file
                .or(file.emit_token_file)
                .unwrap_or_else(default_token_file),
            nvml_library: cli.nvml_library.or(file.nvml_library),
            show_command_lines: cli.show_command_lines || file.show_command_lines,
            process_top,
            process_interval: Duration::from_secs_f64(process_interval),
            prefill_history: cli.prefill_history,
            prefill_database: cli
                .prefill_database_hours
                .map(|hours| keep("--prefill-database-hours", Some(hours), 0, 8760))
                .transpose()?
                .map(|hours| Duration::from_secs(3600 * hours)),
            max_connections,
            trusted_proxies: [cli.trusted_proxies, file.trusted_proxies].concat(),
            emit_history_bytes: emit_history_mib << 20,
            data_dir,
            retention,
            alert_rules,
            alert_webhooks,
            fleet,
            idle_held,
            owners,
            run_cost,
        })
    }
}

/// `--fleet-*`: off unless a Prometheus is named.
fn fleet_settings(
    cli: &Cli,
    file: &FileConfig,
) -> Result<Option<crate::server::fleet::FleetSettings>, ConfigError> {
    use crate::server::fleet::prom::Credentials;
    use crate::server::fleet::{
        DEFAULT_RATE_WINDOW_SECONDS, DEFAULT_REFRESH_SECONDS, FleetSettings,
    };
    let fail = |reason: String| ConfigError::Fleet(reason);
    let Some(address) = cli
        .fleet_prometheus
        .clone()
        .or_else(|| file.fleet_prometheus.clone())
        .filter(|a| !a.trim().is_empty())
    else {
        return Ok(None);
    };
    let prometheus = reqwest::Url::parse(address.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| {
            fail(format!(
                "'{address}' is not an http(s) address: give Prometheus' own, e.g. http://prometheus:9090"
            ))
        })?;
    let refresh = cli
        .fleet_refresh
        .or(file.fleet_refresh_seconds)
        .unwrap_or(DEFAULT_REFRESH_SECONDS);
    if !(1.0..=3600.0).contains(&refresh) {
        return Err(fail(format!(
            "refresh of {refresh} s is out of range: use 1 to 3600 seconds (--fleet-refresh)"
        )));
    }
    let rate_window = cli
        .fleet_rate_window
        .or(file.fleet_rate_window_seconds)
        .unwrap_or(DEFAULT_RATE_WINDOW_SECONDS);
    if !(2..=3600).contains(&rate_window) {
        return Err(fail(format!(
            "rate window of {rate_window} s is out of range: use 2 to 3600 seconds (--fleet-rate-window)"
        )));
    }
    let bearer = cli
        .fleet_bearer_token_file
        .clone()
        .or_else(|| file.fleet_bearer_token_file.clone());
    let basic = cli
        .fleet_basic_auth_file
        .clone()
        .or_else(|| file.fleet_basic_auth_file.clone());
    let credentials = match (bearer, basic) {
        (Some(_), Some(_)) => {
            return Err(fail(
                "takes a bearer token file or a basic auth file, not both".into(),
            ));
        }
        (Some(path), None) => {
            Credentials::Bearer(read_token_file(&path, "fleet bearer token file")?)
        }
        (None, Some(path)) => {
            let line = read_token_file(&path, "fleet basic auth file")?;
            let (user, password) = line.split_once(':').ok_or_else(|| {
                fail(format!(
                    "basic auth file {} must hold one line `user:password`",
                    path.display()
                ))
            })?;
            Credentials::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            }
        }
        (None, None) => Credentials::None,
    };
    Ok(Some(FleetSettings {
        prometheus,
        credentials,
        refresh: Duration::from_secs_f64(refresh),
        rate_window: Duration::from_secs(rate_window),
    }))
}

/// Reads a token file that only its owner may read.
fn read_token_file(path: &Path, what: &'static str) -> Result<String, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display().to_string();
    let fail = |reason: String| ConfigError::TokenFile {
        what,
        path: shown.clone(),
        reason,
    };
    let mode = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(fail(format!(
            "it can be read by others (mode {:o}); run `chmod 600 {shown}`",
            mode & 0o777
        )));
    }
    let token = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    Ok(token.trim().to_owned())
}

/// `$XDG_RUNTIME_DIR/vitals/emit-token`, else `~/.local/state/vitals/emit-token`.
pub fn default_token_file() -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("vitals").join("emit-token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn default_bind() -> SocketAddr {
        "127.0.0.1:3000".parse().unwrap()
    }

    #[test]
    fn defaults_are_safe() {
        let config = Config::resolve(Cli::default(), default_bind()).unwrap();
        assert_eq!(config.bind, default_bind());
        assert_eq!(config.interval, Duration::from_secs(2));
        assert_eq!(config.history, Duration::from_secs(3600));
        assert!(!config.show_command_lines);
    }

    #[test]
    fn interval_out_of_range_is_refused_with_a_hint() {
        for bad in [0.1, 61.0, f64::NAN, -1.0] {
            let cli = Cli {
                interval: Some(bad),
                ..Default::default()
            };
            let err = Config::resolve(cli, default_bind()).unwrap_err();
            assert!(err.to_string().contains("0.25 to 60"), "{err}");
        }
        let cli = Cli {
            interval: Some(0.25),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(cli, default_bind()).unwrap().interval,
            Duration::from_millis(250)
        );
    }

    #[test]
    fn process_table_settings_are_checked() {
        let config = Config::resolve(Cli::default(), default_bind()).unwrap();
        assert_eq!(
            (config.process_top, config.process_interval),
            (25, Duration::from_secs(2))
        );
        for (top, interval, wanted) in [
            (
                Some(0),
                None,
                "--process-top must be between 1 and 500, got 0",
            ),
            (None, Some(0.1), "process interval 0.1 s is out of range"),
            (
                None,
                Some(f64::NAN),
                "process interval NaN s is out of range",
            ),
        ] {
            let cli = Cli {
                process_top: top,
                process_interval: interval,
                ..Default::default()
            };
            let err = Config::resolve(cli, default_bind()).unwrap_err();
            assert!(err.to_string().contains(wanted), "{err}");
        }
    }

    #[test]
    fn file_config_is_read_and_cli_wins() {
        let dir = std::env::temp_dir().join(format!("vitals-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vitals.toml");
        std::fs::write(
            &path,
            "system_monitor_interval_seconds = 5\nhistory_seconds = 600\n",
        )
        .unwrap();
        let cli = Cli {
            config: Some(path.clone()),
            ..Default::default()
        };
        let config = Config::resolve(cli, default_bind()).unwrap();
        assert_eq!(config.interval, Duration::from_secs(5));
        assert_eq!(config.history, Duration::from_secs(600));
        let cli = Cli {
            config: Some(path.clone()),
            interval: Some(1.0),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(cli, default_bind()).unwrap().interval,
            Duration::from_secs(1)
        );
        std::fs::write(&path, "system_monitor_interval = 5\n").unwrap();
        let cli = Cli {
            config: Some(path),
            ..Default::default()
        };
        let err = Config::resolve(cli, default_bind()).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
    }

    #[test]
    fn limits_out_of_range_are_refused() {
        let cli = Cli {
            max_connections: Some(3),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(cli, default_bind()).unwrap_err(),
            ConfigError::MaxConnections(3)
        );
        let cli = Cli {
            emit_history_mib: Some(0),
            ..Default::default()
        };
        let err = Config::resolve(cli, default_bind()).unwrap_err();
        assert!(err.to_string().contains("--emit-history-mib"), "{err}");
        let config = Config::resolve(Cli::default(), default_bind()).unwrap();
        assert_eq!(config.emit_history_bytes, 64 << 20);
        assert_eq!(config.retention, Retention::default());
        assert!(config.data_dir.unwrap().ends_with("vitals"));
        let cli = Cli {
            keep_raw_hours: Some(0),
            ..Default::default()
        };
        let err = Config::resolve(cli, default_bind()).unwrap_err();
        assert!(err.to_string().contains("--keep-raw-hours"), "{err}");
        let cli = Cli {
            no_persist: true,
            ..Default::default()
        };
        assert!(
            Config::resolve(cli, default_bind())
                .unwrap()
                .data_dir
                .is_none()
        );
    }

    #[test]
    fn a_wide_bind_needs_a_token() {
        let wide: SocketAddr = "0.0.0.0:3000".parse().unwrap();
        let cli = Cli {
            bind: Some(wide),
            ..Default::default()
        };
        let err = Config::resolve(cli, default_bind()).unwrap_err();
        assert_eq!(err, ConfigError::WideBindWithoutToken(wide));
        assert!(err.to_string().contains("--token-file"));
        let cli = Cli {
            bind: Some(wide),
            token: Some("0123456789abcdef0123".into()),
            ..Default::default()
        };
        assert!(
            Config::resolve(cli, default_bind())
                .unwrap()
                .access_token
                .is_some()
        );
        let cli = Cli {
            token: Some("short".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(cli, default_bind()).unwrap_err(),
            ConfigError::ShortAccessToken
        );
    }

    #[test]
    fn token_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("vitals-token-file-{}", std::process::id()));
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let cli = Cli {
            token_file: Some(path.clone()),
            ..Default::default()
        };
        let err = Config::resolve(cli.clone(), default_bind()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = Config::resolve(cli, default_bind()).unwrap();
        assert_eq!(config.access_token.as_deref(), Some("0123456789abcdef0123"));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn the_fleet_is_off_unless_a_prometheus_is_named_and_every_setting_is_checked() {
        use crate::server::fleet::prom::Credentials;
        let resolve = |adjust: &dyn Fn(&mut Cli)| {
            let mut cli = Cli::default();
            adjust(&mut cli);
            Config::resolve(cli, default_bind())
        };
        assert!(resolve(&|_| {}).unwrap().fleet.is_none());
        let fleet = resolve(&|cli| cli.fleet_prometheus = Some("http://prom:9090".into()))
            .unwrap()
            .fleet
            .unwrap();
        assert_eq!(fleet.prometheus.as_str(), "http://prom:9090/");
        assert_eq!(fleet.refresh, Duration::from_secs(10));
        assert_eq!(fleet.rate_window, Duration::from_secs(120));
        assert_eq!(fleet.credentials, Credentials::None);
        let error = |adjust: &dyn Fn(&mut Cli)| {
            resolve(&|cli| {
                cli.fleet_prometheus = Some("http://prom:9090".into());
                adjust(cli);
            })
            .unwrap_err()
            .to_string()
        };
        assert!(
            error(&|cli| cli.fleet_prometheus = Some("prom:9090".into()))
                .contains("not an http(s) address")
        );
        assert!(
            error(&|cli| cli.fleet_prometheus = Some("ftp://prom".into()))
                .contains("not an http(s) address")
        );
        assert!(error(&|cli| cli.fleet_refresh = Some(0.5)).contains("--fleet-refresh"));
        assert!(error(&|cli| cli.fleet_rate_window = Some(1)).contains("--fleet-rate-window"));

        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("vitals-fleet-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            path
        };
        let bearer = secret("bearer", "prom-token\n");
        let basic = secret("basic", "reader:pa:ss\n");
        let bad_basic = secret("bad-basic", "no-colon\n");
        let with = |bearer: Option<&Path>, basic: Option<&Path>| {
            resolve(&|cli| {
                cli.fleet_prometheus = Some("https://prom.example/".into());
                cli.fleet_bearer_token_file = bearer.map(Path::to_path_buf);
                cli.fleet_basic_auth_file = basic.map(Path::to_path_buf);
            })
        };
        let credentials = |r: Result<Config, ConfigError>| r.unwrap().fleet.unwrap().credentials;
        assert_eq!(
            credentials(with(Some(&bearer), None)),
            Credentials::Bearer("prom-token".into())
        );
        assert_eq!(
            credentials(with(None, Some(&basic))),
            Credentials::Basic {
                user: "reader".into(),
                password: "pa:ss".into()
            }
        );
        assert!(
            with(None, Some(&bad_basic))
                .unwrap_err()
                .to_string()
                .contains("user:password")
        );
        assert!(
            with(Some(&bearer), Some(&basic))
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
        std::fs::set_permissions(&bearer, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = with(Some(&bearer), None).unwrap_err().to_string();
        assert!(
            open.contains("fleet bearer token file") && open.contains("chmod 600"),
            "{open}"
        );
        let _ = std::fs::remove_dir_all(dir);

        let file = std::env::temp_dir().join(format!("vitals-fleet-{}.toml", std::process::id()));
        std::fs::write(
            &file,
            "fleet_prometheus = \"http://127.0.0.1:9090\"\nfleet_refresh_seconds = 30\n",
        )
        .unwrap();
        let config = resolve(&|cli| cli.config = Some(file.clone())).unwrap();
        assert_eq!(config.fleet.unwrap().refresh, Duration::from_secs(30));
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn cli_parses_flags() {
        let cli =
            Cli::try_parse_from(["vitals", "--interval", "1", "--bind", "127.0.0.1:0"]).unwrap();
        assert_eq!(cli.interval, Some(1.0));
        assert!(Cli::try_parse_from(["vitals", "--interval", "fast"]).is_err());
        let cli = Cli::try_parse_from([
            "vitals",
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy",
            "::1",
        ])
        .unwrap();
        assert_eq!(cli.trusted_proxies.len(), 2);
        assert!(Cli::try_parse_from(["vitals", "--trusted-proxy", "nginx"]).is_err());
        let cli = Cli::try_parse_from(["vitals", "token"]).unwrap();
        assert_eq!(cli.command, Some(Command::Token));
    }
}
