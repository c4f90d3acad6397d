{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "river-area-change"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "Change of a reach's flow area dA from its observed water surface elevation and width (a Hysope reach time series CSV with wse and width): the width is linear in the height between observations sorted by height, and dA(h) integrates it by trapezoids from a reference height (the median height by default). Rows with an unknown height or width keep an empty dA.",
  "id": "river-area-change",
  "inputs": {
    "height_column": {
      "default": "wse",
      "doc": "height column, m",
      "inputBinding": {
        "prefix": "--height-column",
        "separate": true
      },
      "type": "string"
    },
    "reference": {
      "default": "median",
      "doc": "median, min, or a height in m",
      "inputBinding": {
        "prefix": "--reference",
        "separate": true
      },
      "type": "string"
    },
    "series": {
      "doc": "CSV with time, a height column and a width column (wse, width)",
      "inputBinding": {
        "prefix": "--series",
        "separate": true
      },
      "type": "File"
    },
    "width_column": {
      "default": "width",
      "doc": "width column, m",
      "inputBinding": {
        "prefix": "--width-column",
        "separate": true
      },
      "type": "string"
    }
  },
  "label": "River cross-section area change dA",
  "outputs": {
    "area_change": {
      "doc": "the input rows with d_area (m2) appended",
      "outputBinding": {
        "glob": "area_change.csv"
      },
      "type": "File"
    },
    "summary": {
      "doc": "reference height, rows used",
      "outputBinding": {
        "glob": "summary.json"
      },
      "type": "File"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "river-area-change.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
