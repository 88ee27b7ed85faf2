//! Start-up wiring: the configuration resolved, the listener bound, every capability built and
//! connected (what was saved before this start restored first), and the server that serves them.

mod restore;

use crate::server::collect::Monitor;
use crate::server::collect::gpu::xid::XidLog;
use crate::server::collect::gpu::{GpuOptions, NvmlSource};
use crate::server::config::{Cli, Config, ConfigError};
use crate::server::http::listen::{self, Tracker};
use crate::server::hub::Hub;
use crate::server::pipeline::latest::Latest;
use crate::server::pipeline::page_history::PageHistory;
use crate::server::pipeline::process_watch::{self, ProcessOptions, ProcessWatch};
use crate::server::pipeline::sampler::{self, Outlets, SamplerHandle};
use crate::server::web::router::router;
use crate::server::web::state::AppState;
use crate::server::{alerts, collect, fleet, history, jobs, prometheus, web};
use axum::Router;
use leptos::config::{LeptosOptions, get_configuration};
use std::net::SocketAddr;
use std::sync::Arc;

/// Why the server could not start, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot read the site configuration (Leptos.toml or LEPTOS_* variables): {0}")]
    Site(String),
    #[error(
        "cannot listen on {addr}: {reason} (is another server using it? pick another with --bind)"
    )]
    Bind { addr: SocketAddr, reason: String },
    #[error("cannot start the sampler or process-scan thread: {0}")]
    Sampler(std::io::Error),
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// The site settings: from cargo-leptos' LEPTOS_* variables when it runs us, else from Leptos.toml
/// (with LEPTOS_* overrides), so the binary also runs on its own.
pub fn site_options() -> Result<LeptosOptions, StartError> {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME").is_some();
    let file = (!from_cargo_leptos && std::path::Path::new("Leptos.toml").exists())
        .then_some("Leptos.toml");
    get_configuration(file)
        .map(|conf| conf.leptos_options)
        .map_err(|e| StartError::Site(e.to_string()))
}

/// A running server: its address, its connection limits, and the sampler it stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub router: Router,
    pub listener: tokio::net::TcpListener,
    /// The process's open-files limit (raised to its hard maximum at start).
    pub open_files_limit: u64,
    pub connections: Arc<Tracker>,
    durable: history::Durable,
    _sampler: SamplerHandle,
    _process_scans: process_watch::ProcessHandle,
}

