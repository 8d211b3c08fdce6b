//! Webhooks (issue 18): an organisation's subscriptions (by its HR users and systems, or the
//! provider's planners), their deliveries, and the deliverer's two steps, which decide the next
//! delivery of a subscription and record what its receiver answered (`crate::delivery` sends in
//! between). A subscription's events are those its organisation is told of, as its timeline and
//! events feed show them (`views::event::FeedEvent`).

use chrono::{DateTime, Duration, Utc};

use crate::clock::new_id;
use crate::db::webhooks::{self as store, Attempt, Delivery, Webhook};
use crate::db::{self, events, jobs, DbConnection, Json};
use crate::delivery::Destination;
use crate::domain::principal::{OrganisationKind, Principal};
use crate::domain::webhook::{
    self as rules, after_failure, answer, Answer, DisabledReason, NewWebhook, Retry, WebhookChange,
};
use crate::domain::FieldError;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{check_version, lost_race};
use crate::service::pagination::PageRequest;
use crate::vault::NotesKeys;
use crate::views::event::FeedEvent;
use crate::views::webhook::{
    CreatedWebhook, DeliveryPage, DeliveryView, RotatedSecret, WebhookPage, WebhookView,
};

fn not_found() -> ServiceError {
    ServiceError::NotFound("webhook".into())
}

/// What a secret is sealed for: the webhook, and nothing else sealed with the key.
fn sealed_for(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}")
}

/// 409: the organisation has a subscription for this URL already.
fn url_taken(existing: &Webhook) -> ServiceError {
    let mut extensions = serde_json::Map::new();
    extensions.insert("existing_webhook_id".into(), existing.id.clone().into());
    ServiceError::Taken {
        slug: "webhook-url-taken",
        detail: format!(
            "webhook {} sends to this URL already: change its event types instead",
            existing.id
        ),
        extensions,
    }
}

/// Refuses `url` when another of the organisation's subscriptions has it.
fn check_url_free(
    conn: &mut DbConnection,
    organisation_id: &str,
    url: &str,
    except: Option<&str>,
) -> ServiceResult<()> {
    match store::find_by_url(conn, organisation_id, url)? {
        Some(existing) if Some(existing.id.as_str()) != except => Err(url_taken(&existing)),
        _ => Ok(()),
    }
}

fn kind_of(caller: &Principal) -> OrganisationKind {
    caller.role.organisation_kind()
}

fn invalid_if_any(errors: Vec<FieldError>) -> ServiceResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

