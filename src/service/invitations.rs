//! Invitation campaigns (004): the employer creates, reads, closes and re-keys them; a person
//! signs up with the campaign's link, in one step, and an order is placed for them through the
//! same path as the employer's own (`service::orders::place`).

use chrono::{DateTime, NaiveDate, Utc};

use crate::auth::secrets::{generate_client_secret, hash_client_secret};
use crate::clock::new_id;
use crate::db::coaching::{self, Consent};
use crate::db::invitations::{self as store, Invitation};
use crate::db::{self, identity, DbConnection};
use crate::domain::commission::{default_end, Commission};
use crate::domain::consent::ConsentKind;
use crate::domain::event::Event;
use crate::domain::invitation::{
    self, Applicant, NewInvitation, RefusalReason, SignUp, ANSWER_LANGUAGES,
};
use crate::domain::order::{OrderDetails, ReasonSource};
use crate::domain::principal::{Principal, Role, SubjectType};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::service::orders::{self, Origin};
use crate::service::pagination::PageRequest;
use crate::views::invitation::{
    InvitationPage, InvitationView, InvitationWithToken, PublicInvitation, Refusals, SignUpReceipt,
};

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such invitation".into())
}

/// The answer to a link that leads nowhere: unknown, rotated away or closed alike, saying
/// nothing of which (no enumeration of campaigns).
fn no_campaign() -> ServiceError {
    ServiceError::NotFound("there is nothing to sign up to at this link".into())
}

