//! The reader of run documents lives in [`crate::document::read`]; this
//! path re-exports it for the report and the exporters.

pub use crate::document::read::*;
