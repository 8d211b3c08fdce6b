//! A cast for order tests: the demo employer, planner and coaches with their tokens, and helpers
//! that walk an order to a given point.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp};

pub struct Scene {
    pub app: TestApp,
    pub hr: String,
    pub planner: String,
    /// Anna: technical background, job coaching, reintegration.
    pub anna: String,
    pub anna_coach_id: String,
    /// Bram: curative, preventive, management.
    pub bram: String,
}

pub fn minimal_order() -> Value {
    json!({"coachee": {"name": "Sam de Boer", "email": "sam@acme.example"}})
}

pub fn long_text(prefix: &str) -> String {
    format!("{prefix}: the employee needs a different kind of support because the bottleneck lies in the team's organisation")
}

impl Scene {
    pub async fn new(backend: Backend) -> Scene {
        Scene::with(spawn_app(backend).await).await
    }

    /// The cast on `app` (one spawned with settings of its own).
    pub async fn with(app: TestApp) -> Scene {
        let hr = app.hr_token().await;
        let planner = app.planner_token().await;
        let anna = app.coach_token(0).await;
        let bram = app.coach_token(1).await;
        let me: Value = app.get("/api/v1/me", &anna).await.json().await.unwrap();
        let anna_coach_id = me["coach_id"].as_str().unwrap().to_string();
        Scene {
            app,
            hr,
            planner,
            anna,
            anna_coach_id,
            bram,
        }
    }

    pub async fn create(&self, body: &Value) -> Value {
        let response = self.app.post_json("/api/v1/orders", &self.hr, body).await;
        assert_eq!(response.status(), 201, "create order");
        response.json().await.unwrap()
    }

    /// A new order, assigned to Anna: `accepted`.
    pub async fn accepted(&self) -> String {
        let order = self.create(&minimal_order()).await;
        let id = order["id"].as_str().unwrap().to_string();
        let response = self
            .app
            .post_json(
                &format!("/api/v1/orders/{id}/assign"),
                &self.planner,
                &json!({"coach_id": self.anna_coach_id}),
            )
            .await;
        assert_eq!(response.status(), 200, "assign");
        id
    }

    pub fn path(id: &str, rest: &str) -> String {
        format!("/api/v1/orders/{id}{rest}")
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.app
            .request(Method::PUT, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A plan that satisfies the start rules.
    pub fn good_plan() -> Value {
        json!({
            "development_points": [{"description": "giving feedback to colleagues"}],
            "goals": [{"description": "lead the weekly meeting", "tasks": [{"description": "chair 3 team meetings", "target_count": 3}]}],
            "planned_sessions": 6
        })
    }

    pub fn start_intake() -> Value {
        json!({
            "trust_coach": true, "trust_coachee": true, "reason": "confirmed",
            "goals_realistic": true, "decision": "start", "phase_emphasis": ["self_exploration"]
        })
    }

    /// Walks an accepted order through plan and intake to `active`.
    pub async fn active(&self) -> String {
        let id = self.accepted().await;
        self.start(&id).await;
        id
    }

    /// Walks the accepted order `id` through plan and intake to `active`.
    pub async fn start(&self, id: &str) {
        let id = id.to_string();
        assert_eq!(
            self.put(&Self::path(&id, "/plan"), &self.anna, &Self::good_plan())
                .await
                .status(),
            200
        );
        assert_eq!(
            self.put(
                &Self::path(&id, "/intake"),
                &self.anna,
                &Self::start_intake()
            )
            .await
            .status(),
            200
        );
        let response = self
            .app
            .post_json(&Self::path(&id, "/intake/complete"), &self.anna, &json!({}))
            .await;
        assert_eq!(response.status(), 200, "complete intake");
    }

    pub async fn order(&self, id: &str, token: &str) -> Value {
        self.app
            .get(&Self::path(id, ""), token)
            .await
            .json()
            .await
            .unwrap()
    }

    /// Puts an order in any state directly, for testing what each state allows.
    /// A closing review with every quality answered and a summary (000).
    pub fn good_review() -> Value {
        json!({
            "qualities": [
                {"quality": "perseverance", "answer": "a weekly moment to stop and ask for help"},
                {"quality": "helpfulness", "answer": "says no to one request a week, agreed with the team lead"}
            ],
            "summary": "back at work three days a week, with a plan for the pitfalls"
        })
    }

    /// Saves the good closing review and completes the running order with `body` (the order's
    /// own follow-up days, say); the order as answered.
    pub async fn complete(&self, id: &str, body: &Value) -> Value {
        let review = self
            .put(
                &Self::path(id, "/closing-review"),
                &self.anna,
                &Self::good_review(),
            )
            .await;
        assert_eq!(review.status(), 200, "closing review");
        let response = self
            .app
            .post_json(&Self::path(id, "/complete"), &self.anna, body)
            .await;
        assert_eq!(response.status(), 200, "complete");
        response.json().await.unwrap()
    }

    pub async fn force_status(&self, id: &str, status: &'static str) {
        let id = id.to_string();
        self.app
            .blocking(move |conn| {
                use trajectum::db::schema::orders;
                diesel::update(orders::table.find(&id))
                    .set(orders::status.eq(status))
                    .execute(conn)?;
                Ok(())
            })
            .await;
    }

    /// Moves the app's clock forward and signs everyone in again (their tokens expire as the
    /// clock passes their lifetime).
    pub async fn advance(&mut self, by: chrono::Duration) {
        self.app.advance(by);
        self.hr = self.app.hr_token().await;
        self.planner = self.app.planner_token().await;
        self.anna = self.app.coach_token(0).await;
        self.bram = self.app.coach_token(1).await;
    }

    pub async fn timeline_types(&self, id: &str, token: &str) -> Vec<String> {
        let page: Value = self
            .app
            .get(&Self::path(id, "/timeline"), token)
            .await
            .json()
            .await
            .unwrap();
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn coachee_token(&self, id: &str) -> String {
        let response = self
            .app
            .post_json(&Self::path(id, "/coachee-link"), &self.anna, &json!({}))
            .await;
        assert_eq!(response.status(), 201, "issue coachee link");
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }
}
