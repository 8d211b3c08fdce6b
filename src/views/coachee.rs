//! What the coachee sees with their link, and the link itself.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::coaching::Consent;
use crate::domain::consent::ConsentKind;
use crate::domain::order::OrderStatus;
use crate::domain::plan::Plan;

/// A link token for the coachee. Hand it over privately; it is shown only now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoacheeLinkIssued {
    #[schema(format = Uuid)]
    pub link_id: String,
    /// A bearer token with role `coachee` for this order only.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// Earlier links of this order that stopped working now: an order has one live link, the
    /// newest (a coachee given a new one, because the old was lost or seen by someone else,
    /// should not leave the old one working).
    pub replaced_links: u32,
}

/// What revoking an order's coachee links ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinksRevoked {
    /// Live links that stopped working now (0 when there was none).
    pub revoked_links: u32,
    /// Whether the order's calendar feed token, the coachee's too, stopped working now.
    pub calendar_feed_revoked: bool,
}

/// A consent as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentState {
    pub given: bool,
    pub recorded_at: DateTime<Utc>,
    /// How it was recorded, e.g. `coachee_link`.
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consents {
    /// To an assessment (002); absent until the coachee says.
    pub assessment: Option<ConsentState>,
    /// To sharing a summary (the agreed goals) with the employer.
    pub share_summary: Option<ConsentState>,
    /// To be contacted: given by signing up to an invitation campaign (source `self_sign_up`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<ConsentState>,
    /// For an order from a confidential campaign: to the employer knowing of the trajectory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_participation: Option<ConsentState>,
}

impl Consents {
    /// The current consents from the latest record of each kind.
    pub fn build(current: &[Consent]) -> Consents {
        let state = |kind: ConsentKind| {
            current
                .iter()
                .find(|c| c.kind == kind)
                .map(|c| ConsentState {
                    given: c.given,
                    recorded_at: c.recorded_at.and_utc(),
                    // The source's kind, without the link's id.
                    source: c.source.split(':').next().unwrap_or_default().to_string(),
                })
        };
        Consents {
            assessment: state(ConsentKind::Assessment),
            share_summary: state(ConsentKind::ShareSummary),
            contact: state(ConsentKind::Contact),
            share_participation: state(ConsentKind::ShareParticipation),
        }
    }
}

/// The trajectory as the coachee sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoacheeOrder {
    #[schema(format = Uuid)]
    pub order_id: String,
    pub status: OrderStatus,
    /// Your coach's name, once one is assigned.
    pub coach_name: Option<String>,
    pub session_budget: i32,
    pub end_date: NaiveDate,
    /// Your development points, goals and tasks.
    pub plan: Plan,
    pub consents: Consents,
    /// Your sessions, by start: when, how and where.
    pub sessions: Vec<crate::views::session::SessionView>,
}