/// The caller's organisation's subscription `id` (another's is not found).
fn own(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<Webhook> {
    store::find(conn, &caller.organisation_id, id)?.ok_or_else(not_found)
}

/// Subscribes `destination` (checked by the caller) to event types.
pub fn create(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    keys: &NotesKeys,
    destination: Destination,
    new: NewWebhook,
) -> ServiceResult<CreatedWebhook> {
    let mut errors = rules::check_event_types(kind_of(caller), &new.event_types, "/event_types");
    errors.extend(rules::check_description(&new.description, "/description"));
    invalid_if_any(errors)?;
    let id = new_id();
    let secret = rules::new_secret();
    let at = now.naive_utc();
    let webhook = Webhook {
        secret: keys.seal(&sealed_for(&id), &secret),
        id,
        organisation_id: caller.organisation_id.clone(),
        url: destination.as_str().to_string(),
        description: new.description.trim().to_string(),
        event_types: Json(new.event_types),
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        disabled_detail: None,
        disabled_at: None,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let created = db::write(conn, |conn| {
        check_url_free(conn, &webhook.organisation_id, &webhook.url, None)?;
        store::insert(conn, &webhook)?;
        Ok(())
    });
    // Two creates of one URL at once: the unique index stops the second.
    if let Err(ServiceError::Conflict(_)) = created {
        check_url_free(conn, &webhook.organisation_id, &webhook.url, None)?;
    }
    created?;
    tracing::info!(webhook_id = %webhook.id, "webhook subscribed");
    Ok(CreatedWebhook {
        webhook: WebhookView::build(&webhook, now),
        secret,
    })
}

pub fn list(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    page: PageRequest,
) -> ServiceResult<WebhookPage> {
    let rows = store::list(
        conn,
        &caller.organisation_id,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |w| &w.id);
    Ok(WebhookPage {
        data: rows.iter().map(|w| WebhookView::build(w, now)).collect(),
        next_cursor,
    })
}

pub fn get(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<WebhookView> {
    Ok(WebhookView::build(&own(conn, caller, id)?, now))
}

/// Changes a subscription. Enabling it again clears why it was disabled and sends its pending
/// deliveries, in order; disabling it holds them.
pub fn change(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected: Option<i32>,
    destination: Option<Destination>,
    change: WebhookChange,
) -> ServiceResult<WebhookView> {
    let mut errors = vec![];
    if let Some(types) = &change.event_types {
        errors.extend(rules::check_event_types(
            kind_of(caller),
            types,
            "/event_types",
        ));
    }
    if let Some(description) = &change.description {
        errors.extend(rules::check_description(description, "/description"));
    }
    invalid_if_any(errors)?;
    let at = now.naive_utc();
    db::write(conn, |conn| {
        let current = own(conn, caller, id)?;
        check_version("webhook", current.version, expected)?;
        let mut next = current.clone();
        if let Some(destination) = &destination {
            next.url = destination.as_str().to_string();
            check_url_free(conn, &current.organisation_id, &next.url, Some(&current.id))?;
        }
        if let Some(types) = change.event_types {
            next.event_types = Json(types);
        }
        if let Some(description) = change.description {
            next.description = description.trim().to_string();
        }
        match change.enabled {
            Some(true) if !current.enabled => {
                next.enabled = true;
                next.disabled_reason = None;
                next.disabled_detail = None;
                next.disabled_at = None;
            }
            Some(false) if current.enabled => {
                next.enabled = false;
                next.disabled_reason = Some(DisabledReason::ByRequest.as_str().into());
                next.disabled_detail = Some("disabled by the organisation".into());
                next.disabled_at = Some(at);
            }
            _ => {}
        }
        next.version = current.version + 1;
        next.updated_at = at;
        if !store::save(conn, &next, current.version)? {
            return Err(lost_race("webhook", expected, current.version + 1));
        }
        if next.enabled && !current.enabled && store::has_pending(conn, &next.id)? {
            store::wake(conn, &next.id, &next.organisation_id, at)?;
        }
        Ok(WebhookView::build(&next, now))
    })
}

/// Deletes a subscription with its deliveries.
pub fn delete(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<()> {
    db::write(conn, |conn| {
        let webhook = own(conn, caller, id)?;
        store::delete(conn, &webhook.id)?;
        Ok(())
    })
}

/// A new signing secret; the current one signs beside it for a day
/// (`domain::webhook::ROTATION_OVERLAP_HOURS`), so receivers can change over without a gap.
pub fn rotate_secret(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    keys: &NotesKeys,
    id: &str,
    expected: Option<i32>,
) -> ServiceResult<RotatedSecret> {
    let secret = rules::new_secret();
    let until = now + Duration::hours(rules::ROTATION_OVERLAP_HOURS);
    db::write(conn, |conn| {
        let current = own(conn, caller, id)?;
        check_version("webhook", current.version, expected)?;
        let mut next = current.clone();
        next.previous_secret = Some(current.secret.clone());
        next.previous_until = Some(until.naive_utc());
        next.secret = keys.seal(&sealed_for(&current.id), &secret);
        next.version = current.version + 1;
        next.updated_at = now.naive_utc();
        if !store::save(conn, &next, current.version)? {
            return Err(lost_race("webhook", expected, current.version + 1));
        }
        tracing::info!(webhook_id = %next.id, "webhook secret rotated");
        Ok(RotatedSecret {
            secret: secret.clone(),
            previous_secret_expires_at: until,
            version: next.version,
        })
    })
}

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

/// A delivery on its way: where, and what.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub webhook_id: String,
    pub delivery_id: String,
    pub url: String,
    pub body: String,
}

/// What a receiver answered to one attempt (`crate::delivery::Sender`).
#[derive(Debug, Clone)]
pub struct Sent {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub retry_after: Option<String>,
    pub duration_ms: i32,
}

/// What the deliverer does next for a subscription.
pub enum Step {
    /// Nothing due now: the job is done, or waits for the next attempt.
    Finished,
    /// Send this, signed with these secrets.
    Send {
        outgoing: Outgoing,
        secrets: Vec<String>,
    },
}

/// The body of a delivery: the event as the subscription's organisation sees it in its feed,
/// or a ping.
fn body_of(
    conn: &mut DbConnection,
    webhook: &Webhook,
    delivery: &Delivery,
) -> ServiceResult<String> {
    let Some(event_id) = &delivery.event_id else {
        return Ok(serde_json::json!({
            "type": "ping",
            "webhook_id": webhook.id,
            "occurred_at": delivery.created_at.and_utc(),
        })
        .to_string());
    };
    let stored = events::find(conn, event_id)?
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("delivery of a missing event")))?;
    let organisation = db::identity::find_organisation(conn, &webhook.organisation_id)?
        .ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("webhook of a missing organisation"))
        })?;
    let event = FeedEvent::build(delivery.position, stored, organisation.kind);
    serde_json::to_string(&event).map_err(|e| ServiceError::Internal(e.into()))
}

