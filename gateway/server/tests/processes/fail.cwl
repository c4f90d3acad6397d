#!/usr/bin/env cwl-runner
# A trusted local tool that always fails: used by the gateway tests.
cwlVersion: v1.2
class: CommandLineTool
doc: Exits with status 3.
baseCommand: [sh, -c, "echo broken >&2; exit 3"]
inputs: []
outputs: []
