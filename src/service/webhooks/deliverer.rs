//! The deliverer's two steps (`crate::delivery`): decide a subscription's next delivery under
//! its job, and record what the receiver answered.

use super::*;

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