/// Today in the time zone of the employer's provider: a campaign's last day is a date there.
fn today_of(
    conn: &mut DbConnection,
    employer_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<NaiveDate> {
    Ok(now.with_timezone(&zone_of(conn, employer_id)?).date_naive())
}

fn zone_of(conn: &mut DbConnection, employer_id: &str) -> ServiceResult<chrono_tz::Tz> {
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

/// The campaign behind a link token, if the link leads anywhere (a closed campaign's does not).
fn campaign_of(conn: &mut DbConnection, token: &str) -> ServiceResult<Invitation> {
    store::find_by_token(conn, &hash_client_secret(token))?
        .filter(|invitation| invitation.closed_at.is_none())
        .ok_or_else(no_campaign)
}

/// What a holder of the link sees above the button.
pub fn public_view(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    token: &str,
) -> ServiceResult<PublicInvitation> {
    let invitation = campaign_of(conn, token)?;
    let today = today_of(conn, &invitation.employer_id, now)?;
    Ok(PublicInvitation {
        title: invitation.title.clone(),
        message: invitation.message.clone(),
        open: invitation.standing().admits(today).is_ok(),
        ends_on: invitation.ends_on,
        languages: ANSWER_LANGUAGES.iter().map(|l| l.to_string()).collect(),
    })
}

/// Counts a sign-up to the campaign behind `token` that the per-campaign rate limit refused.
pub fn count_rate_limited(conn: &mut DbConnection, token: &str) -> ServiceResult<()> {
    if let Some(invitation) = store::find_by_token(conn, &hash_client_secret(token))? {
        store::count_refusal(conn, &invitation.id, RefusalReason::RateLimited)?;
    }
    Ok(())
}

/// Who acts in a sign-up: the person, through the campaign's link (its id is the subject; the
/// order's events name no person).
fn signer(invitation: &Invitation) -> Principal {
    Principal {
        subject: invitation.id.clone(),
        subject_type: SubjectType::Link,
        role: Role::Coachee,
        organisation_id: invitation.employer_id.clone(),
        order_id: None,
    }
}

/// How a sign-up ended inside its transaction: a refusal is counted and committed too.
enum Outcome {
    Signed,
    Refused(RefusalReason),
}

/// "Yes, I want coaching" (004): places an order for the campaign's employer with its kind and
/// budget, records the person's own consent to be contacted, and starts the same-working-day
/// contact clock. The same person (by email or phone) signing up again keeps the first order,
/// and gets the same answer. Refusals are counted for the employer, per reason.
#[tracing::instrument(skip_all)]
pub fn sign_up(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    token: &str,
    form: SignUp,
) -> ServiceResult<SignUpReceipt> {
    let found = store::find_by_token(conn, &hash_client_secret(token))?.ok_or_else(no_campaign)?;
    let applicant = match form.applicant() {
        Ok(applicant) => applicant,
        Err(errors) => {
            if found.closed_at.is_some() {
                store::count_refusal(conn, &found.id, RefusalReason::Closed)?;
                return Err(no_campaign());
            }
            store::count_refusal(conn, &found.id, RefusalReason::Invalid)?;
            return Err(ServiceError::Invalid(errors));
        }
    };
    let zone = zone_of(conn, &found.employer_id)?;
    let today = now.with_timezone(&zone).date_naive();
    let language = invitation::answer_language(applicant.language.as_deref());
    let outcome = db::write(conn, |conn| -> ServiceResult<Outcome> {
        store::lock(conn, &found.id)?;
        let campaign = store::find(conn, &found.employer_id, &found.id)?.ok_or_else(no_campaign)?;
        if campaign.token_hash != found.token_hash {
            // Rotated while this request ran: the link it came with leads nowhere now.
            return Err(no_campaign());
        }
        if let Err(reason) = campaign.standing().admits(today) {
            store::count_refusal(conn, &campaign.id, reason)?;
            // A refusal counted is no change of anyone's.
            crate::db::audit::disarm();
            return Ok(Outcome::Refused(reason));
        }
        // An employer without a provider any more takes no sign-ups: the link leads nowhere,
        // for a repeat as for a first (the answer must not tell them apart).
        let contracted = identity::find_organisation(conn, &campaign.employer_id)?
            .is_some_and(|employer| employer.provider_id.is_some());
        if !contracted {
            return Err(no_campaign());
        }
        let keys = invitation::person_keys(&campaign.id, &applicant.coachee);
        let order_id = match store::order_of(conn, &campaign.id, &keys)? {
            Some(order_id) => {
                repeat(conn, now, &campaign, &order_id)?;
                order_id
            }
            None => place(conn, now, today, &campaign, applicant, &keys)?,
        };
        // In the audit trail: the person, through the campaign's link, on their order (an entry
        // in the provider's trail, as a coachee's are).
        crate::db::audit::act_as(Principal {
            order_id: Some(order_id),
            ..signer(&campaign)
        });
        Ok(Outcome::Signed)
    })?;
    match outcome {
        Outcome::Signed => {
            let due = crate::domain::contact::contact_due_at(now, zone);
            Ok(SignUpReceipt {
                message: invitation::what_happens_next(language, due, now, zone),
                language: language.to_string(),
                call_expected_by: due,
            })
        }
        Outcome::Refused(RefusalReason::Closed) => Err(no_campaign()),
        Outcome::Refused(reason) => Err(refused(reason, found.ends_on)),
    }
}

fn refused(reason: RefusalReason, ends_on: NaiveDate) -> ServiceError {
    let detail = match reason {
        RefusalReason::Ended => format!(
            "this invitation ended on {ends_on}; ask your HR department how to find coaching now"
        ),
        _ => "this invitation has as many sign-ups as it can take; ask your HR department how to find coaching now".to_string(),
    };
    let mut extensions = serde_json::Map::new();
    extensions.insert("refusal".into(), reason.as_str().into());
    ServiceError::Taken {
        slug: "sign-up-refused",
        detail,
        extensions,
    }
}

/// The new order of a first sign-up, with its consent to be contacted and its events.
fn place(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    today: NaiveDate,
    campaign: &Invitation,
    applicant: Applicant,
    keys: &[String],
) -> ServiceResult<String> {
    let signer = signer(campaign);
    let commission = Commission {
        coachee: applicant.coachee,
        kind: Some(campaign.kind),
        context: vec![],
        details: OrderDetails {
            // The employee asked for it themselves (004).
            reason_source: Some(ReasonSource::Employee),
            preferred_language: applicant.language,
            preferred_call_time: applicant.preferred_call_time,
            ..OrderDetails::default()
        },
        session_budget: u32::try_from(campaign.session_budget).unwrap_or(1),
        end_date: default_end(today),
        external_ref: None,
    };
    let origin = Origin {
        invitation_id: &campaign.id,
        employer_sees: !campaign.confidential,
    };
    let order = orders::place(
        conn,
        now,
        &signer,
        &campaign.employer_id,
        commission,
        Some(origin),
    )?;
    coaching::record_consent(
        conn,
        &Consent {
            id: new_id(),
            order_id: order.id.clone(),
            kind: ConsentKind::Contact,
            given: true,
            source: "self_sign_up".into(),
            recorded_at: now.naive_utc(),
        },
    )?;
    store::remember_sign_up(conn, &campaign.id, keys, &order.id)?;
    store::count_sign_up(conn, &campaign.id)?;
    let accepted = Event::InvitationAccepted {
        invitation_id: campaign.id.clone(),
        repeat: false,
    };
    lifecycle::record(conn, now, &signer, &order, accepted.clone())?;
    if campaign.confidential {
        // The employer learns that someone signed up, not who (004).
        lifecycle::record_for_organisation(conn, now, &signer, &campaign.employer_id, accepted)?;
    }
    tracing::info!(order_id = %order.id, invitation_id = %campaign.id, "signed up to an invitation");
    Ok(order.id)
}

/// The same person signed up again: their first order stays, and its coach hears of it.
fn repeat(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    campaign: &Invitation,
    order_id: &str,
) -> ServiceResult<()> {
    let order = crate::db::orders::find(conn, order_id)?
        .ok_or_else(|| anyhow::anyhow!("the order {order_id} of a sign-up is missing"))?;
    let event = Event::InvitationAccepted {
        invitation_id: campaign.id.clone(),
        repeat: true,
    };
    lifecycle::record(conn, now, &signer(campaign), &order, event)?;
    tracing::info!(order_id = %order.id, invitation_id = %campaign.id, "signed up again");
    Ok(())
}
