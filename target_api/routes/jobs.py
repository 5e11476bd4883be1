"""Jobs: submit (idempotent), status, cancel, logs, artifacts."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from target_api.director.jobs import IdempotencyConflict, JobRequest
from target_api.errors import ApiError
from target_api.routes.common import director_of, path_id, read_json, require_token
from target_api.schemas import JobIn
from target_api.store import JobRecord

MAX_LOG_BYTES = 8 * 1024 * 1024  # the tail a client gets; the file on disk keeps it all


async def _job_or_404(request: Request) -> JobRecord:
    job_id = path_id(request, "job_id", "job")
    job = await run_in_threadpool(director_of(request).store.get_job, job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"no job with id {job_id!r}")
    return job


async def submit_job(request: Request) -> Response:
    require_token(request)
    body = await read_json(request, JobIn)
    director = director_of(request)
    job_request = JobRequest(
        command=tuple(body.command),
        env=tuple(sorted(body.env.items())),
        timeout_s=body.timeout_s,
        max_attempts=body.max_attempts,
        idempotency_key=body.idempotency_key,
    )
    try:
        job, created = await run_in_threadpool(director.jobs.submit, job_request)
    except IdempotencyConflict as exc:
        raise ApiError(
            409,
            "idempotency_key_reused",
            f"idempotency key {body.idempotency_key!r} was used for job {exc.job.id}"
            " with a different request",
        ) from exc
    if created:
        director.wake()
    headers = {"Location": f"/api/v0/jobs/{job.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(director.jobs.describe(job), 202, headers=headers)


async def get_job(request: Request) -> Response:
    job = await _job_or_404(request)
    return JSONResponse(director_of(request).jobs.describe(job))


async def cancel_job(request: Request) -> Response:
    require_token(request)
    job = await _job_or_404(request)
    director = director_of(request)
    updated = await run_in_threadpool(director.jobs.cancel, job.id)
    return JSONResponse(director.jobs.describe(updated or job))


def _tail(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - MAX_LOG_BYTES))
            return fh.read()
    except FileNotFoundError:
        return b""


async def job_logs(request: Request) -> Response:
    job = await _job_or_404(request)
    data = await run_in_threadpool(_tail, director_of(request).jobs.log_path(job.id))
    return PlainTextResponse(data.decode("utf-8", errors="replace"))


def _list_artifacts(root: Path) -> list[dict[str, object]]:
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append(
                {"name": path.relative_to(root).as_posix(), "size_bytes": path.stat().st_size}
            )
    return found


async def list_artifacts(request: Request) -> Response:
    job = await _job_or_404(request)
    root = director_of(request).jobs.artifacts_dir(job.id)
    return JSONResponse(await run_in_threadpool(_list_artifacts, root))


async def get_artifact(request: Request) -> Response:
    job = await _job_or_404(request)
    name = request.path_params["name"]
    root = director_of(request).jobs.artifacts_dir(job.id).resolve()
    missing = ApiError(404, "artifact_not_found", f"job {job.id} has no artifact {name!r}")
    if "\x00" in name:
        raise missing
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise missing  # also what "../" and symlinks out of the directory get
    return FileResponse(path, media_type="application/octet-stream")


def routes() -> list[Route]:
    return [
        Route("/api/v0/jobs", submit_job, methods=["POST"]),
        Route("/api/v0/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/api/v0/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
        Route("/api/v0/jobs/{job_id}/logs", job_logs, methods=["GET"]),
        Route("/api/v0/jobs/{job_id}/artifacts", list_artifacts, methods=["GET"]),
        Route("/api/v0/jobs/{job_id}/artifacts/{name:path}", get_artifact, methods=["GET"]),
    ]
