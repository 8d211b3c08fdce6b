//! What booking, calling off and recording attendance do to a session and to its order's budget,
//! as changes the service saves together with the event each returns (002: regular sessions use
//! the budget; the intake, assessments and follow-ups never do; a cancellation uses one only when
//! the coachee's side calls off late), and who may book what, and outside the coach's hours.

use chrono::{DateTime, Duration, Utc};

use crate::domain::event::Event;
use crate::domain::principal::Role;
use crate::domain::session::{
    Attendance, CancelledFor, SessionKind, SessionRefusal, SessionStatus,
};

/// A session as the rules of its changes see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFacts {
    pub id: String,
    pub kind: SessionKind,
    pub status: SessionStatus,
    pub starts_at: DateTime<Utc>,
    pub counts_against_budget: bool,
}

/// An order's regular sessions: planned, and used (held, missed, or called off late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    pub planned: i32,
    pub used: i32,
}

impl Budget {
    /// The budget once a session of `kind` is booked.
    pub fn booked(self, kind: SessionKind) -> Budget {
        Budget {
            planned: self.planned + i32::from(kind.counts_against_budget()),
            ..self
        }
    }
}

/// A session's new state, its order's budget after it, and the event that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub status: SessionStatus,
    pub counts_against_budget: bool,
    pub budget: Budget,
    pub event: Event,
}

/// Why a planned session is called off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOff {
    /// On request of `requested_by`: the coachee's side calling off a regular session less than
    /// `late_hours` (the provider's setting) before it starts uses one of the budget.
    Requested {
        requested_by: CancelledFor,
        late_hours: u32,
    },
    /// What it depended on is gone (the order was cancelled or went to another coach, a consent
    /// was withdrawn): it never uses the budget.
    Moot { requested_by: CancelledFor },
}

/// Only a planned session that has not started changes: is moved or called off.
pub fn changeable(session: &SessionFacts, now: DateTime<Utc>) -> Result<(), SessionRefusal> {
    if session.status != SessionStatus::Planned {
        return Err(SessionRefusal::NotPlanned {
            status: session.status,
        });
    }
    if session.starts_at <= now {
        return Err(SessionRefusal::Started);
    }
    Ok(())
}

/// Calling `session` off at `now`, for `why`.
pub fn call_off(
    session: &SessionFacts,
    budget: Budget,
    why: CallOff,
    now: DateTime<Utc>,
) -> Result<Change, SessionRefusal> {
    changeable(session, now)?;
    let (requested_by, counts) = match why {
        CallOff::Requested {
            requested_by,
            late_hours,
        } => (
            requested_by,
            session.kind.counts_against_budget()
                && requested_by == CancelledFor::Coachee
                && session.starts_at - now < Duration::hours(i64::from(late_hours)),
        ),
        CallOff::Moot { requested_by } => (requested_by, false),
    };
    let budget = if session.counts_against_budget {
        Budget {
            planned: budget.planned - 1,
            used: budget.used + i32::from(counts),
        }
    } else {
        budget
    };
    Ok(Change {
        status: SessionStatus::Cancelled,
        counts_against_budget: counts,
        budget,
        event: Event::SessionCancelled {
            session_id: session.id.clone(),
            kind: session.kind,
            requested_by,
            counts_against_budget: counts,
        },
    })
}

/// Recording at `now` whether `session` was held or missed: once it has started; a budgeted
/// session is used either way (002).
pub fn attend(
    session: &SessionFacts,
    budget: Budget,
    attendance: Attendance,
    now: DateTime<Utc>,
) -> Result<Change, SessionRefusal> {
    if session.status != SessionStatus::Planned {
        return Err(SessionRefusal::NotPlanned {
            status: session.status,
        });
    }
    if session.starts_at > now {
        return Err(SessionRefusal::NotStarted);
    }
    let (status, event) = match attendance {
        Attendance::Held => (
            SessionStatus::Held,
            Event::SessionHeld {
                session_id: session.id.clone(),
                kind: session.kind,
            },
        ),
        Attendance::NoShow => (
            SessionStatus::NoShow,
            Event::SessionNoShow {
                session_id: session.id.clone(),
                kind: session.kind,
            },
        ),
    };
    let budget = if session.counts_against_budget {
        Budget {
            planned: budget.planned - 1,
            used: budget.used + 1,
        }
    } else {
        budget
    };
    Ok(Change {
        status,
        counts_against_budget: session.counts_against_budget,
        budget,
        event,
    })
}

