//! The `sitewarden` binary: a thin shell over the library crates.
//! `main` → `try_main` → exit code; every command lives in `commands/`.

mod cli;
mod commands;
mod output;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: the gateway's proxied path
/// allocates and frees many small buffers per request (pingora's headers,
/// tasks, body chunks), and glibc's malloc took 11% of its CPU under load
/// (`_int_malloc`, `_int_free`, `malloc_consolidate`); with mimalloc the
/// gateway serves 8–10% more requests per CPU second (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::init_logging(cli.verbose);
    match try_main(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn try_main(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(commands::run(cli.command))
}
