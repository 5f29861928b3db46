//! Which run this invocation is (docs/resume.md). A run is known by its fingerprint: the
//! source, the mode, the options that change the result, and a hash of the DDL. The target's
//! run state says whether a run of this schema is there and what becomes of it: the same run
//! resumes; an unfinished run of another fingerprint refuses; `restart` throws it away and
//! `drop_existing` replaces a complete one; otherwise this is a new run, and the target must
//! be able to take it ([`crate::create::check_target`]). All of this is decided before
//! anything is written.
//!
//! The run's own session holds its lock (one pgcutover per schema) for as long as it goes;
//! [`keep_control`] opens a new one when the server was restarted under it.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use pgcutover_core::source::Source;
use pgcutover_core::{show_ident, Schema};
use pgcutover_postgres::ddl::{self, Step};
use pgcutover_postgres::Target;
use tokio_postgres::Client;

use crate::data_only::DataOnly;
use crate::exit::{Exit, ExitCode};
use crate::observe::Observer;
use crate::rejects::RejectLog;
use crate::settings::CopySettings;
use crate::state::{self, RunStatus};

/// What makes this run this run (see [`state::Fingerprint`]).
pub fn fingerprint(
    settings: &CopySettings,
    source: &dyn Source,
    target: &Target,
    schema: &Schema,
    steps: &[Step],
) -> state::Fingerprint {
    use sha2::{Digest, Sha256};
    let source = source.identity();
    let mut h = Sha256::new();
    let schema_name = &settings.target_schema;
    for e in &schema.enums {
        h.update(ddl::create_enum(schema_name, e).as_bytes());
        h.update(b"\n");
    }
    for t in &schema.tables {
        h.update(ddl::create_table(schema_name, t).as_bytes());
        h.update(b"\n");
        h.update(ddl::copy_in(schema_name, t).as_bytes());
        h.update(b"\n");
    }
    for s in steps {
        // An identity's step names the source's next AUTO_INCREMENT value, which every insert
        // into a live source moves: the step is part of the run, its value is not.
        if s.kind == ddl::StepKind::Identity {
            h.update(format!("identity {} {}", s.table, s.object).as_bytes());
        } else {
            h.update(s.sql.as_bytes());
        }
        h.update(b"\n");
    }
    state::Fingerprint {
        // The workspace's version, which every crate of it shares with the binary.
        version: env!("CARGO_PKG_VERSION").to_owned(),
        source,
        target: target.display().to_owned(),
        target_schema: schema_name.clone(),
        mode: settings.mode.name().to_owned(),
        options: settings.fingerprint_options.clone(),
        schema_hash: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// What this invocation does, decided before anything is written.
pub struct Decision {
    /// The recorded run this invocation goes on with; `None`: it starts a new one.
    pub previous: Option<state::Run>,
    /// What the complete run that `drop_existing` replaces had created: dropped with this
    /// run's own names, so nothing of it (a table this run no longer copies, an enum type, a
    /// trigger function) is left behind to make the new run fail.
    pub replaced: Option<state::Created>,
    /// The rejects file: a resumed run's keeps the lines of the chunks that are done.
    pub rejects: Arc<RejectLog>,
    /// Some chunk is left to copy, so the readers start.
    pub readers_needed: bool,
}

impl Decision {
    pub fn resuming(&self) -> bool {
        self.previous.is_some()
    }

    /// 1 for the invocation that starts a run, then 2, 3 … for each resume.
    pub fn attempt(&self) -> i32 {
        self.previous.as_ref().map_or(1, |r| r.attempts + 1)
    }
}

/// Takes the run (the state tables, the lock) and decides, from the run the target records,
/// whether this invocation resumes it, or starts a new run on a target that can take it.
pub async fn decide(
    client: &Client,
    settings: &CopySettings,
    fingerprint: &state::Fingerprint,
    schema: &Schema,
    steps: &[Step],
    data_only: Option<&DataOnly>,
    observer: &dyn Observer,
) -> Result<Decision, Exit> {
    take_the_run(client, &settings.target_schema).await?;
    let recorded = state::load(client, &settings.target_schema).await?;
    let (previous, replaced) = match recorded {
        None => (None, None),
        Some(run) => match settle(client, settings, fingerprint, &run, observer).await? {
            Recorded::Resume => (Some(run), None),
            Recorded::StartOver => (None, None),
            Recorded::Replace(created) => (None, Some(created)),
        },
    };
    let (rejects, readers_needed) = match &previous {
        Some(run) => pick_up(client, settings, run, observer).await?,
        None => {
            crate::create::check_target(client, settings, schema, steps, data_only).await?;
            (
                Arc::new(RejectLog::new(settings.rejects.clone())),
                !settings.schema_only() && !schema.tables.is_empty(),
            )
        }
    };
    Ok(Decision {
        previous,
        replaced,
        rejects,
        readers_needed,
    })
}

/// Makes the run-state tables if needed and takes the one-run-at-a-time lock on the schema.
async fn take_the_run(client: &Client, schema_name: &str) -> Result<(), Exit> {
    state::ensure(client)
        .await
        .context("creating the run state schema in the target")?;
    if !state::lock(client, schema_name)
        .await
        .context("taking the run's lock")?
    {
        return Err(Exit::new(
            ExitCode::TARGET_NOT_EMPTY,
            anyhow!(
                "another pgcutover is running against schema {} of this database",
                show_ident(schema_name)
            ),
            Some(
                "wait for it to finish, or stop it; `pgcutover status TARGET` shows its progress"
                    .to_owned(),
            ),
        ));
    }
    Ok(())
}

/// What becomes of the run the target records.
enum Recorded {
    /// This invocation goes on with it (the same fingerprint).
    Resume,
    /// It is gone (`restart`) or was only a record (a complete run of another fingerprint).
    StartOver,
    /// A complete run `drop_existing` replaces, with what it had created.
    Replace(state::Created),
}

/// Settles the recorded `run` against this invocation's fingerprint and settings; refuses an
/// unfinished run it cannot resume, and a replacement that would destroy rows written since
/// the run completed (unless `force`).
async fn settle(
    client: &Client,
    settings: &CopySettings,
    fingerprint: &state::Fingerprint,
    run: &state::Run,
    observer: &dyn Observer,
) -> Result<Recorded, Exit> {
    let schema_name = settings.target_schema.as_str();
    let differences = run.fingerprint.differences(fingerprint);
    if settings.restart {
        // --restart destroys what the run loaded: say what, and refuse (as reset does)
        // when the tables were written after the run completed.
        let list = crate::undo::list(client, schema_name, run, false).await?;
        let lines = list.lines();
        observer.info(&format!("--restart: throwing away {}:", lines[0]));
        for line in &lines[1..] {
            observer.info(line);
        }
        list.refuse_unless(
            settings.force,
            "--restart would destroy those rows. Add --force to start over anyway, or copy into another --target-schema",
        )?;
        crate::undo::undo(client, schema_name, run, observer, settings.force, list).await?;
        state::ensure(client)
            .await
            .context("creating the run state schema in the target")?;
        Ok(Recorded::StartOver)
    } else if !differences.is_empty() && run.status != RunStatus::Complete {
        Err(Exit::new(
            ExitCode::TARGET_NOT_EMPTY,
            anyhow!(
                "schema {} holds an unfinished run (started {}) that this command cannot resume:\n  - {}",
                show_ident(schema_name),
                run.started_at,
                differences.join("\n  - ")
            ),
            Some("nothing was written. Run the command that started it to finish it, --restart to throw it away and start over, or `pgcutover reset TARGET` to remove it (see docs/resume.md)".to_owned()),
        ))
    } else if run.status == RunStatus::Complete && settings.drop_existing {
        // --drop-existing asks for the copy to be made again: it replaces the run, and
        // drops all it created, unless the tables were written since it completed.
        let list = crate::undo::list(client, schema_name, run, false).await?;
        list.refuse_unless(
            settings.force,
            "--drop-existing would destroy those rows. Add --force to replace them anyway, or copy into another --target-schema",
        )?;
        let lines = list.lines();
        observer.info(&format!("--drop-existing: replacing {}:", lines[0]));
        for line in &lines[1..] {
            observer.info(line);
        }
        Ok(Recorded::Replace(run.created.clone()))
    } else if !differences.is_empty() {
        // A finished run is a record, not work to protect: this run replaces it. Its
        // tables' rows are, when a data-only --truncate is about to empty them.
        if settings.data_only() && settings.truncate && !settings.force {
            crate::undo::list(client, schema_name, run, false)
                .await?
                .refuse_unless(
                    false,
                    "--truncate would destroy those rows. Add --force to empty the tables anyway",
                )?;
        }
        Ok(Recorded::StartOver)
    } else {
        Ok(Recorded::Resume)
    }
}

/// Picks the recorded run up where it stopped: counts it as resumed, says how far it got, and
/// keeps the rejects of the chunks that are done. Returns the rejects file and whether any
/// chunk is left to copy.
async fn pick_up(
    client: &Client,
    settings: &CopySettings,
    run: &state::Run,
    observer: &dyn Observer,
) -> Result<(Arc<RejectLog>, bool), Exit> {
    let schema_name = settings.target_schema.as_str();
    state::resumed(client, schema_name).await?;
    let chunks = state::chunks(client, schema_name).await?;
    let done: HashSet<(String, i32)> = chunks
        .iter()
        .filter(|c| c.done.is_some())
        .map(|c| (c.plan.table.clone(), c.plan.chunk))
        .collect();
    if run.status == RunStatus::Complete {
        observer.info(&format!(
            "the run started {} is already complete; nothing to do (--restart copies again)",
            run.started_at
        ));
    } else {
        observer.info(&format!(
            "resuming the run started {} (attempt {}): {} of {} chunk(s) done",
            run.started_at,
            run.attempts + 1,
            done.len(),
            chunks.len()
        ));
    }
    let followed_rejects = state::follow_state(client, &settings.target_schema)
        .await?
        .map_or(0, |f| u64::try_from(f.rejects).unwrap_or(0));
    let rejects = Arc::new(
        RejectLog::resume(settings.rejects.clone(), &done, followed_rejects)
            .with_context(|| format!("reading the rejects file {}", settings.rejects.display()))?,
    );
    Ok((rejects, done.len() < chunks.len()))
}

/// Makes sure the run's own session (which holds its lock) is alive, opening a new one with
/// backoff when the server was restarted under it. `Err`: why the run cannot go on now.
pub async fn keep_control(
    target: &Target,
    client: &mut Client,
    schema_name: &str,
    retries: u32,
    observer: &dyn Observer,
) -> Result<(), String> {
    if client.simple_query("SELECT 1").await.is_ok() {
        return Ok(());
    }
    let mut last = String::new();
    for attempt in 1..=retries.max(1) {
        let pause = crate::retry::backoff(attempt);
        observer.warn(&format!(
            "lost the connection to the target; reconnecting in {:.1}s ({attempt}/{})",
            pause.as_secs_f64(),
            retries.max(1)
        ));
        tokio::time::sleep(pause).await;
        match target.connect().await {
            Ok(c) => match state::lock(&c, schema_name).await {
                Ok(true) => {
                    *client = c;
                    return Ok(());
                }
                Ok(false) => last = "another pgcutover took the run's lock".to_owned(),
                Err(e) => last = format!("{e:#}"),
            },
            Err(e) => last = format!("{:#}", anyhow::Error::new(e)),
        }
    }
    Err(format!("lost the connection to the target: {last}"))
}
