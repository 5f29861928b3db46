//! Transient faults: which errors are worth another try, and the backoff between tries.
//!
//! A lost connection, a server that restarts or is starting up, a timeout, a deadlock or a
//! serialization failure on either side is transient. A chunk or a step that fails that way
//! is rolled back (nothing of it was committed), and tried again on a new connection after
//! 0.5 s, 1 s, 2 s … (at most 30 s between tries). When the tries run out the run stops with
//! the "interrupted, resumable" exit code: everything committed stays.

use std::time::Duration;

use pgcutover_core::source::{io_fault, SourceError};

use crate::cancel::Cancel;
use crate::observe::Observer;

/// How a unit of work (a chunk, a post-load step) ended under [`Retrying::run`].
pub enum Tried<T, E> {
    Done(T),
    /// Failed for good: a fault that is not transient, or transient once too often.
    Failed {
        error: E,
        fault: Fault,
        tries: u32,
    },
    /// Ctrl-C or SIGTERM; the try in flight was dropped with its connection (and its
    /// transaction).
    Cancelled,
}

/// The one loop every unit of work runs in: connect when there is no connection, try, and on
/// a transient fault drop the connection (the transaction goes with it), announce the pause,
/// wait, and try again on a new one, `retries` times. A cancel stops it at once.
pub struct Retrying<'a> {
    pub retries: u32,
    pub cancel: &'a Cancel,
    pub observer: &'a dyn Observer,
}

impl Retrying<'_> {
    pub async fn run<C, T, E>(
        &self,
        what: &str,
        connection: &mut Option<C>,
        connect: impl AsyncFn() -> Result<C, E>,
        attempt: impl AsyncFn(&C) -> Result<T, E>,
        fault_of: impl Fn(&E) -> Fault,
        show: impl Fn(&E) -> String,
    ) -> Tried<T, E> {
        let mut tries = 0;
        loop {
            tries += 1;
            let tried = async {
                if connection.is_none() {
                    *connection = Some(connect().await?);
                }
                attempt(connection.as_ref().expect("connected above")).await
            };
            let result = tokio::select! {
                r = tried => r,
                _ = self.cancel.cancelled() => return Tried::Cancelled,
            };
            let error = match result {
                Ok(done) => return Tried::Done(done),
                Err(e) => e,
            };
            // Whatever went wrong, the transaction is gone with this connection; the next try
            // starts clean on a new one.
            *connection = None;
            let fault = fault_of(&error);
            if fault != Fault::Transient || tries > self.retries {
                return Tried::Failed {
                    error,
                    fault,
                    tries,
                };
            }
            let pause = backoff(tries);
            self.observer.warn(&format!(
                "{what}: {}; rolled back, trying again in {:.1}s ({tries}/{})",
                show(&error),
                pause.as_secs_f64(),
                self.retries
            ));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.cancel.cancelled() => return Tried::Cancelled,
            }
        }
    }
}

pub use pgcutover_core::source::Fault;

/// The pause before try number `attempt` (1-based): 0.5 s doubling, at most 30 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(10));
    Duration::from_millis(ms.min(30_000))
}

/// Classifies an error by what caused it, looking through its whole chain.
pub fn classify(error: &anyhow::Error) -> Fault {
    // A source error given as context is not in the chain as itself.
    if let Some(e) = error.downcast_ref::<SourceError>() {
        if e.fault == Fault::Resumable {
            return Fault::Resumable;
        }
    }
    let mut fault = Fault::Fatal;
    for cause in error.chain() {
        let f = classify_one(cause);
        if f == Fault::Resumable {
            return f;
        }
        if f == Fault::Transient {
            fault = f;
        }
    }
    fault
}

/// Classifies one error and its sources.
pub fn classify_error(error: &(dyn std::error::Error + 'static)) -> Fault {
    let mut fault = Fault::Fatal;
    let mut cur = Some(error);
    while let Some(e) = cur {
        match classify_one(e) {
            Fault::Resumable => return Fault::Resumable,
            Fault::Transient => fault = Fault::Transient,
            Fault::Fatal => {}
        }
        cur = e.source();
    }
    fault
}

fn classify_one(cause: &(dyn std::error::Error + 'static)) -> Fault {
    if let Some(e) = cause.downcast_ref::<tokio_postgres::Error>() {
        return match e.code() {
            Some(code) if transient_sqlstate(code.code()) => Fault::Transient,
            Some(_) => Fault::Fatal,
            None if e.is_closed() => Fault::Transient,
            // An I/O failure or a timeout shows as its source, further down the chain.
            None => Fault::Fatal,
        };
    }
    // A source's engine classified its own error.
    if let Some(e) = cause.downcast_ref::<SourceError>() {
        return e.fault;
    }
    if let Some(e) = cause.downcast_ref::<std::io::Error>() {
        return io_fault(e);
    }
    Fault::Fatal
}

/// Connection exceptions (class 08), admin shutdown, crash shutdown, cannot connect now
/// (starting up), serialization failure, deadlock, too many connections.
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        let pauses: Vec<u64> = (1..=9).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(
            pauses,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn io_failures_are_transient_and_others_fatal() {
        let reset = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
            .context("copying chunk 3");
        assert_eq!(classify(&reset), Fault::Transient);
        let denied = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(classify(&denied), Fault::Fatal);
        assert_eq!(classify(&anyhow::anyhow!("a bad value")), Fault::Fatal);
    }

    #[test]
    fn a_lost_snapshot_is_resumable_whatever_else_the_chain_says() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
            .context(SourceError::failed("the snapshot is gone").fault(Fault::Resumable));
        assert_eq!(classify(&e), Fault::Resumable);
    }

    #[test]
    fn sqlstates() {
        for c in [
            "08006", "08001", "57P01", "57P03", "40001", "40P01", "53300",
        ] {
            assert!(transient_sqlstate(c), "{c}");
        }
        for c in ["22P02", "23505", "42P01", "57014"] {
            assert!(!transient_sqlstate(c), "{c}");
        }
    }
}
