# LiTS liver + tumour (3 classes: background, liver, tumour); otherwise as
# the liver task.
_base_ = './lits_liver.py'

task = 'liver_tumour'
train_dataloader = dict(dataset=dict(task=task))
val_dataloader = dict(dataset=dict(task=task))
test_dataloader = dict(dataset=dict(task=task))
