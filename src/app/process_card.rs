//! The process table card: closed, it costs nothing (the server scans only while a table is
//! open); open, the busiest processes, sortable, filterable, groupable by name, each row
//! expandable to its recent CPU and memory.

use super::live::Live;
use super::processes::{Change, TableChoices};
use leptos::prelude::*;

/// Where the page remembers whether the table was left open.
const OPEN_KEY: &str = "vitals.processes.open";

/// The element the table is drawn into.
const HOLDER_ID: &str = "process-table";
/// What the card says while it is closed (also the server's rendering).
const CLOSED_HINT: &str =
    "Open to see which processes use the CPU, memory, disks and GPUs (scanned only while open).";

#[component]
pub fn ProcessCard() -> impl IntoView {
    let live = expect_context::<Live>();
    let open = live.processes_wanted;
    let choices = RwSignal::new(TableChoices::default());
    let choose = move |change: Change| choices.update(|c| c.apply(change));
    // Everything that changes is drawn straight into the DOM by this one effect (see `table`):
    // a table of tens of rows redrawn every scan costs the page far less code that way than as
    // typed views.
    Effect::new(move |first: Option<()>| {
        // The server renders it closed; the browser reopens it if it was left open.
        if first.is_none() && storage::get(OPEN_KEY).as_deref() == Some("1") {
            open.set(true);
        }
        let open = open.get();
        let choices = choices.get();
        live.processes.with(|view| {
            let list = view.list.as_ref().filter(|_| open);
            table::draw(open, list, &choices, &view.trails)
        })
    });
    let toggle = move |_| {
        let now_open = !open.get_untracked();
        open.set(now_open);
        storage::set(OPEN_KEY, if now_open { "1" } else { "0" });
    };
    // One listener for the whole table: a heading sorts, a row opens or closes.
    let clicked = move |event: leptos::ev::MouseEvent| {
        if let Some(change) = table::clicked(&event) {
            choose(change)
        }
    };
    view! {
        <section class="card process-card" data-testid="process-card">
            <h2>
                <button class="toggle" id="process-toggle" data-testid="process-toggle" on:click=toggle
                    aria-expanded="false">"▸ Processes"</button>
            </h2>
            <p class="details" id="process-summary" data-testid="process-summary">{CLOSED_HINT}</p>
            <div class="process-controls" id="process-controls" hidden>
                <input type="search" placeholder="Filter by name, user or command" data-testid="process-filter"
                    aria-label="Filter processes"
                    on:input=move |e| choose(Change::Filter(event_target_value(&e))) />
                <label>
                    <input type="checkbox" data-testid="process-group"
                        on:change=move |e| choose(Change::Grouped(event_target_checked(&e))) />
                    " Group by name"
                </label>
            </div>
            <div class="process-scroll" id=HOLDER_ID data-testid="process-table" on:click=clicked></div>
        </section>
    }
}

