//! Which CSV column holds which field: a small TOML file (see assets/census-mapping.toml).

use crate::domain::FileError;
use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

pub const DEFAULT_MAPPING: &str = include_str!("../../assets/census-mapping.toml");

/// The census fields, in the order a census file lists them by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Id,
    Name,
    Kana,
    Dob,
    Sex,
    BloodType,
    Ward,
    Room,
    Bed,
    Department,
    Allergies,
}

impl Field {
    pub const ALL: [Field; 11] = [
        Field::Id,
        Field::Name,
        Field::Kana,
        Field::Dob,
        Field::Sex,
        Field::BloodType,
        Field::Ward,
        Field::Room,
        Field::Bed,
        Field::Department,
        Field::Allergies,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::Kana => "kana",
            Field::Dob => "dob",
            Field::Sex => "sex",
            Field::BloodType => "blood_type",
            Field::Ward => "ward",
            Field::Room => "room",
            Field::Bed => "bed",
            Field::Department => "department",
            Field::Allergies => "allergies",
        }
    }

    pub fn required(self) -> bool {
        !matches!(self, Field::Room | Field::Bed | Field::Department | Field::Allergies)
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
enum Names {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    id: Option<Names>,
    name: Option<Names>,
    kana: Option<Names>,
    dob: Option<Names>,
    sex: Option<Names>,
    blood_type: Option<Names>,
    ward: Option<Names>,
    room: Option<Names>,
    bed: Option<Names>,
    department: Option<Names>,
    allergies: Option<Names>,
}

/// Header names each field may have.
#[derive(Debug, Clone)]
pub struct ColumnMapping {
    names: HashMap<Field, Vec<String>>,
}

impl ColumnMapping {
    /// Parses a mapping file's text; `origin` names it in errors. A required field left out, an
    /// unknown key or a field with no names is an error.
    pub fn parse(text: &str, origin: &str) -> Result<Self, FileError> {
        let file: MappingFile = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            match e.span() {
                Some(span) => FileError::at_line(
                    origin,
                    text[..span.start.min(text.len())].matches('\n').count() + 1,
                    message,
                ),
                None => FileError::new(origin, message),
            }
        })?;
        let entries = [
            (Field::Id, file.id),
            (Field::Name, file.name),
            (Field::Kana, file.kana),
            (Field::Dob, file.dob),
            (Field::Sex, file.sex),
            (Field::BloodType, file.blood_type),
            (Field::Ward, file.ward),
            (Field::Room, file.room),
            (Field::Bed, file.bed),
            (Field::Department, file.department),
            (Field::Allergies, file.allergies),
        ];
        let mut names = HashMap::new();
        for (field, value) in entries {
            let list = match value {
                None if field.required() => {
                    return Err(FileError::new(
                        origin,
                        format!("key '{}' is missing (it names the column of a required field)", field.key()),
                    ));
                }
                None => continue,
                Some(Names::One(n)) => vec![n],
                Some(Names::Many(v)) => v,
            };
            let list: Vec<String> = list.into_iter().filter(|n| !n.trim().is_empty()).collect();
            if list.is_empty() {
                return Err(FileError::new(origin, format!("key '{}' lists no column name", field.key())));
            }
            names.insert(field, list);
        }
        Ok(Self { names })
    }

    pub fn default_mapping() -> Self {
        Self::parse(DEFAULT_MAPPING, "built-in mapping").expect("the built-in mapping is valid")
    }

    /// The names looked for, for error messages.
    pub fn names(&self, field: Field) -> &[String] {
        self.names.get(&field).map_or(&[], Vec::as_slice)
    }

    /// The header each field is written under when kamikarte writes a census.
    pub fn primary(&self, field: Field) -> &str {
        self.names(field).first().map_or(field.key(), String::as_str)
    }

    /// Finds each field's column in a header row. When a required field has none, the error
    /// carries the columns that were found and the problems.
    #[allow(clippy::type_complexity)]
    pub fn locate(
        &self,
        header: &[&str],
    ) -> Result<HashMap<Field, usize>, (HashMap<Field, usize>, Vec<HeaderProblem>)> {
        let normalised: Vec<String> = header.iter().map(|h| header_key(h)).collect();
        let mut found = HashMap::new();
        let mut problems = Vec::new();
        for field in Field::ALL {
            let candidates = self.names(field);
            let pos =
                candidates.iter().find_map(|name| normalised.iter().position(|h| *h == header_key(name)));
            match pos {
                Some(i) => {
                    found.insert(field, i);
                }
                None if field.required() && !candidates.is_empty() => {
                    problems.push(HeaderProblem { field, looked_for: candidates.to_vec() });
                }
                None => {}
            }
        }
        if problems.is_empty() { Ok(found) } else { Err((found, problems)) }
    }
}

/// A required field with no column in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderProblem {
    pub field: Field,
    pub looked_for: Vec<String>,
}

fn header_key(name: &str) -> String {
    name.trim_start_matches('\u{FEFF}').nfkc().collect::<String>().trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_mapping_finds_every_field_of_a_japanese_header() {
        let m = ColumnMapping::default_mapping();
        let header = [
            "患者ID",
            "氏名",
            "カナ氏名",
            "生年月日",
            "性別",
            "血液型",
            "病棟",
            "病室",
            "ベッド",
            "診療科",
            "アレルギー",
        ];
        assert_eq!(m.locate(&header).unwrap().len(), 11);
    }

    #[test]
    fn headers_match_across_width_and_case() {
        let m = ColumnMapping::default_mapping();
        let header = ["ｐａｔｉｅｎｔ_ｉｄ", " NAME ", "ＫＡＮＡ", "DOB", "Sex", "Blood_Type", "Ward"];
        let found = m.locate(&header).unwrap();
        assert_eq!(found[&Field::Id], 0);
        assert_eq!(found[&Field::Ward], 6);
    }

    #[test]
    fn a_missing_required_column_is_named_with_what_was_looked_for() {
        let m = ColumnMapping::default_mapping();
        let (_, problems) = m.locate(&["患者ID", "氏名", "カナ氏名", "性別", "血液型", "病棟"]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, Field::Dob);
        assert!(problems[0].looked_for.contains(&"生年月日".to_string()));
    }

    #[test]
    fn a_broken_mapping_file_names_the_file_and_key() {
        let e = ColumnMapping::parse("id = \"ID\"\nnmae = \"x\"", "m.toml").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("m.toml", Some(2)), "{e}");
        assert!(e.message.contains("nmae"), "{e}");
        let e = ColumnMapping::parse("id = \"ID\"", "m.toml").unwrap_err();
        assert!(e.message.contains("'name' is missing"), "{e}");
        let e = ColumnMapping::parse("id = [] \nname='a'", "m.toml").unwrap_err();
        assert!(e.message.contains("'id' lists no column"), "{e}");
    }
}
