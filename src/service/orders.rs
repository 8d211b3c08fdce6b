//! Loading an order for a caller, and moving it through its lifecycle with an event per step.

use serde_json::{json, Value};

use crate::db::orders::{self as store, Order, OrderEvent};
use crate::db::{self, coaches, DbConnection};
use crate::domain::order::{self, IntakeDecision, OrderAction, OrderStatus, Refusal};
use crate::domain::principal::Principal;
use crate::domain::visibility::{self, Audience, OrderParties};
use crate::error::ApiError;

/// An order as one caller may see it.
#[derive(Debug, Clone)]
pub struct Visible {
    pub order: Order,
    pub audience: Audience,
    pub status: OrderStatus,
}

fn not_found() -> ApiError {
    ApiError::not_found("no such order")
}

/// The order, if the caller may see it; otherwise 404, exactly as if it did not exist.
pub fn load(conn: &mut DbConnection, caller: &Principal, id: &str) -> Result<Visible, ApiError> {
    let order = store::find(conn, id)?.ok_or_else(not_found)?;
    let coach_user = match &order.coach_id {
        Some(coach_id) => coaches::find(conn, coach_id)?.and_then(|c| c.user_id),
        None => None,
    };
    let audience = visibility::audience(
        caller,
        OrderParties {
            order_id: &order.id,
            employer_id: &order.employer_id,
            provider_id: &order.provider_id,
            coach_user_id: coach_user.as_deref(),
        },
    )
    .ok_or_else(not_found)?;
    let status = order.status.parse().map_err(anyhow::Error::msg)?;
    Ok(Visible {
        order,
        audience,
        status,
    })
}

/// The refusal of an action as an HTTP error: the wrong role is 403, the wrong state 409 with
/// the actions allowed now.
pub fn refusal(action: OrderAction, status: OrderStatus, refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Role => ApiError::Forbidden(format!(
            "your role may not {} an order",
            action.as_str().replace('_', " ")
        )),
        Refusal::State { allowed } => {
            let mut extensions = serde_json::Map::new();
            extensions.insert("order_status".into(), json!(status.as_str()));
            extensions.insert(
                "allowed_actions".into(),
                json!(allowed.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
            );
            ApiError::Conflict {
                detail: format!(
                    "an order that is {} cannot {}; allowed now: {}",
                    status.as_str().replace('_', " "),
                    action.as_str().replace('_', " "),
                    if allowed.is_empty() {
                        "nothing".to_string()
                    } else {
                        allowed
                            .iter()
                            .map(|a| a.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
                extensions,
            }
        }
    }
}

/// Checks that `caller` may take `action` now; returns the state it leads to.
pub fn check(
    caller: &Principal,
    visible: &Visible,
    action: OrderAction,
    decision: Option<IntakeDecision>,
) -> Result<OrderStatus, ApiError> {
    order::decide(visible.status, action, caller.role, decision)
        .map_err(|r| refusal(action, visible.status, r))
}

/// Appends an event to the order's log.
pub fn record_event(
    conn: &mut DbConnection,
    caller: &Principal,
    order_id: &str,
    event_type: &str,
    from: Option<OrderStatus>,
    to: OrderStatus,
    data: Value,
) -> Result<(), ApiError> {
    store::append_event(
        conn,
        &OrderEvent {
            id: db::new_id(),
            order_id: order_id.to_string(),
            event_type: event_type.to_string(),
            from_status: from.map(|s| s.as_str().to_string()),
            to_status: to.as_str().to_string(),
            actor_role: caller.role.as_str().to_string(),
            actor_id: caller.subject.clone(),
            data: data.to_string(),
            occurred_at: db::now(),
        },
    )?;
    Ok(())
}

/// Saves a changed order (new status, version + 1) if nobody changed it since it was read, and
/// appends its event. Call inside `db::write`.
pub fn save(
    conn: &mut DbConnection,
    caller: &Principal,
    mut order: Order,
    from: OrderStatus,
    to: OrderStatus,
    event_type: &str,
    data: Value,
) -> Result<Order, ApiError> {
    let read_version = order.version;
    order.status = to.as_str().to_string();
    order.version += 1;
    order.updated_at = db::now();
    if !store::update(conn, &order, read_version)? {
        return Err(ApiError::conflict(
            "the order changed while this request ran; read it again and retry",
        ));
    }
    record_event(conn, caller, &order.id, event_type, Some(from), to, data)?;
    Ok(order)
}
