mock_provider "aws" {}

run "one_group_per_display_name" {
  command = apply

  variables {
    identity_store_id = "d-1111111111"
    groups            = { "PIM-Admin" = "admins", "PIM Read Only" = "" }
  }

  assert {
    condition     = keys(output.group_ids) == ["PIM Read Only", "PIM-Admin"]
    error_message = "Expected one group per display name."
  }

  assert {
    condition     = aws_identitystore_group.this["PIM Read Only"].description == "Managed by pim-bridge." && aws_identitystore_group.this["PIM-Admin"].description == "Managed by pim-bridge. admins"
    error_message = "Each group's description carries the bridge-owned mark before its own text."
  }
}

run "a_description_that_carries_the_mark_is_kept_as_it_is" {
  command = apply

  variables {
    identity_store_id = "d-1111111111"
    groups            = { "PIM-Admin" = "PIM prod admins (managed by PIM-Bridge)" }
  }

  assert {
    condition     = aws_identitystore_group.this["PIM-Admin"].description == "PIM prod admins (managed by PIM-Bridge)"
    error_message = "A description that already carries the mark, in any case, is sent unchanged."
  }
}

run "unmarked_groups_keep_their_own_description" {
  command = apply

  variables {
    identity_store_id = "d-1111111111"
    groups            = { "PIM-Admin" = "admins", "PIM Read Only" = "" }
    mark_bridge_owned = false
  }

  assert {
    condition     = aws_identitystore_group.this["PIM Read Only"].description == null && aws_identitystore_group.this["PIM-Admin"].description == "admins"
    error_message = "Without the mark an empty description is sent as no description."
  }
}

run "rejects_malformed_identity_store_id" {
  command = plan

  variables {
    identity_store_id = "store-1"
    groups            = { "G" = "" }
  }

  expect_failures = [var.identity_store_id]
}

run "rejects_display_name_with_outer_spaces" {
  command = plan

  variables {
    identity_store_id = "d-1111111111"
    groups            = { " G" = "" }
  }

  expect_failures = [var.groups]
}
