//! The clock: the time every start and end is stamped with.
//!
//! Where the CPU has an invariant time-stamp counter (x86-64 with `CPUID.80000007H:EDX[8]`, as Lambda's hosts
//! have), the time is read from it and converted with a rate calibrated against the real-time clock: a sampled
//! `#[traced]` call reads the clock twice, and the counter costs a fraction of `clock_gettime`. Calibration is lazy
//! and never waits: the first reading anchors both clocks, and the real-time clock is used until 10 ms of it have
//! gone by, when the rate is taken from the two pairs. From then on the anchor moves every 100 ms of counter time (one
//! reading of the real-time clock, by whichever caller sees it is due first) and the rate is measured over
//! everything since the first anchor, so it only gets more precise; a real-time clock stepped by NTP, or a counter
//! that jumped, restarts the measurement. Between two anchors a time is off by at most the rate's error times
//! 100 ms: within 1 ms over any length of invocation even with NTP slewing the real-time clock at its limit of
//! 500 ppm (see the simulated-drift test). Elsewhere (no invariant counter, other CPUs) every reading is
//! `clock_gettime(CLOCK_REALTIME)`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time: microseconds since the Unix epoch, the resolution X-Ray documents keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current time.
    #[inline]
    pub fn now() -> Self {
        #[cfg(all(target_arch = "x86_64", unix))]
        if counter::invariant() {
            return Self(CLOCK.read(counter::read(), realtime_nanos) / 1_000);
        }
        Self(realtime_nanos() / 1_000)
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

/// Nanoseconds since the epoch from the real-time clock. On Unix read with `clock_gettime` directly:
/// `SystemTime::now` followed by `duration_since` costs twice as much.
fn realtime_nanos() -> u64 {
    #[cfg(unix)]
    {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `now` is a valid, writable `timespec`, the only thing `clock_gettime` writes to.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } == 0
            && let (Ok(secs), Ok(nanos)) = (u64::try_from(now.tv_sec), u64::try_from(now.tv_nsec))
        {
            return secs * 1_000_000_000 + nanos;
        }
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos()))
}

/// The process's counter clock.
#[cfg(all(target_arch = "x86_64", unix))]
static CLOCK: CounterClock = CounterClock::new();

/// Real-time nanoseconds that must pass between the first anchor and the first rate.
const CALIBRATION_NANOS: u64 = 10_000_000;
/// Real-time nanoseconds of counter time after which the anchor moves.
const ANCHOR_NANOS: u64 = 100_000_000;
/// A rate this far (in parts per million) from the last one means the real-time clock was stepped or the counter
/// jumped: the measurement starts again from the current pair.
const MAX_RATE_CHANGE_PPM: u64 = 1_000;

/// Times from a counter of ticks, converted with a rate measured against the real-time clock. The anchor is read
/// under a sequence lock (never waited on: a reader that meets a writer reads the real-time clock instead); it is
/// written by the one caller that holds the calibration's lock.
pub(crate) struct CounterClock {
    /// Even when the fields below are consistent; odd while they are written.
    sequence: AtomicU64,
    anchor_ticks: AtomicU64,
    anchor_nanos: AtomicU64,
    /// Nanoseconds per tick, times 2^32; 0 until calibrated.
    scale: AtomicU64,
    /// Ticks after the anchor beyond which it moves.
    horizon: AtomicU64,
    /// The real-time nanoseconds of the first anchor, once one is taken (0 before).
    first_nanos: AtomicU64,
    calibration: Mutex<Calibration>,
}

/// What the rate is measured from: the first pair of readings since the last restart, and the last rate.
#[derive(Debug, Clone, Copy, Default)]
struct Calibration {
    first: Option<(u64, u64)>,
    scale: u64,
}

impl CounterClock {
    pub(crate) const fn new() -> Self {
        Self {
            sequence: AtomicU64::new(0),
            anchor_ticks: AtomicU64::new(0),
            anchor_nanos: AtomicU64::new(0),
            scale: AtomicU64::new(0),
            horizon: AtomicU64::new(0),
            first_nanos: AtomicU64::new(0),
            calibration: Mutex::new(Calibration { first: None, scale: 0 }),
        }
    }

