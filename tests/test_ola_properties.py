"Property tests for the overlap-add processor: any length, any hop, any batch size."
import math
import torch
from torch import nn
from hypothesis import given, settings, strategies as st
from mss.ola import OverlapAddProcessor
from mss.events import ChunkProcessed

class Identity(nn.Module):
    def forward(self, x): return {'a': x.clone(), 'b': -x}

class Local(nn.Module):
    "A 3-tap moving average: exact inside chunks away from chunk edges."
    def forward(self, x):
        y = torch.nn.functional.avg_pool1d(x, 3, 1, 1, count_include_pad=True)
        return {'m': y}

@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 5000), chunk=st.integers(8, 700), hop_frac=st.floats(0.05, 1.0), bs=st.integers(1, 9),
       channels=st.integers(1, 2))
def test_identity_exact_any_length(length, chunk, hop_frac, bs, channels):
    hop = max(1, min(chunk, round(chunk * hop_frac)))
    p = OverlapAddProcessor(chunk / 1000, hop / 1000, 1000)
    x = torch.randn(channels, length, generator=torch.Generator().manual_seed(length))
    events = []
    y = p.process(Identity(), x, batch_size=bs, callback=events.append)
    assert torch.equal(y['a'], x) and torch.equal(y['b'], -x)
    cp = [e for e in events if isinstance(e, ChunkProcessed)]
    assert cp[-1].chunks_done == cp[-1].total_chunks == len(p._starts(max(length, p.chunk_size)))
    assert len(cp) == math.ceil(cp[-1].total_chunks / bs)

class FIR(nn.Module):
    "A 5-tap FIR filter, zero-padded at the input's edges: chunk outputs are wrong within 2 samples of a chunk edge."
    R = 2
    taps = torch.tensor([[[0.25, -0.5, 1.0, 0.75, -0.4]]])
    def forward(self, x):
        B, C, N = x.shape
        return {'y': torch.nn.functional.conv1d(x.reshape(B * C, 1, N), self.taps, padding=self.R).reshape(B, C, N)}

def sin2_weighted_average(chunks, starts, N, T):
    "Reference overlap-add in float64: sum_k w_k y_k / sum_k w_k, w = sin² window, flat start (end) for the first (last) chunk."
    n = torch.arange(N, dtype=torch.float64)
    num, den = torch.zeros(chunks.shape[1], T, dtype=torch.float64), torch.zeros(T, dtype=torch.float64)
    for k, s in enumerate(starts):
        w = torch.sin(math.pi * (n + 0.5) / N) ** 2
        if k == 0: w[:N // 2] = w.max()
        if k == len(starts) - 1: w[N // 2:] = w.max()
        num[:, s:s + N] += w * chunks[k].double(); den[s:s + N] += w
    return num / den

@settings(max_examples=80, deadline=None)
@given(length=st.integers(1, 3000), chunk=st.integers(8, 400), hop_frac=st.floats(0.05, 1.0), bs=st.integers(1, 6))
def test_fir_model_matches_whole_track(length, chunk, hop_frac, bs):
    "A short FIR model: the track run whole equals the overlap-add away from chunk edges, and the sin²-weighted average everywhere."
    hop = max(1, min(chunk, round(chunk * hop_frac)))
    p = OverlapAddProcessor(chunk / 1000, hop / 1000, 1000)
    N, R = p.chunk_size, FIR.R
    x = torch.randn(2, length, generator=torch.Generator().manual_seed(length + chunk))
    y = p.process(FIR(), x, batch_size=bs)['y'].double()
    xp = torch.nn.functional.pad(x, (0, max(0, N - length)))   # a track shorter than a chunk is zero-padded
    T = xp.shape[-1]
    starts = p._starts(T)
    whole = FIR()(x[None])['y'][0].double()
    edge = torch.zeros(T, dtype=torch.bool)  # within R samples of a chunk edge that is not the track's own edge
    for k, s in enumerate(starts):
        if k > 0: edge[s:s + R] = True
        if s + N < T: edge[s + N - R:s + N] = True
    inner = ~edge[:length]
    if inner.any(): assert (y - whole)[:, inner].abs().max().item() <= 1e-5
    ref = sin2_weighted_average(FIR()(torch.stack([xp[:, s:s + N] for s in starts]))['y'], starts, N, T)[:, :length]
    assert (y - ref).abs().max().item() <= 1e-5

@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 4000), bs1=st.integers(1, 8), bs2=st.integers(1, 8))
def test_batch_size_invariant(length, bs1, bs2):
    p = OverlapAddProcessor(0.256, 0.1, 1000)
    x = torch.randn(2, length, generator=torch.Generator().manual_seed(1))
    a, b = p.process(Local(), x, batch_size=bs1)['m'], p.process(Local(), x, batch_size=bs2)['m']
    assert torch.equal(a, b)

