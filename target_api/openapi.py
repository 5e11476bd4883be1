"""The OpenAPI 3.1 document the API serves at ``/openapi.json``.

It states what the server does, so that a property-based tool (schemathesis) can take it
at its word: every path parameter with its schema, request bodies from the very pydantic
models the routes validate with (``target_api.schemas``: what the document allows, the
server accepts), and for each operation the statuses it really answers with, each with
its body's schema. The document does not describe its own path.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from target_api.director.lifecycle import JOB_STATES, POD_STATES
from target_api.schemas import NAME_PATTERN, JobIn, PodIn, StackIn

__all__ = ["openapi_document"]

V0 = "/api/v0"
_ERROR = {"$ref": "#/components/schemas/Error"}
# what each status means wherever it is answered; every error body is an Error
_WHY = {
    "400": "the body is empty, not JSON, or broke off",
    "401": "no bearer token",
    "403": "a bearer token that is not the API's",
    "404": "no such resource (an id the API never handed out included)",
    "409": "the request conflicts with what exists",
    "413": "the body is larger than MOONBASE_MAX_BODY_BYTES (the connection then closes)",
    "422": "the body is JSON but not a valid request (the schema says what is)",
    "502": "the container did not answer over loopback",
    "503": "the database or the director is not available now (Retry-After says when to retry)",
}
_BODY = ("400", "413", "422")  # what any operation that reads a JSON body can answer
_AUTH = ("401", "403")
_ID = {
    "type": "string",
    "pattern": "^[0-9a-f]{32}$",
    "description": "an id the API handed out (uuid4, hex)",
}
_PARAMETERS = {
    "pod_id": _ID,
    "job_id": _ID,
    "container": {"type": "string", "pattern": NAME_PATTERN},
    "name": {
        "type": "string",
        "minLength": 1,
        "description": "the artifact's path under the job's artifacts directory",
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(
    summary: str,
    ok: tuple[str, dict[str, Any] | None, str],
    *errors: str,
    body: str | None = None,
    auth: bool = False,
) -> dict[str, Any]:
    """One operation: its success ``(status, schema, media type)`` and its error statuses
    (the body's and the token's own added when it has them)."""
    status, schema, media = ok
    success: dict[str, Any] = {"description": "success"}
    if schema is not None:
        success["content"] = {media: {"schema": schema}}
    if status == "202":
        success["headers"] = {
            "Location": {"required": True, "schema": {"type": "string"}, "description": "the job"}
        }
    codes = {*errors, *(_BODY if body else ()), *(_AUTH if auth else ())}
    responses: dict[str, Any] = {status: success}
    for code in sorted(codes):
        responses[code] = {
            "description": _WHY[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if auth:
        op["security"] = [{"bearer": []}]
    return op


def _json(name: str) -> tuple[str, dict[str, Any], str]:
    return ("200", _ref(name), "application/json")


def _job_schema() -> dict[str, Any]:
    """What ``director.jobs.describe`` answers."""
    nullable_int = {"type": ["integer", "null"]}
    nullable_num = {"type": ["number", "null"]}
    return {
        "type": "object",
        "required": ["id", "state", "attempts", "max_attempts", "command", "timeout_s"],
        "properties": {
            "id": _ID,
            "state": {"enum": list(JOB_STATES)},
            "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer"},
            "exit_code": nullable_int,
            "error": {"type": ["string", "null"]},
            "director": {"type": ["string", "null"]},
            "command": {"type": "array", "items": {"type": "string"}},
            "timeout_s": {"type": "number"},
            "idempotency_key": {"type": ["string", "null"]},
            "created_at": {"type": "number"},
            "started_at": nullable_num,
            "finished_at": nullable_num,
        },
    }


def _response_schemas() -> dict[str, Any]:
    nullable_int = {"type": ["integer", "null"]}
    container = {
        "type": "object",
        "required": ["name", "state", "restarts", "exit_code", "port", "runtime", "ref"],
        "properties": {
            "name": {"type": "string"},
            "state": {"enum": ["running", "restarting", "exited"]},
            "restarts": {"type": "integer"},
            "exit_code": nullable_int,
            "port": nullable_int,
            "runtime": {"type": "string"},
            "ref": {"type": ["string", "null"]},
        },
    }
    pod = {
        "type": "object",
        "required": ["id", "name", "state", "stack", "restart_policy", "restarts", "containers"],
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "state": {"enum": list(POD_STATES)},
            "stack": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "restart_policy": {"type": "string"},
            "restarts": {"type": "integer"},
            "containers": {"type": "array", "items": container},
            "created_at": {"type": "number"},
            "updated_at": {"type": "number"},
            "changed": {"type": "boolean", "description": "PUT stack only: attached now"},
        },
    }
    check = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
    return {
        "Error": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        },
        "Pod": pod,
        "Pods": {"type": "array", "items": _ref("Pod")},
        "Job": _job_schema(),
        "Artifacts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "size_bytes"],
                "properties": {"name": {"type": "string"}, "size_bytes": {"type": "integer"}},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"enum": ["ok", "degraded", "down"]},
                "checks": {"type": "object", "additionalProperties": check},
            },
        },
        "Ping": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"const": "ok"}},
        },
    }


def _with_parameters(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every ``{param}`` of a templated path declared once, for all its operations."""
    for template, item in paths.items():
        names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        if names:
            item["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": _PARAMETERS[n]} for n in names
            ]
    return paths


