//! What the employer commissions (DOMAIN.md step 1): who the trajectory is for, why, what it
//! hopes for and what it pays for, with the defaults that apply when it does not say.
//!
//! Signing up must be nearly effortless: a name and a way to reach the person is enough to start;
//! the rest can follow (004). Typically a trajectory is about 8 sessions over about 6 months
//! (002); these are defaults, not limits.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::input::{self, MAX_TEXT};
use crate::domain::order::{OrderDetails, ReasonSource, SessionFormat, TrajectoryKind};
use crate::domain::FieldError;

/// Sessions ordered when the employer does not say (002).
pub const DEFAULT_SESSIONS: u32 = 8;
/// Months a trajectory runs when the employer does not say (002).
pub const DEFAULT_MONTHS: u32 = 6;
/// The most sessions one order (or one extension) pays for.
pub const MAX_SESSIONS: u32 = 50;
/// Context tags on one order.
pub const MAX_CONTEXT: usize = 20;

/// The end of a trajectory that starts on `start` and runs the usual length (002).
pub fn default_end(start: NaiveDate) -> NaiveDate {
    start
        .checked_add_months(Months::new(DEFAULT_MONTHS))
        .unwrap_or(start)
}

/// The person the trajectory is for. A name and a way to reach them is enough (004).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Coachee {
    #[schema(example = "Sam de Boer")]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "sam.deboer@acme.example")]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(example = "+31 6 1234 5678")]
    #[schema(pattern = r"^[0-9 +().-]{6,30}$")]
    pub phone: Option<String>,
}

impl Coachee {
    /// Names and addresses as stored: trimmed, the email in lower case.
    fn normalised(self) -> Coachee {
        Coachee {
            name: self.name.trim().to_string(),
            email: self.email.map(|e| e.trim().to_lowercase()),
            phone: self.phone.map(|p| p.trim().to_string()),
        }
    }

    /// Someone who signs up must get a person on the phone that day (004): without an email or
    /// a phone number nobody can reach them.
    pub fn is_reachable(&self) -> bool {
        self.email.is_some() || self.phone.is_some()
    }
}

/// A new order. Only `coachee` is required.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub coachee: Coachee,
    pub job_title: Option<String>,
    pub department: Option<String>,
    /// The employee's id in your HR system.
    pub employee_ref: Option<String>,
    /// Why the trajectory is ordered.
    pub reason: Option<String>,
    pub reason_source: Option<ReasonSource>,
    /// What you hope the trajectory achieves.
    pub hoped_goals: Option<String>,
    pub kind: Option<TrajectoryKind>,
    /// Context tags for the coach match, e.g. `technical_background`.
    #[serde(default)]
    pub context: Vec<String>,
    pub preferred_format: Option<SessionFormat>,
    /// ISO 639-1 code.
    #[schema(pattern = "^[a-z]{2}$")]
    pub preferred_language: Option<String>,
    pub desired_start: Option<NaiveDate>,
    /// Sessions paid for (default 8; the intake is free and not counted).
    #[schema(minimum = 1, maximum = 50)]
    pub session_budget: Option<u32>,
    /// Default: the start plus 6 months.
    pub end_date: Option<NaiveDate>,
    #[serde(default)]
    pub assessment_wanted: bool,
    /// Your reference, unique among your orders: a second order with it is a 409 naming the first.
    #[schema(min_length = 1, max_length = 100)]
    pub external_ref: Option<String>,
    pub purchase_order: Option<String>,
}

/// Changes to an order while nothing has started; absent (or null) fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderChanges {
    pub coachee: Option<CoacheeChanges>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub employee_ref: Option<String>,
    pub reason: Option<String>,
    pub reason_source: Option<ReasonSource>,
    pub hoped_goals: Option<String>,
    pub kind: Option<TrajectoryKind>,
    pub context: Option<Vec<String>>,
    pub preferred_format: Option<SessionFormat>,
    #[schema(pattern = "^[a-z]{2}$")]
    pub preferred_language: Option<String>,
    pub desired_start: Option<NaiveDate>,
    #[schema(minimum = 1, maximum = 50)]
    pub session_budget: Option<u32>,
    pub end_date: Option<NaiveDate>,
    pub assessment_wanted: Option<bool>,
    #[schema(min_length = 1, max_length = 100)]
    pub external_ref: Option<String>,
    pub purchase_order: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoacheeChanges {
    pub name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(pattern = r"^[0-9 +().-]{6,30}$")]
    pub phone: Option<String>,
}

/// The part of an order the employer decides, as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commission {
    pub coachee: Coachee,
    pub kind: Option<TrajectoryKind>,
    pub context: Vec<String>,
    pub details: OrderDetails,
    pub session_budget: u32,
    pub end_date: NaiveDate,
    pub external_ref: Option<String>,
}

fn check_coachee(
    name: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(name) = name {
        input::name("/coachee/name", name, errors);
    }
    if let Some(email) = email {
        input::email("/coachee/email", email, errors);
    }
    if let Some(phone) = phone {
        input::phone("/coachee/phone", phone, errors);
    }
}

