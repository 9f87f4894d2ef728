//! When to try a request again, and how long to wait first: exponential backoff with jitter on
//! throttling (429, honouring the server's retry-after), server errors (500/502/503/504) and
//! broken connections; a short, fast series for refused connections so that an unreachable
//! cluster fails within a few seconds; never for other 4xx answers, nor after a timeout (which
//! already waited). Pure; the request loop lives in `request.rs`.

use std::hash::{BuildHasher, Hasher};
use std::io::ErrorKind;
use std::time::Duration;

/// Bounds on retrying one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included) when the server answers 429 or 5xx.
    pub max_attempts: u32,
    /// Attempts in all when the connection is refused or breaks before an answer.
    pub connection_attempts: u32,
    /// The first delay; each further one doubles, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts later than this after the first attempt started.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts within 20 s for 429/5xx (delays about 0.25, 0.5, 1, 2 s, or what the server
    /// asks, at most 5 s each); 3 attempts for refused or broken connections (about 0.25, 0.5 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            connection_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            budget: Duration::from_secs(20),
        }
    }
}

/// Why a failed attempt may be worth repeating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transient {
    /// 429: the server asks to slow down, possibly saying for how long.
    Throttled { retry_after: Option<Duration> },
    /// 500, 502, 503, 504.
    ServerError,
    /// The connection was refused, reset or closed before an answer came.
    Connection,
}

/// Whether an HTTP answer with this code is worth repeating.
pub fn transient_status(code: u16, retry_after: Option<Duration>) -> Option<Transient> {
    match code {
        429 => Some(Transient::Throttled { retry_after }),
        500 | 502 | 503 | 504 => Some(Transient::ServerError),
        _ => None,
    }
}

/// Whether a transport failure is worth repeating: a refused, reset, aborted or prematurely
/// closed connection is; a timeout is not (it already waited), nor are DNS, TLS or credential
/// failures, which do not heal in a second.
pub fn transient_transport(err: &(dyn std::error::Error + 'static)) -> Option<Transient> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
                | ErrorKind::NotConnected => Some(Transient::Connection),
                _ => None,
            };
        }
        // hyper reports a pooled connection the server closed as an incomplete message.
        if e.to_string()
            .contains("connection closed before message completed")
        {
            return Some(Transient::Connection);
        }
        next = e.source();
    }
    None
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, given that attempt `attempt` (1-based) failed for
    /// `why` and `elapsed` has passed since the first one started; `None`: give up.
    pub fn delay(&self, attempt: u32, why: Transient, elapsed: Duration) -> Option<Duration> {
        let limit = match why {
            Transient::Connection => self.connection_attempts,
            Transient::Throttled { .. } | Transient::ServerError => self.max_attempts,
        };
        if attempt >= limit {
            return None;
        }
        let delay = match why {
            Transient::Throttled {
                retry_after: Some(asked),
            } => asked.min(self.max_delay),
            _ => jittered(self.backoff(attempt)),
        };
        (elapsed + delay <= self.budget).then_some(delay)
    }

    /// `base_delay * 2^(attempt-1)`, capped at `max_delay`.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Somewhere between half of `d` and `d`, so that clients that failed together do not retry
/// together.
fn jittered(d: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let half = d / 2;
    let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(random % spread)
}

/// A `Retry-After` value in seconds (the only form the API server writes).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::ZERO;

    #[test]
    fn throttling_and_server_errors_are_retried_but_other_client_errors_are_not() {
        assert_eq!(
            transient_status(429, None),
            Some(Transient::Throttled { retry_after: None })
        );
        for code in [500, 502, 503, 504] {
            assert_eq!(transient_status(code, None), Some(Transient::ServerError));
        }
        for code in [400, 401, 403, 404, 409, 422, 501] {
            assert_eq!(transient_status(code, None), None, "{code}");
        }
    }

    #[test]
    fn refused_and_reset_connections_are_retried_but_timeouts_and_other_failures_are_not() {
        let refused = std::io::Error::from(ErrorKind::ConnectionRefused);
        assert_eq!(transient_transport(&refused), Some(Transient::Connection));
        let reset = std::io::Error::from(ErrorKind::ConnectionReset);
        assert_eq!(transient_transport(&reset), Some(Transient::Connection));
        let timeout = std::io::Error::from(ErrorKind::TimedOut);
        assert_eq!(transient_transport(&timeout), None);
        let dns = std::io::Error::other("failed to lookup address information");
        assert_eq!(transient_transport(&dns), None);
    }

    #[test]
    fn a_refusal_deep_in_the_error_chain_is_found() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::from(ErrorKind::ConnectionRefused));
        assert_eq!(transient_transport(&e), Some(Transient::Connection));
    }

    #[test]
    fn delays_grow_exponentially_with_jitter_and_stay_bounded() {
        let p = RetryPolicy::default();
        for attempt in 1..p.max_attempts {
            let full = p.backoff(attempt);
            let d = p
                .delay(attempt, Transient::ServerError, NOW)
                .expect("within the attempt limit");
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert_eq!(p.backoff(1), Duration::from_millis(250));
        assert_eq!(p.backoff(3), Duration::from_secs(1));
        assert_eq!(p.backoff(30), p.max_delay);
        assert_eq!(p.delay(p.max_attempts, Transient::ServerError, NOW), None);
    }

    #[test]
    fn the_worst_case_for_server_errors_fits_the_budget() {
        let p = RetryPolicy::default();
        let worst: Duration = (1..p.max_attempts).map(|a| p.backoff(a)).sum();
        assert!(worst <= p.budget, "{worst:?}");
        assert_eq!(
            p.delay(1, Transient::ServerError, p.budget),
            None,
            "no retry starts after the budget"
        );
    }

    #[test]
    fn refused_connections_give_up_sooner() {
        let p = RetryPolicy::default();
        assert!(p.delay(2, Transient::Connection, NOW).is_some());
        assert_eq!(p.delay(3, Transient::Connection, NOW), None);
        let worst: Duration = (1..p.connection_attempts).map(|a| p.backoff(a)).sum();
        assert!(worst <= Duration::from_secs(1), "{worst:?}");
    }

    #[test]
    fn the_servers_retry_after_is_honoured_up_to_the_maximum_delay() {
        let p = RetryPolicy::default();
        let asked = |s| Transient::Throttled {
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(p.delay(1, asked(2), NOW), Some(Duration::from_secs(2)));
        assert_eq!(p.delay(1, asked(600), NOW), Some(p.max_delay));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
