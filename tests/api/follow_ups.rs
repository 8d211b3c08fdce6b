//! Follow-ups (issue 17, 002): planned when the trajectory completes, booked by the worker when
//! their due date comes within the horizon (through the booking core a planner's request runs),
//! flagged when they cannot be, and their outcome reported; the order closes after the last. The
//! clock is moved months ahead and the queue drained as the worker drains it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, first_pointer, Backend};
use crate::scene::Scene;

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// A follow-up booking job of the demo provider with no follow-up in its payload, due at
/// `run_at`: every attempt of it fails.
fn broken_job(
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max_attempts: i32,
) -> trajectum::db::jobs::Job {
    let mut job = trajectum::service::jobs::new_job(
        trajectum::domain::job::JobKind::BookFollowUp,
        "broken",
        Some(trajectum::admin::demo::PROVIDER_ID),
        json!({}),
        run_at,
        now,
    );
    job.max_attempts = max_attempts;
    job
}

async fn follow_ups(s: &Scene, order: &str, token: &str) -> Vec<Value> {
    let page: Value = s
        .app
        .get(&Scene::path(order, "/follow-ups"), token)
        .await
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

/// Moves the clock to `to` (forward) and signs everyone in again.
async fn move_to(s: &mut Scene, to: DateTime<Utc>) {
    let by = to - s.app.now();
    s.advance(by).await;
}

fn availability_path(s: &Scene) -> String {
    format!("/api/v1/coaches/{}/availability", s.anna_coach_id)
}

/// From completion on 27 January 2027 through both follow-ups to closed: the first booked by the
/// worker at 09:00 on Anna's clock on its due date, across the change to summer time (07:00
/// UTC); the second flagged when Anna has no hours, moved by the planner, booked; each outcome
/// reported to the employer, its note only with the coachee's consent; closed after the last.
async fn an_order_runs_from_completion_through_its_follow_ups_to_closed_002(backend: Backend) {
    let mut s = Scene::new(backend).await;
    s.app.clock.set(at(2027, 1, 27, 9, 0));
    s.advance(Duration::zero()).await;
    let order = s.active().await;
    let video = json!({
        "starts_at": "2027-02-03T09:00:00Z", "duration_minutes": 60, "kind": "regular",
        "format": "video", "meeting_link": "https://meet.example/anna-sam"
    });
    let booked = s
        .app
        .post_json(&Scene::path(&order, "/sessions"), &s.anna, &video)
        .await;
    assert_eq!(booked.status(), 201);
    let budget_before = s.order(&order, &s.hr).await["sessions"].clone();

    let done = s.complete(&order, &json!({})).await;
    assert_eq!(done["status"], "following_up");
    let planned = follow_ups(&s, &order, &s.hr).await;
    let due: Vec<&str> = planned
        .iter()
        .map(|f| f["due_on"].as_str().unwrap())
        .collect();
    assert_eq!(due, ["2027-04-27", "2027-07-26"], "90 and 180 days (002)");
    assert!(planned.iter().all(|f| f["status"] == "pending"));
    // Nothing is due yet: the worker books nothing (the first-session check runs, finding none).
    s.app.run_jobs().await;
    assert!(follow_ups(&s, &order, &s.hr)
        .await
        .iter()
        .all(|f| f["status"] == "pending"));

    // 21 days before its due date the first is booked: 09:00 on Anna's clock, now summer time.
    move_to(&mut s, at(2027, 4, 6, 1, 0)).await;
    assert!(s.app.run_jobs().await >= 1);
    let first = &follow_ups(&s, &order, &s.planner).await[0];
    assert_eq!(first["status"], "scheduled");
    assert_eq!(first["session"]["starts_at"], "2027-04-27T07:00:00Z");
    let session_id = first["session"]["id"].as_str().unwrap().to_string();
    let session: Value = s
        .app
        .get(&format!("/api/v1/sessions/{session_id}"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            session["kind"].as_str(),
            session["format"].as_str(),
            session["meeting_link"].as_str()
        ),
        (
            Some("follow_up"),
            Some("video"),
            Some("https://meet.example/anna-sam")
        ),
        "held as the latest regular session was"
    );
    assert_eq!(session["counts_against_budget"], false);
    assert_eq!(
        s.order(&order, &s.hr).await["sessions"],
        budget_before,
        "outside the budget"
    );
    // Running the queue again books nothing twice.
    let version = first["version"].clone();
    s.app.run_jobs().await;
    assert_eq!(
        follow_ups(&s, &order, &s.planner).await[0]["version"],
        version
    );
    let timeline = s.timeline_types(&order, &s.planner).await;
    let tail = &timeline[timeline.len() - 2..];
    assert_eq!(tail, ["session.scheduled", "follow_up.scheduled"]);

    // Its outcome, after the session: reported to the employer, the note only with consent.
    let outcome = format!(
        "/api/v1/follow-ups/{}/outcome",
        first["id"].as_str().unwrap()
    );
    let body = json!({"results": "partly", "note": "back at work, asks for help in time"});
    let early = assert_problem(s.app.post_json(&outcome, &s.anna, &body).await, 409).await;
    assert_eq!(early["type"], "urn:trajectum:problem:follow-up-not-ready");
    move_to(&mut s, at(2027, 4, 27, 8, 30)).await;
    assert_problem(s.app.post_json(&outcome, &s.planner, &body).await, 403).await;
    let recorded = s.app.post_json(&outcome, &s.anna, &body).await;
    assert_eq!(recorded.status(), 200);
    let seen_by_hr = &follow_ups(&s, &order, &s.hr).await[0];
    assert_eq!(seen_by_hr["results"], "partly");
    assert!(seen_by_hr.get("note").is_none(), "{seen_by_hr}");
    assert!(s.order(&order, &s.hr).await["shared_summary"].is_null());

    // The second: Anna has no hours at all in its horizon, so the worker flags it.
    let hours = s.app.get(&availability_path(&s), &s.anna).await;
    let hours: Value = hours.json().await.unwrap();
    let closed = json!({"weekly_hours": []});
    let response = s
        .app
        .request(Method::PUT, &availability_path(&s), Some(&s.anna))
        .json(&closed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    move_to(&mut s, at(2027, 7, 5, 1, 0)).await;
    s.app.run_jobs().await;
    let second = follow_ups(&s, &order, &s.planner).await[1].clone();
    assert_eq!(
        (second["status"].as_str(), second["flag"].as_str()),
        (Some("flagged"), Some("no_slot"))
    );
    assert!(follow_ups(&s, &order, &s.hr).await[1].get("flag").is_none());
    let flagged: Value = s
        .app
        .get("/api/v1/follow-ups?status=flagged", &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flagged["data"][0]["id"], second["id"]);
    // Hours back, the planner moves it a week on; the worker books it.
    let restored = json!({
        "weekly_hours": hours["weekly_hours"], "buffer_minutes": hours["buffer_minutes"],
        "minimum_notice_minutes": hours["minimum_notice_minutes"],
        "max_sessions_per_day": hours["max_sessions_per_day"], "exceptions": []
    });
    let response = s
        .app
        .request(Method::PUT, &availability_path(&s), Some(&s.anna))
        .json(&restored)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let path = format!("/api/v1/follow-ups/{}", second["id"].as_str().unwrap());
    let past = s
        .app
        .patch_json(&path, &s.planner, &json!({"due_on": "2027-01-01"}))
        .await;
    assert_eq!(first_pointer(&assert_problem(past, 422).await), "/due_on");
    let moved = s
        .app
        .patch_json(&path, &s.planner, &json!({"due_on": "2027-08-02"}))
        .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(
        (moved["status"].as_str(), moved["due_on"].as_str()),
        (Some("pending"), Some("2027-08-02"))
    );
    // Booked again 21 days before its new date.
    s.app.run_jobs().await;
    assert_eq!(
        follow_ups(&s, &order, &s.planner).await[1]["status"],
        "pending"
    );
    move_to(&mut s, at(2027, 7, 12, 1, 0)).await;
    s.app.run_jobs().await;
    let second = follow_ups(&s, &order, &s.planner).await[1].clone();
    assert_eq!(second["status"], "scheduled");
    assert_eq!(second["session"]["starts_at"], "2027-08-02T07:00:00Z");

    // The coachee shares a summary: the employer reads the notes and the closing summary.
    let coachee = s.coachee_token(&order).await;
    let shared = s
        .put(
            "/api/v1/coachee/consents",
            &coachee,
            &json!({"share_summary": true}),
        )
        .await;
    assert_eq!(shared.status(), 200);
    assert_eq!(
        follow_ups(&s, &order, &s.hr).await[0]["note"],
        "back at work, asks for help in time"
    );
    let view = s.order(&order, &s.hr).await;
    assert_eq!(
        view["shared_summary"]["closing_summary"],
        "back at work three days a week, with a plan for the pitfalls"
    );

    // The last outcome closes the order.
    move_to(&mut s, at(2027, 8, 2, 9, 0)).await;
    let outcome = format!(
        "/api/v1/follow-ups/{}/outcome",
        second["id"].as_str().unwrap()
    );
    let recorded = s
        .app
        .post_json(&outcome, &s.anna, &json!({"results": "lasted"}))
        .await;
    assert_eq!(recorded.status(), 200);
    assert_eq!(s.order(&order, &s.hr).await["status"], "closed");
    let timeline = s.timeline_types(&order, &s.hr).await;
    assert_eq!(timeline.last().unwrap(), "order.closed");
    let again = s
        .app
        .post_json(&outcome, &s.anna, &json!({"results": "lasted"}))
        .await;
    assert_problem(again, 409).await;
}

/// An employer's policy decides the follow-ups of its orders; an order may name its own; none
/// at all closes the order when it completes.
async fn the_employers_policy_or_the_orders_own_days_decide_002(backend: Backend) {
    let s = Scene::new(backend).await;
    let policy: Value = s
        .app
        .get("/api/v1/follow-up-policy", &s.hr)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (policy["days"].clone(), policy["version"].as_i64()),
        (json!([90, 180]), Some(0))
    );
    assert_problem(s.app.get("/api/v1/follow-up-policy", &s.planner).await, 403).await;
    let wrong = s
        .put(
            "/api/v1/follow-up-policy",
            &s.hr,
            &json!({"days": [60, 30]}),
        )
        .await;
    assert_eq!(first_pointer(&assert_problem(wrong, 422).await), "/days/1");
    let set = s
        .put("/api/v1/follow-up-policy", &s.hr, &json!({"days": [60]}))
        .await;
    assert_eq!(set.status(), 200);

    let by_policy = s.active().await;
    s.complete(&by_policy, &json!({})).await;
    assert_eq!(follow_ups(&s, &by_policy, &s.hr).await.len(), 1);
    let own = s.active().await;
    s.complete(&own, &json!({"follow_up_days": [30, 120]}))
        .await;
    assert_eq!(follow_ups(&s, &own, &s.hr).await.len(), 2);
    let none = s.active().await;
    let closed = s.complete(&none, &json!({"follow_up_days": []})).await;
    assert_eq!(closed["status"], "closed");
    let timeline = s.timeline_types(&none, &s.hr).await;
    assert_eq!(timeline.last().unwrap(), "order.closed");
    // Skipping the only follow-up settles it: the order closes.
    let one = follow_ups(&s, &by_policy, &s.planner).await[0].clone();
    let path = format!("/api/v1/follow-ups/{}", one["id"].as_str().unwrap());
    let no_reason = s
        .app
        .patch_json(&path, &s.anna, &json!({"skip": true}))
        .await;
    assert_eq!(
        first_pointer(&assert_problem(no_reason, 422).await),
        "/reason"
    );
    let skipped = s
        .app
        .patch_json(
            &path,
            &s.anna,
            &json!({"skip": true, "reason": "the coachee moved abroad"}),
        )
        .await;
    assert_eq!(skipped.status(), 200);
    assert_eq!(s.order(&by_policy, &s.hr).await["status"], "closed");
    let seen_by_hr = &follow_ups(&s, &by_policy, &s.hr).await[0];
    assert_eq!(seen_by_hr["status"], "skipped");
    assert!(
        seen_by_hr.get("skip_reason").is_none(),
        "the reason is the provider's"
    );
}

/// Two workers over the same due jobs at once, on one database: every follow-up is booked once,
/// each job done once, and neither fails (no deadlock).
async fn two_workers_book_each_follow_up_once(backend: Backend) {
    let s = Scene::new(backend).await;
    let mut orders = vec![];
    for _ in 0..12 {
        let order = s.active().await;
        s.complete(&order, &json!({"follow_up_days": [14]})).await;
        orders.push(order);
    }
    let workers = (0..2)
        .map(|_| trajectum::worker::Worker::new(s.app.clock.clone(), s.app.worker_settings(3)));
    let ran = run_at_once(&s.app, workers.collect()).await;
    assert!(ran >= 12, "{ran}");
    let (sessions, jobs) = s
        .app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::{jobs, sessions};
            let sessions: i64 = sessions::table
                .filter(sessions::kind.eq("follow_up"))
                .count()
                .get_result(conn)?;
            let jobs: Vec<(String, i32)> = jobs::table
                .filter(jobs::kind.eq("follow_up.book"))
                .select((jobs::status, jobs::attempts))
                .load(conn)?;
            Ok((sessions, jobs))
        })
        .await;
    assert_eq!(sessions, 12, "one session per follow-up");
    assert_eq!(jobs.len(), 12);
    assert!(
        jobs.iter()
            .all(|(status, attempts)| status == "done" && *attempts == 1),
        "{jobs:?}"
    );
    for order in &orders {
        let booked = follow_ups(&s, order, &s.planner).await;
        assert_eq!(booked[0]["status"], "scheduled");
    }
}

