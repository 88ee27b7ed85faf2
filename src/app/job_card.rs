//! The jobs card: each job a row (running first, then recent) with its status, duration, last
//! values and GPUs, drawn with the DOM's own calls as the process table is; choosing a row draws
//! that job's numeric fields on a chart that shares the time axis and the zoom of the others,
//! with its run report beneath (drawn by the server, `/jobs/report/panel`, and asked again while
//! the job runs).

use super::chart_view::EChart;
use super::charts::{LineSeries, job_chart};
use super::jobs::{Jobs, drawn_fields, name_of};
use super::live::Live;
use super::timeline::{DrawFrame, Timeline};
use crate::shared::store::Millis;
use leptos::prelude::*;

const LIST_ID: &str = "jobs-list";
/// How often a chosen job's report is asked again: a running job's grows.
#[cfg(feature = "hydrate")]
const REPORT_REFRESH_MS: u32 = 10_000;

#[component]
pub fn JobsCard(frame: Memo<DrawFrame>, zoom: Callback<(Millis, Millis)>) -> impl IntoView {
    let live = expect_context::<Live>();
    let timeline = expect_context::<Timeline>();
    let Jobs { view: jobs, .. } = expect_context::<Jobs>();
    // Redrawn when the jobs change, and each second for the running durations.
    Effect::new(move |_| {
        let now_ms = live.now_ms.get().map_or(0, |now| now as Millis);
        let gpus = live.store.with_untracked(|s| {
            let indices = s.gpus.values().map(|g| (g.uuid.clone(), g.index));
            indices.collect::<Vec<_>>()
        });
        jobs.with(|view| rows::draw(&view.list, view.chosen.as_deref(), now_ms, &gpus));
    });
    let chart = Signal::derive(move || {
        let span = frame.get().span;
        jobs.with(|view| {
            timeline.draw(span, |d| {
                let drawn = view
                    .fields
                    .as_ref()
                    .map(|f| drawn_fields(f, d.window))
                    .unwrap_or_default();
                let lines: Vec<LineSeries> = drawn
                    .iter()
                    .map(|(name, points)| LineSeries { name, points })
                    .collect();
                job_chart(d.window, &lines)
            })
        })
    });
    let chosen_name =
        move || jobs.with(|view| view.chosen_job().map(|job| name_of(job).to_owned()));
    let report = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let chosen = Memo::new(move |_| jobs.with(|view| view.chosen.clone()));
        Effect::new(move |_| {
            let Some(channel) = chosen.get() else { return };
            if let Some(slot) = report.get_untracked() {
                slot.set_inner_html("");
            }
            leptos::task::spawn_local(async move {
                let url = format!("/jobs/report/panel?channel={channel}");
                // Until another job is chosen (or none): a running job's report grows.
                while chosen.get_untracked().as_deref() == Some(channel.as_str()) {
                    if let Some(slot) = report.get_untracked() {
                        crate::app::server_html::fill(&slot, &url).await;
                    }
                    gloo_timers::future::TimeoutFuture::new(REPORT_REFRESH_MS).await;
                }
            });
        });
    }
    let clicked = move |event: leptos::ev::MouseEvent| {
        if let Some(channel) = rows::clicked(&event) {
            jobs.update(|view| view.toggle(channel));
        }
    };
    view! {
        <section class="card jobs-card" data-testid="jobs-card" hidden=move || jobs.with(|view| view.list.is_empty())>
            <h2>"Jobs"</h2>
            <ul class="jobs" id=LIST_ID data-testid="jobs-list" on:click=clicked></ul>
            // Mounted once and hidden while no job is chosen (a hidden chart is not drawn).
            <div class="job-chart" hidden=move || chosen_name().is_none()>
                <h3 data-testid="job-chart-title">{chosen_name}</h3>
                <EChart id="chart-job".into() chart on_select=zoom />
                <div class="job-report" node_ref=report data-testid="job-report"></div>
            </div>
        </section>
    }
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod rows {
    #[cfg(feature = "hydrate")]
    use crate::app::dom::{Dom, children, set_text};
    #[cfg(feature = "hydrate")]
    use crate::app::jobs::{SHOWN_JOBS, duration, name_of, status_label, values};
    use crate::shared::store::Millis;
    use crate::wire::Job;

    /// The channel of the row clicked, if any.
    #[cfg(feature = "hydrate")]
    pub fn clicked(event: &leptos::ev::MouseEvent) -> Option<String> {
        use wasm_bindgen::JsCast;
        let target: web_sys::Element = event.target()?.dyn_into().ok()?;
        let row = target.closest("li[data-channel]").ok().flatten()?;
        row.get_attribute("data-channel")
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn clicked(_: &leptos::ev::MouseEvent) -> Option<String> {
        None
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn draw(_: &[Job], _: Option<&str>, _: Millis, _: &[(String, u32)]) {}

    /// One row per shown job, kept and rewritten only where its text changed.
    #[cfg(feature = "hydrate")]
    pub fn draw(jobs: &[Job], chosen: Option<&str>, now_ms: Millis, gpus: &[(String, u32)]) {
        let Some(dom) = Dom::of_window() else {
            return;
        };
        let Some(list) = dom.0.get_element_by_id(super::LIST_ID) else {
            return;
        };
        let shown = &jobs[..jobs.len().min(SHOWN_JOBS)];
        let mut rows: Vec<_> = children(&list).collect();
        while rows.len() > shown.len() {
            if let Some(row) = rows.pop() {
                row.remove();
            }
        }
        while rows.len() < shown.len() {
            let row = dom.child(&list, "li", "job");
            for class in ["badge status", "name", "duration", "values", "gpus"] {
                dom.child(&row, "span", class);
            }
            rows.push(row);
        }
        for (row, job) in rows.iter().zip(shown) {
            let status = status_label(job.status);
            let _ = row.set_attribute("data-channel", &job.channel);
            let _ = row.set_attribute("data-status", status);
            let _ = row.set_attribute(
                "aria-selected",
                if chosen == Some(job.channel.as_str()) {
                    "true"
                } else {
                    "false"
                },
            );
            let title = [job.command.as_deref(), job.message.as_deref()];
            let _ = row.set_attribute(
                "title",
                &title.into_iter().flatten().collect::<Vec<_>>().join("\n"),
            );
            let on_gpus: Vec<String> = job
                .gpus
                .iter()
                .map(|uuid| match gpus.iter().find(|(u, _)| u == uuid) {
                    Some((_, index)) => format!("GPU {index}"),
                    None => uuid.clone(),
                })
                .collect();
            let texts = [
                status.to_owned(),
                name_of(job).to_owned(),
                duration(job, now_ms),
                values(job),
                on_gpus.join(", "),
            ];
            for (cell, text) in children(row).zip(texts) {
                set_text(&cell, &text);
            }
        }
    }
}
