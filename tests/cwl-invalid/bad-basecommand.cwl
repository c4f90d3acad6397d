# expect: #/baseCommand: baseCommand must be a string or a list of strings
cwlVersion: v1.2
class: CommandLineTool
baseCommand: {program: echo}
inputs: {}
outputs: {}
