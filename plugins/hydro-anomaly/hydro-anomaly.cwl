{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "hydro-anomaly"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "For a time series of water levels or discharges (a CSV with time and a value column, or USGS peaks in RDB): the z-score of each value against the values within a window of days of the year, percentile thresholds, and Gumbel return levels fitted to the annual maxima by the method of moments and by L-moments. Annual maxima are taken per hydrological year (the USGS water year, October to September, by default); a USGS peaks file's rows are one peak per water year, taken as given. Unknown values stay empty; fits that need more data say so in notes.",
  "id": "hydro-anomaly",
  "inputs": {
    "percentiles": {
      "default": "50,90,95,99",
      "doc": "comma-separated percentiles for thresholds",
      "inputBinding": {
        "prefix": "--percentiles",
        "separate": true
      },
      "type": "string"
    },
    "return_periods": {
      "default": "2,5,10,25,50,100",
      "doc": "comma-separated return periods, years",
      "inputBinding": {
        "prefix": "--return-periods",
        "separate": true
      },
      "type": "string"
    },
    "series": {
      "doc": "CSV with time and a value column, or USGS peaks (RDB: peak_dt, peak_va)",
      "inputBinding": {
        "prefix": "--series",
        "separate": true
      },
      "type": "File"
    },
    "value_column": {
      "doc": "the value column (default: value, or peak_va for USGS peaks)",
      "inputBinding": {
        "prefix": "--value-column",
        "separate": true
      },
      "type": "string?"
    },
    "window_days": {
      "default": 15,
      "doc": "z-scores use values within this many days of the year",
      "inputBinding": {
        "prefix": "--window-days",
        "separate": true
      },
      "type": "long"
    },
    "year_start_month": {
      "default": 10,
      "doc": "first month of the hydrological year whose maxima are fitted (10: the USGS water year, October to September; 1: calendar years); a USGS peaks file's rows are taken as given",
      "inputBinding": {
        "prefix": "--year-start-month",
        "separate": true
      },
      "type": "long"
    }
  },
  "label": "Hydrological anomalies and flood thresholds",
  "outputs": {
    "anomalies": {
      "doc": "time, value, day of year, z-score, highest threshold exceeded",
      "outputBinding": {
        "glob": "anomalies.csv"
      },
      "type": "File"
    },
    "thresholds": {
      "doc": "percentiles, Gumbel fits and return levels",
      "outputBinding": {
        "glob": "thresholds.json"
      },
      "type": "File"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "hydro-anomaly.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
