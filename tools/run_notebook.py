"""Execute a notebook in place (outputs stored), with a per-cell timeout; used by `make notebooks`."""
import sys
import time

import nbformat
from nbclient import NotebookClient

for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    NotebookClient(nb, timeout=1800, kernel_name="python3").execute()
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.time() - t0:.0f} s")
