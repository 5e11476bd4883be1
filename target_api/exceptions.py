"""The reference API's exceptions, one tree under :class:`MoonbaseError`.

::

    MoonbaseError
    ├── ApiError                              an error the client sees (status, code, detail)
    ├── SettingsError (ValueError)            bad MOONBASE_* environment or --option
    ├── IdempotencyConflict                   a key reused with another request body
    ├── StoreError (RuntimeError)             the job/pod store failed
    │   └── StoreUnavailable                  the database cannot be reached
    ├── ImageBuildError (RuntimeError)        the default busybox image could not be made
    ├── LoopbackError (ConnectionError)       a stack tried to leave 127.0.0.0/8
    ├── CircuitOpenError (ConnectionError)    the database breaker is open
    ├── ComponentUnavailable (ConnectionError) a test's real component is missing (testing.py)
    └── DockerRuntimeError (RuntimeError)     the Docker runtime failed
        ├── DockerEngineUnavailable           no engine answers
        ├── DockerImageMissing                the image is not in the engine
        └── DockerContainerGone (LookupError) the container went away

No imports here, so any module of the API (and ``python -m target_api.director.images``)
can raise from the root without loading the web stack.
"""

from __future__ import annotations

__all__ = ["MoonbaseError"]


class MoonbaseError(Exception):
    """Root of every error the reference API raises on purpose."""
