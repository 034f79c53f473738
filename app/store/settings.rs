//! Configuration an administrator may change, kept in the database (so every station reading it
//! agrees) and audited like any change.

use std::path::PathBuf;

use chrono::Duration;

use super::audit::AuditWriter;
use super::meta::set_meta;
use super::{Actor, Result, Store, StoreError};
use crate::domain::{LockoutPolicy, PatientMaster, VolumeCategory};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Settings {
    pub lockout_max_failures: u32,
    pub lockout_window_minutes: u32,
    pub lockout_lock_minutes: u32,
    /// The app locks itself after this many minutes without input.
    pub idle_lock_minutes: u32,
    /// Where automatic backups go; `None` means the `backups` folder beside the database.
    pub backup_dir: Option<PathBuf>,
    /// Where scanned page images are kept (default: beside the database file). A hub on
    /// PostgreSQL names a folder every PC reaches (a file share), so each sees every page.
    pub pages_dir: Option<PathBuf>,
    /// How many automatic backups are kept (older ones are deleted).
    pub backup_keep: u32,
    /// Minutes between scheduled backups while the app is open.
    pub backup_interval_minutes: u32,
    /// Printed on every page and wristband.
    pub hospital_name: String,
    /// The 10-digit medical institution code (医療機関コード): the sending facility of HL7
    /// messages and part of the FHIR identifier systems. Empty until set: a hand-off refuses to
    /// run without it (`Settings::institution_code`).
    pub hospital_code: String,
    /// Who registers patients: the EHR and its 医事 system (the default; no ADT goes out, a
    /// registration list does), or kamikarte (registrations and mappings sent as ADT).
    pub patient_master: PatientMaster,
    /// The base URL of the hospital's FHIR identifier and code systems (`https://…`); a FHIR
    /// export refuses to run without it.
    pub fhir_base: Option<String>,
    /// The largest page image (its OBX-5, in KiB) the SS-MIX2 extended storage keeps inside a
    /// message; a larger one is written as a file beside it and referenced (`RP`).
    pub ssmix2_inline_kb: u32,
    /// This station's code in page serials (`A1-000123`), its blocks and its bundles; empty until
    /// an administrator gives it one (`Settings::station`): every PC needs a code of its own.
    pub station_code: String,
    /// The same wristband or slip scanned again within this many seconds is a duplicate.
    pub scan_duplicate_seconds: u32,
    /// The scan station lets go of the active patient after this many seconds without a scan.
    pub scan_patient_timeout_seconds: u32,
    /// Safe paper-order limits per day, by `VolumeCategory` (in `ALL` order); `None`: no limit.
    pub volume_limits: [Option<u32>; 6],
    /// Charge slips are keyed twice, by two people, and compared before billing gets them.
    pub double_entry_charges: bool,
    /// The shortest password any account may have: the case hospital's rule after its attack
    /// (16), raised by a hospital that wants more, never lowered.
    pub password_min_chars: u32,
    /// The SS-MIX2 snapshot is a warning on every screen once it is older than this.
    pub snapshot_warn_hours: u32,
    /// Lab results the summary sheet and the reference screen show per test.
    pub snapshot_results_per_test: u32,
}

impl Default for Settings {
    fn default() -> Self {
        let lockout = LockoutPolicy::default();
        Self {
            lockout_max_failures: lockout.max_failures,
            lockout_window_minutes: lockout.window.num_minutes() as u32,
            lockout_lock_minutes: lockout.lock_for.num_minutes() as u32,
            idle_lock_minutes: 10,
            backup_dir: None,
            pages_dir: None,
            backup_keep: 24,
            backup_interval_minutes: 60,
            hospital_name: "（病院名未設定 hospital.name not set）".to_string(),
            hospital_code: String::new(),
            patient_master: PatientMaster::Ehr,
            fhir_base: None,
            ssmix2_inline_kb: 64,
            station_code: String::new(),
            scan_duplicate_seconds: 60,
            scan_patient_timeout_seconds: 120,
            volume_limits: VolumeCategory::ALL.map(VolumeCategory::default_limit),
            double_entry_charges: false,
            password_min_chars: crate::domain::MIN_PASSWORD_CHARS as u32,
            snapshot_warn_hours: 24,
            snapshot_results_per_test: 3,
        }
    }
}

impl Settings {
    pub const KEYS: [&'static str; 26] = [
        "lockout.max_failures",
        "lockout.window_minutes",
        "lockout.lock_minutes",
        "idle_lock_minutes",
        "backup.dir",
        "pages.dir",
        "backup.keep",
        "backup.interval_minutes",
        "hospital.name",
        "hospital.code",
        "station.code",
        "scan.duplicate_seconds",
        "scan.patient_timeout_seconds",
        "volume.limit.lab_outpatient",
        "volume.limit.lab_inpatient",
        "volume.limit.imaging",
        "volume.limit.prescription",
        "volume.limit.injection",
        "volume.limit.diet",
        "entry.double_entry_charges",
        "password.min_chars",
        "handoff.patient_master",
        "handoff.fhir_base",
        "handoff.ssmix2_inline_kb",
        "snapshot.warn_hours",
        "snapshot.results_per_test",
    ];

