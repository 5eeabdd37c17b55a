"""One place that imports TensorFlow/Keras: quiet, at most 2 threads, deterministic ops, seeded.

Call :func:`tf_modules` instead of ``import tensorflow`` so every caller gets the same configuration
(reproducible metrics on CPU) and ``eml --help`` never pays for the import.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from crisp_eml.core.errors import ToolMissingError

_CONFIGURED = False


def tf_modules() -> tuple[Any, Any]:
    """``(tensorflow, keras)``, configured once per process."""
    global _CONFIGURED
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["TF_DETERMINISTIC_OPS"] = "1"
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import keras
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - the ml extra is part of the install
        raise ToolMissingError("TensorFlow is not installed (pip install 'crisp-eml[ml]')") from exc
    if not _CONFIGURED:
        _CONFIGURED = True
        with contextlib.suppress(RuntimeError):  # already initialized by someone else
            tf.config.threading.set_intra_op_parallelism_threads(2)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        with contextlib.suppress(Exception):
            tf.config.experimental.enable_op_determinism()
        with contextlib.suppress(Exception):
            tf.get_logger().setLevel("ERROR")
    return tf, keras


def seed_everything(seed: int) -> None:
    _, keras = tf_modules()
    keras.utils.set_random_seed(int(seed))


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the converter's chatter (Python prints, C++ logs, warnings) so ``--json`` stdout stays clean.

    Errors still surface as Python exceptions.
    """
    import warnings

    sys.stdout.flush()
    sys.stderr.flush()
    saved: list[tuple[int, int]] = []
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
            except OSError:
                pass
        with warnings.catch_warnings(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, dup in saved:
            os.dup2(dup, fd)
            os.close(dup)
        os.close(devnull)
