//! The events feed (`GET /events`): an organisation's event log for systems that poll, the same
//! events its webhooks carry, for its audience. Its cursor is an event's number in the log,
//! which is gap-free and in commit order (`db::events`), so a poller that follows it never skips
//! or repeats an event.

use crate::db::{events, identity, DbConnection};
use crate::domain::principal::Principal;
use crate::domain::FieldError;
use crate::service::error::{ServiceError, ServiceResult};
use crate::views::event::{EventPage, FeedEvent};

/// A page of the feed: the events after number `after`, only of `types` when given.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    pub after: i64,
    pub types: Option<Vec<String>>,
    pub limit: i64,
}

pub fn page(
    conn: &mut DbConnection,
    caller: &Principal,
    query: &FeedQuery,
) -> ServiceResult<EventPage> {
    let organisation = identity::find_organisation(conn, &caller.organisation_id)?
        .ok_or_else(|| ServiceError::NotFound("organisation".into()))?;
    // A cursor this feed never gave (beyond its last event) is refused, not waited on.
    if query.after > 0 {
        let head = events::head(conn, &organisation.id)?;
        if query.after > head {
            return Err(ServiceError::BadQuery(vec![FieldError::new(
                "after",
                format!("is beyond the last event ({head}): pass a next_cursor this feed gave"),
            )]));
        }
    }
    let mut rows = events::log_of_types(
        conn,
        &organisation.id,
        query.after,
        query.types.as_deref(),
        query.limit + 1,
    )?;
    let has_more = rows.len() as i64 > query.limit;
    rows.truncate(usize::try_from(query.limit).unwrap_or(0));
    let last = rows.last().map_or(query.after, |(seq, _)| *seq);
    Ok(EventPage {
        data: rows
            .into_iter()
            .map(|(seq, stored)| FeedEvent::build(seq, stored, organisation.kind))
            .collect(),
        next_cursor: last.to_string(),
        has_more,
    })
}
