"""SCNet fidelity tests against the reference fixtures, and MSST-format checkpoint round trips.

The fixtures ship with the repository in `tests/fixtures` (see its README: tensors computed with the MIT-licensed MSST
and official SCNet code); a missing fixture fails the test that needs it.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import mss.models as mc  # the registry, MSST loading, and (re-exported) the config and checkpoint errors
from mss.models import count_params
from mss.models import scnet as sc

TOL = 1e-5  # absolute, as the fixtures' README states for a faithful implementation
REL_MAX, REL_RMS = 1e-4, 1e-5  # max|err| <= REL_MAX * max|ref| and ||err|| <= REL_RMS * ||ref||
torch.set_num_threads(1)


def maxdiff(a, b): return (a - b).abs().max().item()


def assert_matches(y, ref):
    "`y` reproduces `ref`: absolute max error <= 1e-5, and relative to the reference's scale (max and RMS)."
    err = (y - ref).abs()
    assert err.max().item() <= TOL, f'max abs error {err.max().item():.3g} > {TOL}'
    assert err.max().item() <= REL_MAX * ref.abs().max().item(), \
        f'max abs error {err.max().item():.3g} > {REL_MAX} x max|ref| ({ref.abs().max().item():.3g})'
    assert err.norm().item() <= REL_RMS * ref.norm().item(), \
        f'relative RMS error {(err.norm() / ref.norm()).item():.3g} > {REL_RMS}'


@pytest.fixture(scope='module')
def fx(fixture_path): return torch.load(fixture_path('scnet_tiny_fixture.pt'), weights_only=True)


@pytest.fixture(scope='module')
def fm(fixture_path): return torch.load(fixture_path('scnet_masked_tiny_fixture.pt'), weights_only=True)


def build(cls, fixture, **kw):
    m = cls(**fixture['config'], **kw).eval()
    m.load_state_dict(fixture['state_dict'], strict=True)
    return m


# ---------------------------------------------------------------- golden outputs

def test_golden_msst_scnet(fx):
    with torch.no_grad(): y = build(sc.SCNet, fx).separate(fx['input'])
    assert y.shape == (1, 4, 2, 20000)
    assert_matches(y, fx['output_zfturbo_scnet'])


def test_golden_official_spec_norm(fx):
    with torch.no_grad(): y = build(sc.SCNet, fx, spec_norm=True).separate(fx['input'])
    assert_matches(y, fx['output_official_scnet_with_spec_norm'])
    # without spec_norm the official output is NOT reproduced: the flag matters
    with torch.no_grad(): y0 = build(sc.SCNet, fx).separate(fx['input'])
    assert maxdiff(y0, fx['output_official_scnet_with_spec_norm']) > 1e-3


def test_golden_msst_scnet_masked(fm):
    with torch.no_grad(): y = build(sc.SCNetMasked, fm).separate(fm['input'])
    assert_matches(y, fm['output_zfturbo_scnet_masked'])


def test_norm_epsilons_match_reference(fx, fm):
    """The references use torch's default GroupNorm epsilon (1e-5). In the dual-path blocks the activations are large, so a
    wrong epsilon there moves the fixtures' outputs by only ~1e-6 relative: too little to see, so it is checked here."""
    for cls, f in ((sc.SCNet, fx), (sc.SCNetMasked, fm)):
        m = build(cls, f)
        assert {g.eps for g in m.modules() if isinstance(g, torch.nn.GroupNorm)} == {1e-5}


def test_forward_dict_contract(fx):
    m = build(sc.SCNet, fx)
    with torch.no_grad(): out = m(fx['input'])
    assert list(out) == m.stems == ['drums', 'bass', 'other', 'vocals']
    for i, s in enumerate(m.stems):
        assert out[s].shape == (1, 2, 20000)
        assert_matches(out[s], fx['output_zfturbo_scnet'][:, i])
    assert m.sample_rate == 44100 and m.chunk_size == 485100


def test_mode_check_scale_equivariance(fx):
    "Official (spec_norm, which normalises the spectrogram inside the model) is nearly scale-equivariant, MSST scnet is not."
    x = fx['input']
    rel = {}
    for flag in (False, True):
        m = build(sc.SCNet, fx, spec_norm=flag)
        with torch.no_grad(): a, b = m.separate(3 * x), 3 * m.separate(x)
        rel[flag] = ((a - b).norm() / b.norm()).item()
    assert rel[True] < 1e-3
    assert rel[False] > 0.1


# ---------------------------------------------------------------- shapes and batching

