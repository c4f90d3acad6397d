"""Real OGC API - Processes clients against a running `hysope serve`.

    HYSOPE_TOKEN=... python3 tests/gateway/clients.py http://127.0.0.1:PORT SWOT_REACH_ZIP [TLS_DIR]

OWSLib lists, describes and executes (sync and async); the EOEPCA/Terradue
`ogc-api-processes-client` runs the async flow: execute, status, results, dismiss.
With TLS_DIR (leaf.pem and leaf.key for 127.0.0.1, signed by a CA the server
trusts), an https subscriber is called back on progress and success.
Every client calls with the personal token in HYSOPE_TOKEN (a user's): OWSLib and
urllib as an Authorization header, the EOEPCA client as its default header.
Any failed check raises, so the exit status tells.
"""

import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.request

from owslib.ogcapi.processes import Processes
import ogc_api_processes_client as oapc

base, reach = sys.argv[1].rstrip("/"), sys.argv[2]
token = os.environ["HYSOPE_TOKEN"]
auth = {"Authorization": f"Bearer {token}"}
# Every urllib request (result files, statuses) carries the token.
opener = urllib.request.build_opener()
opener.addheaders = list(auth.items())
urllib.request.install_opener(opener)


def owslib_flow():
    p = Processes(base + "/", headers=auth)
    # OWSLib finds the API definition through the landing page's service-desc link.
    assert any(link["rel"] == "service-desc" for link in p.links), p.links
    ids = [proc["id"] for proc in p.processes()]
    for expected in ("echo", "swot-river-filter", "river-filter-summary"):
        assert expected in ids, ids
    desc = p.process("swot-river-filter")
    assert desc["inputs"]["product"]["minOccurs"] == 1, desc["inputs"]["product"]
    assert "geojson" in desc["outputs"]
    # Synchronous: results document.
    result = p.execute("echo", {"stringInput": "from OWSLib", "integerInput": 42})
    echoed = json.load(urllib.request.urlopen(result["echo"]["href"]))
    assert echoed["stringInput"] == "from OWSLib" and echoed["integerInput"] == 42, echoed
    # Asynchronous: statusInfo, then poll.
    status = p.execute(
        "swot-river-filter",
        {"product": {"href": "file://" + reach}, "max_reach_q": 1},
        async_=True,
    )
    assert status["status"] == "accepted", status
    job = status["jobID"]
    for _ in range(600):
        s = p._request(path=f"jobs/{job}")
        if s["status"] in ("successful", "failed", "dismissed"):
            break
        time.sleep(0.1)
    assert s["status"] == "successful", s
    results = p._request(path=f"jobs/{job}/results")
    summary = json.load(urllib.request.urlopen(results["summary"]["href"]))
    assert summary["kept"] > 0, summary
    print(f"OWSLib: {len(ids)} processes; sync echo and async filter ({summary['kept']} reaches kept) ok")


def location_job(response):
    """The job id at the end of a 201 reply's Location header."""
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    assert "location" in headers, headers
    return headers["location"].rstrip("/").rsplit("/", 1)[1]


