//! A subscription's deliveries as its organisation sees them: listed, sent again, a ping.

use super::*;

/// The subscription's deliveries, newest first, with their attempts.
pub fn deliveries(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
    status: Option<&str>,
    page: PageRequest,
) -> ServiceResult<DeliveryPage> {
    let webhook = own(conn, caller, id)?;
    let rows = store::deliveries(
        conn,
        &webhook.id,
        status,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |d| &d.id);
    let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
    let attempts = store::attempts_of(conn, &ids)?;
    Ok(DeliveryPage {
        data: rows
            .into_iter()
            .map(|d| DeliveryView::build(d, &attempts))
            .collect(),
        next_cursor,
    })
}

fn delivery_view(conn: &mut DbConnection, delivery: Delivery) -> ServiceResult<DeliveryView> {
    let attempts = store::attempts_of(conn, std::slice::from_ref(&delivery.id))?;
    Ok(DeliveryView::build(delivery, &attempts))
}

fn refuse_if_disabled(webhook: &Webhook) -> ServiceResult<()> {
    if webhook.enabled {
        Ok(())
    } else {
        Err(ServiceError::NotNow {
            slug: "webhook-disabled",
            detail: "the webhook is disabled: enable it first (PATCH with \"enabled\": true)"
                .into(),
        })
    }
}

/// Sends a delivery again, with the same `webhook-id`, as soon as may be.
pub fn redeliver(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    delivery_id: &str,
) -> ServiceResult<DeliveryView> {
    let at = now.naive_utc();
    db::write(conn, |conn| {
        let webhook = own(conn, caller, id)?;
        refuse_if_disabled(&webhook)?;
        let delivery = store::find_delivery(conn, &webhook.id, delivery_id)?
            .ok_or_else(|| ServiceError::NotFound("delivery".into()))?;
        store::redeliver(conn, &delivery.id, at)?;
        store::wake(conn, &webhook.id, &webhook.organisation_id, at)?;
        let delivery = store::find_delivery(conn, &webhook.id, delivery_id)?
            .ok_or_else(|| ServiceError::NotFound("delivery".into()))?;
        delivery_view(conn, delivery)
    })
}

/// Sends a `ping` to the subscription, ahead of its pending events.
pub fn ping(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<DeliveryView> {
    let at = now.naive_utc();
    db::write(conn, |conn| {
        let webhook = own(conn, caller, id)?;
        refuse_if_disabled(&webhook)?;
        let delivery = Delivery::of_event(&webhook.id, None, "ping", 0, at);
        store::insert_delivery(conn, &delivery)?;
        store::wake(conn, &webhook.id, &webhook.organisation_id, at)?;
        delivery_view(conn, delivery)
    })
}
