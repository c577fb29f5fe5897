"""ONNX and TorchScript export of every exportable model (`mss.export`): the exported file reproduces the PyTorch model
within 1e-4 on random chunks at batch sizes the export never saw, and through `InferenceEngine` on a 3 s song (derived
stems and events included); `mss-export` then `mss-separate --config FILE` end to end; bad input gets one sentence."""
import shutil
import subprocess

import pytest
import soundfile as sf
import torch

from mss.audio import save_audio
from mss.config import InferenceConfig
from mss.events import ChunkProcessed
from mss.export import ExportedSeparator, ExportError, export_onnx, export_torchscript, read_export_metadata
from mss.inference import InferenceEngine
from mss.models import MSSConfig, model_meta, save_config

SR, CHUNK = 44100, 22050  # 0.5 s chunks keep the exports small and quick
TINY = {
    'scnet': dict(dims=[4, 8, 16, 32], num_dplayer=2),
    'scnet_masked': dict(dims=[4, 8, 16, 32], num_dplayer=2, mask_channels=8),
    'bandit': dict(n_fft=256, hop_size=64, n_bands=8, emb_dim=16, rnn_dim=8, n_modules=1, mlp_dim=32),
    'tfswa_unet': dict(n_fft=256, hop_size=64, n_freq=128, channels=[8, 16], res_blocks=1, attn_stages=[1],
                       bottleneck_blocks=1, head_dim=8, window=4, shift=2),
}
FORMATS = {'onnx': export_onnx, 'torchscript': export_torchscript}
DERIVED = [{'operation': 'subtract', 'name': 'instrumental', 'stem_name': 'mixture', 'by_stem_name': 'vocals'}]
CASES = [(t, f) for t in TINY for f in FORMATS]


def build(model_type):
    torch.manual_seed(0)
    m = model_meta(model_type).build(dict(TINY[model_type], chunk_size=CHUNK)).eval()
    with torch.no_grad():  # random, non-trivial weights everywhere (zero-initialised heads would hide mistakes)
        for p in m.parameters(): p.add_(0.02 * torch.randn_like(p))
    return m


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    "Each (model type, format) exported once for the module: {(type, fmt): (model, path)}."
    root, cache = tmp_path_factory.mktemp('exports'), {}
    def get(model_type, fmt):
        if (model_type, fmt) not in cache:
            m = build(model_type)
            cache[model_type, fmt] = m, FORMATS[fmt](m, root / f'{model_type}.{fmt}')
        return cache[model_type, fmt]
    return get


def max_err(a, b): return max(float((a[k] - b[k]).abs().max()) for k in b)


@pytest.mark.parametrize('model_type,fmt', CASES)
def test_random_chunks_match_at_any_batch(exported, model_type, fmt):
    model, path = exported(model_type, fmt)
    runner = ExportedSeparator(path)
    assert (runner.stems, runner.sample_rate, runner.audio_channels, runner.chunk_size) == (model.stems, SR, 2, CHUNK)
    for b in (1, 3):  # the export saw batch 2
        mix = 0.1 * torch.randn(b, 2, CHUNK, generator=torch.Generator().manual_seed(b))
        with torch.no_grad(): want = model(mix)
        got = runner(mix)
        assert list(got) == list(want) and got['vocals'].shape == (b, 2, CHUNK)
        assert max_err(got, want) <= 1e-4, (model_type, fmt, b, max_err(got, want))
    meta = read_export_metadata(path)
    assert (meta['model_type'], meta['chunk_size'], meta['inference']['chunk_size_seconds']) == (model_type, CHUNK, 0.5)


@pytest.mark.parametrize('model_type,fmt', CASES)
def test_engine_on_a_3s_song_matches(exported, model_type, fmt):
    model, path = exported(model_type, fmt)
    song = 0.1 * torch.randn(2, 3 * SR, generator=torch.Generator().manual_seed(7))
    inf = InferenceConfig(chunk_size_seconds=0.5, hop_size_seconds=0.25, batch_size=3, derived_stems=DERIVED)
    want = InferenceEngine(model, inf, 'cpu').run(song).outputs
    events = []
    engine = InferenceEngine.from_pretrained(path, hop_size_seconds=0.25, batch_size=3, derived_stems=DERIVED)
    got = engine.run(song, callback=events.append).outputs
    assert list(got) == list(want) == model.stems + ['instrumental']
    assert all(v.shape == (2, 3 * SR) for v in got.values())
    assert max_err(got, want) <= 1e-4, (model_type, fmt, max_err(got, want))
    assert sum(isinstance(e, ChunkProcessed) for e in events) == 4  # 11 chunks at batch 3


