{
  "$namespaces": {
    "hysope": "https://hysope.dev/cwl#",
    "s": "https://schema.org/"
  },
  "baseCommand": [
    "river-discharge"
  ],
  "class": "CommandLineTool",
  "cwlVersion": "v1.2",
  "doc": "Manning-type discharge Q = (1/n) (A0 + dA)^(5/3) W^(-2/3) S^(1/2) of a reach at each observation (CSV with time, wse, width, slope, optionally d_area and the uncertainties wse_u, width_u, slope_u): constant n, MetroMan n = n_inf ((A0+dA)/W)^p, HiVDI 1/n = alpha ((A0+dA)/W)^beta, MOMMA on the depth wse - B with n = nb (1 + log10((H-B)/(wse-B))) below bankfull and nb = 0.11 Save^0.18, and the consensus (median of the algorithms given parameters), with first-order uncertainties. dA is integrated from the heights and widths when the series has no d_area column. Rows with unknown inputs, a negative slope or A0 + dA <= 0 get a status and empty values.",
  "id": "river-discharge",
  "inputs": {
    "a0": {
      "doc": "unobserved flow area A0 at the dA reference, m2 (needed by Manning, MetroMan, HiVDI)",
      "inputBinding": {
        "prefix": "--a0",
        "separate": true
      },
      "type": "double?"
    },
    "alpha": {
      "doc": "HiVDI alpha",
      "inputBinding": {
        "prefix": "--alpha",
        "separate": true
      },
      "type": "double?"
    },
    "beta": {
      "doc": "HiVDI beta",
      "inputBinding": {
        "prefix": "--beta",
        "separate": true
      },
      "type": "double?"
    },
    "momma_b": {
      "doc": "MOMMA elevation of zero flow B, m",
      "inputBinding": {
        "prefix": "--momma-b",
        "separate": true
      },
      "type": "double?"
    },
    "momma_h": {
      "doc": "MOMMA bankfull elevation H, m",
      "inputBinding": {
        "prefix": "--momma-h",
        "separate": true
      },
      "type": "double?"
    },
    "momma_save": {
      "doc": "MOMMA mean reach slope Save, m/m",
      "inputBinding": {
        "prefix": "--momma-save",
        "separate": true
      },
      "type": "double?"
    },
    "n": {
      "doc": "constant Manning n (s m^-1/3)",
      "inputBinding": {
        "prefix": "--n",
        "separate": true
      },
      "type": "double?"
    },
    "n_inf": {
      "doc": "MetroMan n_inf",
      "inputBinding": {
        "prefix": "--n-inf",
        "separate": true
      },
      "type": "double?"
    },
    "p": {
      "doc": "MetroMan exponent p",
      "inputBinding": {
        "prefix": "--p",
        "separate": true
      },
      "type": "double?"
    },
    "series": {
      "doc": "CSV with time, wse, width, slope (m, m, m/m); d_area, wse_u, width_u, slope_u optional",
      "inputBinding": {
        "prefix": "--series",
        "separate": true
      },
      "type": "File"
    }
  },
  "label": "River discharge from SWOT reach observations",
  "outputs": {
    "discharge": {
      "doc": "time, Q and sigma_Q per algorithm, consensus, status (m3/s)",
      "outputBinding": {
        "glob": "discharge.csv"
      },
      "type": "File"
    },
    "summary": {
      "doc": "algorithms, rows per status",
      "outputBinding": {
        "glob": "summary.json"
      },
      "type": "File"
    }
  },
  "requirements": {
    "hysope:WasmRequirement": {
      "component": "river-discharge.wasm"
    }
  },
  "s:softwareVersion": "0.1.0"
}
