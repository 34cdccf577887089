//! The run document's types now live in [`crate::document`]; this path
//! re-exports them for the exporters.

pub use crate::document::*;
