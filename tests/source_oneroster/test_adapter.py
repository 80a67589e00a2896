"""The OneRoster source's adapter: the library's errors, progress and results in contract types."""

from __future__ import annotations

from oneroster.model import Category, EntityProgress, EntityResult, FetchResult, OneRosterError
from sdm_plugins.source_oneroster.source import _progress, fetch_result, source_error
from webapp.plugin_api import ErrorCategory, Progress, SourceError


def test_every_library_category_has_the_same_category_in_the_contract():
    for category in Category:
        error = source_error(OneRosterError(category, "it went wrong", entity="users",
                                            status=503, server_message="busy"))
        assert isinstance(error, SourceError)
        assert error.category == ErrorCategory(category.value)
        assert (error.title, error.message, error.entity) == (
            OneRosterError(category, "x").title, "it went wrong", "users")
        assert error.to_dict()["server_message"] == "busy"


def test_results_and_progress_keep_their_numbers():
    failed = OneRosterError(Category.FORBIDDEN, "no", entity="users")
    found = fetch_result(FetchResult({
        "orgs": EntityResult("orgs", True, 3, 1, 0, 0.5, 3, requests=2, warnings=("w",)),
        "users": EntityResult("users", False, 0, 0, 0, 0.1, None, failed)}))
    assert found.results["orgs"].requests == 2 and found.results["orgs"].warnings == ("w",)
    assert found.failed == ["users"]
    assert found.results["users"].error.category == ErrorCategory.FORBIDDEN
    told: list[Progress] = []
    _progress(told.append)(EntityProgress("users", "running", 10, 20, 1, 2, 5, 0.5, failed))
    assert told == [Progress("users", "running", 10, 20, 1, 2, 0.5, told[0].error, 5)]
    assert told[0].error.message == "no"
