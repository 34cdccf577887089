//! What the user sees: progress on stderr while cases run, the summary
//! table on stdout.

pub mod progress;
pub mod table;
