"""Dissemination against independent readers: the features of /features read as
GeoJSON, and the time series of many reaches at once read by pandas (CSV), json
(compact GeoJSON) and xarray (NetCDF, CF timeSeries through scipy), each compared
with the SWOT files read here by pyshp; fills are never numbers. Every ingested
file downloaded by HTTP from its item's link (no file:// path), whole and by byte
range, equal to the file and to its checksum.

usage: dissemination.py BASE_URL SHARED_DATA_DIR
"""

import glob
import hashlib
import base64
import io
import json
import math
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

import pandas as pd
import shapefile
import xarray as xr

base, data = sys.argv[1], sys.argv[2]
FILLS = (-999999999999.0, -999.0, -9999.0)


def fill(value):
    """A value of the .dbf as the truth: None for a fill value or no_data."""
    if value in ("no_data", "", None) or (isinstance(value, (int, float)) and float(value) in FILLS):
        return None
    if isinstance(value, (int, float)) and float(value) <= -999999999999.0 + 1:
        return None
    return value


def layer(path):
    zf = zipfile.ZipFile(path)
    shp = next(n for n in zf.namelist() if n.endswith(".shp"))[:-4]
    r = shapefile.Reader(shp=io.BytesIO(zf.read(shp + ".shp")), dbf=io.BytesIO(zf.read(shp + ".dbf")))
    names = [f[0] for f in r.fields[1:]]
    return [dict(zip(names, rec)) for rec in r.records()]


def get(path, accept=None):
    req = urllib.request.Request(base + path, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req) as r:
        return r.headers, r.read()


# The truth: every observation of the reach files (the real one, with its fills
# and quality flags 0 to 3, and the simulated cycles), read by pyshp.
truth = {}
for path in sorted(glob.glob(f"{data}/swot/*RiverSP_Reach*.zip") + glob.glob(f"{data}/swot/simulated-cycles/*RiverSP_Reach*.zip")):
    for rec in layer(path):
        if fill(rec["time"]) is None:
            continue
        truth.setdefault(rec["reach_id"], []).append((rec["time"], fill(rec["wse"]), fill(rec["reach_q"])))
for rows in truth.values():
    rows.sort()
ids = sorted(truth)
n_obs = sum(len(v) for v in truth.values())
assert len(ids) >= 5, ids

# CSV by pandas: one row per observation, in feature then time order.
_, body = get(f"/timeseries/reaches?ids={','.join(ids)}&fields=wse,wse_u&output=csv")
assert b"-999999999999" not in body and b"-9999," not in body, "a fill value as a number"
df = pd.read_csv(io.BytesIO(body), dtype={"reach_id": str})
assert list(df.columns[:5]) == ["reach_id", "time", "wse", "wse_u", "reach_q"], list(df.columns)
assert len(df) == n_obs, (len(df), n_obs)
assert df["wse"].dtype == float and df["reach_q"].dtype in (float, int)
for rid in ids:
    mine = df[df["reach_id"] == rid]
    expected = truth[rid]
    assert len(mine) == len(expected), rid
    for (_, wse, q), got_wse, got_q in zip(expected, mine["wse"], mine["reach_q"]):
        assert (wse is None and math.isnan(got_wse)) or abs(wse - got_wse) < 1e-9, (rid, wse, got_wse)
        assert (q is None and math.isnan(got_q)) or q == got_q, (rid, q, got_q)
print(f"series CSV (pandas): {len(df)} observations of {len(ids)} reaches equal pyshp's, fills as empty cells")

# Compact GeoJSON by json: one feature per reach, its fields as arrays, fills null.
headers, body = get(f"/timeseries/reaches?ids={','.join(ids)}&fields=wse", accept="application/geo+json")
assert headers["Content-Type"] == "application/geo+json"
doc = json.loads(body)
assert [f["id"] for f in doc["features"]] == ids
assert doc["observations"] == n_obs and "reach_q" in doc["flags"]
for f in doc["features"]:
    wse = f["properties"]["wse"]
    assert len(wse) == len(f["properties"]["time"]) == len(truth[f["id"]])
    assert all(w is None or isinstance(w, float) for w in wse), wse
    assert [w for w in wse] == [w for (_, w, _) in truth[f["id"]]]
