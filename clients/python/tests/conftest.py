"""The server under test and an independent read of the files it ingested.

HYSOPE_URL: a running `hysope serve` holding ../shared/data (tests/styx/run.sh starts
one); HYSOPE_TOKEN: a user's token; HYSOPE_OPERATOR_TOKEN: an operator's;
HYSOPE_DATA: the shared data folder, read here with pyshp as the truth."""

import glob
import io
import os
import zipfile

import pytest
import shapefile

import hysope

FILLS = (-999999999999.0, -999.0, -9999.0)


def _need(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: run tests/styx/run.sh, which starts a server")
    return value


@pytest.fixture(scope="session")
def url():
    return _need("HYSOPE_URL")


@pytest.fixture(scope="session")
def data():
    return _need("HYSOPE_DATA")


@pytest.fixture(scope="session")
def client(url):
    return hysope.Client(url, _need("HYSOPE_TOKEN"))


@pytest.fixture(scope="session")
def operator(url):
    return hysope.Client(url, _need("HYSOPE_OPERATOR_TOKEN"))


def layer(path):
    """The records of a shapefile zip, as dicts."""
    zf = zipfile.ZipFile(path)
    shp = next(n for n in zf.namelist() if n.endswith(".shp"))[:-4]
    r = shapefile.Reader(shp=io.BytesIO(zf.read(shp + ".shp")), dbf=io.BytesIO(zf.read(shp + ".dbf")))
    names = [f[0] for f in r.fields[1:]]
    return [dict(zip(names, rec)) for rec in r.records()]


def known(value):
    """A .dbf value as the truth: None for a fill value or no_data."""
    if value in ("no_data", "", None):
        return None
    if isinstance(value, (int, float)) and (float(value) in FILLS or float(value) <= -999999999999.0 + 1):
        return None
    return value


def reach_files(data):
    return sorted(glob.glob(f"{data}/swot/*RiverSP_Reach*.zip") + glob.glob(f"{data}/swot/simulated-cycles/*RiverSP_Reach*.zip"))
