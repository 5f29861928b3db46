//! The target PostgreSQL: connecting to it as every command does.

use pgcutover_postgres::Target;
/// A session on the target, as [`connect`] opens it: what callers hold between phases.
pub use tokio_postgres::Client;

use crate::exit::{Exit, ExitCode};

pub async fn connect(target: &Target) -> Result<Client, Exit> {
    target.connect().await.map_err(|e| {
        Exit::new(
            ExitCode::CANNOT_CONNECT,
            e,
            Some("check that PostgreSQL runs and listens there, and the user and password (PGPASSWORD or ~/.pgpass; never put a password on the command line)".to_owned()),
        )
    })
}

/// How a transaction's body wants it to end.
pub enum End<T> {
    Commit(T),
    /// Nothing of it is kept (a read-only look, or a refusal found inside it).
    Rollback(T),
}

/// Runs `body` in one transaction on `client`: BEGIN, the body, then COMMIT or ROLLBACK as
/// the body says. A body that fails is rolled back, and its error returned. (tokio-postgres's
/// own `Transaction` needs the client mutably, which the shared connections here are not.)
pub async fn transaction<T>(
    client: &Client,
    body: impl AsyncFnOnce() -> anyhow::Result<End<T>>,
) -> anyhow::Result<T> {
    client.batch_execute("BEGIN").await?;
    match body().await {
        Ok(End::Commit(v)) => {
            client.batch_execute("COMMIT").await?;
            Ok(v)
        }
        Ok(End::Rollback(v)) => {
            client.batch_execute("ROLLBACK").await?;
            Ok(v)
        }
        Err(e) => {
            // The error that matters is the body's; a failed ROLLBACK means the connection
            // is gone, and the transaction with it.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}
