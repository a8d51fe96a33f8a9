"""optimlab: neural-network optimizers from first principles on NumPy and CuPy, verified step by
step against PyTorch."""

from optimlab.backend import get_array_module, get_backend, set_backend
from optimlab.parameter import Parameter

__version__ = "0.1.0"
__all__ = ["Parameter", "get_array_module", "get_backend", "set_backend", "__version__"]