def test_wrong_chunk_and_foreign_files(exported, tmp_path):
    _, path = exported('scnet', 'onnx')
    with pytest.raises(ValueError, match=r'was exported for chunks of \(batch, 2, 22050\) samples, got \(1, 2, 22051\)'):
        ExportedSeparator(path)(torch.zeros(1, 2, CHUNK + 1))
    plain = tmp_path / 'weights.pt'
    torch.save(build('scnet').state_dict(), plain)
    with pytest.raises(ExportError, match='not a model exported by mss'): ExportedSeparator(plain)
    with pytest.raises(ValueError, match='carries its own weights'): InferenceEngine.from_pretrained(path, plain)
    with pytest.raises(ExportError, match='has no chunk_size'):
        export_onnx(model_meta('scnet').build(dict(TINY['scnet'], chunk_size=None)), tmp_path / 'x.onnx')


def run(*args):
    exe = shutil.which(args[0])
    assert exe, f'{args[0]} is not installed'
    return subprocess.run([exe, *map(str, args[1:])], capture_output=True, text=True, timeout=600)


def test_mss_export_then_mss_separate(tmp_path):
    cfg = tmp_path / 'tiny.yaml'
    save_config(MSSConfig('scnet', dict(TINY['scnet'], chunk_size=CHUNK), InferenceConfig(chunk_size_seconds=0.5, hop_size_seconds=0.25)), cfg)
    model = build('scnet')
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'tiny.ckpt')
    song = save_audio(tmp_path / 'song.wav', 0.1 * torch.randn(2, 2 * SR + 123, generator=torch.Generator().manual_seed(3)), SR, subtype='FLOAT')
    r = run('mss-export', '--config', cfg, '--checkpoint', tmp_path / 'tiny.ckpt', '--format', 'onnx', '--out', tmp_path / 'tiny.onnx')
    assert r.returncode == 0, r.stderr
    assert 'wrote' in r.stdout and 'matches PyTorch within 1e-4' in r.stdout
    r = run('mss-separate', song, '--config', tmp_path / 'tiny.onnx', '--out', tmp_path / 'onnx', '--float32')
    assert r.returncode == 0, r.stderr
    r = run('mss-separate', song, '--config', cfg, '--checkpoint', tmp_path / 'tiny.ckpt', '--out', tmp_path / 'eager', '--float32')
    assert r.returncode == 0, r.stderr
    for stem in model.stems:
        a, _ = sf.read(tmp_path / 'onnx' / 'song' / f'{stem}.wav', dtype='float32')
        b, _ = sf.read(tmp_path / 'eager' / 'song' / f'{stem}.wav', dtype='float32')
        assert a.shape == b.shape == (2 * SR + 123, 2)
        assert abs(a - b).max() <= 1e-4, stem
    # bad input: one sentence, exit status 2
    r = run('mss-separate', song, '--config', tmp_path / 'tiny.onnx', '--checkpoint', tmp_path / 'tiny.ckpt', '--out', tmp_path / 'x')
    assert (r.returncode, r.stderr) == (2, f"mss-separate: error: {tmp_path / 'tiny.onnx'} is an exported model and carries its own weights; drop --checkpoint.\n")
    r = run('mss-export', '--config', tmp_path / 'tiny.onnx', '--out', tmp_path / 'again.onnx')
    assert (r.returncode, r.stderr) == (2, f"mss-export: error: {tmp_path / 'tiny.onnx'} is already an exported model; export from its config and checkpoint.\n")
    r = run('mss-export', '--config', cfg, '--checkpoint', tmp_path / 'tiny.ckpt', '--out', tmp_path / 'tiny.onnx')
    assert (r.returncode, r.stderr) == (2, f"mss-export: error: {tmp_path / 'tiny.onnx'} exists; pass --overwrite to replace it.\n")
