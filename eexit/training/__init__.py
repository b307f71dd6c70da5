"""Training, the Lightning way: one LightningModule, loss objects, the boosted-training callback."""
from eexit.training.boosted import BoostedTraining
from eexit.training.callbacks import ChannelsLast, Compile
from eexit.training.losses import CostAwareLoss, ExitCrossEntropy, LossInputs
from eexit.training.module import EarlyExitModule, set_trainable

__all__ = ["BoostedTraining", "ChannelsLast", "Compile", "CostAwareLoss", "EarlyExitModule", "ExitCrossEntropy",
           "LossInputs", "set_trainable"]