fn check_details(details: &OrderDetails, errors: &mut Vec<FieldError>) {
    let text = |pointer, value: &Option<String>, max, errors: &mut Vec<FieldError>| {
        input::optional_text(pointer, value.as_deref(), max, errors)
    };
    text("/job_title", &details.job_title, 200, errors);
    text("/department", &details.department, 200, errors);
    text("/employee_ref", &details.employee_ref, 100, errors);
    text("/reason", &details.reason, MAX_TEXT, errors);
    text("/hoped_goals", &details.hoped_goals, MAX_TEXT, errors);
    text("/purchase_order", &details.purchase_order, 100, errors);
    if let Some(language) = &details.preferred_language {
        input::language("/preferred_language", language, errors);
    }
}

fn check_terms(
    context: Option<&[String]>,
    budget: Option<u32>,
    external_ref: Option<&str>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(context) = context {
        input::slugs("/context", context, MAX_CONTEXT, errors);
    }
    if budget.is_some_and(|b| !(1..=MAX_SESSIONS).contains(&b)) {
        errors.push(FieldError::new(
            "/session_budget",
            format!("must be between 1 and {MAX_SESSIONS}"),
        ));
    }
    input::optional_text("/external_ref", external_ref, 100, errors);
}

fn check_dates(start: Option<NaiveDate>, end: NaiveDate, errors: &mut Vec<FieldError>) {
    if start.is_some_and(|start| end < start) {
        errors.push(FieldError::new("/end_date", "must not be before the start"));
    }
}

impl NewOrder {
    /// The commission this order makes, with the defaults filled in (8 sessions, the start plus 6
    /// months, 002), or every field that is wrong. `today` is the start when none is desired.
    pub fn commission(self, today: NaiveDate) -> Result<Commission, Vec<FieldError>> {
        let mut errors = vec![];
        check_coachee(
            Some(&self.coachee.name),
            self.coachee.email.as_deref(),
            self.coachee.phone.as_deref(),
            &mut errors,
        );
        if !self.coachee.is_reachable() {
            errors.push(FieldError::new(
                "/coachee",
                "needs an email or a phone number to reach the coachee",
            ));
        }
        let details = OrderDetails {
            job_title: self.job_title,
            department: self.department,
            employee_ref: self.employee_ref,
            reason: self.reason,
            reason_source: self.reason_source,
            hoped_goals: self.hoped_goals,
            preferred_format: self.preferred_format,
            preferred_language: self.preferred_language,
            desired_start: self.desired_start,
            assessment_wanted: self.assessment_wanted,
            purchase_order: self.purchase_order,
            preferred_call_time: None,
        };
        check_details(&details, &mut errors);
        check_terms(
            Some(&self.context),
            self.session_budget,
            self.external_ref.as_deref(),
            &mut errors,
        );
        let start = details.desired_start.unwrap_or(today);
        let end_date = self.end_date.unwrap_or_else(|| default_end(start));
        check_dates(Some(start), end_date, &mut errors);
        input::verdict(errors)?;
        Ok(Commission {
            coachee: self.coachee.normalised(),
            kind: self.kind,
            context: self.context,
            details,
            session_budget: self.session_budget.unwrap_or(DEFAULT_SESSIONS),
            end_date,
            external_ref: self.external_ref,
        })
    }
}

impl OrderChanges {
    /// The external reference this change sets, if any (it must stay unique per employer).
    pub fn external_ref(&self) -> Option<&str> {
        self.external_ref.as_deref()
    }

    /// Applies the changes to `commission`, or says every field that is wrong (and changes
    /// nothing).
    pub fn apply(self, commission: &mut Commission) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        if let Some(c) = &self.coachee {
            check_coachee(
                c.name.as_deref(),
                c.email.as_deref(),
                c.phone.as_deref(),
                &mut errors,
            );
        }
        check_terms(
            self.context.as_deref(),
            self.session_budget,
            self.external_ref.as_deref(),
            &mut errors,
        );
        let mut changed = commission.clone();
        let details = &mut changed.details;
        macro_rules! set {
            ($($field:ident),+) => {$(
                if let Some(v) = self.$field { details.$field = Some(v); }
            )+};
        }
        set!(
            job_title,
            department,
            employee_ref,
            reason,
            reason_source,
            hoped_goals,
            preferred_format,
            preferred_language,
            desired_start,
            purchase_order
        );
        if let Some(v) = self.assessment_wanted {
            details.assessment_wanted = v;
        }
        check_details(details, &mut errors);
        if let Some(c) = self.coachee {
            let coachee = Coachee {
                name: c.name.unwrap_or(changed.coachee.name),
                email: c.email.or(changed.coachee.email),
                phone: c.phone.or(changed.coachee.phone),
            };
            changed.coachee = coachee.normalised();
        }
        if let Some(kind) = self.kind {
            changed.kind = Some(kind);
        }
        if let Some(context) = self.context {
            changed.context = context;
        }
        if let Some(budget) = self.session_budget {
            changed.session_budget = budget;
        }
        if let Some(end) = self.end_date {
            changed.end_date = end;
        }
        if let Some(external_ref) = self.external_ref {
            changed.external_ref = Some(external_ref);
        }
        check_dates(changed.details.desired_start, changed.end_date, &mut errors);
        input::verdict(errors)?;
        *commission = changed;
        Ok(())
    }
}

