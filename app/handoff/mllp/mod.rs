//! Sending the outbox to the restored EHR over MLLP, one message at a time, each waiting for its
//! acknowledgement before the next goes out, so the receiver sees them in the order they were
//! prepared.
//!
//! The policy, in short:
//! - Each message is recorded as attempted *before* its bytes are written: a crash right after
//!   is then known to have possibly delivered it. Resending is safe because the control ID
//!   (MSH-10) is stable and the receiver drops a repeat.
//! - No answer (refused or dropped connection, timeout, a cut-off or unreadable ACK, an ACK for
//!   another message): reconnect and resend the same message after an exponential back-off, up
//!   to `max_attempts` tries; then stop with [`SendError::Undelivered`].
//! - AA/CA: the next message. AR/CR and AE/CE: stop with the reason in the report. AE stops too
//!   although it is "only" an error: the receiver did not take the message, and what follows
//!   (a charge after a registration, a merge after a link) may depend on it.
//! - A later run starts again at the first unsettled message (pending, rejected or failed);
//!   acknowledged messages are never sent again.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::store::{OutboxMessage, OutboxState, Store, StoreError};

use super::hl7::ack::{Ack, clean, parse_ack};
use super::hl7::charset;
use link::{Link, frame, io_text};

mod link;
pub use super::hl7::charset::Charset;
pub use link::MAX_ACK_BYTES;

/// The back-off never waits longer than this between two tries (unless `retry_initial` is
/// itself longer), so a large `max_attempts` does not park a send for hours.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct SendOptions {
    /// How the messages are encoded on the wire (ISO-2022-JP is what Japanese receivers expect).
    pub charset: Charset,
    /// How long to wait for the acknowledgement of one message.
    pub ack_timeout: Duration,
    pub connect_timeout: Duration,
    /// The wait before the second try of a message; it doubles before each further try.
    pub retry_initial: Duration,
    /// Tries per message, the first included (0 counts as 1).
    pub max_attempts: u32,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            charset: Charset::Iso2022Jp,
            ack_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry_initial: Duration::from_secs(1),
            max_attempts: 5,
        }
    }
}

