"""Start-up: importing fastbp, the first training of a fresh process with a warm JIT cache, and each kernel
path's first call with an empty one."""

from .workloads import COMPILE_PATHS, compile_probe


class StartUp:
    repeat = (3, 5, 30.0)
    timeout = 300.0

    def setup(self):
        # Fill the on-disk JIT cache, in a process of its own, before timing fresh processes.
        import subprocess
        import sys

        subprocess.run([sys.executable, "-c", FIRST_TRAIN], check=True)

    def timeraw_import(self):
        return "import fastbp"

    def timeraw_first_train_warm_cache(self):
        return FIRST_TRAIN


FIRST_TRAIN = """
import fastbp
X, Y = fastbp.article_data()
fastbp.train(fastbp.article_network(), X, Y, epochs=10)
"""


class ColdCompile:
    """Each kernel path's first call in a fresh process with an empty Numba cache: what a new user waits for
    (the whole process, import included; scripts/compile_times.py splits out the compile itself)."""

    params = [list(COMPILE_PATHS)]
    param_names = ["path"]
    repeat = (1, 3, 120.0)
    number = 1
    timeout = 300.0

    def timeraw_first_call_cold_cache(self, path):
        fresh_cache = "import os, tempfile\nos.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp()\n"
        return fresh_cache + compile_probe(path, report=False)
