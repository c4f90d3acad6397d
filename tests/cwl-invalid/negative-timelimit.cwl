# expect: #/requirements/ToolTimeLimit/timelimit: timelimit must be a non-negative whole number of seconds or an expression
cwlVersion: v1.2
class: CommandLineTool
requirements:
  ToolTimeLimit:
    timelimit: -1
baseCommand: [sleep, "15"]
inputs: []
outputs: []
