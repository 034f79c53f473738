//! Sending the outbox over MLLP to python-hl7's MLLP server (tests/peers/mllp_server.py): a
//! dropped connection is recovered by resending the same message, a rejection stops the run
//! with its reason, and later runs resume where it stopped without resending what was accepted.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kamikarte::handoff::mllp::{Charset, Outcome, SendOptions, SendReport, StopKind, send};
use kamikarte::store::{Actor, OutboxState, PackedContent, StagedItem, StagedMessage, Store};

const IDS: [&str; 6] = ["KMLLP01", "KMLLP02", "KMLLP03", "KMLLP04", "KMLLP05", "KMLLP06"];
const NAMES: [(&str, &str); 6] = [
    ("山田^太郎", "ヤマダ^タロウ"),
    ("佐藤^花子", "サトウ^ハナコ"),
    ("鈴木^一郎", "スズキ^イチロウ"),
    ("高橋^美咲", "タカハシ^ミサキ"),
    ("田中^健", "タナカ^ケン"),
    ("渡辺^直子", "ワタナベ^ナオコ"),
];

/// A registration message as the EHR would take it: Japanese name in kanji and kana, ISO IR87.
fn body(control_id: &str, patient: &str, (kanji, kana): (&str, &str)) -> String {
    [
        format!(
            "MSH|^~\\&|KAMIKARTE|DOWNTIME|EHR|HOSPITAL|20261122093000||ADT^A04^ADT_A01|{control_id}|P|2.5\
             ||||||~ISO IR87"
        ),
        "EVN||20261122093000".to_string(),
        format!("PID|1||{patient}^^^^PI||{kanji}^^^^^L^I~{kana}^^^^^L^P||19700101|F"),
        "PV1|1|I|W3^301^1".to_string(),
    ]
    .join("\r")
        + "\r"
}

fn outbox_of_six() -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let items: Vec<StagedItem> = IDS
        .iter()
        .zip(NAMES)
        .enumerate()
        .map(|(i, (id, name))| {
            let patient = format!("D00000{}", i + 1);
            StagedItem {
                subject: format!("registration:{patient}"),
                version: 1,
                kind: "registration",
                patient_id: patient.clone(),
                item: None,
                entry_id: None,
                content_sha256: format!("sha{i}"),
                content: PackedContent::pack("{}"),
                base: None,
                messages: vec![StagedMessage {
                    control_id: id.to_string(),
                    message_type: "ADT^A04".to_string(),
                    body: body(id, &patient, name),
                }],
            }
        })
        .collect();
    store.save_handoff(&Actor("clerk".into()), &items).unwrap();
    store
}

/// The python receiver, killed when the test ends however it ends.
struct Receiver {
    child: Child,
    log: PathBuf,
    names: PathBuf,
    target: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Receiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/mllp_server.py");
        let portfile = dir.join("port");
        let log = dir.join("received.log");
        let names = dir.join("names.log");
        let child = Command::new("python3")
            .arg(&script)
            .arg(&portfile)
            .arg(&log)
            .env("NAMES_LOG", &names)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 is needed ({e})"));
        let mut receiver = Receiver { child, log, names, target: String::new() };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(port) = std::fs::read_to_string(&portfile) {
                receiver.target = format!("127.0.0.1:{}", port.trim());
                return receiver;
            }
            if let Ok(Some(status)) = receiver.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = receiver.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("mllp_server.py ended ({status}) before listening: {err}");
            }
            assert!(Instant::now() < deadline, "mllp_server.py did not start listening within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn received(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// `control ID<TAB>PID-5` as the receiver decoded them.
    fn names(&self) -> Vec<String> {
        std::fs::read_to_string(&self.names).unwrap_or_default().lines().map(str::to_string).collect()
    }
}

