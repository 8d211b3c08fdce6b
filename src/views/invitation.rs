//! Invitation campaigns as their employer sees them, as a holder of the campaign's link sees
//! it, and the answer to a sign-up.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::invitations::Invitation;
use crate::domain::invitation::RefusalReason;
use crate::domain::order::TrajectoryKind;

/// A campaign, with how many signed up and how many were refused. For a confidential one the
/// employer learns how many, never who (004); its trajectories show in aggregate in
/// `GET /reports/outcomes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    pub message: String,
    pub kind: TrajectoryKind,
    pub session_budget: i32,
    pub max_sign_ups: i32,
    pub ends_on: NaiveDate,
    pub confidential: bool,
    /// `open` (takes sign-ups), `ended` (past its last day), `full`, or `closed`.
    pub status: InvitationStatus,
    /// Orders made by sign-ups (a person signing up again keeps their first).
    pub sign_ups: i32,
    /// Sign-ups refused, per reason. Those refused by the limit per client address are not
    /// counted here: they are turned away before the campaign is looked up.
    pub refused: Refusals,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::views::time::rfc3339_opt"
    )]
    pub closed_at: Option<DateTime<Utc>>,
    /// Pass as `If-Match` (quoted) to change it only if nobody else did.
    pub version: i32,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Open,
    Ended,
    Full,
    Closed,
}

/// How many sign-ups were refused, per reason.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Refusals {
    /// The campaign had as many sign-ups as it pays for.
    pub full: i64,
    /// Its last day had passed.
    pub ended: i64,
    /// It was closed (the sign-up was answered as for an unknown link).
    pub closed: i64,
    /// Too many sign-ups for the campaign in a short time.
    pub rate_limited: i64,
    /// The form did not give a name and a way to call back.
    pub invalid: i64,
}

impl Refusals {
    pub fn of(counts: impl IntoIterator<Item = (RefusalReason, i64)>) -> Refusals {
        let mut refusals = Refusals::default();
        for (reason, n) in counts {
            let slot = match reason {
                RefusalReason::Full => &mut refusals.full,
                RefusalReason::Ended => &mut refusals.ended,
                RefusalReason::Closed => &mut refusals.closed,
                RefusalReason::RateLimited => &mut refusals.rate_limited,
                RefusalReason::Invalid => &mut refusals.invalid,
            };
            *slot += n;
        }
        refusals
    }
}

impl InvitationView {
    pub fn build(invitation: &Invitation, refused: Refusals, today: NaiveDate) -> InvitationView {
        let standing = invitation.standing();
        let status = match standing.admits(today) {
            Ok(()) => InvitationStatus::Open,
            Err(RefusalReason::Closed) => InvitationStatus::Closed,
            Err(RefusalReason::Ended) => InvitationStatus::Ended,
            Err(_) => InvitationStatus::Full,
        };
        InvitationView {
            id: invitation.id.clone(),
            title: invitation.title.clone(),
            message: invitation.message.clone(),
            kind: invitation.kind,
            session_budget: invitation.session_budget,
            max_sign_ups: invitation.max_sign_ups,
            ends_on: invitation.ends_on,
            confidential: invitation.confidential,
            status,
            sign_ups: invitation.sign_ups,
            refused,
            closed_at: invitation.closed_at.map(|at| at.and_utc()),
            version: invitation.version,
            created_at: invitation.created_at.and_utc(),
            updated_at: invitation.updated_at.and_utc(),
        }
    }
}

/// A campaign with its link token, shown this once (when created, and when rotated).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationWithToken {
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// The campaign's link token, for your front end to put behind its button: it calls
    /// `POST /api/v1/sign-up/{token}`. Keep it: it is not shown again; rotate it for a new one
    /// (the old one then leads nowhere).
    #[schema(example = "kq3Xv9yYc0m4Qe2oZ1JtWg8rB5sLhN7aPdFuE6iTjKw")]
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPage {
    pub data: Vec<InvitationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A campaign as a holder of its link sees it: what to show above the button.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicInvitation {
    pub title: String,
    pub message: String,
    /// Whether it takes sign-ups now (false once it ended or is full).
    pub open: bool,
    /// The last day to sign up.
    pub ends_on: NaiveDate,
    /// The languages the answer to a sign-up can be written in.
    #[schema(example = json!(["en", "nl"]))]
    pub languages: Vec<String>,
}

/// The answer to a sign-up: what happens next, in words a person understands (004). The same
/// whether this is the person's first sign-up or a repeat (which keeps the first order): the
/// answer does not tell anyone holding the link who signed up before.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignUpReceipt {
    /// What happens next, e.g. "Thank you. A coach will call you today before 17:00 …".
    #[schema(
        example = "Thank you. A coach will call you today before 17:00 to get to know you. There is nothing to prepare; the call is without obligation and stays between you and the coach."
    )]
    pub message: String,
    /// The language of `message`: the one asked for when there are words for it, else `en`.
    #[schema(example = "nl")]
    pub language: String,
    /// When a coach will have called at the latest.
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub call_expected_by: DateTime<Utc>,
}
