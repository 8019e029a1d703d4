//! The browser terminal: the Vite build of `web/` (`web/dist`), embedded into the binary
//! and served at `/` as the router's fallback.
//!
//! Rules:
//! - API-like paths (`/api…`, `/ws`, `/docs`, `/openapi.json`, `/health`, `/ready`,
//!   `/metrics`) never reach the web app: an unknown one stays a JSON 404, so clients of
//!   the API never get HTML by mistake. Only `GET`/`HEAD` are served; other methods on
//!   unknown paths are the JSON 404 too.
//! - A path that names a file in the build gets it, with its content type. Files under
//!   `assets/` carry a content hash in their names (Vite), so they are cached for a year
//!   (`immutable`); everything else, `index.html` above all, is `no-cache` so a new build
//!   is picked up at once.
//! - Any other path without a file extension is a client-side route: it gets
//!   `index.html` (single-page-app fallback). A missing file *with* an extension is the
//!   documented JSON 404 (`NOT_FOUND`), like any other unknown path.
//! - Every web response carries the strict Content-Security-Policy and the other
//!   security headers, set with every other response's in one layer
//!   (`crate::security::headers`): scripts only from this origin, no `eval`, no inline
//!   scripts, connections only to this origin. The build is made for it (no inline
//!   scripts, every asset a file).
//! - Without a build (a `cargo build` on a machine without Node), `/` and every client
//!   route answer 200 with a short HTML page saying how to build the terminal — not a 500
//!   ([`app_page`]).
//!
//! In debug builds rust-embed reads `web/dist` from disk at run time, so a fresh
//! `npm run build` shows without recompiling; release builds embed the files (the crate's
//! `build.rs` makes cargo rebuild when `web/dist` changes).

use crate::error::{not_found, ApiError, Error};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Dist;

const NOT_BUILT: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Bourse — terminal not built</title></head>\n<body>\n<h1>Bourse</h1>\n\
<p>The browser terminal is not built into this binary. Run <code>make run</code> (it \
builds <code>web/</code> with Node, then starts the server), or build it yourself with \
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> and rebuild the server.</p>\n\
<p>The API works without it: <a href=\"/docs\">/docs</a>, \
<a href=\"/openapi.json\">/openapi.json</a>, <a href=\"/health\">/health</a>.</p>\n\
</body></html>\n";

/// Paths that belong to the API and operations, never to the web app.
fn is_api_path(path: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "/api",
        "/ws",
        "/docs",
        "/openapi.json",
        "/health",
        "/ready",
        "/metrics",
    ];
    PREFIXES.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The router's fallback: the terminal for web paths, the JSON 404 for everything else.
pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_api_path(path) || (method != Method::GET && method != Method::HEAD) {
        return not_found().await.into_response();
    }
    serve(path)
}

fn serve(path: &str) -> Response {
    let file = path.trim_start_matches('/');
    if !file.is_empty() && !file.ends_with('/') {
        if let Some(asset) = Dist::get(file) {
            let immutable = file.starts_with("assets/");
            return respond(
                asset.data.into_owned(),
                asset.metadata.mimetype(),
                immutable,
            );
        }
        let last = file.rsplit('/').next().unwrap_or(file);
        if last.contains('.') {
            return with_headers(
                ApiError(Error::NotFound("no such file".into())).into_response(),
                false,
            );
        }
    }
    app_page(Dist::get("index.html").map(|f| f.data.into_owned()))
}

/// The answer to a client-side route: the build's `index.html`, or, when there is no
/// build, the "terminal not built" page — 200 and HTML either way, with the same headers.
fn app_page(index: Option<Vec<u8>>) -> Response {
    let body = index.unwrap_or_else(|| NOT_BUILT.as_bytes().to_vec());
    respond(body, "text/html; charset=utf-8", false)
}

fn respond(body: Vec<u8>, mime: &str, immutable: bool) -> Response {
    let mut res = Response::new(Body::from(body));
    if let Ok(v) = HeaderValue::from_str(mime) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    with_headers(res, immutable)
}

fn with_headers(mut res: Response, immutable: bool) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn api_paths_are_not_web_paths() {
        for p in [
            "/api",
            "/api/v1/nope",
            "/ws",
            "/docs",
            "/docs/index.css",
            "/openapi.json",
            "/health",
            "/metrics",
        ] {
            assert!(is_api_path(p), "{p}");
        }
        for p in [
            "/",
            "/admin",
            "/apis",
            "/wsx",
            "/assets/index-abc.js",
            "/markets/BTC-USD",
        ] {
            assert!(!is_api_path(p), "{p}");
        }
    }

    #[tokio::test]
    async fn client_routes_get_a_page_and_missing_assets_404() {
        let page = fallback(Method::GET, "/admin/users".parse().unwrap()).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let missing = fallback(Method::GET, "/assets/nope-123.js".parse().unwrap()).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            json_body(missing).await,
            serde_json::json!({"error": {"code": "NOT_FOUND", "message": "no such file"}})
        );
        let api = fallback(Method::GET, "/api/v1/nope".parse().unwrap()).await;
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert_eq!(api.headers()[header::CONTENT_TYPE], "application/json");
        let post = fallback(Method::POST, "/admin".parse().unwrap()).await;
        assert_eq!(post.status(), StatusCode::NOT_FOUND);
    }

    async fn body_bytes(res: Response) -> Vec<u8> {
        axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec()
    }

    async fn json_body(res: Response) -> serde_json::Value {
        serde_json::from_slice(&body_bytes(res).await).unwrap()
    }

    #[tokio::test]
    async fn without_a_build_routes_get_the_not_built_page() {
        let page = app_page(None);
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
        let html = String::from_utf8(body_bytes(page).await).unwrap();
        assert!(html.contains("terminal not built"), "{html}");
        assert!(html.contains("is not built into this binary"), "{html}");
    }

    #[tokio::test]
    async fn with_a_build_routes_get_its_index() {
        let page = app_page(Some(b"<!doctype html><div id=root></div>".to_vec()));
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            body_bytes(page).await,
            b"<!doctype html><div id=root></div>".to_vec()
        );
    }
}
