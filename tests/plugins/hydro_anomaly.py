"""hydro-anomaly checked against an independent computation (numpy): percentiles,
Gumbel fits by moments and L-moments, return levels and day-of-year z-scores on the
real USGS annual peaks; then one value, no known value, and wrong parameters.

usage: hydro_anomaly.py HYSOPE SHARED_DATA"""
import csv, json, math, os, subprocess, sys, tempfile, datetime

import numpy as np

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/hydro-anomaly/hydro-anomaly.cwl")
work = tempfile.mkdtemp()
G = 0.5772156649015329


def run(*args, ok=True):
    out = tempfile.mkdtemp(dir=work)
    p = subprocess.run([hysope, "run", cwl, *args, "--out", out], capture_output=True, text=True)
    if not ok:
        return p
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(open(os.path.join(out, "anomalies.csv"))))
    return json.load(open(os.path.join(out, "thresholds.json"))), rows


peaks = os.path.join(data, "usgs/waterservices_peaks.txt")
lines = [l.rstrip("\r").split("\t") for l in open(peaks).read().splitlines() if l and not l.startswith("#")]
header, body = lines[0], lines[2:]
dates = [r[header.index("peak_dt")] for r in body]
vals = [float(r[header.index("peak_va")]) for r in body]
keep = [(d, v) for d, v in zip(dates, vals) if not d.endswith("-00") and d[5:7] != "00"]
x = np.array([v for _, v in keep])
# A USGS peaks file holds one peak per water year: its rows are the annual maxima.
am = x.copy()

doc, rows = run(f"series={peaks}", "percentiles=50,90,99", "return_periods=2,10,100")
assert doc["values"] == len(x) and doc["annual_maxima"] == len(am), (doc["values"], len(x), doc["annual_maxima"], len(am))
for entry, p in zip(doc["percentiles"], [50, 90, 99]):
    assert math.isclose(entry["value"], np.percentile(x, p), rel_tol=1e-12), (entry, np.percentile(x, p))
beta = math.sqrt(6) * np.std(am, ddof=1) / math.pi
mu = am.mean() - G * beta
s = np.sort(am)
n = len(s)
b1 = sum(i / (n - 1) * v for i, v in enumerate(s)) / n
beta_l = (2 * b1 - s.mean()) / math.log(2)
mu_l = s.mean() - G * beta_l
for key, (m, b) in {"gumbel_moments": (mu, beta), "gumbel_l_moments": (mu_l, beta_l)}.items():
    fit = doc[key]
    assert math.isclose(fit["location"], m, rel_tol=1e-9) and math.isclose(fit["scale"], b, rel_tol=1e-9), (key, fit, m, b)
    for rl in fit["return_levels"]:
        t = rl["period_years"]
        assert math.isclose(rl["value"], m - b * math.log(-math.log(1 - 1 / t)), rel_tol=1e-9), (key, rl)
# Day-of-year z-scores with a +-15 day window, across years.
doy = [datetime.date.fromisoformat(d).timetuple().tm_yday for d, _ in keep]
for i, row in enumerate(rows):
    near = [keep[j][1] for j in range(len(keep)) if min(abs(doy[i] - doy[j]), 366 - abs(doy[i] - doy[j])) <= 15]
    if len(near) < 3 or np.std(near, ddof=1) == 0:
        assert row["z_score"] == "", row
    else:
        assert math.isclose(float(row["z_score"]), (keep[i][1] - np.mean(near)) / np.std(near, ddof=1), rel_tol=1e-9), row
assert doc["annual_maxima_taken"]["from"].startswith("the peaks file's rows"), doc["annual_maxima_taken"]
print(f"hydro-anomaly: {len(x)} USGS peaks: percentiles, Gumbel (moments, L-moments), return levels and z-scores agree with numpy")

# A daily series over six years: maxima by water year (October) by default, by
# calendar year with year_start_month=1, each grouping made here independently.
rng = np.random.default_rng(7)
day0 = datetime.date(2010, 1, 1)
daily = [(day0 + datetime.timedelta(days=i), float(np.round(rng.gamma(2.0, 50.0), 3))) for i in range(6 * 365)]
series = os.path.join(work, "daily.csv")
with open(series, "w") as f:
    f.write("time,value\n")
    for d, v in daily:
        f.write(f"{d.isoformat()},{v}\n")
def gumbel_moments(maxima):
    a = np.array(maxima)
    b = math.sqrt(6) * np.std(a, ddof=1) / math.pi
    return a.mean() - G * b, b
for month, name in [(10, "water"), (1, "calendar")]:
    groups = {}
    for d, v in daily:
        y = d.year + 1 if month > 1 and d.month >= month else d.year
        groups[y] = max(groups.get(y, -math.inf), v)
    maxima = [groups[y] for y in sorted(groups)]
    args = [f"series={series}", "return_periods=100"] + ([] if month == 10 else ["year_start_month=1"])
    doc, _ = run(*args)
    assert doc["annual_maxima"] == len(maxima), (name, doc["annual_maxima"], len(maxima))
    assert doc["annual_maxima_taken"]["year_start_month"] == month
    m, b = gumbel_moments(maxima)
    fit = doc["gumbel_moments"]
    assert math.isclose(fit["location"], m, rel_tol=1e-9) and math.isclose(fit["scale"], b, rel_tol=1e-9), (name, fit, m, b)
p = run(f"series={series}", "year_start_month=13", ok=False)
assert p.returncode != 0 and "year-start-month" in p.stderr, p.stderr
print("hydro-anomaly: a daily series' maxima by water year (default) and by calendar year agree with numpy")

# One value: thresholds, no Gumbel fit, a note that says why; no NaN anywhere.
one = os.path.join(work, "one.csv")
open(one, "w").write("time,value\n2024-05-01,3.5\n")
doc, rows = run(f"series={one}")
assert doc["gumbel_moments"] is None and doc["notes"] and rows[0]["z_score"] == ""
assert "nan" not in json.dumps(doc).lower()
# No known value: a clear error and a non-zero exit.
empty = os.path.join(work, "empty.csv")
open(empty, "w").write("time,value\n2024-05-01,\n")
# No known value: a result with empty statistics that says why (a chain over many
# reaches goes on), never NaN.
out = tempfile.mkdtemp(dir=work)
p = subprocess.run([hysope, "run", cwl, f"series={empty}", "--out", out], capture_output=True, text=True)
assert p.returncode == 0, p.stderr
doc = json.load(open(os.path.join(out, "thresholds.json")))
assert doc["values"] == 0 and "no known value" in doc["notes"][0], doc
assert all(t["value"] is None for t in doc["percentiles"]), doc
assert "nan" not in open(os.path.join(out, "anomalies.csv")).read().lower()
p = run(f"series={one}", "return_periods=1", ok=False)
assert p.returncode != 0 and "return period" in p.stderr, p.stderr
print("hydro-anomaly: one value, no known value (a result with a note) and a 1-year return period behave")
