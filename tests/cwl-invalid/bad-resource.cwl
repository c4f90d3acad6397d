# expect: #/requirements/ResourceRequirement/coresMin: coresMin must be a non-negative number or an expression
cwlVersion: v1.2
class: CommandLineTool
requirements:
  ResourceRequirement:
    coresMin: [1, 2]
baseCommand: echo
inputs: {}
outputs: {}
