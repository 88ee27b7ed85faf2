//! The dashboard page: header with the connection indicator, and the grid of charts and GPU cards.

use super::alerts::AlertStrip;
use super::chart_view::{DarkCharts, EChart, PageVisible};
use super::charts::{
    ClockLane, LineSeries, MemoryBar, PowerLine, core_percents, memory_chart, memory_rows,
    per_core_chart, rate_chart, utilization_chart, with_alert_spans, with_clock_events,
    with_markers,
};
use super::connection::ConnectionState;
use super::gpu_depth::{self, Tone};
use super::gpu_detail::{GpuDetail, processes_id};
use super::health_card::HealthCard;
use super::job_card::JobsCard;
use super::jobs::{self, Jobs};
use super::live::{Live, use_live};
use super::process_card::ProcessCard;
use super::seed::page_seed;
use super::tab::TabStatus;
use super::theme::{ThemeToggle, prefers_dark};
use super::timeline::{DrawFrame, RangeControls, Timeline};
use crate::shared::format;
use crate::shared::store::Millis;
use crate::wire::series::{self, clock_event_series, gpu_key, gpu_metric, gpu_series};
use crate::wire::{CLOCK_EVENT_REASONS, GpuMetrics, GpuStatus, GpuUnavailableReason};
use leptos::prelude::*;

#[component]
pub fn Dashboard() -> impl IntoView {
    // One store for the page, there for every component that wants it, started from the seed the
    // page carries: values at first paint, and no request before the charts can draw.
    let live = use_live(page_seed());
    provide_context(live);
    let timeline = Timeline::new(live, 15 * 60 * 1000);
    // A link may open the charts on a span (the Usage page's "when": `/?from=MS&to=MS`); applied
    // once the page is hydrated, which drew it unzoomed.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some((from, to)) = linked_span() {
            timeline.zoom_to(from, to);
        }
    });
    provide_context(timeline);
    provide_context(Jobs::new(live, timeline));
    provide_context(DarkCharts(RwSignal::new(prefers_dark())));
    provide_context(PageVisible(live.page_visible));
    let frame = Memo::new(move |_| timeline.frame());
    // Dragging across any time chart zooms them all into that span.
    let zoom = Callback::new(move |(from, to): (Millis, Millis)| timeline.zoom_to(from, to));
    view! {
        <TabStatus />
        <Header />
        <AlertStrip />
        <main class="grid">
            <CpuPanels frame zoom />
            <MemoryPanel />
            <IoPanel frame zoom />
            <JobsCard frame zoom />
            <GpuPanels frame zoom />
            <ProcessCard />
            // Last: its HTML arrives after the page is drawn, and moves nothing above it.
            <HealthCard />
        </main>
    }
}

