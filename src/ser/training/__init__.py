"""Training: configs, the one trainer every PyTorch model uses, checkpoints."""
