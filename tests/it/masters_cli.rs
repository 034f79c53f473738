//! Code masters through the binary: importing the samples and a hospital's files, searching as
//! back-entry does, refusing bad files whole, and who may do what.

use crate::common;

use std::path::{Path, PathBuf};

use common::{ADMIN, BILLING, CLERK, demo_db, run_as, stderr, stdout};
use serde_json::Value;

const NURSE: (&str, &str) = ("nurse", "kamikarte-demo-nurse");

fn sample_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/masters").join(name)
}

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// The codes `masters search` returns, best first.
fn search(db: &Path, master: &str, query: &str) -> Vec<String> {
    search_items(db, master, query).iter().map(|i| i["code"].as_str().unwrap().to_string()).collect()
}

fn search_items(db: &Path, master: &str, query: &str) -> Vec<Value> {
    let out = run_as(db, BILLING, &["masters", "search", query, "--master", master, "--json"]);
    json(&out).as_array().unwrap().clone()
}

fn counts(db: &Path) -> Vec<(String, u64)> {
    let list = json(&run_as(db, BILLING, &["masters", "list", "--json"]));
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| (m["master"].as_str().unwrap().to_string(), m["items"].as_u64().unwrap()))
        .collect()
}

fn uses_of(db: &Path, master: &str, code: &str) -> u64 {
    let found = search_items(db, master, code);
    assert_eq!(found[0]["code"], code);
    found[0]["uses"].as_u64().unwrap()
}

fn cp932(text: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
}

/// Each shipped sample master and how many items it holds.
const SAMPLES: [(&str, u64); 7] = [
    ("charges", 55),
    ("drugs", 42),
    ("lab_tests", 53),
    ("departments", 26),
    ("usages", 7),
    ("doctors", 10),
    ("staff", 4),
];

#[test]
fn the_demo_loads_the_samples_and_each_sample_file_imports_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let expected: Vec<(String, u64)> = SAMPLES.iter().map(|(m, n)| (m.to_string(), *n)).collect();
    assert_eq!(counts(&db), expected);

    // A small file replaces the sample; the sample file brings it back.
    let small = dir.path().join("charges-small.csv");
    std::fs::write(&small, "code,name\n111000110,初診料\n199999990,試験項目\n").unwrap();
    let out = run_as(
        &db,
        BILLING,
        &["masters", "import", small.to_str().unwrap(), "--master", "charges", "--json"],
    );
    let summary = json(&out);
    assert_eq!((summary["added"].as_u64(), summary["removed"].as_u64()), (Some(1), Some(54)));
    assert_eq!(summary["changed"], 1, "111000110 lost its reading, points and details");

    for (master, n) in SAMPLES {
        // The charges sample is built in as the receipt-computer master's published layout.
        let (name, encoding) = if master == "charges" {
            ("s_sample.csv".to_string(), "CP932")
        } else {
            (format!("{master}.csv"), "UTF-8")
        };
        let file = sample_path(&name);
        let out = run_as(&db, ADMIN, &["masters", "import", file.to_str().unwrap(), "--master", master]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&format!("{name} ({encoding}): {n} items in the {master} master")), "{text}");
    }
    assert_eq!(counts(&db), expected);
    assert_eq!(search(&db, "charges", "199999990"), Vec::<String>::new());

    // The built-in samples again: nothing changes.
    let all = json(&run_as(&db, BILLING, &["masters", "import", "--samples", "--json"]));
    for s in all.as_array().unwrap() {
        assert_eq!(s["unchanged"], s["items"], "{s}");
    }
    let audit = json(&run_as(&db, ADMIN, &["audit", "verify", "--json"]));
    assert!(audit["first_broken"].is_null(), "{audit}");
}

