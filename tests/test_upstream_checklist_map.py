"""docs/upstream-checklist.md maps every test of upstream's checklist to an existing test.

``UPSTREAM`` is the list of reducer.md §7.1 (upstream's ``analytics_client_tests.rs``, review
era), in its order. The table must list exactly these, numbered 1-63; every test it names
must exist in the file it names, under upstream's name (``test_<upstream name>``).
``UPSTREAM_UNIT`` is §7.2 (upstream's unit tests next to the code): its table must list each
once, and a test not under upstream's name must say why (a mapping note).
"""

from __future__ import annotations

import ast
import re

from tests.helpers import ROOT

UPSTREAM = (
    "normalize_path_for_skill_id_repo_scoped_uses_relative_path",
    "normalize_path_for_skill_id_user_scoped_uses_absolute_path",
    "normalize_path_for_skill_id_admin_scoped_uses_absolute_path",
    "normalize_path_for_skill_id_repo_root_not_in_skill_path_uses_absolute_path",
    "reducer_ingests_skill_invoked_fact",
    "reducer_includes_plugin_id_for_plugin_skill_invocations",
    "app_mentioned_event_serializes_expected_shape",
    "app_used_event_serializes_expected_shape",
    "app_used_dedupe_is_keyed_by_turn_and_connector",
    "reducer_ingests_app_and_plugin_facts",
    "plugin_used_event_serializes_expected_shape",
    "plugin_management_event_serializes_expected_shape",
    "plugin_management_event_can_use_remote_plugin_id_override",
    "plugin_used_dedupe_is_keyed_by_turn_and_plugin",
    "reducer_ingests_plugin_state_changed_fact",
    "hook_run_event_serializes_expected_shape",
    "hook_run_metadata_maps_sources_and_statuses",
    "hook_run_metadata_maps_stopped_status",
    "reducer_ingests_hook_run_fact",
    "accepted_line_fingerprints_event_serializes_expected_shape",
    "reducer_emits_large_accepted_line_aggregates_without_fingerprints",
    "reducer_emits_accepted_line_fingerprints_once_from_latest_turn_diff_on_completion",
    "compaction_event_serializes_expected_shape",
    "compaction_implementation_serializes_remote_v2",
    "compaction_event_ingests_custom_fact",
    "thread_initialized_event_serializes_expected_shape",
    "initialize_caches_client_and_thread_lifecycle_publishes_once_initialized",
    "unrelated_client_requests_are_ignored_by_reducer",
    "unrelated_client_responses_are_ignored_by_reducer",
    "subagent_thread_started_review_serializes_expected_shape",
    "subagent_thread_started_thread_spawn_serializes_parent_thread_id",
    "subagent_thread_started_memory_consolidation_serializes_expected_shape",
    "subagent_thread_started_other_serializes_expected_shape",
    "subagent_thread_started_other_serializes_explicit_parent_thread_id",
    "subagent_thread_started_publishes_without_initialize",
    "subagent_thread_started_inherits_parent_connection_for_new_thread",
    "subagent_tool_items_inherit_parent_connection_metadata",
    "command_execution_event_serializes_expected_shape",
    "item_lifecycle_notifications_publish_command_execution_event",
    "review_event_serializes_expected_shape",
    "command_execution_approval_response_publishes_user_review_event",
    "permissions_reviews_emit_events_without_denormalizing_onto_tool_items",
    "effective_session_permissions_response_publishes_session_user_review_event",
    "aborted_server_request_publishes_aborted_user_review_event_once",
    "guardian_completed_notification_publishes_review_event_with_thread_metadata",
    "terminal_reviews_denormalize_counts_onto_tool_item_events",
    "item_review_summaries_do_not_cross_threads_with_reused_item_ids",
    "guardian_review_event_ingests_custom_fact_with_optional_target_item",
    "turn_event_serializes_expected_shape",
    "turn_lifecycle_emits_turn_event",
    "turn_event_counts_completed_tool_items",
    "item_completed_without_turn_state_does_not_create_turn_state",
    "accepted_steers_increment_turn_steer_count",
    "turn_does_not_emit_without_required_prerequisites",
    "turn_lifecycle_emits_failed_turn_event",
    "turn_lifecycle_emits_interrupted_turn_event_without_error",
    "turn_completed_without_started_notification_emits_null_started_at",
    "accepted_turn_steer_emits_expected_event",
    "rejected_turn_steer_uses_request_connection_metadata",
    "rejected_turn_steer_maps_active_turn_not_steerable_error_type",
    "rejected_turn_steer_maps_input_too_large_error_type",
    "turn_steer_does_not_emit_without_pending_request",
    "turn_start_error_response_discards_pending_start_request",
)

