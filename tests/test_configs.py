"The shipped model configs (mss/assets/configs): each loads as an MSST-style file, builds its model, and runs through `InferenceEngine.from_pretrained`."
from pathlib import Path
import pytest, torch
from mss.config import load_msst_config
from mss.inference import InferenceEngine
from mss.losses import loss_from_config
from mss.models import load_config, count_params

CONFIGS = Path(__file__).resolve().parents[1] / 'mss' / 'assets' / 'configs'
SHIPPED = {  # file: (model type, parameters)
    'scnet_small.yaml': ('scnet', 10_578_768),
    'scnet_masked_xl_ihf.yaml': ('scnet_masked', 53_485_316),
    'bandit.yaml': ('bandit', 64_252_336),
    'tfswa_unet.yaml': ('tfswa_unet', 15_775_344),
}

def test_every_model_config_is_listed():
    from mss.config import load_yaml
    model_files = {p.name for p in CONFIGS.glob('*.yaml') if 'audio' in load_yaml(p)}  # MSST-style; the others are SaShiMi experiment and data configs
    assert model_files == set(SHIPPED), model_files

@pytest.mark.parametrize('name', sorted(SHIPPED))
def test_shipped_config_builds(name):
    path = CONFIGS / name
    kind, n = SHIPPED[name]
    cfg = load_config(path)  # MSST-style: the type comes from the file's model_type
    assert cfg.model_type == kind
    with torch.device('meta'): model = cfg.build()
    assert count_params(model) == n
    assert list(model.stems) == load_msst_config(path).training.instruments and len(model.stems) == 4
    assert cfg.inference.fs == 44100 and cfg.inference.chunk_size_seconds * 44100 == load_msst_config(path).audio.chunk_size
    m = load_msst_config(path)
    loss_from_config(m.training, m.model, m.extra.get('loss_multistft'))  # the training section names known losses
    engine = InferenceEngine.from_pretrained(path, device='cpu')  # random weights, full size
    assert type(engine.model).__name__ == type(model).__name__ and count_params(engine.model) == n

def test_tfswa_config_is_the_design():
    c = load_config(CONFIGS / 'tfswa_unet.yaml').model
    assert (c.channels, c.depths, c.window, c.shift, c.num_heads) == ([32, 64, 128, 256], [2, 2, 6, 2], 8, 4, 8)
    t = load_msst_config(CONFIGS / 'tfswa_unet.yaml')
    assert (t.training.extra['optimizer'], t.training.extra['lr'], t.extra['optimizer']['weight_decay']) == ('adamw', 1e-3, 1e-4)
    assert (t.training.extra['num_warmup_steps'], t.training.extra['grad_clip'], t.training.extra['loss']) == (1000, 1.0, ['mag_l1', 'mrstft'])

def test_checkpoints_load_by_the_named_type(tmp_path):
    "A TFSWA checkpoint loads through the shipped config (no key-based detection needed), and outputs round-trip."
    torch.manual_seed(0)
    model = load_config(CONFIGS / 'tfswa_unet.yaml').build()
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'tfswa.ckpt')
    e = InferenceEngine.from_pretrained(CONFIGS / 'tfswa_unet.yaml', tmp_path / 'tfswa.ckpt', device='cpu')
    assert all(torch.equal(a, b) for a, b in zip(e.model.state_dict().values(), model.state_dict().values()))

def test_scnet_small_separates():
    "A tiny forward where it is cheap: SCNet small, random weights, 0.5 s through the engine (1-s chunks)."
    torch.manual_seed(0)
    e = InferenceEngine.from_pretrained(CONFIGS / 'scnet_small.yaml', device='cpu', chunk_size_seconds=1.0, hop_size_seconds=0.5)
    out = e.run(0.1 * torch.randn(2, 22050))
    assert list(out.outputs) == ['drums', 'bass', 'other', 'vocals'] and out.outputs['vocals'].shape == (2, 22050)
    assert all(torch.isfinite(v).all() for v in out.outputs.values())

@pytest.mark.parametrize('name', sorted(SHIPPED))
def test_shipped_config_trains(name):
    "`SeparationTask.from_config` (what `mss-train` runs) accepts every shipped config; the TFSWA recipe is the design's."
    from mss.train import SeparationTask
    task = SeparationTask.from_config(CONFIGS / name)
    assert task.model_type == SHIPPED[name][0] and count_params(task.model) == SHIPPED[name][1]
    s = task.settings
    if name == 'tfswa_unet.yaml':
        assert (s.optimizer, s.lr, s.optimizer_options, s.warmup_steps, s.grad_clip) == ('adamw', 1e-3, {'weight_decay': 1e-4}, 1000, 1.0)
        assert task.ignored == []
