//! Heavy answers built one at a time on a blocking thread: a range read of days of history or a
//! page of a big fleet takes milliseconds the async workers owe everyone else, and the clients
//! waiting their turn hold neither a worker nor a blocking thread meanwhile.

use tokio::sync::Semaphore;

/// Takes a turn of `turns`, then runs `work` on a blocking thread; `Err` says why it did not run
/// to its end (the semaphore closed, or `work` panicked).
pub async fn in_turn<T: Send + 'static>(
    turns: &Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let _turn = turns.acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_in_turn_and_a_panic_is_an_error() {
        let turns = Semaphore::new(1);
        assert_eq!(in_turn(&turns, || 6 * 7).await, Ok(42));
        let failed = in_turn(&turns, || -> u8 { panic!("broken") }).await;
        assert!(failed.is_err());
        assert_eq!(turns.available_permits(), 1, "the turn is given back");
    }
}
