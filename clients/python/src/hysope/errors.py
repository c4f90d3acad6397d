"""Errors of the client: the server's own explanation of a refused request, a job
that did not succeed."""

from __future__ import annotations


class HysopeError(Exception):
    """A request the server refused: its HTTP status and its explanation (the OGC
    exception document's ``title`` and ``detail``)."""

    def __init__(self, status: int, title: str, detail: str, url: str):
        self.status = status
        self.title = title
        self.detail = detail
        self.url = url
        super().__init__(f"{status} {title}: {detail} ({url})" if detail else f"{status} {title} ({url})")

    @classmethod
    def from_response(cls, response) -> "HysopeError":
        title, detail = response.reason or "error", ""
        try:
            doc = response.json()
            if isinstance(doc, dict):
                title = doc.get("title") or title
                detail = doc.get("detail") or doc.get("description") or ""
        except ValueError:
            detail = response.text[:500]
        return cls(response.status_code, title, detail, response.url)


class JobFailed(Exception):
    """A job that ended failed or dismissed, with the server's message."""

    def __init__(self, job_id: str, status: str, message: str):
        self.job_id = job_id
        self.status = status
        self.message = message
        super().__init__(f"job {job_id} {status}: {message}")
