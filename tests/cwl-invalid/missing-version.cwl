# expect: #/cwlVersion: missing cwlVersion
class: CommandLineTool
inputs: {}
outputs: {}