def test_samples_fed_is_minimal():
    "Tail alignment: no zero-padded chunk reaches the model once the track is longer than a chunk."
    fed = []
    class Count(nn.Module):
        def forward(self, x): fed.append(x.shape[0] * x.shape[-1]); return {'s': x}
    p = OverlapAddProcessor(11.0, 5.5, 100)
    T = 180 * 100
    p.process(Count(), torch.randn(2, T), batch_size=4)
    assert sum(fed) / T <= 1.96

class Layout(nn.Module):
    "Identity on 3 stems, laid out in memory in one of several ways; nothing outlives the call."
    def __init__(self, layout): super().__init__(); self.layout = layout
    def forward(self, x):
        B, C, N = x.shape
        if self.layout == 'stem_inner':    # one (B, S, C, N) tensor: chunk i of a stem is one block
            y = x[:, None].expand(B, 3, C, N).clone(); return {f's{i}': y[:, i] for i in range(3)}
        if self.layout == 'stem_outer':    # one (S, B, C, N) tensor
            y = x[None].expand(3, B, C, N).clone(); return {f's{i}': y[i] for i in range(3)}
        if self.layout == 'separate':      # a tensor per stem
            return {f's{i}': x.clone() for i in range(3)}
        y = x[:, :, None].expand(B, C, 3, N).clone()   # (B, C, S, N): a chunk of a stem is not contiguous
        return {f's{i}': y[:, :, i] for i in range(3)}

@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 60_000), chunk=st.integers(1024, 12_000), hop_frac=st.floats(0.05, 1.0),
       bs=st.integers(1, 6), channels=st.integers(1, 2),
       layout=st.sampled_from(['stem_inner', 'stem_outer', 'separate', 'interleaved']))
def test_release_keeps_identity_exact(length, chunk, hop_frac, bs, channels, layout):
    "With the size floor lifted, outputs are given back page by page as chunks are stitched: still bit-exact."
    import mss.ola as ola
    hop = max(1, min(chunk, round(chunk * hop_frac)))
    p = OverlapAddProcessor(chunk / 1000, hop / 1000, 1000)
    x = torch.randn(channels, length, generator=torch.Generator().manual_seed(length + chunk))
    floor, ola._RELEASE_MIN_BYTES = ola._RELEASE_MIN_BYTES, 0
    try: y = p.process(Layout(layout), x, batch_size=bs)
    finally: ola._RELEASE_MIN_BYTES = floor
    for v in y.values(): assert torch.equal(v, x)

def test_release_happens_for_each_layout():
    "The property test above does release pages: a plan for every batch of the contiguous layouts, none for the interleaved one."
    import mss.ola as ola
    if ola._MADVISE is None: return   # only Linux on x86-64 / arm64 gives pages back
    plans, plan = [], ola._release_plan
    def counting(y, probe):
        r = plan(y, probe); plans.append(r is not None); return r
    floor, ola._RELEASE_MIN_BYTES, ola._release_plan = ola._RELEASE_MIN_BYTES, 0, counting
    try:
        for layout, want in (('stem_inner', True), ('stem_outer', True), ('separate', True), ('interleaved', False)):
            plans.clear()
            x = torch.randn(2, 50_000)
            y = OverlapAddProcessor(8.0, 3.0, 1000).process(Layout(layout), x, batch_size=3)
            assert all(torch.equal(v, x) for v in y.values())
            assert plans == [want] * len(plans) and len(plans) == 5, (layout, plans)   # 15 chunks, 3 a batch
    finally: ola._RELEASE_MIN_BYTES, ola._release_plan = floor, plan
