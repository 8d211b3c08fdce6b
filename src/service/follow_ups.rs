//! Follow-ups (DOMAIN.md step 8, 002): planned when a trajectory completes, from the employer's
//! policy or the order's own; booked by the service itself (`Role::System`) through the same
//! booking core as a planner's request when their due date comes within the horizon, or flagged
//! for a planner when it cannot; moved, skipped, and their outcome recorded by people. When every
//! follow-up is settled, the order closes.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::clock::new_id;
use crate::db::follow_ups::{self as store, FollowUp, FollowUpFilter, PolicyRecord};
use crate::db::orders::Order;
use crate::db::sessions as session_store;
use crate::db::{self, coaches, identity, DbConnection, Json};
use crate::domain::event::Event;
use crate::domain::follow_up::{
    self as rules, FollowUpFlag, FollowUpPolicy, FollowUpStatus, Results,
};
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::principal::{Principal, Role};
use crate::domain::session::{CancelledFor, MeetingFormat, NewSession, SessionKind, SessionStatus};
use crate::domain::visibility::Audience;
use crate::service::availability::{slots_of, SlotQuery};
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::jobs;
use crate::service::lifecycle::{self, Visible};
use crate::service::sessions;
use crate::views::follow_up::{FollowUpPage, FollowUpPolicyView, FollowUpView};

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such follow-up".into())
}

