//! Alert search, aggregations, export and detail: every one runs inside the caller's scope
//! (the store adds it to the query; see `vigil_engine::store::query`).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use vigil_engine::store::schema::{Entity, TriageFields, entities};
use vigil_engine::triage::{Change, TriageError};
use vigil_engine::{AggQuery, Alert, AlertQuery, Facet, SortOrder, StoreError};

use crate::access::{Action, Caller};
use crate::audit::Results;
use crate::{ApiError, AppState, permit};

/// Default and largest `limit` of an alert search page.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;
/// Most alerts one export streams.
pub const MAX_EXPORT: usize = 1_000_000;
/// Alerts read per page while exporting.
const EXPORT_PAGE: usize = 1_000;

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query (tantivy's language; see the README).
    pub q: Option<String>,
    /// Inclusive event-time bounds, RFC 3339.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<usize>,
    /// `newest` (default) or `oldest`.
    pub sort: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AggParams {
    pub q: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Comma-separated facets (default: province, agency, rule, level, tactic, technique,
    /// host, status).
    pub facets: Option<String>,
    /// Buckets per facet (default 10, at most 1000).
    pub size: Option<usize>,
    /// Whether to count over time too (default true).
    pub histogram: Option<bool>,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    pub q: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sort: Option<String>,
    /// `ndjson` (default) or `csv`.
    pub format: Option<String>,
    /// Most alerts to export (default and at most 1,000,000).
    pub limit: Option<usize>,
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("`{name}` is not an RFC 3339 time: {e}"))),
    }
}

fn parse_sort(value: Option<&str>) -> Result<SortOrder, ApiError> {
    match value.unwrap_or("newest") {
        "newest" | "" => Ok(SortOrder::NewestFirst),
        "oldest" => Ok(SortOrder::OldestFirst),
        other => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("`sort` is `newest` or `oldest`, not `{other}`"))),
    }
}

fn params<T>(p: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    p.map(|Query(p)| p).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

/// The query, range and scope of a request.
fn base(caller: &Caller, q: Option<String>, from: Option<&str>, to: Option<&str>) -> Result<AlertQuery, ApiError> {
    let (from, to) = (parse_time("from", from)?, parse_time("to", to)?);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "`from` is after `to`"));
    }
    Ok(AlertQuery { q: q.unwrap_or_default(), from, to, scope: caller.scope.clone(), ..Default::default() })
}

/// A store failure as an answer: a bad query is the caller's 400, with where it went wrong.
fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Query { message, position } => {
            ApiError { status: StatusCode::BAD_REQUEST, message: format!("invalid query: {message}"), position }
        }
        e => {
            tracing::error!(error = %e, "alert store failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "search failed")
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(store_error(e)),
        Err(_) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "search failed")),
    }
}

fn with_results(mut resp: Response, n: u64) -> Response {
    resp.extensions_mut().insert(Results(n));
    resp
}

/// `GET /api/v1/alerts`: a page of alerts, newest first unless `sort=oldest`, and the cursor
/// of the next page.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(SearchParams),
    responses(
        (status = 200, description = "A page of alerts in the caller's scope", body = crate::openapi::SearchPage),
        (status = 400, description = "A bad parameter or query (with the position of a syntax error)", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not read alerts", body = crate::openapi::ErrorBody),
    ))]
pub async fn alerts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    p: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    permit(&caller, Action::ReadAlerts)?;
    let p = params(p)?;
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("`limit` is at most {MAX_LIMIT}")));
    }
    let mut query = base(&caller, p.q, p.from.as_deref(), p.to.as_deref())?;
    query.limit = limit;
    query.sort = parse_sort(p.sort.as_deref())?;
    query.cursor = p.cursor.filter(|c| !c.is_empty());
    let store = state.store.clone();
    let result = blocking(move || store.search(&query)).await?;
    let n = result.alerts.len() as u64;
    let alerts: Vec<serde_json::Value> = result.alerts.iter().map(|a| with_triage(&state, a)).collect();
    let mut body = json!({ "total": result.total, "alerts": alerts });
    if let Some(next) = result.next {
        body["next"] = json!(next);
    }
    Ok(with_results(Json(body).into_response(), n))
}

/// `GET /api/v1/alerts/aggregations`: counts by facet and a time histogram.
#[utoipa::path(get, path = "/api/v1/alerts/aggregations", tag = "alerts", params(AggParams),
    responses(
        (status = 200, description = "Counts by facet and over time, in the caller's scope", body = crate::openapi::AggregationsDoc),
        (status = 400, description = "A bad parameter or query", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not read alerts", body = crate::openapi::ErrorBody),
    ))]
