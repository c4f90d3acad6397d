{
  "cwlVersion": "v1.2",
  "class": "CommandLineTool",
  "id": "swot-river-filter",
  "label": "SWOT RiverSP and LakeSP quality filter",
  "doc": "Reads a SWOT L2 HR RiverSP reach or node shapefile zip, or a LakeSP (Prior, Obs or Unassigned) zip, turns fill values into nulls, drops unobserved features (no wse) and features failing the quality thresholds (reach_q, node_q or quality_f, ice flags, partial_f, xovr_cal_q, dark_frac, obs_frac_n), and writes the kept features as GeoJSON and CSV with a summary of what each rule dropped. The kind of file is told by its fields.",
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "s:softwareVersion": "0.1.0",
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "swot-river-filter.wasm"
    }
  },
  "baseCommand": [
    "swot-river-filter"
  ],
  "inputs": {
    "product": {
      "type": "File",
      "doc": "RiverSP reach or node shapefile zip (SWOT_L2_HR_RiverSP_{Reach,Node}_*.zip), or LakeSP zip (SWOT_L2_HR_LakeSP_{Prior,Obs,Unassigned}_*.zip)",
      "inputBinding": {
        "prefix": "--product",
        "separate": true
      }
    },
    "max_reach_q": {
      "type": "double",
      "doc": "reaches: keep reach_q <= this (0 good .. 3 bad)",
      "default": 1.0,
      "inputBinding": {
        "prefix": "--max-reach-q",
        "separate": true
      }
    },
    "max_node_q": {
      "type": "double",
      "doc": "nodes: keep node_q <= this (0 good .. 3 bad)",
      "default": 1.0,
      "inputBinding": {
        "prefix": "--max-node-q",
        "separate": true
      }
    },
    "max_quality_f": {
      "type": "double",
      "doc": "lakes: keep quality_f <= this (0 good .. 3 bad)",
      "default": 1.0,
      "inputBinding": {
        "prefix": "--max-quality-f",
        "separate": true
      }
    },
    "max_ice_clim_f": {
      "type": "double",
      "doc": "keep ice_clim_f <= this",
      "default": 0.0,
      "inputBinding": {
        "prefix": "--max-ice-clim-f",
        "separate": true
      }
    },
    "max_ice_dyn_f": {
      "type": "double",
      "doc": "keep ice_dyn_f <= this",
      "default": 0.0,
      "inputBinding": {
        "prefix": "--max-ice-dyn-f",
        "separate": true
      }
    },
    "max_partial_f": {
      "type": "double",
      "doc": "keep partial_f <= this",
      "default": 0.0,
      "inputBinding": {
        "prefix": "--max-partial-f",
        "separate": true
      }
    },
    "max_xovr_cal_q": {
      "type": "double",
      "doc": "keep xovr_cal_q <= this",
      "default": 1.0,
      "inputBinding": {
        "prefix": "--max-xovr-cal-q",
        "separate": true
      }
    },
    "max_dark_frac": {
      "type": "double?",
      "doc": "keep dark_frac <= this (no rule if absent)",
      "inputBinding": {
        "prefix": "--max-dark-frac",
        "separate": true
      }
    },
    "min_obs_frac_n": {
      "type": "double?",
      "doc": "reaches: keep obs_frac_n >= this (no rule if absent)",
      "inputBinding": {
        "prefix": "--min-obs-frac-n",
        "separate": true
      }
    },
    "unknown_flags": {
      "type": "string",
      "doc": "keep or drop a feature whose flag is a fill value (unknown)",
      "default": "keep",
      "inputBinding": {
        "prefix": "--unknown-flags",
        "separate": true
      }
    }
  },
  "outputs": {
    "geojson": {
      "type": "File",
      "doc": "kept features, GeoJSON (reaches.geojson, nodes.geojson or lakes.geojson)",
      "outputBinding": {
        "glob": "*.geojson"
      }
    },
    "csv": {
      "type": "File",
      "doc": "kept features, CSV (reaches.csv, nodes.csv or lakes.csv)",
      "outputBinding": {
        "glob": "*.csv"
      }
    },
    "summary": {
      "type": "File",
      "doc": "counts per rule",
      "outputBinding": {
        "glob": "summary.json"
      }
    }
  }
}
