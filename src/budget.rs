//! The memory budget of a run (`--memory-limit`): what the state of its reading may use.
//!
//! The state that grows with the span is the road counters' (one accumulator per arc and day,
//! [`ARC_DAY_BYTES`] each). A run arms the budget with [`arm`]; the road-counter accumulators
//! [`charge`] each arc-day they create; once the budget is spent they stop creating any and only
//! note which arc-days exist (a census, a few bits per arc and day). The pipeline then plans
//! windows of days that fit ([`plan_windows`]) and reads them one after the other. One run at
//! a time per process: the budget is process-wide (the readers run on many threads).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use chrono::{Days, NaiveDate};

/// Memory of one arc-day of road-counter state, all included: its 25 packed hourly slots, its
/// box and map entry, its share of the day's metrics when they are built (measured: 1.06 GB
/// peak for 3.67 M arc-days, BENCHMARKS.md).
pub const ARC_DAY_BYTES: u64 = 300;

/// What a run uses besides its state: the program, reference data, read buffers (a few MB per
/// thread), one day's outputs being written.
pub const RESERVE_BYTES: u64 = 160 << 20;

/// The smallest budget accepted: the reserve and room for a day of the whole Paris network
/// (3,400 arcs) many times over.
pub const MIN_LIMIT: u64 = 256 << 20;

/// Test and benchmark switch: the state's budget in bytes, whatever `--memory-limit` (small
/// trees then go window by window too).
pub const STATE_BYTES_VAR: &str = "CITYFLOW_STATE_BYTES";

/// The state a run with `limit` may hold.
pub fn state_bytes(limit: u64) -> u64 {
    let forced = std::env::var(STATE_BYTES_VAR).ok();
    match forced.and_then(|v| v.trim().parse().ok()) {
        Some(n) => n,
        None => limit.saturating_sub(RESERVE_BYTES),
    }
}

/// The default budget: half of the memory the process may use (the cgroup's limit in a
/// container, else the machine's), at least 512 MB.
pub fn default_limit() -> u64 {
    let machine = meminfo_total().unwrap_or(4 << 30);
    let limit = cgroup_limit().map_or(machine, |c| c.min(machine));
    (limit / 2).max(512 << 20)
}

fn meminfo_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes` (None: no limit).
fn cgroup_limit() -> Option<u64> {
    for p in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        if let Ok(t) = std::fs::read_to_string(p) {
            if let Ok(n) = t.trim().parse::<u64>() {
                // v1 says "no limit" with a huge number.
                return (n < 1 << 60).then_some(n);
            }
        }
    }
    None
}

/// What the state of the run in progress may use, and has used (bytes).
struct Budget {
    /// 0: not armed.
    limit: AtomicU64,
    used: AtomicU64,
    spent: AtomicBool,
}

static BUDGET: Budget = Budget {
    limit: AtomicU64::new(0),
    used: AtomicU64::new(0),
    spent: AtomicBool::new(false),
};

/// Arms the budget for a reading pass: its state may use `state_bytes` (0: no limit).
pub fn arm(state_bytes: u64) {
    BUDGET.used.store(0, Relaxed);
    BUDGET.spent.store(false, Relaxed);
    BUDGET.limit.store(state_bytes, Relaxed);
}

/// Turns the budget off (the windows of a run are planned to fit).
pub fn disarm() {
    arm(0);
}

/// `n` arc-days were created.
pub fn charge(n: u64) {
    let limit = BUDGET.limit.load(Relaxed);
    if n == 0 || limit == 0 {
        return;
    }
    let used = BUDGET.used.fetch_add(n * ARC_DAY_BYTES, Relaxed) + n * ARC_DAY_BYTES;
    if used > limit && !BUDGET.spent.swap(true, Relaxed) {
        tracing::info!(
            "memory budget: the road-counter state reached {} MB; counting the arc-days only, \
             to plan windows",
            used >> 20
        );
    }
}

/// Whether the budget is spent: no new arc-day may be created.
pub fn spent() -> bool {
    BUDGET.spent.load(Relaxed)
}

/// Windows of days `[first, last]` whose state fits `state_bytes`: a window's arc-days and
/// those of the `lookback` days before it (read for comparisons) together; a day that does
/// not fit alone is a window of its own. `arc_days`: the census, per day.
pub fn plan_windows(
    days: &[NaiveDate],
    arc_days: &BTreeMap<NaiveDate, u64>,
    lookback: u64,
    state_bytes: u64,
) -> Vec<(NaiveDate, NaiveDate)> {
    let cap = (state_bytes / ARC_DAY_BYTES).max(1);
    let weight = |a: NaiveDate, b: NaiveDate| -> u64 {
        let from = a.checked_sub_days(Days::new(lookback)).unwrap_or(a);
        arc_days.range(from..=b).map(|(_, n)| n).sum()
    };
    let mut windows = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let start = days[i];
        let mut end = i;
        while end + 1 < days.len() && weight(start, days[end + 1]) <= cap {
            end += 1;
        }
        windows.push((start, days[end]));
        i = end + 1;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn windows_fit_with_their_lookback() {
        // 10 days of 100 arc-days; room for 350 arc-days; look-back 2 days.
        let days: Vec<NaiveDate> = (1..=10).map(|i| d(&format!("2024-01-{i:02}"))).collect();
        let census: BTreeMap<NaiveDate, u64> = days.iter().map(|d| (*d, 100)).collect();
        let w = plan_windows(&days, &census, 2, 350 * ARC_DAY_BYTES);
        // By hand: [1..3] (300, nothing before), then [4..4]: 2 look-back days + 1 = 300, a
        // second day would be 400; and so on, one day per window.
        assert_eq!(w[0], (d("2024-01-01"), d("2024-01-03")));
        assert_eq!(w[1], (d("2024-01-04"), d("2024-01-04")));
        assert_eq!(w.len(), 1 + 7);
        // Every day in exactly one window, in order.
        let covered: Vec<NaiveDate> = w
            .iter()
            .flat_map(|(a, b)| days.iter().copied().filter(move |x| a <= x && x <= b))
            .collect();
        assert_eq!(covered, days);
        // A day too big alone is a window of its own; everything fits in one.
        let w = plan_windows(&days, &census, 2, ARC_DAY_BYTES);
        assert_eq!(w.len(), 10);
        assert_eq!(plan_windows(&days, &census, 7, u64::MAX).len(), 1);
    }

    #[test]
    fn the_default_is_half_the_memory_at_least_512_mb() {
        let l = default_limit();
        assert!(l >= 512 << 20);
        if let Some(m) = meminfo_total() {
            assert!(l <= (m / 2).max(512 << 20));
        }
    }
}
