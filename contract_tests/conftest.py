"""Makes `pytest contract_tests --spec ... --base-url ... --api-key ... --config ...` run the suite.

Installed, the suite runs as `pytest -p ingestspec.contract_tests.plugin --pyargs
ingestspec.contract_tests --spec ...`: `-p` registers the plugin before the options are parsed, and
this file then leaves it alone (registering its hooks twice would add every option twice).
"""

import sys

if "ingestspec.contract_tests.plugin" not in sys.modules:
    from ingestspec.contract_tests.plugin import (  # noqa: F401
        contract_client,
        contract_recorder,
        contract_target,
        pytest_addoption,
        pytest_collection_finish,
        pytest_collection_modifyitems,
        pytest_configure,
        pytest_generate_tests,
        pytest_report_header,
        pytest_runtest_makereport,
        pytest_terminal_summary,
        pytest_unconfigure,
    )
