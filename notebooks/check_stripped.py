"""Checks the notebooks as they are kept: valid nbformat 4, outputs stripped (no
outputs, no execution counts), a cell tagged `parameters` that reads the server's URL
from HYSOPE_URL, and a last code cell of assertions.

usage: check_stripped.py NOTEBOOK..."""
import sys

import nbformat

failed = []
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    problems = []
    if any(c.outputs or c.execution_count is not None for c in code):
        problems.append("outputs not stripped")
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1 or "HYSOPE_URL" not in params[0].source:
        problems.append("no parameters cell reading HYSOPE_URL")
    if not code or "\nassert " not in "\n" + code[-1].source:
        problems.append("the last code cell is not assertions")
    if problems:
        failed.append(f"{path}: {', '.join(problems)}")
print("\n".join(failed) if failed else f"{len(sys.argv) - 1} notebooks: stripped, parameterised, ending in assertions")
sys.exit(1 if failed else 0)