/// Builds everything and binds the listener, without serving yet.
pub async fn start(cli: Cli) -> Result<Running, StartError> {
    let mut leptos_options = site_options()?;
    let config = Config::resolve(cli, leptos_options.site_addr)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| StartError::Bind {
            addr: config.bind,
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Bind {
        addr: config.bind,
        reason: e.to_string(),
    })?;
    leptos_options.site_addr = addr;

    let open_files_limit = listen::raise_open_files_limit();
    let connection_cap = config
        .max_connections
        .unwrap_or_else(|| listen::connection_cap(open_files_limit));

    let emit_token = jobs::emit_token::emit_token(&config);
    let epoch = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let hub = Hub::new(
        epoch,
        config.history,
        config.max_clients,
        config.emit_history_bytes,
    );
    let durable = history::Durable::start(config.data_dir.as_deref(), config.retention);
    let page_history = Arc::new(PageHistory::new(epoch, config.history));
    let hostname: Arc<str> = sysinfo::System::host_name()
        .unwrap_or_else(|| "this machine".into())
        .into();
    let owners = Arc::new(collect::owners::Owners::new(&config.owners));
    let jobs = Arc::new(jobs::book::JobBook::default());
    let usage = Arc::new(crate::server::usage::Usage::new(
        config.idle_held,
        config.interval,
    ));
    let process_watch = ProcessWatch::new(
        ProcessOptions {
            top: config.process_top,
            period: config.process_interval,
            show_command_lines: config.show_command_lines,
            always: config
                .alert_rules
                .iter()
                .any(|rule| crate::wire::series::is_process_series(&rule.series)),
            keep_files: collect::processes::scan::files_to_keep(open_files_limit),
        },
        owners.clone(),
        jobs.clone(),
    );
    let outlets = Outlets {
        hub: hub.clone(),
        latest: Latest::default(),
        page_history,
        durable: durable.clone(),
        processes: process_watch.clone(),
        jobs: jobs.clone(),
        usage: usage.clone(),
        health: Arc::default(),
        alerts: Arc::new(alerts::Alerts::new(
            config.alert_rules.clone(),
            alerts::webhooks::Webhooks::start(&config.alert_webhooks, &hostname),
        )),
    };
    // What happened before this start, up to the history window, read once for the XID log,
    // the channels and the pages.
    let saved = restore::Saved::read(&durable, epoch, config.history);
    // Ready before NVML opens, so no XID arrives unseen.
    let xid_log = Arc::new(XidLog::default());
    crate::server::pipeline::xid_events::connect(&xid_log, hub.clone(), durable.recorder.clone());
    crate::server::pipeline::xid_events::restore(&xid_log, &saved.events);
    let gpu = NvmlSource::with_xids(
        GpuOptions {
            library_path: config.nvml_library.clone(),
            show_command_lines: config.show_command_lines,
            ..Default::default()
        },
        xid_log,
    )
    .with_owners(owners);
    let gpu_cost = gpu.cost();
    let mut monitor = Monitor::new(Box::new(gpu)).with_sysfs_root(config.health.sysfs_root.clone());
    if let Some(options) = &config.health.smart {
        monitor = monitor.with_smart(collect::health::smart::Smart::start(options.clone()));
    }
    // Prime here, before the server answers, so the first hello already knows the GPU status.
    let primed = monitor.sample();
    saved.republish(&primed, &outlets, &jobs);
    restore::prefill(&config, &primed, &outlets);
    outlets.latest.set_gpu_status(primed.gpu_status);
    let sampler =
        sampler::spawn(monitor, outlets.clone(), config.interval).map_err(StartError::Sampler)?;
    let process_scans = process_watch
        .spawn(hub.clone(), outlets.latest.clone())
        .map_err(StartError::Sampler)?;

    // A specific address (a loopback one besides 127.0.0.1 too) is a valid Host.
    let bound_ip = (!addr.ip().is_unspecified()).then(|| match addr {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    });
    let fleet = fleet::Fleet::new(config.fleet.clone());
    fleet.spawn();
    let history_reads = Arc::new(tokio::sync::Semaphore::new(1));
    let jobs = jobs::Jobs {
        book: jobs,
        hub: hub.clone(),
        durable: durable.clone(),
        emit_token: emit_token.into(),
        emit_token_file: config.emit_token_file.as_path().into(),
        gpus_now: {
            let latest = outlets.latest.clone();
            Arc::new(move || latest.get().map(|s| s.gpus.clone()).unwrap_or_default())
        },
        history_reads: history_reads.clone(),
        reports: Default::default(),
        report_settings: Arc::new(jobs::report::ReportSettings {
            interval_ms: config.interval.as_millis() as i64,
            idle: config.idle_held,
            price_per_kwh: config.run_cost.price_per_kwh,
            currency: config.run_cost.currency.clone(),
            carbon_grams_per_kwh: config.run_cost.carbon_grams_per_kwh,
        }),
    };
    let sessions = web::auth::sessions::Sessions::saved_in(
        durable.db.clone(),
        config.access_token.as_deref().unwrap_or_default(),
    );
    let state = AppState {
        leptos_options,
        config: Arc::new(config),
        hub,
        metrics_registry: prometheus::registry(prometheus::MetricSources {
            latest: outlets.latest.clone(),
            hostname: hostname.clone(),
            processes: process_watch.clone(),
            gpu_cost,
            jobs: jobs.book.clone(),
            alerts: outlets.alerts.clone(),
            usage: usage.clone(),
        }),
        processes: process_watch,
        latest: outlets.latest,
        page_history: outlets.page_history,
        durable: durable.clone(),
        hostname,
        bound_ip,
        sessions: Arc::new(sessions),
        failures: Default::default(),
        sign_in_reads: Arc::new(tokio::sync::Semaphore::new(
            web::auth::MAX_SIGN_INS_READ_AT_ONCE,
        )),
        history_reads,
        alerts: outlets.alerts,
        jobs,
        fleet,
        health: outlets.health.clone(),
    };
    Ok(Running {
        addr,
        router: router(state),
        listener,
        open_files_limit,
        connections: Tracker::new(connection_cap),
        durable,
        _sampler: sampler,
        _process_scans: process_scans,
    })
}

impl Running {
    /// Serves until Ctrl-C or SIGTERM.
    pub async fn serve(self) -> Result<(), StartError> {
        let served = listen::serve(
            self.listener,
            self.router,
            self.connections,
            shutdown_signal(),
        )
        .await;
        // The sampler stops first (handing its open minute of GPU usage to the writer), then the
        // last batch of history goes to disk before the process ends.
        drop(self._sampler);
        self.durable.stop();
        served.map_err(StartError::Serve)
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => drop(terminate.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod site_config_tests {
    use leptos::config::get_config_from_str;

    /// Leptos.toml (read at run time) and Cargo.toml (read by cargo-leptos at build time) must
    /// describe the same site.
    #[test]
    fn leptos_toml_agrees_with_cargo_toml() {
        let runtime =
            get_config_from_str(include_str!("../../../Leptos.toml")).expect("Leptos.toml parses");
        let build = get_config_from_str(include_str!("../../../Cargo.toml"))
            .expect("Cargo.toml metadata parses");
        assert_eq!(runtime.output_name, build.output_name);
        assert_eq!(runtime.site_root, build.site_root);
        assert_eq!(runtime.site_pkg_dir, build.site_pkg_dir);
        assert_eq!(runtime.site_addr, build.site_addr);
        assert_eq!(runtime.reload_port, build.reload_port);
        assert!(
            runtime.site_addr.ip().is_loopback(),
            "the default address must be loopback"
        );
    }
}
