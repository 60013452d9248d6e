"""Prose that the outputs contradict: counts stated in an executed notebook's Markdown ("48 images") that no
output of the notebook prints. A count a chapter states must be the one it computed, under every profile."""
import re

#: nouns whose counts the chapters print when they state them
COUNTED = ("images", "mistakes", "photos", "objects", "leak images", "graded images", "test images")
STATED = re.compile(r"(?<![\w.@-])(?<!up to\s)(?<!at most\s)(\d[\d,]*)\s+(" + "|".join(sorted(COUNTED, key=len)[::-1])
                    + r")\b")


def output_text(notebook) -> str:
    """Everything the code cells printed or displayed as text or Markdown."""
    parts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/markdown", "")]
    return "\n".join(parts)


def contradicted_counts(notebook) -> list[str]:
    """Each "N <noun>" of the static Markdown (``COUNTED``; "up to N" and "at most N" are limits, not counts)
    for which no output prints N (before any noun): the prose says a size the run did not have."""
    printed = {number.replace(",", "") for number in re.findall(r"\d[\d,]*", output_text(notebook))}
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for match in STATED.finditer(cell.source):
            if match.group(1).replace(",", "") not in printed:
                found.append(f"{match.group(0)!r} in: {cell.source[max(0, match.start() - 60):match.end() + 20]!r}")
    return found
