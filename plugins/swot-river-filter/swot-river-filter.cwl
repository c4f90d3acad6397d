{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "swot-river-filter"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "Reads a SWOT L2 HR RiverSP reach shapefile zip, turns fill values into nulls, drops unobserved reaches (no wse) and reaches failing the quality thresholds, and writes the kept reaches as GeoJSON and CSV with a summary of what each rule dropped.",
  "id": "swot-river-filter",
  "inputs": {
    "max_dark_frac": {
      "doc": "keep dark_frac <= this (no rule if absent)",
      "inputBinding": {
        "prefix": "--max-dark-frac",
        "separate": true
      },
      "type": "double?"
    },
    "max_ice_clim_f": {
      "default": 0.0,
      "doc": "keep ice_clim_f <= this",
      "inputBinding": {
        "prefix": "--max-ice-clim-f",
        "separate": true
      },
      "type": "double"
    },
    "max_ice_dyn_f": {
      "default": 0.0,
      "doc": "keep ice_dyn_f <= this",
      "inputBinding": {
        "prefix": "--max-ice-dyn-f",
        "separate": true
      },
      "type": "double"
    },
    "max_partial_f": {
      "default": 0.0,
      "doc": "keep partial_f <= this",
      "inputBinding": {
        "prefix": "--max-partial-f",
        "separate": true
      },
      "type": "double"
    },
    "max_reach_q": {
      "default": 1.0,
      "doc": "keep reach_q <= this (0 good .. 3 bad)",
      "inputBinding": {
        "prefix": "--max-reach-q",
        "separate": true
      },
      "type": "double"
    },
    "max_xovr_cal_q": {
      "default": 1.0,
      "doc": "keep xovr_cal_q <= this",
      "inputBinding": {
        "prefix": "--max-xovr-cal-q",
        "separate": true
      },
      "type": "double"
    },
    "min_obs_frac_n": {
      "doc": "keep obs_frac_n >= this (no rule if absent)",
      "inputBinding": {
        "prefix": "--min-obs-frac-n",
        "separate": true
      },
      "type": "double?"
    },
    "reaches": {
      "doc": "RiverSP reach shapefile zip (SWOT_L2_HR_RiverSP_Reach_*.zip)",
      "inputBinding": {
        "prefix": "--reaches",
        "separate": true
      },
      "type": "File"
    },
    "unknown_flags": {
      "default": "keep",
      "doc": "keep or drop a reach whose flag is a fill value (unknown)",
      "inputBinding": {
        "prefix": "--unknown-flags",
        "separate": true
      },
      "type": "string"
    }
  },
  "label": "SWOT RiverSP reach quality filter",
  "outputs": {
    "csv": {
      "doc": "kept reaches, CSV",
      "outputBinding": {
        "glob": "reaches.csv"
      },
      "type": "File"
    },
    "geojson": {
      "doc": "kept reaches, GeoJSON",
      "outputBinding": {
        "glob": "reaches.geojson"
      },
      "type": "File"
    },
    "summary": {
      "doc": "counts per rule",
      "outputBinding": {
        "glob": "summary.json"
      },
      "type": "File"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "swot-river-filter.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