@pytest.mark.parametrize('cls', [sc.SCNet, sc.SCNetMasked])
@pytest.mark.parametrize('L', [1, 1023, 1024, 2048, 2049, 3 * 1024, 4097, 7777])
def test_shapes_awkward_lengths(cls, L):
    torch.manual_seed(0)
    m = cls(dims=[4, 8, 16, 32], num_dplayer=2).eval()
    with torch.no_grad(): y = m.separate(0.1 * torch.randn(1, 2, L))
    assert y.shape == (1, 4, 2, L)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize('variant', ['scnet', 'masked'])
def test_batch_independence(fx, fm, variant):
    f, cls = (fx, sc.SCNet) if variant == 'scnet' else (fm, sc.SCNetMasked)
    m = build(cls, f)
    x = torch.cat([f['input'], 0.3 * torch.randn(1, 2, 20000, generator=torch.Generator().manual_seed(3))])
    with torch.no_grad(): yb, y1 = m.separate(x), m.separate(x[:1])
    assert_matches(yb[:1], y1)


# ---------------------------------------------------------------- full-size key listings and parameter counts

def read_keys(path):
    lines = Path(path).read_text().splitlines()
    head = lines[0]
    cfg = json.loads(head.split('config=')[1].rsplit(' params=', 1)[0])
    rows = [(k, tuple(int(v) for v in s.strip('()').split(',') if v.strip())) for k, s in (l.split('\t') for l in lines[1:])]
    return head.split()[1], cfg, int(head.rsplit('params=', 1)[1]), rows


KEY_LISTINGS = [f'keys_{v}_{c}' for v in ('scnet', 'scnet_masked') for c in ('small', 'large', 'xl_v1.0.13', 'xl_ihf_v1.0.15')]


def test_all_key_listings_present(fixture_path):
    assert sorted(p.stem for p in fixture_path('README.md').parent.glob('keys_scnet*.txt')) == sorted(KEY_LISTINGS)


@pytest.mark.parametrize('name', KEY_LISTINGS)
def test_key_listing(fixture_path, name):
    variant, cfg, n, rows = read_keys(fixture_path(name + '.txt'))
    with torch.device('meta'): m = (sc.SCNetMasked if variant == 'scnet_masked' else sc.SCNet)(**cfg)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == rows
    assert count_params(m) == n


@pytest.mark.parametrize('name,expected', [('small', (10578768, 10597284)), ('large', (42181232, 42199748)),
                                           ('xl', (54006896, 54025412)), ('xl_ihf', (53466800, 53485316))])
def test_param_counts_full_size(name, expected):
    with torch.device('meta'):
        got = (count_params(sc.SCNet(**sc.SCNET_CONFIGS[name])), count_params(sc.SCNetMasked(**sc.SCNET_CONFIGS[name])))
    assert got == expected


def test_random_state_dict_from_listing_loads_strict(tmp_path, fixture_path):
    "A random checkpoint with the small listing's shapes loads strictly through the file loader."
    _, cfg, _, rows = read_keys(fixture_path('keys_scnet_small.txt'))
    g = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(s, generator=g).half() for k, s in rows}
    torch.save({'epoch': 1, 'model_state_dict': {'module.' + k: v for k, v in sd.items()}}, tmp_path / 'small.ckpt')
    m = sc.SCNet(**cfg)
    mc.load_weights(m, mc.load_state_dict_file(tmp_path / 'small.ckpt'))
    assert torch.equal(m.encoder[1].globalconv.weight.detach(), sd['encoder.1.globalconv.weight'].float())


# ---------------------------------------------------------------- MSST checkpoint round trips via load_msst_model

def write_msst_yaml(path, model_cfg, chunk=20000, tuple_tag=True):
    d = {'audio': {'chunk_size': chunk, 'num_channels': 2, 'sample_rate': 44100, 'min_mean_abs': 0.0},
         'model': dict(model_cfg),
         'training': {'batch_size': 4, 'instruments': list(model_cfg['sources']), 'target_instrument': None, 'lr': 5e-4,
                      'use_amp': True},
         'augmentations': {'enable': False},
         'inference': {'batch_size': 2, 'dim_t': 256, 'num_overlap': 4, 'normalize': False}}
    text = yaml.safe_dump(d, sort_keys=False)
    if tuple_tag:  # MSST files carry python tuples
        text = text.replace('band_SR:\n', 'band_SR: !!python/tuple\n')
        assert '!!python/tuple' in text
    path.write_text(text)
    return path


def forms(sd):
    return {
        'raw': sd,
        'msst_training': {'epoch': 3, 'optimizer_name': 'adam', 'optimizer_state_dict': {}, 'best_metric': 9.0,
                          'model_state_dict': sd},
        'state_dict': {'state_dict': sd},
        'state': {'state': sd},
        'official': {'state': {k: torch.zeros_like(v) for k, v in sd.items()}, 'best_state': sd, 'optimizer': {}},
        'module_prefix': {'module.' + k: v for k, v in sd.items()},
        'orig_mod_prefix': {'_orig_mod.' + k: v for k, v in sd.items()},
        'ddp_wrapped': {'model_state_dict': {'module.' + k: v for k, v in sd.items()}},
        'fp16': {k: v.half() for k, v in sd.items()},
        'bf16': {k: v.bfloat16() for k, v in sd.items()},
    }


