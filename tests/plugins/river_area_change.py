"""river-area-change checked against an independent computation (numpy): for every
reach of the simulated RiverSP cycles (read with pyshp), dA of each pass relative to
the median height, by trapezoids over the (height, width) pairs sorted by height;
then unknown values, too few observations and a bad reference.

usage: river_area_change.py HYSOPE SHARED_DATA"""
import collections, csv, glob, json, math, os, subprocess, sys, tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import shapes  # noqa: E402

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/river-area-change/river-area-change.cwl")
work = tempfile.mkdtemp()
FILL = -999999999999.0


def run(*args, ok=True):
    out = tempfile.mkdtemp(dir=work)
    p = subprocess.run([hysope, "run", cwl, *args, "--out", out], capture_output=True, text=True)
    if not ok:
        return p
    assert p.returncode == 0, p.stderr
    return list(csv.DictReader(open(os.path.join(out, "area_change.csv")))), json.load(open(os.path.join(out, "summary.json")))


obs = collections.defaultdict(list)
for path in sorted(glob.glob(f"{data}/swot/simulated-cycles/SWOT_L2_HR_RiverSP_Reach_*.zip")):
    for d in shapes.records(path):
        ok = d["wse"] > FILL + 1 and d["width"] > FILL + 1
        obs[d["reach_id"]].append((d["time"], d["wse"] if ok else None, d["width"] if ok else None))

checked = 0
for reach, rows in sorted(obs.items()):
    known = [(h, w) for _, h, w in rows if h is not None]
    if len(known) < 2:
        continue
    path = os.path.join(work, f"{reach}.csv")
    with open(path, "w") as f:
        f.write("time,wse,width\n")
        for t, h, w in rows:
            f.write(f"2010-01-01T00:00:00Z,{'' if h is None else repr(h)},{'' if w is None else repr(w)}\n")
    out, summary = run(f"series={path}")
    s = sorted(known)
    hs = np.array([p[0] for p in s]); ws = np.array([p[1] for p in s])
    cum = np.concatenate([[0.0], np.cumsum(np.diff(hs) * (ws[1:] + ws[:-1]) / 2)])
    def integral(h):
        if h <= hs[0]:
            return (h - hs[0]) * ws[0]
        if h >= hs[-1]:
            return cum[-1] + (h - hs[-1]) * ws[-1]
        i = np.searchsorted(hs, h, side="right")
        w = np.interp(h, hs, ws)
        return cum[i - 1] + (h - hs[i - 1]) * (ws[i - 1] + w) / 2
    ref = float(np.median(hs))
    assert math.isclose(summary["reference_height_m"], ref, rel_tol=1e-12), (summary, ref)
    for row, (_, h, w) in zip(out, rows):
        if h is None:
            assert row["d_area"] == "", row
        else:
            assert math.isclose(float(row["d_area"]), integral(h) - integral(ref), rel_tol=1e-9, abs_tol=1e-6), (reach, row)
    checked += 1
assert checked >= 5, checked
print(f"river-area-change: dA of {checked} simulated reaches over 5 passes agrees with numpy (trapezoids, median reference)")

few = os.path.join(work, "few.csv")
open(few, "w").write("time,wse,width\n2010-01-01,1.0,\n2010-01-02,2.0,30\n")
p = run(f"series={few}", ok=False)
assert p.returncode != 0 and "at least 2" in p.stderr and "few.csv" in p.stderr, p.stderr
p = run(f"series={few}", "reference=middle", ok=False)
assert p.returncode != 0 and "--reference" in p.stderr, p.stderr
print("river-area-change: too few observations and a bad reference are refused")
