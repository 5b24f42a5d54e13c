//! vigil's HTTP API for SOC analysts. Architecture invariant: only this crate speaks HTTP.
//!
//! Routes (JSON unless said; [`access`] says which role may call which):
//! - `GET /api/v1/health`: liveness, no authentication.
//! - `GET /api/v1/openapi.json`: the OpenAPI document, no authentication.
//! - `GET /api/v1/alerts?q=&from=&to=&limit=&sort=&cursor=`: alert search, a page at a time.
//! - `GET /api/v1/alerts/aggregations?q=&from=&to=&facets=&size=&histogram=`: counts by
//!   facet and over time.
//! - `GET /api/v1/alerts/export?q=&from=&to=&sort=&format=ndjson|csv&limit=`: a search's
//!   alerts, streamed.
//! - `GET /api/v1/alerts/{id}`: one alert, its triage and history, its events, its member
//!   alerts and the correlations it is a member of.
//! - `POST /api/v1/alerts/{id}/triage`: change status, assignee, or add a note.
//! - `GET /api/v1/stats`: pipeline counters.
//! - `GET /api/v1/rules`: the loaded rules and correlation rules, with their alerts (in the
//!   caller's scope) and last hit.
//! - `GET /api/v1/sources`: the sources the caller may see, with counts, rates and health.
//! - `GET /metrics`: Prometheus text format (see [`metrics`]).
//! - `POST /api/v1/rules/reload`: load the rule folders again and swap them in (see
//!   [`reload`]); 200 with the difference, or 422 with the problems that refused it.
//!
//! Every other route needs `Authorization: Bearer TOKEN`; anything else is a 401 with a JSON
//! error that reveals nothing more. A role that may not call a route gets a 403; an alert
//! outside the caller's scope is a 404, as one that does not exist. Every call is written to
//! the [`audit`] log.

pub mod access;
pub mod audit;
pub mod metrics;
pub mod openapi;
pub mod reload;
pub mod search;
pub mod token;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Extension, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use subtle::ConstantTimeEq;
use vigil_engine::{AlertStore, Scope, Stats};

use access::{Action, Caller};

pub use search::{DEFAULT_LIMIT, MAX_LIMIT};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<AlertStore>,
    pub stats: Arc<Stats>,
    /// The rules and correlation rules in force (swapped by a reload).
    pub rules: reload::SharedRules,
    /// Reloads the rules; `None` where the engine does not run (tests of the API alone).
    pub reloader: Option<Arc<reload::RuleReloader>>,
    /// Per-source counters and health.
    pub health: Arc<vigil_engine::health::SourceHealth>,
    /// The bootstrap admin token.
    pub admin_token: Arc<String>,
    /// Role tokens (`vigil token create`).
    pub tokens: Arc<access::TokenStore>,
    /// Where every call is recorded; `None` in tests of the API alone.
    pub audit: Option<Arc<audit::AuditLog>>,
    /// Analysts' triage; `None` where the engine does not run.
    pub triage: Option<Arc<vigil_engine::triage::TriageStore>>,
}

/// The API router.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/v1/alerts", get(search::alerts))
        .route("/api/v1/alerts/aggregations", get(search::aggregations))
        .route("/api/v1/alerts/export", get(search::export))
        .route("/api/v1/alerts/{id}", get(search::detail))
        .route("/api/v1/alerts/{id}/triage", post(search::triage))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/rules/reload", post(reload_rules))
        .route("/api/v1/sources", get(sources))
        .route("/metrics", get(prometheus))
        .fallback(not_found)
        // Unknown paths need the token too: a 404 would tell a stranger what exists.
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(search::openapi))
        .merge(protected)
        .with_state(state)
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// An error answer: `{"error": message}`, and for a query that does not parse, the byte
/// `position` where it went wrong.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub position: Option<usize>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), position: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(p) = self.position {
            body["position"] = json!(p);
        }
        (self.status, Json(body)).into_response()
    }
}

/// A 403 unless the caller's role may do `action`.
pub(crate) fn permit(caller: &Caller, action: Action) -> Result<(), ApiError> {
    if caller.role.may(action) {
        return Ok(());
    }
    Err(ApiError::new(StatusCode::FORBIDDEN, format!("forbidden: the {} role may not do this", caller.role.name())))
}

fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Finds the caller of a request (or answers 401), runs it, and records it in the audit log.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let peer = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let caller = match bearer(&request) {
        None => None,
        Some(t) if bool::from(t.as_bytes().ct_eq(state.admin_token.as_bytes())) => Some(Caller::admin()),
        Some(t) => match state.tokens.authenticate(t) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the token file");
                None
            }
        },
    };
    let response = match &caller {
        None => {
            let mut resp = error(StatusCode::UNAUTHORIZED, "unauthorized");
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            resp
        }
        Some(c) => {
            request.extensions_mut().insert(c.clone());
            next.run(request).await
        }
    };
    if let Some(audit) = &state.audit {
        audit.record(&audit::Entry {
            caller: caller.as_ref(),
            method: &method,
            path: &path,
            query: query.as_deref(),
            status: response.status().as_u16(),
            results: response.extensions().get::<audit::Results>().map(|r| r.0),
            millis: started.elapsed().as_secs_f64() * 1000.0,
            peer,
        });
    }
    response
}

#[utoipa::path(get, path = "/api/v1/health", tag = "service", security(),
    responses((status = 200, description = "The server is up: `{\"status\": \"ok\"}`", body = Object)))]
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

#[utoipa::path(get, path = "/api/v1/stats", tag = "service",
    responses(
        (status = 200, description = "Pipeline counters (every province's)", body = Object),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "Only the admin and national analysts", body = crate::openapi::ErrorBody),
    ))]
async fn stats(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Err(r) = permit(&caller, Action::Stats) {
        return r.into_response();
    }
    Json(state.stats.snapshot()).into_response()
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses(
        (status = 200, description = "The rules and correlation rules in force; for callers who read alerts, each with `alerts` (in their scope) and `last_hit`", body = Object),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not read rules", body = crate::openapi::ErrorBody),
    ))]
async fn rules(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Err(r) = permit(&caller, Action::ReadRules) {
        return r.into_response();
    }
    let view = reload::current(&state.rules);
    let store = state.store.clone();
    // A rule author reads rules, not alerts: no counts for that role.
    let scope = caller.role.may(Action::ReadAlerts).then(|| caller.scope.clone());
    let hits = match scope {
        None => Default::default(),
        Some(scope) => match tokio::task::spawn_blocking(move || store.rule_hits(&scope)).await {
            Ok(Ok(h)) => h,
            _ => return error(StatusCode::INTERNAL_SERVER_ERROR, "rule hits unavailable"),
        },
    };
    let counted = caller.role.may(Action::ReadAlerts);
    let with_hits = |id: &str, mut v: serde_json::Value| {
        if counted {
            let h = hits.get(id);
            v["alerts"] = json!(h.map_or(0, |h| h.alerts));
            v["last_hit"] =
                json!(h.and_then(|h| h.last).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        }
        v
    };
    let rules: Vec<serde_json::Value> =
        view.rules.iter().map(|r| with_hits(&r.id, serde_json::to_value(r).unwrap_or_default())).collect();
    let correlations: Vec<serde_json::Value> =
        view.correlations.iter().map(|c| with_hits(&c.meta.id, serde_json::to_value(c).unwrap_or_default())).collect();
    let total = rules.len();
    let mut resp = Json(json!({ "total": total, "rules": rules, "correlations": correlations })).into_response();
    resp.extensions_mut().insert(audit::Results(total as u64));
    resp
}

#[utoipa::path(get, path = "/api/v1/sources", tag = "sources",
    responses(
        (status = 200, description = "The sources in the caller's scope, with counts, rate and health", body = Object),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not read sources", body = crate::openapi::ErrorBody),
    ))]
async fn sources(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Err(r) = permit(&caller, Action::Sources) {
        return r.into_response();
    }
    let sources: Vec<_> = state
        .health
        .list()
        .into_iter()
        .filter(|s| match &caller.scope {
            Scope::All => true,
            Scope::Province(p) => &s.province == p,
            Scope::Agency(a) => &s.agency == a,
        })
        .collect();
    let total = sources.len();
    let mut resp = Json(json!({ "total": total, "sources": sources })).into_response();
    resp.extensions_mut().insert(audit::Results(total as u64));
    resp
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "Only the admin and national analysts", body = crate::openapi::ErrorBody),
    ))]
async fn prometheus(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Err(r) = permit(&caller, Action::Stats) {
        return r.into_response();
    }
    let registry = metrics::registry(state.stats.clone(), state.health.clone(), state.rules.clone());
    match metrics::render(&registry) {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed"),
    }
}

