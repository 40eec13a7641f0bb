mock_provider "aws" {
  mock_data "aws_ssoadmin_permission_set" {
    defaults = { arn = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-00000000000000aa" }
  }
}

variables {
  instance_arn        = "arn:aws:sso:::instance/ssoins-1111111111111111"
  group_ids           = { "PIM-Admin" = "11111111-2222-3333-4444-555555555555" }
  permission_set_arns = { PimAdmin = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-0000000000000001" }
  assignments = [
    { group = "PIM-Admin", account_id = "111111111111", permission_set = "PimAdmin" },
    { group = "PIM-Admin", account_id = "222222222222", permission_set = "Existing" },
  ]
}

run "group_is_assigned_per_account_and_permission_set" {
  command = apply

  assert {
    condition     = length(aws_ssoadmin_account_assignment.this) == 2
    error_message = "One assignment per (group, account, permission set)."
  }

  assert {
    condition = alltrue([for a in values(aws_ssoadmin_account_assignment.this) :
    a.principal_type == "GROUP" && a.principal_id == "11111111-2222-3333-4444-555555555555" && a.target_type == "AWS_ACCOUNT"])
    error_message = "Assignments target the mirrored group in an AWS account."
  }

  assert {
    condition     = aws_ssoadmin_account_assignment.this["PIM-Admin|222222222222|Existing"].permission_set_arn == "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-00000000000000aa"
    error_message = "A permission set not managed here is resolved by name."
  }

  assert {
    condition     = keys(data.aws_ssoadmin_permission_set.external) == ["Existing"]
    error_message = "Only unmanaged names are looked up."
  }
}

run "unresolved_permission_set_name_is_an_error" {
  command = plan

  override_data {
    target = data.aws_ssoadmin_permission_set.external["Existing"]
    values = { arn = "arn:aws:sso:::permissionSet/ssoins-9999999999999999/ps-00000000000000aa" }
  }

  expect_failures = [data.aws_ssoadmin_permission_set.external["Existing"]]
}

run "unknown_group_is_an_error" {
  command = plan

  variables {
    assignments = [{ group = "Nope", account_id = "111111111111", permission_set = "PimAdmin" }]
  }

  expect_failures = [aws_ssoadmin_account_assignment.this["Nope|111111111111|PimAdmin"]]
}

run "rejects_account_id_with_eleven_digits" {
  command = plan

  variables {
    assignments = [{ group = "PIM-Admin", account_id = "11111111111", permission_set = "PimAdmin" }]
  }

  expect_failures = [var.assignments]
}

run "rejects_duplicate_assignment" {
  command = plan

  variables {
    assignments = [
      { group = "PIM-Admin", account_id = "111111111111", permission_set = "PimAdmin" },
      { group = "PIM-Admin", account_id = "111111111111", permission_set = "PimAdmin" },
    ]
  }

  expect_failures = [var.assignments]
}
