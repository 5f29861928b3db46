//! The `pgcutover` command: parses arguments, runs one subcommand, prints the whole error chain
//! with a hint, and exits with a documented code (see `exit.rs` and README.md).

mod cli;
mod copy_cmd;
mod cutover_cmd;
mod output;
mod plan_cmd;
mod report;
mod run_cmd;
mod verify_cmd;

// The pipeline's modules, under the names the commands use.
use pgcutover_pipeline::{
    cancel, chunks, data_only, exit, integrity, paths, process, readers, source, state, target,
    testpoint, undo,
};

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;
use crate::output::Printer;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::FAILED.0);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Copy(args) => copy_cmd::run(args, &printer).await,
            Command::Plan(args) => plan_cmd::run(args, &printer).await,
            Command::Verify(args) => verify_cmd::run(args, &printer).await,
            Command::Cutover(args) => cutover_cmd::run(args, &printer).await,
            Command::Status(args) => run_cmd::status(args).await,
            Command::Reset(args) => run_cmd::reset(args, &printer).await,
        }
    });
    let code = match result {
        Ok(code) => code,
        // A closed stdout (`pgcutover plan … | head`) is the reader's choice, not a failure.
        Err(exit)
            if exit.error.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::OK
        }
        Err(exit) => {
            // Through for_terminal: an error may quote a name or a server's message.
            eprintln!(
                "{}: {}",
                printer.error_label(),
                output::for_terminal(&exit::error_chain(&exit.error))
            );
            if let Some(hint) = &exit.hint {
                eprintln!("hint: {}", output::for_terminal(hint));
            }
            exit.code
        }
    };
    std::process::ExitCode::from(code.0)
}
