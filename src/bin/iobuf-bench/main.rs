//! Temporary wiring for the compare, report and export subcommands; the lead
//! merges these modules into the real command line.

mod compare;
mod export;
mod report;
mod results;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "iobuf-bench",
    version,
    about = "Benchmark iobuf's pools under contention"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare a run against a baseline run; exit 1 on a regression.
    Compare(compare::CompareArgs),
    /// Write a self-contained HTML report with SVG plots.
    Report(report::ReportArgs),
    /// Convert a run to another tool's format.
    Export(export::github::ExportArgs),
}

fn main() {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Compare(args) => compare::run(args),
        Command::Report(args) => report::run(args).map(|()| 0),
        Command::Export(args) => export::github::run(args).map(|()| 0),
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(message) => {
            eprintln!("iobuf-bench: {message}");
            std::process::exit(2);
        }
    }
}
