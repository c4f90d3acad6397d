"""lake-storage-change checked against an independent computation (numpy, pyshp):
a perturbed copy of the real LakeSP Prior pass is compared with the pass itself,
then edge cases: every value a fill value, a single observed lake, a foreign file.

usage: lake_storage_change.py HYSOPE SHARED_DATA"""
import csv, glob, json, math, os, subprocess, sys, tempfile, zipfile

import numpy as np
import shapefile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import shapes  # noqa: E402

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/lake-storage-change/lake-storage-change.cwl")
real = glob.glob(f"{data}/swot/SWOT_L2_HR_LakeSP_Prior_*.zip")[0]
work = tempfile.mkdtemp()
FILL = -999999999999.0


read = shapes.reader


def write(path, reader, change):
    """A copy of a LakeSP layer with `change(record dict) -> record dict` applied."""
    base = os.path.join(work, "layer")
    w = shapefile.Writer(base, shapeType=reader.shapeType)
    w.fields = list(reader.fields[1:])
    names = [f[0] for f in reader.fields[1:]]
    for shape_rec in reader.iterShapeRecords():
        rec = change(dict(zip(names, shape_rec.record)))
        if rec is None:
            continue
        w.shape(shape_rec.shape)
        w.record(*[rec[n] for n in names])
    w.close()
    with zipfile.ZipFile(path, "w") as z:
        for ext in ("shp", "shx", "dbf"):
            z.write(f"{base}.{ext}", f"layer.{ext}")


def run(lakes, reference=None, expect_ok=True):
    out = tempfile.mkdtemp(dir=work)
    args = [hysope, "run", cwl, f"lakes={lakes}"] + ([f"reference={reference}"] if reference else []) + ["--out", out]
    p = subprocess.run(args, capture_output=True, text=True)
    if not expect_ok:
        return p
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(open(os.path.join(out, "storage_change.csv"))))
    summary = json.load(open(os.path.join(out, "summary.json")))
    text = open(os.path.join(out, "storage_change.csv")).read().lower()
    assert "nan" not in text and "inf" not in text and str(int(FILL)) not in text
    return rows, summary


ref = read(real)
names = [f[0] for f in ref.fields[1:]]
recs = [dict(zip(names, r)) for r in ref.records()]


def shifted(r):
    r = dict(r)
    if r["wse"] > FILL + 1:
        r["wse"] = r["wse"] + 0.5
        r["area_total"] = r["area_total"] * 1.1
    return r


current = os.path.join(work, "current.zip")
write(current, ref, shifted)
rows, summary = run(current, real)

# The same computation, independently, with numpy.
obs = [r for r in recs if r["wse"] > FILL + 1 and r["area_total"] > FILL + 1]
usable = [r for r in obs if r["quality_f"] is not None and 0 <= r["quality_f"] <= 1]
h_ref = np.array([r["wse"] for r in usable])
a_ref = np.array([r["area_total"] for r in usable])
# The pass as written (the .dbf keeps the field's decimals), read back.
cur = read(current)
cur_by_id = {r["lake_id"]: r for r in (dict(zip(names, x)) for x in cur.records())}
h = np.array([cur_by_id[r["lake_id"]]["wse"] for r in usable])
a = np.array([cur_by_id[r["lake_id"]]["area_total"] for r in usable])
assert np.allclose(h - h_ref, 0.5, atol=1e-6) and np.allclose(a / a_ref, 1.1, rtol=1e-4)
su_h = np.array([max(r["wse_u"], 0) for r in usable])
su_a = np.array([max(r["area_tot_u"], 0) for r in usable])
lin = (h - h_ref) / 2 * (a + a_ref) * 1e-3
fru = (h - h_ref) / 3 * (a + a_ref + np.sqrt(a * a_ref)) * 1e-3
# Both passes carry the same wse_u and area_tot_u (the copy keeps them).
lin_u = np.sqrt(((a + a_ref) / 2) ** 2 * 2 * su_h**2 + ((h - h_ref) / 2) ** 2 * 2 * su_a**2) * 1e-3
by_id = {r["lake_id"]: r for r in rows}
assert len(rows) == len(recs), (len(rows), len(recs))
for i, r in enumerate(usable):
    row = by_id[r["lake_id"]]
    assert row["status"] == "computed", row
    assert math.isclose(float(row["dv_linear_km3"]), lin[i], rel_tol=1e-9, abs_tol=1e-15), (row, lin[i])
    assert math.isclose(float(row["dv_frustum_km3"]), fru[i], rel_tol=1e-9, abs_tol=1e-15), (row, fru[i])
    assert math.isclose(float(row["dv_linear_u_km3"]), lin_u[i], rel_tol=1e-9, abs_tol=1e-15), (row, lin_u[i])
assert summary["status"]["computed"] == len(usable)
assert summary["status"]["unobserved"] == len(recs) - len(obs)
assert summary["status"]["quality"] == len(obs) - len(usable)
for row in rows:
    if row["status"] != "computed":
        assert row["dv_linear_km3"] == "" and row["dv_frustum_km3"] == "", row
print(f"lake-storage-change: {len(usable)} lakes agree with numpy (linear, frustum, uncertainty), "
      f"{summary['status']['quality']} left out for quality, {summary['status']['unobserved']} unobserved")

# Without a reference: the file's Prior Lake Database reference is fill everywhere.
rows, summary = run(real)
assert summary["status"]["computed"] == 0 and summary["status"]["no reference"] > 0
assert all(r["dv_linear_km3"] == "" for r in rows)

# Every value a fill value: every lake unobserved, exit 0, nothing computed.
all_fill = os.path.join(work, "fill.zip")
write(all_fill, ref, lambda r: {**r, "wse": FILL, "area_total": FILL, "quality_f": -999})
rows, summary = run(all_fill, real)
assert summary["status"]["unobserved"] == len(recs) and summary["status"]["computed"] == 0

# A single observed lake.
first = usable[0]["lake_id"]
one = os.path.join(work, "one.zip")
write(one, ref, lambda r: shifted(r) if r["lake_id"] == first else None)
rows, summary = run(one, real)
assert len(rows) == 1 and rows[0]["status"] == "computed"
assert math.isclose(float(rows[0]["dv_linear_km3"]), lin[0], rel_tol=1e-9)

# A foreign file: a clear error naming it, a non-zero exit.
foreign = os.path.join(work, "notes.zip")
with zipfile.ZipFile(foreign, "w") as z:
    z.writestr("notes.txt", "not a shapefile")
p = run(foreign, expect_ok=False)
assert p.returncode != 0 and "notes.zip" in p.stderr and "shapefile" in p.stderr, p.stderr
print("lake-storage-change: no reference, all fill values, one lake and a foreign file behave")