#[test]
fn search_finds_codes_readings_and_names_most_used_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    // The charges as a CSV with use counts (the demo's published-layout sample has none).
    let file = sample_path("charges.csv");
    let out = run_as(&db, ADMIN, &["masters", "import", file.to_str().unwrap(), "--master", "charges"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Code prefix, ranked by uses; full-width typed the same.
    assert_eq!(search(&db, "charges", "11")[..2], ["112007410", "111000110"]);
    assert_eq!(search(&db, "charges", "１１")[..2], ["112007410", "111000110"]);
    // The exact code first, then the codes it begins.
    assert_eq!(search(&db, "lab_tests", "ca"), ["CA", "CA19-9", "CA125"]);
    // The reading in hiragana, katakana or half-width kana.
    for query in ["そうしょう", "ソウショウ", "ｿｳｼｮｳ"] {
        assert_eq!(search(&db, "charges", query), ["199900420", "199900500"], "{query}");
    }
    assert_eq!(search(&db, "drugs", "せいりしょくえん"), ["990000201", "990000202"]);
    // Names: those beginning with the query, then those containing it.
    assert_eq!(search(&db, "charges", "血液"), ["199900180", "199900160", "199900260"]);
    assert_eq!(search(&db, "charges", "注射"), ["199900390", "199900380", "199900370", "199900400"]);
    // Nothing typed: the most used.
    let out = run_as(&db, BILLING, &["masters", "search", "--master", "charges", "--limit", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with("112007410") && lines[0].contains("再診料  サイシンリョウ  75/回  uses 2450"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("199900360") && lines[2].starts_with("199900040"));

    let items = search_items(&db, "lab_tests", "CBC");
    assert_eq!(items[0]["name"], "血算");
    assert_eq!(items[0]["kana"], "ケッサン");
    let none = run_as(&db, BILLING, &["masters", "search", "存在しない", "--master", "drugs"]);
    assert!(none.status.success() && stdout(&none).is_empty());
    assert!(stderr(&none).contains("nothing in the drugs master matches"), "{}", stderr(&none));
}

#[test]
fn bad_files_list_every_problem_with_file_line_and_field_and_import_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let before = counts(&db);
    let import = |name: &str, bytes: &[u8], json: bool| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut args = vec!["masters", "import", path.to_str().unwrap(), "--master", "charges"];
        if json {
            args.push("--json");
        }
        let out = run_as(&db, BILLING, &args);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        out
    };

    let out = import("no-name.csv", "code,kana,uses\nX1,エックス,1\n".as_bytes(), false);
    assert!(
        stderr(&out).contains(
            "no-name.csv:1: name: required column 'name' not found (the header has: code, kana, uses)"
        ),
        "{}",
        stderr(&out)
    );

    let out = import(
        "bad-values.csv",
        "code,name,uses,points\nA000,初診料,-5,290\nA001,再診料,12,\nB001,,3,x\nA001,再診料,4,\n".as_bytes(),
        false,
    );
    let err = stderr(&out);
    for expected in [
        "bad-values.csv: rejected, nothing imported: 5 problem(s)",
        "bad-values.csv:2: uses: '-5' is not a whole number of 0 or more",
        "bad-values.csv:3: code: 'A001' is given twice (also on line 5)",
        "bad-values.csv:4: name: is empty (every item needs its name)",
        "bad-values.csv:4: points: 'x' is not a number",
        "bad-values.csv:5: code: 'A001' is given twice (also on line 3)",
    ] {
        assert!(err.contains(expected), "missing '{expected}' in:\n{err}");
    }

    // A Shift_JIS (CP932) file from an older system: the same report, in --json too.
    let text = "コード,名称,ｶﾅ,使用回数,分類\r\nD400,血液採取,ｹﾂｴｷｻｲｼｭ,many,1\r\nD400,血液採取,血液,3,1\r\n";
    let out = import("sjis.csv", &cp932(text), true);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["imported"], false);
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap().to_string()))
        .collect();
    let expected = [(2, "code"), (2, "uses"), (3, "code"), (3, "kana")];
    assert_eq!(errors, expected.map(|(l, f)| (l, f.to_string())));
    assert!(
        stderr(&out).contains("sjis.csv:3: kana: '血液' contains '血', which is not kana"),
        "{}",
        stderr(&out)
    );

    let out = import("broken.csv", b"code,name\nA000,\x81\x20\n", false);
    assert!(stderr(&out).contains("broken.csv: line 2 is neither UTF-8 nor CP932"), "{}", stderr(&out));

    assert_eq!(counts(&db), before, "nothing was imported");
    // The sample is intact: section D400 still finds its procedure.
    assert_eq!(search(&db, "charges", "D400"), ["199900260"]);

    // A good CP932 file imports like a UTF-8 one.
    let good = dir.path().join("sjis-good.csv");
    std::fs::write(&good, cp932("コード,名称,カナ,点数,使用回数\r\nD400,血液採取,ｹﾂｴｷｻｲｼｭ,40,7\r\n"))
        .unwrap();
    let out = run_as(&db, BILLING, &["masters", "import", good.to_str().unwrap(), "--master", "charges"]);
    assert!(stdout(&out).contains("sjis-good.csv (CP932): 1 items"), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(search_items(&db, "charges", "けつえき")[0]["kana"], "ケツエキサイシュ");
}

