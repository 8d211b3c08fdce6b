//! The order's use cases: commission, edit, assign a coach, record first contact, cancel, extend
//! and complete. Each runs in one transaction: load the order as the caller sees it, ask the
//! domain whether the action is allowed now and what it changes, save, and record its event.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::result::DatabaseErrorKind;

use crate::clock::new_id;
use crate::db::orders::{self as store, Extension, Order, Placement};
use crate::db::{self, coaches, identity, DbConnection};
use crate::domain::commission::{Cancellation, NewOrder, OrderChanges};
use crate::domain::contact::{self, FirstContact};
use crate::domain::event::Event;
use crate::domain::extension::{Completion, ExtensionRequest};
use crate::domain::order::{self, OrderAction, OrderStatus};
use crate::domain::principal::Principal;
use crate::domain::session::SessionKind;
use crate::domain::visibility::Audience;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::follow_ups;
use crate::service::lifecycle;
use crate::service::order_reads;
use crate::service::sessions;
use crate::views::order::OrderView;

fn duplicate(existing: &Order) -> ServiceError {
    ServiceError::DuplicateExternalRef {
        existing_order_id: existing.id.clone(),
    }
}

/// The employer commissions a trajectory for one of its employees; it goes to the employer's
/// contracted provider, and first contact is due the same working day (004).
#[tracing::instrument(skip_all)]
pub fn commission(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    new: NewOrder,
) -> ServiceResult<OrderView> {
    let commission = new.commission(now.date_naive())?;
    db::write(conn, |conn| {
        if let Some(external_ref) = &commission.external_ref {
            if let Some(existing) =
                store::find_by_external_ref(conn, &caller.organisation_id, external_ref)?
            {
                return Err(duplicate(&existing));
            }
        }
        let order = place(conn, now, caller, &caller.organisation_id, commission, None)?;
        order_reads::view(conn, now, caller, &order, Audience::Employer)
    })
}

/// Where a new order comes from, when not straight from the employer: the invitation campaign
/// its coachee signed up to, and whether the employer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub invitation_id: &'a str,
    pub employer_sees: bool,
}

/// Places a new order for `employer_id` with its contracted provider, `placed_by` the caller,
/// with first contact due the same working day (004), and records its creation. The one way an
/// order comes into being: the employer's commission and a sign-up to its campaign. Call inside
/// the use case's transaction.
pub fn place(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    employer_id: &str,
    commission: crate::domain::commission::Commission,
    origin: Option<Origin<'_>>,
) -> ServiceResult<Order> {
    let employer = identity::find_organisation(conn, employer_id)?.ok_or(
        ServiceError::Unauthorized("the token's organisation no longer exists"),
    )?;
    let provider_id = employer.provider_id.ok_or_else(|| {
        ServiceError::invalid(
            "/",
            "your organisation has no contracted coaching provider to send the order to",
        )
    })?;
    let provider = identity::find_organisation(conn, &provider_id)?
        .ok_or_else(|| anyhow::anyhow!("contracted provider {provider_id} missing"))?;
    let contact_due_at = contact::contact_due_at(now, provider_zone(&provider.time_zone));
    let mut order = Order::submitted(
        new_id(),
        Placement {
            employer_id: employer.id,
            provider_id: provider.id,
            placed_by: caller.subject.clone(),
            placed_at: now.naive_utc(),
            contact_due_at: contact_due_at.naive_utc(),
        },
        commission,
    );
    if let Some(origin) = origin {
        order.invitation_id = Some(origin.invitation_id.to_string());
        order.employer_sees = origin.employer_sees;
    }
    store::insert(conn, &order).map_err(|e| {
        match e {
        // Another order with this reference was placed meanwhile: a retry names it.
        diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ServiceError::Concurrent(
                "an order with this external_ref was placed while this request ran; retry to see it"
                    .into(),
            )
        }
        other => other.into(),
    }
    })?;
    let event = Event::OrderCreated { contact_due_at };
    lifecycle::record_creation(conn, now, caller, &order, event)?;
    tracing::info!(order_id = %order.id, "order created");
    Ok(order)
}