/// A job that fails in the middle of a claimed batch of bookings fails alone: every other job is
/// done once, with its effect once and one audit entry, and the failing one waits for its next
/// attempt with its reason.
async fn a_job_failing_among_others_fails_alone(backend: Backend) {
    let s = Scene::new(backend).await;
    for _ in 0..4 {
        let order = s.active().await;
        s.complete(&order, &json!({"follow_up_days": [14]})).await;
    }
    let now = s.app.now();
    // The batch is claimed by `run_at`: the bookings due 10, 9, 8 and 7 minutes ago, and the
    // broken job between the second and the third, so that it fails in the middle of them.
    s.app
        .blocking(move |conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::jobs;
            let ids: Vec<String> = jobs::table
                .filter(jobs::kind.eq("follow_up.book"))
                .order(jobs::id.asc())
                .select(jobs::id)
                .load(conn)?;
            for (i, id) in ids.iter().enumerate() {
                let due = now - Duration::minutes(10 - i as i64);
                diesel::update(jobs::table.find(id))
                    .set(jobs::run_at.eq(due.naive_utc()))
                    .execute(conn)?;
            }
            let broken = broken_job(now - Duration::seconds(8 * 60 + 30), now, 3);
            trajectum::db::jobs::enqueue(conn, &broken)?;
            Ok(())
        })
        .await;
    assert_eq!(
        s.app.run_jobs().await,
        7,
        "the four bookings, the broken job, the periodic check and erasure"
    );
    let (sessions, jobs, entries) = s
        .app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::{audit_log, jobs, sessions};
            let sessions: i64 = sessions::table
                .filter(sessions::kind.eq("follow_up"))
                .count()
                .get_result(conn)?;
            let jobs: Vec<(String, String, i32, Option<String>, String)> = jobs::table
                .filter(jobs::kind.eq("follow_up.book"))
                .order(jobs::run_at.asc())
                .select((
                    jobs::dedupe_key,
                    jobs::status,
                    jobs::attempts,
                    jobs::last_error,
                    jobs::id,
                ))
                .load(conn)?;
            let entries: Vec<Option<String>> = audit_log::table
                .filter(audit_log::action.eq("job follow_up.book"))
                .select(audit_log::resource_id)
                .load(conn)?;
            Ok((sessions, jobs, entries))
        })
        .await;
    assert_eq!(sessions, 4, "each follow-up booked once");
    assert_eq!(jobs.len(), 5);
    let (broken, done): (Vec<_>, Vec<_>) = jobs.iter().partition(|job| job.0 == "broken");
    let broken = broken[0];
    assert_eq!(
        (broken.1.as_str(), broken.2),
        ("queued", 1),
        "tried once, waiting"
    );
    assert!(broken.3.is_some(), "its reason is kept");
    for job in &done {
        assert_eq!(
            (job.1.as_str(), job.2, job.3.as_deref()),
            ("done", 1, None),
            "{job:?}"
        );
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.as_deref() == Some(job.4.as_str()))
                .count(),
            1,
            "one audit entry for {job:?}"
        );
    }
    assert_eq!(
        entries.len(),
        4,
        "no entry for the failed attempt's rolled-back work"
    );
}

