"""How much does the shipped separator leak into a stem that is absent? The numbers behind `mss.style`'s activity
rule (nb 43): three held-out songs, first 10 s, separated with and without their vocals.

    python bench/separator_leakage.py --songs sep_data/test
"""
import argparse
import torch
from mss.audio import load_audio
from mss.inference import InferenceEngine
from mss.features import loudness


def main(a):
    torch.set_num_threads(2)
    eng = InferenceEngine.from_pretrained()
    for song in a.names:
        st = {k: load_audio(f'{a.songs}/{song}/{k}.wav', 44100, 2, 0, 10)[0] for k in ('vocals', 'bass', 'drums', 'other')}
        for name, mix in (('full', sum(st.values())), ('instrumental', st['bass'] + st['drums'] + st['other'])):
            out = eng.run(mix).outputs
            lm = float(loudness(mix))
            print(f"{song} {name}: mix {lm:.1f} LUFS; separated stems relative to the mix (LU):",
                  {k: round(float(loudness(v)) - lm, 1) for k, v in out.items()})


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--songs', required=True)
    p.add_argument('--names', nargs='+', default=['OpenMSX - relax_song', 'OpenMSX - chuggachugga', 'PlanetBlupi - music006'])
    main(p.parse_args())
