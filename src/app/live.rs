//! The live connection hook: WebSocket with resync, dead-connection watchdog, backoff with jitter,
//! and REST polling while the socket is down. The decisions live in `connection` and `store`.

use super::alerts::AlertBook;
use super::connection::ConnectionState;
use super::processes::ProcessView;
use crate::shared::store::{DEFAULT_WINDOW_MS, MetricsStore};
use crate::wire::{Hello, PageSeed};
use leptos::prelude::*;

/// What the hook gives the page: the store, the connection state and the server's hello.
#[derive(Clone, Copy)]
pub struct Live {
    pub store: RwSignal<MetricsStore>,
    pub state: RwSignal<ConnectionState>,
    pub hello: RwSignal<Option<Hello>>,
    /// False while the page is a background tab: charts then skip their redraws.
    pub page_visible: RwSignal<bool>,
    /// The browser's clock (ms) when new data last reached the store.
    pub received_ms: RwSignal<Option<f64>>,
    /// The browser's clock (ms), ticked every second: what the age of the data is measured against.
    pub now_ms: RwSignal<Option<f64>>,
    /// Active alerts, and the latest resolved ones.
    pub alerts: RwSignal<AlertBook>,
    /// Whether the process table is open: only then is `system/processes` subscribed (and the
    /// server scans).
    pub processes_wanted: RwSignal<bool>,
    /// The latest process scan and each listed process's recent CPU and memory, while the table
    /// is open.
    pub processes: RwSignal<ProcessView>,
}

