//! The people an EHR knows by a staff code (職員コード): the doctors written on the paper and the
//! users who keyed and verified it. The EHR matches orders to its own staff by code, so a name
//! alone (or a login of this program) is what it cannot use. No I/O: the directory is built
//! from the doctors and staff masters by the hand-off.

use std::collections::HashMap;

use super::MasterItem;
use super::kana::search_key;

/// Titles written after (or before) a name on paper: never part of the name the EHR holds.
const TITLES_AFTER: &[&str] =
    &["医師", "先生", "ドクター", "Dr.", "Dr", "看護師", "師長", "主任", "Ns.", "Ns", "さん", "様", "殿"];
const TITLES_BEFORE: &[&str] = &["Dr.", "Dr", "ドクター"];

/// A name as written with its title taken off: `山田医師` → `山田`, `Dr. 山田 太郎` → `山田 太郎`.
/// A title alone is kept (there would be no name left).
pub fn without_title(written: &str) -> String {
    let mut name = written.trim().to_string();
    loop {
        let before = name.clone();
        for title in TITLES_AFTER {
            if let Some(rest) = name.strip_suffix(title)
                && !rest.trim().is_empty()
            {
                name = rest.trim_end().to_string();
            }
        }
        for title in TITLES_BEFORE {
            if let Some(rest) = name.strip_prefix(title)
                && !rest.trim().is_empty()
            {
                name = rest.trim_start().to_string();
            }
        }
        if name == before {
            return name;
        }
    }
}

/// Family and given name, split at the first space of either width (the given name may be
/// empty: paper often carries the family name alone).
pub fn split_name(name: &str) -> (&str, &str) {
    let name = name.trim();
    match name.split_once([' ', '\u{3000}']) {
        Some((family, given)) => (family.trim(), given.trim()),
        None => (name, ""),
    }
}

/// One person as the EHR knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// The EHR's staff code.
    pub code: String,
    /// As the master writes it (`山田 太郎`).
    pub name: String,
    /// The doctor's code in the billing system (医事's ドクターコード, ORCA's Physician_Code) when
    /// it is not the EHR's staff code.
    pub billing: Option<String>,
}

impl StaffMember {
    /// The code the billing system knows this doctor by.
    pub fn billing_code(&self) -> &str {
        self.billing.as_deref().unwrap_or(&self.code)
    }
}

/// How a name written on paper resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A doctor of the master.
    Known(StaffMember),
    /// Not in the master (or more than one doctor fits): the name, title taken off.
    Unknown(String),
}

/// The doctors and staff masters, indexed for the hand-off.
#[derive(Debug, Clone, Default)]
pub struct StaffDirectory {
    doctors: Vec<(StaffMember, Option<String>)>,
    /// Whole name (search key, spaces removed) and reading → doctor.
    by_name: HashMap<String, Vec<usize>>,
    /// Family name → doctors.
    by_family: HashMap<String, Vec<usize>>,
    /// Login of this program → the staff member.
    by_login: HashMap<String, StaffMember>,
}

impl StaffDirectory {
    /// From the doctors master (code, name, kana, `department`) and the staff master (code,
    /// name, `login`).
    pub fn new(doctors: &[MasterItem], staff: &[MasterItem]) -> Self {
        let mut dir = StaffDirectory::default();
        for item in doctors {
            let i = dir.doctors.len();
            let member = StaffMember {
                code: item.code.clone(),
                name: item.name.clone(),
                billing: item.detail("billing").map(str::to_string),
            };
            dir.doctors.push((member, item.detail("department").map(str::to_string)));
            let mut keys = vec![search_key(&item.name)];
            keys.extend(item.kana.as_deref().map(search_key));
            for key in keys {
                dir.by_name.entry(key).or_default().push(i);
            }
            let (family, _) = split_name(&item.name);
            dir.by_family.entry(search_key(family)).or_default().push(i);
        }
        for item in staff {
            if let Some(login) = item.detail("login") {
                dir.by_login.insert(
                    login.to_string(),
                    StaffMember { code: item.code.clone(), name: item.name.clone(), billing: None },
                );
            }
        }
        dir
    }

