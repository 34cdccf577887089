//! The subcommands that live in the binary itself: `run` (plan, run the
//! cases, write the document and the table), `calibrate` (the gate's power
//! on this machine) and `list`.

pub mod calibrate;
pub mod list;
pub mod run;
