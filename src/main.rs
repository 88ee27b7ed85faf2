//! The `vitals` server binary.

use clap::{CommandFactory, Parser};
use std::process::ExitCode;
use vitals::server::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VITALS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Token) => {
            println!("{}", vitals::server::http::token::random_token());
            return ExitCode::SUCCESS;
        }
        Some(Command::Emit(args)) => return vitals::server::jobs::cli::run(args, &cli).await,
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "vitals",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => {
            let page = clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout());
            return match page {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vitals: cannot write the man page: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        None => {}
    }
    let running = match vitals::server::boot::start(cli).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("vitals: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Vitals is serving on http://{}", running.addr);
    println!(
        "vitals: open-files limit {}; at most {} connections at once",
        running.open_files_limit,
        running.connections.cap()
    );
    match running.serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vitals: {e}");
            ExitCode::FAILURE
        }
    }
}
