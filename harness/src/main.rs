//! The `upbench` binary: parse, run, print the error chain once, exit non-zero on failure.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match upbench::cli::run(upbench::cli::Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // Whoever read stdout stopped reading (`upbench theory | head -1`): nothing to report.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("upbench: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}
