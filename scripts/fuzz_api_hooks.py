"""Schemathesis hooks for scripts/fuzz-api: one check and one data-generation hook, both for
ingest-api's `POST /api/signals` only (other operations, and other services' documents, are
left to schemathesis' own checks and data).

The check holds ingest-api to the promise its OpenAPI document makes about signals the schema
allows: they are accepted (202, or 200 for a duplicate), or refused with 422 `invalid_signal`
only for the rules listed under the request body's `x-parser-only-rules` (price order, exact
prices, the clock), which no JSON Schema can state. Schemathesis' own
`positive_data_acceptance` cannot express that exception, so it is not used. The list is read
from `proto/ingest-api.openapi.json`, which scripts/fuzz-api has checked to be the document the
running service serves (and fuzzes from).

The hook makes half the generated signals acceptable as far as those rules go. Drawn from the
schema alone, `generated_at` is almost never within minutes of now and a buy's prices are in
order one time in six, so nearly every signal would be refused and the path that publishes
to NATS (202, 200) would hardly run; the other half still tries the refusals.
"""

import datetime
import decimal
import json
import pathlib

import hypothesis.strategies as st
import jsonschema_rs
import schemathesis

PROTO = pathlib.Path(__file__).resolve().parent.parent / "proto"

SIGNAL_SCHEMA = jsonschema_rs.validator_for(
    json.loads((PROTO / "signal.v1.schema.json").read_text()), validate_formats=True
)


def _parser_only_rules():
    """`(field, code)` of every rule the OpenAPI document says only the parser enforces."""
    document = json.loads((PROTO / "ingest-api.openapi.json").read_text())
    rules = document["paths"]["/api/signals"]["post"]["requestBody"]["x-parser-only-rules"]
    return {(field, rule["code"]) for rule in rules for field in rule["fields"]}


PARSER_ONLY = _parser_only_rules()


def _is_signal_post(case):
    return case.method.upper() == "POST" and case.path == "/api/signals"


@schemathesis.check
def schema_valid_signals_are_refused_only_by_parser_rules(ctx, response, case):
    """A signal the schema allows: accepted, or refused only with documented parser-only codes."""
    if not _is_signal_post(case) or case.meta is None:
        return None
    # Only positive cases sent as generated: a negative case may break the headers (the key,
    # the Content-Type) rather than the body, and a positive one is judged by its body as
    # sent, which must itself be valid (schemathesis may still draw one that is not).
    body = case.body
    if not case.meta.generation.mode.is_positive or not isinstance(body, dict):
        return None
    if not SIGNAL_SCHEMA.is_valid(body):
        return None
    status = response.status_code
    if status in (200, 202) or status >= 500:  # 5xx: not_a_server_error reports those
        return None
    if status != 422:
        raise AssertionError(
            f"a signal the schema allows was answered {status}, not 202, 200 or 422: "
            f"{response.text[:500]}"
        )
    error = response.json().get("error", {})
    undocumented = sorted(
        {(d.get("field"), d.get("code")) for d in error.get("details", [])} - PARSER_ONLY
    )
    if error.get("code") != "invalid_signal" or undocumented:
        raise AssertionError(
            "a signal the schema allows was refused for a rule the schema states, or one "
            "x-parser-only-rules does not list: "
            + ", ".join(f"{field}: {code}" for field, code in undocumented)
            + f"\n{response.text[:1000]}"
        )
    return None


def _fresh(body):
    """`body` generated now, with its deadline (if any) an hour on and, for a buy or a sell,
    its prices in order: what the parser can still refuse is what the drawn values themselves
    break (equal prices, a price not held exactly)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    fresh = {**body, "generated_at": now.isoformat()}
    if isinstance(body.get("valid_until"), str):
        fresh["valid_until"] = (now + datetime.timedelta(hours=1)).isoformat()
    names = ("stop_loss", "entry_price", "target_price")
    prices = [body.get(name) for name in names]
    if body.get("kind") in ("buy", "sell") and all(
        isinstance(p, (str, int, float)) and not isinstance(p, bool) for p in prices
    ):
        try:
            ordered = sorted(prices, key=lambda p: decimal.Decimal(str(p)))
        except (decimal.InvalidOperation, ValueError, TypeError):
            return fresh  # a negative case's price that is no number at all
        if body["kind"] == "sell":
            ordered.reverse()
        fresh.update(zip(names, ordered))
    return fresh


@schemathesis.hook
def flatmap_body(ctx, body):
    """Half the signal bodies: made acceptable as far as the parser-only rules go."""
    operation = ctx.operation
    if operation is None or not (
        operation.method.upper() == "POST" and operation.path == "/api/signals"
    ):
        return st.just(body)
    if not isinstance(body, dict) or not isinstance(body.get("generated_at"), str):
        return st.just(body)
    # A new dict: the drawn value may be shared with schemathesis' own records of the case.
    return st.booleans().map(lambda make_fresh: _fresh(body) if make_fresh else body)