    /// The safe daily limit of a category, if one is set.
    pub fn volume_limit(&self, category: VolumeCategory) -> Option<u32> {
        let i = VolumeCategory::ALL.iter().position(|c| *c == category).expect("every category is in ALL");
        self.volume_limits[i]
    }

    pub fn lockout(&self) -> LockoutPolicy {
        LockoutPolicy {
            max_failures: self.lockout_max_failures,
            window: Duration::minutes(self.lockout_window_minutes.into()),
            lock_for: Duration::minutes(self.lockout_lock_minutes.into()),
        }
    }

    /// The medical institution code, or what to run to set it: a hand-off under a placeholder
    /// code would file the hospital's records under nobody's.
    pub fn institution_code(&self) -> std::result::Result<&str, String> {
        if self.hospital_code.is_empty() {
            return Err("the medical institution code (医療機関コード) is not set: run \
                `kamikarte config set hospital.code <10 digits>` (an administrator) before handing off"
                .to_string());
        }
        Ok(&self.hospital_code)
    }

    /// A station code as it would be stored (upper case), or why it is not one.
    pub fn check_station_code(value: &str) -> std::result::Result<String, String> {
        let mut checked = Settings::default();
        checked.apply("station.code", value)?;
        Ok(checked.station_code)
    }

    /// This station's code, or what to do to give it one: a silent default would give two PCs
    /// the same serials.
    pub fn station(&self) -> Result<&str> {
        if self.station_code.is_empty() {
            return Err(StoreError::Refused(super::stations::NO_STATION.to_string()));
        }
        Ok(&self.station_code)
    }

    /// The FHIR base URL, or what to run to set it.
    pub fn fhir_base(&self) -> std::result::Result<&str, String> {
        self.fhir_base.as_deref().ok_or_else(|| {
            "the base of the hospital's FHIR identifier systems is not set: run \
             `kamikarte config set handoff.fhir_base https://<the hospital's domain>/fhir` (an administrator) \
             before a FHIR export"
                .to_string()
        })
    }

    /// Applies one `key = value`, checking the value.
    pub(super) fn apply(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
        let number =
            |min: u32, max: u32| -> std::result::Result<u32, String> {
                value.trim().parse::<u32>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
                    format!("{key} must be a whole number from {min} to {max} (got '{value}')")
                })
            };
        match key {
            "lockout.max_failures" => self.lockout_max_failures = number(1, 100)?,
            "lockout.window_minutes" => self.lockout_window_minutes = number(1, 1440)?,
            "lockout.lock_minutes" => self.lockout_lock_minutes = number(1, 1440)?,
            "idle_lock_minutes" => self.idle_lock_minutes = number(1, 240)?,
            "backup.dir" => self.backup_dir = Some(value.trim()).filter(|v| !v.is_empty()).map(PathBuf::from),
            "pages.dir" => self.pages_dir = Some(value.trim()).filter(|v| !v.is_empty()).map(PathBuf::from),
            "backup.keep" => self.backup_keep = number(1, 10_000)?,
            "backup.interval_minutes" => self.backup_interval_minutes = number(5, 1440)?,
            "hospital.name" => {
                let name = value.trim();
                if name.is_empty() || name.chars().count() > 60 {
                    return Err("hospital.name must be 1 to 60 characters".into());
                }
                self.hospital_name = name.to_string();
            }
            "hospital.code" => {
                let code = value.trim();
                if code.len() != 10 || !code.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!(
                        "hospital.code must be the 10-digit medical institution code (got '{value}')"
                    ));
                }
                self.hospital_code = code.to_string();
            }
            "station.code" => {
                let code = value.trim().to_uppercase();
                if !(1..=4).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("station.code must be 1–4 characters A–Z, 0–9 (got '{value}')"));
                }
                self.station_code = code;
            }
            "password.min_chars" => {
                self.password_min_chars =
                    number(crate::domain::MIN_PASSWORD_CHARS as u32, 128).map_err(|e| {
                        format!("{e}; the minimum can be raised, never lowered below the case hospital's 16")
                    })?
            }
            "handoff.patient_master" => {
                self.patient_master = PatientMaster::parse(value).map_err(|e| format!("{key}: {e}"))?
            }
            "handoff.fhir_base" => {
                let base = value.trim().trim_end_matches('/');
                let host = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
                match host {
                    Some(h)
                        if !h.is_empty()
                            && !h.contains(char::is_whitespace)
                            && !h.contains(['|', '?', '#']) => {}
                    _ => {
                        return Err(format!(
                            "{key} must be an http(s) URL such as https://example-hospital.jp/fhir (got '{value}')"
                        ));
                    }
                }
                if base.contains("kamikarte.example") {
                    return Err(format!(
                        "{key}: kamikarte.example is a placeholder, not the hospital's domain"
                    ));
                }
                self.fhir_base = Some(base.to_string());
            }
            "handoff.ssmix2_inline_kb" => self.ssmix2_inline_kb = number(1, 1_048_576)?,
            "snapshot.warn_hours" => self.snapshot_warn_hours = number(1, 24 * 90)?,
            "snapshot.results_per_test" => self.snapshot_results_per_test = number(1, 20)?,
            "scan.duplicate_seconds" => self.scan_duplicate_seconds = number(1, 3600)?,
            "scan.patient_timeout_seconds" => self.scan_patient_timeout_seconds = number(10, 3600)?,
            "entry.double_entry_charges" => {
                self.double_entry_charges = match value.trim().to_lowercase().as_str() {
                    "on" | "true" | "yes" | "1" => true,
                    "off" | "false" | "no" | "0" => false,
                    _ => return Err(format!("{key} must be on or off (got '{value}')")),
                }
            }
            _ if key.starts_with("volume.limit.") => {
                let category = VolumeCategory::parse(&key["volume.limit.".len()..]).map_err(|e| e.message)?;
                let i = VolumeCategory::ALL.iter().position(|c| *c == category).expect("in ALL");
                // 0 removes the limit.
                self.volume_limits[i] = Some(number(0, 100_000)?).filter(|n| *n > 0);
            }
            _ => return Err(format!("unknown setting '{key}' (known: {})", Self::KEYS.join(", "))),
        }
        Ok(())
    }
}

