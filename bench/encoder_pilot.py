"""Pilot check used while the style encoder was retrained (issue 14; bench/RESULTS.md §12 "What changed"): the +6 dB
sensitivity ratio of a few controls on 5 held-out generated songs × 5 s, for the first shipped encoder, a training run's
last.pt and (with an extra argument) MF-56. The §12 pilot numbers came from this script on the last.pt of runs that
were abandoned and not kept (each row of "What changed" names the step).

    python bench/encoder_pilot.py RUN/last.pt [features]
"""
import sys, torch
sys.path.insert(0, 'bench')
from encoder_sensitivity import titles, tracks, load
from mss.encoder import MixingStyleEncoder, control_sensitivity
torch.set_num_threads(1)
names = titles('bench/encoder_heldout_titles.txt', 1)
songs = [load(d, 10., 5.) for d in tracks('/work/data/gen200/train', names, 1)][:5]
st = torch.load(sys.argv[1], weights_only=False)
new = MixingStyleEncoder(**st['config']); new.load_state_dict(st['model']); new.eval()
print('step', st['step'])
ctr = [0, 1, 2, 3, 4, 8, 12, 16, 20, 24]
for nm, sp in [('first', MixingStyleEncoder.from_pretrained()), ('run', new)] + ([('features', 'features')] if len(sys.argv) > 2 else []):
    r = control_sensitivity(sp, songs, controls=ctr, curve_db=(3., 6., 12.))
    print(nm, ' '.join(f"{n}:{x:.3f}" for n, x in zip(r['controls'], r['ratio'])), 'cross', round(r['cross_median'], 4), 'mono', r['monotone_fraction'])
