"""The values the suite's probes put in an operation's parameters."""

from __future__ import annotations

from ingestspec.contract_tests.session import fill_path, parameter_value


def test_a_path_parameter_without_a_minimum_length_gets_a_non_empty_value() -> None:
    """OneSignal's `app_id` is `{type: string}`, whose simplest value is "": the probes went to
    `/apps//custom_events`, which is no route (an empty path segment), so every scenario got 404
    (tests/vendor_files onesignal runs the whole suite)."""
    schema = {"type": "string", "example": "YOUR_APP_ID"}
    ok, value = parameter_value(schema, "path")
    assert ok and value != ""
    assert "//" not in fill_path("/apps/{app_id}/custom_events", {"app_id": value})
    assert parameter_value(schema, "query") == (True, "")  # a query value may be empty
    assert parameter_value({"type": "integer"}, "path") == (True, 0)
