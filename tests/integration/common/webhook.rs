//! A webhook receiver on loopback that keeps the bodies it took; it can answer 500 to the first
//! request, to show that deliveries are retried.

use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub async fn receiver(fail_first: bool) -> (SocketAddr, Arc<Mutex<Vec<Value>>>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let tries = Arc::new(AtomicUsize::new(0));
    let kept = received.clone();
    let hook = move |body: String| {
        let (kept, tries) = (kept.clone(), tries.clone());
        async move {
            if fail_first && tries.fetch_add(1, Ordering::SeqCst) == 0 {
                return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            kept.lock()
                .unwrap()
                .push(serde_json::from_str(&body).unwrap());
            axum::http::StatusCode::OK
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/hook", axum::routing::post(hook));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}
