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
    if cli.command.prints_a_listing() {
        // `sitewarden outbox list | head`: the reader going away ends the
        // listing as it ends any Unix tool's, instead of a panic with a
        // backtrace. Rust ignores SIGPIPE by default, which the servers
        // (serve, gateway, demo) need, so only listings take it back.
        // SAFETY: at the start of main, before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
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
