use rusqlite_migration::{M, Migrations};

/// Append only: a released migration is never edited, a change is a new one.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("sql/001_initial.sql")),
        M::up(include_str!("sql/002_users.sql")),
        M::up(include_str!("sql/003_printed_pages.sql")),
        M::up(include_str!("sql/004_downtime.sql")),
        M::up(include_str!("sql/005_scanned_pages.sql")),
        M::up(include_str!("sql/006_masters.sql")),
        M::up(include_str!("sql/007_entries.sql")),
        M::up(include_str!("sql/008_handoff.sql")),
        M::up(include_str!("sql/009_trust.sql")),
        M::up(include_str!("sql/010_ehr_identity.sql")),
        M::up(include_str!("sql/011_master_details.sql")),
        M::up(include_str!("sql/012_billing.sql")),
        M::up(include_str!("sql/013_insurance_reference.sql")),
        M::up(include_str!("sql/014_snapshot.sql")),
        M::up(include_str!("sql/015_packets.sql")),
        M::up(include_str!("sql/016_stations.sql")),
    ])
}

/// How many migrations there are (the schema version they make).
pub fn count() -> i64 {
    migrations_count()
}

fn migrations_count() -> i64 {
    include_str!("migrations.rs").matches("M::up(include_str!").count() as i64 - 1
}
