# expect: #/steps/echo: step id "echo" is used twice
cwlVersion: v1.2
class: Workflow
inputs: {}
outputs: {}
steps:
  - id: echo
    run: ../../plugins/echo/echo.cwl
    in: {}
    out: [echo]
  - id: echo
    run: ../../plugins/echo/echo.cwl
    in: {}
    out: [echo]
