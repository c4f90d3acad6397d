# expect: #/requirements/hysope:WasmRequirement/component: component must be a path, a registry name or sha256:<digest>
cwlVersion: v1.2
class: CommandLineTool
$namespaces:
  hysope: https://hysope.dev/cwl#
requirements:
  hysope:WasmRequirement:
    component: 42
baseCommand: x
inputs: {}
outputs: {}