print(f"series GeoJSON (json): {len(doc['features'])} features, arrays equal pyshp's, fills null")

# NetCDF by xarray: CF timeSeries, contiguous ragged arrays.
_, body = get(f"/timeseries/reaches?ids={','.join(ids)}&fields=wse,wse_u&output=netcdf")
with tempfile.NamedTemporaryFile(suffix=".nc", delete=False) as tmp:
    tmp.write(body)
try:
    ds = xr.open_dataset(tmp.name, engine="scipy")
    assert ds.attrs["featureType"] == "timeSeries" and ds.attrs["Conventions"] == "CF-1.8"
    assert ds["row_size"].attrs["sample_dimension"] == "obs"
    got_ids = [bytes(x).decode().rstrip("\0") if not isinstance(x, str) else x for x in ds["reach_id"].values]
    got_ids = [str(x.decode() if isinstance(x, bytes) else x).strip("\0") for x in got_ids]
    assert got_ids == ids, got_ids
    sizes = [int(x) for x in ds["row_size"].values]
    assert sizes == [len(truth[i]) for i in ids] and ds.sizes["obs"] == n_obs
    wse = ds["wse"].values
    expected = [w for i in ids for (_, w, _) in truth[i]]
    for w, e in zip(wse, expected):
        assert (e is None and math.isnan(w)) or abs(w - e) < 1e-9, (w, e)
    assert str(ds["time"].dtype).startswith("datetime64")
    years = {pd.Timestamp(t).year for t in ds["time"].values}
    assert years == {2010, 2026}, years
    ds.close()
finally:
    os.unlink(tmp.name)
print(f"series NetCDF (xarray): {len(ids)} features, {n_obs} observations, wse equal pyshp's, fills NaN")

# Units against the products' own metadata (the `units` of each field in the real
# files' .shp.xml): every field with a physical unit, of a reach and of a lake, in the
# JSON series, the compact GeoJSON and the NetCDF attributes alike.
import xml.etree.ElementTree as ET


def xml_units(pattern):
    path = glob.glob(f"{data}/swot/{pattern}")[0]
    zf = zipfile.ZipFile(path)
    root = ET.fromstring(zf.read(next(n for n in zf.namelist() if n.endswith(".shp.xml"))))
    found = {}
    for e in root.iter():
        u = e.find("units")
        if u is not None and u.text and u.text not in ("-", "TBD") and not u.text.startswith("seconds since"):
            found[e.tag] = u.text
    return path, found


for kind, pattern, id_field in (("reaches", "*RiverSP_Reach_049*.zip", "reach_id"), ("lakes", "*LakeSP_Prior*.zip", "lake_id")):
    path, expected = xml_units(pattern)
    # Only the fields the shapefile carries (its .xml also describes the lakes'
    # coordinates); identifiers have no unit here, though the product gives them "1".
    names = [f for f in expected if f in layer(path)[0] and f not in ("rch_id_up", "rch_id_dn", "p_dam_id")]
    fid = next(r[id_field] for r in layer(path) if fill(r["time"]) is not None)
    for start in range(0, len(names), 60):
        chunk = names[start:start + 60]
        want = {f: expected[f] for f in chunk}
        _, body = get(f"/timeseries/{kind}/{fid}?fields={','.join(chunk)}")
        got = json.loads(body)["units"]
        assert got == want, {f: (got.get(f), want[f]) for f in chunk if got.get(f) != want[f]}
        _, body = get(f"/timeseries/{kind}?ids={fid}&fields={','.join(chunk)}", accept="application/geo+json")
        assert json.loads(body)["units"] == want
        _, body = get(f"/timeseries/{kind}?ids={fid}&fields={','.join(chunk)}&output=netcdf")
        with tempfile.NamedTemporaryFile(suffix=".nc", delete=False) as tmp:
            tmp.write(body)
        try:
            with xr.open_dataset(tmp.name, engine="scipy", decode_cf=False) as ds:
                assert {f: ds[f].attrs.get("units") for f in chunk} == want
        finally:
            os.unlink(tmp.name)
    print(f"series units ({kind}): {len(names)} fields as the product's .shp.xml gives them (JSON, GeoJSON, NetCDF)")

