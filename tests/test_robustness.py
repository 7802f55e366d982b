"""Long runs: checkpoints that resume bit for bit, Ctrl-C that keeps the work, kills that keep the checkpoint."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from reference import random_problem

import fastbp


@pytest.mark.parametrize("momentum, shuffle, batch_size", [(0.0, False, 1), (0.9, True, 1), (0.5, True, 3)])
@pytest.mark.parametrize("engine", ["numba", "python"])
def test_checkpoint_resume_is_bit_identical(tmp_path, momentum, shuffle, batch_size, engine):
    net, X, Y = random_problem(0, [3, 5, 2], 7)
    options = dict(lr=0.7, momentum=momentum, shuffle=shuffle, seed=3, batch_size=batch_size, engine=engine)
    whole = net.copy()
    h_whole = fastbp.train(whole, X, Y, epochs=20, **options)
    path = tmp_path / "run.ckpt"
    first = net.copy()
    fastbp.train(first, X, Y, epochs=10, checkpoint=path, checkpoint_every=5, **options)
    # A network holding the checkpoint's weights (resume refuses an unrelated one); if resume read nothing, the
    # 20 epochs would start from epoch 10's weights and end elsewhere.
    resumed = first.copy()
    h = fastbp.train(resumed, X, Y, epochs=20, resume=path, **options)
    assert resumed == whole
    np.testing.assert_array_equal(h.errors, h_whole.errors)


def test_checkpoint_every_n_epochs_holds_that_epoch(tmp_path):
    net, X, Y = random_problem(1, [2, 3, 1], 4)
    path = tmp_path / "run.ckpt"

    def saved_epoch(epoch, network):
        seen.append(int(np.load(path)["epoch"]) if path.exists() else None)

    seen = []
    fastbp.train(net.copy(), X, Y, epochs=12, checkpoint=path, checkpoint_every=5, callback=saved_epoch)
    assert seen == [None] * 4 + [5] * 5 + [10] * 2 + [12]


def test_resume_refuses_a_mismatch_and_changes_nothing(tmp_path):
    net, X, Y = random_problem(2, [2, 3, 1], 4)
    path = tmp_path / "run.ckpt"
    fastbp.train(net.copy(), X, Y, epochs=4, lr=0.5, checkpoint=path, checkpoint_every=2)
    before = net.copy()
    with pytest.raises(ValueError, match="lr=0.5; this call has lr=0.1"):
        fastbp.train(net, X, Y, epochs=8, lr=0.1, resume=path)
    with pytest.raises(ValueError, match="sizes"):
        fastbp.train(fastbp.Network.random((2, 4, 1), seed=0), X, Y, epochs=8, resume=path)
    with pytest.raises(ValueError, match="no such file"):
        fastbp.train(net, X, Y, epochs=8, resume=tmp_path / "missing")
    with pytest.raises(ValueError, match="past epochs=2"):
        fastbp.train(net, X, Y, epochs=2, resume=path)
    (tmp_path / "junk").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        fastbp.train(net, X, Y, epochs=8, resume=tmp_path / "junk")
    assert net == before


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import fastbp
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=(64, 40)), rng.uniform(size=(64, 10))
    net = fastbp.Network.random((40, 200, 10), seed=0)  # a checkpoint of some size, written over and over
    print("ready", flush=True)
    fastbp.train(net, X, Y, epochs=10**9, checkpoint=sys.argv[1], checkpoint_every=1)
    """
)


@pytest.mark.slow
def test_killed_writers_leave_the_previous_checkpoint_intact(tmp_path):
    """SIGKILL at random moments, most of them inside a checkpoint write: the file always loads."""
    path = tmp_path / "run.ckpt"
    rng = np.random.default_rng(0)
    for _ in range(25):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        while not path.exists():
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.05))
        process.kill()
        process.wait()
        process.stdout.close()
        state = np.load(path)  # never truncated: the rename is atomic
        assert state["format"].item() == "fastbp-checkpoint" and state["params"].shape == (40 * 200 + 200 + 2010,)
    leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(leftovers) <= 25  # a killed writer may leave its temporary file; never the checkpoint itself


INTERRUPTED = textwrap.dedent(
    """
    import numpy as np
    import fastbp
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=(200, 20)), rng.uniform(size=(200, 3))
    net = fastbp.Network.random((20, 30, 3), seed=0)
    start = net.copy()
    fastbp.train(net.copy(), X, Y, epochs=1, engine="ENGINE")  # load the kernel: a SIGINT while importing is no epoch
    print("ready", flush=True)
    try:
        fastbp.train(net, X, Y, epochs=10**7, engine="ENGINE")
    except KeyboardInterrupt as stop:
        epochs = len(stop.history.errors)
        replay = start.copy()
        fastbp.train(replay, X, Y, epochs=epochs, engine="ENGINE")
        print("interrupted", epochs, replay == net, flush=True)
    """
)


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_ctrl_c_keeps_the_last_completed_epoch(engine):
    process = subprocess.Popen([sys.executable, "-c", INTERRUPTED.replace("ENGINE", engine)], stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    assert process.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    line = process.stdout.readline().split()
    answered = time.perf_counter() - sent
    process.wait(timeout=60)
    process.stdout.close()
    assert line[0] == "interrupted" and int(line[1]) > 0
    assert line[2] == "True"  # the network is exactly the state after the epochs the history covers
    assert answered < 20.0  # a chunk (about 0.2 s) plus the replay; 10**7 epochs would take hours


@pytest.mark.parametrize("sizes", [[[3, 5, 2]], [[3, 5, 2]] * 16, [[3, 5, 2], [3, 4, 2]]])
def test_ctrl_c_while_a_kernel_loads_carries_an_empty_history(monkeypatch, sizes):
    """A SIGINT before the first epoch (the kernel still compiling or loading) changes nothing and says so."""
    import fastbp._dispatch

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastbp._dispatch, "is_ready", lambda *args: False)
    monkeypatch.setattr(fastbp._dispatch, "ready", interrupted)
    nets = [random_problem(k, layers, 7)[0] for k, layers in enumerate(sizes)]
    _, X, Y = random_problem(0, sizes[0], 7)
    before = [net.copy() for net in nets]
    with pytest.raises(KeyboardInterrupt) as stop:
        if len(nets) == 1:
            fastbp.train(nets[0], X, Y, epochs=5)
        else:
            fastbp.train_many(nets, X, Y, epochs=5)
    histories = [stop.value.history] if len(nets) == 1 else stop.value.histories
    assert [len(h.errors) for h in histories] == [0] * len(nets)
    assert nets == before