    /// The staff member behind a login of this program, if the staff master names it.
    pub fn user(&self, login: &str) -> Option<&StaffMember> {
        self.by_login.get(login)
    }

    /// A doctor as written on paper (`佐藤医師`, `佐藤 一郎`, `サトウ`): the whole name or its
    /// reading first; else the family name when exactly one doctor has it, or exactly one of
    /// the department's doctors (`department`: the name or code written on the paper).
    pub fn doctor(&self, written: &str, department: &[&str]) -> Written {
        let name = without_title(written);
        let key = search_key(&name);
        let one = |hits: &[usize]| -> Option<StaffMember> {
            match hits {
                [i] => Some(self.doctors[*i].0.clone()),
                _ => None,
            }
        };
        let by_department = |hits: &[usize]| -> Option<StaffMember> {
            let mine: Vec<usize> = hits
                .iter()
                .copied()
                .filter(|&i| {
                    self.doctors[i].1.as_deref().is_some_and(|d| department.iter().any(|w| w.trim() == d))
                })
                .collect();
            one(&mine)
        };
        let found =
            self.by_name.get(&key).and_then(|hits| one(hits).or_else(|| by_department(hits))).or_else(|| {
                let (family, _) = split_name(&name);
                self.by_family
                    .get(&search_key(family))
                    .and_then(|hits| one(hits).or_else(|| by_department(hits)))
            });
        match found {
            Some(member) => Written::Known(member),
            None => Written::Unknown(name),
        }
    }

    pub fn has_doctors(&self) -> bool {
        !self.doctors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::master_details::Details;

    fn item(code: &str, name: &str, kana: &str, detail: Option<(&str, &str)>) -> MasterItem {
        let mut details = Details::new();
        if let Some((k, v)) = detail {
            details.insert(k.to_string(), v.to_string());
        }
        MasterItem {
            code: code.into(),
            name: name.into(),
            kana: Some(kana.into()),
            unit: None,
            points: None,
            uses: 0,
            details,
        }
    }

    fn directory() -> StaffDirectory {
        StaffDirectory::new(
            &[
                item("D001", "佐藤 一郎", "サトウ イチロウ", Some(("department", "01"))),
                item("D002", "鈴木 花子", "スズキ ハナコ", Some(("department", "01"))),
                item("D003", "鈴木 次郎", "スズキ ジロウ", Some(("department", "20"))),
            ],
            &[item("S100", "事務 太郎", "ジム タロウ", Some(("login", "clerk")))],
        )
    }

    #[test]
    fn titles_never_stay_in_the_name() {
        assert_eq!(without_title("山田医師"), "山田");
        assert_eq!(without_title("山田 太郎 先生"), "山田 太郎");
        assert_eq!(without_title("Dr. 山田"), "山田");
        assert_eq!(without_title("医師"), "医師");
    }

    #[test]
    fn a_doctor_is_found_by_whole_name_reading_or_unique_family_name() {
        let dir = directory();
        let known = |w: &str, d: &[&str]| match dir.doctor(w, d) {
            Written::Known(m) => Some(m.code),
            Written::Unknown(_) => None,
        };
        assert_eq!(known("佐藤医師", &[]).as_deref(), Some("D001"));
        assert_eq!(known("佐藤　一郎", &[]).as_deref(), Some("D001"));
        assert_eq!(known("スズキ ハナコ", &[]).as_deref(), Some("D002"));
        // Two doctors named 鈴木: only the department tells them apart.
        assert_eq!(known("鈴木医師", &[]), None);
        assert_eq!(known("鈴木医師", &["20"]).as_deref(), Some("D003"));
        assert_eq!(dir.doctor("高橋医師", &[]), Written::Unknown("高橋".into()));
    }

    #[test]
    fn users_are_found_by_login() {
        assert_eq!(directory().user("clerk").unwrap().code, "S100");
        assert!(directory().user("nurse").is_none());
    }
}