/// A provider's time zone, Amsterdam when it names none this build knows.
pub fn provider_zone(time_zone: &str) -> chrono_tz::Tz {
    time_zone.parse().unwrap_or(chrono_tz::Europe::Amsterdam)
}

/// Runs one lifecycle action in a transaction: load, check, change, save with its event, view.
fn act(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    action: OrderAction,
    change: impl FnOnce(&mut DbConnection, &mut Order) -> ServiceResult<Event>,
) -> ServiceResult<OrderView> {
    act_to(conn, now, caller, id, action, |conn, order, to| {
        change(conn, order).map(|event| (event, to))
    })
}

/// [`act`], for a change that decides the status it leads to itself (given the one the action
/// leads to by the table).
fn act_to(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    action: OrderAction,
    change: impl FnOnce(
        &mut DbConnection,
        &mut Order,
        OrderStatus,
    ) -> ServiceResult<(Event, OrderStatus)>,
) -> ServiceResult<OrderView> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        let to = lifecycle::check(caller, &visible, action, None)?;
        let mut order = visible.order.clone();
        let (event, to) = change(conn, &mut order, to)?;
        let order = lifecycle::save(conn, now, caller, order, to, event)?;
        order_reads::view(conn, now, caller, &order, visible.audience)
    })
}

/// The employer changes its order while nothing has started; `expected_version` is the
/// version it read (`If-Match`).
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn edit(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    changes: OrderChanges,
) -> ServiceResult<OrderView> {
    act(conn, now, caller, id, OrderAction::Edit, |conn, order| {
        lifecycle::check_version("order", order.version, expected_version)?;
        if let Some(external_ref) = changes.external_ref() {
            if let Some(existing) =
                store::find_by_external_ref(conn, &order.employer_id, external_ref)?
            {
                if existing.id != order.id {
                    return Err(duplicate(&existing));
                }
            }
        }
        let mut commission = order.commission();
        changes.apply(&mut commission)?;
        order.set_commission(commission);
        Ok(Event::OrderUpdated {})
    })
}

/// The provider's planner assigns (or changes) the coach: an active coach of the provider who
/// can sign in.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn assign(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    coach_id: &str,
    horizon_days: u32,
) -> ServiceResult<OrderView> {
    // The lock order: the coach first, then the order (`act_to`). Locked, so that a planner
    // deactivating the coach meanwhile either sees this order (and refuses) or is seen here as
    // inactive.
    db::write(conn, |conn| {
        coaches::lock(conn, coach_id)?;
        assign_locked(conn, now, caller, id, coach_id, horizon_days)
    })
}

fn assign_locked(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    coach_id: &str,
    horizon_days: u32,
) -> ServiceResult<OrderView> {
    act_to(
        conn,
        now,
        caller,
        id,
        OrderAction::Assign,
        |conn, order, to| {
            let coach = coaches::find(conn, coach_id)?
                .filter(|c| c.can_take_orders_of(&order.provider_id))
                // A coach whose login is disabled cannot take the order up either.
                .map(|c| -> ServiceResult<Option<_>> {
                    let login = c.user_id.as_deref().map(|u| identity::find_user(conn, u));
                    let signs_in = match login {
                        Some(found) => found?.is_some_and(|user| user.active),
                        None => false,
                    };
                    Ok(signs_in.then_some(c))
                })
                .transpose()?
                .flatten()
                .ok_or_else(|| {
                    ServiceError::invalid(
                        "/coach_id",
                        "is not an active coach of this provider with a login",
                    )
                })?;
            let first = order.coach_id.is_none();
            let mut to = to;
            if order.coach_id.as_deref().is_some_and(|old| old != coach.id) {
                // The sessions booked with the previous coach were in their calendar, not the new
                // one's: called off, on the provider's side (none counts); the new coach books anew.
                sessions::cancel_planned(
                    conn,
                    now,
                    caller,
                    order,
                    SessionKind::ALL,
                    "another coach was assigned",
                )?;
                let intake_stands =
                    crate::db::sessions::has_standing(conn, &order.id, SessionKind::Intake)?;
                to = order::after_reassignment(to, intake_stands);
                if order.status == OrderStatus::FollowingUp {
                    follow_ups::coach_changed(conn, now, order, horizon_days)?;
                }
            }
            order.coach_id = Some(coach.id.clone());
            let event = if first {
                Event::OrderAccepted { coach_id: coach.id }
            } else {
                Event::CoachChanged { coach_id: coach.id }
            };
            Ok((event, to))
        },
    )
}

