//! What ORCA accepted, per visit (`handoff::orca`): the digest of the charges it holds and the
//! Medical_Uid it gave, so a resend sends nothing twice and a correction replaces (or deletes)
//! the pending data ORCA already has.

use std::collections::HashMap;

use super::db::params;
use serde_json::json;

use super::audit::AuditWriter;
use super::{Actor, Result, Store, now_text};

/// One visit as ORCA last accepted it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrcaVisit {
    pub visit: String,
    pub content_sha: String,
    pub medical_uid: String,
    /// `registered`, `replaced` or `deleted`.
    pub state: String,
    pub sent_at: String,
    pub sent_by: String,
    pub api_result: String,
    pub message: String,
}

/// What ORCA accepted for one visit, to record.
#[derive(Debug, Clone, Copy)]
pub struct OrcaAccepted<'a> {
    pub visit: &'a str,
    pub content_sha: &'a str,
    pub medical_uid: &'a str,
    pub state: &'a str,
    pub api_result: &'a str,
    pub message: &'a str,
}

impl Store {
    /// Every visit ORCA accepted, by visit key.
    pub fn orca_visits(&self) -> Result<HashMap<String, OrcaVisit>> {
        let mut stmt = self.conn.prepare(
            "SELECT visit, content_sha, medical_uid, state, sent_at, sent_by, api_result, message FROM orca_visits",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OrcaVisit {
                visit: r.get(0)?,
                content_sha: r.get(1)?,
                medical_uid: r.get(2)?,
                state: r.get(3)?,
                sent_at: r.get(4)?,
                sent_by: r.get(5)?,
                api_result: r.get(6)?,
                message: r.get(7)?,
            })
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let v = row?;
            out.insert(v.visit.clone(), v);
        }
        Ok(out)
    }

    /// Records that ORCA accepted a visit (one transaction with its audit entry): right after
    /// ORCA answered, so a kill between two visits loses nothing ORCA holds.
    pub fn record_orca(&mut self, actor: &Actor, a: &OrcaAccepted<'_>) -> Result<()> {
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        tx.execute(
            "INSERT INTO orca_visits (visit, content_sha, medical_uid, state, sent_at, sent_by, api_result, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (visit) DO UPDATE SET content_sha = ?2, medical_uid = ?3, state = ?4, sent_at = ?5,
                 sent_by = ?6, api_result = ?7, message = ?8",
            params![a.visit, a.content_sha, a.medical_uid, a.state, now_text(), actor.0, a.api_result, a.message],
        )?;
        let detail = json!({ "state": a.state, "medical_uid": a.medical_uid, "api_result": a.api_result });
        audit.append(&tx, actor, "send", "orca_visit", a.visit, None, Some(&detail))?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_visit_is_kept_and_a_replacement_overwrites_it() {
        let mut store = Store::open_in_memory().unwrap();
        let actor = Actor("billing".into());
        let first = OrcaAccepted {
            visit: "0001|2026-11-05|01|10001|O",
            content_sha: "a",
            medical_uid: "uid-1",
            state: "registered",
            api_result: "00",
            message: "登録処理終了",
        };
        store.record_orca(&actor, &first).unwrap();
        store
            .record_orca(
                &actor,
                &OrcaAccepted { content_sha: "b", medical_uid: "uid-2", state: "replaced", ..first },
            )
            .unwrap();
        let all = store.orca_visits().unwrap();
        let v = &all["0001|2026-11-05|01|10001|O"];
        assert_eq!(
            (v.content_sha.as_str(), v.medical_uid.as_str(), v.state.as_str()),
            ("b", "uid-2", "replaced")
        );
        assert_eq!(all.len(), 1);
    }
}
