//! Operations from the command line: create organisations, users and API clients, and seed the
//! demo. They use the same query functions as the API.

use anyhow::{bail, Context};

use chrono::{DateTime, Utc};

use crate::auth::secrets;
use crate::clock::new_id;
use crate::db::coaches::{self, Coach};
use crate::db::identity::{self, ApiClient, Organisation, User};
use crate::db::sessions::{self, AvailabilityRecord};
use crate::db::{self, DbConnection, Json};
use crate::domain::coach::{MAX_LANGUAGES, MAX_SPECIALISMS};
use crate::domain::input;
use crate::domain::principal::{OrganisationKind, Role};
use crate::domain::FieldError;

fn check(errors: Vec<FieldError>) -> anyhow::Result<()> {
    if let Some(error) = errors.first() {
        bail!("{} {}", error.pointer.trim_start_matches('/'), error.detail);
    }
    Ok(())
}

pub struct NewOrganisation<'a> {
    pub id: Option<String>,
    pub kind: OrganisationKind,
    pub name: &'a str,
    pub time_zone: &'a str,
    pub provider_id: Option<&'a str>,
}

pub fn create_organisation(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    new: NewOrganisation<'_>,
) -> anyhow::Result<Organisation> {
    let mut errors = vec![];
    input::name("/name", new.name, &mut errors);
    input::time_zone("/time_zone", new.time_zone, &mut errors);
    check(errors)?;
    if let Some(provider) = new.provider_id {
        if new.kind != OrganisationKind::Employer {
            bail!("only an employer contracts a provider");
        }
        let found = identity::find_organisation(conn, provider)?;
        if found.map(|o| o.kind) != Some(OrganisationKind::Provider) {
            bail!("provider {provider} does not exist");
        }
    }
    let now = now.naive_utc();
    let org = Organisation {
        id: new.id.unwrap_or_else(new_id),
        kind: new.kind,
        name: new.name.trim().into(),
        time_zone: new.time_zone.into(),
        provider_id: new.provider_id.map(String::from),
        created_at: now,
        updated_at: now,
    };
    identity::insert_organisation(conn, &org)?;
    Ok(org)
}

pub struct NewUser<'a> {
    pub id: Option<String>,
    pub organisation_id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password: &'a str,
    /// For a coach: the profile's specialisms and languages.
    pub specialisms: Vec<String>,
    pub languages: Vec<String>,
    pub time_zone: Option<&'a str>,
}

/// What `create_user` made.
#[derive(Debug)]
pub struct CreatedUser {
    pub user: User,
    /// A coach's profile, linked to the login.
    pub coach: Option<Coach>,
    /// Whether the profile existed before (added through the API) and was given this login.
    pub existing_coach: bool,
}

