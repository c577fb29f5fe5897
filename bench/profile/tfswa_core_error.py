"""ONNX Runtime vs PyTorch on the full-size TFSWA-UNet's core output (random weights, seed 0), with ORT's graph
optimisations on and off: is the difference rounding or a graph change?

    OMP_NUM_THREADS=1 python bench/profile/tfswa_core_error.py
"""
import tempfile
from pathlib import Path
import numpy as np
import onnxruntime as ort
import torch
from mss.export import core_input, core_module, export_onnx
from mss.models.tfswa import TFSWAUNet

torch.manual_seed(0)
m = TFSWAUNet().eval()
f = export_onnx(m, Path(tempfile.mkdtemp()) / 'tfswa.onnx', atol=1e9)  # no self-check: this script measures it
x = core_input(m, m.chunk_size)
with torch.no_grad(): want = core_module(m)(x).numpy()
for level in ('ORT_ENABLE_ALL', 'ORT_DISABLE_ALL'):
    so = ort.SessionOptions(); so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level); so.intra_op_num_threads = 1
    got = ort.InferenceSession(str(f), so, providers=['CPUExecutionProvider']).run(None, {'features': x.numpy()})[0]
    d = np.abs(got - want)
    print(f'{level}: max |err| {d.max():.3g}, output peak {np.abs(want).max():.3g}, relative {d.max() / np.abs(want).max():.2g}')