# The nodes of a reach of the simulated files; a quality threshold; the drop policy.
reach = "74269900011"
# One observation per (node, time, product): the simulated node files repeat node
# 74269900010031 at one time with two WSEs (216.55 and 216.53 m); the catalogue
# keeps the product's last row, as it does for any repeated key.
node_truth = set()
for path in sorted(glob.glob(f"{data}/swot/simulated-cycles/*RiverSP_Node*.zip")):
    node_truth |= {(r["node_id"], r["time"], path) for r in layer(path) if r["reach_id"] == reach and fill(r["time"]) is not None}
node_truth = len(node_truth)
_, body = get(f"/timeseries/nodes?reach={reach}&fields=wse&output=csv")
nodes = pd.read_csv(io.BytesIO(body), dtype={"node_id": str})
assert node_truth > 100 and len(nodes) == node_truth, (len(nodes), node_truth)
assert nodes["node_id"].str.startswith(reach[:10]).all()
_, body = get(f"/timeseries/reaches?ids={','.join(ids)}&fields=wse&quality=0&output=csv")
good = pd.read_csv(io.BytesIO(body))
assert len(good) == sum(1 for v in truth.values() for (_, _, q) in v if q is not None and q <= 0)
assert (good["reach_q"] <= 0).all() and len(good) < n_obs
_, body = get(f"/timeseries/reaches?ids={','.join(ids)}&fields=wse&fills=drop&output=csv")
dropped = pd.read_csv(io.BytesIO(body))
assert not dropped["wse"].isna().any() and len(dropped) == sum(1 for v in truth.values() for (_, w, _) in v if w is not None)
assert len(dropped) < n_obs, "the real file has observed reaches without a WSE"
print(f"series: {len(nodes)} node observations of reach {reach}, quality=0 keeps {len(good)}, fills=drop keeps {len(dropped)}")

# A wrong request is a 400 naming the parameter, before any byte of a series.
try:
    get("/timeseries/reaches?ids=123&output=csv")
    raise AssertionError("a bad id was answered")
except urllib.error.HTTPError as e:
    assert e.code == 400 and "11 digits" in json.load(e)["detail"]

# The features as GeoJSON: reaches drawn, fills null.
_, body = get("/features/collections/reaches/items?limit=1000")
fc = json.loads(body)
assert fc["numberMatched"] == fc["numberReturned"] == len(fc["features"]) >= len(ids)
assert all(f["geometry"]["type"] in ("LineString", "MultiLineString") for f in fc["features"])
assert b"-999999999999" not in body
print(f"features: {fc['numberMatched']} reaches as GeoJSON lines")

# Downloads: every item's data asset is an HTTP link of the server; the bytes,
# whole and by range, are the file's, and the digest headers say so.
collections = [c["id"] for c in json.loads(get("/stac/collections")[1])["collections"]]
products = [c for c in collections if c.startswith(("SWOT_", "USGS"))]
search = json.loads(get(f"/stac/search?limit=1000&collections={','.join(products)}")[1])
assert "file://" not in json.dumps(search), "a path of the server in the catalogue"
by_name = {os.path.basename(p): p for p in glob.glob(f"{data}/**/*", recursive=True) if os.path.isfile(p)}
checked = 0
for item in search["features"]:
    asset = item["assets"].get("data")
    if not asset or asset.get("title") not in by_name:
        continue
    assert asset["href"].startswith(base + "/stac/collections/"), asset["href"]
    truth = open(by_name[asset["title"]], "rb").read()
    with urllib.request.urlopen(asset["href"]) as r:
        body = r.read()
        digest = r.headers["Repr-Digest"]
        etag = r.headers["ETag"]
    assert body == truth, asset["title"]
    sha = hashlib.sha256(truth)
    assert digest == f"sha-256=:{base64.b64encode(sha.digest()).decode()}:" and etag == f'"sha256-{sha.hexdigest()}"'
    assert asset["file:checksum"] == "1220" + sha.hexdigest()
    start = len(truth) // 3
    req = urllib.request.Request(asset["href"], headers={"Range": f"bytes={start}-{start + 999}"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 206 and r.headers["Content-Range"] == f"bytes {start}-{start + 999}/{len(truth)}"
        assert r.read() == truth[start:start + 1000]
    checked += 1
assert checked == 17, checked
print(f"downloads: {checked} ingested files by HTTP, whole and by range, equal to the files and their sha256")
