"""virtual-station-wse checked against an independent computation (h5py, numpy) on the
PIXC tile of ../shared/data: the example stations, dark-water classes, tides, pixels
marked bad in a copy; then edge cases: every height a fill value, a station of one
pixel, a truncated tile, a station file that is not GeoJSON.

usage: virtual_station_wse.py HYSOPE SHARED_DATA"""
import csv, glob, json, math, os, shutil, subprocess, sys, tempfile
from datetime import datetime, timedelta, timezone

import h5py
import numpy as np

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
plugin = os.path.join(root, "plugins/virtual-station-wse")
cwl = os.path.join(plugin, "virtual-station-wse.cwl")
real = glob.glob(f"{data}/swot/SWOT_L2_HR_PIXC_*.nc")[0]
stations_path = os.path.join(plugin, "example-stations.geojson")
work = tempfile.mkdtemp()


def run(pixc, stations, *extra, expect_ok=True):
    out = tempfile.mkdtemp(dir=work)
    args = [hysope, "run", cwl, f"pixc={pixc}", f"stations={stations}", *extra, "--out", out]
    p = subprocess.run(args, capture_output=True, text=True)
    if not expect_ok:
        return p
    assert p.returncode == 0, p.stderr
    text = open(os.path.join(out, "wse.csv")).read()
    assert "nan" not in text.lower() and "inf" not in text.lower()
    rows = {r["station"]: r for r in csv.DictReader(open(os.path.join(out, "wse.csv")))}
    return rows, json.load(open(os.path.join(out, "summary.json")))


def load(path):
    g = h5py.File(path, "r")["pixel_cloud"]
    def var(name):
        d = g[name]
        a = d[:].astype(np.float64)
        fill = d.attrs.get("_FillValue")
        bad = np.zeros(a.shape, bool)
        if fill is not None:
            bad |= a == np.float64(np.asarray(fill, dtype=d.dtype)[0])
        for attr, op in (("valid_min", np.less), ("valid_max", np.greater)):
            if attr in d.attrs:
                bad |= op(a, np.float64(np.asarray(d.attrs[attr], dtype=d.dtype)[0]))
        a[bad] = np.nan
        return a
    names = ["latitude", "longitude", "height", "geoid", "classification", "pixc_qual",
             "illumination_time", "solid_earth_tide", "load_tide_fes", "pole_tide"]
    return {n: var(n) for n in names}


def inside_ring(ring, x, y):
    """Even-odd ray casting over numpy arrays of points."""
    ring = np.asarray(ring, float)
    inside = np.zeros(x.shape, bool)
    for (x1, y1), (x2, y2) in zip(ring[:-1], ring[1:]):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (x2 - x1) * (y - y1) / (y2 - y1) + x1
        inside ^= crosses & (x < at)
    return inside


def in_station(geometry, x, y):
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    mask = np.zeros(x.shape, bool)
    for rings in polys:
        m = inside_ring(rings[0], x, y)
        for hole in rings[1:]:
            m &= ~inside_ring(hole, x, y)
        mask |= m
    return mask


def expected(px, geometry, classes=(3, 4), k=3.0, tides=False, max_q=0.0):
    x, y = px["longitude"], px["latitude"]
    inside = in_station(geometry, x, y)
    water = inside & np.isin(px["classification"], classes)
    level = px["height"] - px["geoid"]
    if tides:
        level = level - (px["solid_earth_tide"] + px["load_tide_fes"] + px["pole_tide"])
    cand = water & (px["pixc_qual"] <= max_q) & np.isfinite(level)
    h = level[cand]
    if len(h) == 0:
        return dict(inside=inside.sum(), water=water.sum(), candidates=0, wse=None)
    m = np.median(h)
    mad = np.median(np.abs(h - m))
    keep = np.abs(h - m) <= k * 1.4826 * mad
    used = h[keep]
    wse = np.median(used)
    std = 1.4826 * np.median(np.abs(used - wse))
    t = np.median(px["illumination_time"][cand][keep])
    when = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=math.floor(t))
    return dict(inside=inside.sum(), water=water.sum(), candidates=len(h), used=len(used),
                wse=wse, std=std, u=math.sqrt(math.pi / 2) * std / math.sqrt(len(used)),
                time=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                lon=x[cand][keep].mean(), lat=y[cand][keep].mean())