/// The span in the page's address (`?from=MS&to=MS`, epoch milliseconds), when it names one.
#[cfg(feature = "hydrate")]
fn linked_span() -> Option<(Millis, Millis)> {
    let search = web_sys::window()?.location().search().ok()?;
    let value = |name: &str| {
        search
            .trim_start_matches('?')
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    Some((value("from")?, value("to")?))
}

#[component]
fn Header() -> impl IntoView {
    let live = expect_context::<Live>();
    let hostname = move || {
        live.hello
            .with(|h| h.as_ref().map(|h| h.hostname.clone()).unwrap_or_default())
    };
    let uptime = move || {
        let boot = live.hello.with(|h| h.as_ref().and_then(|h| h.boot_time))?;
        let now = live
            .store
            .with(|s| s.last_message_ms)
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let seconds = (now - boot.timestamp_millis()).max(0) / 1000;
        Some(format!("up {}", format::uptime(seconds as u64)))
    };
    let state = move || live.state.get();
    let label = move || match state() {
        ConnectionState::Reconnecting { attempt } => format!("reconnecting (attempt {attempt})"),
        other => other.label().to_owned(),
    };
    let last_update = move || {
        live.store
            .with(|s| s.last_message_ms)
            .map(|t| format!("last update {}", format::clock_utc(t)))
    };
    // Only in the browser (the clock starts there), so the server's render and hydration agree.
    let age = move || {
        let now = live.now_ms.get()?;
        let received = live.received_ms.get()?;
        Some(format!(
            "· {}",
            format::age(((now - received).max(0.0) / 1000.0) as u64)
        ))
    };
    view! {
        <header class="top">
            <h1>"Vitals" <span class="host" data-testid="hostname">{hostname}</span>
                <span class="uptime" data-testid="uptime">{uptime}</span></h1>
            <div class="controls">
                <span class="connection" data-testid="connection" data-state=move || state().label() title=last_update>
                    <span class="dot"></span>
                    {label}
                </span>
                <span class="last-update" data-testid="last-update">{last_update}</span>
                <span class="last-update" data-testid="update-age">{age}</span>
                <RangeControls />
                <ThemeToggle />
            </div>
        </header>
    }
}

#[component]
fn CpuPanels(frame: Memo<DrawFrame>, zoom: Callback<(Millis, Millis)>) -> impl IntoView {
    let live = expect_context::<Live>();
    let timeline = expect_context::<Timeline>();
    let chart = Signal::derive(move || {
        let spans = alert_spans(live, |s| s.starts_with("cpu."));
        let chart = timeline.draw(frame.get().span, |d| {
            let usage = d.points(series::CPU_USAGE);
            let temperature = d.points(series::CPU_TEMPERATURE);
            utilization_chart(
                d.window,
                &[LineSeries {
                    name: "CPU",
                    points: &usage,
                }],
                &[LineSeries {
                    name: "Temperature",
                    points: &temperature,
                }],
                None,
            )
        });
        with_alert_spans(chart, &spans)
    });
    // Redrawn only when a bar would change.
    let percents = Memo::new(move |_| {
        live.store.with(|s| {
            core_percents(
                s.cpu
                    .as_ref()
                    .map(|c| c.per_core_percent.as_slice())
                    .unwrap_or(&[]),
            )
        })
    });
    let cores = Signal::derive(move || percents.with(|p| per_core_chart(p)));
    let usage = move || {
        live.store.with(|s| {
            s.cpu
                .as_ref()
                .map(|c| format!("{:.1} %", c.usage_percent))
                .unwrap_or("–".into())
        })
    };
    let details = move || {
        live.store.with(|s| {
            s.cpu.as_ref().map(|c| {
                format!(
                    "{} · {} cores · load {:.2} {:.2} {:.2}",
                    c.model,
                    c.core_count,
                    c.load_average.one,
                    c.load_average.five,
                    c.load_average.fifteen
                )
            })
        })
    };
    view! {
        <section class="card" data-testid="cpu-card">
            <h2>"CPU " <span class="value" data-testid="cpu-usage">{usage}</span></h2>
            <p class="details">{details}</p>
            <EChart id="chart-cpu".into() chart on_select=zoom />
        </section>
        <section class="card" data-testid="cores-card">
            <h2>"Per core"</h2>
            <EChart id="chart-cores".into() chart=cores />
        </section>
    }
}

#[component]
fn MemoryPanel() -> impl IntoView {
    let live = expect_context::<Live>();
    // Redrawn only when a row would read differently.
    let rows = Memo::new(move |_| {
        live.store.with(|s| {
            let mut bars = Vec::new();
            if let Some(m) = &s.memory {
                bars.push(MemoryBar {
                    label: "RAM".into(),
                    used_bytes: m.ram_used_bytes,
                    total_bytes: m.ram_total_bytes,
                });
                bars.push(MemoryBar {
                    label: "Swap".into(),
                    used_bytes: m.swap_used_bytes,
                    total_bytes: m.swap_total_bytes,
                });
            }
            for gpu in s.gpus.values() {
                if let (Some(used), Some(total)) = (gpu.memory_used_bytes, gpu.memory_total_bytes) {
                    bars.push(MemoryBar {
                        label: format!("GPU {}", gpu.index),
                        used_bytes: used,
                        total_bytes: total,
                    });
                }
            }
            memory_rows(&bars)
        })
    });
    let chart = Signal::derive(move || rows.with(|r| memory_chart(r)));
    let summary = move || {
        live.store.with(|s| {
            s.memory.as_ref().map(|m| {
                format!(
                    "{} of {} used",
                    format::gib(m.ram_used_bytes),
                    format::gib(m.ram_total_bytes)
                )
            })
        })
    };
    view! {
        <section class="card" data-testid="memory-card">
            <h2>"Memory " <span class="value" data-testid="memory-summary">{summary}</span></h2>
            <EChart id="chart-memory".into() chart />
        </section>
    }
}

#[component]
fn IoPanel(frame: Memo<DrawFrame>, zoom: Callback<(Millis, Millis)>) -> impl IntoView {
    let live = expect_context::<Live>();
    let timeline = expect_context::<Timeline>();
    // Disk and network side by side: two lines each, so each legend fits on one line at any width.
    let rates = move |names: [(&'static str, &'static str); 2]| {
        Signal::derive(move || {
            timeline.draw(frame.get().span, |d| {
                let [first, second] = names.map(|(name, series)| (name, d.points(series)));
                rate_chart(
                    d.window,
                    &[first, second]
                        .each_ref()
                        .map(|(name, points)| LineSeries { name, points }),
                )
            })
        })
    };
    let disk = rates([("Read", series::DISK_READ), ("Write", series::DISK_WRITE)]);
    let network = rates([("Down", series::NET_RX), ("Up", series::NET_TX)]);
    let details = move || {
        live.store.with(|s| {
            let disks = s.disk.as_ref().map(|d| {
                rate_list(
                    d.devices
                        .iter()
                        .map(|dev| (&dev.name, dev.read_bytes_per_sec, dev.write_bytes_per_sec)),
                )
            });
            let nets = s.network.as_ref().map(|n| {
                rate_list(
                    n.interfaces
                        .iter()
                        .filter(|i| !i.loopback)
                        .map(|i| (&i.name, i.rx_bytes_per_sec, i.tx_bytes_per_sec)),
                )
            });
            [disks, nets]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        })
    };
    view! {
        <section class="card" data-testid="io-card">
            <h2>"Disk and network"</h2>
            <p class="details" data-testid="io-details">{details}</p>
            <div class="chart-pair">
                <div>
                    <h3>"Disk"</h3>
                    <EChart id="chart-disk".into() chart=disk on_select=zoom />
                </div>
                <div>
                    <h3>"Network"</h3>
                    <EChart id="chart-net".into() chart=network on_select=zoom />
                </div>
            </div>
        </section>
    }
}

/// The spans of the alerts on the series `watched` picks (tracked: a chart redraws when they change).
fn alert_spans(live: Live, watched: impl Fn(&str) -> bool) -> Vec<(Millis, Millis)> {
    let now = live
        .store
        .with_untracked(|s| s.last_message_ms)
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    live.alerts.with(|book| book.spans(watched, now))
}

/// `name ↓rate ↑rate` for each device, joined: the per-device detail of the I/O card.
fn rate_list<'a>(items: impl Iterator<Item = (&'a String, f64, f64)>) -> String {
    items
        .map(|(name, down, up)| format!("{name} ↓{} ↑{}", format::rate(down), format::rate(up)))
        .collect::<Vec<_>>()
        .join(" · ")
}

