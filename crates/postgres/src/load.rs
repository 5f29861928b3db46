//! Talking to the target during a copy: existing-table checks, COPY streaming, statements.

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, Stream, StreamExt};
use pgcutover_core::Table;
use tokio_postgres::Client;

use crate::copy_encoder::{write_header, write_trailer};
use crate::ddl;

/// Which of `tables` already exist in `schema` on the target.
pub async fn existing_tables(
    client: &Client,
    schema: &str,
    tables: &[&str],
) -> Result<Vec<String>, tokio_postgres::Error> {
    let names: Vec<String> = tables.iter().map(|s| s.to_string()).collect();
    let rows = client
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r','p','v','m','f') ORDER BY 1",
            &[&schema, &names],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The schema the PostGIS extension is installed in, if it is installed in this database.
pub async fn postgis_schema(client: &Client) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = 'postgis'",
            &[],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Why a COPY did not complete. Either way nothing of it was committed.
#[derive(Debug)]
pub enum CopyError<E> {
    Db(tokio_postgres::Error),
    /// The producer failed mid-stream; the COPY was aborted.
    Source(E),
}

/// Streams encoded row batches (each a run of binary COPY rows, no header) into the table.
/// An `Err` item aborts the COPY (the sink is dropped unfinished, which sends CopyFail), so a
/// table is never left half-loaded by a failed reader. Returns the rows PostgreSQL loaded.
pub async fn copy_batches<S, E>(
    client: &Client,
    schema: &str,
    table: &Table,
    batches: S,
) -> Result<u64, CopyError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let sink = client
        .copy_in::<_, Bytes>(&ddl::copy_in(schema, table))
        .await
        .map_err(CopyError::Db)?;
    futures::pin_mut!(sink);
    let mut head = BytesMut::with_capacity(19);
    write_header(&mut head);
    sink.feed(head.freeze()).await.map_err(CopyError::Db)?;
    futures::pin_mut!(batches);
    while let Some(batch) = batches.next().await {
        // send = feed + flush: each batch is already large, so flush it straight through.
        sink.send(batch.map_err(CopyError::Source)?)
            .await
            .map_err(CopyError::Db)?;
    }
    let mut tail = BytesMut::with_capacity(2);
    write_trailer(&mut tail);
    sink.feed(tail.freeze()).await.map_err(CopyError::Db)?;
    sink.finish().await.map_err(CopyError::Db)
}