def compare(rows, stations, px, **kw):
    checked = 0
    for f in stations["features"]:
        row, e = rows[f["properties"]["id"]], expected(px, f["geometry"], **kw)
        assert int(row["pixels_inside"]) == e["inside"], (row, e)
        assert int(row["pixels_water"]) == e["water"], (row, e)
        assert int(row["pixels_candidates"]) == e["candidates"], (row, e)
        if e["wse"] is None:
            assert row["wse"] == "" and row["status"] != "ok", row
            continue
        assert row["status"] == "ok" and int(row["pixels_used"]) == e["used"], (row, e)
        for col, key in (("wse", "wse"), ("wse_std", "std"), ("wse_u", "u"), ("longitude", "lon"), ("latitude", "lat")):
            assert math.isclose(float(row[col]), e[key], rel_tol=1e-9, abs_tol=1e-12), (col, row, e)
        assert row["time"] == e["time"], (row, e)
        checked += 1
    return checked


px = load(real)
stations = json.load(open(stations_path))
rows, summary = run(real, stations_path)
n = compare(rows, stations, px)
assert n == 3 and rows["dry-land"]["status"] == "no_pixels", rows
assert summary["pixels"] == len(px["latitude"]) and "pixc_qual" in summary["quality"]
print(f"virtual-station-wse: {n} stations agree with numpy on the PIXC tile "
      f"({', '.join(r['station'] + ' ' + r['wse'][:8] + ' m from ' + r['pixels_used'] + ' pixels' for r in rows.values() if r['wse'])})")

# Dark water too, a looser rejection, tides subtracted.
rows, _ = run(real, stations_path, "classes=3,4,23,24", "mad_factor=2", "tides=true")
assert compare(rows, stations, px, classes=(3, 4, 23, 24), k=2.0, tides=True) == 3
print("virtual-station-wse: dark water classes, k = 2 and tides agree with numpy")

# A copy with every third pixel marked bad and some heights fill values.
marked = os.path.join(work, "SWOT_L2_HR_PIXC_001_042_067L_marked.nc")
shutil.copy(real, marked)
with h5py.File(marked, "r+") as f:
    q = f["pixel_cloud/pixc_qual"][:]
    q[::3] = 1
    f["pixel_cloud/pixc_qual"][:] = q
    h = f["pixel_cloud/height"][:]
    h[1::7] = f["pixel_cloud/height"].attrs["_FillValue"][0]
    f["pixel_cloud/height"][:] = h
rows, _ = run(marked, stations_path)
assert compare(rows, stations, load(marked)) == 3
print("virtual-station-wse: a copy with bad-quality and fill-value pixels agrees with numpy")

# Every height a fill value: no station has a level, and the table says why.
fill = os.path.join(work, "SWOT_L2_HR_PIXC_001_042_067L_fill.nc")
shutil.copy(real, fill)
with h5py.File(fill, "r+") as f:
    d = f["pixel_cloud/height"]
    d[:] = np.full(d.shape, d.attrs["_FillValue"][0], d.dtype)
rows, summary = run(fill, stations_path)
assert summary["status"] == {"no_good_pixels": 3, "no_pixels": 1}, summary
assert all(r["wse"] == "" for r in rows.values())

# A station around a single water pixel: its level, no spread.
i = int(np.flatnonzero(np.isin(px["classification"], (3, 4)) & np.isfinite(px["height"]))[1000])
x, y, d = px["longitude"][i], px["latitude"][i], 1e-6
near = (np.abs(px["longitude"] - x) < d) & (np.abs(px["latitude"] - y) < d)
assert near.sum() == 1
one = os.path.join(work, "one.geojson")
json.dump({"type": "Polygon", "coordinates": [[[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]]}, open(one, "w"))
rows, _ = run(real, one)
row = rows["station-1"]
assert row["pixels_used"] == "1" and row["wse_u"] == "" and row["wse_std"] == "", row
assert math.isclose(float(row["wse"]), px["height"][i] - px["geoid"][i], rel_tol=1e-12), row

# A truncated tile and a station file that is not GeoJSON: errors naming the file.
cut = os.path.join(work, "SWOT_L2_HR_PIXC_cut.nc")
open(cut, "wb").write(open(real, "rb").read()[:500_000])
p = run(cut, stations_path, expect_ok=False)
assert p.returncode != 0 and "SWOT_L2_HR_PIXC_cut.nc: truncated: 500000 bytes" in p.stderr, p.stderr
bad = os.path.join(work, "stations.geojson")
open(bad, "w").write('{"type": "Point", "coordinates": [0, 0]}')
p = run(real, bad, expect_ok=False)
assert p.returncode != 0 and "stations.geojson" in p.stderr and "Point" in p.stderr, p.stderr
print("virtual-station-wse: all fill values, one pixel, a truncated tile and a wrong station file behave")
