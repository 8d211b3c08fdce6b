//! Invitation campaigns (issue 20, source 004): `POST/GET /invitations`,
//! `GET /invitations/{id}`, `POST /invitations/{id}/rotate-token`, `POST /invitations/{id}/close`;
//! and the one public write of the API, `GET/POST /sign-up/{token}`.

use std::net::IpAddr;

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::api::{if_match, page, PageParams};
use crate::auth::extract::{Caller, Employers};
use crate::domain::invitation::{NewInvitation, SignUp};
use crate::domain::rate_limit::Verdict;
use crate::error::{ApiError, ApiResult};
use crate::service::invitations;
use crate::state::AppState;
use crate::views::invitation::{
    InvitationPage, InvitationView, InvitationWithToken, PublicInvitation, SignUpReceipt,
};

/// Start an invitation campaign.
///
/// For an employer's HR users and systems (004: invite the group that needs coaching most,
/// actively). Each sign-up orders a trajectory of `kind` with `session_budget` sessions, until
/// `max_sign_ups` have signed up or `ends_on` has passed. A `confidential` campaign keeps who
/// signed up from you: you see how many (here) and how their trajectories went in aggregate
/// (`GET /reports/outcomes`), never who, unless the coachee chooses to share it.
///
/// The answer holds the campaign's link `token`, shown this once, for your front end to put
/// behind its "yes, I want coaching" button. It is not remembered under an `Idempotency-Key`
/// (a credential): a retried create makes a second campaign, which you can close.
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = ["employer"])),
    request_body = NewInvitation,
    responses(
        (status = 201, description = "The campaign, with its link token (shown once)", body = InvitationWithToken,
            headers(("Location" = String, description = "the campaign's URL"))),
        (status = 422, response = crate::api::problems::Unprocessable),
    )
)]
#[post("/invitations")]
pub async fn create_invitation(
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    Json(new): Json<NewInvitation>,
) -> ApiResult<HttpResponse> {
    let created = respond::call(&state, move |conn, now| {
        invitations::create(conn, now, &caller, new)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::LOCATION,
            format!("/api/v1/invitations/{}", created.invitation.id),
        ))
        .insert_header((header::ETAG, format!("\"{}\"", created.invitation.version)))
        .json(created))
}

/// List your campaigns.
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = ["employer"])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of campaigns, oldest first", body = InvitationPage),
    )
)]
#[get("/invitations")]
pub async fn list_invitations(
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    Query(params): Query<PageParams>,
) -> ApiResult<web::Json<InvitationPage>> {
    let page = page(params.limit, params.cursor.as_deref())?;
    respond::read(&state, move |conn, now| {
        invitations::list(conn, now, &caller, page)
    })
    .await
    .map(web::Json)
}

/// Get a campaign.
///
/// With how many signed up and how many were refused, per reason (never who).
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = ["employer"])),
    params(("id" = Uuid, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign", body = InvitationView,
            headers(("ETag" = String, description = "the version, for `If-Match`"))),
    )
)]
#[get("/invitations/{id}")]
pub async fn get_invitation(
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let view = respond::read(&state, move |conn, now| {
        invitations::get(conn, now, &caller, &id)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Give a campaign a new link token.
///
/// The answer holds the new token, shown this once; the old one leads nowhere from now on (a
/// 404, as an unknown link). Not remembered under an `Idempotency-Key`: the token is a
/// credential. `If-Match` is honoured.
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = ["employer"])),
    params(("id" = Uuid, Path, description = "The campaign's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if it changed since")),
    responses(
        (status = 200, description = "The campaign with its new link token", body = InvitationWithToken,
            headers(("ETag" = String, description = "the campaign's new version"))),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[post("/invitations/{id}/rotate-token")]
pub async fn rotate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let rotated = respond::call(&state, move |conn, now| {
        invitations::rotate_token(conn, now, &caller, &id, expected)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::ETAG, format!("\"{}\"", rotated.invitation.version)))
        .json(rotated))
}

/// Close a campaign.
///
/// Its link leads nowhere from now on (a 404, as an unknown link); the trajectories it started
/// go on. Closing a closed campaign changes nothing. `If-Match` is honoured.
#[utoipa::path(
    tag = "invitations",
    security(("bearer" = ["employer"])),
    params(("id" = Uuid, Path, description = "The campaign's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if it changed since")),
    responses(
        (status = 200, description = "The closed campaign", body = InvitationView,
            headers(("ETag" = String, description = "the campaign's version"))),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[post("/invitations/{id}/close")]
pub async fn close_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let view = invitations::close(conn, now, caller, &id, expected)?;
        Ok(Reply::ok(&view).etag(view.version))
    })
    .await
}