/// Whether `role` books sessions of `kind` (the order's state decides the rest): the coach and
/// the planners any kind; the coachee their own regular sessions (self-service); the service
/// itself the follow-ups it schedules (002).
pub fn may_book(role: Role, kind: SessionKind) -> bool {
    match role {
        Role::Coach | Role::ProviderAdmin => true,
        Role::Coachee => kind == SessionKind::Regular,
        Role::System => kind == SessionKind::FollowUp,
        Role::Employer => false,
    }
}

/// Whether a session booked by `role` may lie outside the coach's working hours, on purpose:
/// only the coach makes an exception to their own hours.
pub fn may_book_outside_hours(role: Role, wanted: bool) -> Result<bool, SessionRefusal> {
    match (wanted, role) {
        (false, _) => Ok(false),
        (true, Role::Coach) => Ok(true),
        (true, _) => Err(SessionRefusal::OutsideHoursNotYours),
    }
}

/// Whether a session lies outside the coach's hours once `role` moved it: the coach keeps or
/// changes the exception as they say; whoever else moves its time moves it into the hours, and
/// may not ask for the exception.
pub fn outside_hours_after_move(
    role: Role,
    wanted: Option<bool>,
    was: bool,
    moves_time: bool,
) -> Result<bool, SessionRefusal> {
    match (role, wanted) {
        (Role::Coach, Some(wanted)) => Ok(wanted),
        (Role::Coach, None) => Ok(was),
        (_, Some(true)) => Err(SessionRefusal::OutsideHoursNotYours),
        (_, _) => Ok(was && !moves_time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 2, hour, 0, 0).unwrap()
    }

    fn regular(starts_at: DateTime<Utc>) -> SessionFacts {
        SessionFacts {
            id: "s".into(),
            kind: SessionKind::Regular,
            status: SessionStatus::Planned,
            starts_at,
            counts_against_budget: true,
        }
    }

    const BUDGET: Budget = Budget {
        planned: 3,
        used: 2,
    };

    #[test]
    fn booking_a_regular_session_plans_one_of_the_budget_002() {
        assert_eq!(
            BUDGET.booked(SessionKind::Regular),
            Budget {
                planned: 4,
                used: 2
            }
        );
        for kind in [
            SessionKind::Intake,
            SessionKind::Assessment,
            SessionKind::FollowUp,
        ] {
            assert_eq!(BUDGET.booked(kind), BUDGET, "{kind:?}");
        }
    }

    #[test]
    fn a_late_call_off_by_the_coachees_side_uses_one_of_the_budget_002() {
        let late = CallOff::Requested {
            requested_by: CancelledFor::Coachee,
            late_hours: 24,
        };
        // Ten hours before: late.
        let change = call_off(&regular(at(20)), BUDGET, late, at(10)).unwrap();
        assert_eq!(change.status, SessionStatus::Cancelled);
        assert!(change.counts_against_budget);
        assert_eq!(
            change.budget,
            Budget {
                planned: 2,
                used: 3
            }
        );
        assert_eq!(
            change.event,
            Event::SessionCancelled {
                session_id: "s".into(),
                kind: SessionKind::Regular,
                requested_by: CancelledFor::Coachee,
                counts_against_budget: true,
            }
        );
        // In time, or by the provider, or because the order was cancelled: it does not count.
        let early = call_off(&regular(at(20)), BUDGET, late, at(20) - Duration::hours(30)).unwrap();
        let provider = CallOff::Requested {
            requested_by: CancelledFor::Provider,
            late_hours: 24,
        };
        let by_provider = call_off(&regular(at(20)), BUDGET, provider, at(10)).unwrap();
        let moot = CallOff::Moot {
            requested_by: CancelledFor::Coachee,
        };
        let mooted = call_off(&regular(at(20)), BUDGET, moot, at(10)).unwrap();
        let intake = SessionFacts {
            kind: SessionKind::Intake,
            counts_against_budget: false,
            ..regular(at(20))
        };
        assert!(
            !call_off(&intake, BUDGET, late, at(10))
                .unwrap()
                .counts_against_budget,
            "the intake never counts (002)"
        );
        // A provider that asks for 48 hours' notice: 30 hours before is late.
        let strict = CallOff::Requested {
            requested_by: CancelledFor::Coachee,
            late_hours: 48,
        };
        let thirty_before = at(20) - Duration::hours(30);
        assert!(
            call_off(&regular(at(20)), BUDGET, strict, thirty_before)
                .unwrap()
                .counts_against_budget
        );
        for change in [early, by_provider, mooted] {
            assert!(!change.counts_against_budget);
            assert_eq!(
                change.budget,
                Budget {
                    planned: 2,
                    used: 2
                }
            );
        }
    }

    #[test]
    fn only_a_planned_session_that_has_not_started_is_called_off() {
        let why = CallOff::Moot {
            requested_by: CancelledFor::Provider,
        };
        assert_eq!(
            call_off(&regular(at(9)), BUDGET, why, at(10)),
            Err(SessionRefusal::Started)
        );
        let held = SessionFacts {
            status: SessionStatus::Held,
            ..regular(at(20))
        };
        assert_eq!(
            call_off(&held, BUDGET, why, at(10)),
            Err(SessionRefusal::NotPlanned {
                status: SessionStatus::Held
            })
        );
    }

    #[test]
    fn attendance_is_recorded_once_the_session_started_and_uses_the_budget_either_way_002() {
        for (attendance, status) in [
            (Attendance::Held, SessionStatus::Held),
            (Attendance::NoShow, SessionStatus::NoShow),
        ] {
            let change = attend(&regular(at(9)), BUDGET, attendance, at(10)).unwrap();
            assert_eq!(change.status, status);
            assert_eq!(
                change.budget,
                Budget {
                    planned: 2,
                    used: 3
                }
            );
        }
        assert_eq!(
            attend(&regular(at(11)), BUDGET, Attendance::Held, at(10)),
            Err(SessionRefusal::NotStarted)
        );
        let intake = SessionFacts {
            kind: SessionKind::Intake,
            counts_against_budget: false,
            ..regular(at(9))
        };
        assert_eq!(
            attend(&intake, BUDGET, Attendance::Held, at(10))
                .unwrap()
                .budget,
            BUDGET
        );
    }

    #[test]
    fn who_books_what() {
        for kind in SessionKind::ALL {
            assert!(may_book(Role::Coach, *kind));
            assert!(may_book(Role::ProviderAdmin, *kind));
            assert!(!may_book(Role::Employer, *kind));
            assert_eq!(
                may_book(Role::Coachee, *kind),
                *kind == SessionKind::Regular
            );
            assert_eq!(
                may_book(Role::System, *kind),
                *kind == SessionKind::FollowUp
            );
        }
    }

    #[test]
    fn only_the_coach_makes_an_exception_to_their_hours() {
        assert_eq!(may_book_outside_hours(Role::Coach, true), Ok(true));
        assert_eq!(may_book_outside_hours(Role::System, false), Ok(false));
        for role in [Role::ProviderAdmin, Role::Coachee, Role::System] {
            assert_eq!(
                may_book_outside_hours(role, true),
                Err(SessionRefusal::OutsideHoursNotYours)
            );
            assert_eq!(
                outside_hours_after_move(role, Some(true), false, true),
                Err(SessionRefusal::OutsideHoursNotYours)
            );
            // Moving its time moves it into the hours; changing only its format keeps it.
            assert_eq!(outside_hours_after_move(role, None, true, true), Ok(false));
            assert_eq!(outside_hours_after_move(role, None, true, false), Ok(true));
        }
        assert_eq!(
            outside_hours_after_move(Role::Coach, None, true, true),
            Ok(true)
        );
        assert_eq!(
            outside_hours_after_move(Role::Coach, Some(false), true, false),
            Ok(false)
        );
    }
}
