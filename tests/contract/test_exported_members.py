from ingestspec import contract_tests
from ingestspec.contract_tests import cli, target


def test_the_public_surface_is_what_all_lists() -> None:
    assert contract_tests.Target is target.Target
    assert contract_tests.load_target is target.load_target
    assert contract_tests.run_suite is cli.run_suite
    for name in contract_tests.__all__:
        assert getattr(contract_tests, name) is not None
