#!/usr/bin/env bash
# End-to-end mixing style transfer: re-mix INPUT in the mixing style of TARGET (see nbs/43_style.ipynb).
#   ./run_e2e_inference.sh MODE INPUT TARGET OUTPUT_DIR [NUM_STEPS] [LR] [-- more mss-style-transfer options]
# MODE is "embeddings" or "features". NUM_STEPS defaults to 500 and LR to 0.001. Options after "--" (e.g. --overwrite,
# --device cpu, --seed 1) are passed on. Runs `mss-style-transfer`, or `python -m mss.style` when the command is not on PATH.
set -euo pipefail
usage() { echo "usage: $0 MODE INPUT TARGET OUTPUT_DIR [NUM_STEPS] [LR] [-- OPTIONS]  (MODE: embeddings or features)" >&2; exit 2; }
pos=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do pos+=("$1"); shift; done
[ $# -gt 0 ] && shift  # drop the "--"
{ [ ${#pos[@]} -ge 4 ] && [ ${#pos[@]} -le 6 ]; } || usage
mode=${pos[0]}; input=${pos[1]}; target=${pos[2]}; out=${pos[3]}; steps=${pos[4]:-500}; lr=${pos[5]:-0.001}
case "$mode" in embeddings|features) ;; *) echo "$0: MODE must be embeddings or features, got '$mode'" >&2; exit 2;; esac
if command -v mss-style-transfer >/dev/null 2>&1; then cmd=(mss-style-transfer); else cmd=("${PYTHON:-python}" -m mss.style); fi
exec "${cmd[@]}" --optimize_target "$mode" --input_audio "$input" --target_audio "$target" --output_dir "$out" \
     --num_steps "$steps" --lr "$lr" "$@"
