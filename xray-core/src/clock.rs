//! The clock: the time every start and end is stamped with, read with the crate's one `unsafe` call.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time: microseconds since the Unix epoch, the resolution X-Ray documents keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current time.
    ///
    /// On Unix the clock is read with `clock_gettime` directly: `SystemTime::now` followed by `duration_since` costs
    /// twice as much, and every sampled subsegment reads the clock twice.
    #[inline]
    pub fn now() -> Self {
        #[cfg(unix)]
        {
            let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: `now` is a valid, writable `timespec`, the only thing `clock_gettime` writes to.
            if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } == 0
                && let (Ok(secs), Ok(nanos)) = (u64::try_from(now.tv_sec), u64::try_from(now.tv_nsec))
            {
                return Self(secs * 1_000_000 + nanos / 1_000);
            }
        }
        Self(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() * 1_000_000 + u64::from(d.subsec_micros())),
        )
    }

    /// A time from microseconds since the epoch.
    pub fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub fn as_micros(&self) -> u64 {
        self.0
    }

    /// Seconds since the epoch, as written in documents.
    pub fn as_secs_f64(&self) -> f64 {
        self.0 as f64 / 1e6
    }
}
