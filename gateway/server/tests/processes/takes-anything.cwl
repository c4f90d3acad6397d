#!/usr/bin/env cwl-runner
# A trusted local tool whose inputs hold Files anywhere a request may put one (Any,
# a record's field, an array): used by the trust boundary tests. It lists what it
# was given.
cwlVersion: v1.2
class: CommandLineTool
doc: Prints the paths of the files it gets.
baseCommand: [sh, -c, 'for f; do echo "$f"; done', sh]
inputs:
  thing:
    type: Any?
  pair:
    type:
      - "null"
      - type: record
        fields:
          file:
            type: File
            inputBinding: {position: 2}
  files:
    type: File[]?
    inputBinding: {position: 3}
outputs:
  listed:
    type: stdout
