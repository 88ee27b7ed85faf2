//! A GPU card's detail — its clock event badges, the lines of `gpu_depth::facts` and its process
//! list — drawn with the DOM's own calls, as the process table is. Each line and row is kept and
//! only the text that changed is written, so a selection survives the updates, and the page
//! carries far less code than typed views of the same would cost.

use crate::wire::GpuMetrics;
use leptos::prelude::*;

fn depth_id(index: u32) -> String {
    format!("gpu-depth-{index}")
}

/// Where the card puts its process list (below its chart).
pub fn processes_id(index: u32) -> String {
    format!("gpu-processes-{index}")
}

#[component]
pub fn GpuDetail(
    index: u32,
    gpu: Memo<Option<GpuMetrics>>,
    energy_in_range: Memo<Option<f64>>,
) -> impl IntoView {
    Effect::new(move |_| {
        let energy = energy_in_range.get();
        gpu.with(|gpu| {
            if let Some(gpu) = gpu {
                drawing::draw(index, gpu, energy);
            }
        });
    });
    view! { <dl class="facts depth" id=depth_id(index) data-testid="gpu-depth"></dl> }
}

#[cfg(not(feature = "hydrate"))]
mod drawing {
    pub fn draw(_: u32, _: &crate::wire::GpuMetrics, _: Option<f64>) {}
}

#[cfg(feature = "hydrate")]
mod drawing {
    use crate::app::dom::{Dom, children, set_text};
    use crate::app::gpu_depth::{self, Fact};
    use crate::wire::{GpuMetrics, GpuProcess};
    use web_sys::Element;

    pub fn draw(index: u32, gpu: &GpuMetrics, energy_in_range: Option<f64>) {
        let Some(dom) = Dom::of_window() else {
            return;
        };
        if let Some(list) = dom.0.get_element_by_id(&super::depth_id(index)) {
            dom.badges(&list, gpu.clocks_throttle_reasons);
            dom.facts(&list, &gpu_depth::facts(gpu, energy_in_range));
        }
        if let Some(holder) = dom.0.get_element_by_id(&super::processes_id(index)) {
            dom.processes(&holder, &gpu.processes);
        }
    }

    impl Dom {
        /// The first line: the clock event reasons that hold, as badges, redrawn when they change.
        fn badges(&self, list: &Element, reasons: Option<u64>) {
            let holder = match list
                .query_selector("[data-testid=gpu-clock-events]")
                .ok()
                .flatten()
            {
                Some(holder) => holder,
                None => {
                    set_text(&self.child(list, "dt", ""), "Clock events");
                    let holder = self.child(list, "dd", "");
                    let _ = holder.set_attribute("data-testid", "gpu-clock-events");
                    holder
                }
            };
            let bits = reasons.map_or_else(|| "none".to_owned(), |r| r.to_string());
            if holder.get_attribute("data-bits").as_deref() == Some(bits.as_str()) {
                return;
            }
            let _ = holder.set_attribute("data-bits", &bits);
            holder.set_text_content(None);
            match reasons.map(gpu_depth::held_reasons) {
                None => holder.set_text_content(Some("n/a")),
                Some(held) if held.is_empty() => holder.set_text_content(Some("none")),
                Some(held) => {
                    for (reason, label, tone) in held {
                        let class = format!("badge clock-event {}", tone.class());
                        let badge = self.child(&holder, "span", &class);
                        let _ = badge.set_attribute("data-reason", reason);
                        badge.set_text_content(Some(label));
                    }
                }
            }
        }

        /// One `dt`/`dd` pair per fact, kept by its label and in the facts' order; lines no
        /// longer reported go.
        fn facts(&self, list: &Element, facts: &[Fact]) {
            let find = |label: &str| {
                list.query_selector(&format!("dd[data-fact=\"{label}\"]"))
                    .ok()
                    .flatten()
            };
            for (position, fact) in facts.iter().enumerate() {
                let value = match find(fact.label) {
                    Some(value) => value,
                    None => {
                        // Before the line of the next fact already shown, else at the end.
                        let next = facts[position + 1..]
                            .iter()
                            .find_map(|later| find(later.label))
                            .and_then(|dd| dd.previous_element_sibling());
                        let (term, value) = (self.element("dt", ""), self.element("dd", ""));
                        set_text(&term, fact.label);
                        let _ = value.set_attribute("data-fact", fact.label);
                        let _ = list.insert_before(&term, next.as_deref());
                        let _ = list.insert_before(&value, next.as_deref());
                        value
                    }
                };
                set_text(&value, &fact.value);
                if value.class_name() != fact.tone.class() {
                    value.set_class_name(fact.tone.class());
                }
            }
            for value in children(list).collect::<Vec<_>>() {
                let Some(label) = value.get_attribute("data-fact") else {
                    continue;
                };
                if !facts.iter().any(|f| f.label == label) {
                    if let Some(term) = value.previous_element_sibling() {
                        term.remove();
                    }
                    value.remove();
                }
            }
        }

        /// The process list: one row per pid, kept while the process is, its cells rewritten
        /// only where they changed; the table is rebuilt only when its columns change.
        fn processes(&self, holder: &Element, processes: &[GpuProcess]) {
            if processes.is_empty() {
                if holder.get_attribute("data-shows").as_deref() != Some("none") {
                    holder.set_text_content(None);
                    let note = self.child(holder, "p", "details");
                    note.set_text_content(Some("No processes on this GPU."));
                    let _ = holder.set_attribute("data-shows", "none");
                }
                return;
            }
            let show_command = processes.iter().any(|p| p.command_line.is_some());
            let columns = gpu_depth::process_columns(show_command);
            let layout = columns.len().to_string();
            if holder.get_attribute("data-shows").as_deref() != Some(layout.as_str()) {
                holder.set_text_content(None);
                let table = self.child(holder, "table", "processes");
                let _ = table.set_attribute("data-testid", "gpu-processes");
                let heading = self.child(&self.child(&table, "thead", ""), "tr", "");
                for (key, name) in columns {
                    let cell = self.child(&heading, "th", "");
                    let _ = cell.set_attribute("data-col", key);
                    cell.set_text_content(Some(name));
                }
                self.child(&table, "tbody", "");
                let _ = holder.set_attribute("data-shows", &layout);
            }
            let Some(body) = holder.query_selector("tbody").ok().flatten() else {
                return;
            };
            for process in processes {
                let pid = process.pid.to_string();
                let selector = format!("tr[data-pid=\"{pid}\"]");
                let row = match body.query_selector(&selector).ok().flatten() {
                    Some(row) => row,
                    None => {
                        let row = self.element("tr", "");
                        let _ = body.append_child(&row);
                        let _ = row.set_attribute("data-pid", &pid);
                        for (key, _) in columns {
                            let cell =
                                self.child(&row, "td", if *key == "cmd" { "cmd" } else { "" });
                            let _ = cell.set_attribute("data-col", key);
                        }
                        row
                    }
                };
                // Text only: process names and command lines are never read as HTML.
                let cells = gpu_depth::process_cells(process, show_command);
                for (cell, text) in children(&row).zip(&cells) {
                    set_text(&cell, text);
                }
            }
            for row in children(&body).collect::<Vec<_>>() {
                let gone = row
                    .get_attribute("data-pid")
                    .is_none_or(|pid| !processes.iter().any(|p| p.pid.to_string() == pid));
                if gone {
                    row.remove();
                }
            }
        }
    }
}