def test_train_from_many_threads_at_once():
    """Kernels release the GIL; networks trained from a thread pool equal those trained one by one."""
    from concurrent.futures import ThreadPoolExecutor

    problems = [random_problem(seed, [8, 16, 4], 50) for seed in range(6)]
    alone = []
    for net, X, Y in problems:
        fastbp.train(copy := net.copy(), X, Y, epochs=20)
        alone.append(copy)
    with ThreadPoolExecutor(max_workers=3) as pool:
        nets = list(pool.map(lambda p: (fastbp.train(n := p[0].copy(), p[1], p[2], epochs=20), n)[1], problems))
    assert nets == alone


@pytest.mark.parametrize("n_nets", [4, 12])  # one network per thread; the lane kernel
def test_train_many_from_a_thread_pool_does_not_deadlock(n_nets):
    from concurrent.futures import ThreadPoolExecutor

    _, X, Y = random_problem(0, [2, 1, 1], 4)

    def job(seed):
        nets = [fastbp.Network.random((2, 3, 1), seed=seed + k) for k in range(n_nets)]
        fastbp.train_many(nets, X, Y, epochs=50)
        return nets

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(job, seed) for seed in range(8)]
        results = [f.result(timeout=120) for f in futures]
    assert results == [job(seed) for seed in range(8)]  # the same as one call at a time


FIRST_USE = textwrap.dedent(
    """
    import fastbp
    X, Y = fastbp.article_data()
    net = fastbp.article_network()
    history = fastbp.train(net, X, Y, epochs=1000, lr=0.5, train_biases=False)
    print(repr(history.final_error))
    """
)


def test_processes_the_tests_start_run_the_code_under_test(tmp_path):
    """A process a test starts, wherever it runs, imports the same fastbp as the tests (conftest.py), so it
    tests this checkout and shares its Numba cache (not the copy pip installed, as CI's venv has it)."""
    code = "import fastbp; print(fastbp.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == fastbp.__file__


@pytest.mark.slow
def test_no_writable_cache_directory_still_trains():
    """A read-only install whose cache cannot be written compiles in memory and runs."""
    env = dict(os.environ, NUMBA_CACHE_DIR="/dev/null/no-cache-here")
    out = subprocess.run([sys.executable, "-c", FIRST_USE], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) > 0


@pytest.mark.slow
def test_a_damaged_cache_file_is_compiled_again(tmp_path):
    """A kernel's cache files cut short (a full disk, a copied folder) are read as a miss, with a warning: the
    process compiles the kernel again and writes its entry anew, and the next process loads it."""
    code = textwrap.dedent(
        """
        import fastbp
        from fastbp import _kernels
        net, (X, Y) = fastbp.article_network(), fastbp.article_data()
        print(repr(net.error(X, Y)), sum(_kernels.evaluate.stats.cache_hits.values()))
        """
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def run():
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)

    first = run()
    assert first.returncode == 0, first.stderr
    error = first.stdout.split()[0]
    for pattern in ("_kernels.evaluate-*.nbi", "_kernels.evaluate-*.nbc"):  # the index, then the compiled code
        (damaged,) = tmp_path.rglob(pattern)
        damaged.write_bytes(damaged.read_bytes()[:20])
        again, loaded = run(), run()
        assert again.returncode == 0 and "cache of evaluate could not be read" in again.stderr, again.stderr
        assert again.stdout.split() == [error, "0"]  # compiled again, the same result
        assert loaded.stdout.split() == [error, "1"] and "could not be read" not in loaded.stderr


@pytest.mark.slow
def test_processes_starting_together_on_an_empty_cache(tmp_path):
    """Processes compiling into the same empty NUMBA_CACHE_DIR at once all succeed, with equal results,
    and the next one loads what they wrote."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_USE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )  # fmt: skip
        for _ in range(2)  # (on two cores, both compile at the same time)
    ]
    results = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-300:] for _, err in results]
    assert len({out for out, _ in results}) == 1
    counts = "from fastbp import _kernels; k = _kernels.train_epochs\n"
    counts += "print(*map(sum, (k.stats.cache_hits.values(), k.stats.cache_misses.values())))\n"
    # Loading is not compiling: Numba's lowering of NumPy (its registries, 0.2-0.3 s to import) stays unread.
    counts += "import sys; print('numba.np.arraymath' in sys.modules)"
    again = subprocess.run([sys.executable, "-c", FIRST_USE + counts], capture_output=True, text=True, env=env,
                           timeout=300)  # fmt: skip
    assert again.stdout == results[0][0] + "1 0\nFalse\n"  # the same result, loaded from the cache they wrote
