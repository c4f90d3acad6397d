"""The client of one Hysope server: its catalogue, time series, features, processes,
jobs, uploads and tokens."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote, urljoin

import pandas as pd
import requests

from .errors import HysopeError, JobFailed
from .series import KINDS, series_frame

#: The route of each kind of feature, by the names a caller may use.
_KIND_ROUTES = {"reach": "reaches", "node": "nodes", "lake": "lakes"}
_ALIASES = {"reach": "reach", "reaches": "reach", "node": "node", "nodes": "node", "lake": "lake", "lakes": "lake"}


def _kind(kind: str) -> str:
    k = _ALIASES.get(str(kind).lower())
    if k is None:
        raise ValueError(f"kind: {kind!r} is not reach, node or lake")
    return k


class Client:
    """A Hysope server at `url` (its root, e.g. ``http://localhost:5000``).

    `token` is a personal access token (``hysope_pat_...``) or an OIDC access token; it
    defaults to the ``HYSOPE_TOKEN`` environment variable, and without either the
    client is anonymous (the catalogue, time series and process descriptions only).
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 120.0,
                 session: requests.Session | None = None):
        url = url or os.environ.get("HYSOPE_URL")
        if not url:
            raise ValueError("url: give the server's address, or set HYSOPE_URL")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url: {url!r} is not an http:// or https:// address")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.token = token if token is not None else os.environ.get("HYSOPE_TOKEN") or None
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "hysope-python/0.1")
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"
        self._stac = None

    def __repr__(self) -> str:
        return f"Client({self.url!r}, token={'...' if self.token else None})"

    # -- HTTP --------------------------------------------------------------------------

    def _href(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if not path.startswith(self.url + "/") and path != self.url:
                raise ValueError(f"{path!r} is not on this server ({self.url})")
            return path
        return self.url + (path if path.startswith("/") else "/" + path)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request to the server; an error reply raises `HysopeError` with the
        server's own explanation (its `title` and `detail`)."""
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, self._href(path), **kwargs)
        if response.status_code >= 400:
            raise HysopeError.from_response(response)
        return response

    def get_json(self, path: str, **params: Any) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=params, headers={"Accept": "application/json"}).json()

    # -- who and what --------------------------------------------------------------------

    def me(self) -> dict:
        """Who the server takes this client for: ``subject``, ``role``, ``scopes``,
        ``via`` and what it ``may`` do."""
        return self.get_json("/me")

    # -- the catalogue -------------------------------------------------------------------

    @property
    def stac(self):
        """The STAC API as a `pystac_client.Client` carrying this client's token."""
        if self._stac is None:
            from pystac_client import Client as StacClient

            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            self._stac = StacClient.open(f"{self.url}/stac", headers=headers)
        return self._stac

    def search(self, **kwargs: Any):
        """A STAC search (`pystac_client.Client.search`'s arguments: collections, bbox,
        datetime, filter, sortby, max_items...)."""
        return self.stac.search(**kwargs)

    # -- time series ---------------------------------------------------------------------

    def timeseries(self, kind: str, ids: str | Iterable[str] | None = None, *, reach: str | None = None,
                   bbox: Sequence[float] | None = None, fields: Iterable[str] | None = None,
                   start: Any = None, end: Any = None, quality: int | None = None,
                   drop_fills: bool = False) -> tuple[pd.DataFrame, dict]:
        """The observations of one or many reaches, nodes or lakes as ``(DataFrame, metadata)``.

        Name the features by `ids` (one id or several), by `bbox` (west, south, east,
        north) or, for nodes, by the `reach` they belong to. `fields` are the product's
        fields (default: ``wse``, ``wse_u``, ``width``); the quality flags
        (``reach_q``/``node_q``/``quality_f``, ice and partial flags) come beside
        them. `start` and `end` (inclusive; text, `datetime` or `pandas.Timestamp`)
        bound the times; `quality` keeps the observations whose flag is known and at
        most this (0 best). Fill values are never numbers: an unknown value is NaN (or
        the observation is left out with ``drop_fills=True``).

        The frame has one row per observation, in feature then time order: the id
        (``reach_id``, ``node_id`` or ``lake_id``, text), ``time`` (UTC), the fields
        and flags as floats, ``item`` (the catalogue item it came from). The metadata
        gives the ``units`` of the fields, the ``features`` (name, geometry, count),
        what was left out (``dropped_by_quality``, ``dropped_by_fills``) and the
        ``url`` asked.
        """
        k = _kind(kind)
        params: dict[str, str] = {"output": "geojson"}
        named = sum(x is not None for x in (ids, reach, bbox))
        if named != 1:
            raise ValueError("name the features by exactly one of ids, reach (nodes) or bbox")
        if ids is not None:
            ids = [ids] if isinstance(ids, str) else [str(i) for i in ids]
            if not ids:
                raise ValueError("ids: empty")
            params["ids"] = ",".join(ids)
        if reach is not None:
            if k != "node":
                raise ValueError("reach: only nodes are named by their reach")
            params["reach"] = str(reach)
        if bbox is not None:
            if len(bbox) != 4:
                raise ValueError("bbox: west, south, east, north")
            params["bbox"] = ",".join(repr(float(x)) for x in bbox)
        if fields is not None:
            fields = [fields] if isinstance(fields, str) else list(fields)
            params["fields"] = ",".join(fields)
        if start is not None:
            params["start_time"] = _rfc3339(start)
        if end is not None:
            params["end_time"] = _rfc3339(end)
        if quality is not None:
            params["quality"] = str(int(quality))
        if drop_fills:
            params["fills"] = "drop"
        route = f"/timeseries/{_KIND_ROUTES[k]}"
        response = self.request("GET", route, params=params, headers={"Accept": "application/geo+json"})
        frame, meta = series_frame(k, response.json())
        meta["url"] = response.url
        meta["quality"] = quality
        return frame, meta

    # -- features ------------------------------------------------------------------------

    def features(self, kind: str, *, limit: int = 1000, max_features: int | None = None,
                 **params: Any) -> dict:
        """The reaches, nodes or lakes of `/features` (bbox, ids, reach, datetime,
        filter...), every page followed, as one GeoJSON FeatureCollection."""
        k = _kind(kind)
        q = {key: (",".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
             for key, v in params.items() if v is not None}
        q["limit"] = limit
        doc = self.get_json(f"/features/collections/{_KIND_ROUTES[k]}/items", **q)
        features = list(doc.get("features", []))
        while max_features is None or len(features) < max_features:
            nxt = next((l["href"] for l in doc.get("links", []) if l.get("rel") == "next"), None)
            if not nxt:
                break
            doc = self.get_json(urljoin(self.url + "/", nxt))
            features.extend(doc.get("features", []))
        if max_features is not None:
            features = features[:max_features]
        return {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}

    def names(self, q: str) -> list[dict]:
        """Rivers and lakes whose name has a word starting with `q`."""
        doc = self.get_json("/features/names", q=q)
        return doc.get("names", doc.get("features", doc)) if isinstance(doc, dict) else doc

    # -- processes and jobs --------------------------------------------------------------

    def processes(self) -> list[dict]:
        """The processes' summaries (id, title, version, description)."""
        return self.get_json("/processes", limit=10000).get("processes", [])

    def process(self, process_id: str) -> dict:
        """One process's description: its inputs and outputs."""
        return self.get_json(f"/processes/{_segment(process_id, 'process')}")

    def execute(self, process_id: str, inputs: Mapping[str, Any] | None = None, *,
                outputs: Mapping[str, Any] | None = None, wait: bool = True, progress: bool = False,
                timeout: float | None = None, poll: float = 0.5) -> "Job":
        """Runs a process as a job (asynchronously, ``Prefer: respond-async``) and,
        with `wait`, follows it to its end (a progress bar with `progress`). Inputs are
        values, or files as ``{"href": ...}`` (see `hysope.file`); a local file given as a
        `pathlib.Path` is uploaded first (`upload`). A failed job raises `JobFailed`."""
        body: dict[str, Any] = {"inputs": {k: self._input(v) for k, v in (inputs or {}).items()}}
        if outputs is not None:
            body["outputs"] = dict(outputs)
        response = self.request("POST", f"/processes/{_segment(process_id, 'process')}/execution",
                                json=body, headers={"Prefer": "respond-async", "Accept": "application/json"})
        location = response.headers.get("Location")
        status = response.json() if response.content else {}
        job_id = status.get("jobID") or (location.rstrip("/").rsplit("/", 1)[-1] if location else None)
        if not job_id:
            raise HysopeError(response.status_code, "no job", "the server answered without a job id", response.url)
        job = Job(self, job_id, status if status.get("jobID") else None)
        if wait:
            job.wait(progress=progress, timeout=timeout, poll=poll)
        return job

    def job(self, job_id: str) -> "Job":
        """A job by its id."""
        return Job(self, _segment(job_id, "job"))

    def jobs(self, *, process: str | None = None, status: str | None = None, rule: str | None = None,
             limit: int = 100) -> list["Job"]:
        """This user's jobs (every job for an operator), newest first."""
        doc = self.get_json("/jobs", processID=process, status=status, rule=rule, limit=limit)
        return [Job(self, j["jobID"], j) for j in doc.get("jobs", [])]

    def _input(self, value: Any) -> Any:
        if isinstance(value, os.PathLike):
            return self.upload(value)
        if isinstance(value, list):
            return [self._input(v) for v in value]
        return _input(value)

    # -- uploads -------------------------------------------------------------------------

    def upload(self, path: str | os.PathLike, name: str | None = None) -> dict:
        """Uploads a local file for a job's input; returns ``{"href": "/uploads/ID"}``
        ready to give as the input."""
        path = Path(path)
        name = name or path.name
        with open(path, "rb") as body:
            response = self.request("POST", "/uploads", params={"name": name}, data=body,
                                    headers={"Content-Type": "application/octet-stream"})
        record = response.json()
        return {"href": f"/uploads/{record['id']}"}

    # -- tokens (operators) ------------------------------------------------------------

    def create_token(self, user: str, role: str, *, scopes: Iterable[str] | None = None,
                     expires_in: str | None = None, note: str | None = None) -> dict:
        """A personal access token for `user` (operators only): its record (``id``,
        ``user``, ``role``, ``expires``...) and the secret in ``token``, shown once."""
        body: dict[str, Any] = {"user": user, "role": role}
        if scopes is not None:
            body["scopes"] = list(scopes)
        if expires_in is not None:
            body["expires_in"] = expires_in
        if note is not None:
            body["note"] = note
        reply = self.request("POST", "/admin/tokens", json=body).json()
        return {**reply.get("record", {}), "token": reply["token"]}

    def tokens(self, user: str | None = None) -> list[dict]:
        """The personal tokens' records (never their secrets)."""
        doc = self.get_json("/admin/tokens", user=user)
        return doc.get("tokens", doc) if isinstance(doc, dict) else doc

    def revoke_token(self, token_id: str) -> None:
        """Revokes a personal token: it stops working at once."""
        self.request("DELETE", f"/admin/tokens/{_segment(token_id, 'token')}")


class Job:
    """A job of the server: its status, its results, its catalogued result item."""

    def __init__(self, client: Client, job_id: str, status: dict | None = None):
        self.client = client
        self.id = job_id
        self._status = status

    def __repr__(self) -> str:
        s = self._status or {}
        return f"Job({self.id!r}, process={s.get('processID')!r}, status={s.get('status')!r})"

    @property
    def info(self) -> dict:
        """The last status document read (read once if none yet)."""
        if self._status is None:
            self.refresh()
        return self._status

    def refresh(self) -> dict:
        """Reads the job's status document again."""
        self._status = self.client.get_json(f"/jobs/{self.id}")
        return self._status

    @property
    def status(self) -> str:
        return self.info["status"]

    @property
    def process_id(self) -> str:
        return self.info["processID"]

    def wait(self, *, progress: bool = False, timeout: float | None = None, poll: float = 0.5) -> "Job":
        """Follows the job until it ends; raises `JobFailed` when it failed or was
        dismissed, `TimeoutError` after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=100, desc=self.id, unit="%")
        try:
            delay = min(poll, 0.1)
            while True:
                s = self.refresh()
                if bar is not None:
                    bar.set_postfix_str(s["status"])
                    bar.update(max(0, int(s.get("progress") or 0) - bar.n))
                if s["status"] in ("successful", "failed", "dismissed"):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job {self.id} still {s['status']} after {timeout} s")
                time.sleep(delay)
                delay = min(poll, delay * 1.5)
            if bar is not None and s["status"] == "successful":
                bar.update(100 - bar.n)
        finally:
            if bar is not None:
                bar.close()
        if s["status"] != "successful":
            raise JobFailed(self.id, s["status"], s.get("message") or "")
        return self

    def results(self) -> dict:
        """The results document: each output's value, files as ``{"href": ...}`` links."""
        return self.client.get_json(f"/jobs/{self.id}/results")

    def files(self, output: str) -> list[str]:
        """The links of a File or File[] output (in order), for `open`, `read_csv`..."""
        results = self.results()
        if output not in results:
            raise KeyError(f"output {output!r}: the job has {sorted(results)}")
        value = results[output]
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, dict) and "href" in v for v in values):
            raise ValueError(f"output {output!r} is a value, not files: {value!r}")
        return [v["href"] for v in values]

    def _file_href(self, output: str) -> str:
        """An output holding one file, or a link `files` gave."""
        if "/" in output:
            return self.client._href(urljoin(self.client.url + "/", output))
        hrefs = self.files(output)
        if len(hrefs) != 1:
            raise ValueError(f"output {output!r} holds {len(hrefs)} files: name one of job.files({output!r})")
        return hrefs[0]

    def open(self, output: str) -> bytes:
        """The content of a file output (by its name, or a link of `files`)."""
        return self.client.request("GET", urljoin(self.client.url + "/", self._file_href(output))).content

    def download(self, output: str, dest: str | os.PathLike) -> Path:
        """Writes a file output to `dest` (a folder keeps the output's file name)."""
        href = self._file_href(output)
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / Path(href.split("?", 1)[0]).name
        with self.client.request("GET", urljoin(self.client.url + "/", href), stream=True) as r:
            with open(dest, "wb") as f:
                for chunk in r.iter_content(1 << 16):
                    f.write(chunk)
        return dest

    def read_csv(self, output: str, **kwargs: Any) -> pd.DataFrame:
        """A CSV output as a DataFrame (empty cells, the plugins' unknowns, are NaN)."""
        import io

        return pd.read_csv(io.BytesIO(self.open(output)), **kwargs)

    def read_json(self, output: str) -> Any:
        """A JSON output."""
        import json

        return json.loads(self.open(output))

    def item(self):
        """The job's result as a STAC item of the ``results`` collection (its process
        and version, the digests of the components it ran, its inputs and
        ``derived_from`` links, its files as assets)."""
        return self.client.stac.get_collection("results").get_item(self.id)

    def dismiss(self) -> None:
        """Dismisses the job (cancels it if it runs; removes its results)."""
        self.client.request("DELETE", f"/jobs/{self.id}")