def rounded(form, v):
    "What a weight becomes after a half-precision round trip."
    return {'fp16': v.half().float(), 'bf16': v.bfloat16().float()}.get(form, v)


@pytest.mark.parametrize('form', list(forms({})))
@pytest.mark.parametrize('variant', ['scnet', 'scnet_masked'])
def test_msst_round_trip(tmp_path, fx, fm, variant, form):
    f = fx if variant == 'scnet' else fm
    cfg_path = write_msst_yaml(tmp_path / 'cfg.yaml', f['config'])
    torch.save(forms(f['state_dict'])[form], tmp_path / 'w.ckpt')
    m = mc.load_msst_model(cfg_path, tmp_path / 'w.ckpt')  # model type inferred from the keys
    assert type(m).__name__ == ('SCNet' if variant == 'scnet' else 'SCNetMasked')
    assert not m.training and m.chunk_size == 20000 and m.stems == f['config']['sources']
    loaded = m.state_dict()
    for k, v in f['state_dict'].items():
        assert torch.equal(loaded[k], rounded(form, v)), k
    if form not in ('fp16', 'bf16'):
        ref = f['output_zfturbo_scnet' if variant == 'scnet' else 'output_zfturbo_scnet_masked']
        with torch.no_grad(): assert_matches(m.separate(f['input']), ref)


def test_unwrapped_forms_identical(tmp_path, fx):
    outs = {}
    for name, obj in forms(fx['state_dict']).items():
        torch.save(obj, tmp_path / f'{name}.ckpt')
        outs[name] = mc.load_state_dict_file(tmp_path / f'{name}.ckpt')
    for name, sd in outs.items():
        assert list(sd) == list(fx['state_dict'])
        assert all(v.dtype == torch.float32 for v in sd.values() if v.is_floating_point())
        for k in sd:
            assert torch.equal(sd[k], rounded(name, fx['state_dict'][k]))


def test_official_spec_norm_through_msst_yaml(tmp_path, fx):
    cfg_path = write_msst_yaml(tmp_path / 'cfg.yaml', {**fx['config'], 'spec_norm': True})
    torch.save({'state': {}, 'best_state': fx['state_dict']}, tmp_path / 'official.th')
    m = mc.load_msst_model(cfg_path, tmp_path / 'official.th', model_type='scnet')
    with torch.no_grad(): assert_matches(m.separate(fx['input']), fx['output_official_scnet_with_spec_norm'])


def tiny_cfg(**kw):
    return {'sources': ['drums', 'bass', 'other', 'vocals'], 'audio_channels': 2, 'dims': [4, 8, 16, 32], 'nfft': 4096,
            'hop_size': 1024, 'win_size': 4096, 'normalized': True, 'band_SR': [0.175, 0.392, 0.433],
            'band_stride': [1, 4, 16], 'band_kernel': [3, 4, 16], 'conv_depths': [3, 2, 1], 'compress': 4,
            'conv_kernel': 3, 'num_dplayer': 2, 'expand': 1, **kw}


def test_round_trip_own_tiny_model(tmp_path):
    "A checkpoint saved from our own random tiny model reproduces that model's output (no fixtures needed)."
    torch.manual_seed(5)
    src = sc.SCNetMasked(**tiny_cfg()).eval()
    torch.save({'epoch': 1, 'model_state_dict': {'_orig_mod.' + k: v for k, v in src.state_dict().items()}}, tmp_path / 'm.ckpt')
    m = mc.load_msst_model(write_msst_yaml(tmp_path / 'c.yaml', tiny_cfg()), tmp_path / 'm.ckpt')
    x = 0.1 * torch.randn(1, 2, 6000)
    with torch.no_grad(): assert torch.equal(m.separate(x), src.separate(x))


