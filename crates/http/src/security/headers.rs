//! The security headers, set on every response in one layer (outermost but for
//! tracing, so JSON, errors of every layer, the terminal, `/docs`, `/openapi.json`,
//! CORS preflights and `/health` all carry them).
//!
//! Presets:
//! - `production` (default): the Content-Security-Policy enforced; `X-Frame-Options:
//!   DENY` and `frame-ancestors 'none'`; HSTS when TLS is on or `hsts = true`.
//! - `development`: the same policy sent as `Content-Security-Policy-Report-Only` (a
//!   violation shows in the browser console instead of breaking the page), framing by
//!   the same origin allowed, and never HSTS (a browser told once that `localhost` is
//!   HTTPS-only keeps refusing plain HTTP to it for a year).
//!
//! The policy ([`CSP`]): scripts, styles, fonts and connections only from this origin
//! (`connect-src 'self'` covers the same-origin WebSocket in current browsers), no
//! inline scripts, no `eval`, images also from `data:`/`blob:` (the chart's and Swagger
//! UI's icons). `/docs` is Swagger UI served from the binary (vendored, no CDN): its
//! page loads only same-origin scripts and styles, so the same policy holds there, except
//! that `style-src` also allows inline styles ([`DOCS_CSP`]): Swagger UI's bundle injects
//! a `<style>` element (under the strict policy chromium reports a `style-src-elem`
//! violation from `swagger-ui-bundle.js`). Scripts stay same-origin only, so this
//! opens no script injection. The browser e2e opens both pages and fails on any
//! violation.

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

/// The policy of the terminal and of every other response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The policy of `/docs` (Swagger UI): [`CSP`] plus inline styles (see the module doc).
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; \
    connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

const FRAME_NONE: &str = "frame-ancestors 'none'";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Production,
    Development,
}

/// The headers of one preset, built once.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    common: Vec<(HeaderName, HeaderValue)>,
    csp_name: HeaderName,
    csp: HeaderValue,
    docs_csp: HeaderValue,
}

impl SecurityHeaders {
    /// `hsts`: whether Strict-Transport-Security is due (TLS on, or configured).
    pub fn new(preset: Preset, hsts: bool) -> Self {
        let dev = preset == Preset::Development;
        let frame_ancestors = if dev {
            "frame-ancestors 'self'"
        } else {
            FRAME_NONE
        };
        let policy = |p: &str| {
            HeaderValue::from_str(&p.replace(FRAME_NONE, frame_ancestors))
                .expect("the policies are ASCII")
        };
        let mut common = vec![
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static(if dev { "SAMEORIGIN" } else { "DENY" }),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static(
                    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
                     magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()",
                ),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        if hsts && !dev {
            common.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            ));
        }
        Self {
            common,
            csp_name: if dev {
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY
            } else {
                header::CONTENT_SECURITY_POLICY
            },
            csp: policy(CSP),
            docs_csp: policy(DOCS_CSP),
        }
    }

    /// Sets every header on `res` (replacing what a handler set: this is the one place).
    pub fn apply(&self, path: &str, res: &mut Response) {
        let h = res.headers_mut();
        for (k, v) in &self.common {
            h.insert(k.clone(), v.clone());
        }
        let docs = path == "/docs" || path.starts_with("/docs/");
        h.insert(
            self.csp_name.clone(),
            if docs { &self.docs_csp } else { &self.csp }.clone(),
        );
    }
}

/// Middleware: [`SecurityHeaders::apply`] on the way out.
pub async fn middleware(
    State(headers): State<Arc<SecurityHeaders>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    headers.apply(&path, &mut res);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(preset: Preset, hsts: bool, path: &str) -> axum::http::HeaderMap {
        let mut res = Response::new(axum::body::Body::empty());
        SecurityHeaders::new(preset, hsts).apply(path, &mut res);
        res.headers().clone()
    }

    #[test]
    fn production_enforces_and_sends_hsts_only_when_due() {
        let h = applied(Preset::Production, false, "/api/v1/markets");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        let h = applied(Preset::Production, true, "/docs/");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], DOCS_CSP);
        assert!(h[header::STRICT_TRANSPORT_SECURITY]
            .to_str()
            .unwrap()
            .starts_with("max-age="));
    }

    #[test]
    fn development_reports_only_and_never_pins_https() {
        let h = applied(Preset::Development, true, "/");
        assert!(h.get(header::CONTENT_SECURITY_POLICY).is_none());
        let csp = h[header::CONTENT_SECURITY_POLICY_REPORT_ONLY]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());
    }
}
