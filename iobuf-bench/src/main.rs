//! iobuf-bench: how iobuf's pools behave under contention, against what
//! one would otherwise use.
//!
//! The flow: `cli` parses, `plan` resolves the arguments into cases,
//! `bench` runs them, `document` is what a run writes and the other
//! commands read, and `output`, `export`, `report` and `compare` present
//! it. Exit statuses are in `exit`.

mod baselines;
mod bench;
mod cli;
mod commands;
mod compare;
mod document;
mod exit;
mod export;
mod format;
mod host;
mod interrupt;
mod io;
mod measure;
mod output;
mod plan;
mod pools;
mod report;
mod scenario;
mod vs_base;

use cli::Command;
use exit::Failure;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err((text, code)) => {
            if code == 0 {
                if let Err(e) = print_out(&text) {
                    return exit::status(Err(Failure::Output(format!("standard output: {e}"))));
                }
            } else {
                eprintln!("{}", text.trim_end());
            }
            return exit::from_clap(code);
        }
    };
    exit::status(match cli.command {
        Command::Run(args) => commands::run::run(&args),
        Command::List => print_out(&commands::list::text())
            .map_err(|e| Failure::Output(format!("standard output: {e}"))),
        Command::Compare(args) => match compare::run(&args) {
            Ok(0) => Ok(()),
            Ok(_) => Err(Failure::Regression),
            Err(msg) => Err(Failure::Input(msg)),
        },
        Command::Calibrate(args) => commands::calibrate::run(&args),
        Command::Report(args) => report::run(&args).map_err(Failure::Input),
        Command::Export(args) => export::github::run(&args).map_err(Failure::Input),
    })
}

/// Writes to stdout, ignoring a closed pipe (`| head`).
/// Writes `text` to standard output; the error is the caller's to report
/// (exit 3 where the text is a result).
fn print_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}