pub async fn aggregations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    p: Result<Query<AggParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    permit(&caller, Action::ReadAlerts)?;
    let p = params(p)?;
    let facets = match p.facets.as_deref().filter(|f| !f.trim().is_empty()) {
        None => Facet::DEFAULT.to_vec(),
        Some(list) => list
            .split(',')
            .map(|name| {
                Facet::from_name(name.trim()).ok_or_else(|| {
                    let known: Vec<&str> = Facet::ALL.iter().map(|f| f.name()).collect();
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("unknown facet `{}`; facets are {}", name.trim(), known.join(", ")),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let size = p.size.unwrap_or(10);
    if size == 0 || size > vigil_engine::store::aggs::MAX_FACET_SIZE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`size` is 1 to {}", vigil_engine::store::aggs::MAX_FACET_SIZE),
        ));
    }
    let request = AggQuery {
        search: base(&caller, p.q, p.from.as_deref(), p.to.as_deref())?,
        facets,
        size,
        histogram: p.histogram.unwrap_or(true),
    };
    let store = state.store.clone();
    let mut result = blocking(move || store.aggregate(&request)).await?;
    // ATT&CK writes technique ids in capitals.
    if let Some(t) = result.facets.get_mut("technique") {
        for b in &mut t.buckets {
            b.key = b.key.to_uppercase();
        }
    }
    let n = result.facets.values().map(|f| f.buckets.len() as u64).sum::<u64>();
    Ok(with_results(Json(result).into_response(), n))
}

/// `GET /api/v1/alerts/{id}`: the alert, its triage, the events it was raised on, its member
/// alerts (a correlation's) and the correlation alerts it is a member of. 404 when the caller
/// may not see it.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = String, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert, its events and related alerts", body = crate::openapi::DetailDoc),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not read alerts", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such alert in the caller's scope", body = crate::openapi::ErrorBody),
    ))]
pub async fn detail(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    permit(&caller, Action::ReadAlerts)?;
    let store = state.store.clone();
    let scope = caller.scope.clone();
    let found = blocking(move || {
        let Some(alert) = store.get(&[id.as_str()], &scope)?.into_iter().next() else {
            return Ok(None);
        };
        let members = match &alert.correlation {
            Some(c) => store.get(&c.members.iter().map(String::as_str).collect::<Vec<_>>(), &scope)?,
            None => Vec::new(),
        };
        let member_of = store.search(&AlertQuery {
            q: format!("member:\"{}\"", alert.id.replace(['"', '\\'], "")),
            limit: 100,
            scope: scope.clone(),
            ..Default::default()
        })?;
        Ok(Some((alert, members, member_of.alerts)))
    })
    .await?;
    let Some((alert, members, member_of)) = found else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such alert"));
    };
    let events: Vec<serde_json::Value> = if members.is_empty() {
        vec![event_of(&alert)]
    } else {
        members.iter().filter(|m| m.correlation.is_none()).map(event_of).collect()
    };
    let (triage, history) = match state.triage.clone() {
        Some(store) => {
            let id = alert.id.clone();
            let read =
                tokio::task::spawn_blocking(move || Ok::<_, TriageError>((store.get(&id)?, store.history(&id)?)));
            match read.await {
                Ok(Ok((t, h))) => (json!(t), json!(h)),
                _ => return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "triage unavailable")),
            }
        }
        None => (json!({"status": "new"}), json!([])),
    };
    let body = json!({
        "alert": alert,
        "triage": triage,
        "history": history,
        "events": events,
        "members": members.iter().map(|m| with_triage(&state, m)).collect::<Vec<_>>(),
        "member_of": member_of.iter().map(|a| json!({"id": a.id, "rule": a.rule.title, "time": a.time})).collect::<Vec<_>>(),
    });
    Ok(with_results(Json(body).into_response(), 1))
}

/// `POST /api/v1/alerts/{id}/triage` with `{"status": ..., "assignee": ..., "note": ...}` (each
/// optional; `"assignee": null` unassigns): changes the alert's triage, keeps the change in its
/// history, and answers the new state and the history. 404 when the caller may not see the
/// alert.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/triage", tag = "alerts",
    params(("id" = String, Path, description = "The alert's id")),
    request_body(content = crate::openapi::TriageChangeDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The new triage state and its history", body = crate::openapi::TriageDoc),
        (status = 400, description = "Nothing to change, or a bad value", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not triage", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such alert in the caller's scope", body = crate::openapi::ErrorBody),
    ))]
pub async fn triage(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<Change>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    permit(&caller, Action::Triage)?;
    let Json(change) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let Some(triage) = state.triage.clone() else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "triage is not available here"));
    };
    let store = state.store.clone();
    let scope = caller.scope.clone();
    // The name, and the token id that tells apart tokens of the same name.
    let by = format!("{} ({})", caller.name, caller.token);
    let done = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let alert = store.get(&[id.as_str()], &scope).map_err(store_error)?.into_iter().next();
        let Some(alert) = alert else {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "no such alert"));
        };
        let fail = |e: TriageError| match e {
            TriageError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            e => {
                tracing::error!(error = %e, "triage store failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "triage failed")
            }
        };
        let t = triage.update(&alert.id, &change, &by).map_err(fail)?;
        store.retriage(&alert, TriageFields::of(&t)).map_err(store_error)?;
        let history = triage.history(&alert.id).map_err(fail)?;
        Ok((t, history))
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "triage failed"))??;
    Ok(with_results(Json(json!({ "triage": done.0, "history": done.1 })).into_response(), 1))
}

