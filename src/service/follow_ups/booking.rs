//! Follow-ups planned when a trajectory completes and booked by the service when they come
//! within the horizon, or flagged; what a session called off or another coach does to them.

use super::*;

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
