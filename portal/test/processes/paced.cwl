#!/usr/bin/env cwl-runner
# A test process for the portal's browser tests (not a bundled plugin): the test
# guest `hostile` in its well-behaved `paced` mode, which waits between its steps
# and at each logs a line and reports its progress, so that a job page is seen
# moving through intermediate values.
cwlVersion: v1.2
class: CommandLineTool
id: paced
label: Paced steps (test)
doc: Runs STEPS steps of MILLIS milliseconds, logging and reporting progress at each.
$namespaces:
  hysope: https://hysope.dev/cwl#
requirements:
  hysope:WasmRequirement:
    component: hostile.wasm
baseCommand: [hostile, paced]
inputs:
  steps:
    type: int
    default: 4
    doc: how many steps
    inputBinding: {position: 1}
  millis:
    type: int
    default: 600
    doc: milliseconds per step
    inputBinding: {position: 2}
outputs:
  report:
    type: stdout
stdout: paced.txt
