//! Incremental census search, in memory: the whole census of even a large hospital fits, and a
//! linear scan over precomputed keys answers well inside one frame (see benches/census_search.rs).

use crate::domain::kana::search_key;
use crate::store::PatientRecord;

struct Entry {
    record: PatientRecord,
    id_key: String,
    kana_key: String,
    name_key: String,
}

pub struct CensusIndex {
    entries: Vec<Entry>,
}

impl CensusIndex {
    pub fn new(records: Vec<PatientRecord>) -> Self {
        let entries = records
            .into_iter()
            .map(|record| {
                let p = &record.patient;
                Entry {
                    id_key: search_key(p.id.as_str()),
                    kana_key: search_key(p.kana.as_str()),
                    name_key: p.name.as_str().chars().filter(|c| !c.is_whitespace()).collect(),
                    record,
                }
            })
            .collect();
        Self { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, index: usize) -> &PatientRecord {
        &self.entries[index].record
    }

    /// Positions of the patients matching `query` by ID, kana reading (hiragana, half-width and
    /// romaji-free katakana alike) or kanji name, optionally within one ward. An exact ID match
    /// comes first; the rest keep census order (ward, room, bed).
    pub fn search(&self, query: &str, ward: Option<&str>) -> Vec<usize> {
        let key = search_key(query);
        let in_ward = |e: &Entry| ward.is_none_or(|w| e.record.patient.location.ward == w);
        if key.is_empty() {
            return (0..self.entries.len()).filter(|&i| in_ward(&self.entries[i])).collect();
        }
        let name_query: String = query.chars().filter(|c| !c.is_whitespace()).collect();
        let mut exact = Vec::new();
        let mut others = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if !in_ward(e) {
                continue;
            }
            if e.id_key == key {
                exact.push(i);
            } else if e.id_key.contains(&key)
                || e.kana_key.contains(&key)
                || (!name_query.is_empty() && e.name_key.contains(&name_query))
            {
                others.push(i);
            }
        }
        exact.extend(others);
        exact
    }
}
