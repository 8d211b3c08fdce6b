//! The coach's private notes on a session. Only the assigned coach reads and writes them: the
//! provider's planners do not (API.md), nor the employer or the coachee. They are sealed before
//! they are stored (`crate::vault`), and appear in no other response, event or log.

use chrono::{DateTime, Utc};

use crate::db::sessions::{self as store, NotesRecord};
use crate::db::{self, DbConnection};
use crate::domain::principal::Principal;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{check_version, lost_race};
use crate::vault::{NotesKeys, VaultError};

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 20_000;

/// The coach's notes on a session.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NotesView {
    #[schema(format = Uuid)]
    pub session_id: String,
    /// Empty before the first save.
    pub text: String,
    /// Also the `ETag`; 0 before the first save.
    pub version: i32,
}

/// New text for the notes.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotesInput {
    /// Up to 20,000 characters; empty clears them.
    #[schema(max_length = 20000)]
    pub text: String,
}

/// The session, if the caller is its order's coach: anyone else who sees the order is refused
/// (403), anyone who does not gets "not found".
fn coachs_session(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<store::Session> {
    let (session, visible) = super::sessions::load(conn, caller, id)?;
    // The order's coach now, and the coach who held the session: a coach who takes an order over
    // does not read their predecessor's notes.
    if !visible.audience.sees_private_note()
        || !super::sessions::is_sessions_coach(conn, caller, &session)?
    {
        return Err(ServiceError::Forbidden(
            "a session's notes are for the coach who holds it only".into(),
        ));
    }
    Ok(session)
}

fn open(key: &NotesKeys, record: &NotesRecord) -> ServiceResult<String> {
    key.open(&record.session_id, &record.sealed)
        .map_err(|e| ServiceError::Internal(anyhow::Error::new(e).context("session notes")))
}

/// The notes, for the session's coach.
pub fn get(
    conn: &mut DbConnection,
    caller: &Principal,
    key: &NotesKeys,
    id: &str,
) -> ServiceResult<NotesView> {
    let session = coachs_session(conn, caller, id)?;
    Ok(match store::find_notes(conn, &session.id)? {
        Some(record) => NotesView {
            text: open(key, &record)?,
            session_id: record.session_id,
            version: record.version,
        },
        None => NotesView {
            session_id: session.id,
            text: String::new(),
            version: 0,
        },
    })
}

/// The session's coach replaces the notes; `expected_version` is `If-Match`.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub fn replace(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    key: &NotesKeys,
    id: &str,
    expected_version: Option<i32>,
    input: NotesInput,
) -> ServiceResult<NotesView> {
    if input.text.chars().count() > MAX_NOTE_CHARS {
        return Err(ServiceError::invalid(
            "/text",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    db::write(conn, |conn| {
        let session = coachs_session(conn, caller, id)?;
        let current = store::find_notes(conn, &session.id)?.map_or(0, |r| r.version);
        check_version("notes", current, expected_version)?;
        let record = NotesRecord {
            sealed: key.seal(&session.id, &input.text),
            session_id: session.id,
            version: current + 1,
            updated_by: caller.subject.clone(),
            updated_at: now.naive_utc(),
        };
        if !store::save_notes(conn, &record, (current > 0).then_some(current))? {
            return Err(lost_race("notes", expected_version, current + 1));
        }
        Ok(NotesView {
            session_id: record.session_id,
            text: input.text,
            version: record.version,
        })
    })
}

/// What resealing the notes did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Notes now sealed under the current key that were not before.
    pub resealed: usize,
    /// Sessions whose notes are sealed under a key that is not configured: they stay as they are.
    pub unknown_key: Vec<String>,
    /// Sessions whose notes do not open under the key they name (altered, or moved from another
    /// session): they stay as they are.
    pub corrupt: Vec<String>,
}

/// Seals every note that is sealed under a retired key again under the current one (after a key
/// rotation, `trajectum admin reseal-notes`), a batch per transaction. A note a coach saves
/// meanwhile is sealed under the current key already and is left alone.
pub fn reseal_all(conn: &mut DbConnection, keys: &NotesKeys) -> ServiceResult<Resealed> {
    const BATCH: i64 = 200;
    let current = format!("v1.{}.", keys.current_id());
    let mut outcome = Resealed::default();
    let mut after = String::new();
    loop {
        let batch = store::notes_sealed_otherwise(conn, &current, &after, BATCH)?;
        let Some((last, _)) = batch.last() else {
            return Ok(outcome);
        };
        after = last.clone();
        db::write(conn, |conn| {
            for (session_id, sealed) in &batch {
                match keys.reseal(session_id, sealed) {
                    Ok(Some(resealed)) => {
                        if store::reseal_note(conn, session_id, sealed, &resealed)? {
                            outcome.resealed += 1;
                        }
                    }
                    Ok(None) => {}
                    Err(VaultError::UnknownKey(_)) => outcome.unknown_key.push(session_id.clone()),
                    Err(VaultError::Corrupt) => outcome.corrupt.push(session_id.clone()),
                }
            }
            Ok::<_, ServiceError>(())
        })?;
    }
}
