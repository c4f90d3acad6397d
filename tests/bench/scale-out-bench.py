"""Scale-out benchmark (issue 21), run by tests/bench/scale-out-bench.sh.

1. Jobs per second of an I/O-bound tool (`sleep` for SLEEP seconds: it waits, so
   the 2 cores are not the limit) with W = 1, 2, 4, 8 workers, two ways:
   - distributed: W processes of one worker slot each, sharing the job store on
     PostgreSQL and the queue on RabbitMQ: one gateway (`hysope serve`), which
     every job is submitted to, and W - 1 `hysope worker`s;
   - embedded (the peer): one process with W worker slots, redb and its
     in-process queue.
   The rate is JOBS over the span from the first job's creation to the last
   one's end, as the job records say; linear is W / SLEEP.
2. Synchronous `echo` latency, sequential requests, embedded against one
   distributed gateway (PostgreSQL + RabbitMQ).

Usage: python3 scale-out-bench.py HYSOPE PROCESSES_DIR PG_URL AMQP_URL [ROUNDS]
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

hysope, processes, pg_url, amqp_url = sys.argv[1:5]
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
SLEEP = float(os.environ.get("SLEEP", "0.25"))
JOBS_PER_WORKER = int(os.environ.get("JOBS_PER_WORKER", "20"))
SYNC_REQUESTS = int(os.environ.get("SYNC_REQUESTS", "200"))
work = tempfile.mkdtemp()


def psql(sql):
    out = subprocess.run(["psql", pg_url, "-tA", "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def start(data, extra, workers, command="serve"):
    env = dict(os.environ, HYSOPE_LOG="warn")
    child = subprocess.Popen(
        [hysope, command, "--addr", "127.0.0.1:0", "--data-dir", data, "--processes", processes,
         "--workers", str(workers), "--anonymous-execute", "--no-publish-bundled", *extra],
        stderr=subprocess.PIPE, text=True, env=env)
    # The address is on the line that says where it listens (warnings may come first).
    said = []
    addr = None
    while addr is None:
        line = child.stderr.readline()
        said.append(line)
        addr = re.search(r"http://([^/]+)/", line)
        if not line or len(said) > 50:
            child.kill()
            raise SystemExit(f"hysope {command} said {''.join(said)!r}")
    # Keep reading its stderr so that it never blocks.
    import threading
    threading.Thread(target=lambda: [None for _ in child.stderr], daemon=True).start()
    return child, addr.group(1)


def request(addr, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{addr}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.status, resp.read()


def submit_all(addr, n):
    """Submits n jobs from 8 client threads (one client would be the limit)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        status, body = request(addr, "POST", "/processes/sleep/execution",
                               {"inputs": {"seconds": SLEEP}}, {"Prefer": "respond-async"})
        assert status == 201, body
        return json.loads(body)["jobID"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def wait_done(addr, ids):
    deadline = time.time() + 600
    for job in ids:
        while True:
            _, body = request(addr, "GET", f"/jobs/{job}")
            info = json.loads(body)
            if info["status"] == "successful":
                break
            if info["status"] in ("failed", "dismissed"):
                raise SystemExit(f"job {job}: {info}")
            if time.time() > deadline:
                raise SystemExit("jobs did not finish in 10 minutes")
            time.sleep(0.05)


def span_embedded(addr, ids):
    created, finished = [], []
    for job in ids:
        info = json.loads(request(addr, "GET", f"/jobs/{job}")[1])
        created.append(info["created"])
        finished.append(info["finished"])
    from datetime import datetime
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    return max(map(parse, finished)) - min(map(parse, created))


def stop(children):
    for child in children:
        child.kill()
        child.wait()


def run_distributed(w, round_):
    schema = f"bench_{w}_{round_}_{os.getpid()}"
    psql(f"CREATE SCHEMA {schema}")
    store = f"{pg_url}?options=-csearch_path%3D{schema}"
    queue = f"{amqp_url}?queue=hysope.bench.{schema}"
    children, addrs = [], []
    try:
        for i in range(w):
            child, addr = start(os.path.join(work, f"{schema}-{i}"),
                                ["--store", store, "--queue", queue], 1,
                                "serve" if i == 0 else "worker")
            children.append(child)
            addrs.append(addr)
        ids = submit_all(addrs[0], JOBS_PER_WORKER * w)
        wait_done(addrs[0], ids)
        span_ms = psql(
            f"SELECT max((record::jsonb->>'finished')::bigint) - min(created) FROM {schema}.hysope_jobs")
        ran_on = psql(
            f"SELECT count(*) FROM {schema}.hysope_jobs WHERE status = 'successful' AND (record::jsonb->>'attempts')::int = 1")
        assert int(ran_on) == len(ids), f"{ran_on} of {len(ids)} ran once"
        return len(ids) / (int(span_ms) / 1000)
    finally:
        stop(children)
        psql(f"DROP SCHEMA {schema} CASCADE")


def run_embedded(w, round_):
    child, addr = start(os.path.join(work, f"embedded-{w}-{round_}"), [], w)
    try:
        ids = submit_all(addr, JOBS_PER_WORKER * w)
        wait_done(addr, ids)
        return len(ids) / span_embedded(addr, ids)
    finally:
        stop([child])


def sync_latency(extra, data):
    child, addr = start(data, extra, 4)
    try:
        times = []
        for i in range(SYNC_REQUESTS + 20):
            t = time.perf_counter()
            status, _ = request(addr, "POST", "/processes/echo/execution",
                                {"inputs": {"stringInput": "x", "doubleInput": 1, "integerInput": 1,
                                            "booleanInput": True}})
            assert status == 200, status
            if i >= 20:  # warm-up
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        return statistics.median(times), times[int(len(times) * 0.99) - 1]
    finally:
        stop([child])


print(f"scale-out bench: sleep {SLEEP} s jobs, {JOBS_PER_WORKER} per worker, {rounds} rounds")
print("workers | distributed jobs/s | % of linear | embedded jobs/s | % of linear | distributed / embedded")
for w in (1, 2, 4, 8):
    dist, emb = [], []
    for r in range(rounds):
        dist.append(run_distributed(w, r))
        emb.append(run_embedded(w, r))
    d, e = statistics.median(dist), statistics.median(emb)
    linear = w / SLEEP
    print(f"{w} | {d:.2f} | {100 * d / linear:.0f} % | {e:.2f} | {100 * e / linear:.0f} % | {d / e:.2f}x",
          flush=True)

schema = f"bench_sync_{os.getpid()}"
psql(f"CREATE SCHEMA {schema}")
try:
    lat_d, lat_e = [], []
    for r in range(rounds):
        lat_e.append(sync_latency([], os.path.join(work, f"sync-e-{r}")))
        lat_d.append(sync_latency(["--store", f"{pg_url}?options=-csearch_path%3D{schema}",
                                   "--queue", f"{amqp_url}?queue=hysope.bench.{schema}"],
                                  os.path.join(work, f"sync-d-{r}")))
finally:
    psql(f"DROP SCHEMA {schema} CASCADE")
med = lambda xs, k: statistics.median(x[k] for x in xs)
print(f"sync echo latency, {SYNC_REQUESTS} sequential requests x {rounds} rounds (median of rounds):")
print(f"  embedded:    median {med(lat_e, 0):.2f} ms, p99 {med(lat_e, 1):.2f} ms")
print(f"  distributed: median {med(lat_d, 0):.2f} ms, p99 {med(lat_d, 1):.2f} ms")
print(f"  distributed / embedded: median {med(lat_d, 0) / med(lat_e, 0):.2f}x, p99 {med(lat_d, 1) / med(lat_e, 1):.2f}x")
shutil.rmtree(work, ignore_errors=True)
