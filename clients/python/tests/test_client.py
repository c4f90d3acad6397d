"""The client against a running server, checked against the files read by pyshp."""

import glob
import json
import math
import os

import pandas as pd
import pytest
import requests

import hysope
from conftest import known, layer, reach_files

EPOCH = pd.Timestamp("2000-01-01", tz="UTC")


def truth_of_reaches(data):
    """Every observed reach of every reach file: id -> [(time, wse, wse_u, reach_q)]."""
    truth = {}
    for path in reach_files(data):
        for r in layer(path):
            if known(r["time"]) is None:
                continue
            t = EPOCH + pd.Timedelta(seconds=float(r["time"]))
            truth.setdefault(r["reach_id"], []).append((t, known(r["wse"]), known(r["wse_u"]), known(r["reach_q"])))
    for rows in truth.values():
        rows.sort(key=lambda x: x[0])
    return truth


def test_one_reach_is_a_frame_of_floats_with_utc_times_and_units(client, data):
    truth = truth_of_reaches(data)["74269900011"]
    df, meta = client.timeseries("reach", "74269900011", fields=["wse", "wse_u", "width"])
    assert list(df.columns[:5]) == ["reach_id", "time", "wse", "wse_u", "width"]
    assert len(df) == len(truth) == 5
    assert str(df["time"].dt.tz) == "UTC"
    for c in ("wse", "wse_u", "width", "reach_q"):
        assert df[c].dtype == "float64", c
    for (t, wse, wse_u, q), row in zip(truth, df.itertuples()):
        assert abs((row.time - t).total_seconds()) < 1, (row.time, t)
        assert row.wse == pytest.approx(wse, abs=1e-9) and row.wse_u == pytest.approx(wse_u, abs=1e-9)
        assert row.reach_q == q
    assert meta["units"] == {"wse": "m", "wse_u": "m", "width": "m", "time": "UTC"}
    assert meta["features"]["74269900011"]["count"] == 5
    assert meta["dropped_by_quality"] == 0 and meta["url"].startswith(client.url + "/timeseries/reaches?")
    # The mean WSE of the five simulated passes, from the files: 216.6119148 m.
    assert df["wse"].mean() == pytest.approx(216.6119148, abs=1e-6)


def test_many_reaches_fills_are_nan_and_quality_leaves_out(client, data):
    truth = truth_of_reaches(data)
    ids = sorted(truth)
    df, meta = client.timeseries("reaches", ids, fields=["wse", "wse_u"])
    assert len(df) == sum(len(v) for v in truth.values())
    assert set(meta["features"]) == set(ids) and meta["units"]["wse"] == "m"
    for rid in ids:
        mine = df[df["reach_id"] == rid]
        for (_, wse, _, q), got, got_q in zip(truth[rid], mine["wse"], mine["reach_q"]):
            assert (wse is None and math.isnan(got)) or got == pytest.approx(wse, abs=1e-9)
            assert (q is None and math.isnan(got_q)) or got_q == q
    # A fill value is NaN, never -999999999999.
    assert df["wse"].isna().any() and (df["wse"].dropna() > -1000).all()
    good, meta = client.timeseries("reaches", ids, fields=["wse"], quality=1)
    expected = sum(1 for v in truth.values() for (_, _, _, q) in v if q is not None and q <= 1)
    assert len(good) == expected and (good["reach_q"] <= 1).all()
    assert meta["dropped_by_quality"] == len(df) - expected
    kept, meta = client.timeseries("reaches", ids, fields=["wse"], drop_fills=True)
    assert not kept["wse"].isna().any() and len(kept) == len(df) - meta["dropped_by_fills"]


def test_times_bound_the_series(client):
    df, _ = client.timeseries("reach", "74269900011", start="2010-09-01", end=pd.Timestamp("2010-09-20", tz="UTC"))
    assert len(df) == 2 and df["time"].min() >= pd.Timestamp("2010-09-01", tz="UTC")


