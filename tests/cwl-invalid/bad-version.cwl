# expect: #/cwlVersion: unknown cwlVersion "v2.0"
cwlVersion: v2.0
class: CommandLineTool
inputs: {}
outputs: {}