/// The subscription's next step, decided under its job's row: the first pending delivery if it
/// is due; else the job waits for it (or, with none pending, is done). A disabled or deleted
/// subscription's job is done.
#[allow(clippy::too_many_arguments)]
pub fn next_delivery(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    job_id: &str,
    worker: &str,
    webhook_id: &str,
    keys: &NotesKeys,
) -> ServiceResult<Step> {
    let at = now.naive_utc();
    db::write(conn, |conn| {
        // The job's row first: a change that queues a delivery at the same moment waits for
        // this transaction, or this one sees its delivery.
        if !jobs::take(conn, job_id, worker, at, lease_until.naive_utc())? {
            return Ok(Step::Finished);
        }
        let webhook = store::get(conn, webhook_id)?.filter(|w| w.enabled);
        let head = match &webhook {
            Some(webhook) => match store::head(conn, &webhook.id)? {
                Some(head) => Some(head),
                // About to finish: look again under the organisation's head row, after any
                // transaction writing deliveries for it has committed.
                None => {
                    store::lock_head(conn, &webhook.organisation_id)?;
                    store::head(conn, &webhook.id)?
                }
            },
            None => None,
        };
        let (webhook, delivery) = match (webhook, head) {
            (Some(webhook), Some(delivery)) if delivery.next_attempt_at <= at => {
                (webhook, delivery)
            }
            (_, Some(waiting)) => {
                jobs::reschedule(conn, job_id, worker, waiting.next_attempt_at, at)?;
                return Ok(Step::Finished);
            }
            (_, None) => {
                jobs::finish(conn, job_id, worker, at)?;
                return Ok(Step::Finished);
            }
        };
        let mut secrets = vec![open(keys, &webhook.id, &webhook.secret)?];
        if let (Some(previous), Some(until)) = (&webhook.previous_secret, webhook.previous_until) {
            if until > at {
                secrets.push(open(keys, &webhook.id, previous)?);
            }
        }
        Ok(Step::Send {
            outgoing: Outgoing {
                body: body_of(conn, &webhook, &delivery)?,
                webhook_id: webhook.id,
                delivery_id: delivery.id,
                url: webhook.url,
            },
            secrets,
        })
    })
}

/// Seals every webhook's secrets sealed under a retired key again under the current one, with
/// the notes (`trajectum admin reseal-notes`, after a key rotation).
pub fn reseal_secrets(
    conn: &mut DbConnection,
    keys: &NotesKeys,
) -> ServiceResult<crate::service::notes::Resealed> {
    use crate::vault::VaultError;
    let mut outcome = crate::service::notes::Resealed::default();
    let ids = store::all_ids(conn)?;
    for id in ids {
        db::write(conn, |conn| {
            let Some(mut webhook) = store::get(conn, &id)? else {
                return Ok(());
            };
            let aad = sealed_for(&webhook.id);
            let mut changed = false;
            for sealed in
                std::iter::once(&mut webhook.secret).chain(webhook.previous_secret.as_mut())
            {
                match keys.reseal(&aad, sealed) {
                    Ok(Some(resealed)) => {
                        *sealed = resealed;
                        changed = true;
                    }
                    Ok(None) => {}
                    Err(VaultError::UnknownKey(_)) => outcome.unknown_key.push(id.clone()),
                    Err(VaultError::Corrupt) => outcome.corrupt.push(id.clone()),
                }
            }
            if changed && store::save_secrets(conn, &webhook)? {
                outcome.resealed += 1;
            }
            Ok::<_, ServiceError>(())
        })?;
    }
    outcome.unknown_key.dedup();
    outcome.corrupt.dedup();
    Ok(outcome)
}

