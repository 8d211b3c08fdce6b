//! `GET /reports/outcomes`: the outcome report, as JSON or (with `Accept: text/csv`) as CSV.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::Query;
use crate::api::respond;
use crate::auth::extract::{Caller, ContractParties};
use crate::error::{ApiError, ApiResult};
use crate::service::reports::{self, Period};
use crate::state::AppState;
use crate::views::report::OutcomeReport;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutcomeParams {
    /// The first month, `YYYY-MM`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-01")]
    pub from: String,
    /// The last month, `YYYY-MM`, included; at most 120 months after `from`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-12")]
    pub to: String,
    /// For the provider: one of its employers only (an employer may name itself).
    pub employer_id: Option<Uuid>,
    /// The orders of one invitation campaign only (`GET /invitations`): for a confidential
    /// campaign, what its employer may know of how the trajectories went.
    pub invitation_id: Option<Uuid>,
}

/// Whether the client asked for CSV: `text/csv` named in `Accept` before any JSON type.
fn wants_csv(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for media in accept.split(',') {
        let media = media.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("text/csv") {
            return true;
        }
        if media.eq_ignore_ascii_case("application/json") {
            return false;
        }
    }
    false
}

/// Outcome report.
///
/// How the orders commissioned in whole months (UTC) went, in aggregate: orders by kind and by
/// state, first contact within the same working day (004), intake decisions, sessions held,
/// missed and cancelled late, the commissioned sessions used, started trajectories at risk after
/// the first session (004), and whether the results lasted at the follow-ups (002). An employer
/// gets its own orders; the provider's planners all their employers' or one's (`employer_id`);
/// either, the orders of one invitation campaign (`invitation_id`).
/// No person's coaching content is in it, and no one can be singled out: each count from 1 to
/// below `min_count` (5 by default) is withheld, with as many others in its breakdown as keep it
/// from being derived from the total, or the whole breakdown when its population is that
/// small. With `Accept: text/csv` the same figures come as CSV
/// (`breakdown,category,count,suppressed`, a withheld count empty) that a spreadsheet opens as
/// it is.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = ["employer", "provider_admin"])),
    params(OutcomeParams),
    responses(
        (status = 200, description = "The report", content(
            (OutcomeReport = "application/json"),
            (String = "text/csv", example = "breakdown,category,count,suppressed\r\norders_by_kind,job_coaching,12,false\r\n")
        ), headers(("Vary" = String, description = "`Accept`: JSON or CSV"))),
        (status = 404, response = crate::api::problems::NotFound),
    )
)]
#[get("/reports/outcomes")]
pub async fn outcomes(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<ContractParties>,
    Query(params): Query<OutcomeParams>,
) -> ApiResult<HttpResponse> {
    let period = Period::parse(&params.from, &params.to)
        .map_err(|e| ApiError::invalid_field(e.pointer, e.detail))?;
    let employer_id = params.employer_id.map(|id| id.to_string());
    let invitation_id = params.invitation_id.map(|id| id.to_string());
    let min_count = state.report_min_count;
    let report = respond::read(&state, move |conn, _| {
        reports::outcomes(conn, &caller, period, employer_id, invitation_id, min_count)
    })
    .await?;
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    Ok(if wants_csv(&req) {
        response
            .content_type("text/csv; charset=utf-8; header=present")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"outcomes-{}-{}.csv\"",
                    report.from, report.to
                ),
            ))
            .body(report.to_csv())
    } else {
        response.json(&report)
    })
}
