//! What the time charts show and when they redraw: the last minutes from the browser store, a
//! longer range read from the server's database with its newest edge from the store, or a span
//! a person dragged across a chart to zoom into.

use super::charts::TimeWindow;
use super::live::Live;
use super::stored::StoredSpan;
use crate::shared::store::{MetricsStore, Millis, display_bucket_ms, downsample_max};
use crate::wire::Persistence;
use leptos::prelude::*;

/// Time ranges a person can pick, in minutes: those the browser store holds (an hour) are drawn
/// from it, longer ones are read from the server's database.
pub const RANGES_MINUTES: [i64; 7] = [5, 15, 60, 360, 1440, 10_080, 43_200];

/// Points drawn per series: enough for a wide chart (peaks kept). More would cost the browser
/// work on every redraw and show nothing more.
pub const DRAWN_POINTS: usize = 240;

/// The shortest span a drag zooms into; a shorter drag is taken for a click.
pub const MIN_ZOOM_MS: Millis = 10_000;

/// "5 min", "24 h", "7 d".
pub fn range_label(minutes: i64) -> String {
    if minutes >= 2 * 1440 && minutes % 1440 == 0 {
        format!("{} d", minutes / 1440)
    } else if minutes % 60 == 0 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

/// The span of time the charts show.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Span {
    /// The last `range_ms`, from the browser store.
    Recent(Millis),
    /// The last `range_ms`, from the database, its newest edge from the store.
    RecentStored(Millis),
    /// A fixed span a person zoomed into.
    Zoomed { from: Millis, to: Millis },
}

/// The dashboard's time state, shared by the controls and every time chart.
#[derive(Clone, Copy)]
pub struct Timeline {
    live: Live,
    pub range_ms: RwSignal<Millis>,
    pub zoom: RwSignal<Option<(Millis, Millis)>>,
    /// The span read from the database for what is shown; None for the ranges the store holds.
    pub stored: RwSignal<Option<StoredSpan>>,
    /// Why the span could not be read.
    pub problem: RwSignal<Option<String>>,
    /// The latest frame and the newest sample when it began: a chart that redraws within a
    /// frame for its own reasons (a job's fields, a mark) spans the same window as the others.
    shown: StoredValue<Option<(DrawFrame, Option<Millis>)>>,
}

impl Timeline {
    /// The dashboard's timeline; in the browser it also reads spans from the server as needed.
    pub fn new(live: Live, range_ms: Millis) -> Timeline {
        let timeline = Timeline {
            live,
            range_ms: RwSignal::new(range_ms),
            zoom: RwSignal::new(None),
            stored: RwSignal::new(None),
            problem: RwSignal::new(None),
            shown: StoredValue::new(None),
        };
        #[cfg(feature = "hydrate")]
        timeline.read_spans();
        timeline
    }

    pub fn span(&self) -> Span {
        let range_ms = self.range_ms.get();
        match self.zoom.get() {
            Some((from, to)) => Span::Zoomed { from, to },
            None if range_ms > self.live.store.with_untracked(|s| s.window_ms) => {
                Span::RecentStored(range_ms)
            }
            None => Span::Recent(range_ms),
        }
    }

    /// Whether the server keeps history on disk (not with --no-persist).
    pub fn kept(&self) -> bool {
        self.live
            .hello
            .with(|h| h.as_ref().is_some_and(|h| h.persistence.is_some()))
    }

    /// Whether history is being saved, and if not why: the newest word on it (from the hello,
    /// a change the server announced, or a range answer).
    pub fn persistence(&self) -> Option<Persistence> {
        self.live.hello.with(|h| h.as_ref()?.persistence.clone())
    }

    pub fn select_range(&self, range_ms: Millis) {
        self.zoom.set(None);
        self.range_ms.set(range_ms);
    }

    /// Zooms every time chart into `from..to`; a span shorter than `MIN_ZOOM_MS` is ignored.
    pub fn zoom_to(&self, from: Millis, to: Millis) {
        let (from, to) = (from.min(to), from.max(to));
        if to - from >= MIN_ZOOM_MS {
            self.zoom.set(Some((from, to)));
        }
    }

    pub fn reset_zoom(&self) {
        self.zoom.set(None);
    }

