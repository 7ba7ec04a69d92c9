//! The admin listener's routes (loopback only, no authentication):
//!
//! | request | does | answers |
//! |---|---|---|
//! | `GET /worldservers` | lists the view | 200 `{"worldservers":[{"id","alias","health","players"}]}` |
//! | `POST /drain?worldserver=ID` | drains it: its players move away, nobody is placed there; one the view does not list yet stays drained when it appears (`"known":false`) | 200 |
//! | `POST /undrain?worldserver=ID` | ends the drain | 200 |
//! | `POST /layer-switch?guid=G&to=ID` | moves the character to another worldserver of its map | 202; 404 unknown; 409 not admitting; 503 too many pending |
//!
//! Anything else is a 4xx with `{"error": ...}` naming what was wrong.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::http::{self, Refusal, json_string};
use crate::cluster::WorldserverId;
use crate::driver::{Gateway, LayerSwitchRefused};
use crate::session::CharacterGuid;

/// Longest worldserver id accepted in a request.
pub const WORLDSERVER_ID_MAX_BYTES: usize = 128;

/// Routes one admin request.
pub async fn route(gateway: &Arc<Gateway>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let known = ["/worldservers", "/drain", "/undrain", "/layer-switch"];
    if !known.contains(&path.as_str()) {
        return http::error(StatusCode::NOT_FOUND, "no such endpoint");
    }
    let wanted = if path == "/worldservers" {
        Method::GET
    } else {
        Method::POST
    };
    if parts.method != wanted {
        return http::method_not_allowed(if wanted == Method::GET { "GET" } else { "POST" });
    }
    if let Err(refused) = http::drain_body(body).await {
        return refused.response();
    }
    let query = match http::query_pairs(parts.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return http::error(StatusCode::BAD_REQUEST, &e.0),
    };
    let param = |name: &str| -> Result<&str, Refusal> {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("query parameter `{name}` is missing"),
                )
            })
    };
    let answer = match path.as_str() {
        "/worldservers" => Ok(list(gateway)),
        "/drain" => param("worldserver")
            .and_then(worldserver_id)
            .map(|id| drain(gateway, &id, true)),
        "/undrain" => param("worldserver")
            .and_then(worldserver_id)
            .map(|id| drain(gateway, &id, false)),
        _ => param("guid").and_then(guid).and_then(|guid| {
            param("to")
                .and_then(worldserver_id)
                .map(|to| layer_switch(gateway, guid, &to))
        }),
    };
    answer.unwrap_or_else(|refused| refused.response())
}

fn worldserver_id(s: &str) -> Result<WorldserverId, Refusal> {
    if s.is_empty() || s.len() > WORLDSERVER_ID_MAX_BYTES || s.chars().any(char::is_control) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("a worldserver id is 1 to {WORLDSERVER_ID_MAX_BYTES} printable bytes"),
        ));
    }
    Ok(WorldserverId(s.to_owned()))
}

fn guid(s: &str) -> Result<CharacterGuid, Refusal> {
    match s.parse::<u64>() {
        Ok(g) if g != 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(CharacterGuid(g)),
        _ => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "guid {} is not a character guid (a positive whole number)",
                json_string(s)
            ),
        )),
    }
}

fn list(gateway: &Gateway) -> Response<Full<Bytes>> {
    let view = gateway.view();
    let entries: Vec<String> = view
        .servers()
        .map(|s| {
            format!(
                r#"{{"id":{},"alias":{},"health":"{:?}","players":{}}}"#,
                json_string(&s.info.server.id.0),
                json_string(&s.info.alias),
                s.health,
                s.players
            )
        })
        .collect();
    http::json(
        StatusCode::OK,
        format!(r#"{{"worldservers":[{}]}}"#, entries.join(",")),
    )
}

fn drain(gateway: &Gateway, id: &WorldserverId, draining: bool) -> Response<Full<Bytes>> {
    gateway.set_draining(id, draining);
    let health = gateway.view().get(id).map(|s| format!("{:?}", s.health));
    if health.is_none() && draining {
        tracing::warn!(
            worldserver = %id,
            "admin: drain of a worldserver the view does not list (yet); it is drained when it appears"
        );
    } else {
        tracing::info!(worldserver = %id, draining, "admin: drain changed");
    }
    http::json(
        StatusCode::OK,
        format!(
            r#"{{"worldserver":{},"known":{},"draining":{draining},"health":"{}"}}"#,
            json_string(&id.0),
            health.is_some(),
            health.as_deref().unwrap_or("unknown")
        ),
    )
}

fn layer_switch(
    gateway: &Gateway,
    guid: CharacterGuid,
    to: &WorldserverId,
) -> Response<Full<Bytes>> {
    match gateway.switch_layer(guid, to) {
        Ok(()) => {
            tracing::info!(guid = guid.0, to = %to, "admin: layer switch requested");
            http::json(
                StatusCode::ACCEPTED,
                format!(
                    r#"{{"guid":{},"to":{},"accepted":true}}"#,
                    guid.0,
                    json_string(&to.0)
                ),
            )
        }
        Err(refused) => {
            let status = match refused {
                LayerSwitchRefused::UnknownWorldserver(_) => StatusCode::NOT_FOUND,
                LayerSwitchRefused::NotAdmitting(..) => StatusCode::CONFLICT,
                LayerSwitchRefused::TooManyPending => StatusCode::SERVICE_UNAVAILABLE,
            };
            http::error(status, &refused.to_string())
        }
    }
}
