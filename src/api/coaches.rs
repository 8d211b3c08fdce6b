//! `GET/POST /coaches`, `GET/PATCH /coaches/{id}`.
//!
//! Who sees what is decided in `domain::coach`; this module maps it onto HTTP.

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::pagination::PageRequest;
use crate::api::{etag, if_match};
use crate::auth::extract::{Caller, ProviderAdmins, Staff};
use crate::db::coaches::{self as store, CoachFilter};
use crate::db::{self, identity, DbConnection};
use crate::domain::coach::{self as rules, CoachAccess, CoachVisibility};
use crate::domain::principal::{Principal, Role};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;

/// A coach. Email, time zone, `active` and `has_login` are shown only to the provider's admins
/// and to the coach themselves; employers and colleagues see the professional profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Coach {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// Lower-case slugs, e.g. `technical_background`, `reintegration`.
    pub specialisms: Vec<String>,
    /// ISO 639-1 codes.
    pub languages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// IANA time zone of the coach's working hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Europe/Amsterdam")]
    pub time_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Whether the coach can sign in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_login: Option<bool>,
    /// Increases with every change; also the `ETag`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Coach {
    fn view(row: &store::Coach, visibility: CoachVisibility) -> Coach {
        let full = visibility == CoachVisibility::Full;
        Coach {
            id: row.id.clone(),
            name: row.name.clone(),
            specialisms: db::from_json_text(&row.specialisms),
            languages: db::from_json_text(&row.languages),
            email: full.then(|| row.email.clone()),
            time_zone: full.then(|| row.time_zone.clone()),
            active: full.then_some(row.active),
            has_login: full.then(|| row.user_id.is_some()),
            version: full.then_some(row.version),
            created_at: full.then(|| row.created_at.and_utc()),
            updated_at: full.then(|| row.updated_at.and_utc()),
        }
    }
}

/// A page of coaches.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoachPage {
    pub data: Vec<Coach>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CoachListParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only active (true) or inactive (false) coaches; provider staff only.
    pub active: Option<bool>,
    /// Only coaches changed at or after this time (for sync).
    pub updated_since: Option<DateTime<Utc>>,
}

/// A new coach.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCoach {
    #[schema(example = "Anna de Vries")]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "anna@provider.example")]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[serde(default)]
    #[schema(example = json!(["technical_background", "job_coaching"]))]
    pub specialisms: Vec<String>,
    #[serde(default)]
    #[schema(example = json!(["nl", "en"]))]
    pub languages: Vec<String>,
    #[schema(example = "Europe/Amsterdam")]
    pub time_zone: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Changes to a coach; absent fields stay as they are. A coach may change their own profile
/// except `active`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoachChanges {
    pub name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    pub specialisms: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub time_zone: Option<String>,
    pub active: Option<bool>,
}

fn validate(
    name: Option<&str>,
    email: Option<&str>,
    specialisms: Option<&[String]>,
    languages: Option<&[String]>,
    time_zone: Option<&str>,
) -> ApiResult<()> {
    let mut errors: Vec<FieldError> = vec![];
    if let Some(v) = name {
        rules::validate_name("/name", v, &mut errors);
    }
    if let Some(v) = email {
        rules::validate_email("/email", v, &mut errors);
    }
    if let Some(v) = specialisms {
        rules::validate_specialisms("/specialisms", v, &mut errors);
    }
    if let Some(v) = languages {
        rules::validate_languages("/languages", v, &mut errors);
    }
    if let Some(v) = time_zone {
        rules::validate_time_zone("/time_zone", v, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The employer's contracted provider, for employers.
fn callers_provider(conn: &mut DbConnection, caller: &Principal) -> ApiResult<Option<String>> {
    if caller.role != Role::Employer {
        return Ok(None);
    }
    Ok(identity::find_organisation(conn, &caller.organisation_id)?.and_then(|o| o.provider_id))
}

fn access<'a>(row: &'a store::Coach, provider: Option<&'a str>) -> CoachAccess<'a> {
    CoachAccess {
        coach_organisation_id: &row.organisation_id,
        coach_user_id: row.user_id.as_deref(),
        active: row.active,
        callers_provider_id: provider,
    }
}

fn with_etag(mut response: actix_web::HttpResponseBuilder, coach: &Coach) -> HttpResponse {
    if let Some(version) = coach.version {
        response.insert_header((header::ETAG, etag(version)));
    }
    response.json(coach)
}

/// List coaches.
///
/// Provider staff list their own provider's coaches; an employer lists the professional profiles
/// of its contracted provider's active coaches.
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = [])),
    params(CoachListParams),
    responses(
        (status = 200, description = "A page of coaches, in creation order", body = CoachPage),
    )
)]
#[get("/coaches")]
pub async fn list_coaches(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    Query(params): Query<CoachListParams>,
) -> ApiResult<web::Json<CoachPage>> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref())?;
    let caller = caller.0;
    let result = db::run(&state.pool, move |conn| {
        let provider = callers_provider(conn, &caller)?;
        let (organisation_id, active) = match caller.role {
            Role::Employer => match &provider {
                Some(p) => (p.clone(), Some(true)),
                None => {
                    return Ok(CoachPage {
                        data: vec![],
                        next_cursor: None,
                    })
                }
            },
            _ => (caller.organisation_id.clone(), params.active),
        };
        let rows = store::list(
            conn,
            &CoachFilter {
                organisation_id,
                active,
                updated_since: params.updated_since.map(|t| t.naive_utc()),
                after: page.after.clone(),
                limit: page.fetch(),
            },
        )?;
        let (rows, next_cursor) = page.finish(rows, |r| &r.id);
        let data = rows
            .iter()
            .filter_map(|row| {
                rules::visibility(&caller, access(row, provider.as_deref()))
                    .map(|v| Coach::view(row, v))
            })
            .collect();
        Ok(CoachPage { data, next_cursor })
    })
    .await?;
    Ok(web::Json(result))
}

