"""The one place where domain refusals become HTTP statuses, and the one error body."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.refusals import (
    MAX_LISTED,
    MORE_PROBLEMS,
    Conflict,
    FieldProblem,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    Refusal,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    field_errors,
)

STATUS: dict[type[Refusal], int] = {
    Malformed: 400, Unauthenticated: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
    TooLarge: 413, UnsupportedMediaType: 415, Invalid: 422, Unavailable: 503,
}


def status_of(refusal: Refusal) -> int:
    """The HTTP status of a refusal: its kind's, the nearest kind's for a subclass."""
    for kind in type(refusal).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 422


def error_body(code: str, message: str, fields: list[FieldProblem] | None = None) -> dict:
    """The one error shape of every service."""
    return {"error": {"code": code, "message": message,
                      "fields": [f.as_dict() for f in fields or []]}}


def refusal_response(refusal: Refusal) -> JSONResponse:
    """A refusal as an HTTP response."""
    status = status_of(refusal)
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(refusal.code, refusal.message, refusal.fields),
                        status_code=status, headers=headers)


async def _on_refusal(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    return refusal_response(exc)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = field_errors(exc.errors())
    if any(f.rule == "json_invalid" for f in fields):
        return JSONResponse(error_body("malformed_json", "the body is not valid JSON", fields), 400)
    return JSONResponse(error_body("invalid", "the request breaks a rule", fields), 422)


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Refusals, request validation and routing errors, all in the one error body."""
    app.add_exception_handler(Refusal, _on_refusal)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


def invalid_body(errors: Any, message: str = "the request breaks a rule") -> Refusal:
    """A pydantic failure on a body read by hand: 400 if it is not JSON, else 422."""
    fields = field_errors(errors)
    if any(f.rule == "json_invalid" for f in fields):
        return Malformed("malformed_json", "the body is not valid JSON", fields)
    return Invalid("invalid", message, fields)


class ErrorField(BaseModel):
    field: str = Field(description="Where: `period`, `activities.0.count`, a header...")
    rule: str = Field(description="The rule broken, a stable code.")
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable code, e.g. `unauthenticated`, `period_format`.")
    message: str
    fields: list[ErrorField] = Field(description="The fields at fault. A long list stops "
                                     f"after {MAX_LISTED}, and a last entry with the field "
                                     f"empty and the rule `{MORE_PROBLEMS}` counts the rest.")


class ErrorBody(BaseModel):
    """Every refusal of every service."""

    error: ErrorDetail


_DESCRIPTIONS = {400: "Malformed body", 401: "No valid Bearer token", 403: "Not allowed for "
                 "this credential", 404: "Not found", 409: "Conflicts with what is stored",
                 413: "Too large", 415: "Unsupported media type", 422: "Breaks a rule",
                 503: "A dependency is unavailable"}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the refusals a route can answer with."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
            for status in statuses}


_REF = "#/components/schemas/{model}"


def document_edge_refusals(openapi: dict[str, Any]) -> None:
    """Add to an OpenAPI document what the edge answers on any route, whatever the route
    declares: a 400 where a JSON body is read (it may not be JSON), and the one error body
    for the 422s that FastAPI documents with its own body, which this edge never sends."""
    for operation in _operations(openapi):
        responses = operation.setdefault("responses", {})
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            responses.setdefault("400", _error_response(400))
        if _schema_ref(responses.get("422")) == _REF.format(model="HTTPValidationError"):
            responses["422"] = _error_response(422)
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    error = ErrorBody.model_json_schema(ref_template=_REF)
    for name, schema in {"ErrorBody": error, **error.pop("$defs", {})}.items():
        schemas.setdefault(name, schema)
    for unused in ("HTTPValidationError", "ValidationError"):  # only FastAPI's 422 used them
        schemas.pop(unused, None)


def _error_response(status: int) -> dict[str, Any]:
    return {"description": _DESCRIPTIONS[status], "content": {"application/json": {
        "schema": {"$ref": _REF.format(model="ErrorBody")}}}}


def _schema_ref(response: dict[str, Any] | None) -> object:
    return (response or {}).get("content", {}).get("application/json", {}).get(
        "schema", {}).get("$ref")


def _operations(openapi: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for item in openapi.get("paths", {}).values()
            for method, operation in item.items()
            if method in ("get", "put", "post", "delete", "patch", "head", "options")]
