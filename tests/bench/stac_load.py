"""Posts the items of an ndjson file to a STAC API's transaction endpoint of the
collection COLLECTION (default `bench`), as ItemCollections of 2,000, with an
operator's token.

    python3 stac_load.py ITEMS.ndjson STAC_URL TOKEN [COLLECTION]
"""
import json, sys, urllib.request
path, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
collection = sys.argv[4] if len(sys.argv) > 4 else "bench"
batch = []
def send():
    body = json.dumps({"type": "FeatureCollection", "features": batch}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/collections/{collection}/items", data=body, method="POST",
                           headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})).read()
for line in open(path):
    batch.append(json.loads(line))
    if len(batch) == 2000:
        send(); batch = []
if batch:
    send()
