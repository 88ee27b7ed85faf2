//! The server side: collectors, the sampler loop, the channel hub and the routes that serve them.

pub mod alerts;
pub mod api;
pub mod auth;
pub mod body;
pub mod collect;
pub mod config;
pub mod emit;
pub mod emit_cli;
pub mod error;
pub mod failures;
pub mod fleet;
pub mod guard;
pub mod heap;
pub mod history_db;
pub mod hub;
pub mod job_convention;
pub mod job_fields;
pub mod jobs;
pub mod listen;
pub mod page_history;
pub mod prefill;
pub mod processes;
pub mod prometheus;
pub mod sampler;
pub mod sessions;
pub mod site;
pub mod state;
pub mod token;
pub mod ws;
pub mod xid_events;

use crate::app::{App, shell};
use axum::Router;
use axum::handler::Handler;
use axum::middleware;
use axum::routing::{get, post};
use collect::Monitor;
use collect::gpu::xid::XidLog;
use collect::gpu::{GpuOptions, NvmlSource};
use config::{Cli, Config, ConfigError};
use hub::Hub;
use leptos::config::{LeptosOptions, get_configuration};
use leptos_axum::{LeptosRoutes, generate_route_list};
use listen::Tracker;
use page_history::PageHistory;
use sampler::{Latest, Outlets, SamplerHandle};
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;

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
    durable: history_db::Durable,
    _sampler: SamplerHandle,
    _process_scans: processes::ProcessHandle,
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

    let emit_token = token::emit_token(&config);
    let epoch = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let hub = Hub::new(
        epoch,
        config.history,
        config.max_clients,
        config.emit_history_bytes,
    );
    let durable = history_db::Durable::start(config.data_dir.as_deref(), config.retention);
    let page_history = Arc::new(PageHistory::new(epoch, config.history));
    let hostname: Arc<str> = sysinfo::System::host_name()
        .unwrap_or_else(|| "this machine".into())
        .into();
    let process_watch = processes::ProcessWatch::new(processes::ProcessOptions {
        top: config.process_top,
        period: config.process_interval,
        show_command_lines: config.show_command_lines,
        always: config
            .alert_rules
            .iter()
            .any(|rule| processes::is_process_series(&rule.series)),
        keep_files: processes::scan::files_to_keep(open_files_limit),
    });
    let outlets = Outlets {
        hub: hub.clone(),
        latest: Latest::default(),
        page_history,
        durable: durable.clone(),
        processes: process_watch.clone(),
        alerts: Arc::new(alerts::Alerts::new(
            config.alert_rules.clone(),
            alerts::webhooks::Webhooks::start(&config.alert_webhooks, &hostname),
        )),
    };
    // What happened before this start, up to the history window, read once for the XID log,
    // the channels and the pages.
    let since = epoch as i64 - config.history.as_millis() as i64;
    let saved_events = match &durable.db {
        Some(db) => db.recent_events(since).unwrap_or_else(|error| {
            eprintln!("vitals: cannot read the saved events: {error}");
            Vec::new()
        }),
        None => Vec::new(),
    };
    // Ready before NVML opens, so no XID arrives unseen.
    let xid_log = Arc::new(XidLog::default());
    xid_events::connect(&xid_log, hub.clone(), durable.recorder.clone());
    xid_events::restore(&xid_log, &saved_events);
    let gpu = NvmlSource::with_xids(
        GpuOptions {
            library_path: config.nvml_library.clone(),
            show_command_lines: config.show_command_lines,
            ..Default::default()
        },
        xid_log,
    );
    let gpu_cost = gpu.cost();
    let mut monitor = Monitor::new(Box::new(gpu));
    // Prime here, before the server answers, so the first hello already knows the GPU status.
    let primed = monitor.sample();
    if let Some(db) = &durable.db {
        // The channels, pages and history endpoint start with what happened before this start,
        // up to the history window: each saved tick is published again (in this epoch).
        match db.recent(since) {
            Ok(rows) => {
                for (at, values) in rows {
                    let snapshot = history_db::series::snapshot_of(&primed, at, &values);
                    sampler::publish(&hub, &outlets.page_history, &Arc::new(snapshot));
                }
            }
            Err(error) => eprintln!("vitals: cannot read the saved history: {error}"),
        }
    }
    let jobs = Arc::new(jobs::JobBook::default());
    for saved in saved_events {
        let (Ok(data), Some(at)) = (
            serde_json::from_str(&saved.data),
            chrono::DateTime::from_timestamp_millis(saved.at_ms),
        ) else {
            continue;
        };
        jobs.record(&saved.channel, &saved.event, &data, at, None);
        let _ = hub.publish(&saved.channel, &saved.event, data, at);
    }
    if let (Some(window), Some(recorder)) = (config.prefill_database, &durable.recorder) {
        let outage = prefill::outage(&primed, window);
        for sample in prefill::samples(&primed, window, config.interval) {
            if !outage.contains(&sample.timestamp.timestamp_millis()) {
                recorder.record_waiting(&Arc::new(sample));
            }
        }
    }
    if config.prefill_history {
        for sample in prefill::samples(&primed, config.history, config.interval) {
            sampler::publish(&hub, &outlets.page_history, &Arc::new(sample));
        }
    }
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
    let state = AppState {
        leptos_options,
        config: Arc::new(config),
        hub,
        metrics_registry: prometheus::registry(
            outlets.latest.clone(),
            hostname.clone(),
            process_watch.clone(),
            gpu_cost,
            jobs.clone(),
            outlets.alerts.clone(),
        ),
        processes: process_watch,
        latest: outlets.latest,
        page_history: outlets.page_history,
        durable: durable.clone(),
        emit_token: emit_token.into(),
        hostname,
        bound_ip,
        sessions: Arc::new(sessions::Sessions::saved_in(durable.db.clone())),
        failures: Default::default(),
        sign_in_reads: Arc::new(tokio::sync::Semaphore::new(auth::MAX_SIGN_INS_READ_AT_ONCE)),
        alerts: outlets.alerts,
        jobs,
        fleet,
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

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let provide_state = move || leptos::context::provide_context(context_state.clone());
    let page_options = state.leptos_options.clone();
    Router::new()
        .route("/ws", get(ws::upgrade))
        // /api/system/metrics, /gpus and /seed are server functions (src/app/api.rs), mounted with the pages.
        .route("/api/system/history", get(api::history))
        .route("/api/system/alerts", get(api::alerts))
        .route("/api/system/processes", get(api::processes))
        .route("/api/system/jobs", get(api::jobs))
        .route("/api/system/jobs/fields", get(job_fields::job_fields))
        .route("/api/internal/ws/emit", post(emit::emit))
        .route("/metrics", get(prometheus::metrics))
        .route("/api/fleet", get(fleet::routes::api))
        .route("/fleet", get(fleet::routes::fleet_page))
        .leptos_routes_with_context(&state, routes, provide_state, move || {
            shell(page_options.clone())
        })
        // Pages, the seed and REST answers change every tick, so they are compressed on every
        // request: the fastest level, since a default gzip of a full hour's seed cost three
        // times the CPU of producing it.
        .route_layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        // The site: from the binary when it carries it (already compressed), else from disk,
        // where the WASM module and ECharts shrink to a third: it matters on a remote link.
        .fallback(site_or_page(shell).layer(CompressionLayer::new()))
        // Layers run bottom-up: the Host check first, then the token.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::check_host,
        ))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(state)
}

/// The fallback route: an embedded site file, else leptos' handler (a file on disk, or the page
/// that says there is nothing at this address).
fn site_or_page<IV: leptos::prelude::IntoView + 'static>(
    shell: impl Fn(LeptosOptions) -> IV + Clone + Send + 'static,
) -> impl Fn(
    axum::http::Uri,
    axum::extract::State<AppState>,
    axum::extract::Request,
) -> std::pin::Pin<Box<dyn Future<Output = axum::response::Response> + Send>>
+ Clone
+ Send
+ 'static {
    let from_disk = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    move |uri, state, request| match site::file(uri.path()) {
        Some(file) => {
            let response = site::respond(file, request.headers());
            Box::pin(async move { response })
        }
        None => from_disk(uri, state, request),
    }
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
        // The last batch of history goes to disk before the process ends.
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
            get_config_from_str(include_str!("../../Leptos.toml")).expect("Leptos.toml parses");
        let build = get_config_from_str(include_str!("../../Cargo.toml"))
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