ROW = re.compile(r"^\| (\d+) \| `([a-z0-9_]+)` \| `([^`:]+)::([a-z0-9_]+)` \| (.*) \|$")


def rows() -> list[tuple[int, str, str, str, str]]:
    text = (ROOT / "docs" / "upstream-checklist.md").read_text()
    found = []
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            num, name, path, test, note = match.groups()
            found.append((int(num), name, path, test, note))
    return found


def test_the_table_lists_every_upstream_test_in_order() -> None:
    table = rows()
    assert len(UPSTREAM) == 63 == len(set(UPSTREAM))
    assert [r[0] for r in table] == list(range(1, 64))
    assert [r[1] for r in table] == list(UPSTREAM)


def test_every_mapped_test_exists() -> None:
    defined: dict[str, set[str]] = {}
    missing = []
    for _, name, path, test, _note in rows():
        if path not in defined:
            tree = ast.parse((ROOT / path).read_text())
            defined[path] = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if test not in defined[path]:
            missing.append(f"{path}::{test}")
        assert test == f"test_{name}", name
    assert missing == []


#: reducer.md §7.2, in its order (the two accepted-lines versions share two names: listed once).
UPSTREAM_UNIT = (
    "managed_full_disk_with_restricted_network_reports_external_sandbox",
    "guardian_review_result_maps_terminal_statuses",
    "rejected_turn_interrupt_removes_pending_analytics_request",
    "dynamic_content_counts_include_audio",
    "command_execution_script_paths_reject_unsafe_values",
    "parses_counts_and_effective_added_fingerprints",
    "skips_added_file_metadata_headers",
    "parses_hunk_lines_that_look_like_file_headers",
    "counts_ignore_changes_outside_hunks",
    "counts_added_and_deleted_hunk_lines",
    "fingerprint_hash_is_domain_separated_sha1",
    "legacy_guardian_projection_ignores_user_review_responses",
    "projects_shell_reviewed_action_with_permission_profile",
    "projects_remaining_reviewed_action_variants",
)

UNIT_ROW = re.compile(
    r"^\| `([a-z_]+\.rs)`[^|]* \| `([a-z0-9_]+)` \| `([^`:]+)::([a-z0-9_]+)` \| (.*) \|$"
)


def unit_rows() -> list[tuple[str, str, str, str]]:
    text = (ROOT / "docs" / "upstream-checklist.md").read_text()
    return [m.groups()[1:] for line in text.splitlines() if (m := UNIT_ROW.match(line))]


def test_the_unit_table_lists_every_upstream_unit_test_in_order() -> None:
    assert [r[0] for r in unit_rows()] == list(UPSTREAM_UNIT)


def test_every_mapped_unit_test_exists_and_a_renamed_one_says_why() -> None:
    missing, unexplained = [], []
    for name, path, test, note in unit_rows():
        tree = ast.parse((ROOT / path).read_text())
        if test not in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}:
            missing.append(f"{path}::{test}")
        if test != f"test_{name}" and not note.strip().startswith("mapped:"):
            unexplained.append(name)
    assert (missing, unexplained) == ([], [])
