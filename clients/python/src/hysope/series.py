"""Time series replies (the server's compact GeoJSON: one feature per reach, node or
lake, its fields as arrays) as one long pandas DataFrame and its metadata."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

KINDS = ("reach", "node", "lake")


def _numbers(values: list) -> bool:
    return all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)


def series_frame(kind: str, doc: dict) -> tuple[pd.DataFrame, dict]:
    """The frame and metadata of a `/timeseries/{kind}` GeoJSON reply.

    Fields whose known values are all numbers become float64 columns, an unknown
    value (the product's fill value, sent as null) NaN; other fields (texts) stay
    objects with None. ``time`` is UTC.
    """
    id_column = f"{kind}_id"
    name_field = "lake_name" if kind == "lake" else "river_name"
    fields = list(doc.get("fields", []))
    flags = [f for f in doc.get("flags", []) if f not in fields]
    columns = fields + flags
    data: dict[str, list] = {id_column: [], "time": [], **{c: [] for c in columns}, "item": []}
    features: dict[str, dict] = {}
    for feature in doc.get("features", []):
        p = feature.get("properties", {})
        fid = str(p.get(id_column, feature.get("id")))
        n = len(p.get("time", []))
        features[fid] = {"name": p.get(name_field), "count": p.get("count", n),
                         "geometry": feature.get("geometry")}
        data[id_column].extend([fid] * n)
        data["time"].extend(p.get("time", []))
        for c in columns:
            values = p.get(c)
            data[c].extend(values if values is not None else [None] * n)
        data["item"].extend(p.get("item", [None] * n))
    frame = pd.DataFrame({id_column: pd.Series(data[id_column], dtype=object)})
    frame["time"] = pd.to_datetime(pd.Series(data["time"], dtype=object), utc=True, format="ISO8601")
    for c in columns:
        values = data[c]
        if _numbers(values):
            frame[c] = pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
        else:
            frame[c] = pd.Series(values, dtype=object)
    frame["item"] = pd.Series(data["item"], dtype=object)
    units = dict(doc.get("units", {}))
    units["time"] = "UTC"
    meta: dict[str, Any] = {
        "kind": kind,
        "fields": fields,
        "flags": flags,
        "units": units,
        "features": features,
        "observations": doc.get("observations", len(frame)),
        "dropped_by_quality": doc.get("droppedByQuality", 0),
        "dropped_by_fills": doc.get("droppedByFills", 0),
    }
    return frame, meta
