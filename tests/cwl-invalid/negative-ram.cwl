# expect: #/hints/ResourceRequirement/ramMin: ramMin must be a non-negative number or an expression
cwlVersion: v1.2
class: CommandLineTool
hints:
  ResourceRequirement:
    ramMin: -512
baseCommand: echo
inputs: []
outputs: []
