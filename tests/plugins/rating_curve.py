"""rating-curve checked against an independent computation (numpy): the same grid of
zero-flow stages and numpy's polyfit on the real USGS rating, applied to levels;
then an exact power law, levels at or below h0, and bad inputs.

usage: rating_curve.py HYSOPE SHARED_DATA"""
import csv, json, math, os, subprocess, sys, tempfile

import numpy as np

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/rating-curve/rating-curve.cwl")
work = tempfile.mkdtemp()


def run(*pairs_and_args, ok=True):
    out = tempfile.mkdtemp(dir=work)
    p = subprocess.run([hysope, "run", cwl, *pairs_and_args, "--out", out], capture_output=True, text=True)
    if not ok:
        return p
    assert p.returncode == 0, p.stderr
    fit = json.load(open(os.path.join(out, "fit.json")))
    path = os.path.join(out, "discharge.csv")
    rows = list(csv.DictReader(open(path))) if os.path.exists(path) else None
    return fit, rows


def numpy_fit(h, q, grid):
    h, q = np.asarray(h, float), np.asarray(q, float)
    span = h.max() - h.min()
    cands = np.linspace(h.min() - span, h.min() - span / grid, grid)
    best = None
    for h0 in cands:
        x, y = np.log(h - h0), np.log(q)
        b, c = np.polyfit(x, y, 1)
        sse = float(np.sum((y - (c + b * x)) ** 2))
        if best is None or sse < best[3]:
            best = (h0, math.exp(c), b, sse)
    return best


# The real USGS rating (RDB), and levels.
rating = os.path.join(data, "usgs/waterservices_ratings.txt")
lines = [l.split("\t") for l in open(rating).read().splitlines() if l and not l.startswith("#")][2:]
h = [float(l[0]) for l in lines]
q = [float(l[1]) for l in lines]
h0, a, b, sse = numpy_fit(h, q, 1000)
levels = os.path.join(work, "levels.csv")
open(levels, "w").write("reach_id,time,wse\nx,t1,3.4\nx,t2,\nx,t3,12.0\nx,t4,%r\n" % float(h0 - 0.1))
fit, rows = run(f"pairs={rating}", f"levels={levels}", "level_column=wse")
assert fit["pairs_used"] == len(h) == 11
assert math.isclose(fit["h0"], h0, rel_tol=1e-9), (fit, h0)
assert math.isclose(fit["a"], a, rel_tol=1e-6) and math.isclose(fit["b"], b, rel_tol=1e-6), (fit, a, b)
assert fit["r2_log"] > 0.99
assert [r["time"] for r in rows] == ["t1", "t2", "t3", "t4"]
assert math.isclose(float(rows[0]["discharge"]), a * (3.4 - h0) ** b, rel_tol=1e-6)
assert rows[1]["discharge"] == "" and rows[1]["wse"] == ""          # unknown level
assert math.isclose(float(rows[2]["discharge"]), a * (12.0 - h0) ** b, rel_tol=1e-6)
assert rows[3]["discharge"] == ""                                    # below h0: no flow defined
print(f"rating-curve: USGS rating fit agrees with numpy (a={a:.4f}, b={b:.4f}, h0={h0:.4f}, R2 log {fit['r2_log']:.4f})")

# An exact power law on a grid that holds its h0: recovered.
pairs = os.path.join(work, "pairs.csv")
stages = [3.0, 4.0, 5.0, 6.0, 7.0]
open(pairs, "w").write("stage,discharge\n" + "".join(f"{s},{3 * (s - 0.6) ** 1.5}\n" for s in stages))
fit, _ = run(f"pairs={pairs}", "grid=5")
assert abs(fit["h0"] - 0.6) < 1e-12 and abs(fit["a"] - 3) < 1e-9 and abs(fit["b"] - 1.5) < 1e-9, fit

# Bad inputs: too few pairs, a foreign file; clear errors and non-zero exits.
few = os.path.join(work, "few.csv")
open(few, "w").write("stage,discharge\n1,2\n2,3\n")
p = run(f"pairs={few}", ok=False)
assert p.returncode != 0 and "at least 3" in p.stderr, p.stderr
foreign = os.path.join(work, "notes.csv")
open(foreign, "w").write("a,b\n1,2\n")
p = run(f"pairs={foreign}", ok=False)
assert p.returncode != 0 and "notes.csv" in p.stderr and "stage" in p.stderr, p.stderr
print("rating-curve: exact power law recovered; too few pairs and a foreign file refused")