def test_mismatched_checkpoint_lists_keys(tmp_path):
    torch.manual_seed(0)
    src = sc.SCNet(**tiny_cfg(num_dplayer=4, conv_depths=[3, 2, 2]))
    torch.save(src.state_dict(), tmp_path / 'w.ckpt')
    cfg_path = write_msst_yaml(tmp_path / 'c.yaml', tiny_cfg(dims=[4, 8, 16, 24]))
    with pytest.raises(mc.CheckpointError) as e: mc.load_msst_model(cfg_path, tmp_path / 'w.ckpt')
    msg = str(e.value)
    assert 'w.ckpt does not fit SCNet' in msg
    # one extra conv layer per encoder (3 x 10 keys) and two extra dual-path layers (2 x 24 keys)
    assert '78 unexpected key(s): encoder.0.conv_modules.2.layers.1.0.weight, encoder.0.conv_modules.2.layers.1.0.bias' in msg
    assert '(58 more)' in msg
    assert msg.endswith('The weights suggest: dims=[4, 8, 16, 32] (config: [4, 8, 16, 24]), conv_depths=[3, 2, 2] (config: [3, 2, 1]), '
                        'num_dplayer=4 (config: 2).')
    assert 'mis-shaped key(s): encoder.2.SDlayer.convs.0.weight (32, 16, 3, 1) vs model (24, 16, 3, 1)' in msg


def test_masked_checkpoint_into_plain_scnet(tmp_path):
    torch.save(sc.SCNetMasked(**tiny_cfg()).state_dict(), tmp_path / 'w.ckpt')
    with pytest.raises(mc.CheckpointError, match=r'5 unexpected key\(s\): pos_embed_f, mask_layer.0.weight'):
        mc.load_msst_model(write_msst_yaml(tmp_path / 'c.yaml', tiny_cfg()), tmp_path / 'w.ckpt', model_type='scnet')


# ---------------------------------------------------------------- bad inputs

def test_bad_inputs(tmp_path):
    cfg_path = write_msst_yaml(tmp_path / 'c.yaml', tiny_cfg())
    with pytest.raises(FileNotFoundError, match='no such checkpoint file'):
        mc.load_msst_model(cfg_path, tmp_path / 'missing.ckpt')
    with pytest.raises(FileNotFoundError, match='no such config file'):
        mc.load_msst_model(tmp_path / 'missing.yaml')
    (tmp_path / 'junk.ckpt').write_text('not a checkpoint at all')
    with pytest.raises(mc.CheckpointError, match='not a readable PyTorch checkpoint'):
        mc.load_msst_model(cfg_path, tmp_path / 'junk.ckpt')
    with pytest.raises(mc.ConfigError, match="unknown model type 'scnet_xl'"):
        mc.load_msst_model(cfg_path, model_type='scnet_xl')
    bad = write_msst_yaml(tmp_path / 'bad.yaml', tiny_cfg(num_layers=6))
    with pytest.raises(mc.ConfigError, match=r"unknown key\(s\) 'num_layers'; allowed keys: stems, sample_rate, audio_channels, chunk_size"):
        mc.load_msst_model(bad)
    torch.save({'weights': {'a': torch.zeros(1)}}, tmp_path / 'nowrap.ckpt')
    with pytest.raises(mc.CheckpointError, match='no state_dict found'):
        mc.load_msst_model(cfg_path, tmp_path / 'nowrap.ckpt')


def test_config_import_is_lazy():
    code = "import sys, mss.models as c; c.MODELS['scnet']; print(sorted(m for m in sys.modules if m.startswith('mss.models.')))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == '[]'
    code = "import sys, mss.models as c; c.model_meta('scnet').load(); print('mss.models.scnet' in sys.modules)"
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip() == 'True'


@pytest.mark.parametrize('type_name', list(mc.MODELS))
def test_registry_resolves(type_name):
    "Every registered model type names an importable class and params dataclass (imported lazily here)."
    meta = mc.model_meta(type_name)
    cls, params_cls = meta.load(), meta.load_config_class()
    assert isinstance(cls, type) and issubclass(cls, torch.nn.Module)
    import dataclasses
    assert dataclasses.is_dataclass(params_cls)


def test_registry_builds_scnet():
    for t in ('scnet', 'scnet_masked'):
        m = mc.model_meta(t).build({'dims': [4, 8, 16, 32], 'num_dplayer': 2})
        assert type(m) is mc.model_meta(t).load() and m.config.dims == [4, 8, 16, 32]


def test_msst_sources_from_training_instruments(tmp_path):
    "An MSST model section without `sources` takes the stem names from training.instruments."
    cfg = tiny_cfg(); cfg.pop('sources')
    path = tmp_path / 'c.yaml'
    path.write_text(yaml.safe_dump({'audio': {'chunk_size': 44100, 'sample_rate': 44100}, 'model': cfg,
                                    'training': {'instruments': ['vocals', 'other']}, 'inference': {'num_overlap': 2}}))
    m = mc.load_msst_model(path)
    assert m.stems == ['vocals', 'other'] and m.chunk_size == 44100
    with torch.no_grad(): out = m(0.1 * torch.randn(1, 2, 5000))
    assert list(out) == ['vocals', 'other'] and out['other'].shape == (1, 2, 5000)
