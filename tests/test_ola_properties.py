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
