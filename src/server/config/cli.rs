//! The command line: every option with its environment variable, grouped as `--help` shows them,
//! and the subcommands (`token`, `emit`, `completions`, `man`).

use clap::Parser;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The version and the commit the binary was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("VITALS_COMMIT"),
    ")"
);

/// What `vitals --help` shows, grouped by what the options are for; shell completions and the
/// man page are made from the same definitions. Every option can also come from the environment or
/// the config file; the command line wins, then the environment, then the file, then the default.
#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "vitals",
    version = VERSION,
    about = "A live, light dashboard for this machine's vital signs.",
    long_about = "A live, light dashboard for this machine's vital signs: CPU, memory, disks, \
        network and NVIDIA GPUs, in the browser, second by second, with history on disk, alerts \
        and the jobs a training run reports. Serves on http://127.0.0.1:3000 by default."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to serve on. Default 127.0.0.1:3000 (Leptos.toml's site-addr). Any address other
    /// than loopback needs an access token (--token-file or VITALS_TOKEN).
    #[arg(long, help_heading = "Serving", env = "VITALS_BIND")]
    pub bind: Option<SocketAddr>,
    /// Seconds between samples, 0.25–60 (config key `system_monitor_interval_seconds`). Default 2.
    #[arg(long, help_heading = "Sampling", env = "VITALS_INTERVAL_SECONDS")]
    pub interval: Option<f64>,
    /// Seconds of history the server keeps per channel, 60–86400. Default 3600.
    #[arg(long, help_heading = "Sampling", env = "VITALS_HISTORY_SECONDS")]
    pub history: Option<u64>,
    /// Most WebSocket clients at once; more are refused with 503. Default 1024.
    #[arg(long, help_heading = "Serving", env = "VITALS_MAX_CLIENTS")]
    pub max_clients: Option<usize>,
    /// Extra host names the server answers to (besides localhost, 127.0.0.1 and [::1]); repeatable.
    #[arg(
        help_heading = "Serving",
        long = "allow-host",
        env = "VITALS_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Extra page origins allowed to open the WebSocket (e.g. https://dash.example); repeatable.
    #[arg(
        help_heading = "Serving",
        long = "allow-origin",
        env = "VITALS_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Most HTTP and WebSocket connections open at once. Default: the open-files limit less 64
    /// (the limit is raised to its hard maximum at start). Past it, the oldest connection that is
    /// not serving a request makes room.
    #[arg(long, help_heading = "Serving", env = "VITALS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Reverse proxies (their IP addresses) whose X-Forwarded-For names the real client, e.g.
    /// 127.0.0.1 for nginx on this machine; repeatable. Without it that header is never read.
    #[arg(
        help_heading = "Serving",
        long = "trusted-proxy",
        env = "VITALS_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// Where the history database lives (created owner-only). Default $XDG_STATE_HOME/vitals,
    /// else ~/.local/state/vitals.
    #[arg(long, help_heading = "History on disk", env = "VITALS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep history in memory only (the last --history seconds), as before there was a database.
    #[arg(long, help_heading = "History on disk", env = "VITALS_NO_PERSIST")]
    pub no_persist: bool,
    /// Hours of raw samples kept on disk, 1–8760. Default 48.
    #[arg(long, help_heading = "History on disk", env = "VITALS_KEEP_RAW_HOURS")]
    pub keep_raw_hours: Option<u64>,
    /// Days of 1-minute rollups (min/avg/max) kept on disk, 1–3650. Default 30.
    #[arg(
        long,
        help_heading = "History on disk",
        env = "VITALS_KEEP_MINUTES_DAYS"
    )]
    pub keep_minutes_days: Option<u64>,
    /// Days of 1-hour rollups kept on disk, 1–36500. Default 365.
    #[arg(long, help_heading = "History on disk", env = "VITALS_KEEP_HOURS_DAYS")]
    pub keep_hours_days: Option<u64>,
    /// MiB that emitted (custom channel) events may take on disk, 1–65536; past it the oldest go
    /// first. They are kept no longer than the 1-minute rollups. Default 64.
    #[arg(long, help_heading = "History on disk", env = "VITALS_KEEP_EVENTS_MIB")]
    pub keep_events_mib: Option<u64>,
    /// MiB that the messages of emitted (custom) channels may take in memory together, 1–4096;
    /// past it the oldest messages are dropped first. Default 64.
    #[arg(long, help_heading = "Emitted events", env = "VITALS_EMIT_HISTORY_MIB")]
    pub emit_history_mib: Option<usize>,
    /// File holding the access token every route then requires (mode 0600: readable by its owner only).
    #[arg(long, help_heading = "Access", env = "VITALS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The access token itself (prefer --token-file: an environment is easier to leak).
    #[arg(
        help_heading = "Access",
        long = "token",
        env = "VITALS_TOKEN",
        hide_env_values = true,
        hide = true
    )]
    pub token: Option<String>,
    /// Bearer token for POST /api/internal/ws/emit. Default: generated at start into --emit-token-file.
    #[arg(
        long,
        help_heading = "Emitted events",
        env = "VITALS_EMIT_TOKEN",
        hide_env_values = true
    )]
    pub emit_token: Option<String>,
    /// Where the generated emit token is written (mode 0600).
    #[arg(long, help_heading = "Emitted events", env = "VITALS_EMIT_TOKEN_FILE")]
    pub emit_token_file: Option<PathBuf>,
    /// Path of libnvidia-ml to load instead of the system's (for testing).
    #[arg(long, help_heading = "Sampling", env = "VITALS_NVML_LIBRARY")]
    pub nvml_library: Option<PathBuf>,
    /// Show GPU processes' full command lines in the API and the page (off: names and users only).
    #[arg(long, help_heading = "Sampling", env = "VITALS_SHOW_COMMAND_LINES")]
    pub show_command_lines: bool,
    /// How many processes each measure (CPU, memory, storage I/O) puts in the process table,
    /// 1–500; processes on a GPU are always in it. Default 25.
    #[arg(long, help_heading = "Sampling", env = "VITALS_PROCESS_TOP")]
    pub process_top: Option<usize>,
    /// Seconds between process scans, 0.5–60 (scans run only while someone watches the table).
    /// Default 2.
    #[arg(
        long,
        help_heading = "Sampling",
        env = "VITALS_PROCESS_INTERVAL_SECONDS"
    )]
    pub process_interval: Option<f64>,
    /// MiB of a GPU's memory its processes must hold for it to count as idle-held, 1–1048576.
    /// Default 1024.
    #[arg(
        long,
        help_heading = "GPU owners",
        env = "VITALS_IDLE_HELD_MIN_MEMORY_MIB"
    )]
    pub idle_held_min_memory_mib: Option<u64>,
    /// SM utilization (percent) a held GPU must stay below to count as idle, 1–100. Default 5.
    #[arg(
        long,
        help_heading = "GPU owners",
        env = "VITALS_IDLE_HELD_MAX_UTILIZATION"
    )]
    pub idle_held_max_utilization: Option<u32>,
    /// Seconds a GPU must stay held and idle before it is called idle-held (and its alert
    /// fires), 0–604800. Default 900.
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "GPU owners",
        env = "VITALS_IDLE_HELD_AFTER_SECONDS"
    )]
    pub idle_held_after: Option<u64>,
    /// What a kWh costs, for the run reports' cost (in --energy-currency). Default: no cost.
    #[arg(
        long,
        help_heading = "Run reports",
        env = "VITALS_ENERGY_PRICE_PER_KWH"
    )]
    pub energy_price_per_kwh: Option<f64>,
    /// The currency the price is in, as the reports write it (EUR, USD, …).
    #[arg(long, help_heading = "Run reports", env = "VITALS_ENERGY_CURRENCY")]
    pub energy_currency: Option<String>,
    /// Grams of CO₂ per kWh of the grid the machine draws from, for the reports' CO₂.
    #[arg(
        long,
        help_heading = "Run reports",
        env = "VITALS_CARBON_GRAMS_PER_KWH"
    )]
    pub carbon_grams_per_kwh: Option<f64>,
    /// Container engine sockets (Docker's API, which Podman speaks too) asked for container
    /// names, read-only; repeatable. Default /run/docker.sock and /run/podman/podman.sock;
    /// `none` asks none.
    #[arg(
        help_heading = "GPU owners",
        long = "container-socket",
        env = "VITALS_CONTAINER_SOCKETS",
        value_delimiter = ','
    )]
    pub container_sockets: Vec<PathBuf>,
    /// smartmontools' smartctl, run to read each disk's SMART (default: smartctl on PATH or in
    /// /usr/sbin); `none` reads no SMART.
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Machine health",
        env = "VITALS_SMARTCTL"
    )]
    pub smartctl: Option<PathBuf>,
    /// How often each disk's SMART is read (default 600); disks asleep are never woken.
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Machine health",
        env = "VITALS_SMART_INTERVAL_SECONDS"
    )]
    pub smart_interval: Option<u64>,
    /// Read the SMART reports a privileged timer writes (one smartctl JSON per disk,
    /// `<disk>.json`) from this folder instead of running smartctl (default
    /// /run/vitals-smart when it exists).
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Machine health",
        env = "VITALS_SMART_DIR"
    )]
    pub smart_dir: Option<PathBuf>,
    /// Read hwmon sensors, EDAC and AER under this folder instead of /sys (for tests).
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Tests and demos",
        env = "VITALS_SYSFS_ROOT"
    )]
    pub sysfs_root: Option<PathBuf>,
    /// Fill the history with a window of synthetic samples at start (benchmarks and demos only).
    #[arg(long, help_heading = "Tests and demos", env = "VITALS_PREFILL_HISTORY")]
    pub prefill_history: bool,
    /// Write this many hours of synthetic samples, ending now, into the history database at start,
    /// with a stretch left out as if Vitals had been stopped (tests and demos only), 1–8760.
    #[arg(
        long,
        help_heading = "Tests and demos",
        env = "VITALS_PREFILL_DATABASE_HOURS",
        hide = true
    )]
    pub prefill_database_hours: Option<u64>,
    /// Prometheus to read the fleet page (/fleet, /api/fleet) from, e.g. http://prometheus:9090.
    /// Off by default.
    #[arg(long, help_heading = "Fleet", env = "VITALS_FLEET_PROMETHEUS")]
    pub fleet_prometheus: Option<String>,
    /// File holding a bearer token for that Prometheus (mode 0600).
    #[arg(long, help_heading = "Fleet", env = "VITALS_FLEET_BEARER_TOKEN_FILE")]
    pub fleet_bearer_token_file: Option<PathBuf>,
    /// File holding `user:password` for that Prometheus' basic auth (mode 0600).
    #[arg(long, help_heading = "Fleet", env = "VITALS_FLEET_BASIC_AUTH_FILE")]
    pub fleet_basic_auth_file: Option<PathBuf>,
    /// Seconds between fleet refreshes (shared by every browser, only while someone looks), 1–3600.
    /// Default 10.
    #[arg(long, help_heading = "Fleet", env = "VITALS_FLEET_REFRESH_SECONDS")]
    pub fleet_refresh: Option<f64>,
    /// Seconds that counters (CPU, disk, network) are turned into rates over: at least two of
    /// Prometheus' scrape intervals, 2–3600. Default 120.
    #[arg(long, help_heading = "Fleet", env = "VITALS_FLEET_RATE_WINDOW_SECONDS")]
    pub fleet_rate_window: Option<u64>,
    /// A TOML file with any of the keys above (snake_case) and `system_monitor_interval_seconds`.
    #[arg(long, help_heading = "Configuration file", env = "VITALS_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug, Clone, PartialEq)]
