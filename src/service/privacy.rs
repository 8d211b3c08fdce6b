//! The coachee's data rights: erasure of an order's personal data once the trajectory is over
//! (DOMAIN.md "Who may see what": personal data under the GDPR, erasable when the trajectory
//! is over), by the provider's planner or by the service itself a configured time after close.
//! What stays is what the reports need: kinds, dates, counts, outcomes (`db::personal_data`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::erasures;
use crate::db::{self, personal_data, DbConnection, Stamp};
use crate::domain::order::OrderStatus;
use crate::domain::permission::Act;
use crate::domain::principal::{Principal, Role};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::vault::NotesKeys;
use crate::views::privacy::{Erasure, Export};

/// Whether an order's data may be erased: once it is over, closed or cancelled.
pub fn may_erase(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Closed | OrderStatus::Cancelled)
}

fn recorded(conn: &mut DbConnection, order_id: &str) -> ServiceResult<Option<Erasure>> {
    let found = erasures::table
        .find(order_id)
        .select((erasures::order_id, erasures::erased_at, erasures::erased_by))
        .first::<(String, Stamp, String)>(conn)
        .optional()?;
    Ok(found.map(|(order_id, at, by)| Erasure {
        order_id,
        erased_at: at.0.and_utc(),
        erased_by: by,
    }))
}

/// Erases the coachee's personal data of order `id`: refused (409 `order-not-finished`) before
/// it is closed or cancelled. Erasing again changes nothing and answers the first erasure.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn erase(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<Erasure> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        crate::service::access::require(caller, Act::EraseCoacheeData)?;
        if let Some(done) = recorded(conn, &visible.order.id)? {
            return Ok(done);
        }
        if !may_erase(visible.order.status) {
            return Err(ServiceError::NotNow {
                slug: "order-not-finished",
                detail: format!(
                    "the order is {}: a coachee's data is erased once the trajectory is over \
                     (closed, or cancelled), never while it may still be needed",
                    visible.order.status.as_str().replace('_', " ")
                ),
            });
        }
        personal_data::erase_order(conn, &visible.order.id)?;
        diesel::insert_into(erasures::table)
            .values((
                erasures::order_id.eq(&visible.order.id),
                erasures::erased_at.eq(now.naive_utc()),
                erasures::erased_by.eq(&caller.subject),
            ))
            .execute(conn)?;
        tracing::info!("personal data erased");
        Ok(Erasure {
            order_id: visible.order.id.clone(),
            erased_at: now,
            erased_by: caller.subject.clone(),
        })
    })
}

/// Everything held about the coachee of order `id` as one document (GDPR art. 15 and 20), for
/// the provider's planner (to answer a request) and for the coachee with their link. The
/// coach's notes are the coachee's personal data, written about them: their own export holds
/// them, opened with the notes key; the planner's does not, for planners never read notes, nor
/// the closing review (the coach's and the coachee's).
pub fn export(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    keys: &NotesKeys,
) -> ServiceResult<Export> {
    let notes_included = match caller.role {
        Role::Coachee if caller.order_id.as_deref() == Some(id) => true,
        Role::ProviderAdmin => {
            lifecycle::load(conn, caller, id)?;
            false
        }
        Role::Coachee => return Err(ServiceError::NotFound("no such order".into())),
        _ => {
            return Err(ServiceError::Forbidden(
                "an export is for the provider's planners and the coachee".into(),
            ))
        }
    };
    let mut data = serde_json::Map::new();
    for (table, mut rows) in personal_data::export_order(conn, id)? {
        for row in &mut rows {
            match table {
                "session_notes" => {
                    let sealed = row.remove("sealed");
                    if notes_included {
                        let session = row
                            .get("session_id")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string();
                        let text = sealed
                            .as_ref()
                            .and_then(|v| v.as_str())
                            .map(|sealed| keys.open(&session, sealed))
                            .transpose()
                            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("{e}")))?;
                        row.insert(
                            "text".into(),
                            text.map_or(serde_json::Value::Null, Into::into),
                        );
                    }
                }
                "intakes" if !notes_included => {
                    if let Some(draft) = row.get_mut("draft").and_then(|d| d.as_object_mut()) {
                        draft.remove("private_note");
                    }
                }
                _ => {}
            }
        }
        // The notes and the closing review are the coach's and the coachee's alone (000).
        if matches!(table, "session_notes" | "closing_reviews") && !notes_included {
            continue;
        }
        data.insert(
            table.to_string(),
            serde_json::Value::Array(rows.into_iter().map(serde_json::Value::Object).collect()),
        );
    }
    if data
        .get("orders")
        .and_then(|o| o.as_array())
        .is_none_or(|o| o.is_empty())
    {
        return Err(ServiceError::NotFound("no such order".into()));
    }
    Ok(Export {
        order_id: id.to_string(),
        exported_at: now,
        notes_included,
        data,
    })
}

/// The worker's sweep: erases the data of every order closed or cancelled `months` or more ago
/// (its last change), as a planner would, one order per transaction; `months` 0 erases nothing.
/// Returns how many were erased.
pub fn erase_closed(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    months: u32,
) -> ServiceResult<usize> {
    if months == 0 {
        return Ok(0);
    }
    let Some(cutoff) = now.checked_sub_months(chrono::Months::new(months)) else {
        return Ok(0);
    };
    let due = crate::db::orders::finished_unerased_before(conn, cutoff.naive_utc())?;
    let mut erased = 0;
    for (order_id, provider_id) in due {
        // The service acts for the provider, through the same use case as a planner.
        let system = Principal::system(&provider_id);
        let actor = crate::db::audit::Actor {
            principal: system.clone(),
            action: format!("erase after {months} months"),
            resource_id: Some(order_id.clone()),
            request_id: None,
            at: now.naive_utc(),
        };
        match crate::db::audit::armed(Some(actor), || erase(conn, now, &system, &order_id)) {
            Ok(_) => erased += 1,
            Err(error) => {
                tracing::warn!(order_id = %order_id, error = %error, "could not erase an order's data now")
            }
        }
    }
    if erased > 0 {
        tracing::info!(erased, "personal data erased after close");
    }
    Ok(erased)
}
