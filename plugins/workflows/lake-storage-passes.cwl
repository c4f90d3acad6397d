#!/usr/bin/env cwl-runner
# Lake storage change of several LakeSP passes against one reference pass:
# lake-storage-change on every pass (one sandboxed run per pass, in parallel), then one
# table of the passes' counts per status.
cwlVersion: v1.2
class: Workflow
id: lake-storage-passes
label: Lake storage change of LakeSP passes against a reference
requirements:
  ScatterFeatureRequirement: {}
  InlineJavascriptRequirement: {}

inputs:
  passes:
    type: File[]
    doc: LakeSP Prior shapefile zips of the passes
  reference:
    type: File
    doc: LakeSP Prior shapefile zip of the reference pass
  max_quality_f:
    type: double
    default: 1

outputs:
  storage_change:
    type: File[]
    outputSource: change/csv
  table:
    type: File
    outputSource: gather/table
    doc: one row per pass, lakes per status

steps:
  change:
    run: ../lake-storage-change/lake-storage-change.cwl
    scatter: lakes
    in:
      lakes: passes
      reference: reference
      max_quality_f: max_quality_f
    out: [csv, summary]
  gather:
    in:
      summaries:
        source: change/summary
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
          var statuses = {}, parsed = [];
          for (var i = 0; i < inputs.summaries.length; i++) {
            var s = JSON.parse(inputs.summaries[i].contents);
            parsed.push(s);
            for (var k in s.status) { statuses[k] = true; }
          }
          var names = Object.keys(statuses).sort();
          var rows = [["pass"].concat(names).join(",")];
          for (var j = 0; j < parsed.length; j++) {
            var row = [String(j + 1)];
            for (var n = 0; n < names.length; n++) { row.push(String(parsed[j].status[names[n]] || 0)); }
            rows.push(row.join(","));
          }
          return { table: { class: "File", basename: "passes.csv", contents: rows.join("\n") + "\n" } };
        }
