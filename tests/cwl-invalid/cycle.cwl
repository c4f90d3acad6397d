# expect: #/steps: the steps form a cycle
cwlVersion: v1.2
class: Workflow
inputs: {}
outputs: {}
steps:
  a:
    run: ../../plugins/echo/echo.cwl
    in:
      stringInput: b/echo
    out: [echo]
  b:
    run: ../../plugins/echo/echo.cwl
    in:
      stringInput: a/echo
    out: [echo]
