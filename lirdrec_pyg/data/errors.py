"""Exceptions raised by the data layer."""


class DataFormatError(ValueError):
    r"""Raised when a dataset file does not follow the expected layout.

    The message names the file, the line or row where applicable, and what
    was expected instead.
    """


class DatasetNotFoundError(FileNotFoundError):
    r"""Raised when a registered dataset is not present under the data root.

    The message says what the dataset is, where it comes from, and that the
    environment variable :obj:`LIRDREC_DATA` points to the folder holding it.
    """
