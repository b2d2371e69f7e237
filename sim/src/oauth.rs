//! The login host: `POST /oauth/token` (client credentials; authorization code
//! with PKCE) and `/oauth/authorize` (a sign-in page listing the seed agents).

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::frontdoor::basic_credentials;
use crate::org::OAuthClient;
use crate::util::{json_response, oauth_error, opaque, query_value};
use crate::{CodeRec, Shared, CODE_TTL};

type Params = HashMap<String, String>;

/// A token-endpoint error for requests rejected before any grant logic.
fn invalid_request(desc: &str) -> Response {
    oauth_error(400, "invalid_request", desc)
}

pub async fn token(
    State(sim): State<Shared>,
    headers: HeaderMap,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return invalid_request("the body must be application/x-www-form-urlencoded");
    };
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => client_credentials(&sim, &headers),
        Some("authorization_code") => authorization_code(&sim, &headers, &form),
        Some(_) => oauth_error(400, "unsupported_grant_type", "grant type not supported"),
        None => invalid_request("grant_type is required"),
    }
}

fn token_response(sim: &Shared, client_id: &str, user_id: Option<&str>) -> Response {
    let token = sim.issue_token(client_id, user_id);
    let mut r = json_response(
        200,
        json!({"access_token": token, "token_type": "bearer", "expires_in": sim.cfg.token_ttl.as_secs()}),
    );
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

fn client_credentials(sim: &Shared, headers: &HeaderMap) -> Response {
    let Some((id, secret)) = basic_credentials(headers) else {
        return oauth_error(401, "invalid_client", "authentication failed");
    };
    let Some(client) = sim.cfg.org.client(&id) else {
        return oauth_error(401, "invalid_client", "client not found");
    };
    if client.secret.as_deref() != Some(secret.as_str()) {
        return oauth_error(401, "invalid_client", "authentication failed");
    }
    if !client.grants.iter().any(|g| g == "client_credentials") {
        return oauth_error(
            400,
            "unauthorized_client",
            "the client is not allowed to use this grant type",
        );
    }
    token_response(sim, &id, None)
}

fn authorization_code(sim: &Shared, headers: &HeaderMap, form: &Params) -> Response {
    let client_id = match (basic_credentials(headers), form.get("client_id")) {
        (Some((id, secret)), _) => match sim.cfg.org.client(&id) {
            Some(c) if c.secret.as_deref() == Some(secret.as_str()) => id,
            _ => return oauth_error(401, "invalid_client", "authentication failed"),
        },
        (None, Some(id)) => match sim.cfg.org.client(id) {
            Some(c) if c.secret.is_none() => id.clone(),
            Some(_) => return oauth_error(401, "invalid_client", "authentication failed"),
            None => return oauth_error(401, "invalid_client", "client not found"),
        },
        (None, None) => return invalid_request("client_id is required"),
    };
    let (Some(code), Some(redirect_uri)) = (form.get("code"), form.get("redirect_uri")) else {
        return invalid_request("code and redirect_uri are required");
    };
    let Some(verifier) = form.get("code_verifier") else {
        return invalid_request("code_verifier is required");
    };
    // Single use: the code is removed whatever happens next.
    let Some(rec) = sim.lock().codes.remove(code) else {
        return oauth_error(
            400,
            "invalid_grant",
            "authorization code is invalid, expired or already used",
        );
    };
    if rec.expires <= Instant::now() {
        return oauth_error(400, "invalid_grant", "authorization code expired");
    }
    if rec.client_id != client_id {
        return oauth_error(
            400,
            "invalid_grant",
            "authorization code was issued to another client",
        );
    }
    if &rec.redirect_uri != redirect_uri {
        return oauth_error(
            400,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    let digest = Sha256::digest(verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    if !(43..=128).contains(&verifier.len()) || challenge != rec.challenge {
        return oauth_error(400, "invalid_grant", "PKCE verification failed");
    }
    token_response(sim, &client_id, Some(&rec.user_id))
}

/// Checks the parameters shared by the page and its form submission. `Err`
/// with an error page when redirecting would be unsafe; `Ok(Err(url))` when the
/// error goes back to the (valid) redirect URI.
fn check_authorize(sim: &Shared, p: &Params) -> Result<Result<OAuthClient, String>, Response> {
    let client = p
        .get("client_id")
        .and_then(|id| sim.cfg.org.client(id))
        .cloned();
    let Some(client) = client else {
        return Err(error_page(
            "Unknown client",
            "The client_id is not an OAuth client of this organization.",
        ));
    };
    let Some(redirect) = p.get("redirect_uri").filter(|r| client.allows_redirect(r)) else {
        return Err(error_page(
            "Invalid redirect URI",
            "The redirect_uri is not registered for this OAuth client.",
        ));
    };
    let back = |error: &str, desc: &str| {
        Ok(Err(redirect_with(
            redirect,
            &[("error", error), ("error_description", desc)],
            p.get("state"),
        )))
    };
    if p.get("response_type").map(String::as_str) != Some("code")
        || !client.grants.iter().any(|g| g == "authorization_code")
    {
        return back(
            "unsupported_response_type",
            "only response_type=code is supported for this client",
        );
    }
    if p.get("code_challenge_method").map(String::as_str) != Some("S256")
        || p.get("code_challenge").is_none_or(|c| c.len() != 43)
    {
        return back(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        );
    }
    Ok(Ok(client))
}

pub async fn authorize_page(State(sim): State<Shared>, Query(p): Query<Params>) -> Response {
    let client = match check_authorize(&sim, &p) {
        Err(page) => return page,
        Ok(Err(url)) => return redirect(&url),
        Ok(Ok(c)) => c,
    };
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "response_type",
        "code_challenge",
        "code_challenge_method",
        "state",
    ]
    .iter()
    .filter_map(|k| {
        p.get(*k).map(|v| {
            format!(
                r#"<input type="hidden" name="{k}" value="{}">"#,
                html_escape::encode_safe(v)
            )
        })
    })
    .collect();
    let agents: String = sim
        .cfg
        .org
        .users
        .iter()
        .map(|u| {
            format!(
                r#"<button type="submit" name="userId" value="{id}" data-user="{id}"><strong>{name}</strong><span>{email} · {presence}</span></button>"#,
                id = html_escape::encode_safe(&u.id),
                name = html_escape::encode_safe(&u.name),
                email = html_escape::encode_safe(&u.email),
                presence = html_escape::encode_safe(&u.presence)
            )
        })
        .collect();
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>Sign in · Genesys Cloud (simulated)</title>
<style>body{{font:16px system-ui,sans-serif;background:#f4f5f7;margin:0;display:grid;place-items:center;min-height:100vh}}
main{{background:#fff;padding:2rem;border-radius:12px;box-shadow:0 2px 12px #0002;max-width:26rem;width:90%}}
h1{{font-size:1.3rem;margin:0 0 .3rem}}p{{color:#555;margin:0 0 1.2rem}}
button{{display:flex;flex-direction:column;align-items:flex-start;width:100%;padding:.8rem 1rem;margin:.5rem 0;border:1px solid #ccd;border-radius:8px;background:#fff;cursor:pointer;font:inherit}}
button:hover,button:focus{{border-color:#ff4f1f;outline:none}}button span{{color:#666;font-size:.85rem}}
.deny{{align-items:center;color:#a00}}</style></head><body><main>
<h1>Sign in to Genesys Cloud</h1><p>genesys-sim · {org} · app “{app}” wants to act as you.</p>
<form method="post" action="/oauth/authorize">{hidden}{agents}
<button class="deny" type="submit" name="deny" value="1">Cancel</button></form></main></body></html>"#,
        org = html_escape::encode_safe(&sim.cfg.org.organization.name),
        app = html_escape::encode_safe(&client.name),
    ))
    .into_response()
}

pub async fn authorize_submit(
    State(sim): State<Shared>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return error_page("Bad request", "The sign-in form could not be read.");
    };
    match check_authorize(&sim, &p) {
        Err(page) => page,
        Ok(Err(url)) => redirect(&url),
        Ok(Ok(client)) => {
            let redirect_uri = p.get("redirect_uri").cloned().unwrap_or_default();
            if p.contains_key("deny") {
                return redirect(&redirect_with(
                    &redirect_uri,
                    &[
                        ("error", "access_denied"),
                        ("error_description", "the user cancelled the sign-in"),
                    ],
                    p.get("state"),
                ));
            }
            let Some(user) = p.get("userId").and_then(|u| sim.cfg.org.user(u)) else {
                return error_page("Unknown user", "Pick one of the listed agents.");
            };
            let code = opaque();
            let challenge = p.get("code_challenge").cloned().unwrap_or_default();
            sim.lock().codes.insert(
                code.clone(),
                CodeRec {
                    client_id: client.id.clone(),
                    redirect_uri: redirect_uri.clone(),
                    challenge,
                    user_id: user.id.clone(),
                    expires: Instant::now() + CODE_TTL,
                },
            );
            redirect(&redirect_with(
                &redirect_uri,
                &[("code", &code)],
                p.get("state"),
            ))
        }
    }
}

fn redirect_with(base: &str, params: &[(&str, &str)], state: Option<&String>) -> String {
    let mut url = base.to_string();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params
        .iter()
        .copied()
        .chain(state.map(|s| ("state", s.as_str())))
    {
        url.push(sep);
        url.push_str(k);
        url.push('=');
        url.push_str(&query_value(v));
        sep = '&';
    }
    url
}

fn redirect(url: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        r.headers_mut().insert("location", v);
    }
    r
}

fn error_page(title: &str, detail: &str) -> Response {
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{t}</title></head><body style="font:16px system-ui;margin:3rem"><h1>{t}</h1><p>{d}</p></body></html>"#,
        t = html_escape::encode_safe(title),
        d = html_escape::encode_safe(detail)
    );
    (StatusCode::BAD_REQUEST, Html(html)).into_response()
}