/// Tasks for the worker's own tests: each counts its runs per key, and its effect is a row (a
/// done job of kind `test.effect`) that commits or rolls back with it; it fails when its
/// payload says so. They lock nothing, so they may share a transaction.
mod recorded {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use chrono::{DateTime, Duration, Utc};
    use serde_json::json;
    use trajectum::db::jobs::Job;
    use trajectum::db::DbConnection;
    use trajectum::service::error::{ServiceError, ServiceResult};

    /// Counts its runs per key; its effect is a row (a done job of kind `test.effect`) that
    /// commits or rolls back with it.
    #[derive(Debug, Default)]
    pub struct Recorder(pub Mutex<HashMap<String, u32>>);

    pub fn row(kind: &str, key: &str, fail: bool, at: DateTime<Utc>, status: &str) -> Job {
        Job {
            id: trajectum::clock::new_id(),
            kind: kind.into(),
            dedupe_key: key.into(),
            organisation_id: None,
            payload: trajectum::db::Json(json!({ "fail": fail })),
            status: status.into(),
            run_at: at.naive_utc(),
            attempts: 0,
            max_attempts: 3,
            leased_until: None,
            leased_by: None,
            last_error: None,
            created_at: at.naive_utc(),
            updated_at: at.naive_utc(),
            finished_at: None,
        }
    }

