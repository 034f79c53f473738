use chrono::{Duration, TimeZone};

use super::*;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

const ADMIN_PASSWORD: &str = "correct horse battery";

fn store_with_admin() -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let request = AccountRequest { name: "sato", role: Role::Admin, password: ADMIN_PASSWORD, card: None };
    add_user(&mut store, None, &request).unwrap();
    store
}

fn admin(store: &mut Store) -> Session {
    login(store, "sato", ADMIN_PASSWORD, t(0)).unwrap()
}

fn add(store: &mut Store, by: &Session, name: &str, role: Role, password: &str) {
    add_user(store, Some(by), &AccountRequest { name, role, password, card: None }).unwrap();
}

#[test]
fn the_right_password_logs_in_and_a_wrong_one_does_not() {
    let mut store = store_with_admin();
    let session = login(&mut store, "SATO", ADMIN_PASSWORD, t(0)).unwrap();
    assert_eq!((session.user().as_str(), session.role()), ("sato", Role::Admin));
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
    assert!(matches!(login(&mut store, "sato", ADMIN_PASSWORD, t(18)), Err(AuthError::Locked { .. })));
    // After 15 minutes the lock is over.
    assert!(login(&mut store, "sato", ADMIN_PASSWORD, t(19)).is_ok());
    let actions: Vec<String> =
        store.audit_of("user", "sato", 20).unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"lockout".to_string()), "lockouts are audited: {actions:?}");
}

#[test]
fn an_unknown_name_locks_the_same_way_and_what_was_typed_is_not_kept() {
    let mut store = store_with_admin();
    // A password typed into the name field by mistake.
    let typed = "Tsuki-no-Usagi-42";
    for minute in 0..4 {
        assert!(matches!(login(&mut store, typed, "x", t(minute)), Err(AuthError::WrongCredentials)));
    }
    let known = {
        let mut other = store_with_admin();
        for minute in 0..4 {
            let _ = login(&mut other, "sato", "x", t(minute));
        }
        login(&mut other, "sato", "x", t(4)).unwrap_err().to_string()
    };
    let unknown = login(&mut store, typed, "x", t(4)).unwrap_err().to_string();
    assert_eq!(
        unknown.replace(typed, "NAME"),
        known.replace("sato", "NAME"),
        "a lock reads the same either way"
    );
    let dump = store.audit_all_text().unwrap();
    assert!(!dump.to_lowercase().contains(&typed.to_lowercase()), "the typed text never reaches the audit");
    assert!(dump.contains("login:unknown"), "the failures are audited without it");
}

#[test]
fn failures_spread_over_more_than_the_window_do_not_lock() {
    let mut store = store_with_admin();
    for minute in [0, 5, 10, 16, 21] {
        assert!(matches!(login(&mut store, "sato", "wrong", t(minute)), Err(AuthError::WrongCredentials)));
    }
    assert!(login(&mut store, "sato", ADMIN_PASSWORD, t(22)).is_ok());
}

#[test]
fn a_success_resets_the_failure_count() {
    let mut store = store_with_admin();
    for minute in 0..4 {
        let _ = login(&mut store, "sato", "wrong", t(minute));
    }
    login(&mut store, "sato", ADMIN_PASSWORD, t(5)).unwrap();
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
fn parallel_wrong_logins_check_no_more_guesses_than_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    {
        let mut store = Store::open(&db).unwrap();
        add_user(
            &mut store,
            None,
            &AccountRequest { name: "sato", role: Role::Admin, password: ADMIN_PASSWORD, card: None },
        )
        .unwrap();
    }
    let verified = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..12 {
            scope.spawn(|| {
                let mut store = Store::open(&db).unwrap();
                let outcome = store
                    .attempt_login(LoginCheck::Password { name: "sato" }, t(0), &mut |_| {
                        verified.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        false
                    })
                    .unwrap();
                assert!(matches!(outcome, LoginOutcome::WrongSecret | LoginOutcome::Locked { .. }));
            });
        }
    });
    assert_eq!(verified.into_inner(), 5, "the sixth guess finds the lock before its secret is checked");
    let mut store = Store::open(&db).unwrap();
    assert!(matches!(login(&mut store, "sato", ADMIN_PASSWORD, t(1)), Err(AuthError::Locked { .. })));
}

