# expect: #/steps/maybe/when: when is CWL v1.2; this document says cwlVersion v1.0
cwlVersion: v1.0
class: Workflow
inputs:
  go: boolean
outputs: []
steps:
  maybe:
    when: $(inputs.go)
    in: {go: go}
    out: []
    run:
      class: CommandLineTool
      baseCommand: "true"
      inputs:
        go: boolean
      outputs: []
