//! Subscriptions: made, listed, changed, deleted; their secrets rotated and resealed.

use super::*;

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
