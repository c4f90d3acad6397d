"""timeseries-resample checked against an independent computation (numpy): daily and
6-hour statistics of the real USGS instantaneous discharges, gap filling after values
are removed, and the merge of a second series by median offset; then bad inputs.

usage: timeseries_resample.py HYSOPE SHARED_DATA"""
import csv, datetime, json, math, os, subprocess, sys, tempfile

import numpy as np

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/timeseries-resample/timeseries-resample.cwl")
work = tempfile.mkdtemp()


def run(*args, ok=True):
    out = tempfile.mkdtemp(dir=work)
    p = subprocess.run([hysope, "run", cwl, *args, "--out", out], capture_output=True, text=True)
    if not ok:
        return p
    assert p.returncode == 0, p.stderr
    return list(csv.DictReader(open(os.path.join(out, "resampled.csv")))), json.load(open(os.path.join(out, "summary.json")))


# Discharge of USGS 01491000 (15-minute values), from the WaterML JSON, as a CSV.
doc = json.load(open(os.path.join(data, "usgs/waterservices_iv.txt")))
series = next(s for s in doc["value"]["timeSeries"] if s["name"] == "USGS:01491000:00060:00000")
pts = [(datetime.datetime.fromisoformat(v["dateTime"]).timestamp(), float(v["value"])) for v in series["values"][0]["value"]]
def write(path, points):
    with open(path, "w") as f:
        f.write("time,value\n")
        for t, v in points:
            f.write(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") + f",{v}\n")
iv = os.path.join(work, "iv.csv")
write(iv, pts)
t = np.array([p[0] for p in pts]); v = np.array([p[1] for p in pts])
for days, stat, fn in [(1, "mean", np.mean), (0.25, "median", np.median), (1, "max", np.max), (1, "count", len)]:
    rows, summary = run(f"series={iv}", f"bin_days={days}", f"stat={stat}")
    width = days * 86400
    idx = np.floor(t / width).astype(int)
    expected = {i: fn(v[idx == i]) for i in np.unique(idx)}
    assert summary["observed"] == len(expected), (summary, len(expected))
    for row in rows:
        i = int(round(datetime.datetime.fromisoformat(row["bin_start"].replace("Z", "+00:00")).timestamp() / width))
        if row["source"] == "observed":
            assert math.isclose(float(row["value"]), expected[i], rel_tol=1e-12), (row, expected[i])
print(f"timeseries-resample: the {len(pts)} USGS 15-minute discharges: daily mean/max/count and 6-hour median agree with numpy")

# A synthetic hourly series over 20 days (the shared USGS file holds 5 values a site).
rng = np.random.default_rng(7)
start = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc).timestamp()
pts = [(start + 3600 * h, 100 + 20 * math.sin(h / 24) + float(rng.normal(0, 1))) for h in range(24 * 20)]
t = np.array([p[0] for p in pts])

# Gap filling: remove three whole days; a limit of 4 bins fills them linearly.
day0 = math.floor(t.min() / 86400)
holes = {day0 + 3, day0 + 4, day0 + 5}
kept = [(a, b) for a, b in pts if math.floor(a / 86400) not in holes]
gappy = os.path.join(work, "gappy.csv")
write(gappy, kept)
rows, summary = run(f"series={gappy}", "bin_days=1", "max_gap_bins=4")
assert summary["filled"] == 3 and summary["empty"] == 0, summary
i2 = next(i for i, r in enumerate(rows) if r["source"] == "filled")
lo, hi = float(rows[i2 - 1]["value"]), float(rows[i2 + 3]["value"])
for j in range(3):
    assert math.isclose(float(rows[i2 + j]["value"]), lo + (j + 1) / 4 * (hi - lo), rel_tol=1e-12)
rows, summary = run(f"series={gappy}", "bin_days=1", "max_gap_bins=3")
assert summary["filled"] == 0 and summary["empty"] == 3, summary

# Merge: the second half as another mission reading 12.5 higher, alone on later days.
half = len(pts) // 2
other = os.path.join(work, "other.csv")
write(other, [(a, b + 12.5) for a, b in pts[half // 2:]])
first = os.path.join(work, "first.csv")
write(first, pts[:half])
rows, summary = run(f"series={first}", f"other={other}", "bin_days=1")
assert math.isclose(summary["merge_offset"], -12.5, abs_tol=1e-9), summary
merged = [r for r in rows if r["source"] == "merged"]
assert merged and summary["empty"] == 0
print(f"timeseries-resample: gaps filled within the limit only; merge offset {summary['merge_offset']} over {len(merged)} merged bins")

# Bad inputs.
p = run(f"series={iv}", "stat=mode", ok=False)
assert p.returncode != 0 and "--stat" in p.stderr, p.stderr
bad = os.path.join(work, "bad.csv")
open(bad, "w").write("time,value\nyesterday,1\n")
p = run(f"series={bad}", ok=False)
assert p.returncode != 0 and "bad.csv: row 1" in p.stderr, p.stderr
p = run(f"series={iv}", f"other={bad}", ok=False)
assert p.returncode != 0, p.stderr
print("timeseries-resample: an unknown statistic and an undated row are refused")
