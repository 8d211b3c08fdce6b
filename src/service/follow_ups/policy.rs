//! The employer's follow-up policy: when its orders' follow-ups are due (002).

use super::*;

fn employers_only(caller: &Principal) -> ServiceResult<()> {
    crate::service::access::require(caller, Act::SetFollowUpPolicy)?;
    Ok(())
}

/// The follow-up days of the employer's orders: its policy, or the default (002).
pub fn days_of(conn: &mut DbConnection, employer_id: &str) -> ServiceResult<Vec<u32>> {
    Ok(store::find_policy(conn, employer_id)?
        .map_or_else(|| FollowUpPolicy::default().days, |p| p.days.0))
}

/// The employer's follow-up policy.
pub fn policy(conn: &mut DbConnection, caller: &Principal) -> ServiceResult<FollowUpPolicyView> {
    employers_only(caller)?;
    let record = store::find_policy(conn, &caller.organisation_id)?;
    Ok(FollowUpPolicyView {
        version: record.as_ref().map_or(0, |r| r.version),
        days: record.map_or_else(|| FollowUpPolicy::default().days, |r| r.days.0),
    })
}

/// The employer sets its follow-up policy (orders completed from then on follow it);
/// `expected_version` is `If-Match`.
pub fn set_policy(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    expected_version: Option<i32>,
    policy: FollowUpPolicy,
) -> ServiceResult<FollowUpPolicyView> {
    employers_only(caller)?;
    policy.validate()?;
    db::write(conn, |conn| {
        let current = store::find_policy(conn, &caller.organisation_id)?.map_or(0, |r| r.version);
        lifecycle::check_version("follow-up policy", current, expected_version)?;
        let record = PolicyRecord {
            employer_id: caller.organisation_id.clone(),
            days: Json(policy.days.clone()),
            version: current + 1,
            updated_at: now.naive_utc(),
        };
        if !store::save_policy(conn, &record, (current > 0).then_some(current))? {
            return Err(lifecycle::lost_race(
                "follow-up policy",
                expected_version,
                current + 1,
            ));
        }
        lifecycle::record_for_organisation(
            conn,
            now,
            caller,
            &caller.organisation_id,
            Event::FollowUpPolicyUpdated {
                days: policy.days.clone(),
            },
        )?;
        Ok(FollowUpPolicyView {
            days: policy.days,
            version: record.version,
        })
    })
}

// ----- Planned when the trajectory completes -----