/// What the sender is doing, for a progress display.
#[derive(Debug, Clone, Serialize)]
pub struct SendProgress {
    /// 1-based place of the message among those this run sends.
    pub index: usize,
    pub total: usize,
    pub control_id: String,
    pub message_type: String,
    /// 1-based try of this message in this run.
    pub attempt: u32,
    #[serde(flatten)]
    pub step: SendStep,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum SendStep {
    Sending,
    Answered {
        code: String,
    },
    /// A try failed; `retry_in_ms` is `None` when it was the last one.
    Failed {
        error: String,
        retry_in_ms: Option<u64>,
    },
}

/// How one message ended in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// AA or CA.
    Acknowledged,
    /// AR or CR.
    Rejected,
    /// AE or CE.
    Error,
    /// No valid acknowledgement after every try.
    Undelivered,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageOutcome {
    pub control_id: String,
    pub message_type: String,
    pub patient_id: String,
    pub subject: String,
    /// Tries in this run (a try that could not connect counts).
    pub attempts: u32,
    pub outcome: Outcome,
    pub ack_code: Option<String>,
    /// MSA-3 and the ERR segments' text.
    pub ack_text: Option<String>,
    /// The last failed try's error (kept after a later try succeeded: it says why it took more
    /// than one).
    pub error: Option<String>,
    /// Characters the wire encoding cannot carry, with what was sent instead.
    pub substituted: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Rejected,
    ApplicationError,
    Undelivered,
}

/// Why a run stopped before the end of the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct StopReason {
    pub kind: StopKind,
    pub control_id: String,
    pub message_type: String,
    pub patient_id: String,
    pub subject: String,
    pub ack_code: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = format!(
            "message {} ({}, patient {}, {})",
            self.control_id, self.message_type, self.patient_id, self.subject
        );
        let code = self.ack_code.as_deref().unwrap_or("");
        match self.kind {
            StopKind::Rejected => write!(
                f,
                "the receiver rejected {what} ({code}): {}; sending stopped there — fix the cause \
                 and send again (it resumes at this message)",
                self.reason
            ),
            StopKind::ApplicationError => write!(
                f,
                "the receiver could not process {what} ({code}): {}; sending stopped there so \
                 that nothing after it arrives out of order — send again once the receiver is fixed",
                self.reason
            ),
            StopKind::Undelivered => write!(
                f,
                "{what} was not acknowledged: {}; sending stopped there — check that the receiver \
                 is running and reachable, then send again",
                self.reason
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SendReport {
    pub run_id: i64,
    pub target: String,
    /// Unsettled messages when the run started.
    pub to_send: usize,
    /// The outbox had nothing unsettled.
    pub nothing_to_send: bool,
    /// Messages written to the receiver at least once.
    pub sent: usize,
    pub acknowledged: usize,
    pub rejected: usize,
    /// Messages answered AE/CE or never acknowledged after every try.
    pub errors: usize,
    /// Tries after a failed one.
    pub retries: usize,
    /// Messages this run did not reach because it stopped.
    pub not_sent: usize,
    pub stopped: Option<StopReason>,
    /// The messages this run tried, in order.
    pub messages: Vec<MessageOutcome>,
}

impl SendReport {
    /// Everything that was to send is acknowledged.
    pub fn complete(&self) -> bool {
        self.stopped.is_none()
    }

    fn counts(&self) -> serde_json::Value {
        json!({
            "to_send": self.to_send,
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "rejected": self.rejected,
            "errors": self.errors,
            "retries": self.retries,
            "not_sent": self.not_sent,
            "stopped_at": self.stopped.as_ref().map(|s| s.control_id.clone()),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the target '{0}' is not HOST:PORT (for example 10.1.2.3:2575)")]
    Target(String),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message got no valid acknowledgement after every try. The report says what the run did
    /// before; the run is recorded.
    #[error("{}", report.stopped.as_ref().map(ToString::to_string).unwrap_or_default())]
    Undelivered { report: Box<SendReport> },
}

/// Sends every unsettled message of the outbox to `target` (HOST:PORT) in sending order,
/// recording each try and each answer. Stops at the first message the receiver rejects or
/// cannot process (the report says why) or that stays unacknowledged after every try (an
/// error carrying the report).
pub fn send(
    store: &mut Store,
    session: &crate::auth::Session,
    target: &str,
    options: &SendOptions,
    progress: &mut dyn FnMut(&SendProgress),
) -> Result<SendReport, SendError> {
    session.require(crate::domain::Permission::Export)?;
    let actor = &session.actor();
    check_target(target)?;
    // Acknowledged or withdrawn messages are filtered again here so that a change in what the
    // store calls unsettled can never make this resend an accepted message.
    let messages: Vec<OutboxMessage> = store
        .outbox(true)?
        .into_iter()
        .filter(|m| !matches!(m.state, OutboxState::Acknowledged | OutboxState::Withdrawn))
        .collect();
    store.record_list_view(actor, &format!("send mllp {target}"), messages.len())?;
    let run_id = store.start_handoff_run(actor, "mllp", target, None)?;
    log::info!("MLLP run {run_id} to {target} by {}: {} message(s) to send", actor.0, messages.len());
    let mut report = SendReport {
        run_id,
        target: target.to_string(),
        to_send: messages.len(),
        nothing_to_send: messages.is_empty(),
        sent: 0,
        acknowledged: 0,
        rejected: 0,
        errors: 0,
        retries: 0,
        not_sent: 0,
        stopped: None,
        messages: Vec::new(),
    };
    let max_attempts = options.max_attempts.max(1);
    let mut link: Option<Link> = None;
    for (index, message) in messages.iter().enumerate() {
        let (bytes, substituted) = charset::encode(&message.body, options.charset);
        let frame = frame(&bytes);
        let mut outcome = MessageOutcome {
            control_id: message.control_id.clone(),
            message_type: message.message_type.clone(),
            patient_id: message.patient_id.clone(),
            subject: message.subject.clone(),
            attempts: 0,
            outcome: Outcome::Undelivered,
            ack_code: None,
            ack_text: None,
            error: None,
            substituted: substituted.iter().map(|(c, with)| format!("{c} → {with}")).collect(),
        };
        let mut written = false;
        let mut answer = None;
        for attempt in 1..=max_attempts {
            outcome.attempts = attempt;
            let step = |step| SendProgress {
                index: index + 1,
                total: messages.len(),
                control_id: message.control_id.clone(),
                message_type: message.message_type.clone(),
                attempt,
                step,
            };
            progress(&step(SendStep::Sending));
            match exchange(store, &mut link, target, &frame, message, options, &mut written) {
                Ok(ack) => {
                    progress(&step(SendStep::Answered { code: ack.code.clone() }));
                    answer = Some(ack);
                    break;
                }
                Err(Failure::Store(e)) => return Err(e.into()),
                Err(Failure::Link(error)) => {
                    log::warn!("MLLP {} try {attempt}: {error}", message.control_id);
                    // The stream may hold half an answer or a late one: never read it again.
                    link = None;
                    store.record_send_error(message.id, &error)?;
                    let wait = (attempt < max_attempts).then(|| backoff(options.retry_initial, attempt));
                    progress(&step(SendStep::Failed {
                        error: error.clone(),
                        retry_in_ms: wait.map(|w| w.as_millis().try_into().unwrap_or(u64::MAX)),
                    }));
                    outcome.error = Some(error);
                    if let Some(wait) = wait {
                        report.retries += 1;
                        std::thread::sleep(wait);
                    }
                }
            }
        }
        if written {
            report.sent += 1;
        }
        let stop = match answer {
            Some(ack) => {
                let text = ack.reason();
                log::info!("MLLP {} ({}): {}", message.control_id, message.message_type, ack.code);
                store.record_ack(run_id, message.id, &ack.code, text.as_deref())?;
                outcome.ack_code = Some(ack.code.clone());
                outcome.ack_text = text.clone();
                let (result, kind) = match ack.code.as_str() {
                    "AA" | "CA" => (Outcome::Acknowledged, None),
                    "AR" | "CR" => (Outcome::Rejected, Some(StopKind::Rejected)),
                    _ => (Outcome::Error, Some(StopKind::ApplicationError)),
                };
                outcome.outcome = result;
                match result {
                    Outcome::Acknowledged => report.acknowledged += 1,
                    Outcome::Rejected => report.rejected += 1,
                    _ => report.errors += 1,
                }
                kind.map(|kind| {
                    let reason = text.unwrap_or_else(|| "the receiver gave no reason".to_string());
                    stop_reason(message, kind, Some(ack.code), reason)
                })
            }
            None => {
                report.errors += 1;
                let last = outcome.error.clone().unwrap_or_default();
                let reason = format!("{last} (after {} tries)", outcome.attempts);
                Some(stop_reason(message, StopKind::Undelivered, None, reason))
            }
        };
        report.messages.push(outcome);
        if let Some(stop) = stop {
            report.not_sent = messages.len() - index - 1;
            report.stopped = Some(stop);
            break;
        }
    }
    if let Some(link) = link {
        link.close();
    }
    store.finish_handoff_run(actor, run_id, &[], &report.counts())?;
    log::info!(
        "MLLP run {run_id} ended: {} sent, {} acknowledged, {} rejected, {} errors{}",
        report.sent,
        report.acknowledged,
        report.rejected,
        report.errors,
        report.stopped.as_ref().map(|s| format!("; stopped: {s}")).unwrap_or_default()
    );
    match &report.stopped {
        Some(stop) if stop.kind == StopKind::Undelivered => {
            Err(SendError::Undelivered { report: Box::new(report) })
        }
        _ => Ok(report),
    }
}

fn stop_reason(
    message: &OutboxMessage,
    kind: StopKind,
    ack_code: Option<String>,
    reason: String,
) -> StopReason {
    StopReason {
        kind,
        control_id: message.control_id.clone(),
        message_type: message.message_type.clone(),
        patient_id: message.patient_id.clone(),
        subject: message.subject.clone(),
        ack_code,
        reason,
    }
}

/// Refuses a target that can never work (no port, a bad port) before anything is recorded; a
/// host that does not resolve is left to the tries, since name service may come back.
fn check_target(target: &str) -> Result<(), SendError> {
    let bad = || SendError::Target(target.to_string());
    let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    Ok(())
}

/// The wait after failed try `attempt` (1-based): `initial`, then doubling.
fn backoff(initial: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(20);
    initial.saturating_mul(factor).min(MAX_BACKOFF.max(initial))
}

enum Failure {
    /// The database failed: stop at once, the outbox cannot be kept right.
    Store(StoreError),
    /// This try got no valid answer; another may.
    Link(String),
}

/// One try: connect if needed, record the try, write, wait for the matching acknowledgement.
fn exchange(
    store: &mut Store,
    link: &mut Option<Link>,
    target: &str,
    frame: &[u8],
    message: &OutboxMessage,
    options: &SendOptions,
    written: &mut bool,
) -> Result<Ack, Failure> {
    let link = match link {
        Some(link) => link,
        None => link.insert(Link::open(target, options).map_err(Failure::Link)?),
    };
    store.record_send_attempt(message.id).map_err(Failure::Store)?;
    *written = true;
    link.stream
        .write_all(frame)
        .and_then(|()| link.stream.flush())
        .map_err(|e| Failure::Link(format!("cannot write to {target}: {}", io_text(&e))))?;
    let bytes =
        link.read_frame(Instant::now() + options.ack_timeout, options.ack_timeout).map_err(Failure::Link)?;
    let ack = parse_ack(&bytes).map_err(|e| Failure::Link(e.to_string()))?;
    if ack.control_id != message.control_id {
        return Err(Failure::Link(format!(
            "the acknowledgement is for message '{}', not {} (a receiver or routing fault)",
            clean(&ack.control_id),
            message.control_id
        )));
    }
    Ok(ack)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::store::{StagedItem, StagedMessage};

    #[test]
    fn backoff_doubles_from_the_initial_wait_and_is_capped() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 2), 2 * s);
        assert_eq!(backoff(s, 4), 8 * s);
        assert_eq!(backoff(s, 40), MAX_BACKOFF);
        assert_eq!(backoff(Duration::from_secs(120), 3), Duration::from_secs(120));
    }

    #[test]
    fn a_target_without_a_port_is_refused_before_anything_is_recorded() {
        let mut store = Store::open_in_memory().unwrap();
        let actor = crate::auth::test_session(&mut store, crate::domain::Role::Billing);
        for target in ["localhost", "localhost:", ":2575", "host:99999", "host:0"] {
            let err = send(&mut store, &actor, target, &SendOptions::default(), &mut |_| {}).unwrap_err();
            assert!(matches!(err, SendError::Target(_)), "{target}: {err}");
        }
        assert!(store.handoff_runs().unwrap().is_empty());
    }

    fn one_message_store() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let body = "MSH|^~\\&|KAMIKARTE|H|EHR|H|20261122||ADT^A04^ADT_A01|KSILENT1|P|2.5||||||~ISO IR87\r\
                    PID|1||P1||山田^太郎^^^^^L^I~ヤマダ^タロウ^^^^^L^P\r";
        let item = StagedItem {
            subject: "registration:P1".into(),
            version: 1,
            kind: "registration",
            patient_id: "P1".into(),
            item: None,
            entry_id: None,
            content_sha256: "x".into(),
            content: crate::store::PackedContent::pack("{}"),
            base: None,
            messages: vec![StagedMessage {
                control_id: "KSILENT1".into(),
                message_type: "ADT^A04".into(),
                body: body.into(),
            }],
        };
        store.save_handoff(&crate::store::Actor("test".into()), &[item]).unwrap();
        store
    }

    #[test]
    fn a_silent_receiver_is_retried_then_reported_with_the_message_and_the_timeout() {
        let mut store = one_message_store();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap().to_string();
        // Accepts and reads, never answers; keeps the sockets open so only the timeout ends a try.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming().flatten() {
                held.push(s);
            }
        });
        let options = SendOptions {
            ack_timeout: Duration::from_millis(150),
            retry_initial: Duration::from_millis(10),
            max_attempts: 3,
            ..SendOptions::default()
        };
        let mut steps = Vec::new();
        let exporter = crate::auth::test_session(&mut store, crate::domain::Role::Billing);
        let err =
            send(&mut store, &exporter, &target, &options, &mut |p| steps.push(p.step.clone())).unwrap_err();
        let SendError::Undelivered { report } = &err else { panic!("expected Undelivered, got {err}") };
        let text = err.to_string();
        assert!(text.contains("KSILENT1") && text.contains("ADT^A04") && text.contains("P1"), "{text}");
        assert!(text.contains("no acknowledgement within 150 ms") && text.contains("3 tries"), "{text}");
        assert_eq!((report.sent, report.acknowledged, report.errors, report.retries), (1, 0, 1, 2));
        assert_eq!(report.messages[0].outcome, Outcome::Undelivered);
        let retries: Vec<_> = steps
            .iter()
            .filter_map(|s| match s {
                SendStep::Failed { retry_in_ms, .. } => Some(*retry_in_ms),
                _ => None,
            })
            .collect();
        assert_eq!(retries, [Some(10), Some(20), None]);
        let m = store.outbox_message("KSILENT1").unwrap().unwrap();
        assert_eq!((m.state, m.attempts), (OutboxState::Pending, 3));
        assert!(m.last_error.unwrap().contains("no acknowledgement"));
        let run = &store.handoff_runs().unwrap()[0];
        assert!(run.finished_at.is_some(), "the run is recorded even when it fails");
        assert_eq!(run.counts.as_ref().unwrap()["stopped_at"], "KSILENT1");
    }

    #[test]
    fn a_refused_connection_is_tried_again_without_recording_a_send() {
        let mut store = one_message_store();
        // A port that was just free: nothing listens there.
        let target = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        let options = SendOptions {
            retry_initial: Duration::from_millis(1),
            max_attempts: 2,
            ..SendOptions::default()
        };
        let exporter = crate::auth::test_session(&mut store, crate::domain::Role::Billing);
        let err = send(&mut store, &exporter, &target, &options, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("cannot connect"), "{err}");
        let SendError::Undelivered { report } = err else { unreachable!() };
        assert_eq!((report.sent, report.retries), (0, 1));
        assert_eq!(store.outbox_message("KSILENT1").unwrap().unwrap().attempts, 0);
    }

    #[test]
    fn an_empty_outbox_sends_nothing_and_says_so() {
        let mut store = Store::open_in_memory().unwrap();
        let exporter = crate::auth::test_session(&mut store, crate::domain::Role::Billing);
        let report =
            send(&mut store, &exporter, "127.0.0.1:9", &SendOptions::default(), &mut |_| {}).unwrap();
        assert!(report.nothing_to_send && report.complete());
        assert_eq!(report.sent, 0);
    }
}
