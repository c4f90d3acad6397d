# expect: #/inputz: unknown field "inputz"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputz: {}
outputs: {}