/// Creates a user. A coach's login goes to the organisation's coach with that email if there is
/// one without a login (one coach, one person); otherwise a coach profile is created with it.
pub fn create_user(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    new: NewUser<'_>,
) -> anyhow::Result<CreatedUser> {
    let mut errors = vec![];
    input::name("/name", new.name, &mut errors);
    input::email("/email", new.email, &mut errors);
    input::slugs(
        "/specialisms",
        &new.specialisms,
        MAX_SPECIALISMS,
        &mut errors,
    );
    input::languages("/languages", &new.languages, MAX_LANGUAGES, &mut errors);
    if let Some(zone) = new.time_zone {
        input::time_zone("/time_zone", zone, &mut errors);
    }
    check(errors)?;
    if new.password.chars().count() < secrets::MIN_PASSWORD_LENGTH {
        bail!(
            "the password must be at least {} characters",
            secrets::MIN_PASSWORD_LENGTH
        );
    }
    if new.role == Role::Coachee {
        bail!("coachees sign in with a link token, not a password");
    }
    if new.role == Role::System {
        bail!("the system role is the service's own and has no users");
    }
    let org = identity::find_organisation(conn, new.organisation_id)?
        .with_context(|| format!("organisation {} does not exist", new.organisation_id))?;
    if org.kind != new.role.organisation_kind() {
        bail!(
            "a {} belongs to a {} organisation",
            new.role,
            new.role.organisation_kind().as_str()
        );
    }
    let now = now.naive_utc();
    let user = User {
        id: new.id.clone().unwrap_or_else(new_id),
        organisation_id: org.id.clone(),
        email: new.email.trim().to_lowercase(),
        name: new.name.trim().into(),
        role: new.role,
        password_hash: secrets::hash_password(new.password)?,
        active: true,
        created_at: now,
        updated_at: now,
    };
    db::write(conn, |conn| {
        if identity::find_user_by_email(conn, &user.email)?.is_some() {
            bail!("{} signs in already: a login's email is unique", user.email);
        }
        let existing = match new.role {
            Role::Coach => coaches::find_by_email(conn, &org.id, &user.email)?,
            _ => None,
        };
        if let Some(coach) = &existing {
            if coach.user_id.is_some() {
                bail!("coach {} has a login already", coach.id);
            }
        }
        identity::insert_user(conn, &user)?;
        let existing_coach = existing.is_some();
        let coach = match (new.role, existing) {
            (Role::Coach, Some(coach)) => {
                coaches::set_user(conn, &coach.id, &user.id, now)?;
                coaches::find(conn, &coach.id)?
            }
            (Role::Coach, None) => {
                let coach = Coach {
                    id: new_id(),
                    organisation_id: org.id.clone(),
                    user_id: Some(user.id.clone()),
                    name: user.name.clone(),
                    email: user.email.clone(),
                    specialisms: Json(new.specialisms),
                    languages: Json(new.languages),
                    time_zone: new.time_zone.unwrap_or(&org.time_zone).to_string(),
                    active: true,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                coaches::insert(conn, &coach)?;
                Some(coach)
            }
            _ => None,
        };
        Ok::<_, anyhow::Error>(CreatedUser {
            user: user.clone(),
            coach,
            existing_coach,
        })
    })
}

/// Creates an API client and returns it with its secret, which is shown only this once.
pub fn create_client(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    organisation_id: &str,
    name: &str,
    role: Role,
    fixed: Option<(&str, &str)>,
) -> anyhow::Result<(ApiClient, String)> {
    if !matches!(role, Role::Employer | Role::ProviderAdmin) {
        bail!("an API client acts as employer or provider_admin");
    }
    let org = identity::find_organisation(conn, organisation_id)?
        .with_context(|| format!("organisation {organisation_id} does not exist"))?;
    if org.kind != role.organisation_kind() {
        bail!(
            "a {role} client belongs to a {} organisation",
            role.organisation_kind().as_str()
        );
    }
    let (client_id, secret) = match fixed {
        Some((id, secret)) => (id.to_string(), secret.to_string()),
        None => (
            format!("trj_{}", uuid::Uuid::new_v4().simple()),
            secrets::generate_client_secret(),
        ),
    };
    let now = now.naive_utc();
    let client = ApiClient {
        id: new_id(),
        organisation_id: org.id,
        name: name.trim().into(),
        client_id,
        secret_hash: secrets::hash_client_secret(&secret),
        role,
        active: true,
        created_at: now,
        updated_at: now,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        tokens_not_before: None,
    };
    identity::insert_client(conn, &client)?;
    Ok((client, secret))
}

/// New keys for an installation, as `NAME=value` lines of an env file: a JWT secret and a notes
/// key (`trajectum keygen`).
pub fn new_keys() -> Vec<(&'static str, String)> {
    vec![
        ("TRAJECTUM_JWT_SECRET", crate::auth::jwt::generate_secret()),
        ("TRAJECTUM_NOTES_KEY", crate::vault::NotesKey::generate()),
    ]
}

/// Gives the env file at `path` each of `keys` it does not set yet: a new file is created
/// readable by its owner only; a key already there is never replaced (notes are sealed under
/// it). Returns the names added.
pub fn add_to_env_file(
    path: &std::path::Path,
    keys: Vec<(&'static str, String)>,
) -> anyhow::Result<Vec<&'static str>> {
    use std::io::Write;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let set = |name: &str| {
        existing.as_deref().is_some_and(|text| {
            text.lines().any(|line| {
                let line = line.trim_start();
                let line = line.strip_prefix("export ").unwrap_or(line);
                line.split_once('=').is_some_and(|(n, _)| n.trim() == name)
            })
        })
    };
    let missing: Vec<_> = keys.into_iter().filter(|(name, _)| !set(name)).collect();
    let mut lines = String::new();
    if existing
        .as_deref()
        .is_some_and(|t| !t.is_empty() && !t.ends_with('\n'))
    {
        lines.push('\n');
    }
    for (name, value) in &missing {
        lines.push_str(&format!("{name}={value}\n"));
    }
    match existing {
        None => crate::private_file::write_private(path, &lines)?,
        Some(_) if !missing.is_empty() => {
            std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(lines.as_bytes()))
                .with_context(|| format!("cannot write {}", path.display()))?;
            // It holds keys now.
            crate::private_file::make_private(path)?;
        }
        Some(_) => {}
    }
    Ok(missing.into_iter().map(|(name, _)| name).collect())
}

