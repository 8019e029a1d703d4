//! OpenAPI links: which response feeds which operation (`$response.body#/id` of a placed
//! order is the `{id}` of get, cancel and amend). Only from what an operation creates, or
//! from a list that is never empty (users: there is always the admin): a link out of an
//! empty list leads nowhere. Clients and docs readers see how the
//! resources chain; schemathesis' stateful phase walks these chains (create, then read,
//! change and delete what was created) instead of guessing ids.
//!
//! Links name their target by `operationRef` (a JSON pointer into `paths`): utoipa makes
//! operation ids from handler names, which repeat across modules (`list`, `get_one`).

use std::collections::BTreeMap;

use serde_json::json;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::{OpenApi, RefOr};

/// `(from method, from path, status, link name, to method, to path, [(parameter, expression)])`.
type LinkRow = (
    HttpMethod,
    &'static str,
    &'static str,
    &'static str,
    HttpMethod,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const ORDER: &str = "/api/v1/orders/{id}";

fn links() -> Vec<LinkRow> {
    use HttpMethod::{Delete, Get, Patch, Post};
    let id = &[("id", "$response.body#/id")][..];
    vec![
        (Post, "/api/v1/orders", "201", "GetOrder", Get, ORDER, id),
        (
            Post,
            "/api/v1/orders",
            "201",
            "AmendOrder",
            Patch,
            ORDER,
            id,
        ),
        (
            Post,
            "/api/v1/orders",
            "201",
            "CancelOrder",
            Delete,
            ORDER,
            id,
        ),
        (
            Patch,
            ORDER,
            "200",
            "GetAmendedOrder",
            Get,
            ORDER,
            &[("id", "$request.path.id")],
        ),
        (
            Post,
            "/api/v1/api-keys",
            "201",
            "DeleteApiKey",
            Delete,
            "/api/v1/api-keys/{key}",
            &[("key", "$response.body#/key")],
        ),
        (
            Post,
            "/api/v1/price-alerts",
            "201",
            "DeleteAlert",
            Delete,
            "/api/v1/price-alerts/{id}",
            id,
        ),
        (
            Post,
            "/api/v1/admin/markets",
            "201",
            "HaltMarket",
            Post,
            "/api/v1/admin/markets/{symbol}/halt",
            &[("symbol", "$response.body#/symbol")],
        ),
        (
            Post,
            "/api/v1/admin/markets/{symbol}/halt",
            "200",
            "ResumeMarket",
            Post,
            "/api/v1/admin/markets/{symbol}/resume",
            &[("symbol", "$request.path.symbol")],
        ),
        (
            Get,
            "/api/v1/admin/users",
            "200",
            "GetFirstUser",
            Get,
            "/api/v1/admin/users/{username}",
            &[("username", "$response.body#/users/0/username")],
        ),
    ]
}

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Patch => "patch",
        HttpMethod::Delete => "delete",
        HttpMethod::Head => "head",
        HttpMethod::Options => "options",
        HttpMethod::Trace => "trace",
    }
}

fn operation<'a>(item: &'a mut PathItem, m: &HttpMethod) -> Option<&'a mut Operation> {
    match m {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    }
}

/// `#/paths/~1api~1v1~1orders~1%7Bid%7D/get`.
fn operation_ref(path: &str, m: &HttpMethod) -> String {
    let pointer = path
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D");
    format!("#/paths/{pointer}/{}", method_name(m))
}

/// Adds every link of [`links`]; panics on a link whose ends are not in the document (a
/// renamed route must not leave a dangling link behind).
pub fn document_links(doc: &mut OpenApi) {
    for (from_m, from, status, name, to_m, to, params) in links() {
        let target = doc
            .paths
            .paths
            .get_mut(to)
            .and_then(|i| operation(i, &to_m));
        assert!(
            target.is_some(),
            "link {name}: no {} {to}",
            method_name(&to_m)
        );
        let op = doc
            .paths
            .paths
            .get_mut(from)
            .and_then(|i| operation(i, &from_m))
            .unwrap_or_else(|| panic!("link {name}: no {} {from}", method_name(&from_m)));
        let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) else {
            panic!(
                "link {name}: {} {from} has no {status} response",
                method_name(&from_m)
            );
        };
        let parameters: BTreeMap<String, serde_json::Value> = params
            .iter()
            .map(|(p, e)| ((*p).to_owned(), json!(e)))
            .collect();
        let mut link = Link::default();
        // utoipa 5 writes `Link::operation_ref` as `operation_ref`, not `operationRef`:
        // the field goes in under its OpenAPI name as an extension instead.
        let mut named = utoipa::openapi::extensions::Extensions::default();
        named.insert("operationRef".to_owned(), json!(operation_ref(to, &to_m)));
        link.extensions = Some(named);
        link.parameters = parameters;
        response.links.insert(name.to_owned(), RefOr::T(link));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_refs_escape_the_pointer() {
        assert_eq!(
            operation_ref(ORDER, &HttpMethod::Get),
            "#/paths/~1api~1v1~1orders~1%7Bid%7D/get"
        );
    }
}
