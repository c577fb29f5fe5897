"""SaShiMi / S4D: fixture parity, step = conv, parameter count, causality, DML normalisation, dataset, console scripts.

The S4D reference fixture ships with the repository in `tests/fixtures` (computed with the state-spaces/s4 minimal S4D;
see its README); a missing fixture fails the parity test. Console scripts are run through `python -c` (works without reinstalling the package).
"""
import math, subprocess, sys

import pytest
import torch

from mss import quantized as q
from mss.audio import save_audio, audio_info
from mss.models import s4, sashimi as sm, count_params
from mss import sashimi_train as st
from mss.events import StepCompleted

torch.set_num_threads(1)


def assert_matches(y, ref):
    "`y` reproduces `ref`: max abs error <= 1e-5, <= 1e-4 x max|ref|, and relative RMS error <= 1e-5."
    err = (y - ref).abs()
    assert err.max().item() <= 1e-5, f'max abs error {err.max().item():.3g}'
    assert err.max().item() <= 1e-4 * ref.abs().max().item(), f'max abs error {err.max().item():.3g}, max|ref| {ref.abs().max().item():.3g}'
    assert err.norm().item() <= 1e-5 * ref.norm().item(), f'relative RMS error {(err.norm() / ref.norm()).item():.3g}'


def test_s4d_fixture_parity(fixture_path):
    d = torch.load(fixture_path('s4d_minimal_fixture.pt'), weights_only=True)
    c = d['config']
    m = s4.S4D(c['d_model'], c['d_state'], c['dt_min'], c['dt_max']).eval()
    m.load_state_dict(d['state_dict'], strict=True)
    with torch.no_grad():
        assert_matches(m.kernel(300), d['kernel_L300'])
        assert_matches(m(d['input'])[0], d['output'])


@pytest.mark.parametrize('T', [1, 17, 300])
def test_s4d_step_equals_conv(T):
    torch.manual_seed(T)
    m = s4.S4D(5, 16).eval()
    u = torch.randn(2, 5, T)
    with torch.no_grad():
        y, _ = m(u)
        m.setup_step(); s = m.default_state(2); ys = []
        for t in range(T):
            yt, s = m.step(u[..., t], s); ys.append(yt)
    assert (torch.stack(ys, -1) - y).abs().max() <= 1e-4


def test_sashimi_param_count_and_length_error():
    m = sm.Sashimi()
    assert count_params(m) == 4_988_928
    assert count_params(sm.Sashimi(is_stereo=False)) == 4_988_928
    # the mono model has none of the stereo parts, and the stereo one has them all
    stereo_only = ('embed.proj.', 'embed.emb.1.', 'head.cond.', 'head.right_head.')
    assert not any(k.startswith(stereo_only) for k in m.state_dict())
    assert {p for p in stereo_only if any(k.startswith(p) for k in sm.Sashimi(is_stereo=True).state_dict())} == set(stereo_only)
    with pytest.raises(sm.SashimiError, match='must be a multiple of 16'):
        m(torch.zeros(1, 24, dtype=torch.long))


def test_sashimi_causal_stereo():
    torch.manual_seed(0)
    m = sm.Sashimi(d_model=16, n_layers=1, pool=(4, 4), d_state=8, is_stereo=True).eval()
    x = torch.randint(0, 256, (1, 64, 2)); y = torch.randint(0, 256, (1, 64, 2))
    x2, y2 = x.clone(), y.clone(); x2[:, 40:] = torch.randint(0, 256, (1, 24, 2)); y2[:, 40:] = torch.randint(0, 256, (1, 24, 2))
    with torch.no_grad(): a, b = m(x, y), m(x2, y2)
    assert (a[:, :40] - b[:, :40]).abs().max() < 1e-4
    assert (a[:, 40:] - b[:, 40:]).abs().max() > 1e-4


@pytest.mark.parametrize('kw', [dict(), dict(is_stereo=True), dict(bits=16, head='dml', n_mixtures=2, is_stereo=True)])
def test_generate_matches_conv(kw):
    torch.manual_seed(1)
    m = sm.Sashimi(d_model=8, n_layers=1, pool=(2, 2), d_state=8, **kw).eval()
    toks, outs = sm.generate(m, 20, batch=2, return_outputs=True, seed=3)
    x = torch.cat([torch.full_like(toks[:, :1], q.zero_token(m.cfg.bits)), toks[:, :-1]], 1)
    with torch.no_grad(): conv = m(x, toks) if m.cfg.is_stereo else m(x)
    assert (outs - conv).abs().max() <= 1e-4


