"""Datasets as LightningDataModules: in-memory uint8 images, or image files streamed from disk."""
from eexit.data.base import ImageDataModule
from eexit.data.cinic10 import CINIC10DataModule
from eexit.data.digits import DigitsDataModule
from eexit.data.distorted_digits import DistortedDigitsDataModule
from eexit.data.folders import ImageFolderDataModule, ImageNetDataModule, TinyImageNetDataModule
from eexit.data.image_files import FileImageDataModule
from eexit.data.synthetic import SyntheticDataModule
from eexit.data.torchvision_sets import (CIFAR10DataModule, CIFAR100DataModule, MNISTDataModule, SVHNDataModule,
                                         TorchvisionDataModule)

__all__ = ["ImageDataModule", "CIFAR10DataModule", "CIFAR100DataModule", "CINIC10DataModule", "DigitsDataModule",
           "DistortedDigitsDataModule",
           "FileImageDataModule", "ImageFolderDataModule", "ImageNetDataModule", "MNISTDataModule", "SVHNDataModule",
           "SyntheticDataModule", "TinyImageNetDataModule", "TorchvisionDataModule"]
