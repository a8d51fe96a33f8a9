"""Invalid hyperparameter values, by kind of rule: ``[(bad value, exception type)]``.

Each list is what a rule of ``optimlab.optim.hyperparams`` of that kind must reject: wrong types raise
``TypeError``; negative, NaN, ±inf and out-of-range values raise ``ValueError``. The table in
``optimlab.testing.table`` assigns one list to every hyperparameter of every optimizer.
"""

from __future__ import annotations

import math

NAN, INF = math.nan, math.inf

NUMERIC = [(-1.0, ValueError), (NAN, ValueError), (INF, ValueError), (-INF, ValueError), ("0.1", TypeError),
           (None, TypeError), (True, TypeError)]
UNIT = NUMERIC + [(1.5, ValueError)]
OPEN_UNIT = NUMERIC + [(0.0, ValueError), (1.0, ValueError)]
OPTIONAL_NUMERIC = [(value, exc) for value, exc in NUMERIC if value is not None]
NONPOSITIVE = NUMERIC + [(0.0, ValueError)]
AT_LEAST_ONE = NUMERIC + [(0.5, ValueError)]
BOOL = [("yes", TypeError), (1, TypeError), (None, TypeError)]
COUNT = [(-1, ValueError), (2.5, TypeError), (None, TypeError), (True, TypeError)]
POSITIVE_COUNT = COUNT + [(0, ValueError)]
BETAS = [((0.9,), TypeError), (0.9, TypeError), ((1.0, 0.999), ValueError), ((0.9, 1.0), ValueError),
         ((-0.1, 0.999), ValueError), ((NAN, 0.999), ValueError), ((0.9, INF), ValueError), (("a", 0.9), TypeError)]
ETAS = [((0.5,), TypeError), (0.5, TypeError), ((1.0, 1.2), ValueError), ((0.5, 1.0), ValueError),
        ((0.0, 1.2), ValueError), ((NAN, 1.2), ValueError), ((0.5, INF), ValueError), (("a", 1.2), TypeError)]
STEP_SIZES = [((1e-6,), TypeError), ((-1.0, 50), ValueError), ((1.0, 0.5), ValueError), ((0.0, INF), ValueError),
              ((NAN, 1.0), ValueError), ((0.0, "1"), TypeError)]
ADAFACTOR_EPS = [((None,), TypeError), (1e-3, TypeError), ((-1.0, 1e-3), ValueError), ((None, -1.0), ValueError),
                 ((NAN, 1e-3), ValueError), ((None, INF), ValueError), ((None, "1e-3"), TypeError)]
NON_POSITIVE_REAL = [(0.5, ValueError), (NAN, ValueError), (-INF, ValueError), ("-0.8", TypeError), (None, TypeError)]
COEFFICIENTS = [((3.4, -4.7), TypeError), (3.4, TypeError), ((3.4, NAN, 2.0), ValueError),
                ((INF, -4.7, 2.0), ValueError), ((3.4, "b", 2.0), TypeError)]
NS_STEPS = COUNT + [(100, ValueError)]


def choice(*bad_values) -> list:
    """Values outside a fixed set of options (``ValueError``)."""
    return [(value, ValueError) for value in bad_values]
