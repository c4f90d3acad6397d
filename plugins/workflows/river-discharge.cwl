#!/usr/bin/env cwl-runner
# The river discharge chain of the portal: quality-filter every RiverSP reach pass
# (one sandboxed swot-river-filter run per file, in parallel), gather each reach's
# time series over the passes, then per reach: area change dA from its heights and
# widths (river-area-change), discharge by the Manning-type laws and their consensus
# (river-discharge), and anomalies and flood thresholds of the consensus discharge
# (hydro-anomaly). Every step that computes runs in the wasm sandbox.
cwlVersion: v1.2
class: Workflow
# The process id under /processes (the plugin river-discharge is a step of it).
id: river-discharge-chain
label: SWOT river discharge chain (filter, area change, discharge, anomalies)
doc: |
  From RiverSP reach shapefile zips of several passes to a discharge time series per
  reach with uncertainties, and its anomalies. The flow-law parameters apply to every
  reach (they are priors of the reach, not calibrated here).
requirements:
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  InlineJavascriptRequirement: {}
  SubworkflowFeatureRequirement: {}

inputs:
  reaches:
    type: File[]
    doc: RiverSP reach shapefile zips of the passes (SWOT_L2_HR_RiverSP_Reach_*.zip)
  max_reach_q:
    type: double
    default: 1
    doc: keep reach_q <= this
  min_observations:
    type: long
    default: 3
    doc: reaches observed (and kept) in fewer passes are left out
  a0:
    type: double
    default: 800
    doc: unobserved flow area A0, m2
  n:
    type: double?
    default: 0.03
    doc: Manning n
  n_inf:
    type: double?
    default: 0.03
    doc: MetroMan n_inf
  p:
    type: double?
    default: 0.1
    doc: MetroMan p
  alpha:
    type: double?
    default: 30
    doc: HiVDI alpha
  beta:
    type: double?
    default: 0.2
    doc: HiVDI beta

outputs:
  series:
    type: File[]
    outputSource: gather/series
    doc: one CSV per reach (time, wse, width, slope, uncertainties) over the kept passes
  area_change:
    type: File[]
    outputSource: reach/area_change
    doc: the series of each reach with dA
  discharge:
    type: File[]
    outputSource: reach/discharge
    doc: per reach, Q and sigma_Q per flow law and the consensus, m3/s
  anomalies:
    type: File[]
    outputSource: reach/anomalies
    doc: per reach, z-scores and thresholds exceeded by the consensus discharge
  thresholds:
    type: File[]
    outputSource: reach/thresholds
    doc: per reach, percentiles and Gumbel fits of the consensus discharge

steps:
  filter:
    run: ../swot-river-filter/swot-river-filter.cwl
    scatter: product
    in:
      product: reaches
      max_reach_q: max_reach_q
    out: [csv]

  gather:
    in:
      passes:
        source: filter/csv
        loadContents: true
      min_observations: min_observations
    out: [series]
    run:
      class: ExpressionTool
      inputs:
        passes: File[]
        min_observations: long
      outputs:
        series: File[]
      expression: |
        ${
          // RFC 4180 rows (the filter quotes cells holding commas, e.g. rch_id_up).
          function parse(text) {
            var rows = [], row = [], cell = "", quoted = false;
            for (var i = 0; i < text.length; i++) {
              var c = text[i];
              if (quoted) {
                if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
                else if (c === '"') { quoted = false; }
                else { cell += c; }
              } else if (c === '"') { quoted = true; }
              else if (c === ",") { row.push(cell); cell = ""; }
              else if (c === "\n") { row.push(cell); rows.push(row); row = []; cell = ""; }
              else if (c !== "\r") { cell += c; }
            }
            if (cell !== "" || row.length > 0) { row.push(cell); rows.push(row); }
            return rows;
          }
          var columns = ["time", "wse", "width", "slope", "wse_u", "width_u"];
          var byReach = {};
          for (var f = 0; f < inputs.passes.length; f++) {
            var rows = parse(inputs.passes[f].contents);
            if (rows.length === 0) { continue; }
            var header = rows[0], at = {};
            for (var h = 0; h < header.length; h++) { at[header[h]] = h; }
            var needed = ["reach_id", "time", "time_str", "wse", "width", "slope", "wse_u", "width_u"];
            for (var k = 0; k < needed.length; k++) {
              if (!(needed[k] in at)) {
                throw "pass " + (f + 1) + " (" + inputs.passes[f].basename + "): no column " + needed[k];
              }
            }
            for (var r = 1; r < rows.length; r++) {
              var x = rows[r], id = x[at.reach_id], when = x[at.time_str];
              // time_str, or time (seconds since 2000-01-01) when the text is a fill value.
              if (when === "" && x[at.time] !== "") {
                when = new Date(Date.UTC(2000, 0, 1) + Number(x[at.time]) * 1000).toISOString();
              }
              if (when === "" || x[at.wse] === "" || x[at.width] === "") { continue; }
              (byReach[id] = byReach[id] || []).push([when, x[at.wse], x[at.width],
                x[at.slope], x[at.wse_u], x[at.width_u]]);
            }
          }
          var series = [], ids = Object.keys(byReach).sort();
          for (var i = 0; i < ids.length; i++) {
            var obs = byReach[ids[i]];
            if (obs.length < inputs.min_observations) { continue; }
            obs.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
            var lines = ["reach_id," + columns.join(",")];
            for (var j = 0; j < obs.length; j++) { lines.push(ids[i] + "," + obs[j].join(",")); }
            series.push({ class: "File", basename: ids[i] + ".csv", contents: lines.join("\n") + "\n" });
          }
          if (series.length === 0) {
            throw "no reach was kept in " + inputs.min_observations + " or more passes";
          }
          return { series: series };
        }

  reach:
    scatter: series
    in:
      series: gather/series
      a0: a0
      n: n
      n_inf: n_inf
      p: p
      alpha: alpha
      beta: beta
    out: [area_change, discharge, anomalies, thresholds]
    run:
      class: Workflow
      inputs:
        series: File
        a0: double
        n: double?
        n_inf: double?
        p: double?
        alpha: double?
        beta: double?
      outputs:
        area_change:
          type: File
          outputSource: area/area_change
        discharge:
          type: File
          outputSource: flow/discharge
        anomalies:
          type: File
          outputSource: anomaly/anomalies
        thresholds:
          type: File
          outputSource: anomaly/thresholds
      steps:
        area:
          run: ../river-area-change/river-area-change.cwl
          in:
            series: series
          out: [area_change]
        flow:
          run: ../river-discharge/river-discharge.cwl
          in:
            series: area/area_change
            a0: a0
            n: n
            n_inf: n_inf
            p: p
            alpha: alpha
            beta: beta
          out: [discharge]
        anomaly:
          run: ../hydro-anomaly/hydro-anomaly.cwl
          in:
            series: flow/discharge
            value_column:
              default: q_consensus
          out: [anomalies, thresholds]
