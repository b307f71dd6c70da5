"""Training, the Lightning way: one LightningModule, loss objects, the boosted-training callback."""
from eexit.training.boosted import BoostedTraining
from eexit.training.callbacks import ChannelsLast, Compile
from eexit.training.losses import CostAwareLoss, ExitCrossEntropy, LossInputs, SDNLoss
from eexit.training.module import EarlyExitModule, set_trainable
from eexit.training.predict import predict_exits
from eexit.training.quiet import quiet_lightning
from eexit.training.shard_audit import ShardAudit

__all__ = ["BoostedTraining", "ChannelsLast", "Compile", "CostAwareLoss", "EarlyExitModule", "ExitCrossEntropy", "ShardAudit",
           "LossInputs", "SDNLoss", "predict_exits", "quiet_lightning", "set_trainable"]