/// Starts the live connection (in the browser only) from the page's seed and returns its signals.
pub fn use_live(seed: Option<PageSeed>) -> Live {
    let (hello, store, alerts) = match seed {
        Some(seed) => (
            Some(seed.hello),
            MetricsStore::from(seed.history),
            AlertBook::new(seed.alerts),
        ),
        None => (
            None,
            MetricsStore::new(DEFAULT_WINDOW_MS),
            AlertBook::default(),
        ),
    };
    let live = Live {
        store: RwSignal::new(store),
        state: RwSignal::new(ConnectionState::Connecting),
        hello: RwSignal::new(hello),
        page_visible: RwSignal::new(true),
        received_ms: RwSignal::new(None),
        now_ms: RwSignal::new(None),
        alerts: RwSignal::new(alerts),
        processes_wanted: RwSignal::new(false),
        processes: RwSignal::new(ProcessView::default()),
    };
    browser::start(live);
    live
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Live;
    use crate::app::api::fetch_current_metrics;
    use crate::app::connection::{
        BACKOFF_BASE_MS, BACKOFF_CAP_MS, ConnectionEvent, ConnectionState, backoff_ms, is_dead,
        next_state,
    };
    use crate::shared::json::{from_text, from_value};
    use crate::shared::store::Applied;
    use crate::wire::Envelope;
    use crate::wire::{
        Alert, AlertList, CHANNEL_ALERTS, CHANNEL_GPU_ALL, CHANNEL_PROCESSES, ChannelHistory,
        ClientMessage, HOST_CHANNELS, ProcessList, ServerMessage,
    };
    use futures::{SinkExt, StreamExt, channel::mpsc};
    use gloo_net::websocket::{Message, futures::WebSocket};
    use gloo_timers::callback::{Interval, Timeout};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    /// Mutable state of one page's connection; lives as long as the page.
    struct Inner {
        /// Bumped on every (re)connect so callbacks of an older socket do nothing.
        generation: u64,
        /// Closing this ends the current socket.
        close: Option<mpsc::UnboundedSender<()>>,
        /// Messages for the current socket to send (subscriptions changed by the page).
        outgoing: Option<mpsc::UnboundedSender<ClientMessage>>,
        last_heard_ms: f64,
        interval_seconds: f64,
        retry: Option<Timeout>,
        watchdog: Option<Interval>,
        polling: bool,
        disposed: bool,
        /// Messages waiting for the next batched store update.
        pending: Vec<Envelope>,
        flush: Option<Timeout>,
        /// The page's visibility listener, removed when the page goes.
        on_visible: Option<Closure<dyn FnMut()>>,
    }

    const BATCH_MS: u32 = 50;

    /// The connection's state, owned by the page like its signals; every callback reads it with
    /// the `try_` accessors, which do nothing once the page is gone.
    type Shared = StoredValue<Inner, LocalStorage>;

    fn now_ms() -> f64 {
        js_sys::Date::now()
    }

    fn page_hidden() -> bool {
        web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
    }

    fn socket_url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/ws", location.host().ok()?))
    }

    pub fn start(live: Live) {
        // The seed was as old as the server says when the page was rendered: measured on the
        // server's clock, so a browser whose clock is off still shows the right age.
        let seed_age_ms = live.hello.with_untracked(|h| {
            let rendered = h.as_ref()?.server_time.timestamp_millis();
            let newest = live.store.with_untracked(|s| s.last_message_ms)?;
            Some((rendered - newest).max(0) as f64)
        });
        live.received_ms.set(seed_age_ms.map(|age| now_ms() - age));
        // `now_ms` stays unset until the first tick, after hydration: the server rendered no age.
        let inner: Shared = StoredValue::new_local(Inner {
            generation: 0,
            close: None,
            outgoing: None,
            last_heard_ms: now_ms(),
            interval_seconds: 2.0,
            retry: None,
            watchdog: None,
            polling: false,
            disposed: false,
            pending: Vec::new(),
            flush: None,
            on_visible: None,
        });
        connect(live, inner);

        // Opening or closing the process table (un)subscribes at once on the open socket; a new
        // socket subscribes to what is wanted then.
        Effect::new(move |previous: Option<bool>| {
            let wanted = live.processes_wanted.get();
            if previous.is_some_and(|was| was != wanted) {
                let channels = vec![CHANNEL_PROCESSES.to_owned()];
                let message = if wanted {
                    ClientMessage::Subscribe {
                        channels,
                        since: Default::default(),
                        epoch: None,
                    }
                } else {
                    live.processes.set(Default::default());
                    ClientMessage::Unsubscribe { channels }
                };
                inner.try_with_value(|state| {
                    if let Some(outgoing) = &state.outgoing {
                        let _ = outgoing.unbounded_send(message);
                    }
                });
            }
            wanted
        });

        // The watchdog: silence of ~3 intervals on an open socket means it is dead even if the
        // browser has not noticed (a sleeping laptop, a dropped NAT mapping), and so does a new
        // socket that never says hello.
        let watchdog = Interval::new(1_000, move || {
            live.now_ms.set(Some(now_ms()));
            let dead = inner.try_with_value(|state| {
                state.close.is_some()
                    && is_dead(now_ms() - state.last_heard_ms, state.interval_seconds)
            });
            if dead == Some(true) {
                lost(live, inner);
            }
        });
        inner.update_value(|state| state.watchdog = Some(watchdog));

        // Back in view: charts catch up, and a lost socket is retried at once instead of waiting
        // out the backoff.
        live.page_visible.set(!page_hidden());
        let on_visible = Closure::<dyn FnMut()>::new(move || {
            live.page_visible.set(!page_hidden());
            let disposed = inner.try_with_value(|state| state.disposed).unwrap_or(true);
            if !page_hidden() && live.state.get_untracked() != ConnectionState::Live && !disposed {
                connect(live, inner);
            }
        });
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                on_visible.as_ref().unchecked_ref(),
            );
        }
        inner.update_value(|state| state.on_visible = Some(on_visible));

        // Cleanups run before the page's values are dropped: stop everything, then unhook the
        // listener while its closure is still alive. Dropping the rest ends timers and socket.
        on_cleanup(move || {
            inner.try_update_value(|state| {
                state.disposed = true;
                state.generation += 1;
                state.close.take();
                state.retry.take();
                state.watchdog.take();
                state.flush.take();
                if let (Some(document), Some(on_visible)) = (
                    web_sys::window().and_then(|w| w.document()),
                    state.on_visible.take(),
                ) {
                    let _ = document.remove_event_listener_with_callback(
                        "visibilitychange",
                        on_visible.as_ref().unchecked_ref(),
                    );
                }
            });
        });
    }

    fn connect(live: Live, inner: Shared) {
        let generation = inner.try_update_value(|state| {
            if state.disposed {
                return None;
            }
            state.generation += 1;
            state.retry.take();
            state.close.take();
            state.outgoing.take();
            Some(state.generation)
        });
        let Some(Some(generation)) = generation else {
            return;
        };
        let Some(url) = socket_url() else { return };
        let socket = match WebSocket::open(&url) {
            Ok(socket) => socket,
            Err(_) => return lost(live, inner),
        };
        let (close_tx, mut close_rx) = mpsc::unbounded::<()>();
        let (outgoing_tx, outgoing_rx) = mpsc::unbounded::<ClientMessage>();
        let mut outgoing_rx = outgoing_rx.fuse();
        inner.try_update_value(|state| {
            state.close = Some(close_tx);
            state.outgoing = Some(outgoing_tx);
            // The handshake gets as long as a live socket's silence before it counts as dead.
            state.last_heard_ms = now_ms();
        });
        let (mut sink, stream) = socket.split();
        let mut stream = stream.fuse();
        let current = move || inner.try_with_value(|s| s.generation) == Some(generation);
        spawn_local(async move {
            loop {
                let message = futures::select! {
                    message = stream.next() => message,
                    _ = close_rx.next() => None,
                    out = outgoing_rx.next() => {
                        let Some(text) = out.and_then(|m| serde_json::to_string(&m).ok()) else {
                            continue;
                        };
                        if sink.send(Message::Text(text)).await.is_err() {
                            break;
                        }
                        continue;
                    }
                };
                if !current() {
                    return;
                }
                let Some(Ok(Message::Text(text))) = message else {
                    break;
                };
                inner.try_update_value(|state| state.last_heard_ms = now_ms());
                let Some(message) = from_text::<ServerMessage>(&text) else {
                    continue;
                };
                match message {
                    ServerMessage::Hello(hello) => {
                        inner.try_update_value(|state| {
                            state.interval_seconds = hello.interval_seconds
                        });
                        // Ask for what we missed in the epoch our seqs belong to; a new epoch
                        // makes the server reset those channels.
                        let (since, epoch) =
                            live.store.with_untracked(|s| (s.last_seq.clone(), s.epoch));
                        let mut channels: Vec<String> =
                            HOST_CHANNELS.iter().map(|c| c.to_string()).collect();
                        channels.push(CHANNEL_GPU_ALL.to_owned());
                        channels.push(CHANNEL_ALERTS.to_owned());
                        if live.processes_wanted.get_untracked() {
                            channels.push(CHANNEL_PROCESSES.to_owned());
                        }
                        let subscribe = ClientMessage::Subscribe {
                            channels,
                            since,
                            epoch,
                        };
                        let Ok(text) = serde_json::to_string(&subscribe) else {
                            break;
                        };
                        if sink.send(Message::Text(text)).await.is_err() {
                            break;
                        }
                        live.store.update(|s| {
                            s.set_epoch(hello.epoch);
                        });
                        live.hello.set(Some(hello));
                        // What changed while the socket was away: the server's list is the truth.
                        spawn_local(refresh_alerts(live));
                        opened(live, inner);
                    }
                    ServerMessage::Message(envelope) if envelope.channel == CHANNEL_ALERTS => {
                        alert_changed(live, &envelope)
                    }
                    ServerMessage::Message(envelope) if envelope.channel == CHANNEL_PROCESSES => {
                        processes_scanned(live, &envelope)
                    }
                    ServerMessage::Message(envelope) => queue(live, inner, envelope),
                    ServerMessage::Reset { channel, .. } => {
                        let since = live.store.with_untracked(|s| s.last_message_ms);
                        live.store.update(|s| s.reset_channel(&channel));
                        spawn_local(backfill(live, channel, since));
                    }
                    ServerMessage::Error { message } => {
                        leptos::logging::warn!("vitals server: {message}");
                    }
                    ServerMessage::Persistence(persistence) => live.hello.update(|hello| {
                        if let Some(hello) = hello {
                            hello.persistence = Some(persistence);
                        }
                    }),
                    _ => {}
                }
            }
            if current() {
                lost(live, inner);
            }
        });
    }

    /// A process scan: the table's rows, and a point on each process's trail. One that arrives
    /// after the table was closed is dropped.
    fn processes_scanned(live: Live, envelope: &Envelope) {
        if !live.processes_wanted.get_untracked() {
            return;
        }
        let Some(list) = from_value::<ProcessList>(&envelope.data) else {
            return;
        };
        live.processes.update(|view| view.add(list));
    }

    /// Messages of one tick arrive within milliseconds of each other: apply them together, so the
    /// charts redraw once per tick rather than once per channel.
    fn queue(live: Live, inner: Shared, envelope: Envelope) {
        inner.try_update_value(|state| {
            state.pending.push(envelope);
            if state.flush.is_some() {
                return;
            }
            state.flush = Some(Timeout::new(BATCH_MS, move || {
                let pending = inner.try_update_value(|state| {
                    state.flush = None;
                    std::mem::take(&mut state.pending)
                });
                apply_live(live, None, &pending.unwrap_or_default());
            }));
        });
    }

    /// Applies new messages (of `epoch`, when known) in one store update and notes when new data
    /// arrived.
    fn apply_live(live: Live, epoch: Option<u64>, envelopes: &[Envelope]) {
        let mut stored = false;
        live.store.update(|s| {
            // A restarted server's seqs start again: set_epoch forgets the old ones.
            if let Some(epoch) = epoch {
                s.set_epoch(epoch);
            }
            for envelope in envelopes {
                stored |= s.apply(envelope) == Applied::Stored;
            }
        });
        if stored {
            live.received_ms.set(Some(now_ms()));
        }
    }

    fn opened(live: Live, inner: Shared) {
        inner.try_update_value(|state| {
            state.polling = false;
            state.retry.take();
        });
        live.state
            .update(|s| *s = next_state(*s, ConnectionEvent::Opened));
    }

    /// The socket is gone: count the attempt, start polling if due, and schedule a reconnect.
    fn lost(live: Live, inner: Shared) {
        let alive = inner.try_update_value(|state| {
            if state.disposed {
                return false;
            }
            state.generation += 1;
            state.close.take();
            state.outgoing.take();
            true
        });
        if alive != Some(true) {
            return;
        }
        live.state
            .update(|s| *s = next_state(*s, ConnectionEvent::Lost));
        let state = live.state.get_untracked();
        let attempt = match state {
            ConnectionState::Reconnecting { attempt }
            | ConnectionState::Polling { attempt }
            | ConnectionState::Offline { attempt } => attempt,
            _ => 1,
        };
        let start_polling = state.polls()
            && inner.try_update_value(|s| !std::mem::replace(&mut s.polling, true)) == Some(true);
        if start_polling {
            spawn_local(poll(live, inner));
        }
        // While hidden, wait the longest delay; becoming visible retries at once.
        let delay = if page_hidden() {
            BACKOFF_CAP_MS
        } else {
            backoff_ms(
                attempt.saturating_sub(1),
                BACKOFF_BASE_MS,
                BACKOFF_CAP_MS,
                js_sys::Math::random(),
            )
        };
        let retry = Timeout::new(delay as u32, move || {
            live.state
                .update(|s| *s = next_state(*s, ConnectionEvent::Retrying));
            connect(live, inner);
        });
        inner.try_update_value(|state| state.retry = Some(retry));
    }

    /// Polls the current snapshot at the sample interval until the socket is live again.
    async fn poll(live: Live, inner: Shared) {
        loop {
            let Some(interval_seconds) = inner.try_with_value(|s| s.interval_seconds) else {
                return;
            };
            let interval_ms = (interval_seconds * 1000.0) as u32;
            gloo_timers::future::TimeoutFuture::new(interval_ms.max(250)).await;
            let disposed = inner.try_with_value(|s| s.disposed).unwrap_or(true);
            if !live.state.get_untracked().polls() || disposed {
                break;
            }
            if page_hidden() {
                continue;
            }
            let polled = fetch_current_metrics().await;
            if !live.state.get_untracked().polls() {
                break;
            }
            let event = match polled {
                Ok(_) => ConnectionEvent::Polled,
                Err(_) => ConnectionEvent::PollFailed,
            };
            let state = live.state.get_untracked();
            if next_state(state, event) != state {
                live.state.set(next_state(state, event));
            }
            let Ok(current) = polled else {
                continue;
            };
            apply_live(live, Some(current.epoch), &current.channels);
        }
        inner.try_update_value(|s| s.polling = false);
    }

    /// Takes in an alert's change, and notifies of one that fired while the tab is hidden.
    fn alert_changed(live: Live, envelope: &Envelope) {
        let Some(alert) = crate::shared::json::from_value::<Alert>(&envelope.data) else {
            return;
        };
        let gpus = live.store.with_untracked(|s| s.gpus.clone());
        crate::app::alerts::notifications::fired(
            &alert,
            &crate::app::alerts::subject(&alert, &gpus),
            &crate::shared::format::alert_value(&alert),
        );
        live.alerts.update(|book| book.apply(alert));
    }

    /// Replaces the active alerts with the server's list.
    async fn refresh_alerts(live: Live) {
        let Ok(response) = gloo_net::http::Request::get("/api/system/alerts")
            .send()
            .await
        else {
            return;
        };
        if let Some(list) = response
            .text()
            .await
            .ok()
            .and_then(|text| from_text::<AlertList>(&text))
        {
            live.alerts.update(|book| book.replace_active(list.active));
        }
    }

    /// Refills a channel's history from the server's ring after a reset.
    async fn backfill(live: Live, channel: String, since_ms: Option<i64>) {
        let mut url = format!(
            "/api/system/history?channel={}",
            js_sys::encode_uri_component(&channel)
        );
        if let Some(since) = since_ms.and_then(chrono::DateTime::from_timestamp_millis) {
            url.push_str(&format!(
                "&since={}",
                js_sys::encode_uri_component(&since.to_rfc3339())
            ));
        }
        let Ok(response) = gloo_net::http::Request::get(&url).send().await else {
            return;
        };
        let Some(history) = response
            .text()
            .await
            .ok()
            .and_then(|text| from_text::<ChannelHistory>(&text))
        else {
            return;
        };
        live.store.update(|s| {
            for envelope in &history.messages {
                s.backfill(envelope);
            }
        });
    }
}

/// On the server the page renders from its seed alone: there is no connection to start.
#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn start(_live: super::Live) {}
}
