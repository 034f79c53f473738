//! Logging in, sessions and accounts: argon2id hashes, lockout, roles. Time is passed in (`now`)
//! so tests can drive lockout with an injected clock.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Local, Utc};

use crate::domain::{FieldError, Permission, Role, UserName, check_password, check_pin};
use crate::store::{Actor, NewUser, Store, StoreError, UserRecord};

/// The documented password of each demo user: `kamikarte-demo-<role>`.
pub fn demo_password(role: Role) -> String {
    format!("kamikarte-demo-{}", role.code())
}

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: UserName,
    pub role: Role,
}

impl Session {
    pub fn actor(&self) -> Actor {
        Actor(self.user.to_string())
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if self.may(permission) {
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
    #[error("account '{user}' is locked until {} after too many failed logins (an administrator can unlock it)", .until.with_timezone(&Local).format("%H:%M"))]
    Locked { user: String, until: DateTime<Utc> },
    #[error("account '{0}' is disabled")]
    Disabled(String),
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
    let policy = store.settings()?.lockout();
    let Some(user) = UserName::parse(name).ok().map(|n| store.user(&n)).transpose()?.flatten() else {
        waste_a_verification(password);
        store.record_login_failure(name.trim(), false, now, &policy, "unknown user")?;
        return Err(AuthError::WrongCredentials);
    };
    check_secret(store, &user, password, &user.password_hash.clone(), now).map_err(|e| match e {
        AuthError::WrongCard => AuthError::WrongCredentials,
        other => other,
    })
}

/// Checks an ID card (as scanned) and its PIN at `now`, with the same lockout as passwords.
pub fn login_with_card(
    store: &mut Store,
    card_id: &str,
    pin: &str,
    now: DateTime<Utc>,
) -> Result<Session, AuthError> {
    let card = normalise_card(card_id);
    let Some(user) = store.user_by_card(&card)? else {
        waste_a_verification(pin);
        return Err(AuthError::WrongCard);
    };
    let Some(pin_hash) = user.pin_hash.clone() else { return Err(AuthError::WrongCard) };
    check_secret(store, &user, pin, &pin_hash, now)
}

fn check_secret(
    store: &mut Store,
    user: &UserRecord,
    secret: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Session, AuthError> {
    let policy = store.settings()?.lockout();
    if user.disabled {
        return Err(AuthError::Disabled(user.name.to_string()));
    }
    if let Some(until) = user.locked_until.filter(|&u| u > now) {
        store.record_login_failure(user.name.as_str(), false, now, &policy, "account locked")?;
        return Err(AuthError::Locked { user: user.name.to_string(), until });
    }
    if !verify_secret(secret, hash) {
        let locked = store.record_login_failure(user.name.as_str(), true, now, &policy, "wrong secret")?;
        return Err(match locked {
            Some(until) => AuthError::Locked { user: user.name.to_string(), until },
            None => AuthError::WrongCard,
        });
    }
    store.record_login_success(&user.name, now)?;
    Ok(Session { user: user.name.clone(), role: user.role })
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

/// Creates an account. On a database with no users the first account must be an administrator
/// and needs no session; after that only a user allowed to manage users may add one.
pub fn add_user(
    store: &mut Store,
    by: Option<&Session>,
    request: &AccountRequest<'_>,
) -> Result<UserName, AuthError> {
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
            Actor::from_os()
        }
        None => return Err(AuthError::Refused("adding a user needs an administrator's login".into())),
    };
    let name = UserName::parse(request.name)?;
    check_password(request.role, &name, request.password)?;
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
    };
    store.add_user(&actor, &user)?;
    Ok(name)
}

/// Changes a user's own password (after they logged in with the old one).
pub fn change_password(store: &mut Store, session: &Session, new_password: &str) -> Result<(), AuthError> {
    check_password(session.role, &session.user, new_password)?;
    store.set_password_hash(&session.actor(), &session.user, &hash_secret(new_password)?)?;
    Ok(())
}

/// Creates the four demo accounts (`admin`, `clerk`, `nurse`, `billing`) that do not exist yet,
/// with the documented demo passwords. Demo passwords are public by design, so they skip the
/// password policy; they exist only in a database marked as a demo.
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
        };
        store.add_user(actor, &user)?;
        created.push(name);
    }
    Ok(created)
}

#[cfg(test)]
mod tests;