def _paths() -> dict[str, dict[str, Any]]:
    health = ("200", _ref("Health"), "application/json")
    text = ("200", {"type": "string"}, "text/plain")
    octets = ("200", {"type": "string", "format": "binary"}, "application/octet-stream")
    # ping answers 200 before any routing; 4XX: what a malformed request gets from uvicorn
    ping = _op("Liveness without I/O", ("200", _ref("Ping"), "application/json"))
    ping["responses"]["4XX"] = {
        "description": "a request uvicorn cannot parse",
        "content": {"application/json": {"schema": _ERROR}},
    }
    return {
        f"{V0}/ping": {"get": ping},
        f"{V0}/health": {"get": _op("All checks, loopback breakers included", health, "503")},
        f"{V0}/health/live": {"get": _op("The process answers", health, "503")},
        f"{V0}/health/ready": {"get": _op("Database and director work", health, "503")},
        f"{V0}/pods": {
            "get": _op("List pods", _json("Pods"), "503"),
            "post": _op(
                "Create a pod, optionally with its stack",
                ("201", _ref("Pod"), "application/json"),
                "409",
                "503",
                body="PodIn",
                auth=True,
            ),
        },
        f"{V0}/pods/{{pod_id}}": {
            "get": _op("One pod", _json("Pod"), "404", "503"),
            "delete": _op(
                "Delete a pod and its containers", ("204", None, ""), "404", "503", auth=True
            ),
        },
        f"{V0}/pods/{{pod_id}}/stack": {
            "put": _op(
                "Attach the pod's one stack (same again: no-op; other: 409)",
                _json("Pod"),
                "404",
                "409",
                "503",
                body="StackIn",
                auth=True,
            ),
        },
        f"{V0}/pods/{{pod_id}}/containers/{{container}}/call": {
            "post": _op(
                "Relay the body's bytes to a container over loopback TCP; its reply back",
                octets,
                "400",
                "404",
                "413",
                "502",
                "503",
                auth=True,
            ),
        },
        f"{V0}/jobs": {
            "post": _op(
                "Submit a job (idempotency_key: the same request again is the same job)",
                ("202", _ref("Job"), "application/json"),
                "409",
                "503",
                body="JobIn",
                auth=True,
            )
        },
        f"{V0}/jobs/{{job_id}}": {"get": _op("A job's state", _json("Job"), "404", "503")},
        f"{V0}/jobs/{{job_id}}/cancel": {
            "post": _op("Cancel a job", _json("Job"), "404", "503", auth=True)
        },
        f"{V0}/jobs/{{job_id}}/logs": {
            "get": _op("The job's output (its last 8 MiB)", text, "404", "503")
        },
        f"{V0}/jobs/{{job_id}}/artifacts": {
            "get": _op("The job's artifacts", _json("Artifacts"), "404", "503")
        },
        f"{V0}/jobs/{{job_id}}/artifacts/{{name}}": {
            "get": _op("One artifact (bytes)", octets, "404", "503")
        },
        "/metrics": {"get": _op("Prometheus metrics", text)},
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The document, built once (the models do not change while the process runs)."""
    _, defs = models_json_schema(
        [(m, "validation") for m in (PodIn, StackIn, JobIn)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = dict(defs.get("$defs", {}))
    schemas.update(_response_schemas())
    return {
        "openapi": "3.1.0",
        "info": {"title": "Moonbase v0 API", "version": "0.1.0"},
        "paths": _with_parameters(_paths()),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
