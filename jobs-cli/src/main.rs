//! `jobs`: the command line for a jobs-redis store. Look at queues, list and show jobs,
//! retry, delete, purge and cancel them, pause queues, follow events, wait for an end.
//!
//! Layout: `cli.rs` holds the arguments (one enum variant per subcommand), `connect.rs`
//! turns the global options into a client, `commands/` holds one module per command
//! group, `view.rs` the JSON shapes, `render.rs` the human formatting, `exit.rs` the exit
//! codes and error messages. Adding a subcommand: a variant in [`cli::Command`], a module
//! in `commands/`, one arm in [`run`].

mod cli;
mod commands;
mod connect;
mod exit;
mod parse;
mod render;
mod view;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit::report(&cli.global.shown_url(), &e.into()),
    };
    match runtime.block_on(run(cli.clone())) {
        Ok(exit) => exit.into(),
        Err(e) => exit::report(&cli.global.shown_url(), &e),
    }
}

/// Connects and runs one command; what it returns is the exit status.
async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let client = connect::client(&cli.global).await?;
    match cli.command {
        Command::Stats(args) => commands::stats::run(&client, args).await,
        Command::List(args) => commands::list::run(&client, args).await,
        Command::Show(args) => commands::show::run(&client, args).await,
        Command::Retry(args) => commands::modify::retry(&client, args).await,
        Command::Delete(args) => commands::modify::delete(&client, args).await,
        Command::Purge(args) => commands::modify::purge(&client, args).await,
        Command::Cancel(args) => commands::modify::cancel(&client, args).await,
        Command::Pause(args) => commands::modify::pause(&client, args, true).await,
        Command::Resume(args) => commands::modify::pause(&client, args, false).await,
        Command::Events(args) => commands::events::run(&client, args).await,
        Command::Wait(args) => commands::wait::run(&client, args).await,
        Command::Workers(args) => commands::workers::run(&client, args).await,
        Command::Web(args) => commands::web::run(client, args).await,
    }
}
