"""Execute notebooks in place (outputs stored), with a per-cell timeout; used by `make notebooks`.

The notebooks are the lessons' one source: edit them (in Jupyter, Colab or a text editor), then run this.
Each executed notebook gets the digest of its cell sources in its metadata (`scoreutils.source_sha256`),
so tests/test_notebooks.py can tell when a lesson was edited after its committed outputs were made.
Each notebook's wall time goes to results/notebook_times.json (read by `make report`)."""
import hashlib
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMES = Path(__file__).resolve().parent.parent / "results" / "notebook_times.json"


def source_digest(nb) -> str:
    """sha256 over every cell's type and source: what a lesson says and runs, not what it printed."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    return h.hexdigest()


def main(paths: list[str]) -> None:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        t0 = time.time()
        NotebookClient(nb, timeout=1800, kernel_name="python3").execute()
        nb.metadata.setdefault("scoreutils", {})["source_sha256"] = source_digest(nb)
        nbformat.write(nb, path)
        seconds = time.time() - t0
        times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
        times[Path(path).stem] = round(seconds, 1)
        TIMES.parent.mkdir(parents=True, exist_ok=True)
        TIMES.write_text(json.dumps(times, indent=2, sort_keys=True))
        print(f"{path}: executed in {seconds:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
