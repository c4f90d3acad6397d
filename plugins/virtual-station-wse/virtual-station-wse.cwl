{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "virtual-station-wse"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "For each station polygon of a GeoJSON file, the pixels of a SWOT L2 HR PIXC tile inside it, of the chosen water classes and of good quality: their height minus the geoid (and the tides when asked), the median after rejecting pixels beyond k x 1.4826 x MAD of a first median, the robust spread 1.4826 x MAD and the uncertainty sqrt(pi/2) x spread / sqrt(n), with the pixel counts at each step. Stations without usable pixels get a status and empty values.",
  "id": "virtual-station-wse",
  "inputs": {
    "classes": {
      "default": "3,4",
      "doc": "classification values used, comma-separated (3 water near land, 4 open water, 23 dark water edge, 24 dark water)",
      "inputBinding": {
        "prefix": "--classes",
        "separate": true
      },
      "type": "string"
    },
    "mad_factor": {
      "default": 3.0,
      "doc": "reject pixels farther than this x 1.4826 x MAD from the first median",
      "inputBinding": {
        "prefix": "--mad-factor",
        "separate": true
      },
      "type": "double"
    },
    "max_pixc_qual": {
      "default": 0.0,
      "doc": "use pixels with pixc_qual <= this (0 good, 1 bad); unknown quality is not used; files without pixc_qual are not filtered on it, and the summary says so",
      "inputBinding": {
        "prefix": "--max-pixc-qual",
        "separate": true
      },
      "type": "double"
    },
    "min_pixels": {
      "default": 1,
      "doc": "fewer used pixels than this: no estimate (status too_few_pixels)",
      "inputBinding": {
        "prefix": "--min-pixels",
        "separate": true
      },
      "type": "long"
    },
    "pixc": {
      "doc": "SWOT L2 HR PIXC tile (SWOT_L2_HR_PIXC_*.nc, NetCDF-4)",
      "inputBinding": {
        "prefix": "--pixc",
        "separate": true
      },
      "type": "File"
    },
    "stations": {
      "doc": "GeoJSON FeatureCollection of station Polygons/MultiPolygons (lon, lat in degrees); the id property names each",
      "inputBinding": {
        "prefix": "--stations",
        "separate": true
      },
      "type": "File"
    },
    "tides": {
      "default": false,
      "doc": "also subtract solid_earth_tide, load_tide_fes and pole_tide (as the RiverSP processing does)",
      "inputBinding": {
        "prefix": "--tides"
      },
      "type": "boolean"
    }
  },
  "label": "Water surface elevation at virtual stations from a SWOT pixel cloud",
  "outputs": {
    "csv": {
      "doc": "one row per station: status, time, wse, wse_u, wse_std, pixel counts, centroid",
      "outputBinding": {
        "glob": "wse.csv"
      },
      "type": "File"
    },
    "summary": {
      "doc": "counts per status, settings, what was done with unknown quality",
      "outputBinding": {
        "glob": "summary.json"
      },
      "type": "File"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "virtual-station-wse.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