    /// When the time charts redraw (tracked).
    pub fn frame(&self) -> DrawFrame {
        let span = self.span();
        let stored = self
            .stored
            .with(|s| s.as_ref().map(|s| (s.from, s.to, s.through)));
        let (frame, newest) = self
            .live
            .store
            .with(|store| (DrawFrame::of(store, span, stored), store.last_message_ms));
        self.shown.update_value(|shown| {
            if shown.is_none_or(|(before, _)| before != frame) {
                *shown = Some((frame, newest));
            }
        });
        frame
    }

    /// Runs `draw` over what the charts show for `span`, without tracking.
    pub fn draw<T>(&self, span: Span, draw: impl FnOnce(&Drawing) -> T) -> T {
        self.live.store.with_untracked(|store| {
            self.stored.with_untracked(|stored| {
                let newest = self
                    .shown
                    .get_value()
                    .filter(|(frame, _)| frame.span == span)
                    .map_or(store.last_message_ms, |(_, newest)| newest);
                draw(&Drawing::at(store, stored.as_ref(), span, newest))
            })
        })
    }

    /// The span to read from the database now, if any (tracked).
    #[cfg(feature = "hydrate")]
    fn wanted(&self) -> Option<(Millis, Millis)> {
        if !self.kept() {
            return None;
        }
        let span = self.span();
        let newest = self
            .live
            .store
            .with(|s| s.last_message_ms)
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        span_to_read(span, newest)
    }

    /// Reads the wanted span whenever it changes; an answer that arrives after the span changed
    /// again is dropped.
    #[cfg(feature = "hydrate")]
    fn read_spans(self) {
        let wanted = Memo::new(move |_| self.wanted());
        Effect::new(move |_| {
            let Some((from, to)) = wanted.get() else {
                self.stored.set(None);
                self.problem.set(None);
                return;
            };
            leptos::task::spawn_local(async move {
                let answer = super::stored::fetch(from, to, DRAWN_POINTS).await;
                if wanted.get_untracked() != Some((from, to)) {
                    return;
                }
                match answer {
                    Ok(answer) => {
                        if let Some(persistence) = answer.persistence.clone() {
                            self.live.hello.update(|hello| {
                                if let Some(hello) = hello {
                                    hello.persistence = Some(persistence);
                                }
                            });
                        }
                        self.stored.set(Some(StoredSpan::of(&answer)));
                        self.problem.set(None);
                    }
                    Err(problem) => self.problem.set(Some(problem)),
                }
            });
        });
    }
}

/// The span to read from the database for `span`: a zoom as it is; a long range up to a little
/// past the newest sample, moving on by one drawn point at a time (the store draws the newest
/// edge in between); nothing for the ranges the store holds.
pub fn span_to_read(span: Span, newest: Millis) -> Option<(Millis, Millis)> {
    match span {
        Span::Recent(_) => None,
        Span::Zoomed { from, to } => Some((from, to)),
        Span::RecentStored(range_ms) => {
            let refresh_ms = display_bucket_ms(range_ms, DRAWN_POINTS);
            let to = (newest.div_euclid(refresh_ms) + 1) * refresh_ms;
            Some((to - range_ms - refresh_ms, to))
        }
    }
}

/// When the time charts redraw: on a new span; for the recent ranges when the newest sample
/// starts a new drawn point (within one a chart moves by less than a pixel); for a long range on
/// every sample, which moves its newest point; when history changed under them (a seed, a
/// backfill) and when a span arrives from the database.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrawFrame {
    pub span: Span,
    bucket: Option<Millis>,
    history_revision: u64,
    stored: Option<(Millis, Millis, Option<Millis>)>,
}

impl DrawFrame {
    pub fn of(
        store: &MetricsStore,
        span: Span,
        stored: Option<(Millis, Millis, Option<Millis>)>,
    ) -> DrawFrame {
        let bucket = match span {
            Span::Recent(range_ms) => {
                let bucket_ms = display_bucket_ms(range_ms, DRAWN_POINTS);
                store.last_message_ms.map(|t| t.div_euclid(bucket_ms))
            }
            Span::RecentStored(_) => store.last_message_ms,
            Span::Zoomed { .. } => None,
        };
        DrawFrame {
            span,
            bucket,
            history_revision: store.history_revision,
            stored,
        }
    }
}

/// What one redraw reads: the store, the span from the database, and the window they fill.
pub struct Drawing<'a> {
    store: &'a MetricsStore,
    stored: Option<&'a StoredSpan>,
    span: Span,
    pub window: TimeWindow,
}

