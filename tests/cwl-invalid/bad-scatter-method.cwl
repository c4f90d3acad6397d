# expect: #/steps/echo/scatterMethod: unknown scatterMethod "zip"
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
    scatter: stringInput
    scatterMethod: zip
    in:
      stringInput: words
    out: [echo]
