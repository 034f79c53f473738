//! Logging in, sessions and accounts: argon2id hashes, lockout, roles. Time is passed in (`now`)
//! so tests can drive lockout with an injected clock.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Local, Utc};

use crate::domain::{FieldError, Permission, Role, UserName, check_password, check_pin};
use crate::store::{Actor, LoginCheck, LoginOutcome, NewUser, Store, StoreError};

/// The documented password of each demo user: `kamikarte-demo-<role>`.
pub fn demo_password(role: Role) -> String {
    format!("kamikarte-demo-{}", role.code())
}

/// Who is logged in. Only a login makes one (its fields are private): every workflow that acts
/// for a person takes a `Session` and checks the permission its action needs itself, so a front
/// end's check is for display only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    user: UserName,
    role: Role,
    must_change_password: bool,
}

impl Session {
    pub fn user(&self) -> &UserName {
        &self.user
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// An administrator reset this account's password: the user must set a new one before
    /// anything else (`require` refuses every permission until then).
    pub fn must_change_password(&self) -> bool {
        self.must_change_password
    }

    pub fn actor(&self) -> Actor {
        Actor(self.user.to_string())
    }

    pub fn may(&self, permission: Permission) -> bool {
        !self.must_change_password && self.role.allows(permission)
    }

    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if self.must_change_password {
            return Err(AuthError::MustChangePassword(self.user.to_string()));
        }
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                user: self.user.to_string(),
                role: self.role,
                action: permission.describe(),
            })
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Deliberately the same for an unknown user and a wrong password.
    #[error("wrong user name or password")]
    WrongCredentials,
    #[error("wrong card or PIN")]
    WrongCard,
    /// Shown the same for an unknown name: a lock says nothing about whether the account exists.
    #[error("account '{user}' is locked until {} after too many failed logins (an administrator can unlock it)", .until.with_timezone(&Local).format("%H:%M"))]
    Locked { user: String, until: DateTime<Utc> },
    #[error("account '{0}' is disabled; ask an administrator")]
    Disabled(String),
    #[error(
        "account '{0}' is one of the demo's public accounts, switched off now that real data is here; log in with your own account"
    )]
    DemoDisabled(String),
    #[error(
        "account '{0}' was changed outside kamikarte (its seal does not match) and is refused; an administrator must reset it (`kamikarte user reset-password {0} --role ROLE`)"
    )]
    Tampered(String),
    #[error(
        "the password of '{0}' was reset by an administrator: set your own first (`kamikarte user password`, or the app asks at login)"
    )]
    MustChangePassword(String),
    #[error("user '{user}' ({}) may not {action}", .role.code())]
    Forbidden { user: String, role: Role, action: &'static str },
    #[error(
        "this database has no users yet: create the first administrator with `kamikarte user add NAME --role admin` (or open the app)"
    )]
    NoUsers,
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    Refused(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn hash_secret(secret: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
}

/// Spends the same time on an unknown user as on a wrong password, so timing does not tell
/// which names exist.
fn waste_a_verification(secret: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_secret("kamikarte-dummy-secret").unwrap_or_default());
    let _ = verify_secret(secret, hash);
}

/// Checks a user name and password at `now`, applying and recording lockout.
pub fn login(
    store: &mut Store,
    name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Session, AuthError> {
    let outcome = store.attempt_login(LoginCheck::Password { name }, now, &mut |user| match user {
        Some(u) => verify_secret(password, &u.password_hash),
        None => {
            waste_a_verification(password);
            false
        }
    })?;
    session_from(outcome, name, AuthError::WrongCredentials)
}

/// Checks an ID card (as scanned) and its PIN at `now`, with the same lockout as passwords.
pub fn login_with_card(
    store: &mut Store,
    card_id: &str,
    pin: &str,
    now: DateTime<Utc>,
) -> Result<Session, AuthError> {
    let card = normalise_card(card_id);
    let outcome = store.attempt_login(LoginCheck::Card { card: &card }, now, &mut |user| match user
        .and_then(|u| u.pin_hash.as_deref())
    {
        Some(hash) => verify_secret(pin, hash),
        None => {
            waste_a_verification(pin);
            false
        }
    })?;
    session_from(outcome, &card, AuthError::WrongCard)
}

fn session_from(outcome: LoginOutcome, typed: &str, wrong: AuthError) -> Result<Session, AuthError> {
    match outcome {
        LoginOutcome::Success(u) => {
            Ok(Session { user: u.name, role: u.role, must_change_password: u.must_change_password })
        }
        LoginOutcome::WrongSecret => Err(wrong),
        // What was typed, not the account: the message is the same whether it exists or not.
        LoginOutcome::Locked { until } => Err(AuthError::Locked { user: typed.trim().to_string(), until }),
        LoginOutcome::Disabled { name, demo: true } => Err(AuthError::DemoDisabled(name.to_string())),
        LoginOutcome::Disabled { name, demo: false } => Err(AuthError::Disabled(name.to_string())),
        LoginOutcome::Tampered { name } => Err(AuthError::Tampered(name.to_string())),
    }
}

/// Card IDs arrive as scanner keystrokes: NFKC (full-width digits from an IME), trimmed,
/// upper-cased.
fn normalise_card(card: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    card.nfkc().collect::<String>().trim().to_uppercase()
}

/// A new account to create.
pub struct AccountRequest<'a> {
    pub name: &'a str,
    pub role: Role,
    pub password: &'a str,
    /// An ID card and its PIN, for logging in at a scan station without typing a password.
    pub card: Option<(&'a str, &'a str)>,
}

