//! Exit statuses: 0 ok; 1 an integrity check failed, `compare` found a
//! regression, or the harness broke; 2 bad input (one line on stderr).

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
}

/// Bad input.
pub const INPUT: u8 = 2;
/// An integrity failure, a regression, or a broken harness.
pub const FAILED: u8 = 1;

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
    }
}

/// The status for a command line clap refused (or help, which is 0).
pub fn from_clap(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}
