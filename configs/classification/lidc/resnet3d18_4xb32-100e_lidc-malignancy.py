# LIDC nodule malignancy (benign 1-2 vs malignant 4-5) with a ResNet3D-18
# trained from scratch on the seeded patient-disjoint split. Test metrics: AUC
# and, at the threshold chosen on the val nodules (Youden), accuracy,
# sensitivity, specificity and F1 on the test nodules. Add
# --cfg-options test_evaluator.out_dir=DIR for the ROC curve and the
# per-nodule probabilities.
_base_ = [
    '../../_base_/models/lidc_resnet3d18_cls.py',
    '../../_base_/datasets/lidc_nodule_cls.py',
    '../../_base_/schedules/adam-step_100e_amp.py',
    '../../_base_/runtimes/classification.py'
]
