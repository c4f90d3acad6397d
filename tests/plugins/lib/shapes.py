"""SWOT shapefile zips read with pyshp, independently of Hysope's reader."""
import io
import zipfile

import shapefile


def reader(path):
    """The pyshp Reader of the .shp/.dbf/.shx inside a SWOT zip."""
    z = zipfile.ZipFile(path)
    member = lambda ext: io.BytesIO(z.read(next(n for n in z.namelist() if n.lower().endswith(ext))))
    return shapefile.Reader(shp=member(".shp"), dbf=member(".dbf"), shx=member(".shx"))


def records(path):
    """Every record of the zip as a dict of field name to value."""
    r = reader(path)
    names = [f[0] for f in r.fields[1:]]
    return [dict(zip(names, rec)) for rec in r.records()]
