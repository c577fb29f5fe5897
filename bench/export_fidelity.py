"""Full-size export check: every exportable model at its published size and training chunk, exported to ONNX and
TorchScript with `mss.export`; export time, file size, and the max |exported − PyTorch| on a batch of two noise chunks
(the export's own check uses batch 2 as well) and on one chunk (batch 1, a size the export never saw).

    OMP_NUM_THREADS=1 python bench/export_fidelity.py --out bench/results/export/fidelity.json

Random weights (seed 0). The shipped separator is exported with its trained weights.
"""
import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mss.export import ExportedSeparator, export_onnx, export_torchscript  # noqa: E402
from mss.inference import InferenceEngine  # noqa: E402
from mss.models import count_params  # noqa: E402


def build(name):
    torch.manual_seed(0)
    if name == 'scnet-synth': return InferenceEngine.from_pretrained().model
    from mss.models.scnet import SCNET_CONFIGS, SCNet
    if name == 'scnet_small': return SCNet(**SCNET_CONFIGS['small'])
    if name == 'bandit':
        from mss.models.bandit import BandIt
        return BandIt()
    if name == 'tfswa_unet':
        from mss.models.tfswa import TFSWAUNet
        return TFSWAUNet()
    raise SystemExit(f'unknown model {name}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', default='scnet-synth,scnet_small,tfswa_unet,bandit')
    ap.add_argument('--formats', default='onnx,torchscript')
    ap.add_argument('--out', default='bench/out/export_fidelity.json')
    a = ap.parse_args()
    rows, tmp = [], Path(tempfile.mkdtemp())
    for name in a.models.split(','):
        m = build(name).eval()
        n = m.chunk_size
        mix2 = 0.1 * torch.randn(2, m.audio_channels, n, generator=torch.Generator().manual_seed(1))
        with torch.no_grad(): want = m(mix2)
        for fmt in a.formats.split(','):
            t0 = time.time()
            f = (export_onnx if fmt == 'onnx' else export_torchscript)(m, tmp / f'{name}.{fmt}')
            dt = time.time() - t0
            runner = ExportedSeparator(f)
            got = runner(mix2)
            e2 = max(float((got[s] - want[s]).abs().max()) for s in want)
            with torch.no_grad(): w1 = m(mix2[:1])
            g1 = runner(mix2[:1])
            e1 = max(float((g1[s] - w1[s]).abs().max()) for s in w1)
            peak = max(float(v.abs().max()) for v in want.values())
            row = dict(model=name, type=type(m).__name__, params=count_params(m), chunk_s=n / m.sample_rate, format=fmt,
                       export_s=round(dt, 1), size_mb=round(f.stat().st_size / 1e6, 1), max_err_batch2=e2, max_err_batch1=e1,
                       output_peak=peak)
            rows.append(row); print(json.dumps(row), flush=True)
            f.unlink()
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(torch=torch.__version__, python=platform.python_version(), rows=rows), indent=1))
    print('| model | params | chunk (s) | format | export (s) | file (MB) | max err, batch 2 | max err, batch 1 |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['model']} ({r['type']}) | {r['params']:,} | {r['chunk_s']:.2f} | {r['format']} | {r['export_s']} | {r['size_mb']} | "
              f"{r['max_err_batch2']:.1e} | {r['max_err_batch1']:.1e} |")


if __name__ == '__main__':
    main()
