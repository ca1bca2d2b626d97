"""The precision search behind `modelkit convert --max-drop`: per-layer int8, int16
activations or float, verified candidate by candidate (see `advise`), and the check
of `modelkit debug`'s keep-in-float advice (`verify`).

Sits above `debug` and `convert`; nothing below imports it. TensorFlow and
ai-edge-quantizer are imported inside the functions that need them.
"""
