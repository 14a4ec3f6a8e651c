"""`/metrics`: the manager's Prometheus metrics (what they are: `metrics.py`), for Prometheus
with `METRICS_TOKEN` or for an administrator."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from ...errors import ManagerError
from ...metrics import CONTENT_TYPE
from ..deps import BackendDep, MetricsDep, MetricsReader

log = logging.getLogger(__name__)

router = APIRouter(tags=["system"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    operation_id="getMetrics",
    responses={
        200: {
            "content": {"text/plain": {}},
            "description": "The metrics in Prometheus' text format (version 0.0.4).",
        }
    },
)
async def get_metrics(reader: MetricsReader, metrics: MetricsDep, backend: BackendDep) -> Response:
    """The workspace gauges are set from a listing made now: the Docker backend's remembered
    one (no engine call per scrape while it follows the engine's events). Where the backend
    cannot list, they keep their last values and the counters are served all the same; the
    ML Lab backend, which cannot list every user's, has none."""
    if metrics.lists_workspaces:
        try:
            metrics.listed(await backend.list_workspaces(None))
        except ManagerError as exc:
            log.warning("the metrics' workspace gauges were not updated: %s", exc.message)
    return Response(metrics.render(), media_type=CONTENT_TYPE)