    impl trajectum::worker::Tasks for Recorder {
        fn kinds(&self) -> Vec<&'static str> {
            vec!["test.record"]
        }
        fn period(&self, _: &str) -> Option<Duration> {
            None
        }
        fn shares(&self, _: &str) -> bool {
            true
        }
        fn run(&self, conn: &mut DbConnection, now: DateTime<Utc>, job: &Job) -> ServiceResult<()> {
            *self
                .0
                .lock()
                .unwrap()
                .entry(job.dedupe_key.clone())
                .or_default() += 1;
            let effect = row("test.effect", &job.dedupe_key, false, now, "done");
            trajectum::db::jobs::enqueue_once(conn, &effect)?;
            if job.payload.0["fail"] == true {
                return Err(ServiceError::Internal(anyhow::anyhow!("told to fail")));
            }
            Ok(())
        }
    }
}

/// Jobs that lock nothing share a transaction: one failing in the middle rolls it back whole
/// (what the jobs before it did is undone), then those run again together and it alone, so that
/// each other job's effect happens once, and the failing one has none.
async fn jobs_sharing_a_transaction_fail_alone(backend: Backend) {
    use std::collections::HashMap;
    use std::sync::Arc;

    let s = Scene::new(backend).await;
    let now = s.app.now();
    s.app
        .blocking(move |conn| {
            for (i, key) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
                let due = now - Duration::minutes(10 - i as i64);
                trajectum::db::jobs::enqueue(
                    conn,
                    &recorded::row("test.record", key, key == "c", due, "queued"),
                )?;
            }
            Ok(())
        })
        .await;
    let recorder = Arc::new(recorded::Recorder::default());
    let worker = trajectum::worker::Worker::with_tasks(
        s.app.clock.clone(),
        s.app.worker_settings(10),
        recorder.clone(),
    );
    let ran = s.app.blocking(move |conn| Ok(worker.run_due(conn)?)).await;
    assert_eq!(ran, 5);
    let runs = recorder.0.lock().unwrap().clone();
    let expected: HashMap<String, u32> = [("a", 2), ("b", 2), ("c", 2), ("d", 1), ("e", 1)]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    assert_eq!(
        runs, expected,
        "a, b and c together (rolled back), a and b again, c alone, d and e together"
    );
    let (effects, jobs) = s
        .app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::jobs;
            let effects: Vec<String> = jobs::table
                .filter(jobs::kind.eq("test.effect"))
                .order(jobs::dedupe_key.asc())
                .select(jobs::dedupe_key)
                .load(conn)?;
            let jobs: Vec<(String, String, i32, Option<String>)> = jobs::table
                .filter(jobs::kind.eq("test.record"))
                .order(jobs::dedupe_key.asc())
                .select((
                    jobs::dedupe_key,
                    jobs::status,
                    jobs::attempts,
                    jobs::last_error,
                ))
                .load(conn)?;
            Ok((effects, jobs))
        })
        .await;
    assert_eq!(
        effects,
        ["a", "b", "d", "e"],
        "each effect once, none of the failed job"
    );
    for (key, status, attempts, error) in &jobs {
        assert_eq!(*attempts, 1, "{key}: one attempt");
        if key == "c" {
            assert_ne!(status, "done");
            assert!(
                error.as_deref().is_some_and(|e| e.contains("told to fail")),
                "{error:?}"
            );
        } else {
            assert_eq!((status.as_str(), error), ("done", &None), "{key}");
        }
    }
}

