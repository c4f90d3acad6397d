#!/usr/bin/env cwl-runner
# Quality-filters every RiverSP reach file given (one sandboxed swot-river-filter run
# per file, in parallel), then summarises the passes: how many reaches each pass
# observed and kept, as a CSV table.
cwlVersion: v1.2
class: Workflow
label: SWOT RiverSP quality filter and per-pass summary
requirements:
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
  InlineJavascriptRequirement: {}

inputs:
  reaches:
    type: File[]
    doc: RiverSP reach shapefile zips (SWOT_L2_HR_RiverSP_Reach_*.zip)
  max_reach_q:
    type: double
    default: 1

outputs:
  filtered:
    type: File[]
    outputSource: filter/csv
    doc: kept reaches of each pass, CSV
  summary:
    type: File
    outputSource: summarise/table
    doc: one row per pass

steps:
  filter:
    run: ../swot-river-filter/swot-river-filter.cwl
    scatter: product
    in:
      product: reaches
      max_reach_q: max_reach_q
    out: [csv, summary]

  summarise:
    in:
      summaries:
        source: filter/summary
        loadContents: true
    out: [table]
    run:
      class: ExpressionTool
      inputs:
        summaries: File[]
      outputs:
        table: File
      expression: |
        ${
          var rows = ["input,features,kept,unobserved,dropped_by_quality"];
          for (var i = 0; i < inputs.summaries.length; i++) {
            var s = JSON.parse(inputs.summaries[i].contents);
            var unobserved = s.dropped.unobserved;
            var quality = s.features - s.kept - unobserved;
            rows.push([s.input, s.features, s.kept, unobserved, quality].join(","));
          }
          return { table: { class: "File", basename: "passes.csv", contents: rows.join("\n") + "\n" } };
        }