#[component]
fn GpuPanels(frame: Memo<DrawFrame>, zoom: Callback<(Millis, Millis)>) -> impl IntoView {
    let live = expect_context::<Live>();
    let status = move || {
        live.hello
            .with(|h| h.as_ref().map(|h| h.gpu_status.clone()))
    };
    let indices = move || {
        live.store
            .with(|s| s.gpus.keys().copied().collect::<Vec<u32>>())
    };
    view! {
        {move || match status() {
            Some(GpuStatus::Unavailable { reason, message }) if indices().is_empty() => {
                view! {
                    <section class="card no-gpu" data-testid="no-gpu">
                        <h2>"GPUs"</h2>
                        <p data-testid="no-gpu-lead">{no_gpu_lead(reason)}</p>
                        <details>
                            <summary>"Details"</summary>
                            <code data-testid="no-gpu-details">{message}</code>
                        </details>
                    </section>
                }
                    .into_any()
            }
            _ => ().into_any(),
        }}
        <For each=indices key=|index| *index let:index>
            <GpuCard frame zoom index />
        </For>
    }
}

/// One short sentence for why there is no GPU to show; the library's own words are one click away.
fn no_gpu_lead(reason: GpuUnavailableReason) -> &'static str {
    match reason {
        GpuUnavailableReason::NoDriver => "No NVIDIA driver found on this machine.",
        GpuUnavailableReason::NoDevices => "The NVIDIA driver reports no GPUs.",
        GpuUnavailableReason::NoPermission => "Vitals is not allowed to read the GPUs.",
        GpuUnavailableReason::Error => "The GPUs could not be read.",
    }
}