#[test]
fn a_reimport_keeps_the_uses_counted_here() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    // The charges as a CSV with use counts (the demo's published-layout sample has none).
    let file = sample_path("charges.csv");
    let out = run_as(&db, BILLING, &["masters", "import", file.to_str().unwrap(), "--master", "charges"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(search(&db, "charges", "そうしょう"), ["199900420", "199900500"]);
    // What back-entry counts when a clerk enters 創傷処理 (the entry store does this in the
    // transaction that saves the entry).
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n = conn
        .execute(
            "UPDATE master_items SET local_uses = 1000 WHERE master = 'charges' AND code = '199900500'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    assert_eq!(uses_of(&db, "charges", "199900500"), 1310);
    assert_eq!(search(&db, "charges", "そうしょう"), ["199900500", "199900420"]);

    let file = sample_path("charges.csv");
    let out = run_as(&db, BILLING, &["masters", "import", file.to_str().unwrap(), "--master", "charges"]);
    assert!(stdout(&out).contains("55 unchanged"), "{}", stdout(&out));
    assert_eq!(uses_of(&db, "charges", "199900500"), 1310);

    // New counts from the hospital's file: the local count stays on top of them.
    let newer = dir.path().join("charges-2027.csv");
    std::fs::write(
        &newer,
        "code,name,kana,uses\n199900500,創傷処理,ソウショウショリ,5\n199900420,創傷処置,ソウショウショチ,600\n",
    )
    .unwrap();
    let out = run_as(&db, BILLING, &["masters", "import", newer.to_str().unwrap(), "--master", "charges"]);
    assert!(stdout(&out).contains("0 added, 2 changed, 53 removed"), "{}", stdout(&out));
    assert_eq!(uses_of(&db, "charges", "199900500"), 1005);
    assert_eq!(uses_of(&db, "charges", "199900420"), 600);
}

#[test]
fn only_billing_and_admin_import_and_a_nurse_may_not_search() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let file = sample_path("drugs.csv");
    let import = ["masters", "import", file.to_str().unwrap(), "--master", "drugs"];
    for who in [NURSE, CLERK] {
        let out = run_as(&db, who, &import);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("may not import code masters"), "{}", stderr(&out));
    }
    for who in [BILLING, ADMIN] {
        assert!(run_as(&db, who, &import).status.success());
    }
    let out = run_as(&db, NURSE, &["masters", "search", "A0", "--master", "charges"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("may not back-enter records and charges"), "{}", stderr(&out));
    assert_eq!(run_as(&db, NURSE, &["masters", "list"]).status.code(), Some(1));
    assert!(run_as(&db, ADMIN, &["masters", "list"]).status.success());
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    for args in [
        &["masters", "import", "x.csv"][..],
        &["masters", "import", "--samples", "x.csv"],
        &["masters", "import", "x.csv", "--master", "diseases"],
        &["masters", "search", "A0"],
    ] {
        let out = run_as(&db, BILLING, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}
