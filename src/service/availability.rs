//! A coach's availability: read it, replace it, and the free slots it leaves.
//!
//! The availability is the coach's and their provider's: the coach and the provider's planners
//! read and change it; a colleague or an employer who may see the coach's profile is refused
//! (403); anyone else does not find the coach (404).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;

use crate::db::coaches::{self, Coach};
use crate::db::sessions::{self as store, AvailabilityRecord};
use crate::db::{self, DbConnection, Json};
use crate::domain::availability::{local_date, AvailabilityRules, Calendar, MAX_WINDOW_DAYS};
use crate::domain::coach::{self as coach_rules, CoachAccess, CoachVisibility};
use crate::domain::principal::Principal;
use crate::domain::session::check_duration;
use crate::domain::FieldError;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{check_version, lost_race};
use crate::service::sessions::{booked, coach_zone};
use crate::views::session::{AvailabilityView, FreeSlot, FreeSlots};

/// The coach, if the caller may plan for them: the coach themselves or the provider's planners.
pub fn planning_access(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<Coach> {
    let coach =
        coaches::find(conn, id)?.ok_or_else(|| ServiceError::NotFound("no such coach".into()))?;
    let access = CoachAccess {
        coach_organisation_id: &coach.organisation_id,
        coach_user_id: coach.user_id.as_deref(),
        active: coach.active,
        callers_provider_id: None,
    };
    match coach_rules::visibility(caller, access) {
        Some(CoachVisibility::Full) => Ok(coach),
        Some(CoachVisibility::Professional) => Err(ServiceError::Forbidden(
            "a coach's availability is for the coach and the provider's planners".into(),
        )),
        None => Err(ServiceError::NotFound("no such coach".into())),
    }
}

fn view(coach: &Coach, record: Option<AvailabilityRecord>) -> AvailabilityView {
    let (rules, version) = match record {
        Some(r) => (r.rules.0, r.version),
        None => (AvailabilityRules::default(), 0),
    };
    AvailabilityView {
        coach_id: coach.id.clone(),
        time_zone: coach.time_zone.clone(),
        rules,
        version,
    }
}

/// The coach's availability (empty, version 0, before the first save).
pub fn get(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<AvailabilityView> {
    let coach = planning_access(conn, caller, id)?;
    let record = store::find_availability(conn, &coach.id)?;
    Ok(view(&coach, record))
}

/// The coach or a planner replaces the availability; `expected_version` is `If-Match`. Sessions
/// booked already stay as they are.
#[tracing::instrument(skip_all, fields(coach_id = %id))]
pub fn replace(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    rules: AvailabilityRules,
) -> ServiceResult<AvailabilityView> {
    rules.validate()?;
    db::write(conn, |conn| {
        let coach = planning_access(conn, caller, id)?;
        let current = store::find_availability(conn, &coach.id)?.map_or(0, |r| r.version);
        check_version("availability", current, expected_version)?;
        let record = AvailabilityRecord {
            coach_id: coach.id.clone(),
            rules: Json(rules),
            version: current + 1,
            updated_at: now.naive_utc(),
        };
        if !store::save_availability(conn, &record, (current > 0).then_some(current))? {
            return Err(lost_race("availability", expected_version, current + 1));
        }
        crate::service::lifecycle::record_for_organisation(
            conn,
            now,
            caller,
            &coach.organisation_id,
            crate::domain::event::Event::AvailabilityUpdated {
                coach_id: coach.id.clone(),
            },
        )?;
        Ok(view(&coach, Some(record)))
    })
}

/// What free slots are asked for.
#[derive(Debug, Clone)]
pub struct SlotQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub duration_minutes: u32,
    /// The zone to write local times in; the coach's when absent.
    pub time_zone: Option<String>,
}

impl SlotQuery {
    /// The query's own rules, each at its parameter.
    fn validate(&self) -> Result<Option<Tz>, Vec<FieldError>> {
        let mut errors = vec![];
        if self.to <= self.from {
            errors.push(FieldError::new("to", "must be after from"));
        } else if self.to - self.from > Duration::days(MAX_WINDOW_DAYS) {
            errors.push(FieldError::new(
                "to",
                format!("must be at most {MAX_WINDOW_DAYS} days after from"),
            ));
        }
        errors.extend(check_duration("duration", self.duration_minutes));
        let zone = match &self.time_zone {
            Some(name) => match name.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(FieldError::new(
                        "time_zone",
                        "is not a known IANA time zone",
                    ));
                    None
                }
            },
            None => None,
        };
        crate::domain::input::verdict(errors).map(|()| zone)
    }
}

/// The start times in the window at which a session of the asked length fits the coach's
/// availability and calendar.
pub fn free_slots(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    query: SlotQuery,
) -> ServiceResult<FreeSlots> {
    let coach = planning_access(conn, caller, id)?;
    slots_of(conn, now, coach, query)
}

/// The free slots of `coach` for the query (for whoever may see them).
pub fn slots_of(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    coach: Coach,
    query: SlotQuery,
) -> ServiceResult<FreeSlots> {
    // A window too wide is a malformed request, not a rule of the domain (400).
    let zone = query.validate().map_err(ServiceError::BadQuery)?;
    let coach_tz = coach_zone(&coach.time_zone)?;
    let rules = store::find_availability(conn, &coach.id)?
        .map(|r| r.rules.0)
        .unwrap_or_default();
    // Sessions up to a day either side: their buffers and the local days the window touches.
    let margin = Duration::days(1);
    let booked = booked(
        conn,
        &coach.id,
        query.from - margin,
        query.to + margin,
        None,
    )?;
    let calendar = Calendar {
        rules: &rules,
        tz: coach_tz,
        booked: &booked,
        now,
    };
    let duration = Duration::minutes(i64::from(query.duration_minutes));
    let shown = zone.unwrap_or(coach_tz);
    let slots = calendar
        .free_slots(query.from, query.to, duration)
        .into_iter()
        .map(|start| FreeSlot {
            starts_at: start,
            ends_at: start + duration,
            local_start: start
                .with_timezone(&shown)
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            local_date: local_date(shown, start),
        })
        .collect();
    Ok(FreeSlots {
        coach_id: coach.id,
        time_zone: shown.name().to_string(),
        duration_minutes: query.duration_minutes,
        from: query.from,
        to: query.to,
        slots,
    })
}