#[component]
fn GpuCard(frame: Memo<DrawFrame>, zoom: Callback<(Millis, Millis)>, index: u32) -> impl IntoView {
    let live = expect_context::<Live>();
    let timeline = expect_context::<Timeline>();
    let gpu = Memo::new(move |_| live.store.with(|s| s.gpus.get(&index).cloned()));
    let key = move || gpu.with_untracked(|g| g.as_ref().map(gpu_key).unwrap_or_default());
    let interval_ms = move || {
        live.hello.with_untracked(|h| {
            h.as_ref()
                .map_or(2000, |h| (h.interval_seconds * 1000.0) as Millis)
        })
    };
    // Worked out from the power readings: every one the store holds in the shown range, or the
    // database's (each bucket's peak) where it holds none.
    let energy_in_range = Memo::new(move |_| {
        let power = gpu_series(&key(), gpu_metric::POWER);
        timeline.draw(frame.get().span, |d| {
            let window = d.window;
            let held = live
                .store
                .with_untracked(|s| s.between(&power, window.start_ms - 1, window.end_ms));
            let points = if held.is_empty() {
                d.points(&power)
            } else {
                held
            };
            let step = window.bucket_ms.max(interval_ms());
            gpu_depth::energy_of_power(&points, 3 * step)
        })
    });
    let jobs = expect_context::<Jobs>();
    let chart = Signal::derive(move || {
        let (key, uuid, limit, xids) = gpu.with_untracked(|g| {
            let g = g.as_ref();
            (
                g.map(gpu_key).unwrap_or_default(),
                g.map(|g| g.uuid.clone()).unwrap_or_default(),
                g.and_then(|g| g.power_limit_watts),
                g.map(|g| g.xid_errors.clone()).unwrap_or_default(),
            )
        });
        let interval_ms = interval_ms();
        let prefix = format!("gpu/{key}/");
        let spans = alert_spans(live, |s| s.starts_with(&prefix));
        let chart = timeline.draw(frame.get().span, |d| {
            let util = d.points(&gpu_series(&key, gpu_metric::UTILIZATION));
            let mem = d.points(&gpu_series(&key, gpu_metric::MEMORY_UTILIZATION));
            let temp = d.points(&gpu_series(&key, gpu_metric::TEMPERATURE));
            let power = d.points(&gpu_series(&key, gpu_metric::POWER));
            let tensor = d.points(&gpu_series(&key, gpu_metric::TENSOR_ACTIVE));
            let step = d.window.bucket_ms.max(interval_ms);
            let lanes: Vec<ClockLane> = CLOCK_EVENT_REASONS
                .iter()
                .filter_map(|&(bit, reason, label)| {
                    let held = d.points(&clock_event_series(&key, reason));
                    let spans = gpu_depth::held_spans(&held, 2 * step, step);
                    (!spans.is_empty()).then(|| ClockLane {
                        label,
                        color: tone_color(gpu_depth::reason_tone(bit)),
                        spans,
                    })
                })
                .collect();
            let window = d.window;
            let markers: Vec<(Millis, String)> = xids
                .iter()
                .map(|x| (x.at.timestamp_millis(), format!("XID {}", x.code)))
                .filter(|(at, _)| (window.start_ms..=window.end_ms).contains(at))
                .collect();
            let mut percents = vec![
                LineSeries {
                    name: "GPU",
                    points: &util,
                },
                LineSeries {
                    name: "Memory bus",
                    points: &mem,
                },
            ];
            // Only GPUs with profiling counters (GPM) have a tensor lane.
            if !tensor.is_empty() {
                percents.push(LineSeries {
                    name: "Tensor cores",
                    points: &tensor,
                });
            }
            let chart = utilization_chart(
                d.window,
                &percents,
                &[LineSeries {
                    name: "Temperature",
                    points: &temp,
                }],
                limit.map(|limit_watts| PowerLine {
                    points: &power,
                    limit_watts,
                }),
            );
            // Redrawn when a job starts or ends, not with each of its messages.
            jobs.marks.track();
            let job_marks = jobs
                .view
                .with_untracked(|view| jobs::gpu_marks(&view.list, &uuid, window));
            let chart = with_markers(chart, "Jobs", JOB_COLOR, &job_marks);
            with_markers(
                with_clock_events(chart, &lanes),
                "XID errors",
                XID_COLOR,
                &markers,
            )
        });
        with_alert_spans(chart, &spans)
    });
    view! {
        <section class="card gpu" data-testid="gpu-card">
            <GpuFacts gpu />
            <GpuDetail index gpu energy_in_range />
            <EChart id=format!("chart-gpu-{index}") chart on_select=zoom />
            <div class="gpu-process-list" id=processes_id(index)></div>
        </section>
    }
}

