"""GFLOP/s of each BiLSTM of SCNet small on one 11 s chunk (the shapes its dual-path blocks feed), timed alone.

    OMP_NUM_THREADS=2 python bench/profile/lstm_rate.py 2
"""
import sys, time
import torch
from mss.models.scnet import SCNet, SCNET_CONFIGS

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
m = SCNet(**SCNET_CONFIGS['small']).eval()
shapes = []
for l in m.modules():
    if isinstance(l, torch.nn.LSTM): l.register_forward_hook(lambda mod, i, o: shapes.append(tuple(i[0].shape)))
with torch.inference_mode(): m(torch.randn(1, 2, 485100))
total = 0
for s in shapes:
    N, L, d = s; h = d  # hidden = width (expand 1)
    flop = 2 * N * L * 4 * h * (d + h) * 2  # input and recurrent products, both directions
    lstm, x = torch.nn.LSTM(d, h, batch_first=True, bidirectional=True).eval(), torch.randn(*s)
    with torch.inference_mode():
        lstm(x); t = time.perf_counter(); lstm(x); dt = time.perf_counter() - t
    total += flop
    print(f'{s}: {flop / 1e9:.2f} GFLOP in {dt * 1e3:.0f} ms = {flop / dt / 1e9:.1f} GFLOP/s')
print(f'all BiLSTMs: {total / 1e9:.1f} GFLOP per chunk')
