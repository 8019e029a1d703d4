"""Schemathesis hooks for the Bourse run (loaded through SCHEMATHESIS_HOOKS).

`positive_data_acceptance` runs as it comes: a request the schema calls valid must not be
answered 400 or 422. A few operations can refuse a schema-valid request for reasons no
market-independent schema can state: the market's tick and lot grid and the asset's scale
(`OFF_GRID`, `INVALID_DECIMAL`), balances and limits (`INSUFFICIENT_BALANCE`, ...), rules
between two fields (`start` after `end`). The document lists them on each such operation
as `x-beyond-schema` (crates/http/src/openapi_rules.rs); the runner lets those operations
answer 422 to positive data, and `beyond_schema_refusals_only` narrows that back down: a
422 there must carry one of the listed codes, or `VALIDATION_ERROR` with the message of a
listed relation (`"<field>: ..."`). Anything else is a rule missing from the schema.
"""

import json

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case


@schemathesis.check
def beyond_schema_refusals_only(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    if response.status_code != 422:
        return None
    beyond = case.operation.definition.raw.get("x-beyond-schema")
    if beyond is None:
        return None  # positive_data_acceptance already fails it
    try:
        error = json.loads(response.content)["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"422 without the API's error shape: {response.content[:300]!r}")
    if code in beyond["codes"]:
        return None
    if code == "VALIDATION_ERROR" and any(message.startswith(r["field"] + ":") for r in beyond["relations"]):
        return None
    raise AssertionError(
        f"A schema-valid request was refused with {code}, which the operation's x-beyond-schema "
        f"does not list: {message!r}"
    )