fn python_hl7_present() -> bool {
    Command::new("python3")
        .args(["-c", "import hl7.mllp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn options() -> SendOptions {
    SendOptions {
        ack_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        retry_initial: Duration::from_millis(50),
        max_attempts: 3,
        ..SendOptions::default()
    }
}

fn sent_ids(report: &SendReport) -> Vec<&str> {
    report.messages.iter().map(|m| m.control_id.as_str()).collect()
}

#[test]
fn a_dropped_connection_is_resent_a_rejection_stops_the_run_and_later_runs_resume_without_repeats() {
    if !python_hl7_present() {
        eprintln!(
            "SKIPPED: python3 cannot import hl7.mllp (pip install hl7); the MLLP peer test did not run"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path(), &[("REJECT_ID", IDS[3]), ("DROP_ID", IDS[1])]);
    let mut store = outbox_of_six();
    let actor = common::person(&mut store, "exporter", kamikarte::domain::Role::Billing);

    // First run: the 2nd message's connection is dropped and it is resent; the 4th is rejected.
    let first = send(&mut store, &actor, &receiver.target, &options(), &mut |_| {}).unwrap();
    assert_eq!(sent_ids(&first), &IDS[..4]);
    let second = &first.messages[1];
    assert_eq!((second.outcome, second.attempts), (Outcome::Acknowledged, 2), "{second:?}");
    assert_eq!(first.retries, 1);
    assert_eq!((first.sent, first.acknowledged, first.rejected, first.not_sent), (4, 3, 1, 2));
    let stop = first.stopped.as_ref().expect("the run stops at the rejection");
    assert_eq!(
        (stop.kind, stop.control_id.as_str(), stop.ack_code.as_deref()),
        (StopKind::Rejected, IDS[3], Some("AR"))
    );
    assert_eq!(stop.patient_id, "D000004");
    assert!(stop.reason.contains("患者が見つかりません"), "MSA-3 in the reason: {}", stop.reason);
    assert!(stop.reason.contains("患者番号の記録がありません"), "ERR text in the reason: {}", stop.reason);
    let shown = stop.to_string();
    assert!(shown.contains(IDS[3]) && shown.contains("ADT^A04") && shown.contains("D000004"), "{shown}");
    for id in &IDS[4..] {
        let m = store.outbox_message(id).unwrap().unwrap();
        assert_eq!((m.state, m.attempts), (OutboxState::Pending, 0), "{id} not sent after the stop");
    }
    assert_eq!(store.outbox_message(IDS[3]).unwrap().unwrap().state, OutboxState::Rejected);
    assert_eq!(receiver.received(), ["KMLLP01", "KMLLP02", "KMLLP02", "KMLLP03", "KMLLP04"]);
    // The receiver decoded ISO-2022-JP strictly and got the kanji and kana back.
    assert_eq!(receiver.names()[0], "KMLLP01\t山田^太郎^^^^^L^I~ヤマダ^タロウ^^^^^L^P");

    // Second run: resumes at the rejected message; nothing acknowledged goes out again.
    let again = send(&mut store, &actor, &receiver.target, &options(), &mut |_| {}).unwrap();
    assert_eq!(sent_ids(&again), &IDS[3..]);
    assert!(again.complete() && again.retries == 0, "{again:?}");
    assert!(again.messages.iter().all(|m| m.outcome == Outcome::Acknowledged), "{again:?}");
    let received = receiver.received();
    assert_eq!(
        received,
        ["KMLLP01", "KMLLP02", "KMLLP02", "KMLLP03", "KMLLP04", "KMLLP04", "KMLLP05", "KMLLP06"]
    );
    // Repeats are only the dropped message (no answer) and the rejected one (sent again on
    // purpose): an acknowledged message never reached the receiver twice.
    for (i, id) in received.iter().enumerate() {
        if received[..i].contains(id) {
            assert!(id == IDS[1] || id == IDS[3], "{id} received twice: {received:?}");
        }
    }
    assert!(store.outbox(true).unwrap().is_empty());

    // Third run: nothing left, nothing sent.
    let third = send(&mut store, &actor, &receiver.target, &options(), &mut |_| {}).unwrap();
    assert!(third.nothing_to_send && third.messages.is_empty() && third.sent == 0, "{third:?}");
    assert_eq!(receiver.received().len(), received.len());

    let runs = store.handoff_runs().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.format == "mllp" && r.finished_at.is_some()));
    assert_eq!(runs[0].counts.as_ref().unwrap()["stopped_at"], IDS[3]);
    assert_eq!(runs[1].counts.as_ref().unwrap()["acknowledged"], 3);
}

#[test]
fn utf8_messages_reach_a_utf8_receiver_intact() {
    if !python_hl7_present() {
        eprintln!(
            "SKIPPED: python3 cannot import hl7.mllp (pip install hl7); the MLLP peer test did not run"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path(), &[("ENCODING", "utf-8")]);
    let mut store = outbox_of_six();
    let options = SendOptions { charset: Charset::Utf8, ..options() };
    let exporter = common::person(&mut store, "exporter", kamikarte::domain::Role::Billing);
    let report = send(&mut store, &exporter, &receiver.target, &options, &mut |_| {}).unwrap();
    assert!(report.complete() && report.acknowledged == 6, "{report:?}");
    assert_eq!(receiver.received(), IDS);
    assert_eq!(receiver.names()[3], "KMLLP04\t高橋^美咲^^^^^L^I~タカハシ^ミサキ^^^^^L^P");
}
