//! Users, roles and what each role may do; the lockout rule. No I/O: hashing and storage live in
//! `auth` and `store`.

use chrono::{DateTime, Duration, Utc};
use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// The case hospital's rule after its attack: 16 characters or more for every account. A hospital
/// may raise it (`password.min_chars`), never lower it.
pub const MIN_PASSWORD_CHARS: usize = 16;
pub const MIN_PIN_DIGITS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Clerk,
    Nurse,
    Billing,
    Admin,
}

/// Something a user may be allowed to do. Each front end checks the one its action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ViewCensus,
    ImportCensus,
    PrintKit,
    Register,
    ScanStation,
    BackEntry,
    Export,
    ManageUsers,
    Configure,
    ManageBlocks,
    /// Start and end downtime episodes, change their phase, add notes.
    ManageEpisode,
    /// Import scanned pages and index the pages their barcodes did not file.
    FilePages,
    /// Import the code masters (lab tests, drugs, charges) that back-entry searches.
    ManageMasters,
    /// Map downtime IDs to the EHR's record numbers and merge IDs of one person.
    Reconcile,
    Backup,
    VerifyAudit,
    /// Write this station's bundle (what it recorded) for the hub.
    ExportBundle,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Clerk, Role::Nurse, Role::Billing, Role::Admin];

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        match input.trim().to_lowercase().as_str() {
            "clerk" => Ok(Role::Clerk),
            "nurse" => Ok(Role::Nurse),
            "billing" => Ok(Role::Billing),
            "admin" => Ok(Role::Admin),
            other => {
                Err(FieldError::new(format!("role '{other}' is not one of clerk, nurse, billing, admin")))
            }
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Nurse => "nurse",
            Role::Billing => "billing",
            Role::Admin => "admin",
        }
    }

    /// The one table of who may do what (README "Security" shows it too). Least privilege: an
    /// administrator manages the system but does not print, scan or enter clinical data, so a
    /// separate account per person and job stays necessary.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Clerk => {
                matches!(
                    permission,
                    ViewCensus
                        | ImportCensus
                        | PrintKit
                        | Register
                        | ManageEpisode
                        | FilePages
                        | BackEntry
                        | Reconcile
                        | ExportBundle
                )
            }
            Role::Nurse => matches!(permission, ViewCensus | ScanStation | Register),
            Role::Billing => {
                matches!(permission, ViewCensus | BackEntry | Export | FilePages | ManageMasters)
            }
            Role::Admin => matches!(
                permission,
                ViewCensus
                    | ImportCensus
                    | PrintKit
                    | Export
                    | ManageUsers
                    | Configure
                    | ManageBlocks
                    | ManageEpisode
                    | ManageMasters
                    | Backup
                    | VerifyAudit
                    | ExportBundle
            ),
        }
    }
}

impl Permission {
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ViewCensus => "view the census",
            Permission::ImportCensus => "import the census",
            Permission::PrintKit => "print the downtime kit",
            Permission::Register => "register patients",
            Permission::ScanStation => "use the scan station",
            Permission::BackEntry => "back-enter records and charges",
            Permission::Export => "export data",
            Permission::ExportBundle => "write this station's bundle for the hub",
            Permission::ManageUsers => "manage users",
            Permission::Configure => "change the configuration",
            Permission::ManageBlocks => "manage downtime-ID blocks",
            Permission::ManageEpisode => "start, change or end a downtime episode",
            Permission::FilePages => "import and index scanned pages",
            Permission::ManageMasters => "import code masters (lab tests, drugs, charges)",
            Permission::Reconcile => "map downtime IDs to the EHR's record numbers",
            Permission::Backup => "back up and restore the database",
            Permission::VerifyAudit => "verify the audit trail",
        }
    }
}

/// A login name: NFKC, trimmed, lower-case ASCII letters, digits and `._-`, 1 to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserName(String);