/// The demo's fixed ids and credentials, so the README's walkthrough works as written.
pub mod demo {
    use crate::domain::availability::{AvailabilityRules, Day, WeeklyHours};
    pub const EMPLOYER_ID: &str = "0192f000-0000-7000-8000-000000000001";
    pub const PROVIDER_ID: &str = "0192f000-0000-7000-8000-000000000002";
    pub const HR_EMAIL: &str = "hr@acme.example";
    pub const HR_PASSWORD: &str = "demo-hr-password";
    pub const ADMIN_EMAIL: &str = "planner@coachwise.example";
    pub const ADMIN_PASSWORD: &str = "demo-planner-password";
    pub const COACH_EMAILS: [&str; 2] = ["anna@coachwise.example", "bram@coachwise.example"];
    pub const COACH_PASSWORD: &str = "demo-coach-password";
    pub const CLIENT_ID: &str = "acme-hr-system";
    pub const CLIENT_SECRET: &str = "demo-client-secret-acme-hr-system";
    /// The `external_ref` of the demo's past trajectory ([`super::seed_demo_history`]).
    pub const HISTORY_REF: &str = "DEMO-2026-0007";

    /// The demo coaches' working hours: weekdays 09:00–12:30 and 13:30–17:00 on their own
    /// clocks, 15 minutes between sessions, booked at least 2 hours ahead, at most 6 a day.
    pub fn availability() -> AvailabilityRules {
        let days = [
            Day::Monday,
            Day::Tuesday,
            Day::Wednesday,
            Day::Thursday,
            Day::Friday,
        ];
        let hours = [("09:00", "12:30"), ("13:30", "17:00")];
        AvailabilityRules {
            weekly_hours: days
                .iter()
                .flat_map(|&day| {
                    hours.iter().map(move |(start, end)| WeeklyHours {
                        day,
                        start: start.parse().expect("a valid time"),
                        end: end.parse().expect("a valid time"),
                    })
                })
                .collect(),
            buffer_minutes: 15,
            minimum_notice_minutes: 120,
            max_sessions_per_day: Some(6),
            exceptions: vec![],
        }
    }
}

/// Seeds the demo: an employer (Acme) with an HR user and an HR-system client, contracted with a
/// provider (Coachwise) that has a planner and two coaches with different specialisms and time
/// zones. Running it again changes nothing.
pub fn seed_demo(conn: &mut DbConnection, now: DateTime<Utc>) -> anyhow::Result<bool> {
    if identity::find_organisation(conn, demo::PROVIDER_ID)?.is_some() {
        return Ok(false);
    }
    db::write(conn, |conn| {
        create_organisation(
            conn,
            now,
            NewOrganisation {
                id: Some(demo::PROVIDER_ID.into()),
                kind: OrganisationKind::Provider,
                name: "Coachwise Loopbaancoaching",
                time_zone: "Europe/Amsterdam",
                provider_id: None,
            },
        )?;
        create_organisation(
            conn,
            now,
            NewOrganisation {
                id: Some(demo::EMPLOYER_ID.into()),
                kind: OrganisationKind::Employer,
                name: "Acme Engineering",
                time_zone: "Europe/Amsterdam",
                provider_id: Some(demo::PROVIDER_ID),
            },
        )?;
        let users = [
            (
                demo::EMPLOYER_ID,
                demo::HR_EMAIL,
                "Hanna HR",
                Role::Employer,
                demo::HR_PASSWORD,
                vec![],
                vec![],
                None,
            ),
            (
                demo::PROVIDER_ID,
                demo::ADMIN_EMAIL,
                "Piet Planner",
                Role::ProviderAdmin,
                demo::ADMIN_PASSWORD,
                vec![],
                vec![],
                None,
            ),
            (
                demo::PROVIDER_ID,
                demo::COACH_EMAILS[0],
                "Anna de Vries",
                Role::Coach,
                demo::COACH_PASSWORD,
                vec![
                    "technical_background".to_string(),
                    "job_coaching".into(),
                    "reintegration".into(),
                ],
                vec!["nl".to_string(), "en".into()],
                Some("Europe/Amsterdam"),
            ),
            (
                demo::PROVIDER_ID,
                demo::COACH_EMAILS[1],
                "Bram Okafor",
                Role::Coach,
                demo::COACH_PASSWORD,
                vec![
                    "curative".to_string(),
                    "preventive".into(),
                    "management".into(),
                ],
                vec!["en".to_string(), "nl".into()],
                Some("Europe/London"),
            ),
        ];
        for (org, email, name, role, password, specialisms, languages, time_zone) in users {
            let CreatedUser { coach, .. } = create_user(
                conn,
                now,
                NewUser {
                    id: None,
                    organisation_id: org,
                    email,
                    name,
                    role,
                    password,
                    specialisms,
                    languages,
                    time_zone,
                },
            )?;
            if let Some(coach) = coach {
                sessions::save_availability(
                    conn,
                    &AvailabilityRecord {
                        coach_id: coach.id,
                        rules: Json(demo::availability()),
                        version: 1,
                        updated_at: now.naive_utc(),
                    },
                    None,
                )?;
            }
        }
        create_client(
            conn,
            now,
            demo::EMPLOYER_ID,
            "Acme HR system",
            Role::Employer,
            Some((demo::CLIENT_ID, demo::CLIENT_SECRET)),
        )?;
        Ok(true)
    })
}