/// What creating an account did besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCreated {
    pub name: UserName,
    /// The demo's public accounts, switched off because a real administrator now exists.
    pub demo_disabled: Vec<UserName>,
}

/// Checks a new password against the policy and against every other account's password: the
/// case hospital's rule is one password per person, never shared.
fn check_new_password(store: &Store, name: &UserName, password: &str) -> Result<(), AuthError> {
    let min = store.settings()?.password_min_chars as usize;
    check_password(name, password, min)?;
    let others = store.other_password_hashes(name)?;
    if used_by_any(password, &others) {
        return Err(AuthError::Refused(
            "another account already uses this password: every person needs a password of their own".into(),
        ));
    }
    Ok(())
}

/// Whether `secret` verifies against any of `hashes`, checked on every core (each check costs an
/// argon2 computation by design).
fn used_by_any(secret: &str, hashes: &[String]) -> bool {
    let threads = crate::parallel::threads_for(hashes.len());
    crate::parallel::map_in_chunks(hashes, threads, |h| verify_secret(secret, h)).into_iter().any(|used| used)
}

/// Creates an account. On a database with no users the first account must be an administrator
/// and needs no session; after that only a user allowed to manage users may add one. A real
/// administrator switches the demo's public accounts off.
pub fn add_user(
    store: &mut Store,
    by: Option<&Session>,
    request: &AccountRequest<'_>,
) -> Result<AccountCreated, AuthError> {
    let actor = match by {
        Some(session) => {
            session.require(Permission::ManageUsers)?;
            session.actor()
        }
        None if store.user_count()? == 0 => {
            if request.role != Role::Admin {
                return Err(AuthError::Refused(
                    "the first user must be an administrator (--role admin)".into(),
                ));
            }
            // The first account is recorded as made by itself: there is nobody else yet, and
            // every record names a user of this program (never the machine's login).
            Actor(UserName::parse(request.name)?.to_string())
        }
        None => return Err(AuthError::Refused("adding a user needs an administrator's login".into())),
    };
    let name = UserName::parse(request.name)?;
    check_new_password(store, &name, request.password)?;
    let (card_id, pin_hash) = match request.card {
        Some((card, pin)) => {
            check_pin(pin)?;
            let card = normalise_card(card);
            if card.is_empty() {
                return Err(AuthError::Refused("the card ID is empty".into()));
            }
            (Some(card), Some(hash_secret(pin)?))
        }
        None => (None, None),
    };
    let user = NewUser {
        name: name.clone(),
        role: request.role,
        password_hash: hash_secret(request.password)?,
        card_id,
        pin_hash,
        demo: false,
    };
    let demo_disabled = store.add_user(&actor, &user)?;
    Ok(AccountCreated { name, demo_disabled })
}

/// Changes a user's own password (after they logged in with the old one). This is also how a
/// reset account gets out of its forced change.
pub fn change_password(store: &mut Store, session: &Session, new_password: &str) -> Result<(), AuthError> {
    check_new_password(store, &session.user, new_password)?;
    let current = store.user(&session.user)?.map(|u| u.password_hash).unwrap_or_default();
    if verify_secret(new_password, &current) {
        return Err(AuthError::Refused("the new password must differ from the one it replaces".into()));
    }
    store.set_password_hash(&session.actor(), &session.user, &hash_secret(new_password)?)?;
    Ok(())
}

/// A temporary password for a reset: 4 groups of 5 characters from an alphabet without look-alikes
/// (no 0/O, 1/l/I), from the operating system's random source: about 113 bits.
fn temporary_password() -> Result<String, AuthError> {
    const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut bytes = [0u8; 40];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Hash(e.to_string()))?;
    // Rejection sampling keeps every character equally likely.
    let mut chars = bytes.iter().filter(|b| usize::from(**b) < 256 - 256 % ALPHABET.len());
    let mut out = String::new();
    for group in 0..4 {
        if group > 0 {
            out.push('-');
        }
        for _ in 0..5 {
            let Some(b) = chars.next() else { return temporary_password() };
            out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
        }
    }
    Ok(out)
}