/// Cancelling an order: by the employer or the provider, from any state before `completed`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancelRequest)]
pub struct Cancellation {
    /// Why; shown to the employer and the provider.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

impl Cancellation {
    /// The reason as kept, or what is wrong with it.
    pub fn reason(&self) -> Result<String, Vec<FieldError>> {
        let mut errors = vec![];
        input::required_text("/reason", &self.reason, MAX_TEXT, &mut errors);
        input::verdict(errors)?;
        Ok(self.reason.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn order(coachee: serde_json::Value) -> NewOrder {
        serde_json::from_value(serde_json::json!({ "coachee": coachee })).unwrap()
    }

    fn pointers(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.pointer).collect()
    }

    #[test]
    fn a_name_and_a_way_to_reach_the_person_are_enough_004() {
        let commission = order(serde_json::json!({"name": " Sam ", "email": "Sam@Acme.Example"}))
            .commission(today())
            .unwrap();
        assert_eq!(commission.coachee.name, "Sam");
        assert_eq!(
            commission.coachee.email.as_deref(),
            Some("sam@acme.example")
        );
        let by_phone = order(serde_json::json!({"name": "Sam", "phone": "+31 6 1234 5678"}));
        assert!(by_phone.commission(today()).is_ok());
    }

    #[test]
    fn a_coachee_nobody_can_reach_is_refused_004() {
        let errors = order(serde_json::json!({"name": "Sam"}))
            .commission(today())
            .unwrap_err();
        assert_eq!(pointers(errors), ["/coachee"]);
    }

    #[test]
    fn eight_sessions_over_six_months_by_default_002() {
        let commission = order(serde_json::json!({"name": "Sam", "email": "s@a.example"}))
            .commission(today())
            .unwrap();
        assert_eq!(commission.session_budget, DEFAULT_SESSIONS);
        assert_eq!(
            commission.end_date,
            NaiveDate::from_ymd_opt(2027, 5, 24).unwrap()
        );
    }

    #[test]
    fn the_end_runs_from_the_desired_start_and_not_before_it() {
        let mut new = order(serde_json::json!({"name": "Sam", "email": "s@a.example"}));
        new.desired_start = NaiveDate::from_ymd_opt(2027, 1, 10);
        assert_eq!(
            new.clone().commission(today()).unwrap().end_date,
            NaiveDate::from_ymd_opt(2027, 7, 10).unwrap()
        );
        new.end_date = NaiveDate::from_ymd_opt(2027, 1, 9);
        assert_eq!(
            pointers(new.commission(today()).unwrap_err()),
            ["/end_date"]
        );
    }

    #[test]
    fn every_wrong_field_is_named() {
        let mut new = order(serde_json::json!({"name": "", "email": "nope", "phone": "12"}));
        new.session_budget = Some(0);
        new.context = vec!["Not A Slug".into()];
        new.preferred_language = Some("dutch".into());
        assert_eq!(
            pointers(new.commission(today()).unwrap_err()),
            [
                "/coachee/name",
                "/coachee/email",
                "/coachee/phone",
                "/preferred_language",
                "/context/0",
                "/session_budget"
            ]
        );
    }

    #[test]
    fn changes_apply_all_or_nothing() {
        let mut commission = order(serde_json::json!({"name": "Sam", "email": "s@a.example"}))
            .commission(today())
            .unwrap();
        let before = commission.clone();
        let bad = OrderChanges {
            job_title: Some("Team lead".into()),
            session_budget: Some(99),
            ..Default::default()
        };
        assert_eq!(
            pointers(bad.apply(&mut commission).unwrap_err()),
            ["/session_budget"]
        );
        assert_eq!(commission, before, "a refused change changes nothing");
        let good = OrderChanges {
            job_title: Some("Team lead".into()),
            coachee: Some(CoacheeChanges {
                phone: Some("+31 6 1234 5678".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        good.apply(&mut commission).unwrap();
        assert_eq!(commission.details.job_title.as_deref(), Some("Team lead"));
        assert_eq!(commission.coachee.email.as_deref(), Some("s@a.example"));
        assert_eq!(commission.coachee.phone.as_deref(), Some("+31 6 1234 5678"));
    }

    #[test]
    fn a_cancellation_says_why() {
        let blank = Cancellation {
            reason: "  ".into(),
        };
        assert_eq!(pointers(blank.reason().unwrap_err()), ["/reason"]);
        let why = Cancellation {
            reason: " budget withdrawn ".into(),
        };
        assert_eq!(why.reason().unwrap(), "budget withdrawn");
    }
}
