//! The `vitals` server binary.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VITALS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = vitals::server::config::Cli::parse();
    if cli.command == Some(vitals::server::config::Command::Token) {
        println!("{}", vitals::server::token::random_token());
        return std::process::ExitCode::SUCCESS;
    }
    let running = match vitals::server::start(cli).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("vitals: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("Vitals is serving on http://{}", running.addr);
    match running.serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vitals: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {}
