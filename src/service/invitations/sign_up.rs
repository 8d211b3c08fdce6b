//! The public side of a campaign: what its link shows, and the one step, "yes, I want coaching"
//! (004), with its refusals counted for the employer.

use chrono::{DateTime, NaiveDate, Utc};

use super::{no_campaign, today_of, zone_of};
use crate::auth::secrets::hash_client_secret;
use crate::clock::new_id;
use crate::db::coaching::{self, Consent};
use crate::db::invitations::{self as store, Invitation};
use crate::db::{self, identity, DbConnection};
use crate::domain::commission::{default_end, Commission};
use crate::domain::consent::ConsentKind;
use crate::domain::event::Event;
use crate::domain::invitation::{self, Applicant, RefusalReason, SignUp, ANSWER_LANGUAGES};
use crate::domain::order::{OrderDetails, ReasonSource};
use crate::domain::principal::{Principal, Role, SubjectType};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::service::orders::{self, Origin};
use crate::views::invitation::{PublicInvitation, SignUpReceipt};

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
