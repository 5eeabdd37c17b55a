"""Deployment runtimes built around a generated library: the Edge Impulse ``.eim`` server, the command-line
runner, WebAssembly, the continuous-stream driver and the ctypes engine ``eml run`` and ``eml calibrate`` use."""
