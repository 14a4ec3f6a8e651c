"""Usage accounting: administrators read everyone's (or one user's), a user their own, for a
period of days, grouped by day, user or workspace; or every day of every workspace as CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from ...accounting import Grouping, UsageReport, default_period
from ...errors import InvalidInput
from ...naming import USER_ID_PATTERN
from ..deps import AdminIdentity, RuntimeDep, UserId
from .csv_download import csv_download

router = APIRouter(tags=["usage"])

LONGEST_DAYS = 366


def period(
    since: Annotated[
        date | None, Query(description="The first day (UTC); 30 days ago if not given.")
    ] = None,
    until: Annotated[
        date | None, Query(description="The last day (UTC), included; today if not given.")
    ] = None,
) -> tuple[date, date]:
    first, last = default_period()
    try:
        first, last = since or (until and until - (last - first)) or first, until or last
    except OverflowError:  # (30 days before the first day there is)
        raise InvalidInput(f"until ({until}) is too early: give a day after 0001-01-30.") from None
    if first > last:
        raise InvalidInput(f"since ({first}) is after until ({last}): swap them.")
    if (last - first).days >= LONGEST_DAYS:
        raise InvalidInput(
            f"The period from {first} to {last} is longer than {LONGEST_DAYS} days: ask for "
            "a year at a time."
        )
    return first, last


Period = Annotated[tuple[date, date], Depends(period)]
Group = Annotated[Grouping, Query(description="Totals per day, per user or per workspace.")]
AnyUser = Annotated[str | None, Query(pattern=USER_ID_PATTERN, max_length=128)]


@router.get("/usage", response_model=UsageReport, operation_id="getUsage")
async def get_usage(
    admin: AdminIdentity,
    days: Period,
    runtime: RuntimeDep,
    group: Group = "day",
    user_id: AnyUser = None,
) -> UsageReport:
    return await anyio.to_thread.run_sync(runtime.accounting.report, *days, group, user_id)


@router.get(
    "/usage.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
    operation_id="exportUsage",
)
async def export_usage(
    admin: AdminIdentity, days: Period, runtime: RuntimeDep, user_id: AnyUser = None
) -> StreamingResponse:
    return csv_download(runtime.accounting.csv_lines(*days, user_id), "usage.csv")


@router.get("/users/{user_id}/usage", response_model=UsageReport, operation_id="getOwnUsage")
async def get_own_usage(
    user_id: UserId, days: Period, runtime: RuntimeDep, group: Group = "day"
) -> UsageReport:
    return await anyio.to_thread.run_sync(runtime.accounting.report, *days, group, user_id)


@router.get(
    "/users/{user_id}/usage.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
    operation_id="exportOwnUsage",
)
async def export_own_usage(user_id: UserId, days: Period, runtime: RuntimeDep) -> StreamingResponse:
    return csv_download(runtime.accounting.csv_lines(*days, user_id), f"usage-{user_id}.csv")
