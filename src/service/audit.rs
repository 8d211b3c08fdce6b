//! Reading the audit trail (`GET /audit`): the provider's planners read their organisation's
//! (its people's and clients' changes and reads, its coachees', and the service's own on its
//! behalf); an employer's HR users and systems read their own users' and clients' entries.

use crate::db;
use crate::db::audit::{self as store, Actor, Filter, Kind};
use crate::db::DbConnection;
use crate::domain::permission::Act;
use crate::domain::principal::{Principal, Role};
use crate::service::error::ServiceResult;
use crate::service::pagination::PageRequest;
use crate::views::audit::{AuditEntry, AuditPage};

pub fn list(
    conn: &mut DbConnection,
    caller: &Principal,
    mut filter: Filter,
    page: PageRequest,
) -> ServiceResult<AuditPage> {
    crate::service::access::require(caller, Act::ReadAuditTrail)?;
    // An employer reads its own people's and systems' entries; the provider its whole trail.
    if caller.role == Role::Employer {
        filter.actor_types = Some(vec!["user", "client"]);
    }
    let rows = store::list(
        conn,
        &caller.organisation_id,
        &filter,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |e| &e.id);
    Ok(AuditPage {
        data: rows.into_iter().map(AuditEntry::from).collect(),
        next_cursor,
    })
}

/// Records that `actor` read confidential content (an intake, a plan, notes, an export).
fn record_read(conn: &mut DbConnection, actor: &Actor) -> ServiceResult<()> {
    db::write(conn, |conn| store::insert(conn, actor, Kind::Read))?;
    Ok(())
}

/// Records that the running use case read confidential content, as the actor it runs for (when
/// it runs for one): for a use case that reads it to answer something else, e.g. what completing
/// the intake would find. Its entry is a read; the use case then records no change.
pub fn record_armed_read(conn: &mut DbConnection) -> ServiceResult<()> {
    match store::disarm() {
        Some(actor) => record_read(conn, &actor),
        None => Ok(()),
    }
}