/// Two workers at once over jobs that share transactions: their claims never overlap (`FOR
/// UPDATE SKIP LOCKED` in one statement on PostgreSQL, the write lock on SQLite), and their
/// shared transactions complete only the jobs each holds, so every job runs once, with its
/// effect once, and neither worker fails.
async fn two_workers_sharing_transactions_run_each_job_once(backend: Backend) {
    use std::sync::Arc;
    const JOBS: usize = 60;
    let s = Scene::new(backend).await;
    let now = s.app.now();
    s.app
        .blocking(move |conn| {
            for i in 0..JOBS {
                let key = format!("k{i:03}");
                let row = recorded::row("test.record", &key, false, now, "queued");
                trajectum::db::jobs::enqueue(conn, &row)?;
            }
            Ok(())
        })
        .await;
    let recorder = Arc::new(recorded::Recorder::default());
    let workers = (0..2).map(|_| {
        trajectum::worker::Worker::with_tasks(
            s.app.clock.clone(),
            s.app.worker_settings(7),
            recorder.clone(),
        )
    });
    let ran = run_at_once(&s.app, workers.collect()).await;
    assert_eq!(ran, JOBS, "each job ran by one worker");
    let runs = recorder.0.lock().unwrap().clone();
    assert_eq!(runs.len(), JOBS);
    assert!(runs.values().all(|n| *n == 1), "{runs:?}");
    let (effects, done) = s
        .app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::jobs;
            let effects: i64 = jobs::table
                .filter(jobs::kind.eq("test.effect"))
                .count()
                .get_result(conn)?;
            let done: i64 = jobs::table
                .filter(jobs::kind.eq("test.record"))
                .filter(jobs::status.eq("done"))
                .filter(jobs::attempts.eq(1))
                .count()
                .get_result(conn)?;
            Ok((effects, done))
        })
        .await;
    assert_eq!((effects, done), (JOBS as i64, JOBS as i64));
}

