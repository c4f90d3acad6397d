# expect: #/requirements/EnvVarRequirement/envDef: envDef must be a list or a mapping of envName: envValue
cwlVersion: v1.2
class: CommandLineTool
requirements:
  EnvVarRequirement:
    envDef: 3
baseCommand: env
inputs: {}
outputs: {}