/// An administrator resets another account's password: a new temporary password (returned, to
/// hand over once) that must be changed at the next login. With `role`, an account changed
/// outside kamikarte is repaired: its role set as stated, its card and PIN removed.
pub fn reset_password(
    store: &mut Store,
    session: &Session,
    name: &str,
    role: Option<Role>,
) -> Result<String, AuthError> {
    session.require(Permission::ManageUsers)?;
    let name = UserName::parse(name)?;
    if name == session.user {
        return Err(AuthError::Refused(
            "reset another account; change your own with `kamikarte user password`".into(),
        ));
    }
    let temporary = temporary_password()?;
    store.reset_password(&session.actor(), &name, &hash_secret(&temporary)?, role)?;
    Ok(temporary)
}

/// An administrator switches an account off or on again. An administrator cannot switch off their
/// own account (the last way in could go with it).
pub fn set_disabled(
    store: &mut Store,
    session: &Session,
    name: &str,
    disabled: bool,
) -> Result<UserName, AuthError> {
    session.require(Permission::ManageUsers)?;
    let name = UserName::parse(name)?;
    if disabled && name == session.user {
        return Err(AuthError::Refused(
            "you cannot disable your own account; ask another administrator".into(),
        ));
    }
    store.set_disabled(&session.actor(), &name, disabled)?;
    Ok(name)
}

/// An administrator lifts a lock before it runs out.
pub fn unlock(store: &mut Store, session: &Session, name: &str) -> Result<UserName, AuthError> {
    session.require(Permission::ManageUsers)?;
    let name = UserName::parse(name)?;
    store.unlock_user(&session.actor(), &name)?;
    Ok(name)
}

/// An administrator changes a setting (checked, sealed and audited by the store).
pub fn configure(store: &mut Store, session: &Session, key: &str, value: &str) -> Result<(), AuthError> {
    session.require(Permission::Configure)?;
    Ok(store.set_setting(&session.actor(), key, value)?)
}

/// A session for unit tests elsewhere in the crate: an account of `role` made (with an
/// administrator first, when the store has none) and logged in through the front door.
#[cfg(test)]
pub(crate) fn test_session(store: &mut Store, role: Role) -> Session {
    let admin_password = "test administrator passphrase";
    if store.user_count().unwrap() == 0 {
        add_user(
            store,
            None,
            &AccountRequest { name: "test-admin", role: Role::Admin, password: admin_password, card: None },
        )
        .unwrap();
    }
    let admin = login(store, "test-admin", admin_password, Utc::now()).unwrap();
    if role == Role::Admin {
        return admin;
    }
    let name = format!("test-{}", role.code());
    let password = format!("test {} passphrase of some length", role.code());
    if store.user(&UserName::parse(&name).unwrap()).unwrap().is_none() {
        add_user(store, Some(&admin), &AccountRequest { name: &name, role, password: &password, card: None })
            .unwrap();
    }
    login(store, &name, &password, Utc::now()).unwrap()
}

/// Creates the four demo accounts (`admin`, `clerk`, `nurse`, `billing`) that do not exist yet,
/// with the documented demo passwords. Demo passwords are public by design, so they skip the
/// password policy; they are marked as demo accounts and switched off when real data arrives.
pub fn ensure_demo_users(store: &mut Store, actor: &Actor) -> Result<Vec<UserName>, AuthError> {
    let mut created = Vec::new();
    for role in Role::ALL {
        let name = UserName::parse(role.code())?;
        if store.user(&name)?.is_some() {
            continue;
        }
        let user = NewUser {
            name: name.clone(),
            role,
            password_hash: hash_secret(&demo_password(role))?,
            card_id: Some(format!("DEMO-CARD-{}", role.code().to_uppercase())),
            pin_hash: Some(hash_secret("123456")?),
            demo: true,
        };
        store.add_user(actor, &user)?;
        created.push(name);
    }
    Ok(created)
}

/// The demo's account of `role` (named by the role), as the demo's set-up acts as it.
pub fn demo_actor(role: Role) -> Actor {
    Actor(role.code().to_string())
}

/// Logs a demo account in through the front door, as the demo's synthetic history acts as its
/// users.
pub fn demo_session(store: &mut Store, role: Role, now: DateTime<Utc>) -> Result<Session, AuthError> {
    login(store, role.code(), &demo_password(role), now)
}

#[cfg(test)]
mod tests;
