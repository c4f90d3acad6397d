"""swot-river-filter on nodes and lakes checked against an independent reading (pyshp):
the simulated RiverSP node files and the real LakeSP Prior pass, with the default and
changed thresholds and both unknown-flag policies; the kind is told by the fields;
a shapefile of another product and no file are refused. (Reaches:
tests/tests/river_filter.rs.)

usage: swot_river_filter.py HYSOPE SHARED_DATA"""
import csv, glob, json, os, subprocess, sys, tempfile, zipfile

import shapefile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import shapes  # noqa: E402

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/swot-river-filter/swot-river-filter.cwl")
work = tempfile.mkdtemp()
FILLS = (-999999999999.0, -999, -9999)  # -9999: the simulated (PGA2) products


records = shapes.records


def known(v):
    return v is not None and not (isinstance(v, (int, float)) and (v in FILLS or v <= -999999999999.0 + 1))


def expected(recs, quality, limits, drop_unknown=False):
    """The ids kept and the count dropped per rule (first failing rule)."""
    kept, dropped = [], {}
    for r in recs:
        if not known(r["wse"]):
            dropped["unobserved"] = dropped.get("unobserved", 0) + 1
            continue
        for field, limit in [(quality, limits[quality])] + [(f, limits[f]) for f in ("ice_clim_f", "ice_dyn_f", "partial_f", "xovr_cal_q")]:
            v = r[field]
            if (known(v) and v > limit) or (not known(v) and drop_unknown):
                dropped[field] = dropped.get(field, 0) + 1
                break
        else:
            kept.append(r)
    return kept, dropped


def run(kind, path, *extra, expect_ok=True):
    out = tempfile.mkdtemp(dir=work)
    p = subprocess.run([hysope, "run", cwl, *([f"product={path}"] if path else []), *extra, "--out", out],
                       capture_output=True, text=True)
    if not expect_ok:
        return p
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(open(os.path.join(out, f"{kind}.csv"))))
    geo = json.load(open(os.path.join(out, f"{kind}.geojson")))
    assert len(geo["features"]) == len(rows)
    return rows, json.load(open(os.path.join(out, "summary.json")))


def check(kind, path, quality, id_field, limits, extra=(), drop_unknown=False):
    recs = records(path)
    kept, dropped = expected(recs, quality, limits, drop_unknown)
    rows, summary = run(kind, path, *extra)
    assert [r[id_field] for r in rows] == [str(r[id_field]) for r in kept], (path, len(rows), len(kept))
    assert summary["kind"] == kind and summary["features"] == len(recs) and summary["kept"] == len(kept)
    assert {k: v for k, v in summary["dropped"].items() if v} == dropped, (summary["dropped"], dropped)
    for row in rows:
        assert all(row[f] not in ("-9999", "-999", "-999999999999") for f in row), row
    return len(recs), len(kept), dropped


defaults = {"node_q": 1, "quality_f": 1, "ice_clim_f": 0, "ice_dyn_f": 0, "partial_f": 0, "xovr_cal_q": 1}
nodes = sorted(glob.glob(f"{data}/swot/simulated-cycles/*_Node_*.zip"))
total = kept = 0
for path in nodes:
    n, k, _ = check("nodes", path, "node_q", "node_id", defaults)
    total, kept = total + n, kept + k
print(f"swot-river-filter: nodes of {len(nodes)} simulated passes agree with pyshp ({kept} of {total} kept)")
n, k, d = check("nodes", nodes[0], "node_q", "node_id", {**defaults, "xovr_cal_q": 0}, ["max_xovr_cal_q=0"])
assert k == 0 and d["xovr_cal_q"] > 0, d

lakes = glob.glob(f"{data}/swot/SWOT_L2_HR_LakeSP_Prior_*.zip")[0]
n, k, d = check("lakes", lakes, "quality_f", "lake_id", defaults)
print(f"swot-river-filter: {n} LakeSP lakes agree with pyshp: {k} kept, dropped {d}")
n, k2, d = check("lakes", lakes, "quality_f", "lake_id", {**defaults, "quality_f": 2}, ["max_quality_f=2"])
assert k2 > k, (k, k2)
# The ice flags are fill values in every lake of the real pass: "drop" drops every observed lake.
n, k, d = check("lakes", lakes, "quality_f", "lake_id", defaults, ["unknown_flags=drop"], drop_unknown=True)
assert k == 0 and d["ice_clim_f"] > 0, d
print("swot-river-filter: LakeSP quality_f 2 and the drop policy agree with pyshp")

# A shapefile of another product: refused, naming the file and what it lacks.
base = os.path.join(work, "stations")
w = shapefile.Writer(base, shapeType=shapefile.POINT)
w.field("name", "C")
w.point(1.0, 2.0)
w.record("gauge")
w.close()
other = os.path.join(work, "stations.zip")
with zipfile.ZipFile(other, "w") as z:
    for ext in ("shp", "shx", "dbf"):
        z.write(f"{base}.{ext}", f"stations.{ext}")
p = run("nodes", other, expect_ok=False)
assert p.returncode != 0 and "stations.zip: none of RiverSP reach, RiverSP node or LakeSP" in p.stderr, p.stderr
p = run("nodes", "", expect_ok=False)
assert p.returncode != 0 and "product: missing required input" in p.stderr, p.stderr
print("swot-river-filter: a shapefile of another product and no file are refused")
