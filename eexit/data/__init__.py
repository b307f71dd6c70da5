"""Datasets as LightningDataModules over in-memory uint8 images."""
from eexit.data.base import ImageDataModule
from eexit.data.cifar10 import CIFAR10DataModule
from eexit.data.cinic10 import CINIC10DataModule
from eexit.data.digits import DigitsDataModule
from eexit.data.svhn import SVHNDataModule
from eexit.data.synthetic import SyntheticDataModule

__all__ = ["ImageDataModule", "CIFAR10DataModule", "CINIC10DataModule", "DigitsDataModule",
           "SVHNDataModule", "SyntheticDataModule"]
