//! The one retry policy of wfuwp (docs/phases.md, "Failures and retries"):
//! a transient failure is tried again after an exponential backoff with
//! jitter, a bounded number of times. Sites, the network tables phase and
//! each media object wait the same way; what counts as transient is theirs.

use std::future::Future;
use std::time::Duration;

/// Delay before retry number `attempt` (1-based): exponential from 500 ms,
/// capped at 30 s, with ±50% jitter so that workers do not retry in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let base_ms = 500u64
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(6))
        .min(30_000);
    let jitter = 0.5 + fastrand::f64();
    Duration::from_millis((base_ms as f64 * jitter) as u64)
}

/// Runs `op` until it succeeds, fails with an error `transient` does not
/// accept, or `retries` transient failures were retried, waiting
/// [`backoff`] before each retry.
pub async fn with_retries<T, E, F, Fut>(
    retries: u32,
    transient: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 0u32;
    loop {
        match op().await {
            Err(e) if transient(&e) && tries < retries => {
                tries += 1;
                tokio::time::sleep(backoff(tries)).await;
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(750));
        assert!(backoff(20) <= Duration::from_secs(45));
        assert!(backoff(4) >= Duration::from_millis(2000));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_as_often_as_allowed() {
        let mut calls = 0;
        let r: Result<(), &str> = with_retries(
            2,
            |e| *e == "busy",
            || {
                calls += 1;
                async { Err("busy") }
            },
        )
        .await;
        assert_eq!((r, calls), (Err("busy"), 3));
        let mut calls = 0;
        let r: Result<(), &str> = with_retries(
            5,
            |e| *e == "busy",
            || {
                calls += 1;
                async { Err("denied") }
            },
        )
        .await;
        assert_eq!((r, calls), (Err("denied"), 1));
    }
}
