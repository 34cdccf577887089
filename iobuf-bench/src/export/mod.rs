//! Exports of a run. The JSON document's types live in
//! [`crate::document`]; `meta` comes from
//! [`crate::host`].

pub mod atomic;
pub mod bmf;
pub mod github;
pub mod markdown;
pub mod spread;
