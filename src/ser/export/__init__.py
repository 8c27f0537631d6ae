"""Trained models into model folders: the ONNX graph of the default recipe (`ser.export.onnx`) and
its int8 copy (`ser.export.quantize`).

This layer sits above training (it is what ``ser train-default`` ends with) and below nothing of
inference: a folder it writes is read back through `ser.model_folder` only, so the format has
one owner. torch and onnx are imported inside the functions that need them.
"""
