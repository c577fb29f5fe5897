"""ONNX Runtime's time per operator type for SCNet small's exported core (one thread), e.g. on a 2 s chunk:

    OMP_NUM_THREADS=1 python bench/profile/ort_profile.py --seconds 2
"""
import argparse, collections, json, tempfile
from pathlib import Path
import onnxruntime as ort
import torch
from mss.export import core_input, export_onnx
from mss.models.scnet import SCNet, SCNET_CONFIGS

ap = argparse.ArgumentParser(); ap.add_argument('--seconds', type=float, default=2.0); a = ap.parse_args()
torch.manual_seed(0)
m = SCNet(**SCNET_CONFIGS['small']).eval()
n = round(a.seconds * 44100)
f = export_onnx(m, Path(tempfile.mkdtemp()) / 'scnet_small.onnx', chunk_size=n)
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.enable_profiling = True
so.profile_file_prefix = str(Path(tempfile.mkdtemp()) / 'ort_profile')  # not into the working folder
s = ort.InferenceSession(str(f), so, providers=['CPUExecutionProvider'])
x = core_input(m, n, 1).numpy()
for _ in range(2): s.run(None, {'features': x})
agg = collections.Counter()
for e in json.load(open(s.end_profiling())):
    if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time'): agg[e['args']['op_name']] += e['dur']
tot = sum(agg.values())
for k, v in agg.most_common(12): print(f'{k}: {v / 2e3:.1f} ms per run, {100 * v / tot:.1f} %')
