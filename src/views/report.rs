//! The outcome report (`GET /reports/outcomes`), as JSON or as CSV.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::report::Breakdown;

/// Outcomes of the orders commissioned in a period, in aggregate (002, 004). Counts below
/// `min_count` are withheld, with as many others as it takes that none can be derived.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeReport {
    /// The first month, `YYYY-MM` (orders commissioned from its first day, UTC).
    #[schema(example = "2026-01")]
    pub from: String,
    /// The last month, `YYYY-MM`, included.
    #[schema(example = "2026-12")]
    pub to: String,
    /// The one employer reported on, when the provider asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub employer_id: Option<String>,
    /// The one invitation campaign reported on, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub invitation_id: Option<String>,
    /// Counts from 1 to below this are withheld.
    pub min_count: u32,
    /// `orders_by_kind`, `orders_by_status`, `first_contact` (the same working day, 004),
    /// `intake_decisions`, `sessions` (held, no-show, cancelled late), `budget_sessions`
    /// (commissioned sessions used or not), `started_orders_by_alliance` (at risk after the first
    /// session, 004) and `follow_up_results` (did the results last, 002).
    pub breakdowns: Vec<Breakdown>,
}

impl OutcomeReport {
    /// One line per category and one per breakdown's total: `breakdown,category,count,suppressed`,
    /// CRLF-ended (RFC 4180). Every value is a plain word or number, so nothing needs quoting.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("breakdown,category,count,suppressed\r\n");
        let mut line = |breakdown: &str, category: &str, count: Option<u64>| {
            let shown = count.map(|n| n.to_string()).unwrap_or_default();
            let suppressed = count.is_none();
            csv.push_str(&format!("{breakdown},{category},{shown},{suppressed}\r\n"));
        };
        for breakdown in &self.breakdowns {
            for cell in &breakdown.cells {
                line(&breakdown.name, &cell.category, cell.count);
            }
            line(&breakdown.name, "total", breakdown.total);
        }
        csv
    }
}
