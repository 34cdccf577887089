//! Exit statuses: 0 ok; 1 an integrity check failed, `compare` found a
//! regression, or the harness broke; 2 bad input (one line on stderr);
//! 3 the results could not be written (`--out`, standard output); 130
//! interrupted (SIGINT), after saying in one line what was written.

use std::process::ExitCode;

/// Why the program stops early.
#[derive(Debug)]
pub enum Failure {
    /// The user asked for something impossible: exit 2.
    Input(String),
    /// The run finished but an integrity check failed: exit 1 (the
    /// details were already printed).
    Integrity,
    /// Something broke while running: exit 1.
    Runtime(String),
    /// `compare` found a regression: exit 1 (its table says which).
    Regression,
    /// Writing the results failed (a full disk, a closed pipe): exit 3.
    Output(String),
    /// SIGINT stopped the run: exit 130 (what was written is already said).
    Interrupted,
}

/// Bad input.
pub const INPUT: u8 = 2;
/// An integrity failure, a regression, or a broken harness.
pub const FAILED: u8 = 1;
/// The results could not be written.
pub const OUTPUT: u8 = 3;
/// Interrupted by SIGINT (128 + the signal's number, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// Prints what `outcome` needs said and gives the process's status.
pub fn status(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(INPUT)
        }
        Err(Failure::Integrity | Failure::Regression) => ExitCode::from(FAILED),
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(FAILED)
        }
        Err(Failure::Output(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(OUTPUT)
        }
        Err(Failure::Interrupted) => ExitCode::from(INTERRUPTED),
    }
}

/// The status for a command line clap refused (or help, which is 0).
pub fn from_clap(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}
