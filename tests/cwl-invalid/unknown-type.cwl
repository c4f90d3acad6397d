# expect: #/inputs/reaches/type: unknown type "Flie"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  reaches: Flie
outputs: {}
