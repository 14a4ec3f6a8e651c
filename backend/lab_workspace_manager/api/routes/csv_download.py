"""A CSV file streamed to the client as it is read (a year of records never sits in memory)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool


def csv_download(lines: Iterator[str], filename: str) -> StreamingResponse:
    """`lines` reads the store: each is read in a thread, off the event loop."""
    return StreamingResponse(
        iterate_in_threadpool(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
