"""Rows as CSV lines, for the exports of the audit log and of usage."""

from __future__ import annotations

import csv
import io
from datetime import datetime


def csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # A spreadsheet runs a cell that starts with these as a formula: a user's own words (a
    # workspace's name) must stay words.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_line(values: list[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([csv_value(value) for value in values])
    return out.getvalue()