def test_nodes_of_a_reach_and_a_box(client):
    nodes, meta = client.timeseries("node", reach="74269900011", fields=["wse", "node_dist"])
    assert len(meta["features"]) > 20 and nodes["node_id"].str.startswith("7426990001").all()
    assert meta["units"]["node_dist"] == "m" and nodes["node_q"].dtype == "float64"
    boxed, meta = client.timeseries("reach", bbox=[-81, 40, -79, 41], fields=["wse"])
    assert "74269900011" in meta["features"] and len(boxed) >= 5


def test_a_lake_in_its_units(client, data):
    path = glob.glob(f"{data}/swot/*LakeSP_Prior*.zip")[0]
    lake = next(r for r in layer(path) if known(r["wse"]) is not None and known(r["area_total"]) is not None)
    df, meta = client.timeseries("lake", lake["lake_id"], fields=["wse", "area_total", "ds1_l"])
    assert meta["units"] == {"wse": "m", "area_total": "km^2", "ds1_l": "km^3", "time": "UTC"}
    assert len(df) == 1 and df["area_total"].iloc[0] == pytest.approx(lake["area_total"])
    assert df["lake_id"].iloc[0] == lake["lake_id"]


def test_bad_requests_say_what_and_where(client):
    with pytest.raises(hysope.HysopeError) as e:
        client.timeseries("reach", "not-a-reach")
    assert e.value.status == 400 and "not-a-reach" in str(e.value)
    with pytest.raises(ValueError, match="kind"):
        client.timeseries("river", "74269900011")
    with pytest.raises(ValueError, match="exactly one"):
        client.timeseries("reach", "74269900011", bbox=[0, 0, 1, 1])
    with pytest.raises(ValueError, match="path segment"):
        client.job("../admin")
    with pytest.raises(ValueError, match="not on this server"):
        client.request("GET", "http://elsewhere.example/")


def test_search_through_pystac_client(client):
    ohio = list(client.search(bbox=[-81, 40, -79, 41]).items())
    assert len(ohio) == 10
    reaches = list(client.search(collections=["SWOT_L2_HR_RiverSP_Reach"], filter="reach_q <= 1",
                                 filter_lang="cql2-text").items())
    assert len(reaches) == 6
    assert {c.id for c in client.stac.get_collections()} >= {"SWOT_L2_HR_RiverSP_Reach", "SWOT_L2_HR_LakeSP_Prior"}


def test_owslib_and_pystac_client_keep_working_beside_it(client, url):
    from owslib.ogcapi.processes import Processes
    from pystac_client import Client as StacClient

    ows = Processes(url, headers={"Authorization": f"Bearer {client.token}"})
    assert {p["id"] for p in ows.processes()} == {p["id"] for p in client.processes()}
    plain = StacClient.open(f"{url}/stac")
    assert [i.id for i in plain.search(bbox=[-81, 40, -79, 41]).items()] == \
        [i.id for i in client.search(bbox=[-81, 40, -79, 41]).items()]


def test_a_process_from_a_catalogue_item_to_its_catalogued_result(client, capsys):
    ids = {p["id"] for p in client.processes()}
    assert {"swot-river-filter", "lake-storage-change", "rating-curve", "hydro-anomaly"} <= ids
    described = client.process("swot-river-filter")
    assert "product" in described["inputs"] and described["outputs"]
    item = next(client.search(collections=["SWOT_L2_HR_RiverSP_Reach"], datetime="2026-01-01/2026-12-31").items())
    job = client.execute("swot-river-filter", {"product": hysope.file(item)}, progress=True, timeout=300)
    assert job.status == "successful" and job.info["progress"] == 100
    assert "100%" in capsys.readouterr().err
    reaches = job.read_csv("csv", dtype={"reach_id": str})
    # The real pass: 52 reaches of which 33 have a known WSE (19 are fill values).
    assert len(reaches) > 0 and reaches["reach_id"].str.len().eq(11).all()
    summary = job.read_json("summary")
    assert summary
    result = job.item()
    assert result.properties["hysope:process_id"] == "swot-river-filter"
    derived = [l.target for l in result.links if l.rel == "derived_from"]
    assert len(derived) == 1 and derived[0].endswith(f"/items/{item.id}")
    assert job.id in [j.id for j in client.jobs(process="swot-river-filter")]


