# expect: #/outputs/table/outputSource: "filter/table" is neither a workflow input nor a step output
cwlVersion: v1.2
class: Workflow
inputs:
  reaches: File
outputs:
  table:
    type: File
    outputSource: filter/table
steps:
  filter:
    run: ../../plugins/swot-river-filter/swot-river-filter.cwl
    in:
      reaches: reaches
    out: [csv]
