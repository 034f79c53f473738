//! Incremental census search, in memory: the whole census of even a large hospital fits. The
//! keys of all patients sit in one text, one line per field, and a query is found in it with a
//! single SIMD substring scan (memchr's memmem), so a keystroke over 100,000 patients costs about
//! a millisecond (see benches/census_search.rs).

use memchr::memmem::Finder;

use crate::domain::kana::search_key;
use crate::store::PatientRecord;

pub struct CensusIndex {
    records: Vec<PatientRecord>,
    id_keys: Vec<String>,
    /// For each patient: ID key, kana key and kanji name (no spaces), each ended by '\n'. Keys
    /// hold no white space, so no match can run across two fields or two patients.
    haystack: String,
    /// Where each patient's lines start in `haystack`.
    starts: Vec<usize>,
}

impl CensusIndex {
    pub fn new(records: Vec<PatientRecord>) -> Self {
        let mut haystack = String::new();
        let mut starts = Vec::with_capacity(records.len());
        let mut id_keys = Vec::with_capacity(records.len());
        for r in &records {
            let p = &r.patient;
            starts.push(haystack.len());
            let id_key = search_key(p.id.as_str());
            haystack.push_str(&id_key);
            haystack.push('\n');
            haystack.push_str(&search_key(p.kana.as_str()));
            haystack.push('\n');
            haystack.extend(p.name.as_str().chars().filter(|c| !c.is_whitespace()));
            haystack.push('\n');
            id_keys.push(id_key);
        }
        Self { records, id_keys, haystack, starts }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn get(&self, index: usize) -> &PatientRecord {
        &self.records[index]
    }

    /// Positions of the patients matching `query` by ID, kana reading (hiragana, half-width and
    /// full-width alike) or kanji name, optionally within one ward. An exact ID match comes
    /// first; the rest keep census order (ward, bed).
    pub fn search(&self, query: &str, ward: Option<&str>) -> Vec<usize> {
        let in_ward = |i: usize| ward.is_none_or(|w| self.records[i].patient.location.ward == w);
        let key = search_key(query);
        if key.is_empty() {
            return (0..self.records.len()).filter(|&i| in_ward(i)).collect();
        }
        // The kanji name is matched as typed (not NFKC-folded), the rest by the key.
        let name_query: String = query.chars().filter(|c| !c.is_whitespace()).collect();
        let mut needles = vec![key.as_str()];
        if !name_query.is_empty() && name_query != key {
            needles.push(&name_query);
        }
        let mut hit = vec![false; self.records.len()];
        for needle in needles {
            for offset in Finder::new(needle.as_bytes()).find_iter(self.haystack.as_bytes()) {
                hit[self.starts.partition_point(|&s| s <= offset) - 1] = true;
            }
        }
        let matched = (0..self.records.len()).filter(|&i| hit[i] && in_ward(i));
        let (mut exact, others): (Vec<usize>, Vec<usize>) = matched.partition(|&i| self.id_keys[i] == key);
        exact.extend(others);
        exact
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        BloodType, DateOfBirth, KanaName, KanjiName, Location, Patient, PatientId, PatientStatus, Sex,
    };

    fn record(id: &str, name: &str, kana: &str, ward: &str) -> PatientRecord {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        PatientRecord {
            patient: Patient {
                id: PatientId::parse(id).unwrap(),
                name: KanjiName::parse(name).unwrap(),
                kana: KanaName::parse(kana).unwrap(),
                dob: DateOfBirth::parse("1950-01-01", today).unwrap(),
                sex: Sex::Female,
                blood: BloodType::UNKNOWN,
                location: Location { ward: ward.into(), ..Location::default() },
                department: String::new(),
                allergies: vec![],
            },
            status: PatientStatus::Admitted,
            updated_at: String::new(),
            updated_by: String::new(),
        }
    }

    fn index() -> CensusIndex {
        CensusIndex::new(vec![
            record("1001", "山田 花子", "ヤマダ ハナコ", "5E"),
            record("1002", "田中 一郎", "タナカ イチロウ", "5E"),
            record("2001", "山本 ＪＯＥ", "ヤマモト ジョー", "ICU"),
            record("100", "小山 太郎", "コヤマ タロウ", "ICU"),
        ])
    }

    #[test]
    fn hiragana_half_width_and_katakana_find_the_same_patients() {
        let idx = index();
        for q in ["やま", "ﾔﾏ", "ヤマ", " や ま "] {
            assert_eq!(idx.search(q, None), [0, 2, 3], "{q}");
        }
    }

    #[test]
    fn kanji_and_full_width_latin_match_the_name_and_id() {
        let idx = index();
        assert_eq!(idx.search("山田", None), [0]);
        assert_eq!(idx.search("ＪＯＥ", None), [2]);
        assert_eq!(idx.search("１００２", None), [1]);
    }

    #[test]
    fn an_exact_id_comes_first_and_the_ward_filters() {
        let idx = index();
        assert_eq!(idx.search("100", None), [3, 0, 1]);
        assert_eq!(idx.search("やま", Some("ICU")), [2, 3]);
        assert_eq!(idx.search("", Some("5E")), [0, 1]);
    }

    #[test]
    fn a_match_never_spans_two_fields_or_patients() {
        let idx = index();
        assert!(idx.search("1001ヤマダ", None).is_empty());
        assert!(idx.search("ハナコ1002", None).is_empty());
    }
}
