"""plugins/workflows/river-discharge.cwl (filter -> area change -> discharge -> anomaly
over the simulated RiverSP passes) checked against an independent computation: the
passes read with pyshp, the filter's rules, each reach's dA by trapezoids, the three
area-based flow laws and their median (numpy, tests/plugins/lib/manning.py), and the
percentiles of the consensus discharge (numpy.percentile).

usage: workflow_river_discharge.py HYSOPE SHARED_DATA"""
import collections, csv, glob, json, math, os, subprocess, sys, tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import shapes  # noqa: E402
from manning import d_area, expected  # noqa: E402

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cwl = os.path.join(root, "plugins/workflows/river-discharge.cwl")
example = os.path.join(root, "plugins/workflows/river-discharge.example.yml")
PARAMS = {"a0": 800.0, "n": 0.03, "n_inf": 0.03, "p": 0.1, "alpha": 30.0, "beta": 0.2}
FILLS = (-999999999999.0, -999, -9999)

out = tempfile.mkdtemp()
p = subprocess.run([hysope, "run", cwl, example, "--out", out], capture_output=True, text=True)
assert p.returncode == 0, p.stderr
result = json.loads(p.stdout)

# The reaches the workflow should keep: observed, reach_q <= 1, ice flags 0, partial_f 0,
# xovr_cal_q <= 1 (unknown flags kept), in 3 or more passes.
obs = collections.defaultdict(list)
for path in sorted(glob.glob(f"{data}/swot/simulated-cycles/SWOT_L2_HR_RiverSP_Reach_*.zip")):
    for d in shapes.records(path):
        known = lambda v: v not in FILLS and v > -999999999999.0 + 1
        if not (known(d["wse"]) and known(d["width"])):
            continue
        if any(known(d[f]) and d[f] > lim for f, lim in
               (("reach_q", 1), ("ice_clim_f", 0), ("ice_dyn_f", 0), ("partial_f", 0), ("xovr_cal_q", 1))):
            continue
        obs[str(d["reach_id"])].append((d["time"], d["wse"], d["width"], d["slope"], d["wse_u"], d["width_u"]))
reaches = {k: sorted(v) for k, v in obs.items() if len(v) >= 3}

tables = {}
for f in result["discharge"]:
    rows = list(csv.DictReader(open(f["path"])))
    tables[rows[0]["reach_id"]] = (rows, f)
assert sorted(tables) == sorted(reaches), (sorted(tables), sorted(reaches))
thresholds = {}
for f in result["thresholds"]:
    thresholds[f["path"]] = json.load(open(f["path"]))
anomalies = {}
for f in result["anomalies"]:
    anomalies[f["path"]] = list(csv.DictReader(open(f["path"])))

checked_rows = 0
for reach, series in reaches.items():
    rows, _ = tables[reach]
    assert len(rows) == len(series), (reach, len(rows), len(series))
    da = d_area([(s[1], s[2]) for s in series])
    consensus = []
    for row, s in zip(rows, series):
        if s[3] < 0:
            assert row["status"] == "negative slope" and row["q_consensus"] == "", row
            continue
        exp = expected(da(s[1]), s[2], s[3], s[4], s[5], PARAMS)
        for name, (q, qu) in exp.items():
            assert math.isclose(float(row[f"q_{name}"]), q, rel_tol=1e-9), (reach, name, row, q)
            assert math.isclose(float(row[f"q_{name}_u"]), qu, rel_tol=1e-9), (reach, name, row, qu)
        c = float(np.median([v[0] for v in exp.values()]))
        assert math.isclose(float(row["q_consensus"]), c, rel_tol=1e-9), (reach, row, c)
        consensus.append(c)
        checked_rows += 1
    # The anomaly step of this reach: the same values, numpy's percentiles of them.
    match = [path for path, rows_a in anomalies.items()
             if [r["value"] for r in rows_a] == [r["q_consensus"] for r in rows]]
    assert len(match) >= 1, reach
    doc = thresholds[match[0].replace("anomalies.csv", "thresholds.json")]
    assert doc["values"] == len(consensus), (reach, doc["values"], len(consensus))
    for t in doc["percentiles"]:
        if consensus:
            assert math.isclose(t["value"], float(np.percentile(consensus, t["percent"])), rel_tol=1e-9), (reach, t)
        else:
            assert t["value"] is None and "no known value" in doc["notes"][0], (reach, doc)
print(f"river-discharge workflow: {len(reaches)} reaches kept in 3+ of 5 passes, {checked_rows} discharges "
      f"(Manning, MetroMan, HiVDI, consensus, uncertainties) and the consensus percentiles agree with numpy")
