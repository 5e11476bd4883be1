"""The JobDirector: runs pods' stacks and jobs on a runtime, and heals them."""

from __future__ import annotations

from target_api.director.core import Director

__all__ = ["Director"]