#[test]
fn the_first_user_must_be_an_admin_and_later_ones_need_an_admin() {
    let mut store = Store::open_in_memory().unwrap();
    let clerk =
        AccountRequest { name: "ito", role: Role::Clerk, password: "Kaede-Momiji-Ichou-7", card: None };
    assert!(add_user(&mut store, None, &clerk).unwrap_err().to_string().contains("administrator"));
    let admin = AccountRequest { name: "sato", role: Role::Admin, password: "short", card: None };
    assert!(add_user(&mut store, None, &admin).unwrap_err().to_string().contains("at least 16"));
    let admin =
        AccountRequest { name: "sato", role: Role::Admin, password: "a long enough passphrase", card: None };
    add_user(&mut store, None, &admin).unwrap();
    assert!(add_user(&mut store, None, &clerk).is_err(), "no anonymous users once an admin exists");
    let admin_session = login(&mut store, "sato", "a long enough passphrase", t(0)).unwrap();
    add_user(&mut store, Some(&admin_session), &clerk).unwrap();
    let clerk_session = login(&mut store, "ito", "Kaede-Momiji-Ichou-7", t(0)).unwrap();
    let nurse =
        AccountRequest { name: "kato", role: Role::Nurse, password: "Sakura-Fuji-Kawa-88", card: None };
    let err = add_user(&mut store, Some(&clerk_session), &nurse).unwrap_err();
    assert!(matches!(err, AuthError::Forbidden { .. }), "a clerk cannot manage users: {err}");
    assert!(clerk_session.require(Permission::Export).is_err(), "a clerk cannot export");
}

#[test]
fn every_role_needs_sixteen_characters_and_no_two_accounts_share_a_password() {
    let mut store = store_with_admin();
    let admin = admin(&mut store);
    let short = AccountRequest { name: "kato", role: Role::Nurse, password: "password12", card: None };
    assert!(add_user(&mut store, Some(&admin), &short).unwrap_err().to_string().contains("at least 16"));
    let same = AccountRequest { name: "kato", role: Role::Nurse, password: ADMIN_PASSWORD, card: None };
    let err = add_user(&mut store, Some(&admin), &same).unwrap_err().to_string();
    assert!(err.contains("another account already uses"), "{err}");
    store.set_setting(&admin.actor(), "password.min_chars", "20").unwrap();
    let err = add_user(
        &mut store,
        Some(&admin),
        &AccountRequest { name: "kato", role: Role::Nurse, password: "Sakura-Fuji-Kawa-88", card: None },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("at least 20"), "{err}");
    assert!(store.set_setting(&admin.actor(), "password.min_chars", "12").is_err(), "never below 16");
}

#[test]
fn a_card_and_pin_log_in_and_wrong_or_trivial_ones_are_refused() {
    let mut store = store_with_admin();
    let admin = admin(&mut store);
    let trivial = AccountRequest {
        name: "kato",
        role: Role::Nurse,
        password: "Sakura-Fuji-Kawa-88",
        card: Some(("n-0042", "000000")),
    };
    assert!(add_user(&mut store, Some(&admin), &trivial).unwrap_err().to_string().contains("too easy"));
    let nurse = AccountRequest {
        name: "kato",
        role: Role::Nurse,
        password: "Sakura-Fuji-Kawa-88",
        card: Some(("n-0042", "739204")),
    };
    add_user(&mut store, Some(&admin), &nurse).unwrap();
    let session = login_with_card(&mut store, "Ｎ－００４２", "739204", t(1)).unwrap();
    assert_eq!(session.user().as_str(), "kato");
    assert!(matches!(login_with_card(&mut store, "N-0042", "000000", t(2)), Err(AuthError::WrongCard)));
    assert!(matches!(login_with_card(&mut store, "N-9999", "739204", t(2)), Err(AuthError::WrongCard)));
}

