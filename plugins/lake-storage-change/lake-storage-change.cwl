{
  "cwlVersion": "v1.2",
  "class": "CommandLineTool",
  "id": "lake-storage-change",
  "label": "Lake storage change from SWOT LakeSP",
  "doc": "Storage change of every lake of a SWOT L2 HR LakeSP Prior pass against a reference pass (or the Prior Lake Database reference height and area when the file carries them): linear (h - h_ref)/2 (A_ref + A) and frustum (h - h_ref)/3 (A_ref + A + sqrt(A_ref A)), in km3, with first-order uncertainties from wse_u and area_tot_u. Lakes unobserved, of unknown or poor quality, or without a reference get a status and empty values.",
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "s:softwareVersion": "0.1.0",
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "lake-storage-change.wasm"
    }
  },
  "baseCommand": [
    "lake-storage-change"
  ],
  "inputs": {
    "lakes": {
      "type": "File",
      "doc": "LakeSP Prior shapefile zip of the pass (SWOT_L2_HR_LakeSP_Prior_*.zip)",
      "inputBinding": {
        "prefix": "--lakes",
        "separate": true
      }
    },
    "reference": {
      "type": "File?",
      "doc": "LakeSP Prior shapefile zip of the reference pass",
      "inputBinding": {
        "prefix": "--reference",
        "separate": true
      }
    },
    "max_quality_f": {
      "type": "double",
      "doc": "use a lake when quality_f <= this in both passes (0 good, 1 suspect, 2 degraded); unknown quality is not used",
      "default": 1.0,
      "inputBinding": {
        "prefix": "--max-quality-f",
        "separate": true
      }
    }
  },
  "outputs": {
    "csv": {
      "type": "File",
      "doc": "one row per lake: status, heights, areas, dV and uncertainties",
      "outputBinding": {
        "glob": "storage_change.csv"
      }
    },
    "summary": {
      "type": "File",
      "doc": "counts per status, comparison with the file's ds1_l/ds2_l",
      "outputBinding": {
        "glob": "summary.json"
      }
    }
  }
}
