#!/usr/bin/env bash
# The transfer study of docs/studies.md: which factor of the transfer path
# moves the fine-tuned result, a positive control with a relevant CT source,
# and a stronger natural-image prior. Every cell is one run of
# tools/analysis_tools/data_efficiency.py (same fraction, patients and
# seeds; the best-validation checkpoint scored on the test split) in its own
# work dir; `collect` gathers them into one table.
#
#   bash tools/misc/run_transfer_study.sh STEP [CELL ...]
#
# STEP:
#   lits CELL...   LiTS liver cells: base (prior + scratch), no_stem,
#                  bn_reset, enc_lr, warmup, norm, control, prior2,
#                  prior_seedK (the prior pre-trained with seed K)
#   lidc CELL...   LIDC malignancy cells: base, control, prior2
#   control-data   CT source for the positive control: a synthetic BTCV
#                  (other patients, other task: 13 organs) cut into 3-slice
#                  patches labelled with the organ under their centre
#   control-pretrain   VDT pre-training on those patches
#   prior-pretrain K...  the PRIOR recipe (Fashion-MNIST 10k, 3 epochs)
#                  again with training seed K (randomness.seed)
#   collect        one markdown table per task of every finished cell, with
#                  the validation curve (mean over seeds)
#
# Environment (defaults: the synthetic demo data on CPU):
#   LITS_CONFIG, LIDC_CONFIG   fine-tuning configs
#   LITS_OPTIONS               overrides of every LiTS run (default: the
#                              300-iteration schedule of the study)
#   PRIOR      natural-image VDT checkpoint (Fashion-MNIST 10k, 3 epochs)
#   PRIOR2     the stronger one (Fashion-MNIST 60k)
#   CONTROL    the CT-source checkpoint of control-pretrain
#   NORM_MEAN, NORM_STD   the `norm` cell's statistics (default: the
#              windowed synthetic LiTS training volumes, 43.43 / 66.20 from
#              tools/analysis_tools/volume_intensity_stats.py)
#   FRACTION   fraction of training patients (0.1)
#   SEEDS      training seeds ("0 1 2")
#   WORK       output root (work_dirs/transfer_study)
#   JOBS       runs in parallel inside a cell (1)
#   EXTRA      further data_efficiency.py arguments, e.g.
#              "--launcher pytorch --gpus 8" on a GPU node
# Real data (docs/studies.md): LITS_CONFIG=configs/segmentation/lits/unet3d_resnet3d18_8xb2-3281i_lits-liver.py
# LITS_OPTIONS= PRIOR=<ImageNet VDT ResNet3D-18 checkpoint> and the same steps.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
LITS_CONFIG=${LITS_CONFIG:-configs/segmentation/lits/unet3d_resnet3d18-c16_1xb2-800i_synthetic-lits-liver.py}
LIDC_CONFIG=${LIDC_CONFIG:-configs/classification/lidc/resnet3d18-c16_1xb16-12e_synthetic-lidc-malignancy.py}
LITS_OPTIONS=${LITS_OPTIONS-train_cfg.max_iters=300 param_scheduler.1.end=300 train_cfg.val_interval=100 default_hooks.checkpoint.interval=100}
PRIOR=${PRIOR:-work_dirs/vdt_fm_c16/epoch_3.pth}
PRIOR2=${PRIOR2:-work_dirs/vdt_fm60k_c16/epoch_5.pth}
CONTROL=${CONTROL:-work_dirs/vdt_btcv_patches_c16/epoch_3.pth}
NORM_MEAN=${NORM_MEAN:-43.43}
NORM_STD=${NORM_STD:-66.20}
FRACTION=${FRACTION:-0.1}
SEEDS=${SEEDS:-0 1 2}
WORK=${WORK:-work_dirs/transfer_study}
JOBS=${JOBS:-1}
EXTRA=${EXTRA:-}
step=${1:-}
[ -n "$step" ] || { echo "usage: $0 lits|lidc CELL... | control-data | control-pretrain | prior-pretrain K... | collect" >&2; exit 2; }
shift

study() {  # study CONFIG WORK_DIR [data_efficiency.py arguments]
    local config=$1 out=$2
    shift 2
    # shellcheck disable=SC2086
    "$PY" tools/analysis_tools/data_efficiency.py "$config" \
        --fractions "$FRACTION" --seeds $SEEDS --jobs "$JOBS" \
        --work-dir "$out" --skip-finished $EXTRA "$@"
}