/// Drawing the table with the DOM's own calls, and reading clicks on it.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod table {
    #[cfg(feature = "hydrate")]
    use crate::app::dom::Dom;
    #[cfg(feature = "hydrate")]
    use crate::app::processes::{COLUMNS, Column, Trail, cell, lines, sparkline};
    use crate::app::processes::{Change, TableChoices, Trails};
    use crate::wire::ProcessList;
    #[cfg(feature = "hydrate")]
    use crate::wire::ProcessRow;

    #[cfg(feature = "hydrate")]
    pub fn clicked(event: &leptos::ev::MouseEvent) -> Option<Change> {
        use wasm_bindgen::JsCast;
        let target: web_sys::Element = event.target()?.dyn_into().ok()?;
        if let Some(button) = target.closest("[data-column]").ok().flatten() {
            let name = button.get_attribute("data-column")?;
            let column = COLUMNS.iter().find(|(_, heading, _)| *heading == name)?.0;
            return Some(Change::Sort(column));
        }
        let row = target.closest("tr[data-key]").ok().flatten()?;
        Some(Change::Expand(row.get_attribute("data-key")?))
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn clicked(_: &leptos::ev::MouseEvent) -> Option<Change> {
        None
    }

    #[cfg(feature = "hydrate")]
    pub fn draw(open: bool, list: Option<&ProcessList>, choices: &TableChoices, trails: &Trails) {
        let Some(dom) = Dom::of_window() else {
            return;
        };
        let by_id = |id: &str| dom.0.get_element_by_id(id);
        let (Some(holder), Some(toggle), Some(summary), Some(controls)) = (
            by_id(super::HOLDER_ID),
            by_id("process-toggle"),
            by_id("process-summary"),
            by_id("process-controls"),
        ) else {
            return;
        };
        toggle.set_text_content(Some(if open {
            "▾ Processes"
        } else {
            "▸ Processes"
        }));
        let _ = toggle.set_attribute("aria-expanded", if open { "true" } else { "false" });
        let _ = if open {
            controls.remove_attribute("hidden")
        } else {
            controls.set_attribute("hidden", "")
        };
        let summary_text = match (open, list) {
            (false, _) => super::CLOSED_HINT.to_owned(),
            (true, None) => "Scanning…".to_owned(),
            (true, Some(l)) => format!(
                "{} busiest of {} processes, every {} s",
                l.processes.len(),
                l.total,
                l.period_seconds
            ),
        };
        summary.set_text_content(Some(&summary_text));
        let Some(list) = list else {
            holder.set_text_content(None);
            return;
        };
        let sort = choices.sort;
        let expanded = choices.expanded.as_deref();
        let lines = lines(list, &choices.filter, choices.grouped, sort);
        let table = dom.element("table", "processes process-table");
        let head = dom.child(&table, "thead", "");
        let heading_row = dom.child(&head, "tr", "");
        for (column, name, narrow) in COLUMNS {
            let th = dom.child(&heading_row, "th", if narrow { "" } else { "wide" });
            let order = match (sort.column == column, sort.descending) {
                (false, _) => ("none", ""),
                (true, true) => ("descending", " ▾"),
                (true, false) => ("ascending", " ▴"),
            };
            let _ = th.set_attribute("aria-sort", order.0);
            let button = dom.child(&th, "button", "");
            let _ = button.set_attribute("data-column", name);
            button.set_text_content(Some(&format!("{name}{}", order.1)));
        }
        let body = dom.child(&table, "tbody", "");
        let now_ms = list.timestamp.timestamp_millis();
        for line in &lines {
            let key = line.key();
            let open = expanded == Some(key.as_str());
            let row = dom.row(
                &body,
                &line.row,
                line.count,
                now_ms,
                if open { "process open" } else { "process" },
            );
            let _ = row.set_attribute("data-testid", "process-row");
            let _ = row.set_attribute("data-key", &key);
            if !open {
                continue;
            }
            if line.count > 1 {
                for member in list
                    .processes
                    .iter()
                    .filter(|p| line.members.contains(&p.pid))
                {
                    dom.row(&body, member, 1, now_ms, "member");
                }
            } else if let Some(trail) = trails.of(&line.row) {
                dom.trail(&body, trail);
            }
        }
        holder.replace_children_with_node_1(&table);
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn draw(_: bool, _: Option<&ProcessList>, _: &TableChoices, _: &Trails) {}

    #[cfg(feature = "hydrate")]
    impl Dom {
        /// A row of cells; text content only, so a process's name is never read as HTML.
        fn row(
            &self,
            body: &web_sys::Element,
            process: &ProcessRow,
            count: usize,
            now_ms: i64,
            class: &str,
        ) -> web_sys::Element {
            let row = self.child(body, "tr", class);
            let _ = row.set_attribute("data-pid", &process.pid.to_string());
            for (column, _, narrow) in COLUMNS {
                let text_column = matches!(column, Column::Name | Column::User);
                let class = match (narrow, text_column) {
                    (true, true) => "",
                    (true, false) => "num",
                    (false, true) => "wide",
                    (false, false) => "wide num",
                };
                let td = self.child(&row, "td", class);
                let text = cell(process, column, count, now_ms);
                if column == Column::Name {
                    // Long names are cut on narrow screens: the whole name (or the command
                    // line, when shown) is a hover away.
                    let title = process.command_line.as_deref().unwrap_or(&text);
                    let _ = td.set_attribute("title", title);
                }
                td.set_text_content(Some(&text));
            }
            row
        }

        /// The expanded row: CPU and memory over the last minutes, as two lines.
        fn trail(&self, body: &web_sys::Element, trail: &Trail) {
            const SVG: &str = "http://www.w3.org/2000/svg";
            const WIDTH: f64 = 300.0;
            const HEIGHT: f64 = 40.0;
            let row = self.child(body, "tr", "trail");
            let _ = row.set_attribute("data-testid", "process-trail");
            let td = self.child(&row, "td", "");
            let _ = td.set_attribute("colspan", &COLUMNS.len().to_string());
            let Ok(svg) = self.0.create_element_ns(Some(SVG), "svg") else {
                return;
            };
            let _ = svg.set_attribute("class", "sparkline");
            let _ = svg.set_attribute("viewBox", &format!("0 0 {WIDTH} {HEIGHT}"));
            let _ = svg.set_attribute("preserveAspectRatio", "none");
            let _ = svg.set_attribute("role", "img");
            let _ = svg.set_attribute("aria-label", "CPU and memory over the last minutes");
            let cpu_top = trail.iter().map(|p| f64::from(p.1)).fold(100.0, f64::max);
            let memory_top = trail.iter().map(|p| f64::from(p.2)).fold(1.0, f64::max) * 1.25;
            let cpu: Vec<(i64, f32)> = trail.iter().map(|p| (p.0, p.1)).collect();
            let memory: Vec<(i64, f32)> = trail.iter().map(|p| (p.0, p.2)).collect();
            let lines = [
                ("cpu", sparkline(&cpu, WIDTH, HEIGHT, cpu_top)),
                ("memory", sparkline(&memory, WIDTH, HEIGHT, memory_top)),
            ];
            for (class, points) in lines {
                if let Ok(line) = self.0.create_element_ns(Some(SVG), "polyline") {
                    let _ = line.set_attribute("class", class);
                    let _ = line.set_attribute("points", &points);
                    let _ = svg.append_child(&line);
                }
            }
            let _ = td.append_child(&svg);
            let last = trail.back().copied().unwrap_or_default();
            let minutes = match (trail.front(), trail.back()) {
                (Some(first), Some(last)) => (last.0 - first.0) / 60_000,
                _ => 0,
            };
            let caption = self.child(&td, "p", "details");
            caption.set_text_content(Some(&format!(
                "CPU {:.1} % · memory {:.1} % of RAM · over the last {} min",
                last.1,
                last.2,
                minutes.max(1)
            )));
        }
    }
}

mod storage {
    #[cfg(feature = "hydrate")]
    fn local() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    pub fn get(key: &str) -> Option<String> {
        #[cfg(feature = "hydrate")]
        return local()?.get_item(key).ok().flatten();
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = key;
            None
        }
    }

    pub fn set(key: &str, value: &str) {
        #[cfg(feature = "hydrate")]
        if let Some(storage) = local() {
            let _ = storage.set_item(key, value);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (key, value);
    }
}
