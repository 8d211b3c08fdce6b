//! Group sessions (DOMAIN.md step 5, 003: one-on-one or in a group). A group is one time of one
//! coach shared by several of the coach's orders, up to a capacity. Each participant has a
//! session of their own on their own order, checked by the same rules and counted against their
//! own budget; the coach's time is taken once (the sessions share a calendar key, which
//! PostgreSQL's exclusion constraint respects). Participants never see each other's orders.

use chrono::{DateTime, Utc};

use crate::clock::new_id;
use crate::db::sessions::{self as store, Group};
use crate::db::{self, coaches, DbConnection};
use crate::domain::order::OrderAction;
use crate::domain::principal::{Principal, Role};
use crate::domain::session::{CancelledFor, NewGroup, NewSession, SessionRefusal, SessionStatus};
use crate::domain::visibility::Audience;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::service::sessions::{
    after_booking, call_off, cancel_reason, move_place, place, scheduled, SessionChanges,
};
use crate::views::session::{GroupView, SessionView};

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such group session".into())
}

/// An order named in the body that the caller cannot see: a field error (the request names
/// it), which says no more than "not found" would.
fn named(pointer: &str) -> impl Fn(ServiceError) -> ServiceError + '_ {
    move |error| match error {
        ServiceError::NotFound(_) => ServiceError::invalid(pointer, "is not an order of yours"),
        other => other,
    }
}

/// Adds the order (locked, with its coach, and the group after them) to the group: its own
/// session under every rule, saved with its event. The group's places are counted here, under
/// those locks, so concurrent joins cannot overfill it.
fn join(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    group: &Group,
    visible: Visible,
    session: &NewSession,
) -> ServiceResult<SessionView> {
    lifecycle::check(caller, &visible, OrderAction::BookSession, None)?;
    if visible.order.coach_id.as_deref() != Some(group.coach_id.as_str()) {
        return Err(SessionRefusal::GroupOtherCoach.into());
    }
    let taken: Vec<_> = store::of_group(conn, &group.id)?
        .into_iter()
        .filter(|s| s.status != SessionStatus::Cancelled)
        .collect();
    if taken.iter().any(|s| s.order_id == visible.order.id) {
        return Err(SessionRefusal::AlreadyInGroup.into());
    }
    if taken.len() >= usize::try_from(group.capacity).unwrap_or(0) {
        return Err(SessionRefusal::GroupFull {
            capacity: u32::try_from(group.capacity).unwrap_or(0),
        }
        .into());
    }
    let mut order = visible.order.clone();
    let placed = place(conn, now, caller, &mut order, session, Some(&group.id))?;
    let to = after_booking(placed.kind, order.status);
    lifecycle::save(conn, now, caller, order, to, scheduled(&placed))?;
    Ok(SessionView::build(placed, visible.audience))
}

fn view(conn: &mut DbConnection, group: Group) -> ServiceResult<GroupView> {
    let participants: Vec<SessionView> = store::of_group(conn, &group.id)?
        .into_iter()
        .map(|s| SessionView::build(s, Audience::ProviderAdmin))
        .collect();
    Ok(GroupView {
        taken: participants
            .iter()
            .filter(|s| s.status != SessionStatus::Cancelled)
            .count(),
        id: group.id,
        coach_id: group.coach_id,
        capacity: group.capacity,
        participants,
    })
}

/// The coach or a planner sets a group session up with its first participants: all or none.
#[tracing::instrument(skip_all)]
pub fn create(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    new: NewGroup,
) -> ServiceResult<GroupView> {
    new.validate()?;
    let session = new.session();
    db::write(conn, |conn| {
        let first = new.order_ids[0].to_string();
        let seen = lifecycle::load(conn, caller, &first).map_err(named("/order_ids/0"))?;
        let coach_id = seen
            .order
            .coach_id
            .clone()
            .ok_or(SessionRefusal::GroupOtherCoach)?;
        // The lock order: the coach, then the orders by id (the group is new, no one else's yet).
        coaches::lock(conn, &coach_id)?;
        let mut order_ids: Vec<(String, String)> = new
            .order_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), format!("/order_ids/{i}")))
            .collect();
        order_ids.sort();
        let mut participants = vec![];
        for (order_id, pointer) in &order_ids {
            let visible =
                lifecycle::load_for_update(conn, caller, order_id).map_err(named(pointer))?;
            participants.push(visible);
        }
        let group = Group {
            id: new_id(),
            coach_id,
            provider_id: seen.order.provider_id.clone(),
            capacity: new.capacity as i32,
            created_by: caller.subject.clone(),
            created_at: now.naive_utc(),
        };
        store::insert_group(conn, &group)?;
        for visible in participants {
            join(conn, now, caller, &group, visible, &session)?;
        }
        tracing::info!(group_id = %group.id, participants = order_ids.len(), "group session set up");
        view(conn, group)
    })
}