impl Store {
    /// The settings in force: defaults, overridden by what an administrator set.
    pub fn settings(&self) -> Result<Settings> {
        let mut settings = Settings::default();
        for key in Settings::KEYS {
            if let Some(value) = self.meta(&format!("setting.{key}"))? {
                settings.apply(key, &value).map_err(|message| StoreError::Corrupt {
                    entity: "setting",
                    id: key.to_string(),
                    field: "value",
                    message,
                })?;
            }
        }
        Ok(settings)
    }

    /// Changes one setting after checking its value. Each value is checked on its own, so a
    /// setting found changed outside kamikarte can be set again.
    pub fn set_setting(&mut self, actor: &Actor, key: &str, value: &str) -> Result<()> {
        if key == "station.code" {
            return self.set_station_code(actor, value);
        }
        Settings::default().apply(key, value).map_err(StoreError::Refused)?;
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        set_meta(&tx, &mut audit, actor, &format!("setting.{key}"), value.trim())?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_the_case_hospital_values_and_can_be_changed() {
        let mut store = Store::open_in_memory().unwrap();
        let s = store.settings().unwrap();
        assert_eq!((s.lockout_max_failures, s.lockout_window_minutes, s.lockout_lock_minutes), (5, 15, 15));
        store.set_setting(&Actor("admin".into()), "lockout.max_failures", "3").unwrap();
        assert_eq!(store.settings().unwrap().lockout().max_failures, 3);
    }

    #[test]
    fn a_hand_off_names_the_setting_it_lacks_until_the_hospital_is_configured() {
        let mut store = Store::open_in_memory().unwrap();
        let s = store.settings().unwrap();
        assert!(s.institution_code().unwrap_err().contains("config set hospital.code"));
        assert!(s.fhir_base().unwrap_err().contains("config set handoff.fhir_base"));
        assert_eq!(s.patient_master, PatientMaster::Ehr, "the EHR is the patient master by default");
        let a = Actor("admin".into());
        store.set_setting(&a, "hospital.code", "1312345678").unwrap();
        store.set_setting(&a, "handoff.fhir_base", "https://hospital.example.jp/fhir/").unwrap();
        let s = store.settings().unwrap();
        assert_eq!(s.institution_code(), Ok("1312345678"));
        assert_eq!(s.fhir_base(), Ok("https://hospital.example.jp/fhir"));
        for bad in ["ftp://x", "https://", "http://kamikarte.example/fhir", "https://a b"] {
            assert!(store.set_setting(&a, "handoff.fhir_base", bad).is_err(), "{bad}");
        }
        assert!(store.set_setting(&a, "handoff.patient_master", "nobody").is_err());
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused() {
        let mut store = Store::open_in_memory().unwrap();
        let a = Actor("admin".into());
        assert!(
            store.set_setting(&a, "lockout.max_failures", "0").unwrap_err().to_string().contains("1 to 100")
        );
        assert!(store.set_setting(&a, "colour", "red").unwrap_err().to_string().contains("unknown setting"));
    }
}
