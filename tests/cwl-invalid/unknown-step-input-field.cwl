# expect: #/steps/echo/in/stringInput/sauce: unknown field "sauce"
cwlVersion: v1.2
class: Workflow
inputs:
  word: string
outputs: {}
steps:
  echo:
    run: ../../plugins/echo/echo.cwl
    in:
      stringInput:
        sauce: word
    out: [echo]
