//! The map of personal data: every column of every table, what it holds and what erasing a
//! coachee's data does to it (DOMAIN.md "Who may see what": personal data under the GDPR, kept
//! minimal and purpose-bound, erasable when the trajectory is over). A test holds the database
//! to this map, both ways, so no column is added without a decision; erasure
//! ([`erase_order`]) follows it.
//!
//! How the decisions were made:
//! - **Overwrite, not delete, where a row carries what reports need** (kinds, dates, counts,
//!   outcomes: 002 wants to know whether it helped and lasted). `orders` keeps its row, its
//!   states and dates; `coachee_name` is NOT NULL, so it becomes `[erased]`; contact data and free
//!   text are cleared.
//! - **Keep the event rows.** They are numbered without gaps per organisation (the events feed's
//!   cursor and the webhooks' order rest on it), and their payloads carry ids, states, kinds and
//!   dates only, by design (`domain::event`): no free text, no name. The marker test proves it.
//! - **Delete rows that are content and nothing else**: an intake draft, a plan, a closing
//!   review, a session's sealed notes, the consents' record, the coachee's links and calendar
//!   feed, and every remembered `Idempotency-Key` answer that names the order (it holds the
//!   coachee's name, email and phone, and the request's hash).
//! - **Notes are deleted, not their key discarded.** They are sealed with one service-wide key.
//!   Per-order keys would reach copies in backups only if the keys lived outside the database
//!   and its backups; kept in this database, every backup holds an order's key beside its sealed
//!   notes, and discarding the live key erases no more than deleting the notes. The backup
//!   retention bounds the copies, and the service-wide key is kept apart from the backups, so a
//!   backup alone opens no notes.
//! - Staff (HR users, planners, coaches) are not erased with an order: their data lives as long
//!   as their account. Secrets are stored as digests or sealed.

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::DbConnection;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// Ids, states, kinds, dates, counts, settings: nothing about a person.
    Facts,
    /// Personal data of the coachee (name, contact data, what they or others wrote about them).
    Coachee,
    /// Confidential coaching content: what only the coach and the coachee see (intake, plan,
    /// notes, the closing review).
    Coaching,
    /// Personal data of staff: HR users, planners, coaches (their names, emails).
    Staff,
    /// A credential: stored as a digest or sealed.
    Secret,
}

/// What erasing an order's coachee data does to the column, in the rows of that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnErasure {
    /// Kept as it is.
    Keep,
    /// Set to NULL.
    Clear,
    /// Overwritten with this SQL literal (for a NOT NULL column).
    Overwrite(&'static str),
    /// The whole row is deleted.
    DeleteRow,
}

/// One column of the map.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub table: &'static str,
    pub column: &'static str,
    pub holds: Holds,
    pub on_erasure: OnErasure,
}

const fn col(
    table: &'static str,
    column: &'static str,
    holds: Holds,
    on_erasure: OnErasure,
) -> Column {
    Column {
        table,
        column,
        holds,
        on_erasure,
    }
}

use Holds::{Coachee, Coaching, Facts, Secret, Staff};
use OnErasure::{Clear, DeleteRow, Keep, Overwrite};