/// Add a coach.
///
/// For the provider's admins. The coach gets a login separately (`trajectum admin create-user`).
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = [])),
    request_body = NewCoach,
    responses(
        (status = 201, description = "The coach was added", body = Coach,
            headers(("Location" = String, description = "the coach's URL"), ("ETag" = String, description = "the version"))),
    )
)]
#[post("/coaches")]
pub async fn create_coach(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    Json(body): Json<NewCoach>,
) -> ApiResult<HttpResponse> {
    validate(
        Some(&body.name),
        Some(&body.email),
        Some(&body.specialisms),
        Some(&body.languages),
        Some(&body.time_zone),
    )?;
    let now = db::now();
    let row = store::Coach {
        id: db::new_id(),
        organisation_id: caller.organisation_id.clone(),
        user_id: None,
        name: body.name.trim().to_string(),
        email: body.email.trim().to_lowercase(),
        specialisms: db::to_json_text(&body.specialisms),
        languages: db::to_json_text(&body.languages),
        time_zone: body.time_zone,
        active: body.active,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let row = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| store::insert(conn, &row))?;
        Ok(row)
    })
    .await?;
    tracing::info!(coach_id = %row.id, "coach added");
    let coach = Coach::view(&row, CoachVisibility::Full);
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/coaches/{}", coach.id)));
    Ok(with_etag(response, &coach))
}

/// Get a coach.
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The coach's id")),
    responses(
        (status = 200, description = "The coach, as much as the caller may see", body = Coach,
            headers(("ETag" = String, description = "the version, for `If-Match`"))),
    )
)]
#[get("/coaches/{id}")]
pub async fn get_coach(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let coach = db::run(&state.pool, move |conn| {
        let provider = callers_provider(conn, &caller)?;
        let row = store::find(conn, &id)?.ok_or_else(|| ApiError::not_found("no such coach"))?;
        let visibility = rules::visibility(&caller, access(&row, provider.as_deref()))
            .ok_or_else(|| ApiError::not_found("no such coach"))?;
        Ok(Coach::view(&row, visibility))
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &coach))
}

/// Change a coach.
///
/// The provider's admins change any of their coaches; a coach changes their own profile (not
/// `active`). Send `If-Match` with the `ETag` you read to avoid overwriting someone else's change.
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The coach's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if the coach changed since"),
    ),
    request_body = CoachChanges,
    responses(
        (status = 200, description = "The changed coach", body = Coach,
            headers(("ETag" = String, description = "the new version"))),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[patch("/coaches/{id}")]
pub async fn update_coach(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
    Json(changes): Json<CoachChanges>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    validate(
        changes.name.as_deref(),
        changes.email.as_deref(),
        changes.specialisms.as_deref(),
        changes.languages.as_deref(),
        changes.time_zone.as_deref(),
    )?;
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let coach = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let provider = callers_provider(conn, &caller)?;
            let mut row =
                store::find(conn, &id)?.ok_or_else(|| ApiError::not_found("no such coach"))?;
            let access = access(&row, provider.as_deref());
            if rules::visibility(&caller, access).is_none() {
                return Err(ApiError::not_found("no such coach"));
            }
            if !rules::may_edit(&caller, access, changes.active.is_some()) {
                return Err(ApiError::Forbidden(
                    "only the provider's admins, or the coach for their own profile, may change it; `active` is the admins' to set".into(),
                ));
            }
            ApiError::check_version("coach", row.version, expected)?;
            let read_version = row.version;
            if let Some(v) = changes.name {
                row.name = v.trim().to_string();
            }
            if let Some(v) = changes.email {
                row.email = v.trim().to_lowercase();
            }
            if let Some(v) = changes.specialisms {
                row.specialisms = db::to_json_text(&v);
            }
            if let Some(v) = changes.languages {
                row.languages = db::to_json_text(&v);
            }
            if let Some(v) = changes.time_zone {
                row.time_zone = v;
            }
            if let Some(v) = changes.active {
                row.active = v;
            }
            row.version += 1;
            row.updated_at = db::now();
            if !store::update(conn, &row, read_version)? {
                return Err(ApiError::PreconditionFailed(
                    "the coach changed while this request ran; read it again".into(),
                ));
            }
            Ok(Coach::view(&row, CoachVisibility::Full))
        })
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &coach))
}
