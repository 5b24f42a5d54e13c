//! vigil's HTTP API for SOC analysts. Architecture invariant: only this crate speaks HTTP.
//!
//! Routes (all JSON):
//! - `GET /api/v1/health`: liveness, no authentication.
//! - `GET /api/v1/alerts?q=&from=&to=&limit=`: alert search, newest first.
//! - `GET /api/v1/stats`: pipeline counters.
//! - `GET /api/v1/rules`: the loaded rules and correlation rules.
//! - `GET /api/v1/sources`: every source with its counts, last event, rate and health state.
//! - `GET /metrics`: Prometheus text format (see [`metrics`]).
//! - `POST /api/v1/rules/reload`: load the rule folders again and swap them in (see
//!   [`reload`]); 200 with the difference, or 422 with the problems that refused it.
//!
//! Every route but health needs `Authorization: Bearer TOKEN`; anything else is a 401 with a
//! JSON error that reveals nothing more.

pub mod metrics;
pub mod reload;
pub mod token;

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use vigil_engine::{AlertQuery, AlertStore, Stats, StoreError};

/// Default and largest `limit` of an alert search.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;

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
    pub admin_token: Arc<String>,
}

/// The API router.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/rules/reload", post(reload_rules))
        .route("/api/v1/sources", get(sources))
        .route("/metrics", get(prometheus))
        .fallback(not_found)
        // Unknown paths need the token too: a 404 would tell a stranger what exists.
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new().route("/api/v1/health", get(health)).merge(protected).with_state(state)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = presented.is_some_and(|t| bool::from(t.as_bytes().ct_eq(state.admin_token.as_bytes())));
    if !ok {
        let mut resp = error(StatusCode::UNAUTHORIZED, "unauthorized");
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    next.run(request).await
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

#[derive(Debug, Deserialize)]
struct AlertParams {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| format!("`{name}` is not an RFC 3339 time: {e}")),
    }
}

async fn alerts(
    State(state): State<AppState>,
    params: Result<Query<AlertParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    let (from, to) = match (parse_time("from", params.from.as_deref()), parse_time("to", params.to.as_deref())) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(m), _) | (_, Err(m)) => return error(StatusCode::BAD_REQUEST, &m),
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return error(StatusCode::BAD_REQUEST, &format!("`limit` is at most {MAX_LIMIT}"));
    }
    let query = AlertQuery { q: params.q.unwrap_or_default(), from, to, limit };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.search(&query)).await {
        Ok(Ok(result)) => Json(result).into_response(),
        Ok(Err(StoreError::Query(m))) => error(StatusCode::BAD_REQUEST, &format!("invalid query: {m}")),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "alert search failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "search failed")
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "search failed"),
    }
}

async fn stats(State(state): State<AppState>) -> Json<vigil_engine::StatsSnapshot> {
    Json(state.stats.snapshot())
}

async fn rules(State(state): State<AppState>) -> Json<serde_json::Value> {
    let view = reload::current(&state.rules);
    Json(json!({ "total": view.rules.len(), "rules": view.rules, "correlations": view.correlations }))
}

async fn sources(State(state): State<AppState>) -> Json<serde_json::Value> {
    let sources = state.health.list();
    Json(json!({ "total": sources.len(), "sources": sources }))
}

async fn prometheus(State(state): State<AppState>) -> Response {
    let registry = metrics::registry(state.stats.clone(), state.health.clone(), state.rules.clone());
    match metrics::render(&registry) {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed"),
    }
}

async fn reload_rules(State(state): State<AppState>) -> Response {
    let Some(reloader) = &state.reloader else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "rule reload is not available here");
    };
    let report = reloader.reload().await;
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