/// Every column of every table.
pub const MAP: &[Column] = &[
    // The organisations, their people and systems: not an order's, not erased with one.
    col("organisations", "id", Facts, Keep),
    col("organisations", "kind", Facts, Keep),
    col("organisations", "name", Facts, Keep),
    col("organisations", "time_zone", Facts, Keep),
    col("organisations", "provider_id", Facts, Keep),
    col("organisations", "created_at", Facts, Keep),
    col("organisations", "updated_at", Facts, Keep),
    col("users", "id", Facts, Keep),
    col("users", "organisation_id", Facts, Keep),
    col("users", "email", Staff, Keep),
    col("users", "name", Staff, Keep),
    col("users", "role", Facts, Keep),
    col("users", "password_hash", Secret, Keep),
    col("users", "active", Facts, Keep),
    col("users", "created_at", Facts, Keep),
    col("users", "updated_at", Facts, Keep),
    col("api_clients", "id", Facts, Keep),
    col("api_clients", "organisation_id", Facts, Keep),
    col("api_clients", "name", Facts, Keep),
    col("api_clients", "client_id", Facts, Keep),
    col("api_clients", "secret_hash", Secret, Keep),
    col("api_clients", "role", Facts, Keep),
    col("api_clients", "active", Facts, Keep),
    col("api_clients", "created_at", Facts, Keep),
    col("api_clients", "updated_at", Facts, Keep),
    col("api_clients", "previous_secret_hash", Secret, Keep),
    col("api_clients", "previous_secret_expires_at", Facts, Keep),
    col("api_clients", "tokens_not_before", Facts, Keep),
    col("refresh_tokens", "id", Facts, Keep),
    col("refresh_tokens", "family_id", Facts, Keep),
    col("refresh_tokens", "user_id", Facts, Keep),
    col("refresh_tokens", "issued_at", Facts, Keep),
    col("refresh_tokens", "expires_at", Facts, Keep),
    col("refresh_tokens", "rotated_at", Facts, Keep),
    col("refresh_tokens", "revoked_at", Facts, Keep),
    col("login_setups", "token_hash", Secret, Keep),
    col("login_setups", "user_id", Facts, Keep),
    col("login_setups", "expires_at", Facts, Keep),
    col("login_setups", "created_at", Facts, Keep),
    col("revoked_tokens", "jti", Facts, Keep),
    col("revoked_tokens", "expires_at", Facts, Keep),
    col("login_failures", "key_hash", Secret, Keep),
    col("login_failures", "failures", Facts, Keep),
    col("login_failures", "first_at", Facts, Keep),
    col("request_counts", "caller", Facts, Keep),
    col("request_counts", "window_start", Facts, Keep),
    col("request_counts", "requests", Facts, Keep),
    col("coaches", "id", Facts, Keep),
    col("coaches", "organisation_id", Facts, Keep),
    col("coaches", "user_id", Facts, Keep),
    col("coaches", "name", Staff, Keep),
    col("coaches", "email", Staff, Keep),
    col("coaches", "specialisms", Facts, Keep),
    col("coaches", "languages", Facts, Keep),
    col("coaches", "time_zone", Facts, Keep),
    col("coaches", "active", Facts, Keep),
    col("coaches", "version", Facts, Keep),
    col("coaches", "created_at", Facts, Keep),
    col("coaches", "updated_at", Facts, Keep),
    col("coach_availability", "coach_id", Facts, Keep),
    col("coach_availability", "rules", Facts, Keep),
    col("coach_availability", "version", Facts, Keep),
    col("coach_availability", "updated_at", Facts, Keep),
    col("provider_settings", "organisation_id", Facts, Keep),
    col("provider_settings", "coachee_self_service", Facts, Keep),
    col("provider_settings", "late_cancellation_hours", Facts, Keep),
    col("provider_settings", "version", Facts, Keep),
    col("provider_settings", "updated_at", Facts, Keep),
    col("follow_up_policies", "employer_id", Facts, Keep),
    col("follow_up_policies", "days", Facts, Keep),
    col("follow_up_policies", "version", Facts, Keep),
    col("follow_up_policies", "updated_at", Facts, Keep),
    col("session_groups", "id", Facts, Keep),
    col("session_groups", "coach_id", Facts, Keep),
    col("session_groups", "provider_id", Facts, Keep),
    col("session_groups", "capacity", Facts, Keep),
    col("session_groups", "created_by", Facts, Keep),
    col("session_groups", "created_at", Facts, Keep),
    // The order: its row stays for the reports, what identifies the coachee goes.
    col("orders", "id", Facts, Keep),
    col("orders", "employer_id", Facts, Keep),
    col("orders", "provider_id", Facts, Keep),
    col("orders", "status", Facts, Keep),
    col("orders", "version", Facts, Keep),
    col("orders", "coachee_name", Coachee, Overwrite("'[erased]'")),
    col("orders", "coachee_email", Coachee, Clear),
    col("orders", "coachee_phone", Coachee, Clear),
    col("orders", "kind", Facts, Keep),
    col("orders", "context", Coachee, Overwrite("'[]'")),
    col("orders", "details", Coachee, Overwrite("'{}'")),
    col("orders", "session_budget", Facts, Keep),
    col("orders", "end_date", Facts, Keep),
    // The HR system's own reference may be an employee number.
    col("orders", "external_ref", Coachee, Clear),
    col("orders", "coach_id", Facts, Keep),
    col("orders", "contact_due_at", Facts, Keep),
    col("orders", "contacted_at", Facts, Keep),
    col("orders", "contact_channel", Facts, Keep),
    col("orders", "intake_decision", Facts, Keep),
    col("orders", "completed_at", Facts, Keep),
    col("orders", "cancelled_at", Facts, Keep),
    col("orders", "cancel_reason", Coachee, Clear),
    col("orders", "created_by", Facts, Keep),
    col("orders", "created_at", Facts, Keep),
    col("orders", "updated_at", Facts, Keep),
    col("orders", "regular_sessions_planned", Facts, Keep),
    col("orders", "regular_sessions_used", Facts, Keep),
    col("orders", "alliance_risk", Facts, Keep),
    col("orders", "alliance_at_risk_at", Facts, Keep),
    col("orders", "closing_summary", Coaching, Clear),
    // Which campaign an order came from, and whether the employer sees it: facts.
    col("orders", "invitation_id", Facts, Keep),
    col("orders", "employer_sees", Facts, Keep),
    // Invitation campaigns: the employer's words to a group, counts, and the link's digest.
    col("invitations", "id", Facts, Keep),
    col("invitations", "employer_id", Facts, Keep),
    col("invitations", "title", Facts, Keep),
    col("invitations", "message", Facts, Keep),
    col("invitations", "kind", Facts, Keep),
    col("invitations", "session_budget", Facts, Keep),
    col("invitations", "max_sign_ups", Facts, Keep),
    col("invitations", "ends_on", Facts, Keep),
    col("invitations", "confidential", Facts, Keep),
    col("invitations", "token_hash", Facts, Keep),
    col("invitations", "sign_ups", Facts, Keep),
    col("invitations", "closed_at", Facts, Keep),
    col("invitations", "version", Facts, Keep),
    col("invitations", "created_by", Facts, Keep),
    col("invitations", "created_at", Facts, Keep),
    col("invitations", "updated_at", Facts, Keep),
    // Who signed up: digests of the coachee's email and phone, which recognise them in the
    // campaign. Erased with the rest of what identifies them.
    col("invitation_sign_ups", "invitation_id", Coachee, DeleteRow),
    col("invitation_sign_ups", "person_key", Coachee, DeleteRow),
    col("invitation_sign_ups", "order_id", Coachee, DeleteRow),
    col("invitation_refusals", "invitation_id", Facts, Keep),
    col("invitation_refusals", "reason", Facts, Keep),
    col("invitation_refusals", "refused", Facts, Keep),
    col("erasures", "order_id", Facts, Keep),
    col("erasures", "erased_at", Facts, Keep),
    col("erasures", "erased_by", Facts, Keep),
    // Events: ids, states, kinds and dates only (see above); kept, numbered without gaps.
    col("events", "id", Facts, Keep),
    col("events", "order_id", Facts, Keep),
    col("events", "organisation_id", Facts, Keep),
    col("events", "event_type", Facts, Keep),
    col("events", "data_version", Facts, Keep),
    col("events", "from_status", Facts, Keep),
    col("events", "to_status", Facts, Keep),
    col("events", "actor_role", Facts, Keep),
    col("events", "actor_id", Facts, Keep),
    col("events", "data", Facts, Keep),
    col("events", "occurred_at", Facts, Keep),
    col("event_log_heads", "organisation_id", Facts, Keep),
    col("event_log_heads", "last_seq", Facts, Keep),
    col("event_log", "organisation_id", Facts, Keep),
    col("event_log", "seq", Facts, Keep),
    col("event_log", "event_id", Facts, Keep),
    // Coaching content: deleted.
    col("intakes", "order_id", Coaching, DeleteRow),
    col("intakes", "draft", Coaching, DeleteRow),
    col("intakes", "version", Coaching, DeleteRow),
    col("intakes", "updated_at", Coaching, DeleteRow),
    col("intakes", "completed_at", Coaching, DeleteRow),
    col("plans", "order_id", Coaching, DeleteRow),
    col("plans", "plan", Coaching, DeleteRow),
    col("plans", "version", Coaching, DeleteRow),
    col("plans", "updated_at", Coaching, DeleteRow),
    col("closing_reviews", "order_id", Coaching, DeleteRow),
    col("closing_reviews", "review", Coaching, DeleteRow),
    col("closing_reviews", "version", Coaching, DeleteRow),
    col("closing_reviews", "updated_at", Coaching, DeleteRow),
    col("session_notes", "session_id", Coaching, DeleteRow),
    col("session_notes", "sealed", Coaching, DeleteRow),
    col("session_notes", "version", Coaching, DeleteRow),
    col("session_notes", "updated_by", Coaching, DeleteRow),
    col("session_notes", "updated_at", Coaching, DeleteRow),
    // An extension's numbers stay; its reasons are about the coachee.
    col("order_extensions", "id", Facts, Keep),
    col("order_extensions", "order_id", Facts, Keep),
    col("order_extensions", "added_sessions", Facts, Keep),
    col("order_extensions", "new_end_date", Facts, Keep),
    col(
        "order_extensions",
        "substantiation",
        Coaching,
        Overwrite("'[erased]'"),
    ),
    col(
        "order_extensions",
        "alternative_considered",
        Coaching,
        Overwrite("'[erased]'"),
    ),
    col("order_extensions", "created_by", Facts, Keep),
    col("order_extensions", "created_at", Facts, Keep),
    // The coachee's own record: consents, links, their calendar feed.
    col("consents", "id", Coachee, DeleteRow),
    col("consents", "order_id", Coachee, DeleteRow),
    col("consents", "kind", Coachee, DeleteRow),
    col("consents", "given", Coachee, DeleteRow),
    col("consents", "source", Coachee, DeleteRow),
    col("consents", "recorded_at", Coachee, DeleteRow),
    col("coachee_links", "id", Coachee, DeleteRow),
    col("coachee_links", "order_id", Coachee, DeleteRow),
    col("coachee_links", "issued_by", Coachee, DeleteRow),
    col("coachee_links", "issued_at", Coachee, DeleteRow),
    col("coachee_links", "expires_at", Coachee, DeleteRow),
    col("coachee_links", "revoked_at", Coachee, DeleteRow),
    col("calendar_feeds", "id", Secret, DeleteRow),
    col("calendar_feeds", "coach_id", Secret, DeleteRow),
    col("calendar_feeds", "order_id", Secret, DeleteRow),
    col("calendar_feeds", "token_hash", Secret, DeleteRow),
    col("calendar_feeds", "created_by", Secret, DeleteRow),
    col("calendar_feeds", "created_at", Secret, DeleteRow),
    col("calendar_feeds", "revoked_at", Secret, DeleteRow),
    // Remembered answers to keyed requests: the coachee's name, email and phone in the body,
    // the request's hash; keyed without the order, found by the order's id in the answer.
    col("idempotency_keys", "subject", Coachee, DeleteRow),
    col("idempotency_keys", "idem_key", Coachee, DeleteRow),
    col("idempotency_keys", "request_hash", Coachee, DeleteRow),
    col("idempotency_keys", "status", Coachee, DeleteRow),
    col("idempotency_keys", "response_body", Coachee, DeleteRow),
    col("idempotency_keys", "headers", Coachee, DeleteRow),
    col("idempotency_keys", "created_at", Coachee, DeleteRow),
    // Sessions: when, how and what happened stay; what was said goes.
    col("sessions", "id", Facts, Keep),
    col("sessions", "order_id", Facts, Keep),
    col("sessions", "coach_id", Facts, Keep),
    col("sessions", "provider_id", Facts, Keep),
    col("sessions", "group_id", Facts, Keep),
    col("sessions", "calendar_key", Facts, Keep),
    col("sessions", "kind", Facts, Keep),
    col("sessions", "format", Facts, Keep),
    col("sessions", "location", Coachee, Clear),
    col("sessions", "meeting_link", Coachee, Clear),
    col("sessions", "starts_at", Facts, Keep),
    col("sessions", "ends_at", Facts, Keep),
    col("sessions", "blocked_until", Facts, Keep),
    col("sessions", "outside_hours", Facts, Keep),
    col("sessions", "status", Facts, Keep),
    col("sessions", "counts_against_budget", Facts, Keep),
    col("sessions", "cancelled_at", Facts, Keep),
    col("sessions", "cancelled_by", Facts, Keep),
    col("sessions", "cancelled_by_role", Facts, Keep),
    col("sessions", "requested_by", Facts, Keep),
    col("sessions", "cancel_reason", Coachee, Clear),
    col("sessions", "attendance_at", Facts, Keep),
    col("sessions", "rating", Facts, Keep),
    col("sessions", "rating_comment", Coachee, Clear),
    col("sessions", "rated_at", Facts, Keep),
    col("sessions", "version", Facts, Keep),
    col("sessions", "booked_by", Facts, Keep),
    col("sessions", "booked_by_role", Facts, Keep),
    col("sessions", "created_at", Facts, Keep),
    col("sessions", "updated_at", Facts, Keep),
    // Follow-ups: whether the results lasted stays (002); the words go.
    col("follow_ups", "id", Facts, Keep),
    col("follow_ups", "order_id", Facts, Keep),
    col("follow_ups", "provider_id", Facts, Keep),
    col("follow_ups", "number", Facts, Keep),
    col("follow_ups", "due_on", Facts, Keep),
    col("follow_ups", "status", Facts, Keep),
    col("follow_ups", "session_id", Facts, Keep),
    col("follow_ups", "flag", Facts, Keep),
    col("follow_ups", "skip_reason", Coachee, Clear),
    col("follow_ups", "results", Facts, Keep),
    col("follow_ups", "outcome_note", Coaching, Clear),
    col("follow_ups", "outcome_at", Facts, Keep),
    col("follow_ups", "version", Facts, Keep),
    col("follow_ups", "created_at", Facts, Keep),
    col("follow_ups", "updated_at", Facts, Keep),
    // The job queue: payloads are ids (`domain::job`); its errors are the service's own words.
    col("jobs", "id", Facts, Keep),
    col("jobs", "kind", Facts, Keep),
    col("jobs", "dedupe_key", Facts, Keep),
    col("jobs", "organisation_id", Facts, Keep),
    col("jobs", "payload", Facts, Keep),
    col("jobs", "status", Facts, Keep),
    col("jobs", "run_at", Facts, Keep),
    col("jobs", "attempts", Facts, Keep),
    col("jobs", "max_attempts", Facts, Keep),
    col("jobs", "leased_until", Facts, Keep),
    col("jobs", "leased_by", Facts, Keep),
    col("jobs", "last_error", Facts, Keep),
    col("jobs", "created_at", Facts, Keep),
    col("jobs", "updated_at", Facts, Keep),
    col("jobs", "finished_at", Facts, Keep),
    // Webhooks: the outbox stores no bodies (they are built from the events when sent); a
    // receiver's answer could echo anything, so the answers to the order's events go.
    col("webhooks", "id", Facts, Keep),
    col("webhooks", "organisation_id", Facts, Keep),
    col("webhooks", "url", Facts, Keep),
    col("webhooks", "description", Facts, Keep),
    col("webhooks", "event_types", Facts, Keep),
    col("webhooks", "secret", Secret, Keep),
    col("webhooks", "previous_secret", Secret, Keep),
    col("webhooks", "previous_until", Facts, Keep),
    col("webhooks", "enabled", Facts, Keep),
    col("webhooks", "disabled_reason", Facts, Keep),
    col("webhooks", "disabled_detail", Facts, Keep),
    col("webhooks", "disabled_at", Facts, Keep),
    col("webhooks", "version", Facts, Keep),
    col("webhooks", "created_at", Facts, Keep),
    col("webhooks", "updated_at", Facts, Keep),
    col("webhook_deliveries", "id", Facts, Keep),
    col("webhook_deliveries", "webhook_id", Facts, Keep),
    col("webhook_deliveries", "event_id", Facts, Keep),
    col("webhook_deliveries", "event_type", Facts, Keep),
    col("webhook_deliveries", "position", Facts, Keep),
    col("webhook_deliveries", "status", Facts, Keep),
    col("webhook_deliveries", "attempts", Facts, Keep),
    col("webhook_deliveries", "next_attempt_at", Facts, Keep),
    col("webhook_deliveries", "failing_since", Facts, Keep),
    col("webhook_deliveries", "last_status_code", Facts, Keep),
    col("webhook_deliveries", "last_error", Facts, Keep),
    col("webhook_deliveries", "delivered_at", Facts, Keep),
    col("webhook_deliveries", "created_at", Facts, Keep),
    col("webhook_deliveries", "updated_at", Facts, Keep),
    col("webhook_attempts", "id", Facts, Keep),
    col("webhook_attempts", "delivery_id", Facts, Keep),
    col("webhook_attempts", "attempted_at", Facts, Keep),
    col("webhook_attempts", "status_code", Facts, Keep),
    col("webhook_attempts", "error", Facts, Keep),
    col("webhook_attempts", "response_body", Coachee, Clear),
    col("webhook_attempts", "duration_ms", Facts, Keep),
    col("webhook_attempts", "next_attempt_at", Facts, Keep),
    // The audit trail: ids and operations only, never content; append-only.
    col("audit_log", "id", Facts, Keep),
    col("audit_log", "organisation_id", Facts, Keep),
    col("audit_log", "at", Facts, Keep),
    col("audit_log", "request_id", Facts, Keep),
    col("audit_log", "actor_role", Facts, Keep),
    col("audit_log", "actor_type", Facts, Keep),
    col("audit_log", "actor_id", Facts, Keep),
    col("audit_log", "action", Facts, Keep),
    col("audit_log", "resource_id", Facts, Keep),
    col("audit_log", "kind", Facts, Keep),
];

