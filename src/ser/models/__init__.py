"""Models: scikit-learn baselines, PyTorch networks over feature sequences, pretrained encoders."""
