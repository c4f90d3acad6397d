"""river-discharge checked against an independent computation (numpy): Manning,
MetroMan, HiVDI, MOMMA (B and H set per reach so that passes fall below and above
bankfull), their consensus and first-order uncertainties for every simulated
reach over the 5 RiverSP passes (read with pyshp, dA by trapezoids over height and
width); then zero and negative slopes, A0 + dA <= 0, and missing parameters.

usage: river_discharge.py HYSOPE SHARED_DATA"""
import collections, csv, glob, json, math, os, subprocess, sys, tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import shapes  # noqa: E402
from manning import d_area, expected, momma  # noqa: E402

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/river-discharge/river-discharge.cwl")
work = tempfile.mkdtemp()
FILL = -999999999999.0
PARAMS = {"a0": 800.0, "n": 0.03, "n_inf": 0.03, "p": 0.1, "alpha": 30.0, "beta": 0.2}


def run(series, params=PARAMS, ok=True):
    out = tempfile.mkdtemp(dir=work)
    p = subprocess.run([hysope, "run", cwl, f"series={series}", *[f"{k}={v}" for k, v in params.items()], "--out", out],
                       capture_output=True, text=True)
    if not ok:
        return p
    assert p.returncode == 0, p.stderr
    return list(csv.DictReader(open(os.path.join(out, "discharge.csv")))), json.load(open(os.path.join(out, "summary.json")))


def write(path, rows):
    with open(path, "w") as f:
        f.write("time,wse,width,slope,wse_u,width_u\n")
        for r in rows:
            f.write(",".join("" if x is None else x if isinstance(x, str) else repr(x) for x in r) + "\n")


obs = collections.defaultdict(list)
for path in sorted(glob.glob(f"{data}/swot/simulated-cycles/SWOT_L2_HR_RiverSP_Reach_*.zip")):
    for d in shapes.records(path):
        if min(d["wse"], d["width"], d["slope"]) > FILL + 1:
            obs[d["reach_id"]].append(("2010-01-01T00:00:00Z", d["wse"], d["width"], d["slope"], d["wse_u"], d["width_u"]))
checked = 0
for reach, rows in sorted(obs.items()):
    if len(rows) < 2:
        continue
    path = os.path.join(work, f"{reach}.csv")
    write(path, rows)
    heights = [r[1] for r in rows]
    mp = {"momma_b": min(heights) - 3.0, "momma_h": float(np.median(heights)), "momma_save": 1e-4}
    out, summary = run(path, {**PARAMS, **mp})
    assert summary["algorithms"] == ["manning", "metroman", "hivdi", "momma"], summary
    da = d_area([(r[1], r[2]) for r in rows])
    for row, r in zip(out, rows):
        if r[3] < 0:
            assert row["status"] == "negative slope" and row["q_consensus"] == "", row
            continue
        exp = expected(da(r[1]), r[2], r[3], r[4], r[5], PARAMS)
        exp["momma"] = momma(r[1], r[2], r[3], r[4], r[5], mp["momma_b"], mp["momma_h"], mp["momma_save"])
        for name, (q, qu) in exp.items():
            assert math.isclose(float(row[f"q_{name}"]), q, rel_tol=1e-9), (reach, name, row, q)
            assert math.isclose(float(row[f"q_{name}_u"]), qu, rel_tol=1e-9), (reach, name, row, qu)
        assert math.isclose(float(row["q_consensus"]), float(np.median([v[0] for v in exp.values()])), rel_tol=1e-9)
    checked += 1
assert checked >= 5, checked
print(f"river-discharge: Manning, MetroMan, HiVDI, MOMMA, consensus and uncertainties of {checked} simulated reaches agree with numpy")

edge = os.path.join(work, "edge.csv")
write(edge, [("t1", 10.0, 50.0, 0.0, 0.1, 1.0), ("t2", 11.0, 60.0, -1e-5, 0.1, 1.0), ("t3", 12.0, 70.0, 1e-4, 0.1, 1.0),
             ("t4", None, None, 1e-4, None, None)])
out, summary = run(edge, {**PARAMS, "a0": 500.0})
assert out[0]["q_manning"] == "0" and out[0]["status"] == "computed", out[0]        # no slope, no flow
assert out[1]["status"] == "negative slope" and out[1]["q_manning"] == "", out[1]
assert out[3]["status"] == "unknown input", out[3]
shallow = run(edge, {**PARAMS, "a0": -200.0})[0]
assert shallow[0]["status"].startswith("non-positive area"), shallow[0]
text = open(edge).read()
p = run(edge, {"a0": 100.0}, ok=False)
assert p.returncode != 0 and "no flow law" in p.stderr, p.stderr
p = run(edge, {"a0": 100.0, "n_inf": 0.03}, ok=False)
assert p.returncode != 0 and "both --n-inf and --p" in p.stderr, p.stderr
p = run(edge, {"momma_b": 5.0, "momma_h": 20.0}, ok=False)
assert p.returncode != 0 and "--momma-save" in p.stderr, p.stderr
p = run(edge, {"n": 0.03}, ok=False)
assert p.returncode != 0 and "--a0 is needed" in p.stderr, p.stderr
# MOMMA alone needs no A0; a water surface at or below B has no discharge.
out, summary = run(edge, {"momma_b": 10.5, "momma_h": 12.0, "momma_save": 1e-4})
assert out[0]["status"].startswith("wse at or below") and out[0]["q_momma"] == "", out[0]
assert out[2]["status"] == "computed" and math.isclose(float(out[2]["q_momma"]), momma(12.0, 70.0, 1e-4, 0.1, 1.0, 10.5, 12.0, 1e-4)[0], rel_tol=1e-9), out[2]
assert summary["a0_m2"] is None
print("river-discharge: zero and negative slopes, A0 + dA <= 0, unknown inputs and missing parameters behave")
