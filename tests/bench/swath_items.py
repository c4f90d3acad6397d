"""ITEMS SWOT-like STAC items for the search benchmarks, as an independent review
made them: swath polygons (a strip 120 km wide along a descending or ascending
pass, 21 vertices a side) over the nine SWOT continents, times from 2023 to 2026,
two assets each (the product zip and its XML metadata), the properties of an
ingested RiverSP item. Writes WORK/items.ndjson and WORK/collection.json
(collection `swot`).

    python3 swath_items.py ITEMS WORK [HREF_BASE]

HREF_BASE (default https://archive.swot.example) starts the assets' hrefs: `/archive`
makes them relative to the server, as those of ingested files are.
"""
import datetime
import json
import math
import random
import sys

n, work = int(sys.argv[1]), sys.argv[2]
href_base = sys.argv[3] if len(sys.argv) > 3 else "https://archive.swot.example"
rng = random.Random(22)
# Continent code -> (west, south, east, north) of where its passes fall.
continents = {
    "AF": (-18, -35, 51, 37), "EU": (-10, 36, 40, 71), "SI": (60, 45, 180, 78), "AS": (60, 0, 150, 45),
    "AU": (110, -45, 180, -10), "SA": (-82, -56, -34, 13), "NA": (-168, 15, -52, 72), "AR": (-180, 60, 180, 84),
    "GR": (-73, 59, -11, 84),
}
codes = sorted(continents)
start = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)
span = (datetime.datetime(2026, 12, 31, tzinfo=datetime.timezone.utc) - start).total_seconds()


def swath(w, s, e, north, ascending):
    """A strip 120 km wide, tilted as a 77.6-degree orbit's ground track is."""
    lat0 = rng.uniform(s, max(s, north - 8))
    lon0 = rng.uniform(w, max(w, e - 4))
    length = rng.uniform(3, 8)
    tilt = math.radians(12.4) * (1 if ascending else -1)
    half = 0.54
    left, right = [], []
    for k in range(21):
        lat = lat0 + length * k / 20
        lon = lon0 + (lat - lat0) * math.tan(tilt)
        dx = half / max(0.2, math.cos(math.radians(lat)))
        left.append([round(max(-180, lon - dx), 6), round(min(lat, 89.9), 6)])
        right.append([round(min(180, lon + dx), 6), round(min(lat, 89.9), 6)])
    ring = left + right[::-1] + [left[0]]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return {"type": "Polygon", "coordinates": [ring]}, [min(xs), min(ys), max(xs), max(ys)]


with open(f"{work}/items.ndjson", "w") as out:
    for i in range(n):
        code = codes[i % len(codes)]
        cycle, pss = 1 + i // 9000 % 120, 1 + i // 9 % 584
        geometry, bbox = swath(*continents[code], ascending=pss % 2 == 1)
        t0 = start + datetime.timedelta(seconds=span * i / n)
        t1 = t0 + datetime.timedelta(seconds=rng.randint(40, 600))
        name = f"SWOT_L2_HR_RiverSP_Reach_{cycle:03d}_{pss:03d}_{code}_{t0:%Y%m%dT%H%M%S}_{t1:%Y%m%dT%H%M%S}_PID0_01"
        iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
        item = {
            "type": "Feature", "stac_version": "1.1.0", "stac_extensions": [], "id": name, "collection": "swot",
            "geometry": geometry, "bbox": bbox,
            "properties": {
                "datetime": iso(t0), "start_datetime": iso(t0), "end_datetime": iso(t1), "platform": "swot",
                "instruments": ["karin"], "swot:cycle_number": cycle, "swot:pass_number": pss,
                "swot:continent_code": code, "swot:feature_kind": "Reach", "swot:crid": "PID0",
                "swot:product_counter": 1, "swot:feature_count": rng.randint(20, 400),
                "swot:observed_count": rng.randint(0, 300), "reach_q": rng.randint(0, 3),
                "processing:level": "L2", "processing:version": "PID0", "proj:code": "EPSG:4326",
            },
            "links": [],
            "assets": {
                "data": {"href": f"{href_base}/{name}.zip", "type": "application/zip",
                         "title": f"{name}.zip", "roles": ["data"], "file:size": rng.randint(10_000, 900_000)},
                "metadata": {"href": f"{href_base}/{name}.zip.xml", "type": "application/xml",
                             "title": f"{name}.zip.xml", "roles": ["metadata"]},
            },
        }
        out.write(json.dumps(item) + "\n")
json.dump({"type": "Collection", "stac_version": "1.1.0", "id": "swot", "description": "SWOT-like swath items",
           "license": "other", "links": [],
           "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [["2023-01-01T00:00:00Z", None]]}}},
          open(f"{work}/collection.json", "w"))
