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
    condition     = aws_identitystore_group.this["PIM Read Only"].description == null && aws_identitystore_group.this["PIM-Admin"].description == "admins"
    error_message = "An empty description is sent as no description."
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
