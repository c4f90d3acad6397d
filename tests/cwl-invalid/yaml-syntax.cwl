# expect: yaml-syntax.cwl:6:1: not valid YAML
cwlVersion: v1.2
class: CommandLineTool
inputs: [
outputs: {}
