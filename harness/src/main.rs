//! The `upbench` binary: parse, run, print the error chain once, exit non-zero on failure.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match upbench::cli::run(upbench::cli::Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("upbench: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
