//! Sizes on the command line (`8M`, `1.5GiB`, `50MB/s`) and the optional bandwidth limit.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub use cityflow::cli::parse_size;

/// A pacing limiter shared by every transfer of a run: each chunk reserves its slot in a
/// single timeline at `bytes_per_s`, so the average rate never exceeds the limit.
#[derive(Debug)]
pub struct Limiter {
    bytes_per_s: u64,
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    pub fn new(bytes_per_s: u64) -> Limiter {
        Limiter {
            bytes_per_s: bytes_per_s.max(1),
            next: Mutex::new(None),
        }
    }

    /// Waits until `n` more bytes may go.
    pub async fn take(&self, n: u64) {
        let start = {
            let mut next = self.next.lock().expect("limiter lock");
            let now = Instant::now();
            let start = next.map_or(now, |t| t.max(now));
            *next = Some(start + Duration::from_secs_f64(n as f64 / self.bytes_per_s as f64));
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// Waits for `n` bytes of budget when there is a limit.
pub async fn pace(limiter: Option<&Limiter>, n: u64) {
    if let Some(l) = limiter {
        l.take(n).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8M").unwrap(), 8 << 20);
        assert_eq!(parse_size("8MiB").unwrap(), 8 << 20);
        assert_eq!(parse_size("8 MB").unwrap(), 8 << 20);
        assert_eq!(parse_size("50MB/s").unwrap(), 50 << 20);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("500k").unwrap(), 500 << 10);
        assert!(parse_size("0").is_err());
        assert!(parse_size("fast").is_err());
        assert!(parse_size("3X").is_err());
    }

    #[test]
    fn the_limiter_paces_the_average_rate() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = Limiter::new(10_000);
            let t0 = Instant::now();
            for _ in 0..5 {
                l.take(500).await;
            }
            // Five slots of 50 ms: the fifth starts at 200 ms.
            let e = t0.elapsed();
            assert!(e >= Duration::from_millis(200), "{e:?}");
            assert!(e < Duration::from_millis(400), "{e:?}");
        });
    }
}
