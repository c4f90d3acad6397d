#!/usr/bin/env cwl-runner
# A trusted local tool that waits: used by the gateway tests for running jobs.
cwlVersion: v1.2
class: CommandLineTool
label: Wait
doc: Sleeps for the given number of seconds, then writes done.txt.
baseCommand: [sh, -c]
arguments: ["sleep $0 && echo done > done.txt", $(inputs.seconds)]
inputs:
  seconds:
    type: float
    doc: how long to wait
outputs:
  done:
    type: File
    outputBinding: {glob: done.txt}