pub enum Command {
    /// Print a new random access token (e.g. `vitals token > ~/.vitals-token && chmod 600 ~/.vitals-token`).
    Token,
    /// Publish one event to a running Vitals, e.g. `vitals emit jobs/train-1 metrics step=100 loss=0.42`.
    Emit(EmitArgs),
    /// Print a shell completion script, e.g. `vitals completions bash > /etc/bash_completion.d/vitals`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `vitals man > /usr/local/share/man/man1/vitals.1`.
    Man,
}

/// `vitals emit`'s arguments.
#[derive(clap::Args, Debug, Clone, PartialEq, Default)]
pub struct EmitArgs {
    /// The channel, e.g. jobs/train-1 (a channel under jobs/ is a job).
    pub channel: String,
    /// The event: start, metrics or end for a job, or any name for a note.
    pub event: String,
    /// Fields as name=value. Numbers stay numbers, true/false booleans; `pids` and `gpus` take
    /// comma lists (pids=4242,4243).
    pub fields: Vec<String>,
    /// The data as JSON instead of fields.
    #[arg(long, conflicts_with = "fields")]
    pub json: Option<String>,
    /// Promise a message on this channel at least this often, in seconds (the heartbeat alert
    /// fires when it stays silent longer).
    #[arg(long)]
    pub heartbeat: Option<u64>,
    /// The Vitals to send to, as host:port or a URL. Default: --bind's address, else 127.0.0.1:3000.
    #[arg(long, env = "VITALS_SERVER")]
    pub server: Option<String>,
    /// Give up when the server has not answered within this many seconds (default 5), so a
    /// training loop never hangs on a stuck server.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
}
