"""Endpoint failures, classified: what to retry, what fails one problem, what stops the run.

| failure                                   | kind          | retried                 | effect            |
|-------------------------------------------|---------------|-------------------------|-------------------|
| HTTP 401 / 403                            | auth          | no                      | stop (exit 2)     |
| HTTP 404 (unknown model or URL path)      | not_found     | no                      | stop (exit 2)     |
| connection refused, DNS failure           | unreachable   | twice, briefly          | stop (exit 1)     |
| HTTP 429 / 5xx / timeout / empty 200 body | overloaded    | with backoff, Retry-After | that item fails |
| HTTP 400 and anything else                | bad_request   | no                      | that item fails   |
"""

from __future__ import annotations

import json

from distill.config import ModelRole
from distill.errors import EndpointError

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
UNREACHABLE_RETRIES = 2


class EmptyResponse(RuntimeError):
    """The endpoint answered 200 with no content."""


def where(role_name: str, role: ModelRole | None) -> str:
    name = f"{role_name} role" if role_name else "model"
    return f"{name} ({role.model} at {role.base_url})" if role else name


def classify(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in (401, 403):
            return "auth"
        if exc.status_code == 404:
            return "not_found"
        return "overloaded" if exc.status_code in RETRYABLE_STATUS else "bad_request"
    if isinstance(exc, openai.APITimeoutError):
        return "overloaded"
    if isinstance(exc, openai.APIConnectionError):
        return "unreachable"
    if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, EmptyResponse)):
        return "overloaded"
    return "bad_request"


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header (capped at 60), when the server sent one."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None and hasattr(response, "headers") else None
    try:
        return min(60.0, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def to_endpoint_error(exc: BaseException, role_name: str, role: ModelRole | None) -> EndpointError:
    kind = classify(exc)
    status = getattr(exc, "status_code", None)
    msg = str(getattr(exc, "message", "") or exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    key_hint = f" (check ${role.api_key_env})" if role and role.api_key_env else ""
    detail = {
        "auth": f"the endpoint refused the API key (HTTP {status}){key_hint}",
        "not_found": "the endpoint does not know this model or path (HTTP 404); check base_url and model",
        "unreachable": "cannot connect (connection refused or unknown host); is the server running?",
        "overloaded": f"no answer after retries ({type(exc).__name__}{f', HTTP {status}' if status else ''}: {msg})",
        "bad_request": f"request refused ({type(exc).__name__}{f', HTTP {status}' if status else ''}: {msg})",
    }[kind]
    return EndpointError(kind, where(role_name, role), detail, fatal=kind in ("auth", "not_found", "unreachable"),
                         config=kind in ("auth", "not_found"))
