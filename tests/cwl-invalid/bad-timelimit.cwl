# expect: #/requirements/ToolTimeLimit/timelimit: timelimit must be a number or an expression
cwlVersion: v1.2
class: CommandLineTool
requirements:
  ToolTimeLimit:
    timelimit: {seconds: 10}
baseCommand: echo
inputs: {}
outputs: {}