/// Runs the workers' due jobs at once, each on a thread and a connection of its own: how many
/// jobs they ran in all.
async fn run_at_once(
    app: &crate::helpers::TestApp,
    workers: Vec<trajectum::worker::Worker>,
) -> usize {
    let running: Vec<_> = workers
        .into_iter()
        .map(|worker| {
            let pool = app.pool.clone();
            actix_web::rt::task::spawn_blocking(move || {
                let mut conn = pool.get().unwrap();
                worker.run_due(&mut conn).map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut ran = 0;
    for worker in running {
        ran += worker.await.unwrap().expect("a worker's rounds succeed");
    }
    ran
}

api_test!(
    jobs_sharing_a_transaction_fail_alone,
    two_workers_sharing_transactions_run_each_job_once,
    an_order_runs_from_completion_through_its_follow_ups_to_closed_002,
    the_employers_policy_or_the_orders_own_days_decide_002,
    two_workers_book_each_follow_up_once,
    a_job_failing_among_others_fails_alone,
);

/// A worker process killed with SIGKILL in the middle of a batch: the jobs it held wait for their
/// lease to run out, another worker takes them, and in the end every follow-up is booked once. A
/// worker stopped with SIGTERM finishes what it holds and exits cleanly.
async fn a_killed_worker_leaves_nothing_undone_and_nothing_twice(backend: Backend) {
    const FOLLOW_UPS: i64 = 40;
    let s = Scene::new(backend).await;
    for _ in 0..FOLLOW_UPS {
        let order = s.active().await;
        s.complete(&order, &json!({"follow_up_days": [14]})).await;
    }
    let count = |sql_status: &'static str| {
        let s = &s;
        async move {
            s.app
                .blocking(move |conn| {
                    use diesel::prelude::*;
                    use trajectum::db::schema::jobs;
                    Ok(jobs::table
                        .filter(jobs::kind.eq("follow_up.book"))
                        .filter(jobs::status.eq(sql_status))
                        .count()
                        .get_result::<i64>(conn)?)
                })
                .await
        }
    };
    let held = || {
        let s = &s;
        async move {
            s.app
                .blocking(|conn| {
                    use diesel::prelude::*;
                    use trajectum::db::schema::jobs;
                    let now = chrono::Utc::now().naive_utc();
                    Ok(jobs::table
                        .filter(jobs::status.eq("queued"))
                        .filter(jobs::leased_until.gt(now))
                        .count()
                        .get_result::<i64>(conn)?)
                })
                .await
        }
    };
    let worker = || {
        let mut command = crate::binary::trajectum(&s.app.db);
        command
            .env("TRAJECTUM_WORKER_LEASE_SECONDS", "2")
            .env("TRAJECTUM_WORKER_BATCH", FOLLOW_UPS.to_string())
            .env("TRAJECTUM_WORKER_POLL_MILLISECONDS", "50")
            .arg("worker")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_until = |what: &'static str, limit: std::time::Duration| {
        let started = std::time::Instant::now();
        move || {
            assert!(started.elapsed() < limit, "{what} in {limit:?}");
        }
    };

    let mut first = worker();
    let deadline = wait_until("some jobs done", std::time::Duration::from_secs(60));
    while count("done").await < 3 {
        deadline();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Mid-batch: the worker claimed every job in one batch and has done a few.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        held().await >= 1,
        "the killed worker held jobs it had not finished"
    );
    let done_at_kill = count("done").await;
    assert!(
        done_at_kill < FOLLOW_UPS,
        "killed mid-way: {done_at_kill} done"
    );

    let mut second = worker();
    let deadline = wait_until("every job done", std::time::Duration::from_secs(120));
    while count("done").await < FOLLOW_UPS {
        deadline();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(
        second.wait().unwrap().success(),
        "a worker stops cleanly on SIGTERM"
    );

    let (sessions, booked, parked) = s
        .app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::{follow_ups, jobs, sessions};
            let sessions: i64 = sessions::table
                .filter(sessions::kind.eq("follow_up"))
                .count()
                .get_result(conn)?;
            let booked: i64 = follow_ups::table
                .filter(follow_ups::status.eq("scheduled"))
                .count()
                .get_result(conn)?;
            let parked: i64 = jobs::table
                .filter(jobs::status.eq("parked"))
                .count()
                .get_result(conn)?;
            Ok((sessions, booked, parked))
        })
        .await;
    assert_eq!((sessions, booked, parked), (FOLLOW_UPS, FOLLOW_UPS, 0));
}

api_test!(a_killed_worker_leaves_nothing_undone_and_nothing_twice);

/// A job that keeps failing is tried again after a wait, then parked after its last attempt,
/// with its reason, for the provider's planners (and no one else) to see and retry; `/metrics`
/// counts it.
async fn a_job_that_keeps_failing_is_parked_for_the_planners(backend: Backend) {
    let s = Scene::new(backend).await;
    let now = s.app.now();
    s.app
        .blocking(move |conn| {
            trajectum::db::jobs::enqueue(conn, &broken_job(now, now, 2))?;
            Ok(())
        })
        .await;
    assert_eq!(
        s.app.run_jobs().await,
        3,
        "the broken job, and the periodic check and erasure"
    );
    let metrics = || {
        let s = &s;
        async move {
            reqwest::get(s.app.url("/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert!(
        metrics()
            .await
            .contains("trajectum_jobs_retrying{kind=\"follow_up.book\"} 1"),
        "queued again after its first failure"
    );
    // Its second attempt, after the wait, is its last.
    s.app.advance(Duration::minutes(1));
    let planner = s.app.planner_token().await;
    assert_eq!(s.app.run_jobs().await, 1);
    assert!(metrics().await.contains("trajectum_jobs_parked 1"));
    let parked: Value = s
        .app
        .get("/api/v1/jobs", &planner)
        .await
        .json()
        .await
        .unwrap();
    let job = &parked["data"][0];
    assert_eq!(
        (
            job["kind"].as_str(),
            job["status"].as_str(),
            job["attempts"].as_i64()
        ),
        (Some("follow_up.book"), Some("parked"), Some(2))
    );
    assert!(job["last_error"]
        .as_str()
        .unwrap()
        .contains("without its follow-up"));
    let coach = s.app.coach_token(0).await;
    assert_problem(s.app.get("/api/v1/jobs", &coach).await, 403).await;
    let other = s.app.seed_other_tenant().await;
    let stranger = s
        .app
        .access_token(&other.admin_email, crate::helpers::OTHER_PASSWORD)
        .await;
    let theirs: Value = s
        .app
        .get("/api/v1/jobs", &stranger)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"], json!([]));
    let retry = format!("/api/v1/jobs/{}/retry", job["id"].as_str().unwrap());
    assert_problem(s.app.post_json(&retry, &stranger, &json!({})).await, 404).await;
    let retried = s.app.post_json(&retry, &planner, &json!({})).await;
    assert_eq!(retried.status(), 200);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(
        (retried["status"].as_str(), retried["attempts"].as_i64()),
        (Some("queued"), Some(0))
    );
    let again = assert_problem(s.app.post_json(&retry, &planner, &json!({})).await, 409).await;
    assert_eq!(again["type"], "urn:trajectum:problem:job-not-parked");
}

api_test!(a_job_that_keeps_failing_is_parked_for_the_planners);

/// The follow-up booked for `order` (its first), once the worker has run.
async fn booked_follow_up(s: &Scene, order: &str) -> Value {
    s.app.run_jobs().await;
    let follow_up = follow_ups(s, order, &s.planner).await[0].clone();
    assert_eq!(follow_up["status"], "scheduled", "{follow_up}");
    follow_up
}

/// The session of `follow_up`, as `token` reads it.
async fn session_of(s: &Scene, follow_up: &Value, token: &str) -> Value {
    let id = follow_up["session"]["id"].as_str().unwrap();
    let response = s.app.get(&format!("/api/v1/sessions/{id}"), token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Once its session has started, a follow-up is neither moved nor skipped: what happened is
/// recorded (attendance, then the outcome). A session the coachee did not come to is let go.
async fn a_follow_up_whose_session_started_stays_where_it_is_002(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let (held, missed) = (s.active().await, s.active().await);
    for order in [&held, &missed] {
        s.complete(order, &json!({"follow_up_days": [14]})).await;
    }
    let (held_up, missed_up) = (
        booked_follow_up(&s, &held).await,
        booked_follow_up(&s, &missed).await,
    );
    let starts = |f: &Value| {
        DateTime::parse_from_rfc3339(f["session"]["starts_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let later = starts(&held_up).max(starts(&missed_up));
    move_to(&mut s, later + Duration::minutes(10)).await;
    let path = |f: &Value| format!("/api/v1/follow-ups/{}", f["id"].as_str().unwrap());
    let move_on = json!({"due_on": (later + Duration::days(30)).date_naive()});
    let skip = json!({"skip": true, "reason": "the coachee asked"});
    for change in [&move_on, &skip] {
        let refused = s.app.patch_json(&path(&held_up), &s.anna, change).await;
        let refused = assert_problem(refused, 409).await;
        assert_eq!(
            refused["type"],
            "urn:trajectum:problem:follow-up-session-started"
        );
    }
    let attendance = |f: &Value| {
        format!(
            "/api/v1/sessions/{}/attendance",
            f["session"]["id"].as_str().unwrap()
        )
    };
    let recorded = s
        .app
        .post_json(
            &attendance(&held_up),
            &s.anna,
            &json!({"attendance": "held"}),
        )
        .await;
    assert_eq!(recorded.status(), 200);
    let refused = s.app.patch_json(&path(&held_up), &s.anna, &move_on).await;
    let refused = assert_problem(refused, 409).await;
    assert_eq!(
        refused["type"],
        "urn:trajectum:problem:follow-up-session-held"
    );
    assert_eq!(
        follow_ups(&s, &held, &s.planner).await[0]["session"]["id"],
        held_up["session"]["id"]
    );

    let recorded = s
        .app
        .post_json(
            &attendance(&missed_up),
            &s.anna,
            &json!({"attendance": "no_show"}),
        )
        .await;
    assert_eq!(recorded.status(), 200);
    let moved = s.app.patch_json(&path(&missed_up), &s.anna, &move_on).await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["status"], "pending");
    assert!(moved.get("session").is_none_or(Value::is_null), "{moved}");
}

/// Another coach takes over while the order follows up (Anna leaves): the session booked with
/// Anna is called off, and the worker books the follow-up with Bram.
async fn another_coach_takes_over_the_follow_ups_002(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    s.complete(&order, &json!({"follow_up_days": [14]})).await;
    let with_anna = booked_follow_up(&s, &order).await;
    let me: Value = s.app.get("/api/v1/me", &s.bram).await.json().await.unwrap();
    let assigned = s
        .app
        .post_json(
            &Scene::path(&order, "/assign"),
            &s.planner,
            &json!({"coach_id": me["coach_id"]}),
        )
        .await;
    assert_eq!(assigned.status(), 200);
    let assigned: Value = assigned.json().await.unwrap();
    assert_eq!(assigned["status"], "following_up");
    assert_eq!(
        session_of(&s, &with_anna, &s.planner).await["status"],
        "cancelled"
    );
    let waiting = &follow_ups(&s, &order, &s.planner).await[0];
    assert_eq!(waiting["status"], "pending");
    let with_bram = booked_follow_up(&s, &order).await;
    let session = session_of(&s, &with_bram, &s.bram).await;
    assert_eq!(session["coach_id"], me["coach_id"]);
    assert_eq!(session["status"], "planned");
}

/// A follow-up the worker comes to only after its horizon has passed (the worker was down) is
/// flagged for a planner, not dropped and not an error.
async fn a_follow_up_past_its_horizon_is_flagged_002(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let order = s.active().await;
    s.complete(&order, &json!({"follow_up_days": [14]})).await;
    s.advance(Duration::days(60)).await;
    s.app.run_jobs().await;
    let follow_up = &follow_ups(&s, &order, &s.planner).await[0];
    assert_eq!(
        (follow_up["status"].as_str(), follow_up["flag"].as_str()),
        (Some("flagged"), Some("no_slot"))
    );
}

/// A job stays the worker's that claimed it only while its lease holds and nobody queued it
/// anew: a worker that lost it can neither start nor finish it, and what it gives back is only
/// its own.
async fn a_worker_that_lost_its_job_completes_nothing(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    s.complete(&order, &json!({"follow_up_days": [14]})).await;
    let now = s.app.now();
    let (second_taken, first_taken, first_finished, requeued) = s
        .app
        .blocking(move |conn| {
            use trajectum::db::jobs;
            let kinds = ["follow_up.book"];
            let t = |minutes: i64| (now + Duration::minutes(minutes)).naive_utc();
            let claimed = jobs::claim(conn, "first", &kinds, t(0), t(1), 10)?;
            assert_eq!(claimed.len(), 1);
            let id = claimed[0].id.clone();
            // Its lease runs out; the second worker claims and starts it.
            assert_eq!(
                jobs::claim(conn, "second", &kinds, t(2), t(3), 10)?.len(),
                1
            );
            let second_taken = jobs::take(conn, &id, "second", t(2), t(3))?;
            let first_taken = jobs::take(conn, &id, "first", t(2), t(3))?;
            let first_finished = jobs::finish(conn, &id, "first", t(2))?;
            jobs::release(conn, std::slice::from_ref(&id), "first", t(2))?;
            // Queued anew (the follow-up moved): the second worker has lost it too.
            let job = jobs::find(conn, &id)?.unwrap();
            jobs::enqueue(conn, &job)?;
            let requeued = !jobs::finish(conn, &id, "second", t(2))?;
            Ok((second_taken, first_taken, first_finished, requeued))
        })
        .await;
    assert!(second_taken);
    assert!(!first_taken && !first_finished, "the first lost it");
    assert!(requeued, "queued anew, it is no longer the second's");
    // The worker runs it: booked once.
    let booked = booked_follow_up(&s, &order).await;
    assert!(booked["session"]["id"].is_string());
}

/// A periodic job found parked (by an older version) is queued again when a worker starts.
async fn a_parked_periodic_job_runs_again(backend: Backend) {
    let s = Scene::new(backend).await;
    s.app.run_jobs().await;
    s.app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::jobs;
            let check = jobs::table.filter(jobs::kind.eq("alliance.check"));
            diesel::update(check)
                .set(jobs::status.eq("parked"))
                .execute(conn)?;
            Ok(())
        })
        .await;
    s.app.run_jobs().await;
    let status: String = s
        .app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::jobs;
            Ok(jobs::table
                .filter(jobs::kind.eq("alliance.check"))
                .select(jobs::status)
                .first(conn)?)
        })
        .await;
    assert_eq!(status, "queued");
}

api_test!(
    a_follow_up_whose_session_started_stays_where_it_is_002,
    another_coach_takes_over_the_follow_ups_002,
    a_follow_up_past_its_horizon_is_flagged_002,
    a_worker_that_lost_its_job_completes_nothing,
    a_parked_periodic_job_runs_again,
);
