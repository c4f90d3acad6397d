{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "timeseries-resample"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "Aggregates a time series (CSV with time and a value column, such as a Hysope time series) into bins of a fixed number of days (mean, median, min, max or count), fills runs of empty bins by linear interpolation when the known bins around them are at most max_gap_bins apart, and merges a second series (another mission) after adding the median of the differences over the bins both observed.",
  "id": "timeseries-resample",
  "inputs": {
    "bin_days": {
      "default": 1.0,
      "doc": "bin width in days (bins start at 1970-01-01T00:00:00Z)",
      "inputBinding": {
        "prefix": "--bin-days",
        "separate": true
      },
      "type": "double"
    },
    "max_gap_bins": {
      "default": 0,
      "doc": "fill empty bins when the known bins around them are at most this many bins apart (0: no filling)",
      "inputBinding": {
        "prefix": "--max-gap-bins",
        "separate": true
      },
      "type": "long"
    },
    "other": {
      "doc": "a second series (another mission) to merge, same columns",
      "inputBinding": {
        "prefix": "--other",
        "separate": true
      },
      "type": "File?"
    },
    "series": {
      "doc": "CSV with a time column (date or RFC 3339) and the value column",
      "inputBinding": {
        "prefix": "--series",
        "separate": true
      },
      "type": "File"
    },
    "stat": {
      "default": "mean",
      "doc": "mean, median, min, max or count",
      "inputBinding": {
        "prefix": "--stat",
        "separate": true
      },
      "type": "string"
    },
    "value_column": {
      "default": "value",
      "doc": "the value column (wse for a Hysope time series)",
      "inputBinding": {
        "prefix": "--value-column",
        "separate": true
      },
      "type": "string"
    }
  },
  "label": "Time series resampling, gap filling and mission merging",
  "outputs": {
    "resampled": {
      "doc": "bin_start, value, count, source (observed, filled, merged, empty)",
      "outputBinding": {
        "glob": "resampled.csv"
      },
      "type": "File"
    },
    "summary": {
      "doc": "bins per source and the merge offset",
      "outputBinding": {
        "glob": "summary.json"
      },
      "type": "File"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "timeseries-resample.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
