"""Detection of the optional ``features`` extra (sentence-transformers,
transformers, Pillow) with one clear message when it is missing."""
import importlib
import os
from types import ModuleType

#: The command that installs the extra; repeated in every error message.
INSTALL_HINT = ("pip install 'lirdrec-pyg[features]'  (in a development "
                "checkout: pip install -c constraints.txt -e '.[features]')")


class MissingExtraError(ImportError):
    r"""Raised when a feature-pipeline step needs a package of the
    :obj:`features` extra that is not installed."""


def require(module: str, purpose: str) -> ModuleType:
    r"""Imports :obj:`module`, or raises :class:`MissingExtraError` naming
    what it is needed for and how to install it.

    Args:
        module (str): The importable name, *e.g.*, :obj:`"transformers"`.
        purpose (str): What the caller wants to do, used in the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{purpose} needs the Python package '{module}', which is not "
            f"installed ({e}). It belongs to the 'features' extra: "
            f"{INSTALL_HINT}") from e


def set_offline() -> None:
    r"""Makes the Hugging Face libraries work offline.

    The pipeline only loads models from local folders, so nothing should try
    the network. The variables are read when :obj:`huggingface_hub` is first
    imported, which is why they are set before any model import and left set
    for the rest of the process.
    """
    os.environ['HF_HUB_OFFLINE'] = '1'
    os.environ['TRANSFORMERS_OFFLINE'] = '1'