/// The alert's JSON with its triage status and assignee (`{"status": "new"}` when untouched).
fn with_triage(state: &AppState, a: &Alert) -> serde_json::Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    let t = state.store.triage_of(&a.id).unwrap_or_else(|| TriageFields { status: "new".into(), assignee: None });
    v["triage"] = json!(t);
    v
}

fn event_of(a: &Alert) -> serde_json::Value {
    json!({ "alert": a.id, "time": a.time, "host": a.host, "raw": a.raw, "fields": a.fields, "source": a.source })
}

/// The columns of a CSV export.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "time",
    "rule_id",
    "rule_title",
    "level",
    "province",
    "agency",
    "source",
    "host",
    "user",
    "src_ip",
    "dst_ip",
    "process",
    "command_line",
    "url",
    "raw",
];

fn csv_row(a: &Alert) -> Vec<String> {
    let ents = entities(a);
    let entity = |e: Entity| ents.iter().find(|(k, _)| *k == e).map(|(_, v)| v.clone()).unwrap_or_default();
    vec![
        a.id.clone(),
        a.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        a.rule.id.clone(),
        a.rule.title.clone(),
        a.rule.level.clone(),
        a.province.clone().unwrap_or_default(),
        a.agency.clone().unwrap_or_default(),
        a.source.name.clone().unwrap_or_default(),
        a.host.clone().unwrap_or_default(),
        entity(Entity::User),
        entity(Entity::SrcIp),
        entity(Entity::DstIp),
        entity(Entity::Process),
        entity(Entity::CommandLine),
        entity(Entity::Url),
        a.raw.clone(),
    ]
}

/// `GET /api/v1/alerts/export`: every alert of a search (up to `limit`), streamed as NDJSON or
/// CSV while it is read, a page at a time.
#[utoipa::path(get, path = "/api/v1/alerts/export", tag = "alerts", params(ExportParams),
    responses(
        (status = 200, description = "The alerts, streamed: one JSON alert per line, or CSV with a header row", content((String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 400, description = "A bad parameter or query", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid token", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not read alerts", body = crate::openapi::ErrorBody),
    ))]
pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    p: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    permit(&caller, Action::ReadAlerts)?;
    let p = params(p)?;
    let csv = match p.format.as_deref().unwrap_or("ndjson") {
        "ndjson" | "" => false,
        "csv" => true,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("`format` is `ndjson` or `csv`, not `{other}`"),
            ));
        }
    };
    let limit = p.limit.unwrap_or(MAX_EXPORT);
    if limit > MAX_EXPORT {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("`limit` is at most {MAX_EXPORT}")));
    }
    let mut query = base(&caller, p.q, p.from.as_deref(), p.to.as_deref())?;
    query.sort = parse_sort(p.sort.as_deref())?;
    // Parse and count first: a bad query is a 400, not a broken stream.
    let store = state.store.clone();
    let count_query = query.clone();
    let total = blocking(move || store.search(&count_query)).await?.total;
    let rows = total.min(limit);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || stream_pages(&store, query, limit, csv, &tx));
    let body =
        Body::from_stream(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        ));
    let (kind, name) = if csv {
        ("text/csv; charset=utf-8", "vigil-alerts.csv")
    } else {
        ("application/x-ndjson", "vigil-alerts.ndjson")
    };
    let resp = (
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response();
    Ok(with_results(resp, rows as u64))
}

/// Reads `query` page by page and sends the rows; stops when the client has gone.
fn stream_pages(
    store: &vigil_engine::AlertStore,
    mut query: AlertQuery,
    limit: usize,
    csv: bool,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut sent = 0usize;
    let mut header = csv;
    loop {
        query.limit = EXPORT_PAGE.min(limit - sent);
        if query.limit == 0 {
            return;
        }
        let page = match store.search(&query) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "export failed");
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
                return;
            }
        };
        let mut out = Vec::with_capacity(page.alerts.len() * 512);
        if csv {
            let mut w = csv::Writer::from_writer(&mut out);
            if std::mem::take(&mut header) {
                let _ = w.write_record(CSV_COLUMNS);
            }
            for a in &page.alerts {
                let _ = w.write_record(csv_row(a));
            }
            let _ = w.flush();
        } else {
            for a in &page.alerts {
                if serde_json::to_writer(&mut out, a).is_ok() {
                    out.push(b'\n');
                }
            }
        }
        sent += page.alerts.len();
        if !out.is_empty() && tx.blocking_send(Ok(Bytes::from(out))).is_err() {
            return;
        }
        match page.next {
            Some(next) if sent < limit => query.cursor = Some(next),
            _ => return,
        }
    }
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service", security(),
    responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}