def file(ref: Any) -> dict:
    """A file input: a URL or server path (``/uploads/ID``, a catalogue asset link,
    ``file://`` under one of the server's input roots), a `pystac.Item` (its
    ``data`` asset), or a `pystac.Asset`. (A local file: give `execute` its
    `pathlib.Path`, which uploads it.)"""
    return _input(ref, force_file=True)


def _input(value: Any, force_file: bool = False) -> Any:
    try:
        import pystac

        if isinstance(value, pystac.Item):
            if "data" not in value.assets:
                raise ValueError(f"item {value.id} has no data asset")
            return {"href": value.assets["data"].href}
        if isinstance(value, pystac.Asset):
            return {"href": value.href}
    except ImportError:  # pragma: no cover - pystac comes with pystac-client
        pass
    if isinstance(value, os.PathLike):
        raise TypeError("a local file is uploaded by Client.execute or Client.upload, not named by hysope.file")
    if force_file and isinstance(value, str):
        return {"href": value}
    if isinstance(value, list):
        return [_input(v) for v in value]
    return value


def _segment(value: str, what: str) -> str:
    value = str(value)
    if not value or "/" in value or value in (".", ".."):
        raise ValueError(f"{what} id: {value!r} is not one path segment")
    return quote(value, safe="")


def _rfc3339(t: Any) -> str:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
