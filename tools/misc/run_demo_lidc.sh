#!/usr/bin/env bash
# `make demo-lidc`: generate synthetic LIDC nodule crops, train the small
# ResNet3D-18 malignancy classifier from scratch and, when PRETRAINED=CKPT is
# given (e.g. the Fashion-MNIST VDT checkpoint of docs/user_guides/vdt_pretraining.md), from that
# checkpoint too; test each on the held-out patients of the patient-disjoint
# split and print AUC (and the statistics at the threshold chosen on val).
#
#   PRETRAINED=work_dirs/vdt_fm_c16/epoch_3.pth bash tools/misc/run_demo_lidc.sh
#
# Variables: PY, DEMO_DATA (data/synthetic_lidc), DEMO_WORK_DIR
# (work_dirs/demo_lidc), DEMO_SEED (0: data and training seed), PRETRAINED.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
DATA=${DEMO_DATA:-data/synthetic_lidc}
WORK=${DEMO_WORK_DIR:-work_dirs/demo_lidc}
SEED=${DEMO_SEED:-0}
PRETRAINED=${PRETRAINED:-}
CONFIG=configs/classification/lidc/resnet3d18-c16_1xb16-12e_synthetic-lidc-malignancy.py
start=$(date +%s)

if [ -n "$PRETRAINED" ] && [ ! -f "$PRETRAINED" ]; then
    echo "[demo-lidc] error: PRETRAINED checkpoint not found: $PRETRAINED" >&2
    exit 1
fi
echo "[demo-lidc] 1/3 synthetic LIDC crops (preset demo, seed $SEED) -> $DATA"
"$PY" tools/misc/make_synthetic_lidc.py --out-dir "$DATA" --preset demo --seed "$SEED"

ROOTS=("train_dataloader.dataset.data_root=$DATA/"
       "val_dataloader.dataset.data_root=$DATA/"
       "test_dataloader.dataset.data_root=$DATA/"
       "randomness.seed=$SEED")
run() {  # run NAME [cfg-options ...]: train, then test the best-val checkpoint
    local name=$1; shift
    local work="$WORK/$name"
    rm -rf "$work"
    "$PY" tools/train.py "$CONFIG" --work-dir "$work" \
        --cfg-options "${ROOTS[@]}" "$@"
    local best
    best=$(ls -t "$work"/best_cls_auc_epoch_*.pth | head -n 1)
    echo "[demo-lidc] testing $best (threshold chosen on the val patients)"
    "$PY" tools/test.py "$CONFIG" "$best" --work-dir "$work/test" \
        --cfg-options "${ROOTS[@]}" "test_evaluator.out_dir=$work/test" "$@"
}

echo "[demo-lidc] 2/3 classifier from scratch"
run scratch
runs=(scratch)
if [ -n "$PRETRAINED" ]; then
    echo "[demo-lidc] 3/3 classifier from the VDT checkpoint $PRETRAINED"
    run vdt "model.backbone.init_cfg._delete_=True" \
        "model.backbone.init_cfg.type=cspr_det.PretrainedBackbone" \
        "model.backbone.init_cfg.checkpoint=$PRETRAINED" \
        "model.backbone.init_cfg.prefix=backbone."
    runs+=(vdt)
else
    echo "[demo-lidc] 3/3 skipped (give PRETRAINED=CKPT for a VDT start)"
fi

"$PY" - "$WORK" "${runs[@]}" <<'PYEOF'
import json
import sys

work, runs = sys.argv[1], sys.argv[2:]
print('\nSynthetic LIDC, patient-disjoint split (seed 0), test patients; '
      'threshold chosen on val (Youden)')
print(f'{"start":<10}{"AUC":>7}{"acc":>7}{"sens":>7}{"spec":>7}{"F1":>7}'
      f'{"thr":>7}  test nodules (malignant)')
for run in runs:
    with open(f'{work}/{run}/test/cls_metrics.json') as f:
        m = json.load(f)['metrics']
    n = m['num_pos'] + m['num_neg']
    print(f'{run:<10}{m["auc"]:>7.3f}{m["accuracy"]:>7.3f}'
          f'{m["sensitivity"]:>7.3f}{m["specificity"]:>7.3f}{m["f1"]:>7.3f}'
          f'{m["threshold"]:>7.3f}  {n} ({m["num_pos"]})')
print(f'ROC curves and per-nodule probabilities: {work}/<start>/test/')
PYEOF
echo "[demo-lidc] finished in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
