{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "rating-curve"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "Fits Q = a (h - h0)^b to stage-discharge pairs (a USGS RDB rating table or a CSV with stage and discharge columns): h0 by a grid search below the lowest stage, a and b by least squares on ln Q = ln a + b ln(h - h0). With a water-level series (CSV with time and a level column, such as a Hysope time series), writes the discharge of each level; a level at or below h0, or unknown, has no discharge.",
  "id": "rating-curve",
  "inputs": {
    "grid": {
      "default": 1000,
      "doc": "candidate stages of zero flow, evenly spaced from h_min - span to h_min - span/grid",
      "inputBinding": {
        "prefix": "--grid",
        "separate": true
      },
      "type": "long"
    },
    "level_column": {
      "default": "stage",
      "doc": "column of the levels in `levels` (wse for a Hysope time series)",
      "inputBinding": {
        "prefix": "--level-column",
        "separate": true
      },
      "type": "string"
    },
    "levels": {
      "doc": "CSV of water levels with a time column",
      "inputBinding": {
        "prefix": "--levels",
        "separate": true
      },
      "type": "File?"
    },
    "pairs": {
      "doc": "stage-discharge pairs: USGS RDB rating (INDEP, DEP) or CSV (stage, discharge)",
      "inputBinding": {
        "prefix": "--pairs",
        "separate": true
      },
      "type": "File"
    },
    "time_column": {
      "default": "time",
      "doc": "column of the times in `levels` (bin_start for a timeseries-resample output)",
      "inputBinding": {
        "prefix": "--time-column",
        "separate": true
      },
      "type": "string"
    }
  },
  "label": "Stage-discharge rating curve",
  "outputs": {
    "discharge": {
      "doc": "time, level, discharge (when levels are given)",
      "outputBinding": {
        "glob": "discharge.csv"
      },
      "type": "File?"
    },
    "fit": {
      "doc": "a, b, h0, pairs used, log-residual RMSE and R2",
      "outputBinding": {
        "glob": "fit.json"
      },
      "type": "File"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "rating-curve.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
