//! The routes of the spec, looked up by path without the router: which methods a path allows
//! (to tell a wrong method, 405, from an unknown path, 404), which route template it falls
//! under (the label of its log line and metrics), and whether it takes a bearer token (what the
//! rate limit counts).
//!
//! A template is matched segment by segment: a `{name}` segment takes any one non-empty
//! segment, any other segment only itself. Where two templates match (`/coaches/suggestions`
//! and `/coaches/{id}`), the one with more literal segments wins, as a reader would expect.

/// The label of a request that no route takes.
pub const UNMATCHED: &str = "unmatched";

/// Paths the service serves outside the spec: the spec itself and Swagger UI.
const UNDOCUMENTED: [&str; 4] = ["/api/v1/openapi.json", "/docs", "/docs/", "/docs/{file}"];

#[derive(Debug)]
struct Route {
    template: String,
    segments: Vec<Segment>,
    methods: Vec<String>,
    /// The methods whose operation takes a bearer token (`security` names `bearer`).
    bearer: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

impl Route {
    fn new(template: &str, methods: Vec<String>) -> Route {
        let segments = template
            .split('/')
            .skip(1)
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') {
                    Segment::Parameter
                } else {
                    Segment::Literal(segment.to_string())
                }
            })
            .collect();
        Route {
            template: template.to_string(),
            segments,
            methods,
            bearer: vec![],
        }
    }

    /// How many literal segments matched, if `parts` (a path's segments) are this route's.
    fn matches(&self, parts: &[&str]) -> Option<usize> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut literals = 0;
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(text) if text == part => literals += 1,
                Segment::Parameter if !part.is_empty() => {}
                _ => return None,
            }
        }
        Some(literals)
    }
}

/// The most segments a route of this service has, and then some.
const MAX_SEGMENTS: usize = 8;

/// The spec's routes with their methods, and the paths served outside it.
#[derive(Debug)]
pub struct RouteTable {
    documented: Vec<Route>,
    undocumented: Vec<Route>,
}

impl RouteTable {
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let paths = spec["paths"].as_object().cloned().unwrap_or_default();
        let documented = paths
            .iter()
            .map(|(path, item)| {
                let mut methods: Vec<String> = item
                    .as_object()
                    .into_iter()
                    .flat_map(|operations| operations.keys())
                    .filter(|k| {
                        ["get", "put", "post", "delete", "patch", "head", "options"]
                            .contains(&k.as_str())
                    })
                    .map(|k| k.to_ascii_uppercase())
                    .collect();
                let mut bearer: Vec<String> = methods
                    .iter()
                    .filter(|method| {
                        item[method.to_ascii_lowercase()]["security"]
                            .as_array()
                            .is_some_and(|requirements| {
                                requirements.iter().any(|r| r.get("bearer").is_some())
                            })
                    })
                    .cloned()
                    .collect();
                // Every GET route answers HEAD too (`conditional::conditional_reads`).
                if let Some(get) = methods.iter().position(|m| m == "GET") {
                    methods.insert(get + 1, "HEAD".into());
                    if bearer.iter().any(|m| m == "GET") {
                        bearer.push("HEAD".into());
                    }
                }
                Route {
                    bearer,
                    ..Route::new(path, methods)
                }
            })
            .collect();
        let undocumented = UNDOCUMENTED
            .iter()
            .map(|path| Route::new(path, vec!["GET".into(), "HEAD".into()]))
            .collect();
        RouteTable {
            documented,
            undocumented,
        }
    }

    fn best<'a>(routes: &'a [Route], path: &str) -> Option<&'a Route> {
        // The path is split once, onto the stack; a deeper path is no route of ours.
        let mut parts = [""; MAX_SEGMENTS];
        let mut count = 0;
        for part in path.strip_prefix('/')?.split('/') {
            *parts.get_mut(count)? = part;
            count += 1;
        }
        routes
            .iter()
            .filter_map(|route| Some((route.matches(&parts[..count])?, route)))
            .max_by_key(|(literals, _)| *literals)
            .map(|(_, route)| route)
    }

    /// The methods a documented path allows; `None` for a path the spec does not have.
    pub fn allowed(&self, path: &str) -> Option<&[String]> {
        Self::best(&self.documented, path).map(|route| route.methods.as_slice())
    }

    /// The route `method path` falls under, found once for what every request needs of it.
    pub fn matched(&self, method: &str, path: &str) -> Matched<'_> {
        match Self::best(&self.documented, path) {
            Some(route) => Matched {
                template: &route.template,
                takes_bearer: route.bearer.iter().any(|m| m == method),
            },
            None => Matched {
                template: Self::best(&self.undocumented, path)
                    .map_or(UNMATCHED, |route| route.template.as_str()),
                takes_bearer: false,
            },
        }
    }

    /// Whether `method path` is an operation that takes a bearer token.
    pub fn takes_bearer(&self, method: &str, path: &str) -> bool {
        self.matched(method, path).takes_bearer
    }

    /// The route template `path` falls under (`/api/v1/orders/{id}`), or [`UNMATCHED`].
    pub fn template(&self, path: &str) -> &str {
        self.matched("GET", path).template
    }
}