/// The rows of a table that belong to one order (`{order}` is its id's placeholder), for the
/// tables erasure touches.
fn rows_of_order(table: &str) -> Option<&'static str> {
    Some(match table {
        "orders" => "id = {order}",
        "intakes"
        | "plans"
        | "closing_reviews"
        | "order_extensions"
        | "consents"
        | "coachee_links"
        | "calendar_feeds"
        | "sessions"
        | "follow_ups"
        | "invitation_sign_ups" => "order_id = {order}",
        "session_notes" => "session_id IN (SELECT id FROM sessions WHERE order_id = {order})",
        // Keyed without the order: every remembered answer that names it.
        "idempotency_keys" => "response_body LIKE '%' || {order} || '%'",
        "webhook_attempts" => {
            "delivery_id IN (SELECT d.id FROM webhook_deliveries d \
             JOIN events e ON e.id = d.event_id WHERE e.order_id = {order})"
        }
        _ => return None,
    })
}

/// The statements that erase one order's coachee data, as the map says: per table, one DELETE
/// or one UPDATE of the columns it clears or overwrites. `{order}` stands for the order's id.
pub fn erasure_statements() -> Vec<String> {
    let mut tables: Vec<&str> = MAP.iter().map(|c| c.table).collect();
    tables.dedup();
    let mut statements = vec![];
    // Children first: notes before their sessions.
    tables.sort_by_key(|t| (*t != "session_notes", *t != "webhook_attempts"));
    for table in tables {
        let columns: Vec<&Column> = MAP.iter().filter(|c| c.table == table).collect();
        let touched: Vec<&&Column> = columns
            .iter()
            .filter(|c| c.on_erasure != OnErasure::Keep)
            .collect();
        if touched.is_empty() {
            continue;
        }
        let scope = rows_of_order(table)
            .unwrap_or_else(|| panic!("the map erases in {table}, which no order's rows are in"));
        if touched.iter().any(|c| c.on_erasure == OnErasure::DeleteRow) {
            assert!(
                columns.iter().all(|c| c.on_erasure == OnErasure::DeleteRow),
                "{table}: a deleted row's every column is deleted"
            );
            statements.push(format!("DELETE FROM {table} WHERE {scope}"));
            continue;
        }
        let assignments: Vec<String> = touched
            .iter()
            .map(|c| match c.on_erasure {
                OnErasure::Clear => format!("{} = NULL", c.column),
                OnErasure::Overwrite(value) => format!("{} = {value}", c.column),
                OnErasure::Keep | OnErasure::DeleteRow => unreachable!(),
            })
            .collect();
        statements.push(format!(
            "UPDATE {table} SET {} WHERE {scope}",
            assignments.join(", ")
        ));
    }
    statements
}