    /// Nanoseconds since the epoch at counter reading `ticks`; `realtime` (nanoseconds) is read only when the
    /// counter cannot say: before calibration, when the anchor is due to move, while another caller moves it.
    #[inline]
    pub(crate) fn read(&self, ticks: u64, realtime: impl FnOnce() -> u64) -> u64 {
        let before = self.sequence.load(Ordering::Acquire);
        let (anchor_ticks, anchor_nanos) =
            (self.anchor_ticks.load(Ordering::Relaxed), self.anchor_nanos.load(Ordering::Relaxed));
        let (scale, horizon) = (self.scale.load(Ordering::Relaxed), self.horizon.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        let after = self.sequence.load(Ordering::Relaxed);
        // A counter behind the anchor wraps to a large delta, beyond the horizon.
        let delta = ticks.wrapping_sub(anchor_ticks);
        if before == after && before & 1 == 0 && scale != 0 && delta <= horizon {
            return anchor_nanos + ((u128::from(delta) * u128::from(scale)) >> 32) as u64;
        }
        self.read_slow(ticks, realtime())
    }

    #[cold]
    fn read_slow(&self, ticks: u64, nanos: u64) -> u64 {
        let first = self.first_nanos.load(Ordering::Relaxed);
        // Before the first rate, the lock is taken only for the first pair and once a rate can be measured.
        let due =
            first == 0 || nanos.saturating_sub(first) >= CALIBRATION_NANOS || self.scale.load(Ordering::Relaxed) != 0;
        if due && let Ok(mut calibration) = self.calibration.try_lock() {
            self.anchor(&mut calibration, ticks, nanos);
        }
        nanos
    }

    /// Takes the pair (`ticks`, `nanos`) as the new anchor, with the rate measured since the first pair.
    fn anchor(&self, calibration: &mut Calibration, ticks: u64, nanos: u64) {
        let Some((first_ticks, first_nanos)) = calibration.first else {
            calibration.first = Some((ticks, nanos));
            self.first_nanos.store(nanos.max(1), Ordering::Relaxed);
            return;
        };
        let (elapsed_ticks, elapsed_nanos) = (ticks.wrapping_sub(first_ticks), nanos.wrapping_sub(first_nanos));
        // The real-time clock or the counter went backwards: measure again from here.
        if elapsed_ticks > u64::MAX / 2 || elapsed_nanos > u64::MAX / 2 {
            self.restart(calibration, ticks, nanos);
            return;
        }
        if elapsed_nanos < CALIBRATION_NANOS || elapsed_ticks == 0 {
            return;
        }
        let scale = ((u128::from(elapsed_nanos) << 32) / u128::from(elapsed_ticks)).min(u128::from(u64::MAX)) as u64;
        let last = calibration.scale;
        if last != 0
            && u128::from(scale.abs_diff(last)) * 1_000_000 > u128::from(last) * u128::from(MAX_RATE_CHANGE_PPM)
        {
            // A step, not a drift: keep the last rate from a new start, anchored at this pair.
            calibration.first = Some((ticks, nanos));
            self.publish(ticks, nanos, last);
            return;
        }
        calibration.scale = scale;
        self.publish(ticks, nanos, scale);
    }

    fn restart(&self, calibration: &mut Calibration, ticks: u64, nanos: u64) {
        calibration.first = Some((ticks, nanos));
        if calibration.scale != 0 {
            self.publish(ticks, nanos, calibration.scale);
        }
    }

    fn publish(&self, ticks: u64, nanos: u64, scale: u64) {
        let horizon = ((u128::from(ANCHOR_NANOS) << 32) / u128::from(scale.max(1))).min(u128::from(u64::MAX)) as u64;
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.anchor_ticks.store(ticks, Ordering::Relaxed);
        self.anchor_nanos.store(nanos, Ordering::Relaxed);
        self.scale.store(scale, Ordering::Relaxed);
        self.horizon.store(horizon, Ordering::Relaxed);
        self.sequence.store(sequence.wrapping_add(2) & !1, Ordering::Release);
    }
}

/// The x86-64 time-stamp counter.
#[cfg(all(target_arch = "x86_64", unix))]
mod counter {
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0: not looked at yet; 1: invariant; 2: not (the real-time clock is used).
    static INVARIANT: AtomicU8 = AtomicU8::new(0);

    /// Whether the counter ticks at a constant rate in every power state (`CPUID.80000007H:EDX[8]`).
    #[inline]
    pub(super) fn invariant() -> bool {
        match INVARIANT.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => look(),
        }
    }

