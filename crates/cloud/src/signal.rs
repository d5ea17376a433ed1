//! SIGINT (Ctrl-C) and SIGTERM during a transfer: the tools stop starting new work, give the
//! requests in flight [`GRACE`] to finish (then abort them), save their ledger and exit 130
//! (SIGINT) or 143 (SIGTERM). A re-run converges: what was confirmed is in the ledger, the rest
//! is sent again (puts are idempotent, multipart uploads resume).

use std::time::Duration;

use cityflow::error::Exit;
use tokio::signal::unix::{signal, Signal as Stream, SignalKind};

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

/// Both signals, caught from [`Signals::listen`] on (their default action, dying at once, no
/// longer applies). Must be called inside the runtime.
pub struct Signals {
    int: Option<Stream>,
    term: Option<Stream>,
}

impl Signals {
    pub fn listen() -> Signals {
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// The next signal (never, if neither could be caught).
    pub async fn recv(&mut self) -> Signal {
        async fn next(s: &mut Option<Stream>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.int) => Signal::Interrupt,
            () = next(&mut self.term) => Signal::Terminate,
        }
    }
}
