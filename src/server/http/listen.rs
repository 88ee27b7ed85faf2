//! The accept loop: every connection is counted against a cap below the process's open-files
//! limit, request headers (and idle keep-alive time) are bounded by a timeout, and accept errors
//! back off instead of spinning. At the cap, the oldest connection that is not serving anything
//! (a client that never finished its request, or an idle keep-alive) makes room, so slow or silent
//! clients cannot lock out the owner; established WebSockets and requests in flight are never cut.

use crate::server::runtime::lock::lock;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::Service;

/// How long a client may take to send a request's headers, counted from when the connection is
/// ready for one: this also closes keep-alive connections idle for that long.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Files the process keeps for itself beyond its connections (libraries, /proc reads, the GPU).
pub const RESERVED_FILES: u64 = 64;
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Raises the soft open-files limit to the hard one and returns it (or the soft one, if it cannot).
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    limit.rlim_cur
}

/// The connection cap for an open-files limit: the limit less what the process keeps for itself
/// (the process scans' stat files among it).
pub fn connection_cap(open_files_limit: u64) -> usize {
    let process_files =
        crate::server::collect::processes::scan::files_to_keep(open_files_limit) as u64;
    open_files_limit
        .saturating_sub(RESERVED_FILES + process_files)
        .max(16) as usize
}

/// One open connection as the tracker sees it.
struct Tracked {
    /// Requests being answered right now.
    in_flight: AtomicUsize,
    /// The HTTP side is done with it (closed, or handed to a WebSocket): never evicted.
    handed_off: AtomicBool,
    /// Told to close to make room.
    evict: Notify,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By id, which is accept order: the first evictable one is the oldest.
    by_id: BTreeMap<u64, Arc<Tracked>>,
}

/// Counts open connections against the cap.
pub struct Tracker {
    cap: usize,
    open: Mutex<Open>,
}

/// A connection's place under the cap; it is freed when the socket is dropped, which for a
/// WebSocket is when that socket closes.
struct Slot {
    tracker: Arc<Tracker>,
    id: u64,
    tracked: Arc<Tracked>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.tracker.lock().by_id.remove(&self.id);
    }
}

impl Tracker {
    pub fn new(cap: usize) -> Arc<Tracker> {
        Arc::new(Tracker {
            cap,
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        lock(&self.open)
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    #[cfg(test)]
    pub fn open_connections(&self) -> usize {
        self.lock().by_id.len()
    }

    /// A slot for a new connection, making room if needed; None when every open connection is busy.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.lock();
        if open.by_id.len() >= self.cap {
            let idle = open.by_id.iter().find(|(_, t)| {
                t.in_flight.load(Ordering::Acquire) == 0 && !t.handed_off.load(Ordering::Acquire)
            });
            let (&id, tracked) = idle?;
            tracked.evict.notify_one();
            open.by_id.remove(&id);
        }
        open.next_id += 1;
        let id = open.next_id;
        let tracked = Arc::new(Tracked {
            in_flight: AtomicUsize::new(0),
            handed_off: AtomicBool::new(false),
            evict: Notify::new(),
        });
        open.by_id.insert(id, tracked.clone());
        Some(Slot {
            tracker: self.clone(),
            id,
            tracked,
        })
    }
}

/// A TCP stream that holds its connection's slot for as long as it lives.
struct SlottedStream {
    stream: TcpStream,
    _slot: Slot,
}

impl AsyncRead for SlottedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SlottedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Counts a request as in flight until its response is ready (or it is dropped).
struct InFlight(Arc<Tracked>);

impl InFlight {
    fn start(tracked: &Arc<Tracked>) -> InFlight {
        tracked.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(tracked.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

const AT_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 85\r\n\r\n{\"error\":\"the server is at its connection limit and every connection is busy: retry\"}";

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tracker: Arc<Tracker>,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let http = Arc::new(http);
    let stopping = Arc::new(Notify::new());
    let mut backoff = Duration::ZERO;
    let mut last_warned: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::ZERO;
                accepted
            }
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of files or memory: wait for some to be freed instead of spinning.
                backoff = (backoff * 2).clamp(Duration::from_millis(10), ACCEPT_BACKOFF_MAX);
                if last_warned.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(
                        "cannot accept connections ({error}); retrying in {} ms",
                        backoff.as_millis()
                    );
                    last_warned = Some(tokio::time::Instant::now());
                }
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        // Small frames must leave at once: with Nagle's algorithm a tick's later frames can wait
        // ~40 ms for a delayed ACK.
        let _ = stream.set_nodelay(true);
        let Some(slot) = tracker.admit() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let tracked = slot.tracked.clone();
        let io = TokioIo::new(SlottedStream {
            stream,
            _slot: slot,
        });
        let service = {
            let router = router.clone();
            let tracked = tracked.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let in_flight = InFlight::start(&tracked);
                let mut router = router.clone();
                async move {
                    let response = router.call(request).await;
                    drop(in_flight);
                    response
                }
            })
        };
        let (http, stopping) = (http.clone(), stopping.clone());
        tokio::spawn(async move {
            let connection = http.serve_connection(io, service).with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = tracked.evict.notified() => {}
                () = stopping.notified() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
                }
            }
            tracked.handed_off.store(true, Ordering::Release);
        });
    }
    stopping.notify_waiters();
    Ok(())
}

/// Answers a connection that cannot be served with a 503, without waiting on it for long.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(AT_CAPACITY)).await;
}

/// Errors that concern one connection only (it went away before we took it): accept the next.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_declares_its_length() {
        let text = std::str::from_utf8(AT_CAPACITY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(serde_json::from_str::<crate::wire::ApiError>(body).is_ok());
    }

    #[test]
    fn the_cap_leaves_room_for_the_process_files() {
        assert_eq!(connection_cap(1024), 960);
        assert_eq!(connection_cap(10), 16);
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_makes_room_and_busy_ones_stay() {
        let tracker = Tracker::new(2);
        let first = tracker.admit().unwrap();
        let second = tracker.admit().unwrap();
        let busy = InFlight::start(&first.tracked);
        let third = tracker.admit().expect("the idle second makes room");
        assert_eq!(tracker.open_connections(), 2);
        // The evicted one was told; its permit is stored for its task to see.
        tokio::time::timeout(Duration::from_secs(1), second.tracked.evict.notified())
            .await
            .expect("the idle connection was told to close");
        third.tracked.handed_off.store(true, Ordering::Release);
        assert!(
            tracker.admit().is_none(),
            "a busy request and a WebSocket are never cut"
        );
        drop(busy);
        assert!(tracker.admit().is_some(), "an idle one can go again");
        drop((first, second, third));
    }
}
