"""The core layer: options, data and training state, over the engines and the maths.

``settings`` (every option), ``methods`` (the training methods by name), ``data`` (data of
any size), ``problem`` (the data made ready), ``linear_map`` (the network as one map),
``threads`` (BLAS threads), ``trainer`` (``Trainer``), ``runner`` (``train``) and ``io``
(models and checkpoints).
"""

__all__: list[str] = []
