"""What a step changed in the shared store, as recorded for resume, and re-applying it."""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import pytest

import runtree.graph as rg
from runtree.graph._changes import ChangeTracker, apply_changes


def changes_of(before: dict[str, Any], change: Any) -> tuple[dict[str, Any], Any]:
    """``change(store)`` applied to a copy of ``before``: the store after, and the changes."""
    store = copy.deepcopy(before)
    tracker = ChangeTracker.of(store)
    since = tracker.mark()
    change(store)
    return store, tracker.changes(store, since)


def test_sets_deletes_and_nested_dict_changes() -> None:
    before = {"keep": [1], "gone": 1, "results": {"a": 1, "old": 0, 3: {"deep": 1}}}

    def change(store: dict[str, Any]) -> None:
        store["new"] = {"x": [1, 2]}
        del store["gone"]
        store["keep"].append(2)  # in place: seen
        store["results"]["b"] = 2  # in place, inside a dict: recorded as a sub-change
        del store["results"]["old"]
        store["results"][3]["deep"] = 2

    after, changes = changes_of(before, change)
    assert changes == {
        "set": [["keep", [1, 2]], ["new", {"x": [1, 2]}]],
        "delete": ["gone"],
        "patch": [
            [
                "results",
                {"set": [["b", 2]], "delete": ["old"], "patch": [[3, {"set": [["deep", 2]]}]]},
            ]
        ],
    }
    # the changes are plain JSON (non-string keys as pairs) and rebuild the store exactly
    replayed = copy.deepcopy(before)
    apply_changes(replayed, json.loads(json.dumps(changes)), "test")
    assert replayed == after


def test_recorded_values_are_copies_taken_when_the_step_ended() -> None:
    store: dict[str, Any] = {}
    tracker = ChangeTracker.of(store)
    since = tracker.mark()
    store["items"] = [1]
    changes = tracker.changes(store, since)
    store["items"].append(2)  # a later step mutates the same list
    assert changes == {"set": [["items", [1]]]}


def test_unchanged_store_and_values_that_cannot_be_pickled() -> None:
    lock = threading.Lock()
    store: dict[str, Any] = {"lock": lock, "n": 1}
    tracker = ChangeTracker.of(store)
    since = tracker.mark()
    assert tracker.changes(store, since) == {}  # the same lock is no change
    since = tracker.mark()
    store["lock"] = other = threading.Lock()
    assert tracker.changes(store, since) == {"set": [["lock", other]]}


def test_a_patch_for_a_missing_dict_is_a_clear_error() -> None:
    with pytest.raises(rg.GraphResumeError, match=r"shared\['results'\] should be the dict"):
        apply_changes({}, {"patch": [["results", {"set": [["a", 1]]}]]}, "step 'Work'")