#[test]
fn a_disabled_account_is_refused_but_only_to_someone_who_knows_its_password() {
    let mut store = store_with_admin();
    let admin = admin(&mut store);
    add(&mut store, &admin, "ito", Role::Clerk, "Kaede-Momiji-Ichou-7");
    set_disabled(&mut store, &admin, "ito", true).unwrap();
    assert!(matches!(login(&mut store, "ito", "wrong", t(1)), Err(AuthError::WrongCredentials)));
    assert!(matches!(login(&mut store, "ito", "Kaede-Momiji-Ichou-7", t(1)), Err(AuthError::Disabled(_))));
    assert!(set_disabled(&mut store, &admin, "sato", true).is_err(), "not one's own account");
    set_disabled(&mut store, &admin, "ito", false).unwrap();
    assert!(login(&mut store, "ito", "Kaede-Momiji-Ichou-7", t(2)).is_ok());
}

#[test]
fn a_reset_password_works_once_to_set_a_new_one() {
    let mut store = store_with_admin();
    let admin = admin(&mut store);
    add(&mut store, &admin, "ito", Role::Clerk, "Kaede-Momiji-Ichou-7");
    let temporary = reset_password(&mut store, &admin, "ito", None).unwrap();
    assert!(login(&mut store, "ito", "Kaede-Momiji-Ichou-7", t(1)).is_err(), "the old password is gone");
    let session = login(&mut store, "ito", &temporary, t(1)).unwrap();
    assert!(session.must_change_password());
    assert!(matches!(session.require(Permission::ViewCensus), Err(AuthError::MustChangePassword(_))));
    assert!(change_password(&mut store, &session, &temporary).is_err(), "not the temporary one again");
    change_password(&mut store, &session, "Hotaru-Semi-Kirigirisu").unwrap();
    let session = login(&mut store, "ito", "Hotaru-Semi-Kirigirisu", t(2)).unwrap();
    assert!(!session.must_change_password() && session.may(Permission::ViewCensus));
}

#[test]
fn a_role_raised_in_the_file_is_refused_at_login_and_repaired_by_a_reset() {
    let mut store = store_with_admin();
    let admin = admin(&mut store);
    add(&mut store, &admin, "ito", Role::Clerk, "Kaede-Momiji-Ichou-7");
    store.raw_execute("UPDATE users SET role = 'admin' WHERE name = 'ito'").unwrap();
    assert!(matches!(login(&mut store, "ito", "Kaede-Momiji-Ichou-7", t(1)), Err(AuthError::Tampered(_))));
    assert!(!store.verify_audit().unwrap().broken_seals.is_empty(), "audit verify names it too");
    assert!(
        set_disabled(&mut store, &admin, "ito", true).is_err(),
        "a tampered row is not re-sealed by the way"
    );
    assert!(reset_password(&mut store, &admin, "ito", None).is_err(), "a repair states the role");
    let temporary = reset_password(&mut store, &admin, "ito", Some(Role::Clerk)).unwrap();
    let session = login(&mut store, "ito", &temporary, t(2)).unwrap();
    assert_eq!(session.role(), Role::Clerk);
    assert!(store.verify_audit().unwrap().broken_seals.is_empty());
}

#[test]
fn a_real_administrator_switches_the_demo_accounts_off() {
    let mut store = Store::open_in_memory().unwrap();
    ensure_demo_users(&mut store, &Actor("demo".into())).unwrap();
    let demo_admin = demo_session(&mut store, Role::Admin, t(0)).unwrap();
    let created = add_user(
        &mut store,
        Some(&demo_admin),
        &AccountRequest { name: "sato", role: Role::Admin, password: ADMIN_PASSWORD, card: None },
    )
    .unwrap();
    assert_eq!(created.demo_disabled.len(), 4);
    assert!(matches!(demo_session(&mut store, Role::Clerk, t(1)), Err(AuthError::DemoDisabled(_))));
    assert!(matches!(
        login_with_card(&mut store, "DEMO-CARD-NURSE", "123456", t(1)),
        Err(AuthError::DemoDisabled(_))
    ));
    assert!(login(&mut store, "sato", ADMIN_PASSWORD, t(1)).is_ok());
}

#[test]
fn secrets_never_reach_the_audit_trail() {
    let store = store_with_admin();
    let dump = store.audit_all_text().unwrap();
    assert!(!dump.contains("argon2") && !dump.contains(ADMIN_PASSWORD));
    assert!(
        store
            .user(&UserName::parse("sato").unwrap())
            .unwrap()
            .unwrap()
            .password_hash
            .starts_with("$argon2id$")
    );
}
