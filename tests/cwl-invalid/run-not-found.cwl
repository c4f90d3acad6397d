# expect: no-such-tool.cwl: No such file or directory
cwlVersion: v1.2
class: Workflow
inputs: {}
outputs: {}
steps:
  echo:
    run: no-such-tool.cwl
    in: {}
    out: [echo]
