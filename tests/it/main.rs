//! The one integration-test binary (helix's shape): whole workflows through the library, the
//! `kamikarte` binary and the desktop screens. One binary links the app once instead of once per
//! file; `common` holds the fixtures they share. Run one area with `cargo test --test it trust::`.
#![allow(clippy::unwrap_used)] // a test stops at the first failure

mod common;

mod back_entry;
mod billing;
mod census_import;
mod cli;
mod crash_safety;
mod demo_downtime;
mod downtime_cli;
mod entry_cli;
mod handoff;
mod handoff_fhir;
mod handoff_hl7;
mod handoff_identity;
mod handoff_mllp;
mod hub;
mod kit_cli;
mod kit_pdf;
mod masters_cli;
mod omr;
mod scan_import;
mod security;
mod snapshot;
mod stations;
mod trust;
mod ui_census;
mod ui_downtime;
mod ui_entry;
mod ui_kit;
mod ui_pages;
mod ui_reconcile;
