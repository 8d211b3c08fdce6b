//! Calendar feeds: a coach's sessions and an order's, for calendar apps. A feed opens with a
//! bearer token (as any read) or with its feed token in the URL, since calendar apps cannot send
//! a header. Feed tokens are 256 random bits stored only as their SHA-256 digest; issuing a new
//! one revokes the earlier ones (rotation).

use chrono::{DateTime, Duration, Utc};

use crate::auth::secrets;
use crate::clock::new_id;
use crate::db::calendars::{self as store, Feed, FeedOwner};
use crate::db::orders::OrderScope;
use crate::db::sessions::{self as sessions_store, SessionFilter};
use crate::db::{self, DbConnection};
use crate::domain::principal::Principal;
use crate::domain::visibility::Audience;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::views::calendar;

/// A coach's feed shows their sessions from this long ago …
const PAST: i64 = 90;
/// … to this far ahead (days).
const AHEAD: i64 = 400;
/// More sessions than a coach's feed window holds.
const MAX_FEED_SESSIONS: i64 = 5_000;

/// How a feed is opened.
#[derive(Debug, Clone)]
pub enum FeedAccess {
    /// An access token (its role already checked against the route's).
    Caller(Principal),
    /// The feed token from the URL.
    Token(String),
}

/// A new feed token, shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FeedIssued {
    /// The feed's address with its token: give it to a calendar app. Shown once; issuing a new
    /// one stops this one.
    pub feed_url: String,
    pub token: String,
}

fn not_valid() -> ServiceError {
    ServiceError::Unauthorized("the calendar feed token is not valid (it may have been replaced)")
}

fn issue(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    owner: FeedOwner,
    path: String,
) -> ServiceResult<FeedIssued> {
    let token = secrets::generate_client_secret();
    let (coach_id, order_id) = match owner {
        FeedOwner::Coach(id) => (Some(id), None),
        FeedOwner::Order(id) => (None, Some(id)),
    };
    store::rotate(
        conn,
        &Feed {
            id: new_id(),
            coach_id,
            order_id,
            token_hash: secrets::hash_client_secret(&token),
            created_by: caller.subject.clone(),
            created_at: now.naive_utc(),
            revoked_at: None,
        },
        now.naive_utc(),
    )?;
    Ok(FeedIssued {
        feed_url: format!("{path}?token={token}"),
        token,
    })
}

/// The coach or a planner issues (rotates) the coach's feed token.
#[tracing::instrument(skip_all, fields(coach_id = %id))]
pub fn issue_coach_feed(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<FeedIssued> {
    db::write(conn, |conn| {
        let coach = super::availability::planning_access(conn, caller, id)?;
        crate::db::coaches::lock(conn, &coach.id)?;
        let path = format!("/api/v1/coaches/{}/calendar.ics", coach.id);
        issue(conn, now, caller, FeedOwner::Coach(coach.id), path)
    })
}

/// The order's coach or a planner issues (rotates) the order's feed token, for the coachee.
/// Revoking the coachee's links revokes it too.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn issue_order_feed(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<FeedIssued> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        if !matches!(visible.audience, Audience::Coach | Audience::ProviderAdmin) {
            return Err(ServiceError::Forbidden(
                "the order's coach or the provider's planners issue its calendar feed".into(),
            ));
        }
        let path = format!("/api/v1/orders/{}/calendar.ics", visible.order.id);
        issue(conn, now, caller, FeedOwner::Order(visible.order.id), path)
    })
}

/// The coach's sessions as iCalendar, from 90 days ago to 400 days ahead, cancelled ones
/// included (so calendar apps drop them).
pub fn coach_feed(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    access: FeedAccess,
    id: &str,
) -> ServiceResult<calendar::Feed> {
    let coach = match &access {
        FeedAccess::Caller(caller) => super::availability::planning_access(conn, caller, id)?,
        FeedAccess::Token(token) => {
            let owner = FeedOwner::Coach(id.to_string());
            if !store::opens(conn, &owner, &secrets::hash_client_secret(token))? {
                return Err(not_valid());
            }
            crate::db::coaches::find(conn, id)?.ok_or_else(not_valid)?
        }
    };
    let sessions = sessions_store::list(
        conn,
        &SessionFilter {
            scope: OrderScope::Coach(coach.id.clone()),
            coach_id: None,
            from: Some((now - Duration::days(PAST)).naive_utc()),
            to: Some((now + Duration::days(AHEAD)).naive_utc()),
            status: None,
            after: None,
            limit: MAX_FEED_SESSIONS,
        },
    )?;
    Ok(calendar::feed(
        "Coaching sessions",
        sessions,
        Audience::Coach,
    ))
}

/// The order's sessions as iCalendar: with a bearer token as its reader sees them; with the
/// feed token as the coachee does (it is theirs).
pub fn order_feed(
    conn: &mut DbConnection,
    access: FeedAccess,
    id: &str,
) -> ServiceResult<calendar::Feed> {
    let (order_id, audience) = match &access {
        FeedAccess::Caller(caller) => {
            let visible = lifecycle::load(conn, caller, id)?;
            (visible.order.id, visible.audience)
        }
        FeedAccess::Token(token) => {
            let owner = FeedOwner::Order(id.to_string());
            if !store::opens(conn, &owner, &secrets::hash_client_secret(token))? {
                return Err(not_valid());
            }
            (id.to_string(), Audience::Coachee)
        }
    };
    let sessions = sessions_store::of_order(conn, &order_id, None, MAX_FEED_SESSIONS)?;
    Ok(calendar::feed("Coaching sessions", sessions, audience))
}