/// The provider records that the coachee was reached (004), once.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn record_contact(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    contact: FirstContact,
) -> ServiceResult<OrderView> {
    let at = contact.contacted_at.unwrap_or(now).trunc_subsecs(6);
    act(
        conn,
        now,
        caller,
        id,
        OrderAction::RecordContact,
        |_, order| {
            contact::check_contacted_at(at, now, order.created_at.and_utc())
                .map_err(|e| vec![e])?;
            order.contacted_at = Some(at.naive_utc());
            order.contact_channel = Some(contact.channel);
            Ok(Event::OrderContacted {
                channel: contact.channel,
                contacted_at: at,
                late: contact::is_overdue(order.contact_due_at.and_utc(), false, at),
            })
        },
    )
}

/// The employer or the provider cancels the order, saying why.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn cancel(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    cancellation: Cancellation,
) -> ServiceResult<OrderView> {
    act(conn, now, caller, id, OrderAction::Cancel, |conn, order| {
        order.cancel_reason = Some(cancellation.reason()?);
        sessions::cancel_planned(
            conn,
            now,
            caller,
            order,
            SessionKind::ALL,
            "the order was cancelled",
        )?;
        order.cancelled_at = Some(now.naive_utc());
        Ok(Event::OrderCancelled {})
    })
}

/// The coach extends a running trajectory, substantiated and with the alternative named (002).
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn extend(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    request: ExtensionRequest,
) -> ServiceResult<OrderView> {
    act(conn, now, caller, id, OrderAction::Extend, |conn, order| {
        let terms = request.extend(order.session_budget(), order.end_date)?;
        store::insert_extension(
            conn,
            &Extension {
                id: new_id(),
                order_id: order.id.clone(),
                added_sessions: request.additional_sessions as i32,
                new_end_date: terms.end_date,
                substantiation: request.substantiation.trim().to_string(),
                alternative_considered: request.alternative_considered.trim().to_string(),
                created_by: caller.subject.clone(),
                created_at: now.naive_utc(),
            },
        )?;
        order.session_budget = terms.session_budget as i32;
        order.end_date = terms.end_date;
        Ok(Event::OrderExtended {
            added_sessions: request.additional_sessions,
            session_budget: terms.session_budget,
            end_date: terms.end_date,
        })
    })
}

/// The coach completes the trajectory once its closing review has no error left (000): its
/// summary is kept with the order, and its follow-ups are planned from the order's own days or
/// the employer's policy (002), each queued for booking `horizon_days` before it is due; the
/// order then follows up, or, with none, is closed.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn complete(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    completion: Completion,
    horizon_days: u32,
) -> ServiceResult<OrderView> {
    completion.check()?;
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        let to = lifecycle::check(caller, &visible, OrderAction::Complete, None)?;
        let review = crate::service::closing::ready_to_complete(conn, &visible.order.id)?;
        let mut order = visible.order.clone();
        order.completed_at = Some(now.naive_utc());
        order.closing_summary = review.summary;
        let order = lifecycle::save(conn, now, caller, order, to, Event::OrderCompleted {})?;
        let days = match completion.follow_up_days {
            Some(days) => days,
            None => follow_ups::days_of(conn, &order.employer_id)?,
        };
        let order = follow_ups::plan(conn, now, caller, order, &days, horizon_days)?;
        order_reads::view(conn, now, caller, &order, visible.audience)
    })
}
