//! Invitation campaigns (004): the employer creates, reads, closes and re-keys them here; a
//! person signs up with the campaign's link in one step (`sign_up`), and an order is placed for
//! them through the same path as the employer's own (`service::orders::place`).

mod sign_up;

pub use sign_up::{count_rate_limited, public_view, sign_up};

use chrono::{DateTime, NaiveDate, Utc};

use crate::auth::secrets::{generate_client_secret, hash_client_secret};
use crate::clock::new_id;
use crate::db::invitations::{self as store, Invitation};
use crate::db::{self, identity, DbConnection};
use crate::domain::invitation::NewInvitation;
use crate::domain::principal::Principal;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::service::orders;
use crate::service::pagination::PageRequest;
use crate::views::invitation::{InvitationPage, InvitationView, InvitationWithToken, Refusals};

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such invitation".into())
}

/// The answer to a link that leads nowhere: unknown, rotated away or closed alike, saying
/// nothing of which (no enumeration of campaigns).
pub(crate) fn no_campaign() -> ServiceError {
    ServiceError::NotFound("there is nothing to sign up to at this link".into())
}

/// Today in the time zone of the employer's provider: a campaign's last day is a date there.
pub(crate) fn today_of(
    conn: &mut DbConnection,
    employer_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<NaiveDate> {
    Ok(now.with_timezone(&zone_of(conn, employer_id)?).date_naive())
}

pub(crate) fn zone_of(conn: &mut DbConnection, employer_id: &str) -> ServiceResult<chrono_tz::Tz> {
    let provider = identity::find_organisation(conn, employer_id)?
        .and_then(|employer| employer.provider_id)
        .map(|id| identity::find_organisation(conn, &id))
        .transpose()?
        .flatten();
    Ok(orders::provider_zone(
        provider.as_ref().map_or("", |p| p.time_zone.as_str()),
    ))
}

fn view(
    conn: &mut DbConnection,
    invitation: &Invitation,
    today: NaiveDate,
) -> ServiceResult<InvitationView> {
    let refused = store::refusals_of(conn, std::slice::from_ref(&invitation.id))?
        .into_iter()
        .map(|(_, reason, n)| (reason, n));
    Ok(InvitationView::build(
        invitation,
        Refusals::of(refused),
        today,
    ))
}

/// The employer starts a campaign; the answer holds its link token, shown this once.
#[tracing::instrument(skip_all)]
pub fn create(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    new: NewInvitation,
) -> ServiceResult<InvitationWithToken> {
    db::write(conn, |conn| {
        let contracted = identity::find_organisation(conn, &caller.organisation_id)?
            .is_some_and(|employer| employer.provider_id.is_some());
        if !contracted {
            return Err(ServiceError::invalid(
                "/",
                "your organisation has no contracted coaching provider to send sign-ups to",
            ));
        }
        let today = today_of(conn, &caller.organisation_id, now)?;
        let terms = new.terms(today)?;
        let token = generate_client_secret();
        let invitation = Invitation {
            id: new_id(),
            employer_id: caller.organisation_id.clone(),
            title: terms.title,
            message: terms.message,
            kind: terms.kind,
            session_budget: terms.session_budget as i32,
            max_sign_ups: terms.max_sign_ups as i32,
            ends_on: terms.ends_on,
            confidential: terms.confidential,
            token_hash: hash_client_secret(&token),
            sign_ups: 0,
            closed_at: None,
            version: 1,
            created_by: caller.subject.clone(),
            created_at: now.naive_utc(),
            updated_at: now.naive_utc(),
        };
        store::insert(conn, &invitation)?;
        tracing::info!(invitation_id = %invitation.id, "invitation campaign created");
        Ok(InvitationWithToken {
            invitation: view(conn, &invitation, today)?,
            token,
        })
    })
}

/// A page of the employer's campaigns, oldest first.
pub fn list(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    page: PageRequest,
) -> ServiceResult<InvitationPage> {
    let today = today_of(conn, &caller.organisation_id, now)?;
    let rows = store::list(
        conn,
        &caller.organisation_id,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |i| &i.id);
    let ids: Vec<String> = rows.iter().map(|i| i.id.clone()).collect();
    let refusals = store::refusals_of(conn, &ids)?;
    let data = rows
        .iter()
        .map(|invitation| {
            let own = refusals
                .iter()
                .filter(|(id, _, _)| *id == invitation.id)
                .map(|(_, reason, n)| (*reason, *n));
            InvitationView::build(invitation, Refusals::of(own), today)
        })
        .collect();
    Ok(InvitationPage { data, next_cursor })
}

/// One of the employer's campaigns, with its counts.
pub fn get(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<InvitationView> {
    let invitation = store::find(conn, &caller.organisation_id, id)?.ok_or_else(not_found)?;
    let today = today_of(conn, &caller.organisation_id, now)?;
    view(conn, &invitation, today)
}

/// Loads the employer's campaign for a change, locked, at the version the caller read.
fn load_for_change(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
) -> ServiceResult<Invitation> {
    store::lock(conn, id)?;
    let invitation = store::find(conn, &caller.organisation_id, id)?.ok_or_else(not_found)?;
    lifecycle::check_version("invitation", invitation.version, expected_version)?;
    Ok(invitation)
}

fn save(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    mut invitation: Invitation,
) -> ServiceResult<Invitation> {
    let previous = invitation.version;
    invitation.version += 1;
    invitation.updated_at = now.naive_utc();
    if !store::save(conn, &invitation, previous)? {
        return Err(ServiceError::changed("invitation"));
    }
    Ok(invitation)
}

/// A new link token for the campaign, shown this once; the old one leads nowhere from now on.
#[tracing::instrument(skip_all, fields(invitation_id = %id))]
pub fn rotate_token(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
) -> ServiceResult<InvitationWithToken> {
    db::write(conn, |conn| {
        let mut invitation = load_for_change(conn, caller, id, expected_version)?;
        let token = generate_client_secret();
        invitation.token_hash = hash_client_secret(&token);
        let invitation = save(conn, now, invitation)?;
        let today = today_of(conn, &caller.organisation_id, now)?;
        Ok(InvitationWithToken {
            invitation: view(conn, &invitation, today)?,
            token,
        })
    })
}

/// Closes the campaign: its link leads nowhere from now on. The orders it made go on. Closing
/// a closed campaign changes nothing.
#[tracing::instrument(skip_all, fields(invitation_id = %id))]
pub fn close(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
) -> ServiceResult<InvitationView> {
    db::write(conn, |conn| {
        let mut invitation = load_for_change(conn, caller, id, expected_version)?;
        if invitation.closed_at.is_none() {
            invitation.closed_at = Some(now.naive_utc());
            invitation = save(conn, now, invitation)?;
        }
        let today = today_of(conn, &caller.organisation_id, now)?;
        view(conn, &invitation, today)
    })
}
