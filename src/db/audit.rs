//! The audit trail: one entry per change (written in the change's own transaction) and per read
//! of confidential content. An entry names who (role, user or client or link, organisation),
//! what (the operation and the resource's id), when and under which request; never content.
//!
//! A use case is *armed* with the request's [`Actor`] while it runs ([`armed`]); the first
//! transaction it commits writes the entry just before its commit ([`write_if_armed`], called by
//! `db::write`), so a change and its entry commit together or not at all, and a request that
//! changes nothing leaves none. Work outside the window (an `Idempotency-Key`'s bookkeeping)
//! writes none.

use std::cell::RefCell;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_log, orders};
use super::{DbConnection, Stamp};
use crate::domain::principal::{Principal, Role, SubjectType};

/// Who does what, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    /// The operation, e.g. `PATCH /api/v1/orders/{id}`, or `job follow_up.book` for the worker.
    pub action: String,
    /// The id in the operation's path (`{id}`), or the job's subject.
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    pub at: NaiveDateTime,
}

thread_local! {
    /// The actor of the use case running on this thread, until its entry is written.
    static ARMED: RefCell<Option<Actor>> = const { RefCell::new(None) };
}

/// Runs `f` armed with `actor` (when there is one): its first committed transaction records
/// the change.
pub fn armed<T>(actor: Option<Actor>, f: impl FnOnce() -> T) -> T {
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            ARMED.with(|armed| armed.borrow_mut().take());
        }
    }
    let Some(actor) = actor else {
        return f();
    };
    ARMED.with(|armed| *armed.borrow_mut() = Some(actor));
    let _disarm = Disarm;
    f()
}

/// Writes the armed actor's change entry, once, inside the transaction about to commit.
pub fn write_if_armed(conn: &mut DbConnection) -> QueryResult<()> {
    let Some(actor) = ARMED.with(|armed| armed.borrow_mut().take()) else {
        return Ok(());
    };
    insert(conn, &actor, Kind::Change)
}

/// Names who the armed actor is, for a use case that learns it only as it runs (a sign-up to
/// an invitation campaign: the person acts through the campaign's link).
pub fn act_as(principal: Principal) {
    ARMED.with(|armed| {
        if let Some(actor) = armed.borrow_mut().as_mut() {
            actor.principal = principal;
        }
    });
}

/// Takes the armed actor away, so that no change entry is written for it.
pub fn disarm() -> Option<Actor> {
    ARMED.with(|armed| armed.borrow_mut().take())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Change,
    Read,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Change => "change",
            Kind::Read => "read",
        }
    }
}

/// Whose trail an entry is in: the actor's organisation; a coachee's is the provider's of their
/// order (their voice is not the employer's to read).
fn trail(conn: &mut DbConnection, principal: &Principal) -> QueryResult<String> {
    if principal.role == Role::Coachee {
        if let Some(order) = &principal.order_id {
            if let Some(provider) = orders::table
                .find(order)
                .select(orders::provider_id)
                .first::<String>(conn)
                .optional()?
            {
                return Ok(provider);
            }
        }
    }
    Ok(principal.organisation_id.clone())
}

fn subject_type(principal: &Principal) -> &'static str {
    match principal.subject_type {
        SubjectType::User => "user",
        SubjectType::Client => "client",
        SubjectType::Link => "link",
        SubjectType::Service => "service",
    }
}

/// Appends an entry for `actor`.
pub fn insert(conn: &mut DbConnection, actor: &Actor, kind: Kind) -> QueryResult<()> {
    let organisation = trail(conn, &actor.principal)?;
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(crate::clock::new_id()),
            audit_log::organisation_id.eq(organisation),
            audit_log::at.eq(actor.at),
            audit_log::request_id.eq(actor.request_id.as_deref()),
            audit_log::actor_role.eq(actor.principal.role.as_str()),
            audit_log::actor_type.eq(subject_type(&actor.principal)),
            audit_log::actor_id.eq(&actor.principal.subject),
            audit_log::action.eq(&actor.action),
            audit_log::resource_id.eq(actor.resource_id.as_deref()),
            audit_log::kind.eq(kind.as_str()),
        ))
        .execute(conn)
        .map(drop)
}

/// One stored entry.
#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    pub id: String,
    pub organisation_id: String,
    #[diesel(deserialize_as = Stamp)]
    pub at: NaiveDateTime,
    pub request_id: Option<String>,
    pub actor_role: String,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub resource_id: Option<String>,
    pub kind: String,
}

/// What a listing narrows to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only entries of these actor types (an employer sees its users' and clients').
    pub actor_types: Option<Vec<&'static str>>,
    pub actor_id: Option<String>,
    pub resource_id: Option<String>,
    pub kind: Option<&'static str>,
    pub since: Option<NaiveDateTime>,
    pub before: Option<NaiveDateTime>,
}

/// A page of `organisation_id`'s trail, newest first, before the entry `before_id`.
pub fn list(
    conn: &mut DbConnection,
    organisation_id: &str,
    filter: &Filter,
    before_id: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    let mut query = audit_log::table
        .filter(audit_log::organisation_id.eq(organisation_id))
        .order(audit_log::id.desc())
        .limit(limit)
        .select((
            audit_log::id,
            audit_log::organisation_id,
            audit_log::at,
            audit_log::request_id,
            audit_log::actor_role,
            audit_log::actor_type,
            audit_log::actor_id,
            audit_log::action,
            audit_log::resource_id,
            audit_log::kind,
        ))
        .into_boxed();
    if let Some(before) = before_id {
        query = query.filter(audit_log::id.lt(before.to_string()));
    }
    if let Some(types) = &filter.actor_types {
        query = query.filter(audit_log::actor_type.eq_any(types.clone()));
    }
    if let Some(actor) = &filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor.clone()));
    }
    if let Some(resource) = &filter.resource_id {
        query = query.filter(audit_log::resource_id.eq(resource.clone()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(audit_log::kind.eq(kind));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::at.ge(since));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_log::at.lt(before));
    }
    query.load(conn)
}
