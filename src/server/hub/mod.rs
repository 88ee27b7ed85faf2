//! The channel hub: per-channel sequence numbers, a bounded history ring, and fan-out to subscribers.
//!
//! Every message is serialised once; subscribers get a cheap clone of the same bytes through a bounded
//! queue. A subscriber whose queue is full is dropped (and told why), so a slow client never delays
//! another one and never grows memory.

mod ring;

use crate::server::runtime::lock::lock;
use crate::wire::{EVENT_JOB_END, EVENT_METRICS, Envelope, ServerMessage, pattern_matches};
use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use ring::{Backlog, Ring, Stored};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

/// Frames a subscriber may have queued before it counts as too slow (about a minute of all channels).
pub const CLIENT_QUEUE_FRAMES: usize = 256;
/// Channels other than the server's own that the hub will hold at once; past it, a new one takes
/// the place of the longest-silent ended one (or the longest-silent of all when none has ended).
pub const MAX_CUSTOM_CHANNELS: usize = 256;
/// Messages kept per custom (emitted) channel, within the custom channels' byte budget.
pub const CUSTOM_RING_MESSAGES: usize = 512;
/// Patterns one subscriber may hold.
pub const MAX_PATTERNS_PER_CLIENT: usize = 64;
/// Longest channel name or pattern.
pub const MAX_CHANNEL_NAME: usize = 128;

/// Queues `encoded` for every client `wanted` picks; a client too slow to take it is dropped
/// (dropping the sender ends its queue, and its socket then closes with a reason).
fn deliver(state: &mut State, encoded: &Frame, wanted: impl Fn(&Client) -> bool) -> usize {
    let mut delivered = 0;
    let mut too_slow = Vec::new();
    for (id, client) in state.clients.iter().filter(|(_, c)| wanted(c)) {
        match client.queue.try_send(encoded.clone()) {
            Ok(()) => delivered += 1,
            Err(mpsc::error::TrySendError::Full(_)) => {
                client.lagged.store(true, Ordering::Relaxed);
                too_slow.push(*id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => too_slow.push(*id),
        }
    }
    for id in too_slow {
        state.clients.remove(&id);
    }
    delivered
}

/// Forgets custom channels until one more fits: the longest-silent ended one first, else the
/// longest-silent of all, so a box that gives every run a channel of its own never fills up.
fn make_room(state: &mut State) {
    let custom = state
        .channels
        .keys()
        .filter(|name| !is_system(name))
        .count();
    for _ in MAX_CUSTOM_CHANNELS.saturating_sub(1)..custom {
        let Some(name) = state
            .channels
            .iter()
            .filter(|(name, _)| !is_system(name))
            .min_by_key(|(_, channel)| (!channel.ended, channel.last_at))
            .map(|(name, _)| name.clone())
        else {
            return;
        };
        if let Some(gone) = state.channels.remove(&name) {
            state.custom_bytes = state.custom_bytes.saturating_sub(gone.ring.held_bytes());
        }
    }
}

/// A serialised `ServerMessage`, shared by every queue it is put on.
pub type Frame = Utf8Bytes;

struct Channel {
    seq: u64,
    /// When its newest message was published.
    last_at: Option<DateTime<Utc>>,
    /// How often a publisher promised to send (the emit body's `heartbeat_seconds`).
    heartbeat: Option<Duration>,
    /// Whether its newest event ended a job: such a channel makes room first.
    ended: bool,
    ring: Ring,
    /// The newest message, parsed, of a system channel (what REST polling serves).
    latest: Option<Envelope>,
}

struct Client {
    patterns: Vec<String>,
    queue: mpsc::Sender<Frame>,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    channels: BTreeMap<String, Channel>,
    clients: HashMap<u64, Client>,
    next_client: u64,
    /// Bytes of the frames that custom channels' rings hold, all together.
    custom_bytes: usize,
}

pub struct Hub {
    epoch: u64,
    history: Duration,
    max_clients: usize,
    /// What custom channels may hold in frames, all together; the oldest go first past it.
    custom_budget_bytes: usize,
    state: Mutex<State>,
}

/// A subscriber's end: its queue, and whether the hub dropped it for being slow.
pub struct Subscriber {
    pub id: u64,
    pub frames: mpsc::Receiver<Frame>,
    lagged: Arc<AtomicBool>,
    hub: Arc<Hub>,
}

impl Subscriber {
    pub fn was_dropped_for_lag(&self) -> bool {
        self.lagged.load(Ordering::Relaxed)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.hub.lock().clients.remove(&self.id);
    }
}

#[derive(Debug, PartialEq)]
pub struct Published {
    pub seq: u64,
    pub delivered: usize,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum SubscribeError {
    #[error(
        "`{0}` is not a valid channel: use lowercase words of a-z, 0-9, '_' or '-' separated by '/', optionally ending in '/*' (e.g. system/cpu or system/gpu/*)"
    )]
    BadName(String),
    #[error(
        "too many subscriptions: at most {MAX_PATTERNS_PER_CLIENT} channels or patterns per socket"
    )]
    TooMany,
}

