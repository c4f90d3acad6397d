"""pystac-client against a running Hysope catalogue, and the ingested items checked
against an independent read of the files (pyshp for the shapefile zips, h5py for the
NetCDF-4 pixel clouds, the csv module for the USGS tables).

usage: HYSOPE_TOKEN=... clients.py BASE_URL SHARED_DATA_DIR

Every request carries the personal token in HYSOPE_TOKEN (pystac-client's headers,
urllib's opener)."""
import glob
import json
import os
import sys
import urllib.request
import zipfile
import io
import csv
import time

import h5py
import shapefile
from pystac_client import Client

base, data = sys.argv[1], sys.argv[2]
stac = f"{base}/stac"
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
auth = {"Authorization": f"Bearer {os.environ['HYSOPE_TOKEN']}"}
opener = urllib.request.build_opener()
opener.addheaders = list(auth.items())
urllib.request.install_opener(opener)


def http(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()


def execute(process, body):
    """A synchronous execute; the results document (output links)."""
    req = urllib.request.Request(f"{base}/processes/{process}/execution", method="POST",
                                 data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


client = Client.open(stac, headers=auth)
total = sum(1 for _ in glob.glob(f"{data}/**/*", recursive=True)
            if os.path.isfile(_) and not os.path.basename(_).lower().startswith("readme"))

# Every file of the shared data is one item.
every = list(client.search(max_items=None, limit=5).items())
assert len(every) == total, (len(every), total)
print(f"pystac-client: {len(every)} items, one per file of ../shared/data")

# bbox: the simulated Ohio River passes (North America).
ohio = list(client.search(bbox=[-81, 40, -79, 41]).items())
assert len(ohio) == 10 and all(i.properties["swot:continent_code"] == "NA" for i in ohio), [i.id for i in ohio]
# datetime: the real 2026 RiverSP pass only.
y2026 = list(client.search(datetime="2026-01-01/2026-12-31").items())
assert [i.properties["swot:cycle_number"] for i in y2026] == [49], [i.id for i in y2026]
# CQL2 text: files with at least one reach of quality <= 1 (unknown quality never matches).
good = list(client.search(filter="reach_q <= 1", filter_lang="cql2-text").items())
assert len(good) == 6 and all(i.collection_id == "SWOT_L2_HR_RiverSP_Reach" for i in good)
# Sort, descending time, and fields.
newest = next(client.search(sortby="-properties.datetime", max_items=1).items())
assert newest.properties["swot:cycle_number"] == 49
slim = client.search(collections=["SWOT_L2_HR_RiverSP_Node"], fields=["properties.swot:pass_number"],
                     sortby=[{"field": "properties.swot:pass_number", "direction": "asc"}]).item_collection_as_dict()
passes = [f["properties"]["swot:pass_number"] for f in slim["features"]]
assert passes == sorted(passes) and len(passes) == 5, passes
assert all(set(f["properties"]) == {"swot:pass_number"} for f in slim["features"])
print("pystac-client: bbox, datetime, CQL2 text filter, sort and fields searches as expected")

# Paging past 10,000 items (stac-server issue 111): a collection of 10,050 items.
http("POST", f"{stac}/collections", {
    "type": "Collection", "stac_version": "1.1.0", "id": "paging-test", "description": "paging",
    "license": "other", "links": [],
    "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]}, "temporal": {"interval": [["2020-01-01T00:00:00Z", None]]}}})
n = 10_050
for start in range(0, n, 2_500):
    feats = [{"type": "Feature", "stac_version": "1.1.0", "id": f"p{i:05d}", "geometry": {"type": "Point", "coordinates": [0.5, 0.5]},
              "bbox": [0.5, 0.5, 0.5, 0.5], "properties": {"datetime": f"2020-01-01T00:{i // 600 % 60:02d}:{i // 10 % 60:02d}Z", "n": i},
              "links": [], "assets": {}} for i in range(start, min(n, start + 2_500))]
    status, _ = http("POST", f"{stac}/collections/paging-test/items", {"type": "FeatureCollection", "features": feats})
    assert status == 201
search = client.search(collections=["paging-test"], limit=1000)
ids = [i.id for i in search.items()]
assert len(ids) == n and len(set(ids)) == n, (len(ids), len(set(ids)))
assert search.matched() == n
print(f"pystac-client: paged through {n} items, 1000 per page, each once")

# Time series of one reach over the simulated cycles, JSON and CSV.
with urllib.request.urlopen(f"{base}/timeseries/reaches/74269900011?fields=wse,reach_q") as r:
    series = json.load(r)
assert series["numberReturned"] == 5, series
with urllib.request.urlopen(f"{base}/timeseries/reaches/74269900011?output=csv&fields=wse") as r:
    csv_text = r.read().decode()
assert csv_text.splitlines()[0] == "reach_id,time,wse,item" and len(csv_text.splitlines()) == 6
print("time series: 5 observations of reach 74269900011, JSON and CSV")

# A process result becomes an item of the results collection, with its provenance.
reach_file = sorted(glob.glob(f"{data}/swot/SWOT_L2_HR_RiverSP_Reach_*.zip"))[0]
req = urllib.request.Request(f"{base}/processes/swot-river-filter/execution", method="POST",
                             data=json.dumps({"inputs": {"product": {"href": f"file://{reach_file}"}}}).encode(),
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    outputs = json.load(r)
result = client.get_collection("results").get_item(job_id)
assert result is not None, job_id
props = result.properties
assert props["hysope:job_id"] == job_id and props["hysope:process_id"] == "swot-river-filter"
assert "hysope:swot-river-filter" in props["processing:software"]
import hashlib
wasm = os.path.join(os.path.dirname(__file__), "../../target/wasm32-wasip2/release/swot-river-filter.wasm")
digest = hashlib.sha256(open(wasm, "rb").read()).hexdigest()
assert props["hysope:components"] == [{"component": "swot-river-filter.wasm", "sha256": digest}], props["hysope:components"]
derived = [l.target for l in result.links if l.rel == "derived_from"]
reach_id = os.path.basename(reach_file)[:-4]
assert len(derived) == 1 and derived[0].endswith(f"/collections/SWOT_L2_HR_RiverSP_Reach/items/{reach_id}"), derived
assert set(result.assets) == {"reaches.csv", "reaches.geojson", "summary.json"}, list(result.assets)
with urllib.request.urlopen(result.assets["summary.json"].href) as r:
    assert r.status == 200 and json.load(r)
assert result.bbox == items_bbox if (items_bbox := next(i.bbox for i in every if i.id == reach_id)) else True
print(f"process result: job {job_id} is an item of 'results' with its plugin digest, inputs and files")

# lake-storage-change through the API: the LakeSP pass against itself.
lake_file = sorted(glob.glob(f"{data}/swot/SWOT_L2_HR_LakeSP_Prior_*.zip"))[0]
body = {"inputs": {"lakes": {"href": f"file://{lake_file}"}, "reference": {"href": f"file://{lake_file}"}}}
links = execute("lake-storage-change", body)
with urllib.request.urlopen(links["summary"]["href"]) as r:
    lake_summary = json.load(r)
assert lake_summary["status"]["computed"] > 0 and lake_summary["max_abs_diff_vs_ds1_l_km3"] is None, lake_summary
print(f"lake-storage-change through /processes: {lake_summary['status']['computed']} lakes computed (dV = 0)")

# virtual-station-wse through the API: the example stations on the PIXC tile.
pixc_file = sorted(glob.glob(f"{data}/swot/SWOT_L2_HR_PIXC_*.nc"))[0]
stations = os.path.join(root, "plugins/virtual-station-wse/example-stations.geojson")
body = {"inputs": {"pixc": {"href": f"file://{pixc_file}"}, "stations": {"href": f"file://{stations}"}}}
links = execute("virtual-station-wse", body)
with urllib.request.urlopen(links["csv"]["href"]) as r:
    stations_rows = list(csv.DictReader(io.TextIOWrapper(r, "utf-8")))
assert [(s["station"], s["status"]) for s in stations_rows] == [
    ("river-upstream", "ok"), ("river-middle", "ok"), ("west-water", "ok"), ("dry-land", "no_pixels")], stations_rows
print(f"virtual-station-wse through /processes: {', '.join(s['station'] + ' ' + s['wse'][:8] for s in stations_rows if s['wse'])} m")

# The gauge chain (timeseries-resample -> rating-curve -> hydro-anomaly) through the API.
body = {"inputs": {"rating": {"href": f"file://{data}/usgs/waterservices_ratings.txt"},
                   "levels": {"href": f"file://{root}/plugins/rating-curve/example-levels.csv"}}}
links = execute("gauge-discharge", body)
with urllib.request.urlopen(links["fit"]["href"]) as r:
    gauge_fit = json.load(r)
with urllib.request.urlopen(links["discharge"]["href"]) as r:
    gauge_q = list(csv.DictReader(io.TextIOWrapper(r, "utf-8")))
assert round(gauge_fit["b"], 4) == 2.5997 and any(row["discharge"] for row in gauge_q), gauge_fit
print(f"gauge-discharge through /processes: b = {gauge_fit['b']:.4f}, {len(gauge_q)} daily discharges")

# The river discharge chain (a workflow of four plugins) through the API, asynchronously.
reach_files = sorted(glob.glob(f"{data}/swot/simulated-cycles/SWOT_L2_HR_RiverSP_Reach_*.zip"))
body = {"inputs": {"reaches": [{"href": f"file://{f}"} for f in reach_files]}}
req = urllib.request.Request(f"{base}/processes/river-discharge-chain/execution", method="POST",
                             data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json", "Prefer": "respond-async"})
with urllib.request.urlopen(req) as r:
    assert r.status == 201, r.status
    status_url = r.headers["Location"]
for _ in range(600):
    with urllib.request.urlopen(status_url) as r:
        status = json.load(r)
    if status["status"] in ("successful", "failed", "dismissed"):
        break
    time.sleep(0.1)
assert status["status"] == "successful", status
with urllib.request.urlopen(f"{status_url}/results") as r:
    chain = json.load(r)
assert len(chain["discharge"]) == 10 and len(chain["anomalies"]) == 10, {k: len(v) for k, v in chain.items()}
with urllib.request.urlopen(chain["discharge"][0]["href"]) as r:
    first = list(csv.DictReader(io.TextIOWrapper(r, "utf-8")))
assert first and all(row["status"] in ("computed", "negative slope") for row in first), first
print(f"river-discharge-chain through /processes (async): {len(chain['discharge'])} reaches, job {status['jobID']}")

# Independent read of the files, compared with the items.
items = {i.id: i for i in every}
checked = 0
for path in sorted(glob.glob(f"{data}/swot/**/*.zip", recursive=True)):
    stem = os.path.basename(path)[:-4]
    z = zipfile.ZipFile(path)
    member = lambda ext: io.BytesIO(z.read(next(n for n in z.namelist() if n.lower().endswith(ext))))
    reader = shapefile.Reader(shp=member(".shp"), dbf=member(".dbf"), shx=member(".shx"))
    item = items[stem]
    assert item.properties["swot:feature_count"] == len(reader), (stem, len(reader))
    xs, ys = [], []
    for shape in reader.shapes():
        for x, y in shape.points:
            xs.append(x)
            ys.append(y)
    expected = [min(xs), min(ys), max(xs), max(ys)]
    assert all(abs(a - b) < 1e-9 for a, b in zip(item.bbox, expected)), (stem, item.bbox, expected)
    quality = {"Reach": "reach_q", "Node": "node_q", "Prior": "quality_f"}.get(item.properties["swot:feature_kind"])
    if quality:
        fields = [f[0] for f in reader.fields[1:]]
        qi = fields.index(quality)
        flags = [r[qi] for r in reader.records() if r[qi] is not None and r[qi] >= 0]
        best = item.properties.get(quality)
        # The item keeps the best flag of the observed features (fill values are not flags).
        assert best is None or best >= min(flags), (stem, best, min(flags))
    checked += 1
for path in sorted(glob.glob(f"{data}/swot/*.nc")):
    stem = os.path.basename(path)[:-3]
    with h5py.File(path, "r") as f:
        group = f["pixel_cloud"] if "pixel_cloud" in f else f
        lat = group["latitude"][:] if "latitude" in group else group["latitude_vectorproc"][:]
        lon = group["longitude"][:] if "longitude" in group else group["longitude_vectorproc"][:]
    valid = [(x, y) for x, y in zip(lon, lat) if -90 <= y <= 90 and -180 <= x <= 360]
    item = items[stem]
    assert item.properties["swot:pixel_count"] == len(lat)
    expected = [min(x for x, _ in valid), min(y for _, y in valid), max(x for x, _ in valid), max(y for _, y in valid)]
    assert all(abs(a - b) < 1e-6 for a, b in zip(item.bbox, expected)), (stem, item.bbox, expected)
    checked += 1
for path in sorted(glob.glob(f"{data}/usgs/*.txt")):
    text = open(path).read()
    match = [i for i in every if i.id.endswith(os.path.basename(path)[:-4])]
    assert len(match) == 1, path
    if not text.startswith("{"):
        rows = [l for l in text.splitlines() if l and not l.startswith("#")][2:]
        assert match[0].properties["usgs:rows"] == len(rows), (path, len(rows))
    checked += 1
print(f"independent read: {checked} files agree with their items (counts, boxes, quality flags)")