fn optional<T: std::fmt::Display>(value: Option<T>, unit: &str) -> String {
    value
        .map(|v| format!("{v}{unit}"))
        .unwrap_or_else(|| "n/a".into())
}

/// The marks of XID errors, and of the starts and ends of jobs.
const XID_COLOR: &str = "#dc2626";
const JOB_COLOR: &str = "#2563eb";

/// A lane's colour by how its reason reads.
fn tone_color(tone: Tone) -> &'static str {
    match tone {
        Tone::Plain => "#94a3b8",
        Tone::Warn => "#d97706",
        Tone::Bad => "#dc2626",
    }
}

/// The GPU's facts. Each value is its own text node, updated in place: the block is not rebuilt
/// every sample, so a person can select and copy from it.
#[component]
fn GpuFacts(gpu: Memo<Option<GpuMetrics>>) -> impl IntoView {
    let fact = move |read: fn(&GpuMetrics) -> String| {
        move || gpu.with(|g| g.as_ref().map(read).unwrap_or_default())
    };
    let title = fact(|g| format!("GPU {} · {}", g.index, g.name));
    // Idle, busy, idle-held or unavailable at a glance: what /api/system/gpus reports too.
    let occupancy = move || gpu.with(|g| g.as_ref().map(|g| g.occupancy().label()));
    // An idle-held GPU says by whom and for how long instead.
    let now_ms = expect_context::<Live>().now_ms;
    let badge = move || {
        gpu.with(|g| {
            let g = g.as_ref()?;
            Some(match &g.idle_held {
                Some(held) => {
                    let now = now_ms
                        .get()
                        .map_or(held.since.timestamp_millis(), |n| n as i64);
                    format::idle_held(held, now)
                }
                None => g.occupancy().label().to_owned(),
            })
        })
    };
    let error = move || gpu.with(|g| g.as_ref().and_then(|g| g.error.clone()));
    view! {
        <h2>
            {title}
            <span class="badge occupancy" data-testid="gpu-occupancy" data-occupancy=occupancy>
                {badge}
            </span>
        </h2>
        {move || error().map(|e| view! { <p class="error">{e}</p> })}
        <dl class="facts" data-testid="gpu-facts">
            <dt>"Utilization"</dt><dd data-testid="gpu-util">{fact(|g| optional(g.utilization_percent, " %"))}</dd>
            <dt>"Memory"</dt><dd>{fact(|g| match (g.memory_used_bytes, g.memory_total_bytes) {
                (Some(u), Some(t)) => format!("{} / {}", format::gib(u), format::gib(t)),
                _ => "n/a".into(),
            })}</dd>
            <dt>"Temperature"</dt><dd>{fact(|g| optional(g.temperature_celsius, " °C"))}</dd>
            <dt>"Power"</dt><dd>{fact(|g| match (g.power_watts, g.power_limit_watts) {
                (Some(p), Some(l)) => format!("{p:.0} / {l:.0} W"),
                (Some(p), None) => format!("{p:.0} W"),
                _ => "n/a".into(),
            })}</dd>
            <dt>"Fan"</dt><dd>{fact(|g| optional(g.fan_percent, " %"))}</dd>
            <dt>"Clocks"</dt><dd>{fact(|g| format!("SM {} · mem {}", optional(g.sm_clock_mhz, " MHz"), optional(g.memory_clock_mhz, " MHz")))}</dd>
        </dl>
    }
}
