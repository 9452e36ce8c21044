import torch
from lightning import LightningModule


class LanguageModel(LightningModule):
    """Lightning's demo Transformer as a language model: its net and optimizer are injected by the template."""

    def __init__(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        super().__init__()
        self.net, self.optimizer = net, optimizer

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        inputs, target = batch
        loss = torch.nn.functional.nll_loss(self.net(inputs, target), target.reshape(-1))
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self.step(batch, "val")

    def test_step(self, batch, batch_idx):
        self.step(batch, "test")

    def configure_optimizers(self):
        return self.optimizer(params=self.parameters())