fn open(keys: &NotesKeys, webhook_id: &str, sealed: &str) -> ServiceResult<String> {
    keys.open(&sealed_for(webhook_id), sealed)
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("a webhook secret does not open: {e}")))
}

/// Records an attempt at `outgoing` made at `now`: delivered; failed and tried again later (the
/// job waits for it); or failed for good, which disables the subscription, saying why. Whether
/// the deliverer goes on to the next delivery.
pub fn record(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    job_id: &str,
    worker: &str,
    outgoing: &Outgoing,
    sent: &Sent,
    jitter: f64,
) -> ServiceResult<bool> {
    let at = now.naive_utc();
    db::write(conn, |conn| {
        let Some(delivery) =
            store::find_delivery(conn, &outgoing.webhook_id, &outgoing.delivery_id)?
        else {
            // The subscription was deleted meanwhile.
            return Ok(false);
        };
        let mut attempt = Attempt {
            id: new_id(),
            delivery_id: delivery.id.clone(),
            attempted_at: at,
            status_code: sent.status.map(i32::from),
            error: sent.error.clone(),
            response_body: sent.response_body.clone(),
            duration_ms: sent.duration_ms,
            next_attempt_at: None,
        };
        let last = match (sent.status, &sent.error) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".into(),
        };
        let disable = |conn: &mut DbConnection, reason: DisabledReason, detail: String| {
            store::disable(conn, &outgoing.webhook_id, reason.as_str(), &detail, at)
        };
        match answer(sent.status) {
            Answer::Delivered => {
                store::record_attempt(conn, &attempt, store::DELIVERED, None)?;
                Ok(true)
            }
            Answer::Gone => {
                store::record_attempt(conn, &attempt, store::FAILED, None)?;
                disable(
                    conn,
                    DisabledReason::Gone,
                    format!("the receiver answered 410 Gone to delivery {}", delivery.id),
                )?;
                jobs::finish(conn, job_id, worker, at)?;
                Ok(false)
            }
            Answer::Failed => {
                let since = delivery.failing_since.unwrap_or(at);
                let attempt_number = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
                let retry_after = sent
                    .retry_after
                    .as_deref()
                    .and_then(|v| rules::parse_retry_after(v, now));
                match after_failure(since.and_utc(), now, attempt_number, retry_after, jitter) {
                    Retry::At(next) => {
                        attempt.next_attempt_at = Some(next.naive_utc());
                        store::record_attempt(conn, &attempt, store::PENDING, Some(since))?;
                        jobs::reschedule(conn, job_id, worker, next.naive_utc(), at)?;
                    }
                    Retry::GiveUp => {
                        store::record_attempt(conn, &attempt, store::FAILED, Some(since))?;
                        disable(
                            conn,
                            DisabledReason::Failing,
                            format!(
                                "delivery {} failed for {} hours since {} (last: {last})",
                                delivery.id,
                                rules::RETRY_WINDOW_HOURS,
                                since.and_utc().to_rfc3339(),
                            ),
                        )?;
                        jobs::finish(conn, job_id, worker, at)?;
                    }
                }
                Ok(false)
            }
        }
    })
}

/// Queues the delivery jobs found done with deliveries pending (`db::webhooks::requeue_stranded`).
pub fn requeue_stranded(conn: &mut DbConnection, now: DateTime<Utc>) -> ServiceResult<usize> {
    let requeued = db::write(conn, |conn| store::requeue_stranded(conn, now.naive_utc()))?;
    if requeued > 0 {
        tracing::warn!(
            requeued,
            "delivery jobs found done with deliveries pending: queued again"
        );
    }
    Ok(requeued)
}

/// A job that sent its share lets other subscriptions go first: queued again at once.
pub fn yield_job(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    job_id: &str,
    worker: &str,
) -> ServiceResult<()> {
    let at = now.naive_utc();
    db::write(conn, |conn| jobs::reschedule(conn, job_id, worker, at, at))?;
    Ok(())
}
