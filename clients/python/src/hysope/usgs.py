"""USGS NWIS files as the catalogue serves them (the ``data`` asset of a
``USGS_NWIS_*`` item): RDB tables (ratings, peaks) and WaterML JSON (instantaneous
values), read into ``(DataFrame, metadata)`` as USGS's `dataretrieval` does."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd


def _text(source: Any) -> str:
    if isinstance(source, bytes):
        return source.decode("utf-8")
    if hasattr(source, "read"):
        data = source.read()
        return data.decode("utf-8") if isinstance(data, bytes) else data
    if isinstance(source, str) and "\n" not in source and "\t" not in source:
        with open(source, encoding="utf-8") as f:
            return f.read()
    return source


#: Columns that hold codes, identifiers, dates or times, never measures.
_NOT_MEASURES = ("_cd", "_no", "_dt", "_tm", "_id")


def read_rdb(source: Any) -> tuple[pd.DataFrame, dict]:
    """An RDB table (text, bytes, a file or a path): the header's column types
    decide the dtypes (``n`` numbers as float64, empty cells NaN; ``d`` dates kept as
    text, since USGS writes partial dates such as ``1936-03-00``; ``s`` text).
    The metadata holds the ``#`` comment lines."""
    comments, rows = [], []
    for line in _text(source).splitlines():
        if line.startswith("#"):
            comments.append(line[1:].strip())
        elif line.strip():
            rows.append(line.split("\t"))
    if len(rows) < 2:
        raise ValueError("not an RDB table: no header and format lines")
    header, formats, body = rows[0], rows[1], rows[2:]
    frame = pd.DataFrame([r + [""] * (len(header) - len(r)) for r in body], columns=header)
    for column, fmt in zip(header, formats):
        cells = frame[column].replace("", None)
        numeric = fmt.strip().lower().endswith("n")
        if not numeric and not column.endswith(_NOT_MEASURES) and column not in ("year_last_pk",):
            # Peaks files type every column as text (`8s`); a measure is a column
            # whose every non-empty cell is a number.
            known = cells.dropna()
            numeric = len(known) > 0 and pd.to_numeric(known, errors="coerce").notna().all()
        if numeric:
            frame[column] = pd.to_numeric(cells, errors="coerce").astype("float64")
    return frame, {"comments": comments, "formats": dict(zip(header, formats))}


def read_waterml(source: Any) -> tuple[pd.DataFrame, dict]:
    """A WaterML 1.1 JSON document (NWIS instantaneous or daily values): one row per
    value, ``site_no``, ``parameter_cd``, ``time`` (UTC), ``value`` (float64; the
    series' ``noDataValue`` is NaN), ``qualifiers``. The metadata gives per series
    (``site:parameter``) the site name, coordinates, variable name and unit."""
    doc = json.loads(_text(source))
    rows, series = [], {}
    for ts in doc["value"]["timeSeries"]:
        info, var = ts["sourceInfo"], ts["variable"]
        site = info["siteCode"][0]["value"]
        code = var["variableCode"][0]["value"]
        geo = info.get("geoLocation", {}).get("geogLocation", {})
        nodata = var.get("noDataValue")
        series[f"{site}:{code}"] = {
            "site_name": info.get("siteName"), "latitude": geo.get("latitude"),
            "longitude": geo.get("longitude"), "variable": var.get("variableDescription"),
            "unit": var.get("unit", {}).get("unitCode"),
        }
        for block in ts.get("values", []):
            for v in block.get("value", []):
                x = float(v["value"]) if v.get("value") not in (None, "") else math.nan
                if nodata is not None and x == float(nodata):
                    x = math.nan
                rows.append((site, code, v["dateTime"], x, ",".join(v.get("qualifiers", []))))
    frame = pd.DataFrame(rows, columns=["site_no", "parameter_cd", "time", "value", "qualifiers"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
    frame["value"] = frame["value"].astype("float64")
    return frame, {"series": series}
