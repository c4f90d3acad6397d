#!/usr/bin/env cwl-runner
# A trusted local tool whose result is a web page with a script: used by the
# trust boundary tests (a result must never run on the server's origin).
cwlVersion: v1.2
class: CommandLineTool
doc: Writes page.html, with a script in it.
baseCommand: [sh, -c, 'echo "<html><script>alert(document.cookie)</script></html>" > page.html']
inputs: []
outputs:
  page:
    type: File
    outputBinding: {glob: page.html}