impl UserName {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name: String = input.nfkc().collect::<String>().trim().to_lowercase();
        if name.is_empty() {
            return Err(FieldError::new("user name is empty"));
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(FieldError::new(format!(
                "user name '{name}' contains '{bad}' (allowed: a–z, 0–9, '.', '_', '-')"
            )));
        }
        if name.len() > 32 {
            return Err(FieldError::new("user name is longer than 32 characters"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a new password: at least `min_chars` characters (never fewer than 16), not containing
/// the user name, and not a common or trivially patterned one. "Common" is zxcvbn's judgement:
/// its frequency lists (passwords, words, names) and patterns (repeats, sequences, keyboard
/// walks, dates) are the shipped list; a password it scores below 3 of 4 is refused.
pub fn check_password(name: &UserName, password: &str, min_chars: usize) -> Result<(), FieldError> {
    let min = min_chars.max(MIN_PASSWORD_CHARS);
    let chars = password.chars().count();
    if chars < min {
        return Err(FieldError::new(format!(
            "password has {chars} characters; every password needs at least {min}"
        )));
    }
    if password.to_lowercase().contains(name.as_str()) {
        return Err(FieldError::new("password must not contain the user name"));
    }
    let hints = [name.as_str(), "kamikarte", "password", "hospital", "byoin"];
    let estimate = zxcvbn::zxcvbn(password, &hints);
    if u8::from(estimate.score()) < 3 {
        let why =
            estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return Err(FieldError::new(format!(
            "password is too easy to guess{why}: use several unrelated words, or mix in digits and signs"
        )));
    }
    Ok(())
}

/// PINs anyone tries first, besides the patterns `trivial_pin` finds.
const COMMON_PINS: [&str; 12] = [
    "123456", "654321", "123123", "121212", "112233", "159753", "147258", "258369", "123321", "696969",
    "100100", "199999",
];

/// A PIN made of one digit, a run up or down (012345, 987654, 901234), or a short block repeated
/// (121212, 123123, 112112), or one of the most common choices.
fn trivial_pin(pin: &str) -> bool {
    let d: Vec<u8> = pin.bytes().map(|b| b - b'0').collect();
    let steps: Vec<u8> = d.windows(2).map(|w| (w[1] + 10 - w[0]) % 10).collect();
    let one_step = steps.iter().all(|s| *s == steps[0]) && matches!(steps[0], 0 | 1 | 9);
    let repeated = (1..=3).any(|period| d.len() > period && (period..d.len()).all(|i| d[i] == d[i - period]));
    let doubled = d.len().is_multiple_of(2) && d.chunks(2).all(|c| c[0] == c[1]);
    one_step || repeated || doubled || COMMON_PINS.contains(&pin)
}

/// Checks a new card PIN: digits only, at least six, and not a trivial one.
pub fn check_pin(pin: &str) -> Result<(), FieldError> {
    if !pin.chars().all(|c| c.is_ascii_digit()) || pin.len() < MIN_PIN_DIGITS {
        return Err(FieldError::new(format!("a PIN is at least {MIN_PIN_DIGITS} digits")));
    }
    if trivial_pin(pin) {
        return Err(FieldError::new(format!(
            "PIN {pin} is too easy to guess (one digit, a run like 123456, a repeated block like 121212, or a common choice)"
        )));
    }
    Ok(())
}

/// Too many failed logins lock an account for a while. Defaults are the case hospital's: 5
/// failures within 15 minutes lock it for 15 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { max_failures: 5, window: Duration::minutes(15), lock_for: Duration::minutes(15) }
    }
}

impl LockoutPolicy {
    /// Given the times of the failures since the last success (this one included), when the
    /// account is locked until, if this failure locks it.
    pub fn lock_after_failure(
        &self,
        failures: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // No upper bound: parallel attempts take their `now` before they wait their turn, so a
        // failure recorded by another may carry a later time than this one's.
        let recent = failures.iter().filter(|&&t| t > now - self.window).count();
        (recent as u32 >= self.max_failures).then(|| now + self.lock_for)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_roles_listed_may_act() {
        assert!(Role::Clerk.allows(Permission::PrintKit));
        assert!(!Role::Clerk.allows(Permission::Export));
        assert!(!Role::Clerk.allows(Permission::ManageUsers));
        assert!(Role::Nurse.allows(Permission::ScanStation) && Role::Nurse.allows(Permission::Register));
        assert!(Role::Billing.allows(Permission::Export) && !Role::Billing.allows(Permission::ImportCensus));
        assert!(Role::Admin.allows(Permission::ManageUsers) && !Role::Admin.allows(Permission::ScanStation));
        assert!(Role::ALL.iter().all(|r| r.allows(Permission::ViewCensus)));
    }

    #[test]
    fn every_password_needs_16_characters_and_common_ones_are_refused() {
        let n = UserName::parse("sato").unwrap();
        assert!(check_password(&n, "fifteen-chars!!", 16).unwrap_err().message.contains("at least 16"));
        assert!(check_password(&n, "Hinoki-7-kumo-Tsuru", 16).is_ok());
        assert!(check_password(&n, "Hinoki-7-kumo-Tsuru", 10).is_ok(), "16 is the floor whatever is asked");
        assert!(check_password(&n, "Hinoki-7-kumo-Tsuru", 24).unwrap_err().message.contains("at least 24"));
        assert!(check_password(&n, "sato-is-my-name-here", 16).unwrap_err().message.contains("user name"));
        for trivial in ["aaaaaaaaaaaaaaaa", "1234567890123456", "passwordpassword", "qwertyuiopasdfgh"] {
            assert!(check_password(&n, trivial, 16).unwrap_err().message.contains("too easy"), "{trivial}");
        }
    }

    #[test]
    fn trivial_pins_are_refused() {
        for pin in
            ["000000", "123456", "987654", "901234", "121212", "123123", "112233", "654321", "111111111"]
        {
            assert!(check_pin(pin).unwrap_err().message.contains("too easy"), "{pin}");
        }
        for pin in ["246810", "739204", "502718"] {
            assert!(check_pin(pin).is_ok(), "{pin}");
        }
        assert!(check_pin("12a456").is_err() && check_pin("73920").is_err());
    }

    #[test]
    fn user_names_are_folded_and_checked() {
        assert_eq!(UserName::parse(" Ｓａｔｏ ").unwrap().as_str(), "sato");
        assert!(UserName::parse("佐藤").is_err());
        assert!(UserName::parse("").is_err());
    }

    #[test]
    fn the_fifth_failure_within_the_window_locks_for_the_lock_time() {
        let p = LockoutPolicy::default();
        let t0 = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z").unwrap().with_timezone(&Utc);
        let at = |m: i64| t0 + Duration::minutes(m);
        let four = [at(0), at(1), at(2), at(3)];
        assert_eq!(p.lock_after_failure(&four, at(3)), None);
        let five = [at(0), at(1), at(2), at(3), at(4)];
        assert_eq!(p.lock_after_failure(&five, at(4)), Some(at(19)));
        // Spread over more than 15 minutes: the oldest no longer count.
        let spread = [at(0), at(5), at(10), at(15), at(16)];
        assert_eq!(p.lock_after_failure(&spread, at(16)), None);
    }
}
