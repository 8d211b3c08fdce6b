//! Sessions as an iCalendar feed (RFC 5545), written with the `icalendar` crate.
//!
//! Each session is a `VEVENT` with a stable `UID` (the session's id), `SEQUENCE` raised on every
//! change (the session's version), `DTSTAMP` and `LAST-MODIFIED` (its last change), times in
//! UTC, and `STATUS:CANCELLED` once called off, so calendar apps remove it. A feed carries no
//! notes, no reason for coaching, no name or contact details of the coachee: only the kind,
//! format and time, and where or how to join for those who may know it.

use chrono::{DateTime, NaiveDateTime, Utc};
use icalendar::{Calendar, Component, EventLike, EventStatus, Property};

use crate::db::sessions::Session;
use crate::domain::session::{MeetingFormat, SessionKind, SessionStatus};
use crate::domain::visibility::Audience;

/// The feed's media type.
pub const CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

fn summary(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Intake => "Coaching intake",
        SessionKind::Regular => "Coaching session",
        SessionKind::Assessment => "Coaching assessment",
        SessionKind::FollowUp => "Coaching follow-up",
    }
}

fn format_words(format: MeetingFormat) -> &'static str {
    match format {
        MeetingFormat::InPerson => "in person",
        MeetingFormat::Phone => "by phone",
        MeetingFormat::Video => "by video",
    }
}

/// One calendar event: the session it shows, its `SEQUENCE`, and when it last changed.
struct Shown {
    session: Session,
    sequence: u32,
    changed_at: NaiveDateTime,
}

/// One event per calendar key: a group session's participants share the coach's time, so the
/// coach's calendar shows it once (a place that stands, if any), with the highest `SEQUENCE` of
/// its sessions and the latest change of any of them (`DTSTAMP`, `LAST-MODIFIED`), so that the
/// two rise together. A single session's key is its own id.
fn one_per_calendar_key(sessions: Vec<Session>) -> Vec<Shown> {
    let mut events: Vec<Shown> = Vec::with_capacity(sessions.len());
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    for session in sessions {
        let sequence = u32::try_from(session.version - 1).unwrap_or(0);
        let changed_at = session.updated_at;
        match index.get(&session.calendar_key) {
            Some(&at) => {
                let shown = &mut events[at];
                shown.sequence = shown.sequence.max(sequence);
                shown.changed_at = shown.changed_at.max(changed_at);
                if shown.session.status == SessionStatus::Cancelled
                    && session.status != SessionStatus::Cancelled
                {
                    shown.session = session;
                }
            }
            None => {
                index.insert(session.calendar_key.clone(), events.len());
                events.push(Shown {
                    session,
                    sequence,
                    changed_at,
                });
            }
        }
    }
    events
}

/// A calendar, and when what it shows last changed (its `Last-Modified`).
pub struct Feed {
    pub text: String,
    pub last_modified: Option<DateTime<Utc>>,
}

/// The calendar `name` of `sessions`, as `audience` may see them.
pub fn feed(name: &str, sessions: Vec<Session>, audience: Audience) -> Feed {
    let details = audience.sees_session_details();
    let mut calendar = Calendar::empty();
    calendar.append_property(Property::new("VERSION", "2.0"));
    calendar.append_property(Property::new("PRODID", "-//Trajectum//Sessions//EN"));
    calendar.append_property(Property::new("CALSCALE", "GREGORIAN"));
    calendar.name(name);
    let mut last_modified: Option<NaiveDateTime> = None;
    for shown in one_per_calendar_key(sessions) {
        let (session, changed_at) = (shown.session, shown.changed_at);
        last_modified = last_modified.max(Some(changed_at));
        let mut event = icalendar::Event::new();
        event
            .uid(&format!("{}@trajectum", session.calendar_key))
            .sequence(shown.sequence)
            .timestamp(changed_at.and_utc())
            .created(session.created_at.and_utc())
            .last_modified(changed_at.and_utc())
            .starts(session.starts_at.and_utc())
            .ends(session.ends_at.and_utc())
            .summary(summary(session.kind))
            .description(&format!(
                "{} {}.",
                summary(session.kind),
                format_words(session.format)
            ))
            .status(match session.status {
                SessionStatus::Cancelled => EventStatus::Cancelled,
                _ => EventStatus::Confirmed,
            });
        if details {
            if let Some(location) = &session.location {
                event.location(location);
            }
            if let Some(link) = &session.meeting_link {
                event.url(link);
            }
        }
        calendar.push(event.done());
    }
    Feed {
        text: calendar.done().to_string(),
        last_modified: last_modified.map(|t| t.and_utc()),
    }
}
