# expect: #/successCodes: must be a list of integers
cwlVersion: v1.2
class: CommandLineTool
baseCommand: "true"
successCodes: [zero]
inputs: {}
outputs: {}
