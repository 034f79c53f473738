use chrono::{Duration, TimeZone};

use super::*;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn store_with_admin() -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let request =
        AccountRequest { name: "sato", role: Role::Admin, password: "correct horse battery", card: None };
    add_user(&mut store, None, &request).unwrap();
    store
}

#[test]
fn the_right_password_logs_in_and_a_wrong_one_does_not() {
    let mut store = store_with_admin();
    let session = login(&mut store, "SATO", "correct horse battery", t(0)).unwrap();
    assert_eq!((session.user.as_str(), session.role), ("sato", Role::Admin));
    assert!(matches!(login(&mut store, "sato", "wrong", t(1)), Err(AuthError::WrongCredentials)));
    assert!(matches!(login(&mut store, "nobody", "x", t(1)), Err(AuthError::WrongCredentials)));
}

#[test]
fn five_failures_lock_for_fifteen_minutes_then_release() {
    let mut store = store_with_admin();
    for minute in 0..4 {
        assert!(matches!(login(&mut store, "sato", "wrong", t(minute)), Err(AuthError::WrongCredentials)));
    }
    let fifth = login(&mut store, "sato", "wrong", t(4)).unwrap_err();
    assert!(matches!(fifth, AuthError::Locked { until, .. } if until == t(19)), "{fifth}");
    // Even the right password is refused while locked.
    assert!(matches!(
        login(&mut store, "sato", "correct horse battery", t(18)),
        Err(AuthError::Locked { .. })
    ));
    // After 15 minutes the lock is over.
    assert!(login(&mut store, "sato", "correct horse battery", t(19)).is_ok());
    let actions: Vec<String> =
        store.audit_of("user", "sato", 20).unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"lockout".to_string()), "lockouts are audited: {actions:?}");
}

#[test]
fn failures_spread_over_more_than_the_window_do_not_lock() {
    let mut store = store_with_admin();
    for minute in [0, 5, 10, 16, 21] {
        assert!(matches!(login(&mut store, "sato", "wrong", t(minute)), Err(AuthError::WrongCredentials)));
    }
    assert!(login(&mut store, "sato", "correct horse battery", t(22)).is_ok());
}

#[test]
fn a_success_resets_the_failure_count() {
    let mut store = store_with_admin();
    for minute in 0..4 {
        let _ = login(&mut store, "sato", "wrong", t(minute));
    }
    login(&mut store, "sato", "correct horse battery", t(5)).unwrap();
    for minute in 6..10 {
        assert!(matches!(login(&mut store, "sato", "wrong", t(minute)), Err(AuthError::WrongCredentials)));
    }
}

#[test]
fn the_lockout_values_are_configurable() {
    let mut store = store_with_admin();
    store.set_setting(&Actor("sato".into()), "lockout.max_failures", "2").unwrap();
    let _ = login(&mut store, "sato", "wrong", t(0));
    assert!(matches!(login(&mut store, "sato", "wrong", t(1)), Err(AuthError::Locked { .. })));
}

#[test]
fn the_first_user_must_be_an_admin_and_later_ones_need_an_admin() {
    let mut store = Store::open_in_memory().unwrap();
    let clerk = AccountRequest { name: "ito", role: Role::Clerk, password: "ten-chars!x", card: None };
    assert!(add_user(&mut store, None, &clerk).unwrap_err().to_string().contains("administrator"));
    let admin = AccountRequest { name: "sato", role: Role::Admin, password: "short", card: None };
    assert!(add_user(&mut store, None, &admin).unwrap_err().to_string().contains("at least 16"));
    let admin =
        AccountRequest { name: "sato", role: Role::Admin, password: "a long enough passphrase", card: None };
    add_user(&mut store, None, &admin).unwrap();
    assert!(add_user(&mut store, None, &clerk).is_err(), "no anonymous users once an admin exists");
    let admin_session = login(&mut store, "sato", "a long enough passphrase", t(0)).unwrap();
    add_user(&mut store, Some(&admin_session), &clerk).unwrap();
    let clerk_session = login(&mut store, "ito", "ten-chars!x", t(0)).unwrap();
    let nurse = AccountRequest { name: "kato", role: Role::Nurse, password: "ten-chars!y", card: None };
    let err = add_user(&mut store, Some(&clerk_session), &nurse).unwrap_err();
    assert!(matches!(err, AuthError::Forbidden { .. }), "a clerk cannot manage users: {err}");
    assert!(clerk_session.require(Permission::Export).is_err(), "a clerk cannot export");
}

#[test]
fn a_card_and_pin_log_in_and_wrong_ones_are_refused() {
    let mut store = store_with_admin();
    let admin = login(&mut store, "sato", "correct horse battery", t(0)).unwrap();
    let nurse = AccountRequest {
        name: "kato",
        role: Role::Nurse,
        password: "ten-chars!y",
        card: Some(("n-0042", "246810")),
    };
    add_user(&mut store, Some(&admin), &nurse).unwrap();
    let session = login_with_card(&mut store, "Ｎ－００４２", "246810", t(1)).unwrap();
    assert_eq!(session.user.as_str(), "kato");
    assert!(matches!(login_with_card(&mut store, "N-0042", "000000", t(2)), Err(AuthError::WrongCard)));
    assert!(matches!(login_with_card(&mut store, "N-9999", "246810", t(2)), Err(AuthError::WrongCard)));
}

#[test]
fn secrets_never_reach_the_audit_trail() {
    let store = store_with_admin();
    let entries = store.audit_of("user", "sato", 10).unwrap();
    assert!(entries.iter().all(|e| !e.after.clone().unwrap_or_default().contains("argon2")));
    assert!(
        store
            .user(&UserName::parse("sato").unwrap())
            .unwrap()
            .unwrap()
            .password_hash
            .starts_with("$argon2id$")
    );
}