/// Erases the coachee data of order `order_id` in every table, as the map says.
pub fn erase_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<()> {
    for statement in erasure_statements() {
        match conn {
            DbConnection::Postgres(c) => {
                diesel::sql_query(statement.replace("{order}", "$1"))
                    .bind::<Text, _>(order_id)
                    .execute(c)?;
            }
            DbConnection::Sqlite(c) => {
                diesel::sql_query(statement.replace("{order}", "?"))
                    .bind::<Text, _>(order_id)
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// The tables an order's export reads, in this order: everything held about its coachee. Not
/// the technical copies (remembered `Idempotency-Key` answers, webhook receivers' answers) and
/// never a secret column.
const EXPORTED: &[&str] = &[
    "orders",
    "consents",
    "intakes",
    "plans",
    "order_extensions",
    "sessions",
    "session_notes",
    "closing_reviews",
    "follow_ups",
    "coachee_links",
    "events",
];

/// An order's rows of one exported table, each a JSON object of its columns (minus secrets;
/// a column whose text is a JSON document is embedded as one).
pub type ExportedRows = Vec<serde_json::Map<String, serde_json::Value>>;

/// Everything held about the coachee of order `order_id`, table by table, as the map lists the
/// columns.
pub fn export_order(
    conn: &mut DbConnection,
    order_id: &str,
) -> QueryResult<Vec<(&'static str, ExportedRows)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        row: String,
    }
    let mut tables = vec![];
    for table in EXPORTED {
        let columns: Vec<&str> = MAP
            .iter()
            .filter(|c| c.table == *table && c.holds != Holds::Secret)
            .map(|c| c.column)
            .collect();
        let scope = if *table == "events" {
            "order_id = {order}"
        } else {
            rows_of_order(table).expect("an exported table is an order's")
        };
        let pairs = |cast: &str| {
            columns
                .iter()
                .map(|c| format!("'{c}', {c}{cast}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rows: Vec<Row> = match conn {
            DbConnection::Postgres(c) => diesel::sql_query(format!(
                "SELECT json_build_object({})::text AS row FROM {table} WHERE {}",
                pairs(""),
                scope.replace("{order}", "$1")
            ))
            .bind::<Text, _>(order_id)
            .load(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(format!(
                "SELECT json_object({}) AS row FROM {table} WHERE {}",
                pairs(""),
                scope.replace("{order}", "?")
            ))
            .bind::<Text, _>(order_id)
            .load(c)?,
        };
        let kinds = column_kinds(conn, table)?;
        let rows = rows
            .into_iter()
            .filter_map(|r| match serde_json::from_str(&r.row) {
                Ok(serde_json::Value::Object(mut object)) => {
                    for (column, value) in object.iter_mut() {
                        // The same document from either backend: booleans as booleans (SQLite
                        // has 0 and 1), instants as the API writes them (RFC 3339 in UTC).
                        match kinds.get(column.as_str()) {
                            Some(ColumnKind::Boolean) => {
                                if let Some(number) = value.as_i64() {
                                    *value = serde_json::Value::Bool(number != 0);
                                }
                                continue;
                            }
                            Some(ColumnKind::Timestamp) => {
                                if let Some(at) = value.as_str().and_then(stored_instant) {
                                    *value = serde_json::to_value(at.and_utc())
                                        .unwrap_or(serde_json::Value::Null);
                                }
                                continue;
                            }
                            None => {}
                        }
                        if let Some(text) = value.as_str() {
                            if let Ok(
                                inner
                                @ (serde_json::Value::Object(_) | serde_json::Value::Array(_)),
                            ) = serde_json::from_str(text)
                            {
                                *value = inner;
                            }
                        }
                    }
                    Some(object)
                }
                _ => None,
            })
            .collect();
        tables.push((*table, rows));
    }
    Ok(tables)
}

/// What a column's values are, where the backends write them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Boolean,
    Timestamp,
}

/// The boolean and timestamp columns of `table`, by their declared types.
fn column_kinds(
    conn: &mut DbConnection,
    table: &str,
) -> QueryResult<std::collections::HashMap<String, ColumnKind>> {
    #[derive(QueryableByName)]
    struct Declared {
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Text)]
        declared: String,
    }
    let declared: Vec<Declared> = match conn {
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT column_name::text AS column_name, data_type::text AS declared              FROM information_schema.columns              WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind::<Text, _>(table)
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT name AS column_name, type AS declared FROM pragma_table_info(?)",
        )
        .bind::<Text, _>(table)
        .load(c)?,
    };
    Ok(declared
        .into_iter()
        .filter_map(|d| {
            let declared = d.declared.to_ascii_lowercase();
            let kind = if declared == "boolean" {
                ColumnKind::Boolean
            } else if declared.starts_with("timestamp") {
                ColumnKind::Timestamp
            } else {
                return None;
            };
            Some((d.column_name, kind))
        })
        .collect())
}

/// An instant as a backend's JSON writes a `TIMESTAMP` column (`T` or a space between date and
/// time, a fraction or none).
fn stored_instant(text: &str) -> Option<chrono::NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .into_iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
}

/// The tables and columns the database has, to hold it to the map.
pub fn columns_in_database(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
    }
    let found: Vec<Found> = match conn {
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
    };
    Ok(found
        .into_iter()
        .map(|f| (f.table_name, f.column_name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_mapped_once() {
        let mut seen = std::collections::HashSet::new();
        for c in MAP {
            assert!(
                seen.insert((c.table, c.column)),
                "{}.{} twice",
                c.table,
                c.column
            );
        }
    }

    #[test]
    fn content_and_the_coachees_data_never_stay_as_they_were() {
        for c in MAP {
            if matches!(c.holds, Holds::Coachee | Holds::Coaching) {
                assert_ne!(c.on_erasure, OnErasure::Keep, "{}.{}", c.table, c.column);
            }
        }
    }

    #[test]
    fn erasure_is_one_statement_per_table_it_touches() {
        let statements = erasure_statements();
        assert!(statements.contains(&"DELETE FROM plans WHERE order_id = {order}".to_string()));
        assert!(statements
            .iter()
            .any(|s| s.starts_with("UPDATE orders SET coachee_name = '[erased]'")));
        let notes = statements
            .iter()
            .position(|s| s.contains("FROM session_notes"));
        let sessions = statements
            .iter()
            .position(|s| s.starts_with("UPDATE sessions"));
        assert!(
            notes < sessions,
            "notes go before their sessions are touched"
        );
    }
}