def test_a_failed_job_raises_with_the_servers_reason(client, data):
    peaks = f"{data}/usgs/waterservices_peaks.txt"
    with pytest.raises(hysope.JobFailed) as e:
        client.execute("swot-river-filter", {"product": hysope.file(f"file://{peaks}")}, timeout=300)
    assert e.value.status == "failed" and e.value.message


def test_an_upload_as_a_jobs_input(client, data, tmp_path):
    path = glob.glob(f"{data}/swot/*LakeSP_Prior*.zip")[0]
    uploaded = client.upload(path)
    assert uploaded["href"].startswith("/uploads/")
    job = client.execute("lake-storage-change", {"lakes": uploaded, "reference": hysope.file(f"file://{path}")},
                         timeout=300)
    table = job.read_csv("csv", dtype={"lake_id": str})
    computed = table[table["status"] == "computed"]
    assert len(computed) > 0 and (computed["dv_linear_km3"] == 0).all()
    out = job.download("summary", tmp_path)
    assert out.name == "summary.json" and json.loads(out.read_text())


def test_tokens_made_used_and_revoked(operator, url):
    made = operator.create_token("styx-student", "user", expires_in="1d", note="styx test")
    student = hysope.Client(url, made["token"])
    assert student.me()["subject"] == "styx-student" and student.me()["role"] == "user"
    assert any(t.get("user") == "styx-student" for t in operator.tokens())
    operator.revoke_token(made["id"])
    with pytest.raises(hysope.HysopeError) as e:
        student.me()
    assert e.value.status == 401
    with pytest.raises(hysope.HysopeError) as e:
        student.create_token("x", "operator")
    assert e.value.status in (401, 403)


def test_usgs_files_from_the_catalogue(client):
    item = next(client.search(collections=["USGS_NWIS_peaks"]).items())
    peaks, _ = hysope.read_rdb(requests.get(item.assets["data"].href, timeout=60).content)
    assert len(peaks) == 20 and peaks["peak_va"].dtype == "float64"
    assert peaks["site_no"].eq("01594440").all() and peaks["peak_va"].max() == 16800.0
    iv_item = next(i for i in client.search(max_items=None).items() if "iv" in i.id.lower() and i.collection_id.startswith("USGS"))
    iv, meta = hysope.read_waterml(requests.get(iv_item.assets["data"].href, timeout=60).content)
    assert len(iv) == 20 and str(iv["time"].dt.tz) == "UTC"
    assert meta["series"]["01491000:00060"]["unit"] == "ft3/s"
    assert iv["time"].iloc[0] == pd.Timestamp("2019-02-14T05:00:00Z")


def test_a_local_file_is_uploaded_by_execute(client, data, tmp_path):
    levels = tmp_path / "levels.csv"
    levels.write_text("time,stage\n2020-01-01,5.0\n2020-01-02,9.0\n")
    rating = next(client.search(collections=["USGS_NWIS_ratings"]).items())
    job = client.execute("rating-curve", {"pairs": hysope.file(rating), "levels": levels, "level_column": "stage"},
                         timeout=300)
    rated = job.read_csv("discharge")
    fit = job.read_json("fit")
    assert list(rated["stage"]) == [5.0, 9.0]
    assert rated["discharge"].tolist() == pytest.approx([fit["a"] * (h - fit["h0"]) ** fit["b"] for h in (5.0, 9.0)])
    assert any(u["name"] == "levels.csv" for u in client.get_json("/uploads")["uploads"])
    with pytest.raises(TypeError, match="uploaded"):
        hysope.file(levels)


def test_features_paged_and_names(client):
    # The Ohio reaches of the simulated passes, two per page: every page followed.
    ohio = client.features("reaches", bbox=[-81, 40, -79, 41], limit=2)
    ids = {f["id"] for f in ohio["features"]}
    assert len(ids) == ohio["numberReturned"] == len(ohio["features"]) and "74269900011" in ids
    one_page = client.features("reaches", bbox=[-81, 40, -79, 41], limit=2, max_features=2)
    assert len(one_page["features"]) == 2
    grey = client.names("grey")
    assert any("Grey" in (n.get("name") or "") for n in grey), grey
