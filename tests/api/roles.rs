//! The role matrix, generated from the spec: every operation that needs a token names the roles
//! that may call it (`security: [{bearer: [roles]}]`), and the service agrees, role by role. A
//! role outside the list is a 403 whatever the resource; a role on the list is never refused for
//! its role (with ids that do not exist it gets a 404, with an empty body a 400 or 422).

use reqwest::Method;
use serde_json::json;

use crate::api_test;
use crate::scene::Scene;

const ROLES: [&str; 4] = ["employer", "coach", "provider_admin", "coachee"];

async fn every_operation_admits_exactly_the_roles_the_spec_names(backend: crate::helpers::Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    let coachee = s.coachee_token(&order).await;
    let token = |role: &str| match role {
        "employer" => s.hr.clone(),
        "coach" => s.anna.clone(),
        "provider_admin" => s.planner.clone(),
        _ => coachee.clone(),
    };
    let spec = s.app.public_json("/api/v1/openapi.json").await;
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(roles) = operation["security"][0]["bearer"].as_array() else {
                continue;
            };
            let roles: Vec<&str> = roles.iter().map(|r| r.as_str().unwrap()).collect();
            assert!(!roles.is_empty(), "{method} {path} names its roles");
            let concrete = path
                .replace("{id}", &uuid::Uuid::new_v4().to_string())
                .replace("{task_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{delivery_id}", &uuid::Uuid::new_v4().to_string());
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for role in ROLES {
                let mut request = s.app.request(method.clone(), &concrete, Some(&token(role)));
                // An optional body is left out, as the spec allows (issue 16).
                let body = &operation["requestBody"];
                let optional = body.is_object() && body["required"] != true;
                if body.is_object() && !optional {
                    request = request.json(&json!({}));
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                if roles.contains(&role) {
                    assert!(
                        ![401, 403].contains(&status),
                        "{method} {path} admits {role}: {status} {text}"
                    );
                    assert!(
                        !(optional && [400, 415].contains(&status)),
                        "{method} {path} takes no body: {status} {text}"
                    );
                } else {
                    assert_eq!(status, 403, "{method} {path} refuses {role}: {text}");
                }
                checked += 1;
            }
        }
    }
    // 100 operations, of which token, revoke, set-password, live, ready, metrics and the two of
    // the sign-up are public.
    assert_eq!(
        checked,
        4 * 92,
        "every secured operation was tried with every role"
    );
}

api_test!(every_operation_admits_exactly_the_roles_the_spec_names);
