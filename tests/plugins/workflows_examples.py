"""The other bundled workflows on their examples: gauge-discharge (timeseries-resample ->
rating-curve -> hydro-anomaly), virtual-stations (virtual-station-wse over tiles,
gathered), lake-storage-passes (lake-storage-change over passes, tabulated). Each
workflow's files equal what the plugins give when run one by one on the same inputs,
and the applied rating is checked against numpy: Q = a (h - h0)^b from its fit.

usage: workflows_examples.py HYSOPE SHARED_DATA"""
import csv, json, math, os, subprocess, sys, tempfile

hysope, data = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
plugins = os.path.join(root, "plugins")
work = tempfile.mkdtemp()


def run(cwl, *job):
    out = tempfile.mkdtemp(dir=work)
    p = subprocess.run([hysope, "run", os.path.join(plugins, cwl), *job, "--out", out], capture_output=True, text=True)
    assert p.returncode == 0, (cwl, p.stderr)
    return {k: v for k, v in json.loads(p.stdout).items()}


def text(f):
    return open(f["path"]).read()


# gauge-discharge: the chain equals the three plugins run by hand.
levels = os.path.join(plugins, "rating-curve/example-levels.csv")
rating = os.path.join(data, "usgs/waterservices_ratings.txt")
chain = run("workflows/gauge-discharge.cwl", os.path.join(plugins, "workflows/gauge-discharge.example.yml"))
resampled = run("timeseries-resample/timeseries-resample.cwl", f"series={levels}", "value_column=stage",
                "bin_days=1", "max_gap_bins=2")["resampled"]
rated = run("rating-curve/rating-curve.cwl", f"pairs={rating}", f"levels={resampled['path']}",
            "level_column=value", "time_column=bin_start")
anomaly = run("hydro-anomaly/hydro-anomaly.cwl", f"series={rated['discharge']['path']}", "value_column=discharge")
assert text(chain["daily_levels"]) == text(resampled)
assert text(chain["discharge"]) == text(rated["discharge"]) and text(chain["fit"]) == text(rated["fit"])
assert text(chain["anomalies"]) == text(anomaly["anomalies"])
fit = json.loads(text(chain["fit"]))
rows = list(csv.DictReader(open(chain["discharge"]["path"])))
known = 0
for row in rows:
    if row["value"] == "":
        assert row["discharge"] == "", row
        continue
    h = float(row["value"])
    if h <= fit["h0"]:
        assert row["discharge"] == "", row
        continue
    assert math.isclose(float(row["discharge"]), fit["a"] * (h - fit["h0"]) ** fit["b"], rel_tol=1e-9), (row, fit)
    known += 1
print(f"gauge-discharge workflow: daily levels, rating fit and anomalies equal the plugins run one by one; "
      f"{known} discharges equal a (h - h0)^b")

# virtual-stations: the gathered table is the tile's rows, ordered by station.
pixc = [f for f in os.listdir(os.path.join(data, "swot")) if f.startswith("SWOT_L2_HR_PIXC_")][0]
stations = os.path.join(plugins, "virtual-station-wse/example-stations.geojson")
chain = run("workflows/virtual-stations.cwl", os.path.join(plugins, "workflows/virtual-stations.example.yml"))
alone = run("virtual-station-wse/virtual-station-wse.cwl", f"pixc={os.path.join(data, 'swot', pixc)}", f"stations={stations}")
assert text(chain["per_tile"][0]) == text(alone["csv"])
lines = text(alone["csv"]).splitlines()
assert text(chain["series"]).splitlines() == [lines[0]] + sorted(lines[1:], key=lambda l: (l.split(",")[0], l.split(",")[2]))
print(f"virtual-stations workflow: {len(lines) - 1} station rows gathered in station order")

# lake-storage-passes: the table counts what the plugin's summary counts.
lakes = os.path.join(data, "swot/SWOT_L2_HR_LakeSP_Prior_033_506_AU_20250605T225724_20250605T230824_PID0_01.zip")
chain = run("workflows/lake-storage-passes.cwl", os.path.join(plugins, "workflows/lake-storage-passes.example.yml"))
alone = run("lake-storage-change/lake-storage-change.cwl", f"lakes={lakes}", f"reference={lakes}")
assert text(chain["storage_change"][0]) == text(alone["csv"])
table = list(csv.DictReader(open(chain["table"]["path"])))
status = json.loads(text(alone["summary"]))["status"]
assert len(table) == 1 and {k: int(v) for k, v in table[0].items() if k != "pass"} == status, (table, status)
print(f"lake-storage-passes workflow: the table counts {status}")
