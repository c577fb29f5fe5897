"A model defined outside the package joins through `register_model` and runs through the engine and the CLI."
import shutil, subprocess, sys
from dataclasses import dataclass, field
import pytest, torch
from torch import nn
from mss.config import SeparatorConfig, ConfigError
from mss.models import register_model, model_meta, load_config, MODELS
from mss.inference import InferenceEngine


@dataclass
class TwoBandConfig(SeparatorConfig):
    "An outside model's config: a gain per stem."
    gains: list = field(default_factory=lambda: [0.75, 0.25])


class TwoBand(nn.Module):
    "Two stems: fixed fractions of the mixture."
    def __init__(self, cfg: TwoBandConfig):
        super().__init__()
        self.config, self.stems, self.sample_rate = cfg, list(cfg.stems), cfg.sample_rate
        self.audio_channels, self.chunk_size = cfg.audio_channels, cfg.chunk_size
        self.gains = nn.Parameter(torch.tensor(cfg.gains))
    def forward(self, x): return {s: g * x for s, g in zip(self.stems, self.gains)}


@pytest.fixture
def registered():
    register_model('test_two_band', TwoBand, TwoBandConfig, replace=True)
    yield
    MODELS.pop('test_two_band', None)


def test_outside_model_runs_through_the_engine(registered, tmp_path):
    cfg = tmp_path / 'two_band.yaml'
    cfg.write_text("model_type: test_two_band\nmodel: {stems: [low, high], chunk_size: 22050, gains: [0.6, 0.4]}\n"
                   "inference: {batch_size: 2, derived_stems: [{operation: sum, name: both, stem_names: [low, high]}]}\n")
    model = load_config(cfg).build()
    assert isinstance(model, TwoBand) and model.stems == ['low', 'high']
    torch.save({'state_dict': {'gains': torch.tensor([0.5, 0.5])}}, tmp_path / 'w.ckpt')
    engine = InferenceEngine.from_pretrained(cfg, tmp_path / 'w.ckpt', device='cpu')
    song = torch.randn(2, 50_000) * 0.1
    out = engine.run(song).outputs
    assert list(out) == ['low', 'high', 'both']
    torch.testing.assert_close(out['low'], 0.5 * song, atol=1e-6, rtol=0)  # the checkpoint's gains, not the config's
    torch.testing.assert_close(out['both'], song, atol=1e-6, rtol=0)


def test_registering_twice_and_bad_references(registered):
    with pytest.raises(ConfigError, match="'test_two_band' is already registered"):
        register_model('test_two_band', TwoBand, TwoBandConfig)
    with pytest.raises(ConfigError, match="model must be 'package.module:Name'"):
        register_model('test_bad', 'mymodule.Model', TwoBandConfig)
    with pytest.raises(ConfigError, match="unknown key\\(s\\) 'gain'"):
        model_meta('test_two_band').build({'gain': [1.0]})


def test_outside_model_by_module_path(tmp_path):
    "A 'package.module:Class' reference is imported only when the type is used, in a fresh interpreter too."
    (tmp_path / 'my_separators.py').write_text(
        "from dataclasses import dataclass\nimport torch\nfrom mss.config import SeparatorConfig\n"
        "@dataclass\nclass HalfConfig(SeparatorConfig): pass\n"
        "class Half(torch.nn.Module):\n"
        "    def __init__(self, cfg):\n"
        "        super().__init__(); self.stems, self.sample_rate = list(cfg.stems), cfg.sample_rate\n"
        "        self.audio_channels, self.chunk_size = cfg.audio_channels, cfg.chunk_size\n"
        "    def forward(self, x): return {s: x / len(self.stems) for s in self.stems}\n")
    code = ("import sys, torch\nfrom mss.models import register_model\nfrom mss.inference import InferenceEngine\n"
            "from mss.models import model_meta\n"
            "register_model('half', 'my_separators:Half', 'my_separators:HalfConfig')\n"
            "print('my_separators' in sys.modules)\n"
            "m = model_meta('half').build({'chunk_size': 1000})\n"
            "out = InferenceEngine(m, device='cpu').run(torch.ones(2, 2500)).outputs\n"
            "print(sorted(out), float(out['vocals'].mean()))\n")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={**__import__('os').environ, 'PYTHONPATH': str(tmp_path)})
    assert r.returncode == 0, r.stderr
    lazy, stems = r.stdout.splitlines()
    assert lazy == 'False' and stems == "['bass', 'drums', 'other', 'vocals'] 0.25"
