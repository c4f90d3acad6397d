#!/usr/bin/env cwl-runner
# A test process of the hypervision test (not a bundled plugin): the test guest
# `hostile` in its `panic` mode, a plugin the sandbox stops with a trap, so that
# the failures by cause and the containment panels have data.
cwlVersion: v1.2
class: CommandLineTool
id: trap
label: A plugin that traps (test)
doc: Panics inside the sandbox; the run fails with the cause "trap".
$namespaces:
  hysope: https://hysope.dev/cwl#
requirements:
  hysope:WasmRequirement:
    component: hostile.wasm
baseCommand: [hostile, panic]
inputs: []
outputs:
  report:
    type: stdout
stdout: trap.txt