def test_generate_uses_recurrence_only(monkeypatch):
    "With the convolution mode made to fail, generation still works: it steps each S4D layer once per sample at its rate."
    torch.manual_seed(2)
    m = sm.Sashimi(d_model=8, n_layers=1, pool=(2, 2), d_state=8, is_stereo=True).eval()
    want = sm.generate(m, 24, batch=2, seed=1)
    calls, step = [], s4.S4D.step
    def conv_mode(*a, **k): raise AssertionError('generate ran the convolution mode')
    def counted(self, u, state): calls.append(self); return step(self, u, state)
    monkeypatch.setattr(sm.SashimiBackbone, 'forward', conv_mode)
    monkeypatch.setattr(s4.S4D, 'forward', conv_mode)
    monkeypatch.setattr(s4.S4D, 'step', counted)
    assert torch.equal(sm.generate(m, 24, batch=2, seed=1), want)
    n = lambda blocks: sum(isinstance(x, s4.S4D) for x in blocks.modules())
    bb = m.backbone
    assert len(calls) == n(bb.up[-1]) * 24 + n(bb.up[0]) * 24 // 2 + n(bb.centre) * 24 // 4


def test_dml_sums_to_one():
    torch.manual_seed(0)
    p = torch.randn(2, 12, dtype=torch.float64); p[:, 8:] -= 3
    lp = sm.dml_log_prob(p[:, None].expand(2, 256, 12), torch.arange(256).expand(2, 256), 8)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-6)


def test_dataset_shift_and_sine(tmp_path):
    sr = 16000; t = torch.arange(sr) / sr
    save_audio(tmp_path / 'a.wav', torch.stack([torch.sin(2 * math.pi * 250 * t), 0.5 * torch.sin(2 * math.pi * 250 * t)]), sr)
    for stereo in (False, True):
        ds = q.QuantizedAudioDataset(q.QuantizedConfig(root=str(tmp_path), sample_len=4000, is_stereo=stereo), 'all')
        x, y = ds[0]
        assert x.shape == (4000, 2 if stereo else 1)
        assert (x[0] == 128).all() and (x[1:] == y[:-1]).all()
        assert y.min() == 0 and y.max() == 255


def test_shipped_configs_load():
    d = q.config_dir()
    assert q.quantized_config(d / 'musdb18mono.yaml').is_stereo is False
    assert q.quantized_config(d / 'musdb18stereo.yaml').is_stereo is True
    assert sm.sashimi_config_from(d / 'sashimi_musdb18stereo.yaml').is_stereo is True
    for name in ('musdb18mono_mulaw8.yaml', 'musdb18stereo_mulaw8.yaml', 'sashimi_musdb18stereo_mulaw8.yaml'):
        assert q.quantized_config(d / name).bits == 8


def test_design_config_trains_on_a_generated_stereo_set(tmp_path):
    """The design's experiment config as shipped (16-bit linear stereo clips of 12,288 samples, the full 8-layer model with
    a categorical head over 65,536 classes per channel, AdamW, plateau on val/loss, batch 1) trains for a few steps on
    generated stereo songs and reports the design's metrics; only the data root and the step count are overridden."""
    from mss.synth import toy_song
    from mss.audio import resample
    for i in range(9):   # 9 songs: 88 % train (7), 6 % valid (1), 6 % test (1)
        song = sum(toy_song(i, seconds=2.0, sample_rate=16000).values())
        save_audio(tmp_path / 'songs' / f'song{i}.wav', song, 16000)
    cfg = q.load_yaml(q.config_dir() / 'sashimi_musdb18stereo.yaml')
    cfg['dataset']['root'] = str(tmp_path / 'songs')
    cfg['train'].update(max_steps=2, checkpoint_dir=str(tmp_path / 'ckpt'), val_chunk_size=1, device='cpu')
    out = list(st.train_from_config(cfg))
    run = out[-1]
    m = run.model.cfg
    assert (m.bits, m.head, m.is_stereo, m.n_layers, run.train_clips) == (16, 'categorical', True, 8, 7 * 2)
    steps = [e for e in out if isinstance(e, StepCompleted)]
    assert len(steps) == 2
    # at initialisation the loss is close to ln 65536 nats per token (a near-uniform prediction)
    assert abs(steps[0].loss - math.log(65536)) < 0.5, steps[0].loss
    valid = run.history[-1].metrics
    for k in ('bpb', 'accuracy', 'accuracy@3', 'accuracy@5', 'accuracy@10', 'accuracy@10/joint', 'bpb/L', 'bpb/R', 'best_loss'):
        assert k in valid, k
    assert sorted((tmp_path / 'ckpt').iterdir()) == [tmp_path / 'ckpt' / 'best.pt', tmp_path / 'ckpt' / 'last.pt']


