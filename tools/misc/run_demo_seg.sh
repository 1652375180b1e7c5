#!/usr/bin/env bash
# `make demo-seg`: generate a synthetic LiTS (NIfTI, several orientations),
# convert it, train a small 3D U-Net for the liver, test it on the held-out
# synthetic cases (Dice table, predictions as NIfTI in the source geometry)
# and draw an overlay of one test case.
#   PRETRAINED=work_dirs/vdt_fm_c16/epoch_3.pth   initialise the encoder from
#       the Fashion-MNIST VDT pre-training of docs/user_guides/vdt_pretraining.md (scratch otherwise)
#   DEMO_SEG_DATA, DEMO_SEG_WORK_DIR, DEMO_SEG_SEED   data, outputs, seed
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
DATA=${DEMO_SEG_DATA:-data/synthetic_lits}
WORK=${DEMO_SEG_WORK_DIR:-work_dirs/demo_seg}
SEED=${DEMO_SEG_SEED:-0}
PRETRAINED=${PRETRAINED:-}
CONFIG=configs/segmentation/lits/unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py
start=$(date +%s)

echo "[demo-seg] 1/5 synthetic LiTS (preset demo, seed $SEED) -> $DATA/raw"
"$PY" tools/misc/make_synthetic_seg.py --dataset lits --out-dir "$DATA/raw" \
    --preset demo --seed "$SEED"
echo "[demo-seg] 2/5 NIfTI -> canonical arrays at 4 mm slices ($DATA/converted)"
"$PY" tools/dataset_converters/lits.py "$DATA/raw" "$DATA/converted" \
    --spacing 4 none none --split-file "$DATA/raw/split.json"

opts=("train_dataloader.dataset.data_root=$DATA/converted/"
      "val_dataloader.dataset.data_root=$DATA/converted/"
      "test_dataloader.dataset.data_root=$DATA/converted/")
if [ -n "$PRETRAINED" ]; then
    CONFIG=configs/segmentation/lits/unet3d_resnet3d18-c16-vdt_1xb2-800i_synthetic-lits-liver.py
    opts+=("model.backbone.init_cfg.checkpoint=$PRETRAINED")
    echo "[demo-seg] encoder from the VDT checkpoint $PRETRAINED"
fi
echo "[demo-seg] 3/5 training $CONFIG"
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --cfg-options "${opts[@]}"

best=$(ls -t "$WORK"/best_seg_mDice_iter_*.pth | head -n 1)
echo "[demo-seg] 4/5 testing $best on the held-out synthetic test cases"
"$PY" tools/test.py "$CONFIG" "$best" --work-dir "$WORK/test" \
    --cfg-options "${opts[@]}" "test_evaluator.out_dir=$WORK/test"
echo "[demo-seg] 5/5 per-case table and overlay"
"$PY" tools/misc/seg_overlay.py --index "$DATA/converted/index.json" \
    --pred-dir "$WORK/test/predictions" --metrics "$WORK/test/seg_metrics.json" \
    --out "$WORK/test/overlay.png"
echo "[demo-seg] predictions (NIfTI, source geometry): $WORK/test/predictions;" \
    "metrics: $WORK/test/seg_metrics.json, seg_per_case.csv"
echo "[demo-seg] finished in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
