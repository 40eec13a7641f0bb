# The [[mappings]] output is what operators paste into pim-bridge.toml: these runs pin its exact
# text and the validations that keep a bad mapping from reaching the bridge.

mock_provider "aws" {
  mock_data "aws_ssoadmin_instances" {
    defaults = {
      arns               = ["arn:aws:sso:::instance/ssoins-1111111111111111"]
      identity_store_ids = ["d-1111111111"]
    }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "999999999999" }
  }
  mock_data "aws_ssoadmin_permission_set" {
    defaults = { arn = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-0000000000000001" }
  }
  mock_resource "aws_ssoadmin_permission_set" {
    defaults = { arn = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-0000000000000002" }
  }
}

variables {
  permission_sets = {
    PimAdmin    = { session_duration = "PT1H" }
    PimReadOnly = { session_duration = "PT4H" }
  }
  existing_permission_sets = ["AuditReadOnly"]
  mappings = [
    {
      name                  = "prod-admin"
      entra_group_id        = "00000000-0000-0000-0000-000000000001"
      drift                 = "remove"
      identity_center_group = "AWS-Prod-Admin"
      group_assignments     = [{ account_id = "111111111111", permission_set = "PimAdmin" }]
    },
    {
      name              = "readers"
      entra_group_id    = "00000000-0000-0000-0000-000000000002"
      access            = "owner"
      include_permanent = true
      user_assignments = [
        { account_id = "011111111111", permission_set = "PimReadOnly" },
        { account_id = "222222222222", permission_set = "AuditReadOnly" },
      ]
    },
  ]
}

run "mappings_output_is_the_bridge_config_block" {
  command = plan

  assert {
    condition     = output.bridge_config_mappings == <<-EOT
      [[mappings]]
      name = "prod-admin"
      entra_group_id = "00000000-0000-0000-0000-000000000001"
      access = "member"
      include_permanent = false
      drift = "remove"
      identity_center_group = "AWS-Prod-Admin"

      [[mappings]]
      name = "readers"
      entra_group_id = "00000000-0000-0000-0000-000000000002"
      access = "owner"
      include_permanent = true
      drift = "report"
      assignments = [
        { account_id = "011111111111", permission_set = "PimReadOnly" },
        { account_id = "222222222222", permission_set = "AuditReadOnly" },
      ]
    EOT
    error_message = "Rendered [[mappings]]:\n${output.bridge_config_mappings}"
  }

  assert {
    condition     = output.bridge_config_aws == "[aws]\nregion = \"eu-west-1\"\nidentity_store_id = \"d-1111111111\"\ninstance_arn = \"arn:aws:sso:::instance/ssoins-1111111111111111\"\n"
    error_message = "Rendered [aws]:\n${output.bridge_config_aws}"
  }
}

run "mapped_group_names_are_the_groups_created" {
  command = plan

  assert {
    condition     = keys(module.jit_groups.group_ids) == ["AWS-Prod-Admin"]
    error_message = "Exactly the mapped identity_center_group must be created."
  }
}

run "existing_permission_set_is_looked_up_by_name" {
  command = plan

  assert {
    condition     = keys(data.aws_ssoadmin_permission_set.existing) == ["AuditReadOnly"]
    error_message = "Only the permission set not managed here is looked up."
  }
}

run "names_with_quotes_stay_valid_toml" {
  command = plan

  variables {
    mappings = [{
      name                  = "q"
      entra_group_id        = "00000000-0000-0000-0000-000000000003"
      identity_center_group = "Ops \"blue\" \\ team"
    }]
  }

  assert {
    condition     = strcontains(output.bridge_config_mappings, "identity_center_group = \"Ops \\\"blue\\\" \\\\ team\"")
    error_message = "Quotes and backslashes must be escaped: ${output.bridge_config_mappings}"
  }
}

run "endpoint_url_is_rendered_only_when_set" {
  command = plan

  variables {
    bridge_endpoint_url = "http://127.0.0.1:5000"
  }

  assert {
    condition     = endswith(output.bridge_config_aws, "endpoint_url = \"http://127.0.0.1:5000\"\n")
    error_message = "endpoint_url missing: ${output.bridge_config_aws}"
  }
}

run "rejects_short_account_id" {
  command = plan

  variables {
    mappings = [{
      name             = "a"
      entra_group_id   = "00000000-0000-0000-0000-000000000001"
      user_assignments = [{ account_id = "12345", permission_set = "PimAdmin" }]
    }]
  }

  expect_failures = [var.mappings]
}

run "rejects_unknown_permission_set" {
  command = plan

  variables {
    mappings = [{
      name             = "a"
      entra_group_id   = "00000000-0000-0000-0000-000000000001"
      user_assignments = [{ account_id = "111111111111", permission_set = "NoSuchSet" }]
    }]
  }

  expect_failures = [var.mappings]
}

run "rejects_mapping_without_target" {
  command = plan

  variables {
    mappings = [{ name = "a", entra_group_id = "00000000-0000-0000-0000-000000000001" }]
  }

  expect_failures = [var.mappings]
}

run "rejects_group_assignments_without_group" {
  command = plan

  variables {
    mappings = [{
      name              = "a"
      entra_group_id    = "00000000-0000-0000-0000-000000000001"
      user_assignments  = [{ account_id = "111111111111", permission_set = "PimAdmin" }]
      group_assignments = [{ account_id = "111111111111", permission_set = "PimAdmin" }]
    }]
  }

  expect_failures = [var.mappings]
}

run "rejects_duplicate_names" {
  command = plan

  variables {
    mappings = [
      { name = "a", entra_group_id = "00000000-0000-0000-0000-000000000001", identity_center_group = "G" },
      { name = "a", entra_group_id = "00000000-0000-0000-0000-000000000002", identity_center_group = "G" },
    ]
  }

  expect_failures = [var.mappings]
}

run "rejects_the_same_group_and_access_twice" {
  command = plan

  variables {
    mappings = [
      { name = "a", entra_group_id = "00000000-0000-0000-0000-000000000001", identity_center_group = "G" },
      { name = "b", entra_group_id = "00000000-0000-0000-0000-000000000001", identity_center_group = "H" },
    ]
  }

  expect_failures = [var.mappings]
}

run "rejects_bad_mapping_name_and_group_id" {
  command = plan

  variables {
    mappings = [{ name = "-bad name", entra_group_id = "not-a-guid", identity_center_group = "G" }]
  }

  expect_failures = [var.mappings]
}

run "fails_when_no_identity_center_instance_exists" {
  command = plan

  override_data {
    target = data.aws_ssoadmin_instances.this
    values = { arns = [], identity_store_ids = [] }
  }

  expect_failures = [data.aws_ssoadmin_instances.this]
}

run "fails_when_the_named_instance_is_not_there" {
  command = plan

  variables {
    instance_arn = "arn:aws:sso:::instance/ssoins-2222222222222222"
  }

  expect_failures = [data.aws_ssoadmin_instances.this]
}
