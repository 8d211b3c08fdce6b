//! Booking a recurring series: each occurrence by the single booking's rules, all or nothing.

use chrono::{DateTime, Utc};

use crate::db::{self, coaches, DbConnection};
use crate::domain::principal::Principal;
use crate::domain::session::{self as rules, NewSeries, SessionRefusal};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::views::session::{SeriesBooked, SeriesOccurrence, SeriesPreview, SessionView};

use super::booking::{may_book, place, scheduled};
use super::{coach_zone, lock_for_booking, not_found};

/// What booking a series came to.
#[derive(Debug)]
pub enum SeriesOutcome {
    /// `preview: true`: which occurrences fit; nothing was booked.
    Preview(SeriesPreview),
    Booked(SeriesBooked),
}

/// Why the series' transaction ends without committing.
enum Undo {
    Failed(ServiceError),
    Answer(SeriesPreview),
}

impl From<ServiceError> for Undo {
    fn from(error: ServiceError) -> Self {
        Undo::Failed(error)
    }
}

impl From<diesel::result::Error> for Undo {
    fn from(error: diesel::result::Error) -> Self {
        Undo::Failed(error.into())
    }
}

/// The coach or the planner books a recurring series: each occurrence by the same rules as a
/// single booking (earlier occurrences of the series included), all or nothing. With `preview`
/// it answers which occurrences fit, and the nearest free start for those that do not.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
pub fn book_series(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order_id: &str,
    series: NewSeries,
) -> ServiceResult<SeriesOutcome> {
    series.validate()?;
    let outcome = db::write(conn, |conn| -> Result<SeriesOutcome, Undo> {
        let visible = lock_for_booking(conn, caller, order_id)?;
        may_book(caller, &visible, series.kind)?;
        let mut order = visible.order.clone();
        let coach_id = order.coach_id.clone().ok_or_else(not_found)?;
        let coach = coaches::find(conn, &coach_id)?.ok_or_else(not_found)?;
        let tz = coach_zone(&coach.time_zone)?;
        let starts = rules::series_starts(tz, series.starts_at, series.every_weeks, series.count);
        let mut placed = vec![];
        let mut occurrences = vec![];
        for start in starts {
            let new = series.occurrence(start);
            // Each in a savepoint: one that does not fit leaves no trace, and the next is
            // checked against the ones that did.
            let occurrence = match db::write(conn, |conn| {
                place(conn, now, caller, &mut order, &new, None)
            }) {
                Ok(session) => {
                    placed.push(session);
                    SeriesOccurrence {
                        starts_at: start,
                        ends_at: new.ends_at(),
                        fits: true,
                        problem_type: None,
                        detail: None,
                        alternative: None,
                    }
                }
                Err(ServiceError::Session(refusal)) => SeriesOccurrence {
                    starts_at: start,
                    ends_at: new.ends_at(),
                    fits: false,
                    problem_type: Some(format!("urn:trajectum:problem:{}", refusal.slug())),
                    detail: Some(refusal.detail()),
                    alternative: match &refusal {
                        SessionRefusal::CoachBusy { alternatives }
                        | SessionRefusal::OutsideAvailability { alternatives, .. } => {
                            alternatives.first().copied()
                        }
                        _ => None,
                    },
                },
                Err(other) => return Err(Undo::Failed(other)),
            };
            occurrences.push(occurrence);
        }
        let fits = occurrences.iter().all(|o| o.fits);
        if series.preview || !fits {
            return Err(Undo::Answer(SeriesPreview { fits, occurrences }));
        }
        let Some((last, earlier)) = placed.split_last() else {
            return Err(Undo::Failed(ServiceError::Internal(anyhow::anyhow!(
                "a series of at least two booked nothing"
            ))));
        };
        for session in earlier {
            lifecycle::record(conn, now, caller, &order, scheduled(session))?;
        }
        let to = order.status;
        lifecycle::save(conn, now, caller, order, to, scheduled(last))?;
        Ok(SeriesOutcome::Booked(SeriesBooked {
            sessions: placed
                .into_iter()
                .map(|s| SessionView::build(s, visible.audience))
                .collect(),
        }))
    });
    match outcome {
        Ok(booked) => Ok(booked),
        Err(Undo::Answer(preview)) if series.preview => Ok(SeriesOutcome::Preview(preview)),
        Err(Undo::Answer(preview)) => Err(ServiceError::SeriesDoesNotFit(Box::new(preview))),
        Err(Undo::Failed(error)) => Err(error),
    }
}