/// The provider's calendar day at `now`.
fn today_of(
    conn: &mut DbConnection,
    provider_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<NaiveDate> {
    let zone: Tz = identity::find_organisation(conn, provider_id)?
        .and_then(|o| o.time_zone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    Ok(now.with_timezone(&zone).date_naive())
}

// ----- The employer's policy -----

fn employers_only(caller: &Principal) -> ServiceResult<()> {
    if caller.role != Role::Employer {
        return Err(ServiceError::Forbidden(
            "an employer sets when its orders are followed up".into(),
        ));
    }
    Ok(())
}

/// The follow-up days of the employer's orders: its policy, or the default (002).
pub fn days_of(conn: &mut DbConnection, employer_id: &str) -> ServiceResult<Vec<u32>> {
    Ok(store::find_policy(conn, employer_id)?
        .map_or_else(|| FollowUpPolicy::default().days, |p| p.days.0))
}

/// The employer's follow-up policy.
pub fn policy(conn: &mut DbConnection, caller: &Principal) -> ServiceResult<FollowUpPolicyView> {
    employers_only(caller)?;
    let record = store::find_policy(conn, &caller.organisation_id)?;
    Ok(FollowUpPolicyView {
        version: record.as_ref().map_or(0, |r| r.version),
        days: record.map_or_else(|| FollowUpPolicy::default().days, |r| r.days.0),
    })
}

/// The employer sets its follow-up policy (orders completed from then on follow it);
/// `expected_version` is `If-Match`.
pub fn set_policy(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    expected_version: Option<i32>,
    policy: FollowUpPolicy,
) -> ServiceResult<FollowUpPolicyView> {
    employers_only(caller)?;
    policy.validate()?;
    db::write(conn, |conn| {
        let current = store::find_policy(conn, &caller.organisation_id)?.map_or(0, |r| r.version);
        lifecycle::check_version("follow-up policy", current, expected_version)?;
        let record = PolicyRecord {
            employer_id: caller.organisation_id.clone(),
            days: Json(policy.days.clone()),
            version: current + 1,
            updated_at: now.naive_utc(),
        };
        if !store::save_policy(conn, &record, (current > 0).then_some(current))? {
            return Err(lifecycle::lost_race(
                "follow-up policy",
                expected_version,
                current + 1,
            ));
        }
        lifecycle::record_for_organisation(
            conn,
            now,
            caller,
            &caller.organisation_id,
            Event::FollowUpPolicyUpdated {
                days: policy.days.clone(),
            },
        )?;
        Ok(FollowUpPolicyView {
            days: policy.days,
            version: record.version,
        })
    })
}

// ----- Planned when the trajectory completes -----

/// Plans the follow-ups of `order`, which just completed (and is saved as completed), `days`
/// after today, each queued for booking `horizon_days` before it is due; moves the order to
/// `following_up` with the first, or closes it when there are none. In the completion's
/// transaction; returns the order as saved.
pub fn plan(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: Order,
    days: &[u32],
    horizon_days: u32,
) -> ServiceResult<Order> {
    let today = today_of(conn, &order.provider_id, now)?;
    let due_dates = rules::due_dates(today, days);
    if due_dates.is_empty() {
        return lifecycle::save(
            conn,
            now,
            actor,
            order,
            OrderStatus::Closed,
            Event::OrderClosed {},
        );
    }
    let mut order = order;
    for (i, due_on) in due_dates.into_iter().enumerate() {
        let follow_up = FollowUp {
            id: new_id(),
            order_id: order.id.clone(),
            provider_id: order.provider_id.clone(),
            number: i as i32 + 1,
            due_on,
            status: FollowUpStatus::Pending,
            session_id: None,
            flag: None,
            skip_reason: None,
            results: None,
            outcome_note: None,
            outcome_at: None,
            version: 1,
            created_at: now.naive_utc(),
            updated_at: now.naive_utc(),
        };
        if !store::insert(conn, &follow_up)? {
            continue;
        }
        jobs::book_follow_up(
            conn,
            now,
            &order.provider_id,
            &follow_up.id,
            rules::booking_time(due_on, horizon_days, now),
        )?;
        let event = Event::FollowUpPlanned {
            follow_up_id: follow_up.id.clone(),
            number: follow_up.number as u32,
            due_on,
        };
        if order.status == OrderStatus::Completed {
            order = lifecycle::save(conn, now, actor, order, OrderStatus::FollowingUp, event)?;
        } else {
            lifecycle::record(conn, now, actor, &order, event)?;
        }
    }
    Ok(order)
}

// ----- Booked by the service -----

/// What the service's booking of a follow-up came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booking {
    /// A session was booked for it.
    Booked { session_id: String },
    /// It could not be booked: a planner looks at it.
    Flagged(FollowUpFlag),
    /// It needs no booking (any more): booked by hand, moved, skipped or settled.
    Nothing,
}

/// The service books the follow-up `id` (the job of its due date coming within the horizon):
/// the first free time of the order's coach from the due date through the horizon, on the
/// coach's clock, through the booking core a planner's request runs, as a `follow_up` session
/// outside the budget. No free time, or no coach to book with: flagged for a planner, never
/// dropped. Running it again changes nothing once it booked or flagged.
#[tracing::instrument(skip_all, fields(follow_up_id = %id))]
pub fn book_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    id: &str,
    horizon_days: u32,
) -> ServiceResult<Booking> {
    let Some(seen) = store::find(conn, id)? else {
        return Ok(Booking::Nothing);
    };
    if seen.status != FollowUpStatus::Pending {
        return Ok(Booking::Nothing);
    }
    let system = Principal::system(&seen.provider_id);
    db::write(conn, |conn| {
        let order_seen = lifecycle::load(conn, &system, &seen.order_id)?;
        let visible = sessions::lock_coach_then_order(conn, &order_seen, |conn| {
            lifecycle::load_for_update(conn, &system, &seen.order_id)
        })?;
        store::lock(conn, id)?;
        let follow_up = store::find(conn, id)?.ok_or_else(not_found)?;
        if follow_up.status != FollowUpStatus::Pending {
            return Ok(Booking::Nothing);
        }
        let coach = match visible.order.coach_id.as_deref() {
            Some(coach_id) => coaches::find(conn, coach_id)?,
            None => None,
        }
        .filter(|c| c.can_take_orders_of(&visible.order.provider_id));
        let Some(coach) = coach else {
            return flag(
                conn,
                now,
                &system,
                &visible.order,
                follow_up,
                FollowUpFlag::CoachUnavailable,
            );
        };
        sessions::may_book(&system, &visible, SessionKind::FollowUp)?;
        let tz: Tz = sessions::coach_zone(&coach.time_zone)?;
        let (from, to) = rules::search_window(follow_up.due_on, horizon_days, tz, now);
        if to <= from {
            // The horizon after the due date has passed (a worker long down): a planner books.
            return flag(
                conn,
                now,
                &system,
                &visible.order,
                follow_up,
                FollowUpFlag::NoSlot,
            );
        }
        let slots = slots_of(
            conn,
            now,
            coach,
            SlotQuery {
                from,
                to,
                duration_minutes: rules::SESSION_MINUTES,
                time_zone: None,
            },
        )?;
        let held_as = held_as(conn, &visible.order.id)?;
        // The first that the booking core takes (each try in a savepoint of its own).
        for slot in slots.slots.iter().take(20) {
            let new = NewSession {
                starts_at: slot.starts_at,
                duration_minutes: rules::SESSION_MINUTES,
                kind: SessionKind::FollowUp,
                format: held_as.0,
                location: held_as.1.clone(),
                meeting_link: held_as.2.clone(),
                outside_hours: false,
            };
            let booked = db::write(conn, |conn| {
                sessions::book_on(conn, now, &system, visible.clone(), &new)
            });
            match booked {
                Ok(session) => {
                    attach(
                        conn,
                        now,
                        &system,
                        &visible.order,
                        follow_up,
                        &session.id,
                        session.starts_at,
                    )?;
                    return Ok(Booking::Booked {
                        session_id: session.id,
                    });
                }
                Err(ServiceError::Session(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        flag(
            conn,
            now,
            &system,
            &visible.order,
            follow_up,
            FollowUpFlag::NoSlot,
        )
    })
}

/// How a follow-up session is held: as the order's latest regular session was (in person at its
/// place, by video with its link), or by phone.
fn held_as(
    conn: &mut DbConnection,
    order_id: &str,
) -> ServiceResult<(MeetingFormat, Option<String>, Option<String>)> {
    Ok(match session_store::latest_regular(conn, order_id)? {
        Some(s) if s.format != MeetingFormat::Phone => (s.format, s.location, s.meeting_link),
        _ => (MeetingFormat::Phone, None, None),
    })
}

/// Saves `follow_up` with its new state (version + 1).
fn save(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    mut follow_up: FollowUp,
) -> ServiceResult<FollowUp> {
    let read = follow_up.version;
    follow_up.version += 1;
    follow_up.updated_at = now.naive_utc();
    if !store::update(conn, &follow_up, read)? {
        return Err(ServiceError::changed("follow-up"));
    }
    Ok(follow_up)
}

fn flag(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &Order,
    mut follow_up: FollowUp,
    why: FollowUpFlag,
) -> ServiceResult<Booking> {
    follow_up.status = FollowUpStatus::Flagged;
    follow_up.flag = Some(why);
    follow_up.session_id = None;
    let follow_up = save(conn, now, follow_up)?;
    tracing::info!(flag = why.as_str(), "follow-up flagged for a planner");
    lifecycle::record(
        conn,
        now,
        actor,
        order,
        Event::FollowUpFlagged {
            follow_up_id: follow_up.id,
            flag: why,
        },
    )?;
    Ok(Booking::Flagged(why))
}

fn attach(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &Order,
    mut follow_up: FollowUp,
    session_id: &str,
    starts_at: DateTime<Utc>,
) -> ServiceResult<()> {
    follow_up.status = FollowUpStatus::Scheduled;
    follow_up.flag = None;
    follow_up.session_id = Some(session_id.to_string());
    let follow_up = save(conn, now, follow_up)?;
    lifecycle::record(
        conn,
        now,
        actor,
        order,
        Event::FollowUpScheduled {
            follow_up_id: follow_up.id,
            session_id: session_id.to_string(),
            starts_at,
        },
    )
}

/// A `follow_up` session booked by hand (a planner, after a flag) is the first follow-up's that
/// waits for one.
pub(crate) fn attach_to_first_waiting(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &Order,
    session_id: &str,
    starts_at: DateTime<Utc>,
) -> ServiceResult<()> {
    let waiting = store::of_order(conn, &order.id)?
        .into_iter()
        .find(|f| f.status.awaits_session());
    if let Some(follow_up) = waiting {
        store::lock(conn, &follow_up.id)?;
        attach(conn, now, actor, order, follow_up, session_id, starts_at)?;
    }
    Ok(())
}

/// A follow-up's session was called off: the follow-up waits for a planner again.
pub(crate) fn session_called_off(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &Order,
    session_id: &str,
) -> ServiceResult<()> {
    if let Some(follow_up) = store::of_session(conn, session_id)? {
        store::lock(conn, &follow_up.id)?;
        if !follow_up.status.settled() {
            flag(
                conn,
                now,
                actor,
                order,
                follow_up,
                FollowUpFlag::SessionCancelled,
            )?;
        }
    }
    Ok(())
}

/// Another coach took over the order while it is followed up: its planned sessions were called
/// off with the previous coach, so every follow-up still to be held without a standing session
/// (flagged ones too) waits for the service to book it with the new coach when it comes within
/// the horizon.
pub(crate) fn coach_changed(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    order: &Order,
    horizon_days: u32,
) -> ServiceResult<()> {
    for follow_up in store::of_order(conn, &order.id)? {
        if follow_up.status.settled() {
            continue;
        }
        let standing = match follow_up.session_id.as_deref() {
            Some(session_id) => session_store::find(conn, session_id)?
                .is_some_and(|s| s.status != SessionStatus::Cancelled),
            None => false,
        };
        if standing {
            continue;
        }
        store::lock(conn, &follow_up.id)?;
        let mut follow_up = follow_up;
        follow_up.session_id = None;
        await_booking(conn, now, &order.provider_id, follow_up, horizon_days)?;
    }
    Ok(())
}

/// `follow_up` waits for the service to book it (again): pending, unflagged, its booking queued
/// for the horizon before its due date.
fn await_booking(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    provider_id: &str,
    mut follow_up: FollowUp,
    horizon_days: u32,
) -> ServiceResult<FollowUp> {
    follow_up.status = FollowUpStatus::Pending;
    follow_up.flag = None;
    let follow_up = save(conn, now, follow_up)?;
    jobs::book_follow_up(
        conn,
        now,
        provider_id,
        &follow_up.id,
        rules::booking_time(follow_up.due_on, horizon_days, now),
    )?;
    Ok(follow_up)
}

// ----- Moved, skipped, and its outcome, by people -----

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

/// Closes the order (locked) once every follow-up of it is settled.
fn close_if_settled(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order_id: &str,
) -> ServiceResult<()> {
    let statuses: Vec<FollowUpStatus> = store::of_order(conn, order_id)?
        .into_iter()
        .map(|f| f.status)
        .collect();
    if !rules::all_settled(&statuses) {
        return Ok(());
    }
    let order = crate::db::orders::find(conn, order_id)?
        .ok_or_else(|| ServiceError::NotFound("no such order".into()))?;
    if order.status == OrderStatus::FollowingUp {
        lifecycle::save(
            conn,
            now,
            actor,
            order,
            OrderStatus::Closed,
            Event::OrderClosed {},
        )?;
        tracing::info!(order_id, "order closed: its follow-ups are settled");
    }
    Ok(())
}

// ----- Reading -----

fn view_one(
    conn: &mut DbConnection,
    follow_up: FollowUp,
    audience: Audience,
) -> ServiceResult<FollowUpView> {
    let shared = audience == Audience::Employer
        && coaching::consent_given(
            conn,
            &follow_up.order_id,
            crate::domain::consent::ConsentKind::ShareSummary,
        )?;
    let starts_at = match &follow_up.session_id {
        Some(id) => session_store::find(conn, id)?.map(|s| s.starts_at.and_utc()),
        None => None,
    };
    Ok(FollowUpView::build(follow_up, audience, shared, starts_at))
}

/// The order's follow-ups, for whoever sees the order (the employer sees dates, states and
/// results; the note only with the coachee's consent).
pub fn of_order(
    conn: &mut DbConnection,
    caller: &Principal,
    order_id: &str,
) -> ServiceResult<Vec<FollowUpView>> {
    let visible = lifecycle::load(conn, caller, order_id)?;
    store::of_order(conn, &visible.order.id)?
        .into_iter()
        .map(|f| view_one(conn, f, visible.audience))
        .collect()
}

/// What a list of follow-ups is filtered on.
#[derive(Debug, Clone)]
pub struct FollowUpQuery {
    pub status: Option<FollowUpStatus>,
    pub due_before: Option<NaiveDate>,
    pub page: crate::service::pagination::PageRequest,
}

/// The provider's follow-ups by due date (a planner's: all of them, e.g. the flagged ones; a
/// coach's: their orders').
pub fn list(
    conn: &mut DbConnection,
    caller: &Principal,
    query: FollowUpQuery,
) -> ServiceResult<FollowUpPage> {
    let (coach_id, audience) = match caller.role {
        Role::ProviderAdmin => (None, Audience::ProviderAdmin),
        Role::Coach => match coaches::find_by_user(conn, &caller.subject)? {
            Some(coach) => (Some(coach.id), Audience::Coach),
            None => {
                return Ok(FollowUpPage {
                    data: vec![],
                    next_cursor: None,
                })
            }
        },
        _ => {
            return Err(ServiceError::Forbidden(
                "the provider's coaches and planners list follow-ups".into(),
            ))
        }
    };
    let after = match &query.page.after {
        Some(cursor) => {
            let (due, id) = cursor.split_once('|').ok_or_else(|| {
                ServiceError::BadQuery(vec![crate::domain::FieldError::new(
                    "cursor",
                    "is not a cursor of this list",
                )])
            })?;
            let due = due.parse::<NaiveDate>().map_err(|_| {
                ServiceError::BadQuery(vec![crate::domain::FieldError::new(
                    "cursor",
                    "is not a cursor of this list",
                )])
            })?;
            Some((due, id.to_string()))
        }
        None => None,
    };
    let rows = store::list(
        conn,
        &FollowUpFilter {
            provider_id: caller.organisation_id.clone(),
            coach_id,
            status: query.status,
            due_before: query.due_before,
            after,
            limit: query.page.fetch(),
        },
    )?;
    let keys: Vec<String> = rows
        .iter()
        .map(|f| format!("{}|{}", f.due_on, f.id))
        .collect();
    let (rows, next_cursor) = query.page.finish(
        rows.into_iter().zip(keys).collect::<Vec<_>>(),
        |(_, key)| key.as_str(),
    );
    let data = rows
        .into_iter()
        .map(|(f, _)| view_one(conn, f, audience))
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(FollowUpPage { data, next_cursor })
}