def _tone_pairs(n, bits, scheme):
    "16 (input, target) pairs of n samples: a tone on the left, 0.8 x it 2 samples earlier on the right, small noise."
    g = torch.Generator().manual_seed(0)
    data = []
    for i in range(16):
        tt = torch.arange(n + 2) / 16000
        l = 0.6 * torch.sin(2 * math.pi * (300 + 50 * i) * tt)
        a = torch.stack([l[2:], 0.8 * l[:-2]], -1) + 0.01 * torch.randn(n, 2, generator=g)
        data.append(q.ar_pair(q.quantize(a, bits, scheme), bits=bits))
    return data


def test_train_mono_and_stereo_loss_decreases():
    data = _tone_pairs(128, 8, 'mulaw')
    for stereo in (False, True):
        d = data if stereo else [(x[:, :1], y[:, :1]) for x, y in data]
        torch.manual_seed(0)
        m = sm.Sashimi(d_model=8, n_layers=1, pool=(4, 4), d_state=8, is_stereo=stereo)
        hist = st.fit_sashimi(m, d, None, st.TrainConfig(lr=1e-2, batch_size=8, epochs=6, device='cpu'))
        losses = [e.loss for e in hist if isinstance(e, StepCompleted)]
        assert sum(losses[-3:]) < sum(losses[:3]) - 0.3, losses


def _script(tmp_path, target):
    "A file that calls the console-script function the way the installed entry point does (fastcore needs a real module)."
    mod, fn = target.split(':')
    p = tmp_path / f'run_{fn}.py'
    p.write_text(f'import sys\nfrom {mod} import {fn}\nsys.exit({fn}())\n')
    return p


def run_cli(*args, tmp=None, target='mss.cli:musdb_stereo_wav_cli'):
    return subprocess.run([sys.executable, _script(tmp, target), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_musdb_stereo_wav_cli(tmp_path):
    src = tmp_path / 'musdb'
    for split, name in (('train', 'A - x'), ('test', 'B - y')):
        save_audio(src / split / name / 'mixture.wav', 0.1 * torch.randn(2, 4410), 44100)
    out = tmp_path / 'out'
    r = run_cli('--root', src, '--out', out, '--sample_rate', 16000, tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert audio_info(out / 'train' / 'A - x.wav') == (16000, 1600, 2)
    assert audio_info(out / 'test' / 'B - y.wav')[2] == 2
    # existing outputs are not overwritten without --overwrite
    r = run_cli('--root', src, '--out', out, tmp=tmp_path)
    assert r.returncode == 2 and 'pass --overwrite' in r.stderr and 'Traceback' not in r.stderr
    assert run_cli('--root', src, '--out', out, '--overwrite', tmp=tmp_path).returncode == 0
    # bad input: exit 2 and one clear line
    for args, msg in ((('--root', tmp_path / 'none', '--out', out), 'MUSDB root is not a folder'),
                      (('--root', out, '--out', tmp_path / 'o2'), "no 'mixture.wav' files found"),
                      (('--out', out), 'both --root and --out are required')):
        r = run_cli(*args, tmp=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_sashimi_train_cli_bad_config(tmp_path):
    r = run_cli('--config', tmp_path / 'x.yaml', tmp=tmp_path, target='mss.cli:sashimi_train_cli')
    assert r.returncode == 2 and 'no such config file' in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_train_dml_16bit_stereo_loss_decreases():
    data = _tone_pairs(64, 16, 'linear')
    torch.manual_seed(0)
    m = sm.Sashimi(d_model=8, n_layers=1, pool=(4, 4), d_state=8, is_stereo=True, bits=16, head='dml', n_mixtures=3)
    hist = st.fit_sashimi(m, data, None, st.TrainConfig(lr=1e-2, batch_size=8, epochs=6, device='cpu'))
    losses = [e.loss for e in hist if isinstance(e, StepCompleted)]
    assert sum(losses[-3:]) < sum(losses[:3]) - 0.3, losses


def test_train_overrides_leave_the_config_alone():
    cfg = st.TrainConfig(lr=1e-2, batch_size=8, epochs=1, device='cpu')
    m = sm.Sashimi(d_model=8, n_layers=1, pool=(4, 4), d_state=8)
    data = [(x[:, :1], y[:, :1]) for x, y in _tone_pairs(64, 8, 'mulaw')]
    steps = [e for e in st.train_sashimi(m, data, None, cfg, lr=0.5) if isinstance(e, StepCompleted)]
    assert steps and all(e.lr == 0.5 for e in steps) and cfg.lr == 1e-2
    with pytest.raises(TypeError): next(st.train_sashimi(m, data, None, cfg, typo_key=3))
