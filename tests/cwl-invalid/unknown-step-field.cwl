# expect: #/steps/echo/inn: unknown field "inn"
cwlVersion: v1.2
class: Workflow
inputs: {}
outputs: {}
steps:
  echo:
    run: ../../plugins/echo/echo.cwl
    inn: {}
    out: [echo]
