# expect: #/steps/echo/scatter: scatter names "colour", which is not an input of the step
cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  words: string[]
outputs: {}
steps:
  echo:
    run: ../../plugins/echo/echo.cwl
    scatter: colour
    in:
      stringInput: words
    out: [echo]