    #[cold]
    fn look() -> bool {
        #[allow(unused_unsafe)]
        // SAFETY: `cpuid` exists on every x86-64 CPU and only reads identification registers.
        let invariant = unsafe {
            let highest = std::arch::x86_64::__cpuid(0x8000_0000).eax;
            highest >= 0x8000_0007 && std::arch::x86_64::__cpuid(0x8000_0007).edx & (1 << 8) != 0
        };
        INVARIANT.store(if invariant { 1 } else { 2 }, Ordering::Relaxed);
        invariant
    }

    /// The counter's value.
    #[inline(always)]
    pub(super) fn read() -> u64 {
        #[allow(unused_unsafe)]
        // SAFETY: `rdtsc` exists on every x86-64 CPU (user mode may read it unless the kernel forbids it, which
        // Linux does not by default) and only reads the counter.
        unsafe {
            std::arch::x86_64::_rdtsc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated machine: a counter at `hz` ticks per second of true time, a real-time clock whose rate is off
    /// true time by `slew_ppm` (as NTP slews it), read every `step` of true time for `length`.
    fn worst_error(hz: f64, slew_ppm: impl Fn(f64) -> f64, step_ns: u64, length_ns: u64) -> u64 {
        let clock = CounterClock::new();
        let start = 1_790_000_000_000_000_000u64;
        let (mut real, mut worst, mut t) = (start as f64, 0u64, 0u64);
        while t <= length_ns {
            let ticks = 1_000_000 + (t as f64 * hz / 1e9) as u64;
            let now = real as u64;
            let read = clock.read(ticks, || now);
            worst = worst.max(read.abs_diff(now));
            t += step_ns;
            real += step_ns as f64 * (1.0 + slew_ppm(t as f64 / 1e9) / 1e6);
        }
        worst
    }

    #[test]
    fn over_a_fifteen_minute_invocation_the_counter_stays_within_a_millisecond_of_the_real_time_clock() {
        const FIFTEEN_MINUTES: u64 = 15 * 60 * 1_000_000_000;
        // A counter 50 ppm off its nominal rate, and NTP slewing at its limit (500 ppm) one way, then the other.
        let slew = |secs: f64| if secs < 450.0 { 500.0 } else { -500.0 };
        let worst = worst_error(2.6e9 * (1.0 + 50e-6), slew, 1_000_000, FIFTEEN_MINUTES);
        assert!(worst <= 1_000_000, "worst error {worst} ns");
        // A steady clock: far closer than that.
        let worst = worst_error(3.0e9, |_| 0.0, 997_000, FIFTEEN_MINUTES);
        assert!(worst <= 5_000, "worst error {worst} ns");
    }

    #[test]
    fn before_calibration_the_real_time_clock_is_used_and_after_it_the_counter() {
        let clock = CounterClock::new();
        let realtime_reads = std::cell::Cell::new(0);
        let read = |ticks: u64, now: u64| {
            clock.read(ticks, || {
                realtime_reads.set(realtime_reads.get() + 1);
                now
            })
        };
        assert_eq!(read(0, 5_000_000_000), 5_000_000_000);
        assert_eq!(read(1_000_000, 5_001_000_000), 5_001_000_000, "1 ms in: not calibrated yet");
        // 20 ms at 1 tick per ns: calibrated, 1 ns per tick.
        assert_eq!(read(20_000_000, 5_020_000_000), 5_020_000_000);
        let before = realtime_reads.get();
        assert_eq!(read(20_000_500, 0), 5_020_000_500, "from the counter, without the real-time clock");
        assert_eq!(realtime_reads.get(), before);
    }

    #[test]
    fn a_stepped_real_time_clock_or_a_counter_going_back_is_followed_at_the_next_anchor() {
        let clock = CounterClock::new();
        clock.read(0, || 1_000_000_000_000);
        clock.read(50_000_000, || 1_000_050_000_000);
        // NTP steps the clock 2 s ahead: the next anchor (due 100 ms on) takes it, with the old rate.
        assert_eq!(clock.read(200_000_000, || 1_002_200_000_000), 1_002_200_000_000);
        assert_eq!(clock.read(200_000_100, || 0), 1_002_200_000_100);
        // The counter goes back (another CPU's, a migration): the real-time clock answers.
        assert_eq!(clock.read(1_000, || 1_002_300_000_000), 1_002_300_000_000);
    }

    #[test]
    fn now_follows_the_real_time_clock() {
        for _ in 0..3 {
            let ours = Timestamp::now().as_micros();
            let real = realtime_nanos() / 1_000;
            assert!(ours.abs_diff(real) <= 1_000, "{ours} vs {real}");
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
    }
}