/// The coach or a planner adds an order to a group session that has room.
#[tracing::instrument(skip_all, fields(group_id = %id))]
pub fn add(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    order_id: &str,
) -> ServiceResult<SessionView> {
    db::write(conn, |conn| {
        let group = visible_group(conn, caller, id)?;
        // The lock order: the coach, the order, then the group, under which its places count.
        coaches::lock(conn, &group.coach_id)?;
        let visible =
            lifecycle::load_for_update(conn, caller, order_id).map_err(named("/order_id"))?;
        store::lock_group(conn, &group.id)?;
        // The group's time, place and length, from a participant whose place stands.
        let template = store::of_group(conn, &group.id)?
            .into_iter()
            .find(|s| s.status == SessionStatus::Planned)
            .ok_or(SessionRefusal::NotPlanned {
                status: SessionStatus::Cancelled,
            })?;
        let session = NewSession {
            starts_at: template.starts_at.and_utc(),
            duration_minutes: u32::try_from((template.ends_at - template.starts_at).num_minutes())
                .unwrap_or(0),
            kind: template.kind,
            format: template.format,
            location: template.location,
            meeting_link: template.meeting_link,
            outside_hours: false,
        };
        join(conn, now, caller, &group, visible, &session)
    })
}

/// The group, if it is the caller's to see: the provider's planners, or its coach.
fn visible_group(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<Group> {
    let group = store::find_group(conn, id)?.ok_or_else(not_found)?;
    let visible = match caller.role {
        Role::ProviderAdmin => caller.organisation_id == group.provider_id,
        Role::Coach => crate::db::coaches::find_by_user(conn, &caller.subject)?
            .is_some_and(|c| c.id == group.coach_id),
        _ => false,
    };
    if !visible {
        return Err(not_found());
    }
    Ok(group)
}

/// A group session with its participants, for its coach and the provider's planners.
pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<GroupView> {
    let group = visible_group(conn, caller, id)?;
    view(conn, group)
}

/// The group's places that stand (planned), with their orders locked after the coach, in the
/// lock order (the coach, the orders by id, the group); "not planned" when none stands.
fn standing_places(
    conn: &mut DbConnection,
    caller: &Principal,
    group: &Group,
) -> ServiceResult<Vec<(store::Session, Visible)>> {
    coaches::lock(conn, &group.coach_id)?;
    let mut places: Vec<store::Session> = store::of_group(conn, &group.id)?
        .into_iter()
        .filter(|s| s.status == SessionStatus::Planned)
        .collect();
    if places.is_empty() {
        return Err(SessionRefusal::NotPlanned {
            status: SessionStatus::Cancelled,
        }
        .into());
    }
    places.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    let mut locked = vec![];
    for place in places {
        let visible = lifecycle::load_for_update(conn, caller, &place.order_id)?;
        locked.push((place, visible));
    }
    store::lock_group(conn, &group.id)?;
    // Read again under the locks.
    locked
        .into_iter()
        .map(|(place, visible)| {
            let place = store::find(conn, &place.id)?.ok_or_else(not_found)?;
            Ok((place, visible))
        })
        .collect()
}

/// The coach or a planner moves a group session as a whole: every place that stands gets the
/// new time, length or format under the booking's checks (the group's own time left out), each
/// recorded on its order as `session.rescheduled`; all or none.
#[tracing::instrument(skip_all, fields(group_id = %id))]
pub fn move_group(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    changes: SessionChanges,
) -> ServiceResult<GroupView> {
    db::write(conn, |conn| {
        let group = visible_group(conn, caller, id)?;
        for (place, visible) in standing_places(conn, caller, &group)? {
            move_place(conn, now, caller, place, &visible, None, &changes)?;
        }
        tracing::info!("group session moved");
        view(conn, group)
    })
}

/// Why a group session is called off.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCancellation {
    /// Why, in words (1 to 500 characters), for the coach and the provider's planners.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// The coach or a planner calls a group session off as a whole, on the provider's side: every
/// place that stands is called off (none counts against a budget), each recorded on its order.
#[tracing::instrument(skip_all, fields(group_id = %id))]
pub fn cancel_group(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    cancellation: GroupCancellation,
) -> ServiceResult<GroupView> {
    let reason = cancel_reason(&cancellation.reason)?;
    db::write(conn, |conn| {
        let group = visible_group(conn, caller, id)?;
        for (place, visible) in standing_places(conn, caller, &group)? {
            call_off(
                conn,
                now,
                caller,
                place,
                visible,
                CancelledFor::Provider,
                reason.clone(),
            )?;
        }
        tracing::info!("group session called off");
        view(conn, group)
    })
}
