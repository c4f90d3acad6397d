"""Hysope's Python client: SWOT and gauge data of a Hysope server for notebooks.

    import hysope
    client = hysope.Client("http://localhost:5000")        # token: HYSOPE_TOKEN
    df, meta = client.timeseries("reach", "74269900011", fields=["wse", "wse_u"], quality=1)
    items = client.search(collections=["SWOT_L2_HR_RiverSP_Reach"], bbox=[-81, 40, -79, 41])
    job = client.execute("swot-river-filter", {"product": hysope.file(item)}, progress=True)
    reaches = job.read_csv("csv")
"""

from .client import Client, Job, file
from .errors import HysopeError, JobFailed
from .usgs import read_rdb, read_waterml

__all__ = ["Client", "Job", "file", "HysopeError", "JobFailed", "read_rdb", "read_waterml"]
__version__ = "0.1.0"