/// What a request's route says of it ([`RouteTable::matched`]).
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    /// The route template (`/api/v1/orders/{id}`), or [`UNMATCHED`]: the label of its log line
    /// and metrics.
    pub template: &'a str,
    /// Whether the operation takes a bearer token: its caller is the rate limit's and the audit
    /// trail's.
    pub takes_bearer: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::from_spec(&serde_json::json!({"paths": {
            "/health/live": {"get": {}},
            "/api/v1/coaches/{id}": {"get": {}, "patch": {}},
            "/api/v1/coaches/suggestions": {"post": {}},
            "/api/v1/orders/{id}/plan/tasks/{task_id}": {"patch": {}},
        }}))
    }

    #[test]
    fn operations_that_take_a_bearer_token_are_known() {
        let routes = RouteTable::from_spec(&serde_json::json!({"paths": {
            "/health/live": {"get": {"security": []}},
            "/api/v1/orders": {
                "get": {"security": [{"bearer": ["employer"]}, {"oauth2": []}]},
                "post": {"security": [{"bearer": ["employer"]}]},
            },
            "/api/v1/orders/{id}/calendar.ics": {"get": {"security": [{"calendar_feed": []}]}},
        }}));
        assert!(routes.takes_bearer("GET", "/api/v1/orders"));
        assert!(routes.takes_bearer("HEAD", "/api/v1/orders"));
        assert!(routes.takes_bearer("POST", "/api/v1/orders"));
        assert!(!routes.takes_bearer("GET", "/health/live"));
        assert!(!routes.takes_bearer("GET", "/api/v1/orders/o-1/calendar.ics"));
        assert!(!routes.takes_bearer("DELETE", "/api/v1/orders"));
        assert!(!routes.takes_bearer("GET", "/nowhere"));
    }

    #[test]
    fn a_path_falls_under_its_template() {
        let routes = table();
        assert_eq!(routes.template("/health/live"), "/health/live");
        assert_eq!(
            routes.template("/api/v1/coaches/c-1"),
            "/api/v1/coaches/{id}"
        );
        assert_eq!(
            routes.template("/api/v1/orders/o-1/plan/tasks/t-2"),
            "/api/v1/orders/{id}/plan/tasks/{task_id}"
        );
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        let routes = table();
        assert_eq!(
            routes.template("/api/v1/coaches/suggestions"),
            "/api/v1/coaches/suggestions"
        );
        assert_eq!(
            routes.allowed("/api/v1/coaches/suggestions"),
            Some(&["POST".to_string()][..])
        );
    }

    #[test]
    fn a_get_route_allows_head_and_other_paths_are_unknown() {
        let routes = table();
        assert_eq!(
            routes.allowed("/api/v1/coaches/c-1"),
            Some(&["GET".into(), "HEAD".into(), "PATCH".into()][..])
        );
        for unknown in [
            "/api/v1/coaches",
            "/api/v1/coaches/",
            "/api/v1/coaches/c-1/x",
            "/health/live/",
            "health/live",
            "/a/b/c/d/e/f/g/h/i",
            "",
        ] {
            assert_eq!(routes.allowed(unknown), None, "{unknown:?}");
            assert_eq!(routes.template(unknown), UNMATCHED, "{unknown:?}");
        }
    }

    #[test]
    fn the_spec_and_swagger_ui_have_templates_of_their_own() {
        let routes = table();
        assert_eq!(
            routes.template("/api/v1/openapi.json"),
            "/api/v1/openapi.json"
        );
        assert_eq!(routes.template("/docs"), "/docs");
        assert_eq!(routes.template("/docs/"), "/docs/");
        assert_eq!(routes.template("/docs/index.css"), "/docs/{file}");
        assert_eq!(routes.allowed("/docs/index.css"), None);
    }
}
