//! The rules of keying a paper page, double entry included, as one pure decision: given the
//! page's keyings that still count, the hospital's setting and who is keying, what does this save
//! become — or why is it refused? The store applies the decision inside the save's transaction
//! (so the keyings it decides on are the ones on disk, not the ones a screen read earlier).

/// Where a keying stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// The first keying of a double entry, waiting for the second.
    Pending,
    /// A second keying that disagrees with the first: a third person settles it.
    Mismatch,
    /// Accepted, waiting for someone else to verify it against the paper.
    Entered,
    Verified,
    /// Replaced by a later keying of the same page.
    Superseded,
}

impl EntryState {
    pub const ALL: [EntryState; 5] =
        [Self::Pending, Self::Mismatch, Self::Entered, Self::Verified, Self::Superseded];

    pub fn code(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Mismatch => "mismatch",
            EntryState::Entered => "entered",
            EntryState::Verified => "verified",
            EntryState::Superseded => "superseded",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// A keying in this state gives billing its lines and counts its codes as used.
    pub fn accepted(self) -> bool {
        matches!(self, EntryState::Entered | EntryState::Verified)
    }
}

/// What a save is meant to be, as the clerk's screen planned it from the keyings it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keying {
    /// The first keying of a page no one has keyed; `double` waits for a second keying.
    First { double: bool },
    /// The second, independent keying of a double entry.
    Second { first: i64, agrees: bool },
    /// The third look that settles a mismatch between `first` and `second`.
    Resolve { first: i64, second: i64 },
    /// A corrected keying replacing an accepted one (it must be verified again).
    Correct { replaces: i64, double: bool },
}

impl Keying {
    /// The audit action the save is recorded as.
    pub fn action(self) -> &'static str {
        match self {
            Keying::First { .. } => "entry.key",
            Keying::Second { .. } => "entry.key_second",
            Keying::Resolve { .. } => "entry.resolve",
            Keying::Correct { .. } => "entry.correct",
        }
    }
}

/// A keying of the page that still counts, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveKeying<'a> {
    pub id: i64,
    pub state: EntryState,
    pub entered_by: &'a str,
}

/// What the save becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// 1 for a first keying or a correction, 2 for the second of a double entry, 3 for the third
    /// look.
    pub pass: u8,
    pub state: EntryState,
    /// Keyings this one replaces.
    pub supersede: Vec<i64>,
    /// Whether its codes count as used (an accepted keying that is not a correction).
    pub counts_codes: bool,
}

/// Why a save is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("double entry for charge slips was turned {} meanwhile: open {item} again", if *.now_on { "on" } else { "off" })]
    SettingChanged { item: String, now_on: bool },
    #[error("{item} was keyed meanwhile by {by} ({}): open it again", .state.code())]
    KeyedMeanwhile { item: String, by: String, state: EntryState },
    #[error("{item} is no longer waiting for a second keying")]
    NotWaitingForSecond { item: String },
    #[error("the second keying must be made by someone else than the first")]
    SamePersonTwice,
    #[error("{item} has no mismatch waiting to be resolved")]
    NoMismatch { item: String },
    #[error("a mismatch is resolved by a third person, not by one of the two who keyed it")]
    ResolverKeyedIt,
    #[error("{item} changed meanwhile: open it again")]
    ChangedMeanwhile { item: String },
    #[error("keying {id} is {}, not waiting for verification", .state.code())]
    NotWaitingForVerification { id: i64, state: EntryState },
    #[error("a keying is verified by someone else than the one who keyed it")]
    VerifiedByItsKeyer,
}