def eoepca_flow():
    config = oapc.Configuration(host=base)
    with oapc.ApiClient(config) as client:
        client.set_default_header("Authorization", f"Bearer {token}")
        landing = oapc.CapabilitiesApi(client).get_landing_page()
        assert landing.links
        conformance = oapc.ConformanceDeclarationApi(client).get_conformance_classes()
        assert any(c.endswith("/conf/core") for c in conformance.conforms_to)
        processes = oapc.ProcessListApi(client).get_processes()
        assert any(p.id == "echo" for p in processes.processes)
        description = oapc.ProcessDescriptionApi(client).get_process_description("echo")
        assert description.id == "echo"
        execute = oapc.ExecuteApi(client)
        status_api = oapc.StatusApi(client)
        # Async execute, follow the status, read the results.
        # The client's generated models accept numbers and booleans as inline
        # values (strings and integers match several of its oneOf branches).
        request = oapc.Execute.from_dict({"inputs": {"doubleInput": 2.5, "booleanInput": True}})
        response = execute.execute_with_http_info(
            "echo", request, _headers={"Prefer": "respond-async"}
        )
        assert response.status_code == 201, response.status_code
        job_id = location_job(response)
        for _ in range(600):
            info = status_api.get_status(job_id)
            if info.status.value in ("successful", "failed", "dismissed"):
                break
            time.sleep(0.1)
        assert info.status.value == "successful", info
        assert info.progress == 100
        result = oapc.ResultApi(client).get_result_without_preload_content(job_id)
        outputs = json.loads(result.data)
        echoed = json.load(urllib.request.urlopen(outputs["echo"]["href"]))
        assert echoed["doubleInput"] == 2.5 and echoed["booleanInput"] is True, echoed
        # Dismiss a running job.
        request = oapc.Execute.from_dict({"inputs": {"seconds": 30.5}})
        response = execute.execute_with_http_info(
            "sleep", request, _headers={"Prefer": "respond-async"}
        )
        job_id = location_job(response)
        for _ in range(200):
            if status_api.get_status(job_id).status.value == "running":
                break
            time.sleep(0.05)
        dismissed = oapc.DismissApi(client).dismiss(job_id)
        assert dismissed.status.value == "dismissed", dismissed
        jobs = oapc.JobListApi(client).get_jobs()
        assert any(j.job_id == job_id and j.status.value == "dismissed" for j in jobs.jobs)
    print("EOEPCA ogc-api-processes-client: async execute, status, results, dismiss ok")


def https_subscriber(tls_dir, cert):
    """An https server recording (path, JSON body) of each POST; its URL and calls."""
    calls = []

    class Subscriber(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            calls.append((self.path, json.loads(self.rfile.read(length) or b"null")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Subscriber)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{tls_dir}/{cert}", f"{tls_dir}/leaf.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}", calls


def execute_async(body):
    request = urllib.request.Request(
        f"{base}/processes/echo/execution", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Prefer": "respond-async"})
    return json.load(urllib.request.urlopen(request))["jobID"]


def https_callback_flow(tls_dir):
    server, hook, calls = https_subscriber(tls_dir, "leaf.pem")
    rogue, rogue_hook, rogue_calls = https_subscriber(tls_dir, "rogue.pem")
    job = execute_async({"inputs": {"stringInput": "over tls"},
                         "subscriber": {"successUri": f"{hook}/done",
                                        "inProgressUri": f"{hook}/progress"}})
    rogue_job = execute_async({"inputs": {"stringInput": "to a rogue"},
                               "subscriber": {"successUri": f"{rogue_hook}/done"}})
    for _ in range(300):
        if any(path == "/done" for path, _ in calls):
            break
        time.sleep(0.1)
    done = [b for path, b in calls if path == "/done"]
    assert len(done) == 1, calls
    assert job in done[0]["echo"]["href"], done
    echoed = json.load(urllib.request.urlopen(done[0]["echo"]["href"]))
    assert echoed["stringInput"] == "over tls", echoed
    assert any(path == "/progress" and b["jobID"] == job and b["status"] == "running"
               for path, b in calls), calls
    # The subscriber whose certificate no trusted CA signed is never given the
    # results; its job succeeds all the same.
    for _ in range(300):
        status = json.load(urllib.request.urlopen(f"{base}/jobs/{rogue_job}"))
        if status["status"] in ("successful", "failed", "dismissed"):
            break
        time.sleep(0.1)
    assert status["status"] == "successful", status
    time.sleep(1)
    assert rogue_calls == [], rogue_calls
    server.shutdown()
    rogue.shutdown()
    print("https subscribers: called on progress and success; an untrusted certificate refused")


owslib_flow()
eoepca_flow()
if len(sys.argv) > 3:
    https_callback_flow(sys.argv[3])
