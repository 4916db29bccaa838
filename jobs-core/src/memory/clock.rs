//! The memory store's clock: wall-clock milliseconds that advance with tokio's clock, so
//! tests can pause it and advance hours in no time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Wall-clock milliseconds that advance with tokio's (possibly paused) clock.
pub(super) struct Clock {
    base_ms: u64,
    base: Instant,
}

impl Clock {
    pub(super) fn new() -> Self {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Clock {
            base_ms,
            base: Instant::now(),
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.base_ms + self.base.elapsed().as_millis() as u64
    }
}

/// A duration in whole milliseconds, saturating.
pub(super) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
