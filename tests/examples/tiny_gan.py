"""A GAN as its own LightningModule: two optimizers, manual optimization, its own step and logging."""

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class TinyGan(pl.LightningModule):
    """Learns to generate feature vectors like the dataset's; logs its losses and how real the fakes look."""

    def __init__(self, num_features: int = 16, latent: int = 8, lr: float = 2e-3) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.latent, self.lr = latent, lr
        self.generator = nn.Sequential(nn.Linear(latent, 32), nn.ReLU(), nn.Linear(32, num_features))
        self.discriminator = nn.Sequential(nn.Linear(num_features, 32), nn.ReLU(), nn.Linear(32, 1))

    def fakes(self, count: int) -> torch.Tensor:
        return self.generator(torch.randn(count, self.latent, device=self.device))

    def training_step(self, batch, batch_idx):
        real, _ = batch
        generator_optimizer, discriminator_optimizer = self.optimizers()
        real_scores, fake_scores = self.discriminator(real), self.discriminator(self.fakes(len(real)).detach())
        discriminator_loss = (F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
                              + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores)))
        discriminator_optimizer.zero_grad()
        self.manual_backward(discriminator_loss)
        discriminator_optimizer.step()
        fake_scores = self.discriminator(self.fakes(len(real)))
        generator_loss = F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))
        generator_optimizer.zero_grad()
        self.manual_backward(generator_loss)
        generator_optimizer.step()
        self.log_dict({"train/generator_loss": generator_loss, "train/discriminator_loss": discriminator_loss})

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        real, _ = batch
        real_scores, fake_scores = self.discriminator(real), self.discriminator(self.fakes(len(real)))
        self.log("val/real_score", torch.sigmoid(real_scores).mean(), sync_dist=True)
        self.log("val/fake_score", torch.sigmoid(fake_scores).mean(), sync_dist=True)

    def test_step(self, batch, batch_idx, dataloader_idx=0):
        fake_scores = self.discriminator(self.fakes(len(batch[0])))
        self.log("test/fake_score", torch.sigmoid(fake_scores).mean(), sync_dist=True)

    def configure_optimizers(self):
        return (torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=(0.5, 0.999)),
                torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.999)))