/// A link token as issued: 43 characters of base64url. Anything else leads nowhere, without a
/// look in the database.
fn plausible(token: &str) -> bool {
    (20..=100).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn no_campaign() -> ApiError {
    ApiError::not_found("there is nothing to sign up to at this link")
}

/// Counts one request of the client's address against its limit; the 429 when it is used up.
async fn admit_address(state: &AppState, address: Option<IpAddr>) -> ApiResult<()> {
    let (Some(limiter), Some(address)) = (state.sign_up_limits.per_address.as_ref(), address)
    else {
        return Ok(());
    };
    // A digest, not the address: the count is shared through the database, and an address is
    // personal data.
    let network = crate::client_address::counted_as(address).to_string();
    let key = format!("address:{}", short_digest(&network));
    refuse_beyond(limiter.admit_key(&state.pool, key, state.clock.now()).await)
}

fn short_digest(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..12])
}

fn refuse_beyond(verdict: Verdict) -> ApiResult<()> {
    match verdict {
        Verdict::Refused { resets_in } => Err(ApiError::RateLimited {
            retry_after_seconds: u64::from(resets_in),
        }),
        Verdict::Admitted { .. } => Ok(()),
    }
}

/// See a campaign as its link shows it.
///
/// Public: for the front end that shows the campaign's title and message above its button.
/// An unknown, rotated-away or closed link is a 404 that says nothing more. Not counted against
/// the sign-up limits: a front end may show the campaign on every visit, and the 256-bit link
/// leaves nothing to find by trying.
#[utoipa::path(
    tag = "invitations",
    security(()),
    params(("token" = String, Path, description = "The campaign's link token")),
    responses(
        (status = 200, description = "The campaign's public face", body = PublicInvitation),
        (status = 404, response = crate::api::problems::NotFound),
    )
)]
#[get("/sign-up/{token}")]
pub async fn public_invitation(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = token.into_inner();
    if !plausible(&token) {
        return Err(no_campaign());
    }
    let view = respond::read(&state, move |conn, now| {
        invitations::public_view(conn, now, &token)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// Sign up: "yes, I want coaching".
///
/// Public, the API's only unauthenticated write (004: signing up must be nearly effortless, and
/// a person calls the same working day). A name and a phone number or an email address are
/// all it asks; `preferred_call_time` and `language` are optional. It orders a trajectory for
/// the campaign's employer, records your consent to be contacted, and answers what happens next
/// in words a person understands, in the `language` asked for when there are words for it
/// (`en`, `nl`; else `en`). Signing up again (the same email or phone) keeps the first
/// trajectory, and is answered the same: the answer tells nobody who signed up before.
///
/// Refused: a campaign that is full or has ended, 409 `sign-up-refused` with `refusal`
/// (`full`, `ended`); an unknown, rotated-away or closed link, 404 that says nothing more; more
/// sign-ups than `TRAJECTUM_SIGN_UP_LIMIT_PER_ADDRESS` from one client address, or than
/// `TRAJECTUM_SIGN_UP_LIMIT_PER_CAMPAIGN` for the campaign, in a window: 429 with
/// `Retry-After`. Not remembered under an `Idempotency-Key`: a repeat is safe by itself.
#[utoipa::path(
    tag = "invitations",
    security(()),
    params(("token" = String, Path, description = "The campaign's link token")),
    request_body = SignUp,
    responses(
        (status = 202, description = "Signed up: what happens next", body = SignUpReceipt),
        (status = 404, response = crate::api::problems::NotFound),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 422, response = crate::api::problems::Unprocessable),
        (status = 429, response = crate::api::problems::RateLimited),
    )
)]
#[post("/sign-up/{token}")]
pub async fn sign_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    Json(form): Json<SignUp>,
) -> ApiResult<HttpResponse> {
    let token = token.into_inner();
    if !plausible(&token) {
        return Err(no_campaign());
    }
    // The address first: a flood from one address is turned away without database work.
    admit_address(&state, state.trusted_proxies.of(&req)).await?;
    if let Some(limiter) = state.sign_up_limits.per_campaign.as_ref() {
        let key = format!(
            "campaign:{}",
            hex::encode(&Sha256::digest(token.as_bytes())[..12])
        );
        let verdict = limiter.admit_key(&state.pool, key, state.clock.now()).await;
        if let Err(refused) = refuse_beyond(verdict) {
            let token = token.clone();
            respond::call(&state, move |conn, _| {
                invitations::count_rate_limited(conn, &token)
            })
            .await?;
            return Err(refused);
        }
    }
    let receipt: SignUpReceipt = respond::call_public(&state, move |conn, now| {
        invitations::sign_up(conn, now, &token, form)
    })
    .await?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_LANGUAGE, receipt.language.clone()))
        .json(receipt))
}
