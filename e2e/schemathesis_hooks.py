"""Schemathesis hooks for the Bourse run (loaded through SCHEMATHESIS_HOOKS).

`schema_valid_input_accepted` is positive-data acceptance as this API can honestly state it:
a request that the document calls valid must never be refused *for its shape*. Schemathesis'
own `positive_data_acceptance` fails on any 4xx, but most of this API's 4xx answers to a
well-formed request are about state the schema cannot know: a market that does not exist
(`UNKNOWN_MARKET`), an order that is not open (`UNKNOWN_ORDER`), `INSUFFICIENT_BALANCE`, a price
off the market's tick grid (`OFF_GRID`, documented in the operation), a halted market. So this
check fails exactly when a positively generated request is answered with one of the
input-validation codes of the error contract (crates/http/src/error.rs,
crates/gateway/src/error.rs): those mean "the schema should have said so".
"""

import json

import schemathesis

# The codes that mean "your request does not have the documented shape".
INPUT_VALIDATION_CODES = {"VALIDATION_ERROR", "BAD_REQUEST", "MALFORMED_JSON", "UNKNOWN_FIELD"}

# Rules JSON Schema cannot state (they relate two fields, or need a parser), each one written
# in its operation's 422 description; a VALIDATION_ERROR whose message starts with one of
# these is the documented rule at work. Anything else is a rule missing from the schema.
BEYOND_SCHEMA = (
    "start: must not be after end",  # GET /markets/{symbol}/candles
    "allow_ips[",  # POST /api-keys: each entry an IP address or CIDR block
    "permissions: `admin` needs a non-empty allow_ips",  # POST /api-keys
    "nothing to change",  # PATCH /admin/users/{username}: at least one field
    "give either fees",  # POST /admin/markets: fees or maker/taker bps, not both
)


@schemathesis.check
def schema_valid_input_accepted(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    # The coverage phase's request-shape probes (missing or extra parts) are not positive data.
    data = getattr(meta.phase, "data", None)
    scenario = getattr(data, "scenario", None)
    if scenario is not None and "missing" in str(scenario).lower():
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    try:
        message = json.loads(response.content)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = ""
    if code == "VALIDATION_ERROR" and message.startswith(BEYOND_SCHEMA):
        return None
    if code in INPUT_VALIDATION_CODES:
        raise AssertionError(
            f"A schema-valid request was refused as malformed: {response.status_code} {code}: "
            f"{response.content[:300]!r}"
        )
    return None
