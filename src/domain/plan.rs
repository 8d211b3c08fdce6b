//! The plan (002, 004, 003): the development points found after the intake, and goals broken
//! into tasks phrased as things to do ("write five letters", not "get invited"), each with an
//! optional target count and due date. The coach holds the coachee to them (003).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::FieldError;

pub const MAX_ITEMS: usize = 50;
pub const MAX_TEXT: usize = 2000;

/// A bottleneck in how the employee functions (*ontwikkelpunt*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevelopmentPoint {
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    #[schema(format = Uuid)]
    pub id: String,
    /// Something to do, e.g. "write 5 application letters".
    pub description: String,
    /// How many times, when the task counts ("write 5 letters": 5).
    pub target_count: Option<u32>,
    /// Progress so far.
    pub done_count: u32,
    pub due_date: Option<NaiveDate>,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Goal {
    #[schema(format = Uuid)]
    pub id: String,
    pub description: String,
    pub tasks: Vec<Task>,
}

/// The plan as stored and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    pub development_points: Vec<DevelopmentPoint>,
    pub goals: Vec<Goal>,
    /// Sessions the plan needs (the intake is free and not counted, 002).
    pub planned_sessions: Option<u32>,
    /// When the plan expects to be done.
    pub planned_end: Option<NaiveDate>,
}

/// A task as the coach writes it; `id` keeps an existing task (and its progress).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    #[schema(format = Uuid)]
    pub id: Option<String>,
    pub description: String,
    pub target_count: Option<u32>,
    pub due_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalInput {
    #[schema(format = Uuid)]
    pub id: Option<String>,
    pub description: String,
    #[serde(default)]
    pub tasks: Vec<TaskInput>,
}

/// The whole plan, replacing the previous one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    #[serde(default)]
    pub development_points: Vec<DevelopmentPoint>,
    #[serde(default)]
    pub goals: Vec<GoalInput>,
    pub planned_sessions: Option<u32>,
    pub planned_end: Option<NaiveDate>,
}

/// Progress on one task.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskProgress {
    pub done_count: Option<u32>,
    pub done: Option<bool>,
}

