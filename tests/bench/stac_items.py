"""ITEMS STAC items for the search benchmarks, made from a page of ingested SWOT
items (SEED, a search reply): new ids in the collection `bench`, times every 17
minutes from 2023, boxes spread over the globe. Writes WORK/items.ndjson and
WORK/collection.json.

    python3 stac_items.py SEED ITEMS WORK
"""
import copy, json, sys, datetime
seed, n, work = json.load(open(sys.argv[1]))["features"], int(sys.argv[2]), sys.argv[3]
start = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)
with open(f"{work}/items.ndjson", "w") as out:
    for i in range(n):
        t = copy.deepcopy(seed[i % len(seed)])
        t["id"] = f"bench-{i:06d}"
        t["collection"] = "bench"
        t["links"] = []
        dx, dy = (i % 360) - 180 - t["bbox"][0], ((i // 360) % 150) - 75 - t["bbox"][1]
        w, h = min(t["bbox"][2] - t["bbox"][0], 2), min(t["bbox"][3] - t["bbox"][1], 2)
        b = [t["bbox"][0] + dx, t["bbox"][1] + dy, t["bbox"][0] + dx + w, t["bbox"][1] + dy + h]
        t["bbox"] = b
        t["geometry"] = {"type": "Polygon", "coordinates": [[[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]]]}
        when = (start + datetime.timedelta(minutes=17 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for k in ("datetime", "start_datetime", "end_datetime"):
            t["properties"][k] = when
        out.write(json.dumps(t) + "\n")
json.dump({"type": "Collection", "stac_version": "1.1.0", "id": "bench", "description": "benchmark items",
           "license": "other", "links": [],
           "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [["2023-01-01T00:00:00Z", None]]}}},
          open(f"{work}/collection.json", "w"))