impl<'a> Drawing<'a> {
    pub fn new(store: &'a MetricsStore, stored: Option<&'a StoredSpan>, span: Span) -> Self {
        Self::at(store, stored, span, store.last_message_ms)
    }

    /// The drawing of a window that ends at `newest` (the store's newest sample when its frame
    /// began), whatever the store received since.
    pub fn at(
        store: &'a MetricsStore,
        stored: Option<&'a StoredSpan>,
        span: Span,
        newest: Option<Millis>,
    ) -> Self {
        let newest = newest.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let (start_ms, end_ms) = match span {
            Span::Recent(range_ms) | Span::RecentStored(range_ms) => (newest - range_ms, newest),
            Span::Zoomed { from, to } => (from, to),
        };
        let bucket_ms = match (span, stored) {
            (Span::Recent(_), _) | (_, None) => display_bucket_ms(end_ms - start_ms, DRAWN_POINTS),
            (_, Some(stored)) => stored.bucket_ms,
        };
        Drawing {
            store,
            stored,
            span,
            window: TimeWindow {
                start_ms,
                end_ms,
                bucket_ms,
            },
        }
    }

    /// A series' points to draw: from the store for the recent ranges; from the database's span
    /// and then the store's samples newer than it otherwise (only the store's, in the window,
    /// while no span has arrived or when the server keeps none).
    pub fn points(&self, name: &str) -> Vec<(Millis, f64)> {
        let window = self.window;
        match (self.span, self.stored) {
            (Span::Recent(range_ms), _) => {
                self.store.recent_for_display(name, range_ms, DRAWN_POINTS)
            }
            (_, Some(stored)) => {
                let mut points = stored.points(name).to_vec();
                let after = stored.through.unwrap_or(window.start_ms - 1);
                let newer = self.store.between(name, after, window.end_ms);
                points.extend(downsample_max(&newer, window.bucket_ms));
                // The line runs up to the newest sample, as the live charts' does.
                if let Some(&newest) = newer.last()
                    && points.last() != Some(&newest)
                {
                    points.push(newest);
                }
                points
            }
            (_, None) => downsample_max(
                &self.store.between(name, window.start_ms - 1, window.end_ms),
                window.bucket_ms,
            ),
        }
    }
}

