"""The int8 model compiler: read ``.tflite`` into the graph IR, interpret it exactly, plan memory, render C."""
