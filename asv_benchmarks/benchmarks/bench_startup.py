"""Start-up: importing fastbp, and the first training of a fresh process with a warm JIT cache."""


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
