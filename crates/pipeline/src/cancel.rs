//! Ctrl-C and SIGTERM: stop taking new work, roll back what is in flight, keep everything
//! committed, and exit with [`ExitCode::INTERRUPTED`](crate::exit::ExitCode::INTERRUPTED).
//! A second signal ends the process at once (the run state still resumes it).

use tokio::sync::watch;

#[derive(Clone)]
pub struct Cancel {
    rx: watch::Receiver<Option<&'static str>>,
}

impl Cancel {
    /// Listens for SIGINT and SIGTERM from now on. `again` says what resumes the run
    /// ("the same command", or after `--restart` the command without it).
    pub fn on_signals(again: String, printer_says: impl Fn(&str) + Send + 'static) -> Cancel {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let name = next_signal().await;
            printer_says(&format!(
                "{name}: stopping; what is committed stays, and running {again} resumes (a second {name} stops at once)"
            ));
            let _ = tx.send(Some(name));
            let again = next_signal().await;
            eprintln!("{again} again: stopping now");
            std::process::exit(i32::from(crate::exit::ExitCode::INTERRUPTED.0));
        });
        Cancel { rx }
    }

    /// The signal that cancelled the run, if one did.
    pub fn reason(&self) -> Option<&'static str> {
        *self.rx.borrow()
    }

    /// Resolves when the run is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

#[cfg(unix)]
async fn next_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

#[cfg(not(unix))]
async fn next_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}
