//! What the benchmarks share: someone logged in to run the workflow being measured.
#![allow(dead_code)]

use kamikarte::auth::{AccountRequest, Session, add_user, login};
use kamikarte::domain::Role;
use kamikarte::store::Store;

/// An administrator account made on a database without users, then a `role` account, logged in
/// through the front door (a workflow checks its permission whoever calls it).
pub fn session(store: &mut Store, role: Role) -> Session {
    let now = chrono::Utc::now();
    let admin_password = "benchmark administrator passphrase";
    if store.user_count().unwrap() == 0 {
        let first =
            AccountRequest { name: "bench-admin", role: Role::Admin, password: admin_password, card: None };
        add_user(store, None, &first).unwrap();
    }
    let admin = login(store, "bench-admin", admin_password, now).unwrap();
    if role == Role::Admin {
        return admin;
    }
    let name = format!("bench-{}", role.code());
    let password = format!("{} passphrase of the benchmark", role.code().chars().rev().collect::<String>());
    if store.user(&kamikarte::domain::UserName::parse(&name).unwrap()).unwrap().is_none() {
        add_user(store, Some(&admin), &AccountRequest { name: &name, role, password: &password, card: None })
            .unwrap();
    }
    login(store, &name, &password, now).unwrap()
}
