//! Follow-ups moved or skipped by people, and their outcome recorded (002).

use super::*;

/// A follow-up moved to another due date, or skipped with a reason.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpChange {
    /// The new due date (not before today): its booked session, if any, is called off and the
    /// service books it again when the new date comes within the horizon.
    pub due_on: Option<NaiveDate>,
    /// `true` to skip it: it will not be held (its booked session is called off).
    pub skip: Option<bool>,
    /// Why it is skipped (1 to 500 characters), for the provider's side.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// The follow-up, its order locked for a change by `caller`, and the follow-up read again under
/// the lock.
fn load_for_change(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<(FollowUp, Visible)> {
    let seen = store::find(conn, id)?.ok_or_else(not_found)?;
    let visible =
        lifecycle::load_for_update(conn, caller, &seen.order_id).map_err(|e| match e {
            ServiceError::NotFound(_) => not_found(),
            other => other,
        })?;
    lifecycle::check(caller, &visible, OrderAction::FollowUp, None)?;
    store::lock(conn, id)?;
    let follow_up = store::find(conn, id)?.ok_or_else(not_found)?;
    Ok((follow_up, visible))
}

fn settled(follow_up: &FollowUp) -> ServiceError {
    ServiceError::NotNow {
        slug: "follow-up-settled",
        detail: format!(
            "the follow-up is {}: nothing about it changes any more",
            follow_up.status.as_str()
        ),
    }
}

/// Leaves the follow-up without its session: one still to come is called off for the provider
/// (it counts nowhere), one that did not take place is let go. One that has started or took
/// place stays: what happened in it is recorded first (attendance, then the outcome).
fn call_off_session(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    follow_up: &mut FollowUp,
    visible: &Visible,
    reason: &str,
) -> ServiceResult<()> {
    let Some(session_id) = follow_up.session_id.clone() else {
        return Ok(());
    };
    let Some(session) = session_store::find(conn, &session_id)? else {
        follow_up.session_id = None;
        return Ok(());
    };
    let started = session.starts_at.and_utc() <= now;
    match session.status {
        SessionStatus::Held => {
            return Err(ServiceError::NotNow {
                slug: "follow-up-session-held",
                detail: "its session took place: record the follow-up's outcome instead".into(),
            })
        }
        SessionStatus::Planned if started => {
            return Err(ServiceError::NotNow {
                slug: "follow-up-session-started",
                detail: "its session has started: record whether it took place first".into(),
            })
        }
        SessionStatus::NoShow | SessionStatus::Cancelled | SessionStatus::Planned => {}
    }
    follow_up.session_id = None;
    if session.status == SessionStatus::Planned {
        sessions::call_off(
            conn,
            now,
            caller,
            session,
            visible.clone(),
            CancelledFor::Provider,
            reason.into(),
        )?;
    }
    Ok(())
}

/// The coach or a planner moves a follow-up to another due date, or skips it.
#[tracing::instrument(skip_all, fields(follow_up_id = %id))]
pub fn change(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    change: FollowUpChange,
    horizon_days: u32,
) -> ServiceResult<FollowUpView> {
    let skip = change.skip.unwrap_or(false);
    match (change.due_on, skip) {
        (Some(_), true) => {
            return Err(ServiceError::invalid(
                "/skip",
                "a follow-up is moved or skipped, not both",
            ))
        }
        (None, false) => {
            return Err(ServiceError::invalid(
                "/due_on",
                "give a new due date, or skip: true with a reason",
            ))
        }
        _ => {}
    }
    let reason = match (&change.reason, skip) {
        (Some(reason), true) => Some(sessions::cancel_reason(reason)?),
        (None, true) => {
            return Err(ServiceError::invalid("/reason", "say why it is skipped"));
        }
        (Some(_), false) => {
            return Err(ServiceError::invalid(
                "/reason",
                "is for a follow-up that is skipped",
            ))
        }
        (None, false) => None,
    };
    db::write(conn, |conn| {
        let (mut follow_up, visible) = load_for_change(conn, caller, id)?;
        lifecycle::check_version("follow-up", follow_up.version, expected_version)?;
        if follow_up.status.settled() {
            return Err(settled(&follow_up));
        }
        let order = visible.order.clone();
        let follow_up = match change.due_on {
            Some(due_on) => {
                if due_on < today_of(conn, &order.provider_id, now)? {
                    return Err(ServiceError::invalid("/due_on", "must not be in the past"));
                }
                call_off_session(
                    conn,
                    now,
                    caller,
                    &mut follow_up,
                    &visible,
                    "the follow-up moved",
                )?;
                follow_up.due_on = due_on;
                let follow_up =
                    await_booking(conn, now, &order.provider_id, follow_up, horizon_days)?;
                lifecycle::record(
                    conn,
                    now,
                    caller,
                    &order,
                    Event::FollowUpMoved {
                        follow_up_id: follow_up.id.clone(),
                        due_on,
                    },
                )?;
                follow_up
            }
            None => {
                call_off_session(
                    conn,
                    now,
                    caller,
                    &mut follow_up,
                    &visible,
                    "the follow-up was skipped",
                )?;
                follow_up.status = FollowUpStatus::Skipped;
                follow_up.flag = None;
                follow_up.skip_reason = reason;
                let follow_up = save(conn, now, follow_up)?;
                lifecycle::record(
                    conn,
                    now,
                    caller,
                    &order,
                    Event::FollowUpSkipped {
                        follow_up_id: follow_up.id.clone(),
                    },
                )?;
                close_if_settled(conn, now, caller, &order.id)?;
                follow_up
            }
        };
        view_one(conn, follow_up, visible.audience)
    })
}

/// What the follow-up found.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Whether the results of the trajectory lasted.
    pub results: Results,
    /// A note for the employer (up to 2,000 characters): it reads the note only when the coachee
    /// consents to share a summary.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// The coach records the follow-up's outcome once it is due and its session, if any, took place;
/// with every follow-up settled, the order closes.
#[tracing::instrument(skip_all, fields(follow_up_id = %id))]
pub fn record_outcome(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    outcome: Outcome,
) -> ServiceResult<FollowUpView> {
    let mut errors = vec![];
    crate::domain::input::optional_text("/note", outcome.note.as_deref(), 2000, &mut errors);
    crate::domain::input::verdict(errors)?;
    db::write(conn, |conn| {
        let (mut follow_up, visible) = load_for_change(conn, caller, id)?;
        if visible.audience != Audience::Coach {
            return Err(ServiceError::Forbidden(
                "the order's coach records what a follow-up found".into(),
            ));
        }
        let session_to_come = match &follow_up.session_id {
            Some(session_id) => session_store::find(conn, session_id)?
                .is_some_and(|s| s.status == SessionStatus::Planned && s.ends_at.and_utc() > now),
            None => false,
        };
        let today = today_of(conn, &visible.order.provider_id, now)?;
        rules::may_record_outcome(follow_up.status, follow_up.due_on, today, session_to_come)
            .map_err(|why| ServiceError::NotNow {
                slug: "follow-up-not-ready",
                detail: format!("the outcome cannot be recorded: {why}"),
            })?;
        follow_up.status = FollowUpStatus::Done;
        follow_up.flag = None;
        follow_up.results = Some(outcome.results);
        follow_up.outcome_note = outcome.note.map(|n| n.trim().to_string());
        follow_up.outcome_at = Some(now.naive_utc());
        let follow_up = save(conn, now, follow_up)?;
        lifecycle::record(
            conn,
            now,
            caller,
            &visible.order,
            Event::FollowUpCompleted {
                follow_up_id: follow_up.id.clone(),
                results: outcome.results,
            },
        )?;
        close_if_settled(conn, now, caller, &visible.order.id)?;
        view_one(conn, follow_up, visible.audience)
    })
}
