//! kamikarte (紙カルテ, "paper chart"): a downtime tool for hospitals whose electronic health
//! record is down. See ARCHITECTURE.md for the layers: `domain` ← `store` ← workflows (`census`)
//! ← `ui` and `cli`.

pub mod assets;
pub mod auth;
pub mod census;
pub mod cli;
pub mod csv_in;
pub mod demo;
pub mod digest;
pub mod domain;
pub mod downtime;
pub mod entry;
pub mod files;
pub mod form;
pub mod handoff;
pub mod logging;
pub mod parallel;
pub mod print;
pub mod scan;
pub mod snapshot;
pub mod station;
pub mod store;
#[cfg(feature = "gui")]
pub mod ui;
