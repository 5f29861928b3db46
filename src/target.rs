//! The target PostgreSQL: connecting to it as every command does.

use pgcutover_postgres::Target;
use tokio_postgres::Client;

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
