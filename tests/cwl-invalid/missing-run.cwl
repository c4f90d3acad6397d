# expect: a step needs run
cwlVersion: v1.2
class: Workflow
inputs: {}
outputs: {}
steps:
  echo:
    in: {}
    out: [echo]
