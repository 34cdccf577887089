//! The subcommands that live in the binary itself: `run` (plan, run the
//! cases, write the document and the table) and `list`.

pub mod list;
pub mod run;
