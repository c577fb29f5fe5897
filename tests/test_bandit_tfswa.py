"Property tests for BandIt / QueryBandIt and the TFSWA-style U-Net: any length, band layouts, window masks, multi-query."
import torch
from hypothesis import assume, given, settings, strategies as st
from mss.models import bandit as bd
from mss.models import tfswa as tw
from mss.ola import OverlapAddProcessor

torch.set_num_threads(1)
TINY_B = dict(n_fft=256, hop_size=64, n_bands=8, emb_dim=16, rnn_dim=8, n_modules=1, mlp_dim=32, chunk_size=4410)
TINY_T = dict(n_fft=256, hop_size=64, n_freq=128, channels=[8, 16], res_blocks=1, attn_stages=[1],
              bottleneck_blocks=1, head_dim=8, window=4, shift=2, chunk_size=4410)

torch.manual_seed(0)
BANDIT = bd.BandIt(stems=['a', 'b'], **TINY_B).eval()
QBANDIT = bd.QueryBandIt(query_dim=4, **dict(TINY_B, n_modules=2, n_post_modules=1)).eval()
with torch.no_grad():
    for p in QBANDIT.film.parameters(): p.normal_(0, 0.5)
TFSWA = tw.TFSWAUNet(stems=['a', 'b', 'c'], **TINY_T).eval()


@settings(max_examples=25, deadline=None)
@given(n_bands=st.integers(2, 64), log_nfft=st.integers(6, 12), min_bins=st.integers(1, 4),
       knee=st.floats(20.0, 2000.0))
def test_musical_bands_partition_of_unity(n_bands, log_nfft, min_bins, knee):
    n_fft = 2 ** log_nfft
    nf = n_fft // 2 + 1
    assume(n_bands <= nf)
    lay = bd.musical_bands(n_bands, n_fft, 44100, knee, min_bins)
    assert torch.allclose(lay.weights.sum(0), torch.ones(nf), atol=1e-6)
    for b in range(n_bands):
        sup = torch.nonzero(lay.weights[b] > 0).flatten().tolist()
        assert sup == list(range(lay.starts[b], lay.ends[b])) and len(sup) >= min(min_bins, nf)


@settings(max_examples=12, deadline=None)
@given(length=st.integers(1, 9000), batch=st.integers(1, 2))
def test_models_keep_any_length(length, batch):
    x = torch.randn(batch, 2, length)
    with torch.no_grad():
        for m in (BANDIT, TFSWA):
            y = m(x)
            assert list(y) == list(m.stems)
            assert all(v.shape == (batch, 2, length) and torch.isfinite(v).all() for v in y.values())
        q = QBANDIT(x, queries=torch.randn(1, 3, 4))
        assert list(q) == ['0', '1', '2'] and all(v.shape == (batch, 2, length) for v in q.values())


@settings(max_examples=10, deadline=None)
@given(Q=st.integers(1, 5), seed=st.integers(0, 1000))
def test_query_batched_equals_loop(Q, seed):
    g = torch.Generator().manual_seed(seed)
    x, qs = torch.randn(2, 2, 3000, generator=g), torch.randn(2, Q, 4, generator=g)
    with torch.no_grad():
        lat = QBANDIT.encode(x)
        batched = QBANDIT.decode(lat, qs)
        loop = torch.stack([QBANDIT.decode(lat, qs[:, i:i + 1])[:, 0] for i in range(Q)], 1)
    assert (batched - loop).abs().max() <= 1e-6


@settings(max_examples=30, deadline=None)
@given(hw=st.integers(1, 4), ww=st.integers(1, 4), log_w=st.integers(1, 3), data=st.data())
def test_shift_mask_properties(hw, ww, log_w, data):
    w = 2 ** log_w
    s = data.draw(st.integers(0, w - 1))
    H, W = hw * w, ww * w
    vh, vw = data.draw(st.integers(1, H)), data.draw(st.integers(1, W))
    m = tw.shifted_window_mask(H, W, w, s, vh, vw)
    assert m.shape == (hw * ww, w * w, w * w)
    assert torch.equal(m, m.transpose(1, 2))                              # symmetric: same-region relation
    assert (torch.diagonal(m, dim1=1, dim2=2) == 0).all()                # a token always sees itself
    assert set(m.unique().tolist()) <= {0.0, float('-inf')}


def test_multi_query_through_ola():
    proc = OverlapAddProcessor(0.1, 0.05, 44100)
    x, q = torch.randn(2, 12345), torch.randn(1, 2, 4)
    y = proc.process(QBANDIT, x, batch_size=3, queries=q, query_names=['x', 'y'])
    assert list(y) == ['x', 'y'] and all(v.shape == (2, 12345) for v in y.values())