/// Decides what saving `keying` of the page `item` becomes. `live` are the page's keyings that
/// still count, oldest first; `double_on` is the hospital's setting now; `charges` says whether
/// the form makes charges (only charge slips are keyed twice); `keyer` is who saves.
pub fn decide(
    item: &str,
    live: &[LiveKeying<'_>],
    keying: Keying,
    double_on: bool,
    charges: bool,
    keyer: &str,
) -> Result<Decision, Refusal> {
    let must_double = charges && double_on;
    if let Keying::First { double } | Keying::Correct { double, .. } = keying
        && double != must_double
    {
        return Err(Refusal::SettingChanged { item: item.to_string(), now_on: double_on });
    }
    let find = |id: i64| live.iter().find(|e| e.id == id);
    let (pass, state, supersede) = match keying {
        Keying::First { double } => {
            if let Some(e) = live.first() {
                return Err(Refusal::KeyedMeanwhile {
                    item: item.to_string(),
                    by: e.entered_by.to_string(),
                    state: e.state,
                });
            }
            (1, if double { EntryState::Pending } else { EntryState::Entered }, vec![])
        }
        Keying::Second { first, agrees } => {
            let Some(f) = find(first).filter(|f| f.state == EntryState::Pending && live.len() == 1) else {
                return Err(Refusal::NotWaitingForSecond { item: item.to_string() });
            };
            if f.entered_by == keyer {
                return Err(Refusal::SamePersonTwice);
            }
            if agrees { (2, EntryState::Verified, vec![first]) } else { (2, EntryState::Mismatch, vec![]) }
        }
        Keying::Resolve { first, second } => {
            let (Some(a), Some(b)) = (find(first), find(second).filter(|b| b.state == EntryState::Mismatch))
            else {
                return Err(Refusal::NoMismatch { item: item.to_string() });
            };
            if a.entered_by == keyer || b.entered_by == keyer {
                return Err(Refusal::ResolverKeyedIt);
            }
            (3, EntryState::Verified, vec![first, second])
        }
        Keying::Correct { replaces, double } => {
            if find(replaces).is_none_or(|e| !e.state.accepted()) {
                return Err(Refusal::ChangedMeanwhile { item: item.to_string() });
            }
            (1, if double { EntryState::Pending } else { EntryState::Entered }, vec![replaces])
        }
    };
    let counts_codes = state.accepted() && !matches!(keying, Keying::Correct { .. });
    Ok(Decision { pass, state, supersede, counts_codes })
}

/// Whether `verifier` may confirm a keying that stands at `state`, keyed by `entered_by`.
pub fn may_verify(id: i64, state: EntryState, entered_by: &str, verifier: &str) -> Result<(), Refusal> {
    if state != EntryState::Entered {
        return Err(Refusal::NotWaitingForVerification { id, state });
    }
    if entered_by == verifier {
        return Err(Refusal::VerifiedByItsKeyer);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(id: i64, state: EntryState, by: &str) -> LiveKeying<'_> {
        LiveKeying { id, state, entered_by: by }
    }

    #[test]
    fn a_first_keying_waits_for_a_second_under_double_entry_and_is_entered_otherwise() {
        let d = decide("A-1", &[], Keying::First { double: true }, true, true, "ito").unwrap();
        assert_eq!((d.pass, d.state, d.counts_codes), (1, EntryState::Pending, false));
        let d = decide("A-1", &[], Keying::First { double: false }, true, false, "ito").unwrap();
        assert_eq!((d.state, d.counts_codes), (EntryState::Entered, true), "only charge slips twice");
        let e = decide("A-1", &[], Keying::First { double: false }, true, true, "ito").unwrap_err();
        assert_eq!(e, Refusal::SettingChanged { item: "A-1".into(), now_on: true });
    }

    #[test]
    fn the_second_keying_is_someone_elses_and_agreement_verifies() {
        let first = [live(7, EntryState::Pending, "ito")];
        assert_eq!(
            decide("A-1", &first, Keying::Second { first: 7, agrees: true }, true, true, "ito"),
            Err(Refusal::SamePersonTwice)
        );
        let d = decide("A-1", &first, Keying::Second { first: 7, agrees: true }, true, true, "kato").unwrap();
        assert_eq!((d.pass, d.state, d.supersede), (2, EntryState::Verified, vec![7]));
        let d =
            decide("A-1", &first, Keying::Second { first: 7, agrees: false }, true, true, "kato").unwrap();
        assert_eq!((d.state, d.supersede), (EntryState::Mismatch, vec![]));
    }

    #[test]
    fn a_mismatch_is_settled_by_a_third_person_only() {
        let both = [live(7, EntryState::Pending, "ito"), live(8, EntryState::Mismatch, "kato")];
        let resolve = Keying::Resolve { first: 7, second: 8 };
        for keyer in ["ito", "kato"] {
            assert_eq!(decide("A-1", &both, resolve, true, true, keyer), Err(Refusal::ResolverKeyedIt));
        }
        let d = decide("A-1", &both, resolve, true, true, "sato").unwrap();
        assert_eq!((d.pass, d.state, d.supersede), (3, EntryState::Verified, vec![7, 8]));
    }

    #[test]
    fn a_keying_is_verified_once_and_by_someone_else() {
        assert!(may_verify(7, EntryState::Entered, "ito", "kato").is_ok());
        assert_eq!(may_verify(7, EntryState::Entered, "ito", "ito"), Err(Refusal::VerifiedByItsKeyer));
        assert_eq!(
            may_verify(7, EntryState::Verified, "ito", "kato"),
            Err(Refusal::NotWaitingForVerification { id: 7, state: EntryState::Verified })
        );
    }

    #[test]
    fn two_stations_cannot_both_be_the_first_and_a_stale_correction_is_refused() {
        let keyed = [live(7, EntryState::Entered, "ito")];
        assert!(matches!(
            decide("A-1", &keyed, Keying::First { double: false }, false, true, "kato"),
            Err(Refusal::KeyedMeanwhile { .. })
        ));
        let d = decide("A-1", &keyed, Keying::Correct { replaces: 7, double: false }, false, true, "kato")
            .unwrap();
        assert_eq!((d.state, d.supersede, d.counts_codes), (EntryState::Entered, vec![7], false));
        assert!(matches!(
            decide("A-1", &keyed, Keying::Correct { replaces: 6, double: false }, false, true, "kato"),
            Err(Refusal::ChangedMeanwhile { .. })
        ));
    }
}