fn text(pointer: String, value: &str, errors: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(pointer, "must not be empty"));
    } else if value.chars().count() > MAX_TEXT {
        errors.push(FieldError::new(
            pointer,
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
}

fn count(pointer: &str, n: usize, errors: &mut Vec<FieldError>) {
    if n > MAX_ITEMS {
        errors.push(FieldError::new(
            pointer,
            format!("must have at most {MAX_ITEMS} entries"),
        ));
    }
}

impl PlanInput {
    /// Builds the new plan from the previous one: tasks named by id keep their progress, new
    /// ones get an id from `new_id`. Every problem is reported, with its pointer.
    pub fn apply(
        self,
        previous: &Plan,
        mut new_id: impl FnMut() -> String,
    ) -> Result<Plan, Vec<FieldError>> {
        let mut errors = vec![];
        count(
            "/development_points",
            self.development_points.len(),
            &mut errors,
        );
        count("/goals", self.goals.len(), &mut errors);
        for (i, point) in self.development_points.iter().enumerate() {
            text(
                format!("/development_points/{i}/description"),
                &point.description,
                &mut errors,
            );
        }
        if self.planned_sessions.is_some_and(|n| n > 100) {
            errors.push(FieldError::new("/planned_sessions", "must be at most 100"));
        }
        let old_tasks: Vec<&Task> = previous.goals.iter().flat_map(|g| &g.tasks).collect();
        let mut goals = vec![];
        for (g, goal) in self.goals.into_iter().enumerate() {
            text(
                format!("/goals/{g}/description"),
                &goal.description,
                &mut errors,
            );
            count(&format!("/goals/{g}/tasks"), goal.tasks.len(), &mut errors);
            let goal_id = match goal.id {
                Some(id) if previous.goals.iter().any(|old| old.id == id) => id,
                Some(_) => {
                    errors.push(FieldError::new(
                        format!("/goals/{g}/id"),
                        "is not a goal of this plan",
                    ));
                    String::new()
                }
                None => new_id(),
            };
            let mut tasks = vec![];
            for (t, task) in goal.tasks.into_iter().enumerate() {
                let at = format!("/goals/{g}/tasks/{t}");
                text(format!("{at}/description"), &task.description, &mut errors);
                if task.target_count.is_some_and(|n| n == 0 || n > 1000) {
                    errors.push(FieldError::new(
                        format!("{at}/target_count"),
                        "must be between 1 and 1000",
                    ));
                }
                let (id, done_count, done) = match task.id {
                    Some(id) => match old_tasks.iter().find(|old| old.id == id) {
                        Some(old) => (id, old.done_count, old.done),
                        None => {
                            errors.push(FieldError::new(
                                format!("{at}/id"),
                                "is not a task of this plan",
                            ));
                            (id, 0, false)
                        }
                    },
                    None => (new_id(), 0, false),
                };
                tasks.push(Task {
                    id,
                    description: task.description.trim().to_string(),
                    target_count: task.target_count,
                    done_count,
                    due_date: task.due_date,
                    done,
                });
            }
            goals.push(Goal {
                id: goal_id,
                description: goal.description.trim().to_string(),
                tasks,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Plan {
            development_points: self
                .development_points
                .into_iter()
                .map(|p| DevelopmentPoint {
                    description: p.description.trim().to_string(),
                })
                .collect(),
            goals,
            planned_sessions: self.planned_sessions,
            planned_end: self.planned_end,
        })
    }
}

/// A plan that goes beyond what the order pays for (002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overrun {
    pub code: &'static str,
    /// The plan's field: `planned_sessions` or `planned_end`.
    pub field: &'static str,
    pub message: String,
}

impl Plan {
    /// Where the plan exceeds the order's session budget or end date. More needs the extension
    /// route, with a substantiation (002).
    pub fn overruns(&self, session_budget: u32, order_end: NaiveDate) -> Vec<Overrun> {
        let mut overruns = vec![];
        if let Some(sessions) = self.planned_sessions.filter(|s| *s > session_budget) {
            overruns.push(Overrun {
                code: "sessions_over_budget",
                field: "planned_sessions",
                message: format!(
                    "The plan needs {sessions} sessions but the order pays for {session_budget}: plan within the budget, or extend the order (POST /orders/{{id}}/extend) with a substantiation."
                ),
            });
        }
        if self.planned_end.is_some_and(|end| end > order_end) {
            overruns.push(Overrun {
                code: "end_after_order_end",
                field: "planned_end",
                message: format!(
                    "The plan ends after the order's end date ({order_end}): plan within it, or extend the order (POST /orders/{{id}}/extend) with a substantiation."
                ),
            });
        }
        overruns
    }

    /// Once the trajectory runs, the plan stays within what the order pays for; more needs an
    /// extension (002). Each overrun points at its field.
    pub fn check_within_order(
        &self,
        running: bool,
        session_budget: u32,
        order_end: NaiveDate,
    ) -> Result<(), Vec<FieldError>> {
        if !running {
            return Ok(());
        }
        let errors: Vec<FieldError> = self
            .overruns(session_budget, order_end)
            .into_iter()
            .map(|o| FieldError::new(format!("/{}", o.field), o.message))
            .collect();
        crate::domain::input::verdict(errors)
    }

    /// Size and progress, for the plan's event: goals, tasks, and tasks done.
    pub fn counts(&self) -> (u32, u32, u32) {
        let tasks = self.goals.iter().flat_map(|g| &g.tasks);
        (
            self.goals.len() as u32,
            tasks.clone().count() as u32,
            tasks.filter(|t| t.done).count() as u32,
        )
    }

    /// Records progress on a task; `None` when the plan has no such task.
    pub fn record_progress(
        &mut self,
        task_id: &str,
        progress: &TaskProgress,
    ) -> Option<Result<&Task, FieldError>> {
        let task = self
            .goals
            .iter_mut()
            .flat_map(|g| g.tasks.iter_mut())
            .find(|t| t.id == task_id)?;
        if let Some(n) = progress.done_count {
            if n > 1000 {
                return Some(Err(FieldError::new("/done_count", "must be at most 1000")));
            }
            task.done_count = n;
            if task.target_count.is_some_and(|target| n >= target) {
                task.done = true;
            }
        }
        if let Some(done) = progress.done {
            task.done = done;
        }
        Some(Ok(task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("id-{n}")
        }
    }

    fn input(json: serde_json::Value) -> PlanInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn goals_break_into_tasks_with_targets_004() {
        let plan = input(serde_json::json!({
            "development_points": [{"description": "presenting in meetings"}],
            "goals": [{"description": "a new job", "tasks": [{"description": "write 5 letters", "target_count": 5}]}],
            "planned_sessions": 8
        }))
        .apply(&Plan::default(), ids())
        .unwrap();
        assert_eq!(plan.goals[0].id, "id-1");
        assert_eq!(plan.goals[0].tasks[0].id, "id-2");
        assert_eq!(plan.goals[0].tasks[0].target_count, Some(5));
    }

    #[test]
    fn a_task_kept_by_id_keeps_its_progress() {
        let mut plan = input(serde_json::json!({
            "goals": [{"description": "g", "tasks": [{"description": "write 5 letters", "target_count": 5}]}]
        }))
        .apply(&Plan::default(), ids())
        .unwrap();
        let task_id = plan.goals[0].tasks[0].id.clone();
        let progress = TaskProgress {
            done_count: Some(5),
            done: None,
        };
        let task = plan.record_progress(&task_id, &progress).unwrap().unwrap();
        assert!(task.done, "reaching the target count finishes the task");
        let goal_id = plan.goals[0].id.clone();
        let again = input(serde_json::json!({
            "goals": [{"id": goal_id, "description": "g", "tasks": [{"id": task_id, "description": "write five letters"}]}]
        }))
        .apply(&plan, ids())
        .unwrap();
        assert_eq!(again.goals[0].tasks[0].done_count, 5);
        assert!(again.goals[0].tasks[0].done);
    }

    #[test]
    fn every_invalid_part_is_named() {
        let errors = input(serde_json::json!({
            "development_points": [{"description": " "}],
            "goals": [{"id": "unknown", "description": "g", "tasks": [{"description": "", "target_count": 0}]}]
        }))
        .apply(&Plan::default(), ids())
        .unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/development_points/0/description",
                "/goals/0/id",
                "/goals/0/tasks/0/description",
                "/goals/0/tasks/0/target_count"
            ]
        );
    }

    #[test]
    fn a_running_plan_stays_within_the_order_002() {
        let plan = input(serde_json::json!({"planned_sessions": 10}))
            .apply(&Plan::default(), ids())
            .unwrap();
        let end = NaiveDate::from_ymd_opt(2027, 5, 24).unwrap();
        assert!(
            plan.check_within_order(false, 8, end).is_ok(),
            "before the start"
        );
        let errors = plan.check_within_order(true, 8, end).unwrap_err();
        assert_eq!(errors[0].pointer, "/planned_sessions");
        assert!(plan.check_within_order(true, 10, end).is_ok());
    }

    #[test]
    fn counts_say_size_and_progress_only() {
        let mut plan = input(serde_json::json!({
            "goals": [{"description": "g", "tasks": [{"description": "a"}, {"description": "b"}]}]
        }))
        .apply(&Plan::default(), ids())
        .unwrap();
        plan.goals[0].tasks[1].done = true;
        assert_eq!(plan.counts(), (1, 2, 1));
    }
}
