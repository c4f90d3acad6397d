# expect: #/steps/filter/in/reaches: source "nope" is neither a workflow input nor a step output
cwlVersion: v1.2
class: Workflow
inputs:
  reaches: File
outputs: {}
steps:
  filter:
    run: ../../plugins/swot-river-filter/swot-river-filter.cwl
    in:
      reaches: nope
    out: [csv]
