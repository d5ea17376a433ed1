//! SIGINT (Ctrl-C) and SIGTERM during a transfer: the tools stop starting new work, give the
//! requests in flight [`GRACE`] to finish (then abort them), save their ledger and exit 130
//! (SIGINT) or 143 (SIGTERM). A re-run converges: what was confirmed is in the ledger, the rest
//! is sent again (puts are idempotent, multipart uploads resume).

use std::time::Duration;

use cityflow::error::Exit;
use std::sync::OnceLock;

use tokio::signal::unix::{signal, Signal as Stream, SignalKind};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinError, JoinSet};

/// How long requests in flight may still take after a signal before they are aborted.
pub const GRACE: Duration = Duration::from_secs(5);

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn exit(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Signals received so far (count), and the first one.
static SEEN: OnceLock<watch::Sender<u32>> = OnceLock::new();
static FIRST: OnceLock<Signal> = OnceLock::new();

/// Catches SIGINT and SIGTERM from now on (their default action, dying at once, no longer
/// applies): call it first thing in the runtime of a run. Idempotent.
pub fn install() {
    if SEEN.get().is_some() {
        return;
    }
    let (tx, _) = watch::channel(0u32);
    if SEEN.set(tx).is_err() {
        return;
    }
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::spawn(async move {
        loop {
            let sig = tokio::select! {
                () = next(&mut int) => Signal::Interrupt,
                () = next(&mut term) => Signal::Terminate,
            };
            let _ = FIRST.set(sig);
            if let Some(tx) = SEEN.get() {
                tx.send_modify(|n| *n += 1);
            }
        }
    });
}

async fn next(s: &mut Option<Stream>) {
    match s {
        Some(s) => {
            if s.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// The first signal received, if any.
pub fn received() -> Option<Signal> {
    FIRST.get().copied()
}

/// Waits for signals: a loop selects on [`Signals::next`].
pub struct Signals {
    rx: Option<watch::Receiver<u32>>,
}

impl Signals {
    /// From now on; a signal already received is reported at once.
    pub fn listen() -> Signals {
        let rx = SEEN.get().map(|tx| {
            let mut rx = tx.subscribe();
            if *rx.borrow() > 0 {
                rx.mark_changed();
            }
            rx
        });
        Signals { rx }
    }

    /// The next signal and how many came so far (1: the first; more: stop at once). Never
    /// resolves without [`install`].
    pub async fn next(&mut self) -> (Signal, u32) {
        let Some(rx) = &mut self.rx else {
            return std::future::pending().await;
        };
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
        let n = *rx.borrow_and_update();
        (received().unwrap_or(Signal::Terminate), n)
    }
}

/// Joins the tasks of a transfer while listening for signals. The first signal closes `sem` (no
/// new request) and gives the tasks in flight [`GRACE`] before aborting them; a second one aborts
/// them at once. `on_signal` is told every signal as it comes.
pub struct Stopping {
    signals: Signals,
    grace_until: Option<tokio::time::Instant>,
}

impl Stopping {
    pub fn listen() -> Stopping {
        Stopping {
            signals: Signals::listen(),
            grace_until: None,
        }
    }

    /// The next task to finish (None: all done), signals handled on the way.
    pub async fn join_next<T: 'static>(
        &mut self,
        tasks: &mut JoinSet<T>,
        sem: &Semaphore,
        mut on_signal: impl FnMut(Signal),
    ) -> Option<Result<T, JoinError>> {
        loop {
            let far = tokio::time::Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                j = tasks.join_next() => return j,
                (sig, n) = self.signals.next() => {
                    on_signal(sig);
                    if n > 1 {
                        tasks.abort_all();
                    } else {
                        sem.close();
                        self.grace_until = Some(tokio::time::Instant::now() + GRACE);
                        tracing::warn!(
                            "{}: no new request; the ones in flight get {} s to finish",
                            sig.name(),
                            GRACE.as_secs()
                        );
                    }
                }
                () = tokio::time::sleep_until(self.grace_until.unwrap_or(far)), if self.grace_until.is_some() => {
                    self.grace_until = None;
                    tasks.abort_all();
                }
            }
        }
    }
}
