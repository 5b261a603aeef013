from . import test_non_marketing