/// Whether `name` is a channel name (or, with `allow_pattern`, a `prefix/*` pattern).
pub fn valid_channel_name(name: &str, allow_pattern: bool) -> bool {
    let body = match name.strip_suffix("/*") {
        Some(prefix) if allow_pattern => prefix,
        _ => name,
    };
    !body.is_empty()
        && name.len() <= MAX_CHANNEL_NAME
        && body.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

fn is_system(channel: &str) -> bool {
    channel.starts_with("system/")
}

/// Channels whose ring keeps only the newest message: a process table is large, and only the
/// current one means anything.
fn keeps_latest_only(channel: &str) -> bool {
    channel == crate::wire::CHANNEL_PROCESSES
}

/// A server message as the frame every socket sends: the one place messages are encoded.
pub fn frame(message: &ServerMessage) -> Frame {
    // Serialising our own plain data types cannot fail; an empty frame would be skipped by clients.
    serde_json::to_string(message).unwrap_or_default().into()
}

impl Hub {
    pub fn new(
        epoch: u64,
        history: Duration,
        max_clients: usize,
        custom_budget_bytes: usize,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            epoch,
            history,
            max_clients,
            custom_budget_bytes,
            state: Mutex::new(State::default()),
        })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn history_window(&self) -> Duration {
        self.history
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that matters
        // more than stopping the stream would, so keep serving.
        lock(&self.state)
    }

    /// Appends a message to a channel, stores it in the ring and queues it for every subscriber.
    pub fn publish(
        &self,
        channel: &str,
        event: &str,
        data: Value,
        timestamp: DateTime<Utc>,
    ) -> Published {
        let mut state = self.lock();
        let state = &mut *state;
        if !is_system(channel) && !state.channels.contains_key(channel) {
            make_room(state);
        }
        let entry = state
            .channels
            .entry(channel.to_owned())
            .or_insert_with(|| Channel {
                seq: 0,
                last_at: None,
                heartbeat: None,
                ended: false,
                ring: Ring::new(is_system(channel)),
                latest: None,
            });
        entry.seq += 1;
        entry.last_at = Some(timestamp);
        entry.ended = event == EVENT_JOB_END;
        let seq = entry.seq;
        let message = ServerMessage::Message(Envelope {
            channel: channel.to_owned(),
            event: event.to_owned(),
            data,
            timestamp,
            seq,
        });
        let encoded = frame(&message);
        let system = is_system(channel);
        // Another kind of event on a channel (an XID error on a GPU's) does not displace its
        // latest sample.
        if let ServerMessage::Message(envelope) = message
            && system
            && (event == EVENT_METRICS || entry.latest.as_ref().is_none_or(|l| l.event == event))
        {
            entry.latest = Some(envelope);
        }
        if keeps_latest_only(channel) {
            entry.ring.clear();
        }
        entry.ring.push(Stored {
            seq,
            at: timestamp,
            frame: encoded.clone(),
        });
        let mut dropped_bytes = entry.ring.drop_older_than(timestamp - self.history);
        if !system {
            while entry.ring.len() > CUSTOM_RING_MESSAGES {
                dropped_bytes += entry.ring.pop_front().map_or(0, |s| s.frame.len());
            }
            state.custom_bytes = state.custom_bytes + encoded.len() - dropped_bytes;
            self.trim_custom(state);
        }

        let delivered = deliver(state, &encoded, |client| {
            client
                .patterns
                .iter()
                .any(|pattern| pattern_matches(pattern, channel))
        });
        Published { seq, delivered }
    }

    /// Notes that a channel's publisher promised a message at least every `period`.
    pub fn set_heartbeat(&self, channel: &str, period: Duration) {
        if let Some(channel) = self.lock().channels.get_mut(channel) {
            channel.heartbeat = Some(period);
        }
    }

    /// For each channel with a heartbeat: how late it is at `now`, as its silence over its
    /// period (1 and more: a message is overdue).
    pub fn heartbeat_lateness(&self, now: DateTime<Utc>) -> Vec<(String, f64)> {
        self.lock()
            .channels
            .iter()
            .filter_map(|(name, channel)| {
                let period = channel.heartbeat?.as_secs_f64();
                let silent = (now - channel.last_at?).to_std().unwrap_or_default();
                Some((name.clone(), silent.as_secs_f64() / period))
            })
            .collect()
    }

    /// Sends a message that belongs to no channel to every client; returns how many took it.
    pub fn broadcast(&self, message: &ServerMessage) -> usize {
        deliver(&mut self.lock(), &frame(message), |_| true)
    }

    /// Drops the oldest messages of custom channels, whichever channel holds them, until they fit
    /// the budget again. System channels are never touched.
    fn trim_custom(&self, state: &mut State) {
        while state.custom_bytes > self.custom_budget_bytes {
            let oldest = state
                .channels
                .iter_mut()
                .filter(|(name, _)| !is_system(name))
                .filter_map(|(_, channel)| Some((channel.ring.front_at()?, channel)))
                .min_by_key(|(at, _)| *at);
            let Some((_, channel)) = oldest else { break };
            let dropped = channel.ring.pop_front().map_or(0, |s| s.frame.len());
            state.custom_bytes -= dropped;
        }
    }

    /// Bytes that the channels' rings hold, all together (for the benchmarks).
    pub fn held_bytes(&self) -> usize {
        let state = self.lock();
        state.channels.values().map(|c| c.ring.held_bytes()).sum()
    }

    /// Bytes that custom channels hold now.
    #[cfg(test)]
    pub fn custom_bytes(&self) -> usize {
        self.lock().custom_bytes
    }

    /// Whether any client holds a pattern `covers` accepts (someone watches a channel).
    pub fn watched(&self, covers: impl Fn(&str) -> bool) -> bool {
        self.lock()
            .clients
            .values()
            .any(|client| client.patterns.iter().any(|p| covers(p)))
    }

    /// A new subscriber with no subscriptions yet, or `None` when the hub is at its client limit.
    pub fn register(self: &Arc<Self>) -> Option<Subscriber> {
        let mut state = self.lock();
        if state.clients.len() >= self.max_clients {
            return None;
        }
        let (queue, frames) = mpsc::channel(CLIENT_QUEUE_FRAMES);
        let lagged = Arc::new(AtomicBool::new(false));
        state.next_client += 1;
        let id = state.next_client;
        state.clients.insert(
            id,
            Client {
                patterns: Vec::new(),
                queue,
                lagged: lagged.clone(),
            },
        );
        Some(Subscriber {
            id,
            frames,
            lagged,
            hub: self.clone(),
        })
    }

    #[cfg(test)]
    pub fn client_count(&self) -> usize {
        self.lock().clients.len()
    }

    /// Adds patterns to a subscriber and returns the frames to send it first, in order: the
    /// confirmation, then per channel either the messages it missed since `since[channel]`, or a
    /// reset followed by the latest message when the gap cannot be filled or the epoch changed, or
    /// (with no `since`) the latest message so it has a current value at once.
    ///
    /// Which messages is decided under the hub's lock, so nothing published meanwhile is lost or
    /// sent twice; deflated ones are inflated after it.
    pub fn subscribe(
        &self,
        client: u64,
        patterns: &[String],
        since: &BTreeMap<String, u64>,
        epoch: Option<u64>,
    ) -> Result<Vec<Frame>, SubscribeError> {
        if let Some(bad) = patterns.iter().find(|p| !valid_channel_name(p, true)) {
            return Err(SubscribeError::BadName(bad.clone()));
        }
        Ok(self
            .subscribe_locked(client, patterns, since, epoch)?
            .into_frames())
    }

    fn subscribe_locked(
        &self,
        client: u64,
        patterns: &[String],
        since: &BTreeMap<String, u64>,
        epoch: Option<u64>,
    ) -> Result<Backlog, SubscribeError> {
        let mut state = self.lock();
        let state = &mut *state;
        let mut frames = Backlog::default();
        let Some(subscriber) = state.clients.get_mut(&client) else {
            return Ok(frames);
        };
        let before = subscriber.patterns.clone();
        let mut added: Vec<String> = Vec::new();
        for pattern in patterns {
            if !subscriber.patterns.contains(pattern) && !added.contains(pattern) {
                added.push(pattern.clone());
            }
        }
        if subscriber.patterns.len() + added.len() > MAX_PATTERNS_PER_CLIENT {
            return Err(SubscribeError::TooMany);
        }
        subscriber.patterns.extend(added);

        frames.push(frame(&ServerMessage::Subscribed {
            channels: subscriber.patterns.clone(),
        }));
        for (name, channel) in &state.channels {
            let newly_covered = patterns.iter().any(|p| pattern_matches(p, name))
                && !before.iter().any(|p| pattern_matches(p, name));
            if newly_covered {
                self.catch_up(name, channel, since.get(name).copied(), epoch, &mut frames);
            }
        }
        Ok(frames)
    }

    fn catch_up(
        &self,
        name: &str,
        channel: &Channel,
        since: Option<u64>,
        epoch: Option<u64>,
        frames: &mut Backlog,
    ) {
        // The latest sample (not an XID that came after it), else the newest message.
        let latest = || {
            let sample = channel
                .latest
                .as_ref()
                .and_then(|latest| channel.ring.find(latest.seq));
            sample.or_else(|| channel.ring.newest().map(|stored| stored.frame.clone()))
        };
        let reset = |frames: &mut Backlog, reason: &str| {
            frames.push(frame(&ServerMessage::Reset {
                channel: name.to_owned(),
                reason: reason.to_owned(),
            }));
            frames.extend(latest());
        };
        let Some(since) = since else {
            frames.extend(latest());
            return;
        };
        if epoch != Some(self.epoch) {
            return reset(
                frames,
                "the server restarted: earlier sequence numbers do not apply",
            );
        }
        if since >= channel.seq {
            return;
        }
        let first = channel.ring.first_seq().unwrap_or(channel.seq + 1);
        if since + 1 < first {
            return reset(
                frames,
                "the missed messages are older than the server's history",
            );
        }
        channel.ring.take_after(since, None, frames);
    }

    pub fn unsubscribe(&self, client: u64, patterns: &[String]) -> Vec<String> {
        let mut state = self.lock();
        match state.clients.get_mut(&client) {
            Some(subscriber) => {
                subscriber.patterns.retain(|p| !patterns.contains(p));
                subscriber.patterns.clone()
            }
            None => Vec::new(),
        }
    }

    /// The latest message of every channel matching `filter`.
    pub fn latest(&self, filter: impl Fn(&str) -> bool) -> Vec<Envelope> {
        self.lock()
            .channels
            .iter()
            .filter(|(name, _)| filter(name))
            .filter_map(|(_, channel)| channel.latest.clone())
            .collect()
    }

    /// The names of the channels that have had at least one message.
    pub fn channel_names(&self) -> Vec<String> {
        self.lock().channels.keys().cloned().collect()
    }

    /// The ring's frames of one channel with seq above `after_seq` and time at or after `since`.
    pub fn history(
        &self,
        channel: &str,
        after_seq: u64,
        since: Option<DateTime<Utc>>,
    ) -> Option<Vec<Frame>> {
        let mut frames = Backlog::default();
        self.lock()
            .channels
            .get(channel)?
            .ring
            .take_after(after_seq, since, &mut frames);
        Some(frames.into_frames())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hub() -> Arc<Hub> {
        Hub::new(42, Duration::from_secs(60), 4, 1 << 20)
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn decode(frame: &Frame) -> ServerMessage {
        serde_json::from_str(frame.as_str()).unwrap()
    }

    /// One `system/cpu` message a second, for `seconds` seconds.
    fn publish_cpu(hub: &Hub, seconds: i64) {
        for i in 0..seconds {
            hub.publish("system/cpu", "metrics", json!(i), at(i));
        }
    }

    /// What reader `id` is sent first when it subscribes to `pattern`, fresh (no `since`).
    fn subscribe(hub: &Hub, id: u64, pattern: &str) -> Vec<Frame> {
        hub.subscribe(id, &[pattern.into()], &BTreeMap::new(), None)
            .unwrap()
    }

    /// What a new reader of `pattern` is sent first, back with `since` (channel, last seq) from
    /// `epoch`.
    fn resume(
        hub: &Arc<Hub>,
        pattern: &str,
        since: Option<(&str, u64)>,
        epoch: Option<u64>,
    ) -> Vec<Frame> {
        let reader = hub.register().unwrap();
        let since = since
            .map(|(channel, seq)| BTreeMap::from([(channel.to_owned(), seq)]))
            .unwrap_or_default();
        hub.subscribe(reader.id, &[pattern.into()], &since, epoch)
            .unwrap()
    }

    fn seqs(frames: &[Frame]) -> Vec<u64> {
        frames
            .iter()
            .filter_map(|f| match decode(f) {
                ServerMessage::Message(envelope) => Some(envelope.seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn names_follow_the_grammar() {
        assert!(valid_channel_name("system/gpu/0", false));
        assert!(valid_channel_name("jobs/train-1", false));
        assert!(valid_channel_name("system/gpu/*", true));
        assert!(!valid_channel_name("system/gpu/*", false));
        for bad in ["", "/x", "x/", "a//b", "Upper", "sp ace", "a/*/b", "*"] {
            assert!(!valid_channel_name(bad, true), "{bad}");
        }
        assert!(!valid_channel_name(&"a".repeat(200), false));
    }

    #[test]
    fn publish_numbers_messages_per_channel_and_delivers_to_matching_subscribers() {
        let hub = hub();
        let mut cpu_reader = hub.register().unwrap();
        let mut gpu_reader = hub.register().unwrap();
        subscribe(&hub, cpu_reader.id, "system/cpu");
        subscribe(&hub, gpu_reader.id, "system/gpu/*");
        assert_eq!(
            hub.publish("system/cpu", "metrics", json!(1), at(0)),
            Published {
                seq: 1,
                delivered: 1
            }
        );
        assert_eq!(hub.publish("system/cpu", "metrics", json!(2), at(1)).seq, 2);
        assert_eq!(
            hub.publish("system/gpu/0", "metrics", json!(3), at(1)),
            Published {
                seq: 1,
                delivered: 1
            }
        );
        assert_eq!(
            seqs(&[
                cpu_reader.frames.try_recv().unwrap(),
                cpu_reader.frames.try_recv().unwrap()
            ]),
            [1, 2]
        );
        assert!(cpu_reader.frames.try_recv().is_err());
        match decode(&gpu_reader.frames.try_recv().unwrap()) {
            ServerMessage::Message(envelope) => assert_eq!(envelope.channel, "system/gpu/0"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subscribing_without_since_sends_the_latest_value() {
        let hub = hub();
        hub.publish("system/cpu", "metrics", json!(1), at(0));
        hub.publish("system/cpu", "metrics", json!(2), at(1));
        let reader = hub.register().unwrap();
        let frames = subscribe(&hub, reader.id, "system/cpu");
        assert!(matches!(
            decode(&frames[0]),
            ServerMessage::Subscribed { .. }
        ));
        assert_eq!(seqs(&frames), [2]);
    }

    #[test]
    fn since_replays_exactly_the_missed_messages() {
        let hub = hub();
        publish_cpu(&hub, 5);
        let frames = resume(&hub, "system/cpu", Some(("system/cpu", 2)), Some(42));
        assert_eq!(seqs(&frames), [3, 4, 5]);
        let up_to_date = resume(&hub, "system/memory", Some(("system/memory", 9)), Some(42));
        assert_eq!(seqs(&up_to_date), Vec::<u64>::new());
    }

    #[test]
    fn an_hour_of_system_messages_is_replayed_whole_from_deflated_blocks() {
        let hub = Hub::new(42, Duration::from_secs(3600), 4, 1 << 20);
        for i in 0..4000 {
            hub.publish("system/gpu/0", "metrics", json!({"i": i}), at(i));
            if i == 3990 {
                hub.publish("system/gpu/0", "xid", json!({"xid": 79}), at(i));
            }
        }
        // 4001 messages; the window (3600 s, both ends) keeps those from second 399 on.
        let kept = hub.history("system/gpu/0", 0, None).unwrap();
        assert_eq!(seqs(&kept), (400..=4001).collect::<Vec<u64>>());
        let since_time = hub.history("system/gpu/0", 0, Some(at(2000))).unwrap();
        assert_eq!(seqs(&since_time)[0], 2001);

        let frames = resume(&hub, "system/gpu/*", Some(("system/gpu/0", 500)), Some(42));
        assert_eq!(seqs(&frames), (501..=4001).collect::<Vec<u64>>());
        let frames = resume(&hub, "system/gpu/0", None, None);
        match decode(&frames[1]) {
            ServerMessage::Message(latest) => {
                assert_eq!((latest.seq, latest.data), (4001, json!({"i": 3999})))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_epoch_or_a_gap_beyond_the_ring_resets() {
        let hub = hub();
        // One message a second against a 60-second ring: the oldest fall out.
        publish_cpu(&hub, 200);
        let frames = resume(&hub, "system/cpu", Some(("system/cpu", 3)), Some(42));
        assert!(matches!(decode(&frames[1]), ServerMessage::Reset { .. }));
        assert_eq!(seqs(&frames), [200]);
        let frames = resume(&hub, "system/cpu", Some(("system/cpu", 199)), Some(7));
        match decode(&frames[1]) {
            ServerMessage::Reset { reason, .. } => assert!(reason.contains("restarted")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_channel_with_a_heartbeat_knows_how_late_it_is() {
        let hub = hub();
        let at = |s: i64| DateTime::from_timestamp(1_767_225_600 + s, 0).unwrap();
        hub.publish("jobs/train", "step", json!({}), at(0));
        hub.publish("jobs/quiet", "step", json!({}), at(0));
        hub.set_heartbeat("jobs/train", Duration::from_secs(10));
        assert_eq!(
            hub.heartbeat_lateness(at(5)),
            [("jobs/train".to_owned(), 0.5)]
        );
        assert_eq!(hub.heartbeat_lateness(at(25))[0].1, 2.5);
        hub.publish("jobs/train", "step", json!({}), at(26));
        assert_eq!(hub.heartbeat_lateness(at(26))[0].1, 0.0);
    }

    #[test]
    fn a_broadcast_reaches_every_client_whatever_it_subscribed_to() {
        let hub = hub();
        let mut first = hub.register().unwrap();
        let mut second = hub.register().unwrap();
        subscribe(&hub, first.id, "system/cpu");
        assert_eq!(hub.broadcast(&ServerMessage::Pong), 2);
        for client in [&mut first, &mut second] {
            assert_eq!(
                decode(&client.frames.try_recv().unwrap()),
                ServerMessage::Pong
            );
        }
    }

    #[test]
    fn the_process_table_keeps_only_its_newest_message_and_knows_its_watchers() {
        let hub = hub();
        let process_table = |pattern: &str| pattern_matches(pattern, "system/processes");
        assert!(!hub.watched(process_table));
        for second in 0..5 {
            hub.publish(
                "system/processes",
                "metrics",
                json!({"n": second}),
                at(second),
            );
        }
        let kept = hub.history("system/processes", 0, None).unwrap();
        assert_eq!(seqs(&kept), [5]);
        let reader = hub.register().unwrap();
        subscribe(&hub, reader.id, "system/cpu");
        assert!(!hub.watched(process_table));
        subscribe(&hub, reader.id, "system/*");
        assert!(hub.watched(process_table));
        drop(reader);
        assert!(!hub.watched(process_table), "gone with its last watcher");
    }

    #[test]
    fn ring_is_trimmed_by_time() {
        let hub = hub();
        publish_cpu(&hub, 300);
        let frames = hub.history("system/cpu", 0, None).unwrap();
        assert_eq!(
            frames.len(),
            61,
            "60 s of history at one message a second, both ends included"
        );
        assert_eq!(seqs(&frames)[0], 240);
        assert_eq!(hub.history("system/cpu", 295, None).unwrap().len(), 5);
        assert!(hub.history("nope", 0, None).is_none());
    }

    #[test]
    fn a_slow_subscriber_is_dropped_without_blocking_others() {
        let hub = hub();
        let slow = hub.register().unwrap();
        let mut fast = hub.register().unwrap();
        for reader in [&slow, &fast] {
            subscribe(&hub, reader.id, "system/cpu");
        }
        for i in 0..(CLIENT_QUEUE_FRAMES as i64 + 10) {
            hub.publish("system/cpu", "metrics", json!(i), at(i));
            while fast.frames.try_recv().is_ok() {}
        }
        assert!(slow.was_dropped_for_lag());
        assert!(!fast.was_dropped_for_lag());
        assert_eq!(hub.client_count(), 1);
        assert_eq!(
            hub.publish("system/cpu", "metrics", json!(0), at(999))
                .delivered,
            1
        );
    }

    #[test]
    fn client_limit_and_cleanup_on_drop() {
        let hub = hub();
        let readers: Vec<_> = (0..4).map(|_| hub.register().unwrap()).collect();
        assert!(hub.register().is_none());
        drop(readers);
        assert_eq!(hub.client_count(), 0);
        assert!(hub.register().is_some());
    }

    #[test]
    fn custom_channels_are_bounded() {
        let hub = hub();
        for i in 0..MAX_CUSTOM_CHANNELS {
            hub.publish(&format!("jobs/{i}"), "step", json!(i), at(0));
        }
        // One more takes the place of the longest-silent, as the 257th run of a box that gives
        // each run a channel must.
        assert_eq!(hub.publish("jobs/one-more", "step", json!(0), at(1)).seq, 1);
        assert_eq!(hub.channel_names().len(), MAX_CUSTOM_CHANNELS);
        assert!(!hub.channel_names().contains(&"jobs/0".to_string()));
        // An ended one goes before any that still runs, however long that one was silent.
        hub.publish("jobs/7", "end", json!({"status": "ok"}), at(2));
        hub.publish("jobs/newest", "step", json!(0), at(3));
        let names = hub.channel_names();
        assert!(!names.contains(&"jobs/7".to_string()) && names.contains(&"jobs/1".to_string()));
        assert_eq!(names.len(), MAX_CUSTOM_CHANNELS);
        hub.publish("system/cpu", "metrics", json!(0), at(3));
        assert_eq!(
            hub.channel_names().len(),
            MAX_CUSTOM_CHANNELS + 1,
            "the server's own channels are not counted"
        );
    }

    #[test]
    fn custom_channels_share_a_byte_budget_and_lose_their_oldest_first() {
        let hub = Hub::new(42, Duration::from_secs(60), 4, 64 * 1024);
        let payload = "x".repeat(1000);
        for i in 0..200 {
            let channel = format!("jobs/{}", i % 3);
            hub.publish(&channel, "step", json!({ "i": i, "pad": payload }), at(i));
            hub.publish("system/cpu", "metrics", json!(i), at(i));
        }
        let held = hub.custom_bytes();
        assert!(held <= 64 * 1024, "{held}");
        assert!(held > 60 * 1024, "the budget is used, not emptied: {held}");
        let kept: Vec<u64> = (0..3)
            .flat_map(|c| seqs(&hub.history(&format!("jobs/{c}"), 0, None).unwrap()))
            .collect();
        assert!(kept.len() < 70);
        for c in 0..3 {
            let newest = seqs(&hub.history(&format!("jobs/{c}"), 0, None).unwrap());
            assert!(
                newest.last().is_some(),
                "every channel keeps its newest messages"
            );
        }
        assert_eq!(
            hub.history("system/cpu", 0, None).unwrap().len(),
            61,
            "system channels are never trimmed by the budget"
        );
    }

    #[test]
    fn a_pattern_given_twice_is_held_once() {
        let hub = hub();
        let reader = hub.register().unwrap();
        let frames = hub
            .subscribe(
                reader.id,
                &["system/cpu".into(), "system/cpu".into()],
                &BTreeMap::new(),
                None,
            )
            .unwrap();
        match decode(&frames[0]) {
            ServerMessage::Subscribed { channels } => assert_eq!(channels, ["system/cpu"]),
            other => panic!("{other:?}"),
        }
        subscribe(&hub, reader.id, "system/cpu");
        assert_eq!(hub.lock().clients[&reader.id].patterns.len(), 1);
    }

    #[test]
    fn bad_patterns_are_refused_and_change_nothing() {
        let hub = hub();
        let reader = hub.register().unwrap();
        let err = hub.subscribe(
            reader.id,
            &["system/cpu".into(), "BAD NAME".into()],
            &BTreeMap::new(),
            None,
        );
        assert!(matches!(err, Err(SubscribeError::BadName(name)) if name == "BAD NAME"));
        assert_eq!(
            hub.publish("system/cpu", "metrics", json!(0), at(0))
                .delivered,
            0
        );
    }
}