lits_cell() {
    local cell=$1 out="$WORK/lits/$1" opts=()
    read -r -a opts <<< "$LITS_OPTIONS"
    local metrics=(--report-metrics seg/mHD95 seg/mDice_case)
    case $cell in
        base) study "$LITS_CONFIG" "$out" --pretrained "$PRIOR" "${metrics[@]}" \
                  --cfg-options "${opts[@]}" ;;
        # the stem (7x7x7 conv + BN) stays random; the pre-training ran it at
        # stride (1, 2, 2) on 3-slice inputs, the U-Net at stride 1
        no_stem) study "$LITS_CONFIG" "$out" --pretrained "$PRIOR" --no-scratch \
                  --exclude '^conv1\.' '^norm1\.' "${metrics[@]}" --cfg-options "${opts[@]}" ;;
        bn_reset) study "$LITS_CONFIG" "$out" --pretrained "$PRIOR" --no-scratch \
                  --init-options bn_stats=reset "${metrics[@]}" --cfg-options "${opts[@]}" ;;
        enc_lr) study "$LITS_CONFIG" "$out" --pretrained "$PRIOR" --no-scratch "${metrics[@]}" \
                  --cfg-options "${opts[@]}" optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult=0.1 ;;
        warmup) study "$LITS_CONFIG" "$out" --pretrained "$PRIOR" --no-scratch "${metrics[@]}" \
                  --cfg-options "${opts[@]}" param_scheduler.0.end=100 param_scheduler.1.begin=100 ;;
        # the fine-tuning data's own statistics instead of the pre-training's
        # (114.495 / 57.63): NORM_MEAN / NORM_STD from
        # tools/analysis_tools/volume_intensity_stats.py on the training split
        norm) study "$LITS_CONFIG" "$out" --pretrained "$PRIOR" --no-scratch "${metrics[@]}" \
                  --cfg-options "${opts[@]}" model.data_preprocessor.mean="$NORM_MEAN" \
                  model.data_preprocessor.std="$NORM_STD" ;;
        control) study "$LITS_CONFIG" "$out" --pretrained "$CONTROL" --no-scratch \
                  "${metrics[@]}" --cfg-options "${opts[@]}" ;;
        prior2) study "$LITS_CONFIG" "$out" --pretrained "$PRIOR2" --no-scratch \
                  "${metrics[@]}" --cfg-options "${opts[@]}" ;;
        # the same recipe pre-trained again with another seed (prior-pretrain K)
        prior_seed[0-9]*) study "$LITS_CONFIG" "$out" --no-scratch "${metrics[@]}" \
                  --pretrained "$(dirname "$PRIOR")_seed${cell#prior_seed}/$(basename "$PRIOR")" \
                  --cfg-options "${opts[@]}" ;;
        *) echo "unknown LiTS cell: $cell" >&2; exit 2 ;;
    esac
}

lidc_cell() {
    local cell=$1 out="$WORK/lidc/$1"
    case $cell in
        base) study "$LIDC_CONFIG" "$out" --pretrained "$PRIOR" --budget iters ;;
        control) study "$LIDC_CONFIG" "$out" --pretrained "$CONTROL" --no-scratch --budget iters ;;
        prior2) study "$LIDC_CONFIG" "$out" --pretrained "$PRIOR2" --no-scratch --budget iters ;;
        *) echo "unknown LIDC cell: $cell" >&2; exit 2 ;;
    esac
}

case $step in
    lits) for c in "$@"; do lits_cell "$c"; done ;;
    lidc) for c in "$@"; do lidc_cell "$c"; done ;;
    control-data)
        "$PY" tools/misc/make_synthetic_seg.py --dataset btcv --preset demo \
            --seed 7 --out-dir data/synthetic_btcv_src/raw
        "$PY" tools/dataset_converters/btcv.py data/synthetic_btcv_src/raw \
            data/synthetic_btcv_src/converted --spacing 4 none none \
            --split-file data/synthetic_btcv_src/raw/split.json
        "$PY" tools/dataset_converters/ct_patches_to_folder.py \
            data/synthetic_btcv_src/converted data/btcv_patches \
            --per-class 40 --val-per-class 20 ;;
    prior-pretrain)  # K...: the PRIOR recipe again with training seed K
        for k in "$@"; do
            "$PY" tools/train.py \
                configs/pretrain/vdt_resnet3d18-c16_1xb64-cosine-3e_fashion-mnist.py \
                --work-dir "$(dirname "$PRIOR")_seed$k" --cfg-options randomness.seed="$k"
        done ;;
    control-pretrain)
        "$PY" tools/train.py \
            configs/pretrain/vdt_resnet3d18-c16_1xb64-cosine-3e_synthetic-btcv-patches.py \
            --work-dir "$(dirname "$CONTROL")" ;;
    collect)
        "$PY" tools/analysis_tools/collect_studies.py "$WORK/lits" --val-curve seg/mDice \
            --out "$WORK/transfer_study_lits.md"
        "$PY" tools/analysis_tools/collect_studies.py "$WORK/lidc" --val-curve cls/auc \
            --out "$WORK/transfer_study_lidc.md" ;;
    *) echo "unknown step: $step" >&2; exit 2 ;;
esac