#[utoipa::path(post, path = "/api/v1/rules/reload", tag = "rules",
    responses(
        (status = 200, description = "Reloaded: the difference (added, removed, changed) and counts", body = Object),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "Only rule authors and the admin", body = crate::openapi::ErrorBody),
        (status = 422, description = "Refused: the new problems; the rules in force stay", body = Object),
    ))]
async fn reload_rules(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Err(r) = permit(&caller, Action::ReloadRules) {
        return r.into_response();
    }
    let Some(reloader) = &state.reloader else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "rule reload is not available here");
    };
    let report = reloader.reload().await;
    tracing::info!(by = %caller.name, token = %caller.token, reloaded = report.reloaded, "rule reload requested");
    let status = if report.reloaded { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (status, Json(report)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    fn state(dir: &std::path::Path) -> AppState {
        AppState {
            store: Arc::new(AlertStore::open(dir, 15_000_000).expect("store")),
            stats: Arc::new(Stats::default()),
            rules: Arc::new(std::sync::RwLock::new(Arc::new(reload::RulesView::of(&vigil_rules::RuleSet::bundled())))),
            reloader: None,
            health: Arc::new(vigil_engine::health::SourceHealth::new(
                &vigil_engine::sources::SourceMap::unassigned(vigil_parsers::DEFAULT_TZ),
                &Default::default(),
                vigil_engine::health::HealthSettings {
                    min_silence: std::time::Duration::from_secs(60),
                    learn_factor: 10.0,
                    learn_after: 20,
                },
            )),
            admin_token: Arc::new("s3cret".to_owned()),
            tokens: Arc::new(access::TokenStore::new(dir)),
            audit: None,
            triage: None,
        }
    }

    async fn call(app: Router, uri: &str, auth: Option<&str>) -> (StatusCode, serde_json::Value) {
        let mut req = Request::get(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let resp = app.oneshot(req.body(Body::empty()).expect("request")).await.expect("response");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn every_route_but_health_needs_the_token() {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = app(state(dir.path()));
        assert_eq!(call(app.clone(), "/api/v1/health", None).await.0, StatusCode::OK);
        for uri in ["/api/v1/alerts", "/api/v1/stats", "/api/v1/rules", "/api/v1/nope"] {
            for auth in [None, Some("Bearer wrong"), Some("s3cret"), Some("Basic s3cret"), Some("Bearer s3cret2")] {
                let (status, body) = call(app.clone(), uri, auth).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {auth:?}");
                assert_eq!(body, json!({"error": "unauthorized"}));
            }
        }
        let (status, body) = call(app.clone(), "/api/v1/rules", Some("Bearer s3cret")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total"], 5);
        let (status, body) = call(app.clone(), "/api/v1/alerts?limit=5", Some("Bearer s3cret")).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"total": 0, "alerts": []})));
    }

    #[tokio::test]
    async fn the_openapi_document_describes_every_route() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (status, doc) = call(app(state(dir.path())), "/api/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
        for (path, method) in [
            ("/api/v1/alerts", "get"),
            ("/api/v1/alerts/aggregations", "get"),
            ("/api/v1/alerts/export", "get"),
            ("/api/v1/alerts/{id}", "get"),
            ("/api/v1/alerts/{id}/triage", "post"),
            ("/api/v1/rules", "get"),
            ("/api/v1/rules/reload", "post"),
            ("/api/v1/sources", "get"),
            ("/api/v1/stats", "get"),
            ("/metrics", "get"),
            ("/api/v1/health", "get"),
            ("/api/v1/openapi.json", "get"),
        ] {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} undocumented");
            assert!(op["responses"]["200"].is_object(), "{method} {path}");
        }
        let params: Vec<&str> = doc["paths"]["/api/v1/alerts"]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(params, ["q", "from", "to", "limit", "sort", "cursor"]);
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        assert!(doc["components"]["schemas"]["AlertDoc"].is_object());
    }

    #[tokio::test]
    async fn bad_parameters_are_400_with_a_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = app(state(dir.path()));
        for uri in [
            "/api/v1/alerts?limit=abc",
            "/api/v1/alerts?limit=100001",
            "/api/v1/alerts?from=2026-13-01",
            "/api/v1/alerts?to=now",
            "/api/v1/alerts?q=%22unterminated",
        ] {
            let (status, body) = call(app.clone(), uri, Some("Bearer s3cret")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{uri}: {body}");
        }
    }
}
