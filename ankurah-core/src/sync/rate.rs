//! The request rate of one identity: a token bucket shared by every session it has open, so
//! opening more sessions does not buy more requests (the per-peer slots of
//! [`Limits::max_requests_per_peer`](crate::Limits) bound one session's concurrency; this
//! bounds an identity's throughput on top of it).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::policy::ContextData;
use crate::runtime::Instant;

/// One identity's bucket: up to a second's worth of requests may come at once, then they
/// are admitted at the rate. A request over it waits for its turn rather than failing: the
/// session reads nothing meanwhile, so a flooding peer fills its own queue and is slowed by
/// its connector, while an honest burst only sees latency.
pub(crate) struct RequestRate {
    per_second: f64,
    /// Tokens left and when they were counted.
    bucket: Mutex<(f64, Instant)>,
}

impl RequestRate {
    fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        RequestRate {
            per_second,
            bucket: Mutex::new((per_second, Instant::now())),
        }
    }

    /// Takes a token and says how long to wait before using it: zero within the rate. A
    /// session reserves one token at a time, so the debt is at most one per session.
    pub(crate) fn reserve(&self) -> Duration {
        let mut bucket = self.bucket.lock();
        let now = Instant::now();
        let (tokens, counted) = &mut *bucket;
        let refill = now.saturating_duration_since(*counted).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.per_second) - 1.0;
        *counted = now;
        if *tokens >= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(-*tokens / self.per_second)
    }
}

/// The buckets of identities with a session open, dropped with their last session.
#[derive(Default)]
pub(crate) struct RequestRates(Mutex<HashMap<ContextData, Weak<RequestRate>>>);

impl RequestRates {
    /// The bucket a new session of `identity` shares with its other sessions; `None` (an
    /// unauthenticated peer, its own identity) gets one of its own.
    pub(crate) fn of(&self, identity: Option<&ContextData>, per_second: u32) -> Arc<RequestRate> {
        let Some(identity) = identity else {
            return Arc::new(RequestRate::new(per_second));
        };
        let mut buckets = self.0.lock();
        buckets.retain(|_, bucket| bucket.strong_count() > 0);
        if let Some(bucket) = buckets.get(identity).and_then(Weak::upgrade) {
            return bucket;
        }
        let bucket = Arc::new(RequestRate::new(per_second));
        buckets.insert(identity.clone(), Arc::downgrade(&bucket));
        bucket
    }
}
