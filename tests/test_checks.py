import pytest

from lirdrec_pyg.checks import (check_fraction, check_non_negative,
                                check_one_of, check_positive)
from lirdrec_pyg.models import base


def test_check_positive_and_non_negative():
    check_positive('k', 1)
    check_positive('lr', 1e-9)
    with pytest.raises(ValueError, match=r"^'k' must be positive \(got 0\)$"):
        check_positive('k', 0)
    check_non_negative('w', 0)
    with pytest.raises(ValueError, match=r"^'w' must be >= 0 \(got -0.5\)$"):
        check_non_negative('w', -0.5)


def test_check_fraction():
    check_fraction('p', 0.0)
    check_fraction('p', 0.999)
    with pytest.raises(ValueError, match=r"^'p' must lie in \[0, 1\) "
                       r"\(got 1.0\)$"):
        check_fraction('p', 1.0)
    with pytest.raises(ValueError, match="'p'"):
        check_fraction('p', -0.1)


def test_check_one_of():
    check_one_of('mode', 'sum', ('mean', 'sum'))
    with pytest.raises(ValueError, match=r"^'mode' must be one of "
                       r"\('mean', 'sum'\) \(got 'max'\)$"):
        check_one_of('mode', 'max', ('mean', 'sum'))


def test_models_base_re_exports_the_checks():
    assert base.check_positive is check_positive
    assert base.check_fraction is check_fraction
    assert base.check_non_negative is check_non_negative
    assert base.check_one_of is check_one_of
