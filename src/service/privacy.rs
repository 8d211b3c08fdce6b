//! The coachee's data rights: erasure of an order's personal data once the trajectory is over
//! (DOMAIN.md "Who may see what": personal data under the GDPR, erasable when the trajectory
//! is over), by the provider's planner or by the service itself a configured time after close.
//! What stays is what the reports need: kinds, dates, counts, outcomes (`db::personal_data`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::erasures;
use crate::db::{self, personal_data, DbConnection, Stamp};
use crate::domain::order::OrderStatus;
use crate::domain::principal::{Principal, Role};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::views::privacy::Erasure;

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
        if caller.role != Role::ProviderAdmin && caller.role != Role::System {
            return Err(ServiceError::Forbidden(
                "erasure is the provider's planners' to do".into(),
            ));
        }
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
