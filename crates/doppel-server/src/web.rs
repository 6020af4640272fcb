//! The web dashboard: static files under `crates/doppel-server/web/`, embedded in the binary, served at `/`
//! (the page) and `/web/...` (scripts, styles, vendored libraries). There is no build step: the files are
//! plain ES modules and CSS, served as they are in the repository (docs/web.md).
//!
//! Caching: vendored libraries live under a versioned folder (`vendor/<name>-<version>/`), so they are
//! served as immutable for a year; our own files may change with every release, so they are served with
//! `no-cache` and an `ETag` (the browser revalidates and gets a 304 while they are unchanged).
//!
//! For working on the dashboard, `DOPPEL_WEB_DIR=crates/doppel-server/web` makes the server read the same
//! files from that directory at each request instead of the embedded copies (only names listed in
//! [`FILES`] are served, so nothing else on disk is reachable).

use std::sync::{Arc, OnceLock};

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

/// One embedded file.
pub struct WebFile {
    /// Path under `web/` (and under the URL prefix `/web/`).
    pub path: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! web_files {
    ($($p:literal),* $(,)?) => {
        &[$(WebFile { path: $p, bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $p)) }),*]
    };
}

/// Every file of the dashboard. A test checks that this lists exactly the files under `web/`.
pub static FILES: &[WebFile] = web_files!(
    "index.html",
    "app.css",
    "favicon.svg",
    "js/app.js",
    "js/api.js",
    "js/live.js",
    "js/format.js",
    "js/charts.js",
    "js/dom.js",
    "js/views/overview.js",
    "js/views/asset.js",
    "js/views/decisions.js",
    "js/views/plant3d.js",
    "js/views/whatif.js",
    "js/views/trace.js",
    "vendor/README.md",
    "vendor/uplot-1.6.32/uPlot.iife.min.js",
    "vendor/uplot-1.6.32/uPlot.min.css",
    "vendor/uplot-1.6.32/LICENSE",
    "vendor/three-0.180.0/three.module.min.js",
    "vendor/three-0.180.0/three.core.min.js",
    "vendor/three-0.180.0/OrbitControls.js",
    "vendor/three-0.180.0/LICENSE",
);

/// The media type of a file, from its name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "md" => "text/markdown; charset=utf-8",
        _ => "text/plain; charset=utf-8", // LICENSE files
    }
}

/// Cache policy: vendored libraries are versioned by folder name, so they never change under one URL.
pub fn cache_control(path: &str) -> &'static str {
    if path.starts_with("vendor/") && !path.ends_with(".md") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// 64-bit FNV-1a, for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| FILES.iter().map(|f| format!("\"{:016x}\"", fnv1a(f.bytes))).collect())
}

fn dev_dir() -> Option<&'static std::path::Path> {
    static DIR: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::var_os("DOPPEL_WEB_DIR").map(std::path::PathBuf::from);
        if let Some(d) = &d {
            tracing::warn!(dir = %d.display(), "DOPPEL_WEB_DIR: serving the dashboard from disk, not the embedded copy");
        }
        d
    })
    .as_deref()
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { serve("index.html", &h) }))
        .route("/favicon.ico", get(|h: HeaderMap| async move { serve("favicon.svg", &h) }))
        .route("/web/{*path}", get(|Path(p): Path<String>, h: HeaderMap| async move { serve(&p, &h) }))
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|f| f.path == path) else {
        let body = json!({"error": {"status": 404, "field": "path", "message": format!("no dashboard file '{path}'")}});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let file = &FILES[i];
    let from_disk = dev_dir().and_then(|d| std::fs::read(d.join(file.path)).ok());
    let etag = match &from_disk {
        Some(b) => format!("\"{:016x}\"", fnv1a(b)),
        None => etags()[i].clone(),
    };
    let mut resp = if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = match from_disk {
            Some(b) => b.into_response(),
            None => file.bytes.into_response(),
        };
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(file.path)));
        r
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control(file.path)));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}
