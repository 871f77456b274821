"""Execute notebooks in place (outputs stored), with a per-cell timeout; used by `make notebooks`.
Each notebook's wall time goes to results/notebook_times.json (read by `make report`)."""
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMES = Path(__file__).resolve().parent.parent / "results" / "notebook_times.json"

for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    NotebookClient(nb, timeout=1800, kernel_name="python3").execute()
    nbformat.write(nb, path)
    seconds = time.time() - t0
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times[Path(path).stem] = round(seconds, 1)
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps(times, indent=2, sort_keys=True))
    print(f"{path}: executed in {seconds:.0f} s")
