"""Writes the CWL documents of the runner overhead benchmark into a folder:
a 20-step chain of a trivial local tool, a 100-way scatter of it, and a 20-step
chain of the echo wasm plugin."""
import os
import sys

out = sys.argv[1]
plugins = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "plugins"))
os.makedirs(out, exist_ok=True)

tool = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: [echo, step]
inputs:
  prev: {type: File?}
  n: {type: int?, inputBinding: {position: 1}}
stdout: out.txt
outputs:
  out: stdout
"""
open(os.path.join(out, "trivial.cwl"), "w").write(tool)

def chain(name, run, steps, in_name, out_name):
    lines = ["cwlVersion: v1.2", "class: Workflow", "inputs: {}", "outputs:",
             f"  last: {{type: File, outputSource: s{steps}/{out_name}}}", "steps:"]
    for i in range(1, steps + 1):
        lines.append(f"  s{i}:")
        lines.append(f"    run: {run}")
        lines.append(f"    in: {{{in_name}: s{i - 1}/{out_name}}}" if i > 1 else "    in: {}")
        lines.append(f"    out: [{out_name}]")
    open(os.path.join(out, name), "w").write("\n".join(lines) + "\n")

chain("chain1.cwl", "trivial.cwl", 1, "prev", "out")
chain("chain20.cwl", "trivial.cwl", 20, "prev", "out")
chain("wasm-chain1.cwl", os.path.join(plugins, "echo", "echo.cwl"), 1, "fileInput", "echo")
chain("wasm-chain20.cwl", os.path.join(plugins, "echo", "echo.cwl"), 20, "fileInput", "echo")

scatter = """cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  ns: int[]
outputs:
  outs: {type: "File[]", outputSource: s/out}
steps:
  s:
    run: trivial.cwl
    scatter: n
    in: {n: ns}
    out: [out]
"""
open(os.path.join(out, "scatter100.cwl"), "w").write(scatter)
open(os.path.join(out, "scatter100.yml"), "w").write("ns: [" + ", ".join(str(i) for i in range(100)) + "]\n")
open(os.path.join(out, "empty.yml"), "w").write("{}\n")
