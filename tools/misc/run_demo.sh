#!/usr/bin/env bash
# `make demo`: generate the synthetic DeepLesion, train the small MP3D detector,
# evaluate it on held-out synthetic patients and print the FROC table.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
DATA=${DEMO_DATA:-data/synthetic_deeplesion}
WORK=${DEMO_WORK_DIR:-work_dirs/demo}
CONFIG=configs/deeplesion/faster-rcnn_mp3d18ba-gtm_fpn_1xb4-24e_synthetic-deeplesion-9slice.py
SEED=${DEMO_SEED:-0}
start=$(date +%s)

echo "[demo] 1/5 synthetic DeepLesion (preset demo, seed $SEED) -> $DATA"
# --subvolumes: also the 3D benchmark of the val/test series ($DATA/deeplesion3d, a few seconds)
"$PY" tools/misc/make_synthetic_deeplesion.py --out-dir "$DATA" --preset demo --seed "$SEED" --subvolumes
echo "[demo] 2/5 DL_info.csv -> COCO-style annotations"
"$PY" tools/dataset_converters/deeplesion.py --csv "$DATA/DL_info.csv" --out-dir "$DATA/annotations"

echo "[demo] 3/5 training $CONFIG"
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" \
    --cfg-options "train_dataloader.dataset.data_root=$DATA/" \
    "val_dataloader.dataset.data_root=$DATA/" "test_dataloader.dataset.data_root=$DATA/"

best=$(ls -t "$WORK"/best_deeplesion_mean_sens_epoch_*.pth | head -n 1)
echo "[demo] 4/5 testing $best on the held-out synthetic test patients"
"$PY" tools/test.py "$CONFIG" "$best" --work-dir "$WORK/test" \
    --dump-detections "$WORK/test/detections.json" \
    --cfg-options "test_dataloader.dataset.data_root=$DATA/"
"$PY" tools/analysis_tools/print_froc.py "$WORK/test/froc.json"
echo "[demo] FROC curve: $WORK/test/froc_curve.png; table: $WORK/test/froc.csv"

echo "[demo] 5/5 DeepLesion 3D protocol: whole-volume inference on the fully annotated test sub-volumes"
t3d=$(date +%s)
"$PY" tools/test_3d.py "$CONFIG" "$best" --subvolumes "$DATA/deeplesion3d/subvolumes" \
    --annotations "$DATA/deeplesion3d/annotations.pkl" --split test \
    --key-slices "$DATA/DL_info.csv" --lesion-types "$DATA/deeplesion3d/lesion_types.json" \
    --out-dir "$WORK/test3d" --no-progress
echo "[demo] 3D benchmark in $(( $(date +%s) - t3d )) s; table: $WORK/test3d"
echo "[demo] finished in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