/// The demo's past: a trajectory Acme commissioned 190 days ago with Anna, completed 75 days ago,
/// whose first follow-up (90 days after completion, 002) is due in 15 days, inside the 21-day
/// horizon, so the worker books it when the service starts. Made through the same use cases as
/// requests, at the times they would have happened; once (its `external_ref` marks it).
pub fn seed_demo_history(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    follow_up_horizon_days: u32,
) -> anyhow::Result<bool> {
    use crate::domain::principal::{Principal, SubjectType};
    use crate::service::{closing, intake, orders, plan};
    const REF: &str = demo::HISTORY_REF;
    if crate::db::orders::find_by_external_ref(conn, demo::EMPLOYER_ID, REF)?.is_some() {
        return Ok(false);
    }
    let mut person = |email: &str, role: Role, organisation: &str| -> anyhow::Result<Principal> {
        let user = identity::find_user_by_email(conn, email)?
            .with_context(|| format!("the demo's {email} is missing"))?;
        Ok(Principal {
            subject: user.id,
            subject_type: SubjectType::User,
            role,
            organisation_id: organisation.into(),
            order_id: None,
        })
    };
    let hr = person(demo::HR_EMAIL, Role::Employer, demo::EMPLOYER_ID)?;
    let planner = person(demo::ADMIN_EMAIL, Role::ProviderAdmin, demo::PROVIDER_ID)?;
    let anna = person(demo::COACH_EMAILS[0], Role::Coach, demo::PROVIDER_ID)?;
    let anna_coach = coaches::find_by_user(conn, &anna.subject)?.context("Anna's profile")?;
    let fail = |e: crate::service::ServiceError| anyhow::anyhow!("seeding the demo's past: {e}");
    let commissioned = now - chrono::Duration::days(190);
    let order = orders::commission(
        conn,
        commissioned,
        &hr,
        serde_json::from_value(serde_json::json!({
            "coachee": {"name": "Lotte Visser", "email": "lotte@acme.example"},
            "kind": "job_coaching", "preferred_language": "nl", "external_ref": REF
        }))?,
    )
    .map_err(fail)?;
    let id = order.id;
    let day = |n: i64| commissioned + chrono::Duration::days(n);
    orders::assign(
        conn,
        day(0),
        &planner,
        &id,
        &anna_coach.id,
        follow_up_horizon_days,
    )
    .map_err(fail)?;
    plan::replace(
        conn,
        day(3),
        &anna,
        &id,
        None,
        serde_json::from_value(serde_json::json!({
            "development_points": [{"description": "saying no to extra work in time"}],
            "goals": [{"description": "a workload agreed with the team lead",
                       "tasks": [{"description": "weekly planning talk with the team lead", "target_count": 6}]}],
            "planned_sessions": 6
        }))?,
    )
    .map_err(fail)?;
    intake::save_draft(
        conn,
        day(3),
        &anna,
        &id,
        None,
        serde_json::from_value(serde_json::json!({
            "trust_coach": true, "trust_coachee": true, "reason": "confirmed",
            "goals_realistic": true, "decision": "start", "phase_emphasis": ["self_exploration"]
        }))?,
    )
    .map_err(fail)?;
    intake::complete(conn, day(3), &anna, &id).map_err(fail)?;
    closing::replace(
        conn,
        day(110),
        &anna,
        &id,
        None,
        serde_json::from_value(serde_json::json!({
            "qualities": [{"quality": "dedication",
                           "answer": "the weekly planning talk stays, also when things are busy"}],
            "summary": "Lotte agrees her workload with her team lead every week."
        }))?,
    )
    .map_err(fail)?;
    orders::complete(
        conn,
        day(115),
        &anna,
        &id,
        Default::default(),
        follow_up_horizon_days,
    )
    .map_err(fail)?;
    Ok(true)
}