/// The range buttons, the zoom reset, and what is wrong with the history, if anything.
#[component]
pub fn RangeControls() -> impl IntoView {
    let timeline = expect_context::<Timeline>();
    let store_window_ms = timeline.live.store.with_untracked(|s| s.window_ms);
    let not_saved = move || {
        timeline
            .persistence()
            .and_then(|p| p.problem)
            .map(|problem| {
                let text = format!("history not saved: {problem}");
                view! {
                    <span class="badge warn" data-testid="persistence-problem" title=problem>
                        {text}
                    </span>
                }
            })
    };
    let span_problem = move || {
        timeline.problem.get().map(|problem| {
            view! { <span class="badge warn" data-testid="span-problem">{problem}</span> }
        })
    };
    view! {
        {not_saved}
        {span_problem}
        <Show when=move || timeline.zoom.get().is_some()>
            <button class="zoom-reset" data-testid="zoom-reset" on:click=move |_| timeline.reset_zoom()>
                "Reset zoom"
            </button>
        </Show>
        <div class="ranges" role="group" aria-label="Time range">
            {RANGES_MINUTES
                .map(|minutes| {
                    let ms = minutes * 60 * 1000;
                    let unavailable = move || ms > store_window_ms && !timeline.kept();
                    view! {
                        <button
                            class:active=move || timeline.range_ms.get() == ms && timeline.zoom.get().is_none()
                            disabled=unavailable
                            title=move || unavailable().then_some("this server keeps no history on disk (--no-persist)")
                            data-testid=format!("range-{minutes}")
                            on:click=move |_| timeline.select_range(ms)
                        >
                            {range_label(minutes)}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::store::DEFAULT_WINDOW_MS;

    #[test]
    fn ranges_read_as_people_say_them() {
        let labels: Vec<String> = RANGES_MINUTES.into_iter().map(range_label).collect();
        assert_eq!(
            labels,
            ["5 min", "15 min", "1 h", "6 h", "24 h", "7 d", "30 d"]
        );
    }

    #[test]
    fn recent_charts_redraw_once_per_drawn_point_or_when_history_changes() {
        let range_ms = 15 * 60 * 1000;
        let bucket_ms = display_bucket_ms(range_ms, DRAWN_POINTS);
        assert_eq!(bucket_ms, 3_750, "15 minutes over {DRAWN_POINTS} points");
        let at = |span: Span, last_ms: Millis, history_revision: u64| {
            let store = MetricsStore {
                last_message_ms: Some(last_ms),
                history_revision,
                ..MetricsStore::new(DEFAULT_WINDOW_MS)
            };
            DrawFrame::of(&store, span, None)
        };
        let recent = Span::Recent(range_ms);
        let start = 1_700_000_002_500;
        assert_eq!(at(recent, start, 0), at(recent, start + 1_000, 0));
        assert_ne!(at(recent, start, 0), at(recent, start + bucket_ms, 0));
        assert_ne!(at(recent, start, 0), at(recent, start, 1), "a seed");
        let long = Span::RecentStored(24 * 3_600_000);
        assert_ne!(
            at(long, start, 0),
            at(long, start + 1_000, 0),
            "a long range's newest edge moves with every sample"
        );
        let zoomed = Span::Zoomed {
            from: start - 60_000,
            to: start,
        };
        assert_eq!(at(zoomed, start, 0), at(zoomed, start + 60_000, 0));
    }

    fn store_with(points: &[(Millis, f64)]) -> MetricsStore {
        let mut store = MetricsStore::new(DEFAULT_WINDOW_MS);
        for &(t, v) in points {
            store.append_point("cpu.usage", t, v);
        }
        store
    }

    #[test]
    fn a_long_range_draws_the_database_then_the_stores_newer_samples() {
        let hour = 3_600_000;
        let now = 100 * hour + 100_000;
        let store = store_with(&[(now - 2_000, 1.0), (now - 1_000, 7.0), (now, 3.0)]);
        let stored = StoredSpan {
            from: now - 25 * hour,
            to: now + 360_000,
            bucket_ms: 360_000,
            through: Some(now - 1_500),
            series: [("cpu.usage".to_owned(), vec![(now - 720_000, 50.0)])].into(),
        };
        let drawing = Drawing::new(&store, Some(&stored), Span::RecentStored(24 * hour));
        assert_eq!(drawing.window.start_ms, now - 24 * hour);
        assert_eq!(drawing.window.bucket_ms, 360_000);
        assert_eq!(
            drawing.points("cpu.usage"),
            [(now - 720_000, 50.0), (now - 1_000, 7.0), (now, 3.0)],
            "the newer samples as one point per bucket, its peak, up to the newest"
        );
        let loading = Drawing::new(&store, None, Span::RecentStored(24 * hour));
        assert_eq!(
            loading.points("cpu.usage").len(),
            1,
            "the store's hour meanwhile"
        );
    }

    #[test]
    fn a_long_range_is_read_again_once_per_drawn_point() {
        let day = 24 * 3_600_000;
        let newest = 1_000 * day + 1_000;
        let (from, to) = span_to_read(Span::RecentStored(day), newest).unwrap();
        assert!(
            to > newest && from < newest - day,
            "covers the whole window"
        );
        assert_eq!(to % 360_000, 0);
        assert_eq!(
            span_to_read(Span::RecentStored(day), newest + 60_000),
            Some((from, to)),
            "the same request within one drawn point"
        );
        assert_ne!(
            span_to_read(Span::RecentStored(day), newest + 360_000),
            Some((from, to))
        );
        let zoom = Span::Zoomed {
            from: 5,
            to: 50_000,
        };
        assert_eq!(span_to_read(zoom, newest), Some((5, 50_000)));
        assert_eq!(span_to_read(Span::Recent(3_600_000), newest), None);
    }

    #[test]
    fn a_zoom_without_a_database_cuts_the_store() {
        let store = store_with(&[(10_000, 1.0), (20_000, 2.0), (30_000, 3.0)]);
        let span = Span::Zoomed {
            from: 15_000,
            to: 25_000,
        };
        let drawing = Drawing::new(&store, None, span);
        assert_eq!(drawing.points("cpu.usage"), [(20_000, 2.0)]);
        assert_eq!(
            (drawing.window.start_ms, drawing.window.end_ms),
            (15_000, 25_000)
        );
    }
}
