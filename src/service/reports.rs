//! The outcome report for HR (002, 004): an employer's own orders, or a provider's across its
//! employers (or one of them), commissioned in whole months. Aggregates only, small counts
//! withheld (`domain::report`).

use chrono::{Months, NaiveDate};

use crate::db::identity;
use crate::db::reports::{self as store, Scope};
use crate::db::DbConnection;
use crate::domain::principal::{OrganisationKind, Principal, Role};
use crate::domain::report::outcome_breakdowns;
use crate::domain::FieldError;
use crate::service::error::{ServiceError, ServiceResult};
use crate::views::report::OutcomeReport;

/// The longest period one report covers.
pub const MAX_MONTHS: u32 = 120;

/// Whole months, from the first day of `first` to the end of `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    first: NaiveDate,
    last: NaiveDate,
}

fn month(parameter: &str, value: &str) -> Result<NaiveDate, FieldError> {
    let parsed = (value.len() == 7)
        .then(|| NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").ok())
        .flatten();
    parsed.ok_or_else(|| FieldError::new(parameter, "must be a month as YYYY-MM, e.g. 2026-01"))
}

impl Period {
    /// The months `from` through `to` (`YYYY-MM` each), at most [`MAX_MONTHS`] of them.
    pub fn parse(from: &str, to: &str) -> Result<Period, FieldError> {
        let first = month("from", from)?;
        let last = month("to", to)?;
        if last < first {
            return Err(FieldError::new("to", "must not be before `from`"));
        }
        if first + Months::new(MAX_MONTHS) <= last {
            return Err(FieldError::new(
                "to",
                format!("a report covers at most {MAX_MONTHS} months"),
            ));
        }
        Ok(Period { first, last })
    }

    fn scope(&self, provider_id: Option<String>, employer_id: Option<String>) -> Scope {
        let until = self.last + Months::new(1);
        Scope {
            provider_id,
            employer_id,
            invitation_id: None,
            employer_sees: None,
            from: self.first.and_hms_opt(0, 0, 0).expect("midnight"),
            until: until.and_hms_opt(0, 0, 0).expect("midnight"),
        }
    }
}

fn no_employer() -> ServiceError {
    ServiceError::NotFound("no such employer among yours".into())
}

fn no_invitation() -> ServiceError {
    ServiceError::NotFound("no such invitation campaign among yours".into())
}

/// The outcome report of `months` for the caller's organisation: an employer its own orders; a
/// provider's planner all its employers', or `employer_id`'s only; with `invitation_id`, the
/// orders of that campaign only (004: how a confidential campaign's trajectories went, in
/// aggregate, is what its employer may know of them). An employer's report covers either the
/// orders it sees, or a confidential campaign's orders it does not see, never both: mixed, the
/// figures minus what it sees of its own orders would tell it the hidden ones'.
pub fn outcomes(
    conn: &mut DbConnection,
    caller: &Principal,
    months: Period,
    employer_id: Option<String>,
    invitation_id: Option<String>,
    min_count: u32,
) -> ServiceResult<OutcomeReport> {
    let mut scope = match caller.role {
        Role::Employer => {
            if employer_id
                .as_ref()
                .is_some_and(|id| *id != caller.organisation_id)
            {
                return Err(no_employer());
            }
            let mut scope = months.scope(None, Some(caller.organisation_id.clone()));
            // The orders it sees; a confidential campaign's are reported on their own below.
            scope.employer_sees = Some(true);
            scope
        }
        Role::ProviderAdmin => {
            if let Some(id) = &employer_id {
                let contracted = identity::find_organisation(conn, id)?.is_some_and(|org| {
                    org.kind == OrganisationKind::Employer
                        && org.provider_id.as_deref() == Some(caller.organisation_id.as_str())
                });
                if !contracted {
                    return Err(no_employer());
                }
            }
            months.scope(Some(caller.organisation_id.clone()), employer_id.clone())
        }
        _ => {
            return Err(ServiceError::Forbidden(
                "outcome reports are for employers and the provider's planners".into(),
            ))
        }
    };
    if let Some(id) = &invitation_id {
        let campaign = crate::db::invitations::get(conn, id)?.ok_or_else(no_invitation)?;
        let ours = match caller.role {
            Role::Employer => campaign.employer_id == caller.organisation_id,
            _ => {
                identity::find_organisation(conn, &campaign.employer_id)?.is_some_and(|employer| {
                    employer.provider_id.as_deref() == Some(caller.organisation_id.as_str())
                })
            }
        };
        let in_scope = scope
            .employer_id
            .as_ref()
            .is_none_or(|employer| *employer == campaign.employer_id);
        if !(ours && in_scope) {
            return Err(no_invitation());
        }
        if caller.role == Role::Employer {
            // A confidential campaign's report covers the orders its employer does not see,
            // and only those (004: how many and how it went, never who).
            scope.employer_sees = Some(!campaign.confidential);
        }
        scope.invitation_id = Some(campaign.id);
    }
    let orders = store::order_facts(conn, &scope)?;
    let sessions = store::session_outcomes(conn, &scope)?;
    let results = store::follow_up_results(conn, &scope)?;
    Ok(OutcomeReport {
        from: months.first.format("%Y-%m").to_string(),
        to: months.last.format("%Y-%m").to_string(),
        employer_id: (caller.role == Role::ProviderAdmin)
            .then_some(employer_id)
            .flatten(),
        invitation_id,
        min_count,
        breakdowns: outcome_breakdowns(&orders, &sessions, &results, min_count),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_whole_months() {
        let months = Period::parse("2026-01", "2026-12").unwrap();
        let scope = months.scope(None, None);
        assert_eq!(scope.from.to_string(), "2026-01-01 00:00:00");
        assert_eq!(scope.until.to_string(), "2027-01-01 00:00:00");
        assert_eq!(
            Period::parse("2026-1", "2026-12").unwrap_err().pointer,
            "from"
        );
        assert_eq!(
            Period::parse("2026-01-05", "2026-12").unwrap_err().pointer,
            "from"
        );
        assert_eq!(
            Period::parse("2026-13", "2026-12").unwrap_err().pointer,
            "from"
        );
        assert_eq!(
            Period::parse("2026-05", "2026-04").unwrap_err().pointer,
            "to"
        );
        assert!(Period::parse("2016-01", "2025-12").is_ok());
        assert_eq!(
            Period::parse("2016-01", "2026-01").unwrap_err().pointer,
            "to"
        );
    }
}
