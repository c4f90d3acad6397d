# expect: #/inputs/0: a parameter needs an id
cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  - type: File
outputs: []
