//! Follow-ups as their readers see them.

use super::*;

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
