mock_provider "aws" {
  mock_resource "aws_ssoadmin_permission_set" {
    defaults = { arn = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-0000000000000001" }
  }
}

variables {
  instance_arn = "arn:aws:sso:::instance/ssoins-1111111111111111"
  permission_sets = {
    PimAdmin = {
      session_duration          = "PT4H30M"
      managed_policy_arns       = ["arn:aws:iam::aws:policy/AdministratorAccess"]
      customer_managed_policies = [{ name = "ops", path = "/pim/" }]
      permissions_boundary      = { managed_policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess" }
      inline_policy = jsonencode({
        Version   = "2012-10-17"
        Statement = [{ Sid = "NoSecrets", Effect = "Deny", Action = "secretsmanager:GetSecretValue", Resource = "*" }]
      })
    }
    PimReader = {}
  }
}

run "every_permission_set_gets_an_inline_policy_for_the_bridge" {
  command = apply

  assert {
    condition     = length(aws_ssoadmin_permission_set_inline_policy.this) == 2
    error_message = "A permission set without Terraform statements still needs an inline policy document."
  }

  assert {
    condition     = jsondecode(aws_ssoadmin_permission_set_inline_policy.this["PimReader"].inline_policy).Statement == []
    error_message = "The empty baseline must be a policy with no statements."
  }

  assert {
    condition     = aws_ssoadmin_permission_set.this["PimAdmin"].session_duration == "PT4H30M"
    error_message = "Session duration not passed through."
  }

  assert {
    condition     = aws_ssoadmin_permission_set.this["PimReader"].session_duration == "PT1H"
    error_message = "Default session duration must be PT1H."
  }

  assert {
    condition     = length(aws_ssoadmin_managed_policy_attachment.this) == 1 && length(aws_ssoadmin_customer_managed_policy_attachment.this) == 1
    error_message = "Attachments and customer-managed reference must each be created once."
  }

  assert {
    condition     = keys(aws_ssoadmin_permissions_boundary_attachment.this) == ["PimAdmin", "PimReader"]
    error_message = "Every managed permission set gets a permissions boundary."
  }

  assert {
    condition     = aws_ssoadmin_permissions_boundary_attachment.this["PimAdmin"].permissions_boundary[0].managed_policy_arn == "arn:aws:iam::aws:policy/PowerUserAccess"
    error_message = "A permission set's own boundary is attached."
  }

  assert {
    condition     = output.permissions_boundaries["PimReader"].managed_policy_arn == "arn:aws:iam::aws:policy/PowerUserAccess" && output.permissions_boundaries["PimReader"].customer_managed == null
    error_message = "Without one of its own, a permission set gets the module's default boundary, PowerUserAccess."
  }

  assert {
    condition     = aws_ssoadmin_permission_set.this["PimAdmin"].tags["pim-bridge:managed"] == "true"
    error_message = "Managed permission sets are tagged."
  }
}

run "accepts_twelve_hours" {
  command = plan

  variables {
    permission_sets = { A = { session_duration = "PT12H" }, B = { session_duration = "PT60M" } }
  }
}

run "rejects_session_longer_than_twelve_hours" {
  command = plan

  variables {
    permission_sets = { A = { session_duration = "PT12H30M" } }
  }

  expect_failures = [var.permission_sets]
}

run "rejects_session_shorter_than_one_hour" {
  command = plan

  variables {
    permission_sets = { A = { session_duration = "PT30M" } }
  }

  expect_failures = [var.permission_sets]
}

run "rejects_non_iso_duration" {
  command = plan

  variables {
    permission_sets = { A = { session_duration = "1h" } }
  }

  expect_failures = [var.permission_sets]
}

run "rejects_statement_using_the_bridge_sid_prefix" {
  command = plan

  variables {
    permission_sets = {
      A = {
        inline_policy = jsonencode({
          Version   = "2012-10-17"
          Statement = [{ Sid = "PimBridgeDenyMine", Effect = "Deny", Action = "*", Resource = "*" }]
        })
      }
    }
  }

  expect_failures = [var.permission_sets]
}

run "rejects_inline_policy_that_leaves_no_room_for_the_bridge" {
  command = plan

  variables {
    bridge_policy_reserve = 10000
    permission_sets = {
      A = {
        inline_policy = jsonencode({
          Version   = "2012-10-17"
          Statement = [{ Sid = "Big", Effect = "Deny", Action = [for i in range(40) : "s3:Action${i}"], Resource = "*" }]
        })
      }
    }
  }

  expect_failures = [var.permission_sets]
}

run "rejects_long_name_and_bad_policy_arn" {
  command = plan

  variables {
    permission_sets = {
      ThisNameIsFarTooLongForIdentityCenter = {}
      Ok                                    = { managed_policy_arns = ["AdministratorAccess"] }
    }
  }

  expect_failures = [var.permission_sets]
}

run "rejects_two_boundaries_at_once" {
  command = plan

  variables {
    permission_sets = {
      A = {
        permissions_boundary = {
          managed_policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
          customer_managed   = { name = "b" }
        }
      }
    }
  }

  expect_failures = [var.permission_sets]
}

run "rejects_malformed_instance_arn" {
  command = plan

  variables {
    instance_arn = "ssoins-1111111111111111"
  }

  expect_failures = [var.instance_arn]
}

run "module_boundary_can_be_a_customer_managed_policy" {
  command = apply

  variables {
    permissions_boundary = { customer_managed = { name = "pim-boundary", path = "/pim/" } }
    permission_sets = {
      PimCustom = {}
      PimOwn    = { permissions_boundary = { managed_policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess" } }
    }
  }

  assert {
    condition     = aws_ssoadmin_permissions_boundary_attachment.this["PimCustom"].permissions_boundary[0].customer_managed_policy_reference[0].name == "pim-boundary" && aws_ssoadmin_permissions_boundary_attachment.this["PimCustom"].permissions_boundary[0].customer_managed_policy_reference[0].path == "/pim/"
    error_message = "The module's customer-managed boundary applies to a permission set without its own."
  }

  assert {
    condition     = aws_ssoadmin_permissions_boundary_attachment.this["PimOwn"].permissions_boundary[0].managed_policy_arn == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    error_message = "A permission set's own boundary wins over the module's."
  }
}

run "permission_set_outside_the_instance_is_an_error" {
  command = apply

  override_resource {
    target = aws_ssoadmin_permission_set.this
    values = { arn = "arn:aws:sso:::permissionSet/ssoins-2222222222222222/ps-0000000000000001" }
  }

  variables {
    permission_sets = { A = {} }
  }

  expect_failures = [aws_ssoadmin_permission_set.this]
}

run "rejects_module_boundary_of_both_kinds" {
  command = plan

  variables {
    permissions_boundary = {
      managed_policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
      customer_managed   = { name = "b" }
    }
  }

  expect_failures = [var.permissions_boundary]
}

run "rejects_no_module_boundary" {
  command = plan

  variables {
    permissions_boundary = {}
  }

  expect_failures = [var.permissions_boundary]
}

run "rejects_customer_policy_arn_as_boundary" {
  command = plan

  variables {
    permission_sets = {
      A = { permissions_boundary = { managed_policy_arn = "arn:aws:iam::111111111111:policy/mine" } }
    }
  }

  expect_failures = [var.permission_sets]
}
